"""The ``roofline`` command line: thin wiring from arguments to readers, core and renderers."""

from __future__ import annotations

import typer

from roofline import __version__
from roofline.cli import calibrate as calibrate_cmd
from roofline.cli import classify as classify_cmd
from roofline.cli import gate as gate_cmd
from roofline.cli import hw as hw_cmd
from roofline.cli import plot as plot_cmd
from roofline.cli import report as report_cmd
from roofline.cli import plan as plan_cmd
from roofline.cli import profile as profile_cmd

app = typer.Typer(
    name="roofline",
    help="Why is this workload slow on this hardware, and what should I change first?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(hw_cmd.app, name="hw")
app.command("classify")(classify_cmd.classify)
app.command("plot")(plot_cmd.plot)
app.command("report")(report_cmd.report)
app.command("snapshot")(gate_cmd.snapshot)
app.command("gate")(gate_cmd.gate)
app.command("plan")(plan_cmd.plan)
app.command("calibrate")(calibrate_cmd.calibrate)
app.command("profile", cls=profile_cmd.ProfileCommand)(profile_cmd.profile)


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
