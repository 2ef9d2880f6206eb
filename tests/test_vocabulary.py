"""One vocabulary: the kinds of value, the catalogue of plan functions, the walk over the plan
model, and a methods package whose modules import each other without a cycle."""

from __future__ import annotations

import ast

from conftest import ROOT

METHODS = ROOT / "sap_engine" / "methods"
PACKAGE = "sap_engine.methods"


# ---- the methods package imports without a cycle


def _imported(tree: ast.AST, modules: set[str]) -> set[str]:
    """The modules of the methods package that a module imports, wherever the import is
    written (a lazy import inside a function closes a cycle just the same)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from sap_engine.methods import freq_effects` names modules; `from
            # sap_engine.methods.freq_table import crosstab` names one module.
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        for name in names:
            if name.startswith(PACKAGE + "."):
                short = name[len(PACKAGE) + 1:].split(".")[0]
                if short in modules:
                    found.add(short)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {p.stem for p in METHODS.glob("*.py") if p.stem != "__init__"}
    return {name: _imported(ast.parse((METHODS / f"{name}.py").read_text()), modules) - {name}
            for name in sorted(modules)}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that comes back to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if not state.get(nxt):
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if not state.get(start):
            found = visit(start)
            if found:
                return found
    return None


def test_find_cycle_finds_a_lazy_cycle_and_accepts_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    lazy = ast.parse("def f():\n    from sap_engine.methods.agreement import square_table\n")
    assert _imported(lazy, {"agreement"}) == {"agreement"}


def test_methods_package_import_graph_is_acyclic():
    graph = import_graph()
    # The graph is read for real: the families import the registry and the table module.
    assert "registry" in graph["freq"] and "freq_table" in graph["agreement"]
    cycle = find_cycle(graph)
    assert cycle is None, "methods modules import each other in a cycle: " + " -> ".join(cycle)
