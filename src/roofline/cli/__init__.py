"""The ``roofline`` command line: thin wiring from arguments to readers, core and renderers.

Each subcommand lives in its own module, imported only when that subcommand runs (roofline.cli.lazy):
``roofline --version`` and ``roofline --help`` import none of them.
"""

from __future__ import annotations

import typer

from roofline.version import __version__
from roofline.cli.lazy import LazyCommand, LazyGroup


class RooflineGroup(LazyGroup):
    lazy_commands = {
        "classify": LazyCommand(
            "roofline.cli.classify:classify",
            "Classify kernels as compute-, memory- or launch-bound against a device's roofline. Given a "
            "directory of per-rank traces: each rank, stragglers and the fleet figures (docs/ranks.md)."),
        "plot": LazyCommand(
            "roofline.cli.plot:plot",
            "Draw a roofline chart: roofs, ridge points and kernels sized by time, coloured by bound."),
        "report": LazyCommand(
            "roofline.cli.report:report",
            "Write a report: verdict, findings, roofline and timeline charts, kernel table, and the plan."),
        "snapshot": LazyCommand(
            "roofline.cli.gate:snapshot",
            "Record what can be gated — per-step times, work, rates, bounds — as a baseline JSON."),
        "gate": LazyCommand(
            "roofline.cli.gate:gate",
            "Compare CURRENT with BASELINE: exit 0 pass (warnings allowed), 1 regression, 2 bad input."),
        "plan": LazyCommand(
            "roofline.cli.plan:plan",
            "Plan what to change first and what it buys: for a serving config (TTFT, ITL, throughput, memory "
            "against SLOs) or for profiled traces (step time, from the measured timeline)."),
        "calibrate": LazyCommand(
            "roofline.cli.calibrate:calibrate",
            "Fit an engine profile to measured runs (host time per iteration and sequence, per-request cost, "
            "queueing, kernel efficiencies, all-reduce latency; cross-validated), or to profiler traces (kernel "
            "efficiencies per op class and precision, host time per kernel, CUDA-graph gaps; leave-one-trace-out "
            "error)."),
        "profile": LazyCommand(
            "roofline.cli.profile:profile",
            "Profile a Python script with the settings roofline needs, then classify the trace.",
            cls="roofline.cli.profile:ProfileCommand"),
        "hw": LazyCommand("roofline.cli.hw:app", "Hardware registry: list, show, detect, measure."),
    }


app = typer.Typer(
    name="roofline",
    cls=RooflineGroup,
    rich_markup_mode=None,
    help="Why is this workload slow on this hardware, and what should I change first?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"roofline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """roofline: roofline diagnosis of GPU workloads and ordered optimization plans."""


def main() -> None:
    app()
