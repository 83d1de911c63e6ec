"""Empirical ceilings: micro-benchmarks on the local GPU, written as a ``kind: ceilings`` overlay.

The plan (what to run, at which sizes), the statistics and the overlay are pure functions of their
inputs; running a benchmark goes through a :class:`Backend`, so tests drive the whole pipeline with
a fake. :class:`TorchBackend` is the real one; torch is imported only when it is built.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import yaml

from roofline.errors import InputError, MissingDependencyError
from roofline.hardware.spec import CeilingsOverlay, HardwareSpec
from roofline.precision import Precision

GiB = 1 << 30
Kind = Literal["bandwidth", "compute", "launch"]
GEMM_PRECISIONS = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8")
# A GEMM far under its datasheet roof ran on some other path (an int8 GEMM on CUDA cores, say): it is
# reported but not laid over the roof, which would then describe that fallback, not the chip.
MIN_FRACTION_OF_DATASHEET = 0.25


class Unsupported(Exception):
    """This device or torch build cannot run the benchmark (fp8 before sm_89, no CUDA graphs...)."""


@dataclass(frozen=True)
class Benchmark:
    key: str
    label: str
    kind: Kind
    work: float  # per call: bytes moved, FLOP, or kernel launches
    size: int  # bytes per buffer, or the GEMM's n
    precision: str | None = None
    clock: Literal["device", "host"] = "device"


@dataclass(frozen=True)
class Settings:
    quick: bool
    warmup: int
    reps: int
    hbm_bytes: int
    l2_bytes: int
    gemm_n: int
    eager_launches: int
    graph_launches: int


def plan(l2_bytes: int | None, memory_bytes: int | None, *, quick: bool) -> tuple[Settings, list[Benchmark]]:
    """Sizes and benchmarks for a device with this L2 and memory."""
    l2 = l2_bytes or 50 * 1024**2  # H100's 50 MB when the device does not say
    # DRAM buffers dozens of L2s large (2 GiB on an H200: 34x its 60 MiB) so no pass hits in L2.
    hbm = max(256 * 1024**2, 8 * l2) if quick else max(2 * GiB, 32 * l2)
    if memory_bytes:
        hbm = min(hbm, memory_bytes // 8)  # two buffers, with room for the GEMMs' allocator cache
    hbm -= hbm % 4096
    # The L2 buffer is a quarter of L2: Hopper's L2 is two partitions, and far hits cost more.
    l2_buffer = (l2 // 4) - (l2 // 4) % 4096
    l2_passes = max(8, (GiB if not quick else GiB // 4) // max(l2_buffer, 1))
    # 8192³ saturates an H100/H200; 4096³ gets most of the way in an eighth of the time.
    settings = Settings(quick=quick, warmup=2 if quick else 3, reps=5 if quick else 15, hbm_bytes=hbm,
                        l2_bytes=l2_buffer, gemm_n=4096 if quick else 8192,
                        eager_launches=300 if quick else 2000, graph_launches=100 if quick else 500)
    n = settings.gemm_n
    benches = [
        Benchmark("hbm_copy", "DRAM copy (read + write)", "bandwidth", 2.0 * hbm, hbm),
        Benchmark("hbm_read", "DRAM read (sum)", "bandwidth", float(hbm), hbm),
        Benchmark("hbm_write", "DRAM write (fill)", "bandwidth", float(hbm), hbm),
        Benchmark("l2_read", "L2 read (sum, resident)", "bandwidth", float(l2_buffer * l2_passes), l2_buffer),
    ]
    benches += [
        Benchmark(f"gemm_{p}", f"GEMM {n}³ {p}" + (" (TF32 off)" if p == "fp32" else ""), "compute",
                  2.0 * n**3, n, precision=p)
        for p in GEMM_PRECISIONS
    ]
    benches += [
        Benchmark("launch_eager", "launch, eager (per op from Python)", "launch",
                  settings.eager_launches, 1, clock="host"),
        Benchmark("launch_graph", "launch, CUDA-graph replay (per kernel)", "launch", settings.graph_launches, 1),
    ]
    return settings, benches


@dataclass(frozen=True)
class Stats:
    median: float
    low: float
    high: float
    reps: int

    @property
    def spread_pct(self) -> float:
        return 100.0 * (self.high - self.low) / 2 / self.median if self.median else 0.0


def stats(values: list[float]) -> Stats:
    return Stats(statistics.median(values), min(values), max(values), len(values))


@dataclass(frozen=True)
class Measurement:
    bench: Benchmark
    figure: Stats | None  # bytes/s, FLOP/s, or seconds per launch
    skipped: str | None = None
    clocks: dict[str, float] = field(default_factory=dict)


def figure_of(bench: Benchmark, seconds: float) -> float:
    if bench.kind == "launch":
        return seconds / bench.work
    return bench.work / seconds


class Backend(Protocol):
    def identity(self) -> dict[str, str | int | float | None]: ...
    def prepare(self, bench: Benchmark) -> Callable[[], object]: ...
    def time(self, fn: Callable[[], object], clock: str) -> float: ...
    def clocks(self) -> dict[str, float]: ...
    def release(self) -> None: ...


def run_benchmarks(
    backend: Backend,
    settings: Settings,
    benches: list[Benchmark],
    on_progress: Callable[[int, Benchmark], None] | None = None,
) -> list[Measurement]:
    """Warm up, then time ``settings.reps`` calls of each benchmark; median and spread per figure."""
    results = []
    for index, bench in enumerate(benches):
        if on_progress:
            on_progress(index, bench)
        try:
            fn = backend.prepare(bench)
            for _ in range(settings.warmup):
                backend.time(fn, bench.clock)
            seconds = [backend.time(fn, bench.clock) for _ in range(settings.reps)]
            results.append(Measurement(bench, stats([figure_of(bench, s) for s in seconds]), None, backend.clocks()))
        except Unsupported as exc:
            results.append(Measurement(bench, None, str(exc)))
        except RuntimeError as exc:  # torch reports unsupported kernels and OOM as RuntimeError
            results.append(Measurement(bench, None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"))
        finally:
            backend.release()
    if on_progress and benches:
        on_progress(len(benches), benches[-1])
    return results


def datasheet_value(bench: Benchmark, spec: HardwareSpec | None) -> float | None:
    """The spec's figure a measurement is compared with, in the figure's SI unit."""
    if spec is None:
        return None
    if bench.kind == "bandwidth":
        tb_s = spec.memory.l2_bandwidth_tb_s if bench.key.startswith("l2") else spec.memory.bandwidth_tb_s
        return tb_s * 1e12 if tb_s else None
    if bench.kind == "launch":
        us = spec.launch_overhead_us.eager if bench.key == "launch_eager" else spec.launch_overhead_us.graph
        return us * 1e-6
    unit, precision = roof_of(bench, spec)
    table = spec.peak_tflops.matrix if unit == "matrix" else spec.peak_tflops.vector
    tflops = table.get(Precision(precision))
    return tflops * 1e12 if tflops else None


def roof_of(bench: Benchmark, spec: HardwareSpec | None) -> tuple[str, str]:
    """(unit, precision) of the roof a GEMM measures: fp32 with TF32 off runs on CUDA cores (the
    vector roof); fp64 on tensor cores where the chip has them (DMMA since A100), else vector."""
    precision = bench.precision or "fp32"
    if precision == "fp32":
        return "vector", "fp32"
    if precision == "fp64":
        has_matrix = spec is None or any(p.value == "fp64" for p in spec.peak_tflops.matrix)
        return ("matrix" if has_matrix else "vector"), "fp64"
    return "matrix", precision


def _pct(value: float, reference: float | None) -> str:
    return f"{100 * value / reference:.0f}% of {reference_text(reference)}" if reference else "no datasheet figure"


def reference_text(value: float) -> str:
    return f"{value / 1e12:g}" if value > 1e-3 else f"{value * 1e6:g} us"


def format_figure(bench: Benchmark, value: float, unit: bool = True) -> str:
    if bench.kind == "bandwidth":
        text, name = f"{value / 1e12:.2f}", "TB/s"
    elif bench.kind == "launch":
        text, name = f"{value * 1e6:.2f}", "us"
    else:
        text, name = f"{value / 1e12:.1f}", "TOPS" if bench.precision == "int8" else "TFLOP/s"
    return f"{text} {name}" if unit else text


def measured_on(identity: dict[str, Any], results: list[Measurement], settings: Settings, *, date: str,
                tool: str) -> dict[str, Any]:
    """Where, when and how: device identity, versions, clocks seen under load, sizes and method."""
    fields: dict[str, Any] = {"date": date, "tool": tool, "mode": "quick" if settings.quick else "full"}
    fields.update({k: v for k, v in identity.items() if v is not None})
    # Clocks read right after each GEMM: a throttled or power-capped run shows here, not in the figure.
    sm = [r.clocks["sm_clock_mhz"] for r in results if r.bench.kind == "compute" and "sm_clock_mhz" in r.clocks]
    if sm:
        fields["sm_clock_mhz_after_gemms"] = f"{min(sm):.0f}..{max(sm):.0f}"
    passes = next((int(b.work // b.size) for b in (r.bench for r in results) if b.key == "l2_read"), 0)
    fields["method"] = (
        f"torch; DRAM copy/sum/fill on {settings.hbm_bytes / GiB:.2f} GiB buffers; L2: one sum reading a "
        f"{settings.l2_bytes / 2**20:.1f} MiB buffer {passes}x; GEMM {settings.gemm_n}^3 per precision (torch.mm, "
        f"_scaled_mm fp8 e4m3, _int_mm int8); {settings.eager_launches} tiny ops eager (host clock) vs "
        f"{settings.graph_launches} replayed from a CUDA graph; median of {settings.reps} after {settings.warmup} warm-ups"
    )
    return fields


def build_overlay(
    results: list[Measurement], spec: HardwareSpec | None, base: str, measured_on: dict[str, Any]
) -> tuple[CeilingsOverlay, list[str]]:
    """The ceilings overlay from measurements, and notes on what was left out and why."""
    matrix: dict[str, float] = {}
    vector: dict[str, float] = {}
    memory: dict[str, float] = {}
    launch: dict[str, float] = {}
    notes: list[str] = []
    dram_read = next((r.figure.median for r in results if r.bench.key == "hbm_read" and r.figure), None)
    memory_keys = {"hbm_copy": "bandwidth_tb_s", "hbm_read": "read_bandwidth_tb_s",
                   "hbm_write": "write_bandwidth_tb_s", "l2_read": "l2_bandwidth_tb_s"}
    for result in results:
        bench, figure = result.bench, result.figure
        if figure is None:
            notes.append(f"{bench.label}: not measured ({result.skipped})")
            continue
        value = figure.median
        if bench.key == "l2_read" and dram_read and not 1.2 * dram_read < value < 20 * dram_read:
            # An L2 figure near DRAM's missed in L2; one 20x above it read something else (a cached scalar).
            notes.append(f"{bench.label}: {format_figure(bench, value)} is implausible beside DRAM read "
                         f"{dram_read / 1e12:.2f} TB/s; left out")
        elif bench.kind == "bandwidth":
            memory[memory_keys[bench.key]] = round(value / 1e12, 2)
        elif bench.kind == "launch":
            launch["eager" if bench.key == "launch_eager" else "graph"] = round(value * 1e6, 2)
        else:
            reference = datasheet_value(bench, spec)
            if reference and value < MIN_FRACTION_OF_DATASHEET * reference:
                notes.append(f"{bench.label}: {format_figure(bench, value)} is {_pct(value, reference)}: "
                             "another code path ran; left out, the datasheet roof stays")
                continue
            unit, precision = roof_of(bench, spec)
            (matrix if unit == "matrix" else vector)[precision] = round(value / 1e12, 1)
        reference = datasheet_value(bench, spec)
        if reference and bench.kind != "launch" and value > 1.02 * reference:
            notes.append(f"{bench.label}: {format_figure(bench, value)} is above the datasheet {_pct(value, reference)}")
    data = {"schema_version": 1, "kind": "ceilings", "base": base, "measured_on": measured_on,
            "peak_tflops": {"matrix": matrix, "vector": vector}, "memory": memory, "launch_overhead_us": launch,
            "notes": "; ".join(notes) or None}
    return CeilingsOverlay.model_validate(data), notes


def overlay_yaml(overlay: CeilingsOverlay, results: list[Measurement], spec: HardwareSpec | None,
                 settings: Settings) -> str:
    """The overlay as YAML, with a comment per figure: median, spread, repetitions, size, % of datasheet."""
    lines = [
        f"# Measured ceilings of {overlay.measured_on.get('device_name', '?')}, laid over the registry's "
        f"'{overlay.base}' by `roofline hw measure{' --quick' if settings.quick else ''}`.",
        "# Apply with --ceilings THIS_FILE (classify, hw show). Each figure is the median of "
        f"{settings.reps} timed repetitions after {settings.warmup} warm-ups; [min..max] is the spread.",
    ]
    for result in results:
        bench = result.bench
        if result.figure is None:
            lines.append(f"#   {bench.label:<40} skipped: {result.skipped}")
            continue
        f = result.figure
        size = f"{bench.size / GiB:.2f} GiB buffers" if bench.kind == "bandwidth" else (
            f"n={bench.size}" if bench.kind == "compute" else f"{bench.work:g} launches per rep")
        lines.append(
            f"#   {bench.label:<40} {format_figure(bench, f.median):>14}  [{format_figure(bench, f.low, False)}.."
            f"{format_figure(bench, f.high, False)}, ±{f.spread_pct:.1f}%]  {size}; {_pct(f.median, datasheet_value(bench, spec))}"
        )
    data = overlay.model_dump(mode="json", exclude_none=True)
    return "\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch is not installed", place="hw measure",
                                     fix="pip install 'roofline[torch]' (a CUDA build)") from None
    return torch


class TorchBackend:
    """Benchmarks as torch calls on one GPU, timed with CUDA events (host clock for eager launches).

    ``allow_cpu`` runs the same code on the CPU (tests exercise every torch path without a GPU).
    """

    def __init__(self, index: int = 0, *, allow_cpu: bool = False) -> None:
        self.torch = torch = _import_torch()
        self.cuda = torch.cuda.is_available()
        if not self.cuda and not allow_cpu:
            raise InputError(f"no CUDA GPU is visible to torch {torch.__version__}", place="hw measure",
                             fix="run it on the GPU machine with a CUDA (or ROCm) build of torch")
        if self.cuda and index >= torch.cuda.device_count():
            raise InputError(f"no GPU {index}: torch sees {torch.cuda.device_count()}", place="--device")
        self.device = torch.device(f"cuda:{index}" if self.cuda else "cpu")
        if self.cuda:
            torch.cuda.set_device(self.device)
        self._keep: list[Any] = []
        self._matmul_precision = torch.get_float32_matmul_precision()
        self._nvml = _nvml_handle(torch.cuda.get_device_properties(self.device).uuid if self.cuda else None)

    def identity(self) -> dict[str, str | int | float | None]:
        torch = self.torch
        info: dict[str, str | int | float | None] = {"torch": torch.__version__,
                                                     "cuda": torch.version.cuda or getattr(torch.version, "hip", None)}
        if self.cuda:
            p = torch.cuda.get_device_properties(self.device)
            info.update(device_name=p.name, uuid=str(getattr(p, "uuid", "")) or None, memory_bytes=p.total_memory,
                        sm_count=p.multi_processor_count, l2_bytes=getattr(p, "L2_cache_size", None),
                        compute_capability=f"{p.major}.{p.minor}")
        if self._nvml is not None:
            nvml, handle = self._nvml
            info["driver"] = _nvml_read(nvml.nvmlSystemGetDriverVersion)
            info["max_sm_clock_mhz"] = _nvml_read(nvml.nvmlDeviceGetMaxClockInfo, handle, nvml.NVML_CLOCK_SM)
            info["memory_clock_mhz"] = _nvml_read(nvml.nvmlDeviceGetMaxClockInfo, handle, nvml.NVML_CLOCK_MEM)
            limit = _nvml_read(nvml.nvmlDeviceGetPowerManagementLimit, handle)
            info["power_limit_w"] = limit / 1000 if isinstance(limit, (int, float)) else None
        return info

    def clocks(self) -> dict[str, float]:
        """SM and memory clocks right after a benchmark, while the GPU is still busy-clocked."""
        if self._nvml is None:
            return {}
        nvml, handle = self._nvml
        read = {"sm_clock_mhz": _nvml_read(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_SM),
                "memory_clock_mhz": _nvml_read(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_MEM)}
        return {k: float(v) for k, v in read.items() if isinstance(v, (int, float))}

    def time(self, fn: Callable[[], object], clock: str) -> float:
        torch = self.torch
        if not self.cuda or clock == "host":
            self._sync()
            start = time.perf_counter()
            fn()
            self._sync()
            return time.perf_counter() - start
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        fn()
        end.record()
        end.synchronize()
        return begin.elapsed_time(end) * 1e-3

    def _sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize(self.device)

    def release(self) -> None:
        self._keep.clear()
        self.torch.set_float32_matmul_precision(self._matmul_precision)
        if self.cuda:
            self.torch.cuda.synchronize(self.device)
            self.torch.cuda.empty_cache()

    def prepare(self, bench: Benchmark) -> Callable[[], object]:
        if bench.kind == "bandwidth":
            return self._bandwidth(bench)
        if bench.kind == "compute":
            return self._gemm(bench)
        return self._launch(bench)

    def _random(self, elements: int) -> Any:
        # Random data, never zeros: zeros run faster on some paths (METHOD: a bf16 GEMM 13% faster).
        return self.torch.empty(elements, device=self.device, dtype=self.torch.float32).uniform_(-1, 1)

    def _bandwidth(self, bench: Benchmark) -> Callable[[], object]:
        torch = self.torch
        src = self._random(bench.size // 4)
        dst, out = torch.empty_like(src), torch.empty((), device=self.device, dtype=torch.float32)
        self._keep += [src, dst, out]
        if bench.key == "hbm_copy":
            return lambda: dst.copy_(src)
        if bench.key == "hbm_write":
            return lambda: dst.fill_(1.25)
        if bench.key == "hbm_read":
            return lambda: torch.sum(src, dim=0, out=out)
        # One row reduction over a stride-0 broadcast reads the L2-sized buffer `passes` times
        # without a launch per pass (graph replay of small sums would measure launch gaps instead).
        # Each output row reduces the whole contiguous buffer, the layout reductions are fast on;
        # reducing across the broadcast dimension instead ran at 2.65 TB/s on an H200, below DRAM.
        passes = int(bench.work // bench.size)
        view = src.unsqueeze(0).expand(passes, src.numel())
        rows = torch.empty(passes, device=self.device, dtype=torch.float32)
        self._keep.append(rows)
        return lambda: torch.sum(view, dim=1, out=rows)

    def _gemm(self, bench: Benchmark) -> Callable[[], object]:
        torch, n, p = self.torch, bench.size, bench.precision
        if p == "fp8":
            if not hasattr(torch, "float8_e4m3fn") or (self.cuda and torch.cuda.get_device_capability(self.device) < (8, 9)):
                raise Unsupported("fp8 GEMM needs compute capability 8.9+ and torch with float8")
            a = self._random(n * n).view(n, n).to(torch.float8_e4m3fn)
            b = self._random(n * n).view(n, n).to(torch.float8_e4m3fn).t()  # cuBLASLt wants B column-major
            scale = torch.tensor(1.0, device=self.device)
            self._keep += [a, b, scale]
            return lambda: torch._scaled_mm(a, b, scale_a=scale, scale_b=scale, out_dtype=torch.bfloat16)
        if p == "int8":
            a = torch.randint(-128, 128, (n, n), device=self.device, dtype=torch.int8)
            b = torch.randint(-128, 128, (n, n), device=self.device, dtype=torch.int8).t()  # IMMA wants column-major B
            self._keep += [a, b]
            return lambda: torch._int_mm(a, b)
        dtype = {"fp64": torch.float64, "fp32": torch.float32, "tf32": torch.float32,
                 "fp16": torch.float16, "bf16": torch.bfloat16}[p]
        # "highest" keeps fp32 GEMMs off the tensor cores (the fp32 vector roof); "high" allows TF32.
        torch.set_float32_matmul_precision("high" if p == "tf32" else "highest")
        a, b = (self._random(n * n).view(n, n).to(dtype) for _ in range(2))
        c = torch.empty(n, n, device=self.device, dtype=dtype)
        self._keep += [a, b, c]
        return lambda: torch.mm(a, b, out=c)

    def _launch(self, bench: Benchmark) -> Callable[[], object]:
        torch, count = self.torch, int(bench.work)
        tiny = torch.zeros(1, device=self.device)
        self._keep.append(tiny)

        def launches() -> None:
            for _ in range(count):
                tiny.add_(1.0)

        if bench.key == "launch_eager":
            return launches
        if not self.cuda:
            raise Unsupported("CUDA graphs need a GPU")
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm up on a side stream before capture, as CUDA graphs require
            tiny.add_(1.0)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            launches()
        self._keep.append(graph)
        return graph.replay


def _nvml_handle(uuid: Any) -> tuple[Any, Any] | None:
    """pynvml and the handle of the GPU torch uses (matched by UUID: indices can differ), or None."""
    if not uuid:
        return None
    try:
        import pynvml

        pynvml.nvmlInit()
        text = str(uuid)
        return pynvml, pynvml.nvmlDeviceGetHandleByUUID(text if text.startswith("GPU-") else f"GPU-{text}")
    except Exception:  # no pynvml or no NVML: clocks are then simply not recorded
        return None


def _nvml_read(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        value = fn(*args)
    except Exception:
        return None
    return value.decode() if isinstance(value, bytes) else value
