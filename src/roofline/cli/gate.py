"""``roofline snapshot`` and ``roofline gate``: record what a run measured, and fail CI when a run
regresses against a baseline. Wiring only: adapters read, gate.compare decides, gate.render
formats, and the result object holds the exit code.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from roofline import jsonout
from roofline.cli.common import CeilingsOption, HwDirOption, HwFileOption, handle_errors, registry_from_options, \
    stderr_console, write_atomic, append_atomic
from roofline.cli.output import emit, write_output
from roofline.errors import InputError
from roofline.app.gate import gate_paths, snapshot_paths
from roofline.gating.adapters import SnapshotOptions, parse_env
from roofline.gating.render import gate_junit, gate_markdown, gate_renderable, github_annotations
from roofline.gating.snapshot import looks_like_snapshot, snapshot_json
from roofline.gating.thresholds import load_thresholds


class GateFormat(str, Enum):
    table = "table"
    json = "json"


class Annotations(str, Enum):
    auto = "auto"
    on = "on"
    off = "off"


HwOption = Annotated[str, typer.Option("--hw", help="Device of raw inputs (name, alias or 'auto' from the trace).")]
EnvOption = Annotated[
    list[str] | None,
    typer.Option("--env", help="KEY=VALUE added to the fingerprint of raw inputs (repeatable), e.g. "
                 "--env torch=2.11.0 --env driver=580.159.04: what a trace cannot say about its environment."),
]


def _options(hw: str, ceilings: str | None, hw_file: list[Path] | None, hw_dir: list[Path] | None,
             env: list[str] | None) -> SnapshotOptions:
    return SnapshotOptions(hw=hw, ceilings=ceilings, registry=registry_from_options(hw_file, hw_dir),
                           env=parse_env(env or []))


def snapshot(
    inputs: Annotated[list[Path], typer.Argument(
        help="Traces (kineto JSON, Nsight Systems CSV), Nsight Compute CSV, declared-kernel YAML, or benchmark "
        "JSON (pytest-benchmark, or {name: {metric: value or [samples]}}). Several inputs of one kind make one "
        "snapshot, entries prefixed with each file's stem.", show_default=False)],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the snapshot here (default: stdout).")] = None,
    hw: HwOption = "auto",
    env: EnvOption = None,
    ceilings: CeilingsOption = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Record what can be gated — per-step times, work, rates, bounds — as a baseline JSON."""
    options = _options(hw, ceilings, hw_file, hw_dir, env)
    if output is not None and any(_same_file(output, path) for path in inputs):
        raise InputError("would overwrite an input", file=output, place="--output", fix="write the snapshot elsewhere")
    merged = snapshot_paths(inputs, options)
    data = snapshot_json(merged)
    if output is None:
        sys.stdout.write(data.decode("utf-8"))
        return
    write_atomic(output, data)
    stderr_console().print(f"roofline: wrote {output} ({merged.kind}, {len(merged.entries)} entries)")


def _same_file(left: Path, right: Path | None) -> bool:
    if right is None:
        return False
    try:
        return left.resolve() == right.resolve()
    except (OSError, RuntimeError):  # a symlink loop: RuntimeError up to Python 3.12
        return False


def _proposal_target(baseline: Path, current: Path, thresholds: Path | None, update: bool,
                     write_to: Path | None) -> Path | None:
    """Where the proposed baseline goes. Overwriting an input is allowed only for the baseline and
    only with --update-baseline; a raw trace is never replaced by a snapshot."""
    if update and write_to is not None:
        raise InputError("give --update-baseline or --write-baseline FILE, not both", place="--update-baseline",
                         fix="--update-baseline rewrites BASELINE in place; --write-baseline FILE writes elsewhere")
    if write_to is not None:
        if any(_same_file(write_to, path) for path in (baseline, current, thresholds)):
            raise InputError("would overwrite an input", file=write_to, place="--write-baseline",
                             fix="pass --update-baseline to replace BASELINE in place, or write elsewhere")
        return write_to
    if not update:
        return None
    from roofline.sources.base import head_bytes

    if not baseline.is_file() or not looks_like_snapshot(head_bytes(baseline).lstrip()):
        raise InputError("is not a snapshot file, so --update-baseline will not overwrite it", file=baseline,
                         place="--update-baseline", fix="pass --write-baseline FILE to write the proposal elsewhere")
    return baseline


def gate(
    baseline: Annotated[Path, typer.Argument(help="Baseline: a snapshot, or a raw input snapshotted on the fly.",
                                             show_default=False)],
    current: Annotated[Path, typer.Argument(help="Current run: a snapshot, or a raw input.", show_default=False)],
    thresholds: Annotated[Path | None, typer.Option("--thresholds", "-t",
                                                    help="Thresholds YAML (docs/gate.md). Default: built-in rules.")] = None,
    format: Annotated[GateFormat, typer.Option("--format", "-f", help="table or json")] = GateFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the table/JSON here.")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Append a Markdown summary to this file "
                                                  "(e.g. $GITHUB_STEP_SUMMARY).")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML: one testcase per entry × metric.")] = None,
    fail_on_improvement: Annotated[bool, typer.Option("--fail-on-improvement",
                                                      help="Fail on improvements past the limits too, so the "
                                                      "baseline is kept fresh.")] = False,
    update_baseline: Annotated[bool, typer.Option("--update-baseline",
                                                  help="Replace BASELINE (a snapshot file) with the current run's "
                                                  "snapshot, whatever the verdict; the exit code is unchanged.")] = False,
    write_baseline: Annotated[Path | None, typer.Option("--write-baseline", help="Write the proposed new baseline "
                                                        "(the current run's snapshot) to this file.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="List unchanged rows in the table too.")] = False,
    annotations: Annotated[Annotations, typer.Option(
        "--annotations", help="GitHub ::error/::warning lines: auto (when GITHUB_ACTIONS=true), on or off.")
    ] = Annotations.auto,
    hw: HwOption = "auto",
    env: EnvOption = None,
    ceilings: CeilingsOption = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Compare CURRENT with BASELINE: exit 0 pass (warnings allowed), 1 regression, 2 bad input."""
    config = load_thresholds(thresholds) if thresholds is not None else None  # refused before any input is read
    target = _proposal_target(baseline, current, thresholds, update_baseline, write_baseline)
    options = _options(hw, ceilings, hw_file, hw_dir, env)
    result, current_snapshot = gate_paths(baseline, current, options, thresholds=thresholds, config=config,
                                          fail_on_improvement=fail_on_improvement)
    if format is GateFormat.json:
        write_output(jsonout.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n", output)
    else:
        probe = Console()
        # CI logs are not terminals and rich would wrap them at 80 columns; they scroll sideways fine.
        width = probe.width if probe.is_terminal else max(probe.width, 160)
        emit([gate_renderable(result, show_all=show_all)], output, width=width)
    if markdown is not None:
        _append(markdown, gate_markdown(result))
    if junit is not None:
        write_atomic(junit, gate_junit(result).encode("utf-8"))
    if annotations is Annotations.on or (annotations is Annotations.auto and os.environ.get("GITHUB_ACTIONS") == "true"):
        # JSON on stdout must stay parseable; the runner reads workflow commands from stderr too.
        stream = sys.stderr if format is GateFormat.json and output is None else sys.stdout
        stream.write(github_annotations(result))
        stream.flush()
    if target is not None:
        write_atomic(target, snapshot_json(current_snapshot))
        stderr_console().print(f"roofline: wrote the proposed baseline to {target}")
    if result.refusal:
        print(f"roofline: error: {result.refusal}", file=sys.stderr)
    raise typer.Exit(result.return_code)


def _append(path: Path, text: str) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError("directory does not exist", file=path, place="--markdown", fix="create it first")
    try:
        # Rewritten atomically: an interrupted gate leaves the summary as it was, not half a table.
        append_atomic(path, text)
    except OSError as exc:
        raise InputError(f"cannot append: {exc.strerror or exc}", file=path, place="--markdown") from None


snapshot = handle_errors(snapshot)
gate = handle_errors(gate)
