"""The layout of ``dynadapt.runs``: no import cycle, one package per kind, every kind reachable."""

from __future__ import annotations

import ast
from pathlib import Path

import dynadapt.runs
from dynadapt.runs.kinds import KIND_PACKAGES, all_kinds
from dynadapt.runs.presets import PRESETS

ROOT = Path(dynadapt.runs.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the dynadapt.runs modules it imports when imported (module level, not TYPE_CHECKING)."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*stack, node, dep]
            if dep not in state and (found := visit(dep, [*stack, node])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_no_import_cycle_in_runs() -> None:
    graph = import_graph()
    assert "dynadapt.runs.kinds" in graph["dynadapt.runs.launch"]  # the graph sees real imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_kind_is_a_package_with_loop_and_presets() -> None:
    kinds = all_kinds()
    for package in KIND_PACKAGES:
        folder = ROOT / package.rsplit(".", 1)[1]
        assert (folder / "__init__.py").is_file() and (folder / "presets.py").is_file(), package
    assert {p.kind for p in PRESETS.values()} == set(kinds)
