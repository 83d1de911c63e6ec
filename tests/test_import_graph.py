"""The module graph of src/roofline has no circles, counting imports inside functions too: a
function-level import that closes a circle (the engine's rules importing the model that imports
the rules) hides the cycle from Python but not from a reader. And `import roofline` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import roofline

PACKAGE = Path(roofline.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module → the roofline modules it names in any import statement, at any depth."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # Imports under `if TYPE_CHECKING:` never run (annotations only): they cannot make a circle.
        for block in [n for n in ast.walk(tree) if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]:
            block.body = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from pkg import mod` names the submodule when there is one, else the package.
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_back_into_its_importers() -> None:
    assert cycles(import_graph()) == []


def test_the_rule_modules_are_imported_by_the_planners_not_by_the_models() -> None:
    graph = import_graph()
    assert "roofline.planner.serving_rules" not in graph["roofline.planner.serving"]
    assert "roofline.planner.trace_rules" not in graph["roofline.planner.trace"]
    assert "roofline.planner.serving_rules" in graph["roofline.planner.serving_planner"]
    assert "roofline.planner.trace_rules" in graph["roofline.planner.trace_planner"]


def test_the_version_and_the_help_import_no_command_module() -> None:
    # roofline --version and --help list the commands without importing them (roofline.cli.lazy).
    code = ("import sys\nfrom roofline.cli import app\nfrom typer.testing import CliRunner\n"
            "CliRunner().invoke(app, ['--version']); CliRunner().invoke(app, ['--help'])\n"
            "print(sorted(m for m in sys.modules if m.startswith(('roofline.cli.', 'matplotlib', 'numpy', "
            "'pydantic', 'roofline.hardware'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['roofline.cli.lazy']"
