"""The command line's shell: lazily loaded subcommands, their help, completion, and usage errors
said in one line (exit 2) like every other error."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from roofline.cli import RooflineGroup, app
from roofline.cli.hw import HwGroup
from roofline.cli.lazy import plain

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def _first_paragraph(text: str) -> str:
    return " ".join(text.split("\n\n")[0].split())


@pytest.mark.parametrize("group", [RooflineGroup, HwGroup])
def test_each_lazy_summary_is_the_first_paragraph_of_its_commands_help(group) -> None:
    # `roofline --help` prints the summaries without importing the commands: they must not drift.
    for name, entry in group.lazy_commands.items():
        command = entry.load(name)
        assert command.name == name
        assert entry.summary == _first_paragraph(command.help or ""), name


def test_root_help_lists_every_command_and_the_completion_options() -> None:
    result = runner.invoke(app, ["--help"], env=WIDE)
    assert result.exit_code == 0
    for name in RooflineGroup.lazy_commands:
        assert f"  {name} " in result.stdout
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


def test_a_subcommands_help_still_shows_its_options() -> None:
    result = runner.invoke(app, ["classify", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert "--top" in result.stdout and "--hw" in result.stdout and "--output" in result.stdout
    nested = runner.invoke(app, ["hw", "--help"], env=WIDE)
    assert all(f" {name} " in nested.stdout for name in ("list", "show", "detect", "measure"))
    # Completion is installed for the program, not per subcommand.
    assert "--install-completion" not in nested.stdout


@pytest.mark.parametrize(
    ("args", "says", "help_of"),
    [
        (["classify", "--top", "0", "x.json"], "classify: invalid value for '--top': must be at least 1", "classify"),
        (["classify", "--top", "many", "x.json"], "classify: invalid value for '--top': not a whole number",
         "classify"),
        (["classify", "--format", "xml", "x.json"], "'xml' is not one of 'table', 'json', 'md'", "classify"),
        (["classify", "--bogus"], "classify: No such option: --bogus", "classify"),
        (["plan", "--sweep"], "plan: Option '--sweep' requires an argument", "plan"),
        (["hw", "show"], "hw show: Missing argument 'name'", "hw show"),
        (["nope"], "No such command 'nope'", ""),
    ],
)
def test_usage_errors_are_one_line_with_the_help_to_read(args: list[str], says: str, help_of: str) -> None:
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("roofline: error: ") and says in lines[0]
    assert lines[0].endswith(f"— see '{' '.join(['roofline', *help_of.split()])} --help'")
    assert "Input should" not in lines[0] and "╭" not in result.output


def test_pydantic_wording_is_said_plainly() -> None:
    assert plain("Input should be greater than or equal to 1") == "must be at least 1"
    assert plain("Input should be less than 5") == "must be less than 5"
    assert plain("Value error, 'x' is not one of 'a', 'b'") == "'x' is not one of 'a', 'b'"


def test_no_arguments_prints_the_help() -> None:
    result = runner.invoke(app, [], env=WIDE)
    assert result.exit_code == 2 and "Commands:" in result.stdout and "roofline: error" not in result.stderr


def test_a_pydantic_error_escaping_a_command_is_one_line_and_exit_2() -> None:
    import typer
    from pydantic import BaseModel, Field

    from roofline.cli.common import handle_errors

    class Options(BaseModel):
        batch: int = Field(ge=1)

    @handle_errors
    def command() -> None:
        Options(batch=0)

    one = typer.Typer()
    one.command()(command)
    result = runner.invoke(one, [])
    assert result.exit_code == 2
    assert result.stderr == "roofline: error: invalid value 'batch': must be at least 1 — check the value given for it\n"


@pytest.mark.parametrize(
    ("words", "word", "expected"),
    [("roofline cl", "1", "classify"), ("roofline hw s", "2", "show"), ("roofline classify --fo", "2", "--format")],
)
def test_shell_completion_reaches_lazily_loaded_commands(words: str, word: str, expected: str) -> None:
    env = {"_ROOFLINE_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": word}
    result = runner.invoke(app, [], env=env, prog_name="roofline")
    assert result.exit_code == 0 and result.output.split() == [expected]
