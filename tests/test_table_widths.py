"""Tables at 60, 80, 120 and 200 columns (a pipe is 80): the columns a reader needs stay, no
identifier or word is broken across lines, a name is cut only at its end with "…", every line
fits, and a caption names what was left out. Full names stay in JSON and Markdown."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from roofline.app.classify import classify_loaded
from roofline.app.plan import plan_config
from roofline.app.trace_plan import trace_plan_of
from roofline.cli import app
from roofline.hardware.registry import load_registry
from roofline.report.text.console import hw_list_table, kernel_table
from roofline.report.text.fit import Column, FitTable, Name
from roofline.report.text.markdown import classify_markdown
from roofline.report.text.plan import phase_table, steps_table
from roofline.report.text.trace_plan import trace_plan_renderable
from roofline.sources import read_input
from roofline.units import kernel_labels

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
WIDTHS = (60, 80, 120, 200)
GELU = ("void at::native::vectorized_elementwise_kernel<4, at::native::GeluCUDAKernelImpl(at::TensorIteratorBase&, "
        "at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#2}::operator()() const::"
        "{lambda(c10::BFloat16)#1}, std::array<char*, 2ul> >(int, at::native::GeluCUDAKernelImpl(at::"
        "TensorIteratorBase&, at::native::GeluType)::{lambda()#2}::operator()() const::{lambda()#2}::operator()() "
        "const::{lambda(c10::BFloat16)#1}, std::array<char*, 2ul>)")


def render(renderable, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(renderable)
    return console.file.getvalue().splitlines()


def body_cells(lines: list[str], column: int) -> list[str]:
    """The text of one column on every body row of a boxed table."""
    rows = [line for line in lines if line.startswith("│")]
    return [line.split("│")[column + 1].strip() for line in rows]


def cut_at_its_end(cell: str, label: str) -> bool:
    """``cell`` is ``label``, or the label's start and "…", with the op's " [...]" kept whole."""
    if cell == label:
        return True
    main, bracket, op = cell.partition(" [")
    if bracket and label.endswith(bracket + op):
        return main.endswith("…") and label.startswith(main[:-1])
    return cell.endswith("…") and label.startswith(cell[:-1])


def header(lines: list[str]) -> str:
    return " ".join(line for line in lines if line.startswith("┃"))


@pytest.fixture(scope="module")
def nsys_result():
    return classify_loaded(read_input(DATA / "nsys" / "h200_cuda_gpu_trace.csv"), load_registry(), "auto", None)


@pytest.fixture(scope="module")
def decode_result():
    return classify_loaded(read_input(DATA / "h200" / "kineto" / "mini_decode_eager.json.gz"), load_registry(),
                           "auto", None)


def test_kernel_labels_fold_templates_and_name_the_op() -> None:
    # The example: the op in brackets, every template argument folded.
    assert kernel_labels([(GELU, "aten::gelu")]) == ["vectorized_elementwise_kernel<…> [aten::gelu]"]
    add = "void at::native::vectorized_elementwise_kernel<{}, at::native::CUDAFunctor_add<float>, int>(int)"
    # Two instantiations under one op keep their first template argument, so the rows differ.
    assert kernel_labels([(add.format(4), "aten::add"), (add.format(8), "aten::add")]) == [
        "vectorized_elementwise_kernel<4, …> [aten::add]", "vectorized_elementwise_kernel<8, …> [aten::add]"]
    assert kernel_labels([("Memcpy HtoD (Pageable -> Device)", None)]) == ["Memcpy HtoD (Pageable -> Device)"]
    assert kernel_labels([("ampere_sgemm_128x64_nn", "ampere_sgemm_128x64_nn")]) == ["ampere_sgemm_128x64_nn"]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("which", ["nsys_result", "decode_result"])
def test_kernel_table_keeps_the_name_time_and_bound_and_cuts_names_only_at_their_end(which, width, request) -> None:
    result = request.getfixturevalue(which)
    lines = render(kernel_table(result), width)
    assert all(len(line) <= width for line in lines)
    head = header(lines)
    for needed in ("kernel", "time", "bound"):
        assert needed in head
    labels = kernel_labels([(v.name, v.op) for v in result.kernels])
    cells = body_cells(lines, 0)
    assert len(cells) == len(labels)  # one line a row: nothing wrapped onto a second line
    for cell, label in zip(cells, labels):
        assert cut_at_its_end(cell, label), (cell, label)
    if width >= 200:
        assert "source" in head and cells[0] == labels[0]
    if width < 120:
        assert any(line.startswith("hidden at") for line in lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_hw_list_never_cuts_a_device_name(width) -> None:
    registry = load_registry()
    specs = [registry.specs[name] for name in registry.names()]
    lines = render(hw_list_table(specs), width)
    assert all(len(line) <= width for line in lines)
    assert body_cells(lines, 0) == [spec.name for spec in specs]  # what --hw takes, whole
    assert "fp16/bf16" in header(lines) and ("bandwidth" in header(lines) or width < 80)


@pytest.fixture(scope="module")
def planned():
    return plan_config(REPO / "examples" / "llama70b_h100_tp8.yaml", load_registry()).result


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_tables_wrap_between_words_and_keep_the_latency(planned, width) -> None:
    lines = render(steps_table(planned), width)
    assert all(len(line) <= width for line in lines)
    assert "change" in header(lines) and "ITL" in header(lines)
    words = {w for step in planned.steps for w in step.technique.split()} | {"baseline"}
    for cell in body_cells(lines, 1):
        assert all(word in words for word in cell.split()), cell  # "baselin e" was a word broken in two
    phases = render(phase_table(planned), width)
    assert "time" in header(phases) and "bound" in header(phases)
    assert [c for c in body_cells(phases, 0) if c] == ["prefill", "decode"]


@pytest.mark.parametrize("width", WIDTHS)
def test_trace_plan_steps_keep_their_words(width) -> None:
    result = classify_loaded(read_input(DATA / "h200" / "profiled" / "llama_decode_eager.json.gz"), load_registry(),
                             "auto", None)
    plan = trace_plan_of(result)
    lines = render(trace_plan_renderable(plan), width)
    assert all(len(line) <= width for line in lines)
    from roofline.report.text.trace_plan import baseline_label

    words = {w for step in plan.steps for w in step.technique.split()} | set(baseline_label(plan.baseline).split())
    for cell in body_cells(lines, 1):
        assert all(word in words for word in cell.split()), cell


def test_a_name_too_long_for_its_column_keeps_its_op() -> None:
    name = Name("nvjet_sm90_tst_128x8_64x12_2x1_v_bz_TNT", " [aten::mm]")
    assert name.fitted(30).plain == "nvjet_sm90_tst_128… [aten::mm]"
    assert name.fitted(60).plain == "nvjet_sm90_tst_128x8_64x12_2x1_v_bz_TNT [aten::mm]"
    # Too narrow for both: the identifier alone, cut at its end.
    assert Name("a_rather_long_identifier", " [aten::mm]").fitted(10).plain == "a_rather_…"


def test_strings_in_cells_are_never_read_as_markup() -> None:
    table = FitTable([Column("name", "left", name=True)], [["[bold]kernel[/bold]"], [Name("[red]x")]])
    text = "\n".join(render(table, 60))
    assert "[bold]kernel[/bold]" in text and "[red]x" in text


def test_json_keeps_full_names_and_markdown_does_not_depend_on_the_terminal(decode_result) -> None:
    trace = DATA / "h200" / "kineto" / "mini_decode_eager.json.gz"
    runner = CliRunner()
    result = runner.invoke(app, ["classify", str(trace), "--format", "json"], env={"COLUMNS": "60"})
    assert {k["name"] for k in json.loads(result.stdout)["kernels"]} == {v.name for v in decode_result.kernels}
    narrow = runner.invoke(app, ["classify", str(trace), "--format", "md"], env={"COLUMNS": "60"}).stdout
    wide = runner.invoke(app, ["classify", str(trace), "--format", "md"], env={"COLUMNS": "200"}).stdout
    assert narrow == wide == classify_markdown(decode_result)
