"""One vocabulary: the kinds of value, the catalogue of plan functions, the walk over the plan
model, and a methods package whose modules import each other without a cycle."""

from __future__ import annotations

import ast
import math
from typing import get_args

import numpy as np
import pytest
from conftest import ROOT, write_plan
from test_hardening_check import BASE, only

from sap_engine import functions
from sap_engine import model as m
from sap_engine.api import check_plan, execute_plan
from sap_engine.errors import PlanSyntaxError
from sap_engine.methods import registry
from sap_engine.parse import grammar_text, parse_text, parser

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


# ---- one catalogue of plan functions


def test_a_math_function_of_two_arguments_is_refused(tmp_path):
    # `log(x, 10)` used to check and run as log(x), the 10 silently dropped.
    text = BASE + "\nendpoint lg = log(baseline(score), 10)\n"
    d = only(tmp_path, text, "SAP204")
    assert d.message == "log() takes one number, not 2"
    assert d.location.line == len(BASE.splitlines()) + 2 and d.location.column == 15


def _call(f: functions.Function) -> str:
    argument = {"parameter": "score", "plain_parameter": "score", "family": "fam",
                "number": "baseline(score)"}[f.argument]
    return f"{f.name}({argument})"


def test_every_function_of_the_catalogue_checks_and_runs(tmp_path):
    """The grammar, the checker and the evaluator know every function of the catalogue: a
    plan calling each one checks, and each gives a number for the subjects."""
    lines = ['parameter fam "Scores" = adeff.AVAL by PARAMCD']
    lines += [f"endpoint e_{f.name} = {_call(f)}" for f in functions.FUNCTIONS.values()]
    names = ", ".join(f"e_{name}" for name in functions.NAMES)
    lines += ["analysis ALL {", "  population FAS", "  method descriptive",
              f"  variable {names}", "  at week 16", "}"]
    path = write_plan(tmp_path, BASE + "\n" + "\n".join(lines) + "\n")
    results = execute_plan(check_plan(path))
    assert not results.failures, [d.render() for d in results.failures]
    means = {r["variable"]: r["stat"] for r in results.rows
             if r["stat_name"] == "mean" and r["analysis_id"] == "ALL"}
    for name in functions.NAMES:
        assert math.isfinite(means[f"e_{name}"]), name


def test_the_grammar_reads_its_function_names_from_the_catalogue():
    terminal = next(t for t in parser().terminals if t.name == "FUNCTION")
    assert terminal.pattern.value == functions.grammar_pattern()
    assert "/(FUNCTION_NAMES)" not in grammar_text()
    for name in functions.NAMES:
        call = parse_text(f"endpoint e = {name}(x)").endpoints["e"].expr
        assert call == m.Call(name, (m.Col("x"),)), name


def test_an_unknown_function_lists_the_catalogue():
    with pytest.raises(PlanSyntaxError) as exc:
        parse_text("endpoint e = chnage(score)")
    d = exc.value.diagnostics[0]
    assert d.code == "SAP101"
    assert d.message == "unknown function 'chnage'; the functions are " + ", ".join(
        functions.NAMES)
    assert d.suggestion is not None and "change" in d.suggestion


def test_the_catalogue_groups_and_implementations():
    names = set(functions.NAMES)
    groups = (functions.PARAMETER, functions.FAMILY, functions.OVER_VISITS, functions.MATH)
    assert sorted(n for g in groups for n in g) == sorted(names)  # each in exactly one
    assert set(functions.TAKES_PARAMETER) == names - set(functions.MATH)
    for name in functions.MATH:
        assert callable(getattr(np, functions.FUNCTIONS[name].numpy or "")), name
    assert set(functions.NONFINITE) <= set(functions.MATH)


def test_every_function_is_documented():
    text = (ROOT / "docs" / "language.md").read_text()
    missing = [n for n in functions.NAMES if f"`{n}" not in text]
    assert not missing, f"docs/language.md does not describe {missing}"


# ---- the parser builds typed items


_ITEMS = ["population FAS", "method ancova (ci_level = 0.9)", "model y ~ treatment + x",
          "at week 16", "contrast A - B", "options adjust = none", "contrast B - C",
          "lsmeans weights observed", "missing locf", "by visit"]


def test_block_items_set_their_fields_in_any_order():
    def analysis(items: list[str]) -> m.Analysis:
        return parse_text("analysis X {\n  " + "\n  ".join(items) + "\n}").analyses["X"]

    a, b = analysis(_ITEMS), analysis(list(reversed(_ITEMS)))
    # Contrasts are kept in the order written; the method's own options come first.
    assert [c.label for c in a.contrasts] == ["A - B", "B - C"]
    assert [o.name for o in a.options] == [o.name for o in b.options] == ["ci_level", "adjust"]
    assert a == m.Analysis(
        "X", None, population=m.PopulationUse("FAS"), method="ancova", options=a.options,
        response=m.Col("y"), terms=a.terms, visit=16.0, by=(m.ByItem("visit"),),
        contrasts=a.contrasts, weights="observed", missing="locf")
    assert b.contrasts == tuple(reversed(a.contrasts))
    assert (a.visit_loc.line, a.method_loc.line) == (5, 3)


def test_an_item_that_sets_fields_is_given_once_and_one_that_adds_may_repeat():
    with pytest.raises(PlanSyntaxError) as exc:
        parse_text("analysis X {\n  at week 16\n  contrast A - B\n  contrast B - C\n"
                   "  at week 8\n}")
    [d] = exc.value.diagnostics
    assert (d.code, d.location.line) == ("SAP109", 5)
    assert d.message == "analysis X: 'at week' is given twice (first at line 2); give it once"


# ---- one walk over the plan model


def test_children_of_each_expression_in_source_order():
    x, one, two = m.Col("x"), m.Num(1.0), m.Num(2.0)
    iv = m.Interval(0.0, 1.0, True, False)
    assert m.children(m.BinOp("+", x, one)) == (x, one)
    assert m.children(m.Not(x)) == m.children(m.Neg(x)) == (x,)
    assert m.children(m.InSet(x, (one, two))) == (x, one, two)
    assert m.children(m.Call("log", (x,))) == (x,)
    assert m.children(m.Cut(x, (iv,))) == (x, iv)
    for leaf in (x, one, m.Str("a"), m.Bool(True), m.Inf(), iv, m.Loc(1, 2), "x", 3.0, None):
        assert m.children(leaf) == ()


def test_children_of_a_statement_flatten_its_tuples_and_skip_locations():
    a, b, r = m.Col("A", loc=m.Loc(3, 4)), m.Col("B"), m.Col("R")
    use = m.PopulationUse("FAS", m.BinOp("==", m.Col("FASFL"), m.Str("Y")))
    analysis = m.Analysis("X", None, population=use, crosstab=(a, b),
                          roles=(m.Role("dose", r),), options=(m.Option("levels", ("a", "b")),),
                          method_loc=m.Loc(1, 1))
    kids = m.children(analysis)
    assert kids == (use, m.Option("levels", ("a", "b")), a, b, m.Role("dose", r))
    assert [type(n).__name__ for n in m.walk(analysis)] == [
        "Analysis", "PopulationUse", "BinOp", "Col", "Str", "Option", "Col", "Col", "Role", "Col"]
    assert list(m.walk((a, None, (b,)))) == [a, b]


def test_walk_does_not_recurse():
    e: m.Expr = m.Col("x")
    for _ in range(5000):  # far deeper than Python's recursion limit
        e = m.Neg(e)
    assert sum(1 for _ in m.walk(e)) == 5001


def test_the_model_is_walked_only_by_its_own_helpers():
    """No module walks plan nodes through ``vars(node)`` or ``__dataclass_fields__`` (as
    execute.py did): :func:`model.children` / :func:`model.walk` know the model."""
    offenders = []
    for path in sorted((ROOT / "sap_engine").rglob("*.py")):
        if "synth" in path.parts or path.name == "model.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "vars" or isinstance(node, (ast.Attribute, ast.Constant)) \
                    and "__dataclass_fields__" in (getattr(node, "attr", None),
                                                   getattr(node, "value", None)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


# ---- one kind vocabulary


def test_role_kinds_use_the_checkers_words():
    allowed = set(get_args(m.RoleKind))
    assert allowed == {"numeric", "category", "any"} and allowed - {"any"} <= set(get_args(m.Kind))
    for method in registry.load_all().values():
        for role in method.roles:
            assert role.kind in allowed, (method.name, role.name, role.kind)
