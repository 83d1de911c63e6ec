"""Which device a trace ran on: deviceProperties before or after traceEvents, vendor name variants,
and nameless devices identified by compute capability, SM count and memory.

The public excerpts (tests/data/devices/, MIT: see its README) are the deviceProperties of HTA and
TraceLens test traces; the expected spec of each is what the trace's own file name and properties
say it ran on (an "h100" folder with NVIDIA H100 80GB HBM3, a "mi250" file with 104-CU gfx90a
GCDs, ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roofline.cli import app
from roofline.hardware.registry import load_registry
from roofline.hardware.trace_device import DeviceProperties, identify_device, identify_trace_device
from roofline.sources.jsonstream import StreamState, iter_event_batches
from roofline.sources.kineto import read_kineto

runner = CliRunner()
GiB = 2**30
MiB = 2**20
DATA = Path(__file__).parent / "data" / "devices"
PUBLIC = json.loads((DATA / "public_device_properties.json").read_text())


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _kernel(i: int, device: int = 0) -> dict[str, Any]:
    return {"ph": "X", "cat": "kernel", "name": f"k{i}", "pid": device, "tid": 7, "ts": 1000.0 + 10 * i, "dur": 5.0,
            "args": {"device": device, "stream": 7, "correlation": i}}


def write_trace(path: Path, props: list[dict[str, Any]], *, position: str, events: int = 4, device: int = 0,
                indent: int | None = None) -> Path:
    """A kineto-shaped trace with deviceProperties before or after the event array; ``indent``
    pretty-prints it as TraceLens's exporter does."""
    body: dict[str, Any] = {"schemaVersion": 1}
    if position == "header":
        body["deviceProperties"] = props
    body["traceEvents"] = [_kernel(i, device) for i in range(events)]
    if position == "trailer":
        body["deviceProperties"] = props
    body["traceName"] = "synthetic"
    path.write_text(json.dumps(body, indent=indent))
    return path


H200_PROPS = {"id": 0, "name": "NVIDIA H200", "totalGlobalMem": 150109880320, "computeMajor": 9, "computeMinor": 0,
              "numSms": 132, "warpSize": 32}


@pytest.mark.parametrize("position", ["header", "trailer"])
@pytest.mark.parametrize("indent", [None, 2])
def test_device_read_before_or_after_the_events(tmp_path: Path, position: str, indent: int | None) -> None:
    path = write_trace(tmp_path / "t.json", [H200_PROPS], position=position, indent=indent)
    loaded = read_kineto(path)
    assert loaded.device_name == "NVIDIA H200"
    assert loaded.extra["device_properties"][0]["totalGlobalMem"] == 150109880320
    # The list in the trailer is not taken for the end of the event array (it used to be: the
    # device entry was read as an event and the real end as a damaged stretch).
    assert not any("damaged" in w for w in loaded.warnings)
    assert len(loaded.events) == 4


def test_trailer_list_of_a_trace_longer_than_one_chunk(tmp_path: Path) -> None:
    # 64 kB chunks over a ~2 MB pretty-printed trace: the trailer arrives in a non-final chunk
    # and must still reach the final region whole.
    path = write_trace(tmp_path / "big.json", [H200_PROPS, {**H200_PROPS, "id": 1}], position="trailer",
                       events=8000, indent=2)
    assert path.stat().st_size > 1.5e6
    state = StreamState()
    seen = sum(len(batch) for batch in iter_event_batches(path, state, chunk_bytes=64 * 1024))
    assert seen == 8000 and state.skipped_regions == 0
    assert [p["id"] for p in state.trailer["deviceProperties"]] == [0, 1]


def test_the_device_the_kernels_ran_on_is_the_one_identified(tmp_path: Path, registry) -> None:
    props = [{**H200_PROPS, "id": 0}, {"id": 1, "name": "NVIDIA H100 80GB HBM3", "totalGlobalMem": 85018279936,
                                       "computeMajor": 9, "computeMinor": 0, "numSms": 132, "warpSize": 32}]
    loaded = read_kineto(write_trace(tmp_path / "t.json", props, position="header", device=1))
    assert loaded.extra["device_id"] == 1 and loaded.device_name == "NVIDIA H100 80GB HBM3"
    found = identify_trace_device(registry, loaded.device_name, loaded.extra["device_properties"], 1)
    assert found is not None and found.name == "h100-sxm"


def test_device_properties_are_validated_and_escaped(tmp_path: Path) -> None:
    props = [{"id": 0, "name": "evil\x1b[2J", "totalGlobalMem": "lots", "computeMajor": True, "numSms": -3}]
    loaded = read_kineto(write_trace(tmp_path / "t.json", props, position="header"))
    (entry,) = loaded.extra["device_properties"]
    assert entry == {"id": 0, "name": "evil\\x1b[2J"}


@pytest.mark.parametrize(
    ("props", "count", "expected", "method"),
    [
        # Vendor name variants: a board code, an SR-IOV virtual function, ROCm's two-part name.
        (dict(name="NVIDIA A100-PG509-200", totalGlobalMem=42297524224, computeMajor=8, computeMinor=0, numSms=108,
              warpSize=32), 8, "a100-sxm4-40gb", "name+properties"),
        (dict(name="AMD Instinct MI300X VF", totalGlobalMem=205571227648, computeMajor=9, computeMinor=4, numSms=304,
              warpSize=64), 1, "mi300x", "name"),
        (dict(name="AMD Instinct MI250X / MI250", totalGlobalMem=64 * GiB - 16 * MiB, computeMajor=9, computeMinor=0,
              numSms=110, warpSize=64), 8, "mi250x", "name+properties"),
        (dict(name="AMD Instinct MI250X / MI250", totalGlobalMem=64 * GiB - 16 * MiB, computeMajor=9, computeMinor=0,
              numSms=104, warpSize=64), 8, "mi250", "name+properties"),
        (dict(name="NVIDIA B300 SXM6 AC", totalGlobalMem=287_000_000_000, computeMajor=10, computeMinor=3,
              warpSize=32), 8, "b300", "name"),
        # No usable name: compute capability (gfx IP on ROCm), SM count and memory decide.
        (dict(name="", totalGlobalMem=150109880320, computeMajor=9, computeMinor=0, numSms=132, warpSize=32), 1,
         "h200-sxm", "properties"),
        (dict(name="", totalGlobalMem=85018279936, computeMajor=9, computeMinor=0, numSms=132, warpSize=32), 1,
         "h100-sxm", "properties"),
        (dict(name="", totalGlobalMem=80 * GiB, computeMajor=9, computeMinor=0, numSms=114, warpSize=32), 1,
         "h100-pcie", "properties"),
        (dict(name="AMD Radeon Graphics", gcnArchName="gfx942:sramecc+:xnack-", totalGlobalMem=256 * GiB - 16 * MiB,
              computeMajor=9, computeMinor=4, numSms=304, warpSize=64), 8, "mi325x", "properties"),
        (dict(name="AMD Radeon Graphics", gcnArchName="gfx950", totalGlobalMem=288 * GiB - 16 * MiB, computeMajor=9,
              computeMinor=5, numSms=256, warpSize=64), 8, "mi355x", "properties"),
        (dict(name="", totalGlobalMem=298013687808, computeMajor=10, computeMinor=3, warpSize=32), 4, "gb300",
         "properties"),
        (dict(name="", totalGlobalMem=288400343040, computeMajor=10, computeMinor=3, warpSize=32), 8, "b300",
         "properties"),
        # An MI210 and one MI250 GCD report the same; an odd device count cannot be GCD pairs.
        (dict(name="AMD Radeon Graphics", gcnArchName="gfx90a", totalGlobalMem=64 * GiB - 16 * MiB, computeMajor=9,
              computeMinor=0, numSms=104, warpSize=64), 3, "mi210", "properties"),
    ],
)
def test_identify_device(registry, props: dict[str, Any], count: int, expected: str, method: str) -> None:
    found = identify_device(registry, DeviceProperties.from_kineto(props), device_count=count)
    assert found is not None and (found.name, found.method) == (expected, method)
    if method == "properties":
        assert found.warning and expected in found.warning and "--hw" in found.warning


def test_ambiguous_gfx942_says_which_and_why(registry) -> None:
    props = DeviceProperties.from_kineto(dict(name="AMD Radeon Graphics", gcnArchName="gfx942",
                                              totalGlobalMem=206141652992, computeMajor=9, computeMinor=4,
                                              numSms=304, warpSize=64))
    found = identify_device(registry, props, device_count=8)
    assert found is not None and found.name == "mi300x"
    # The warning names the rejected sibling and the fact that decided: memory size.
    assert "not mi325x (304 CUs, 256.0 GiB)" in found.warning and "192.0 GiB" in found.warning


@pytest.mark.parametrize(
    "props",
    [
        dict(id=17, name="ARTEMIS", runtimeMajorVersion=1),  # an MTIA device: no GPU spec
        dict(name="", totalGlobalMem=16 * GiB, computeMajor=8, computeMinor=0, numSms=108, warpSize=32),  # no 16 GB A100
        dict(name="", totalGlobalMem=24 * GiB),  # nothing but memory: not enough to pick a part
        dict(name="NVIDIA Z9000", totalGlobalMem=8 * GiB, computeMajor=12, computeMinor=9, warpSize=32),
    ],
)
def test_no_spec_when_nothing_fits(registry, props: dict[str, Any]) -> None:
    assert identify_device(registry, DeviceProperties.from_kineto(props)) is None


def test_a_name_alone_still_resolves(registry) -> None:
    # Inputs without deviceProperties (nsys, ncu, declared workloads) give a name only.
    found = identify_trace_device(registry, "NVIDIA H200", None)
    assert found is not None and found.name == "h200-sxm"


@pytest.mark.parametrize("case", PUBLIC, ids=[f"{c['repo'].split('/')[1]}:{c['path'].split('/')[-2]}" for c in PUBLIC])
def test_public_trace_headers_detect_their_device(tmp_path: Path, registry, case: dict[str, Any]) -> None:
    device = case["kernel_device"] if case["kernel_device"] is not None else 0
    path = write_trace(tmp_path / "t.json", case["deviceProperties"], position=case["position"], device=device,
                       indent=2)
    loaded = read_kineto(path)
    found = identify_trace_device(registry, loaded.device_name, loaded.extra["device_properties"],
                                  loaded.extra["device_id"])
    assert (found.name if found else None) == case["expected"]


def test_classify_auto_on_a_trailer_device_and_a_nameless_one(tmp_path: Path) -> None:
    h100 = next(c for c in PUBLIC if c["position"] == "trailer" and "h100" in c["path"])
    path = write_trace(tmp_path / "h100.json", h100["deviceProperties"], position="trailer", indent=2)
    result = runner.invoke(app, ["classify", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hardware"]["name"] == "h100-sxm"
    vllm = next(c for c in PUBLIC if "vllm" in c["path"])
    path = write_trace(tmp_path / "vllm.json", vllm["deviceProperties"], position="header", device=2)
    result = runner.invoke(app, ["classify", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["hardware"]["name"] == "mi300x"
    assert any("names no device" in w and "mi325x" in w for w in data["warnings"])


def test_classify_auto_with_no_matching_spec_is_one_line(tmp_path: Path) -> None:
    props = [{"id": 0, "name": "", "totalGlobalMem": 8 * GiB, "computeMajor": 12, "computeMinor": 9, "warpSize": 32}]
    result = runner.invoke(app, ["classify", str(write_trace(tmp_path / "t.json", props, position="header"))])
    assert result.exit_code == 2
    assert "matches no registry spec" in result.output and "Traceback" not in result.output
