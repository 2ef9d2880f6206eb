"""Compile a checked plan into an ordered graph of typed analysis steps.

Everything an analysis needs was resolved once, by ``bind`` inside ``check``: its method,
its roles as typed terms, its options with their sources, population, visit and the
intercurrent-event handling inherited from its estimand. Compiling only orders the steps
(``X = Y by s`` after ``Y``) and expands a repetition into the analysis it repeats with its
``by`` items added. No kind rule and no option resolution live here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sap_engine import model as m
from sap_engine.bind import (
    Bound,
    BoundAnalysis,
    Repetition,
    ResolvedOption,
    RolesAndOptions,
    Term,
    by_chain,
    category_levels,
)
from sap_engine.check import CheckedPlan

__all__ = ["Step", "category_levels", "compile_plan", "main_variable", "resolved_options"]


@dataclass(frozen=True)
class Step(RolesAndOptions):
    id: str
    label: str
    method: str
    population: m.PopulationUse
    roles: tuple[tuple[str, tuple[Term, ...]], ...]
    options: tuple[ResolvedOption, ...]  # sorted by name, each with its source
    by: tuple[str, ...]
    visit: float | None
    handling: m.Handling
    plan_line: int
    loc: m.Loc
    depends: tuple[str, ...] = ()
    repeated: bool = False  # an `X = Y by s` step: analysis ids carry the stratum level
    # `by visit after baseline`: the split by visit leaves the baseline visit out.
    after_baseline: bool = False


@dataclass(frozen=True)
class DenominatorStep:
    """The column-header denominators of one display: the subjects of its population per
    arm and in total, as ARD rows (analysis_id ``table <number>`` or ``figure <number>``,
    stat_name ``N``), so a document can be rebuilt from the ARD alone. A treatment level of
    the population that is not an arm fails it (SAP241), located at the display."""

    id: str  # "table 14.2.1": the ARD analysis_id of its rows
    label: str  # the display's title
    display: str  # "table" or "figure"
    number: str
    population: m.PopulationUse
    loc: m.Loc
    method: str = "population_count"

    @property
    def plan_line(self) -> int:
        return self.loc.line


def denominator_steps(plan: m.Plan) -> list[DenominatorStep]:
    """One denominator step per display with a population, tables first, in plan order."""
    displays: list[m.Table | m.Figure] = [*plan.tables, *plan.figures]
    out = []
    for d in displays:
        if d.population is None:
            continue
        kind = "table" if isinstance(d, m.Table) else "figure"
        out.append(DenominatorStep(id=f"{kind} {d.number}", label=d.title, display=kind,
                                   number=d.number, population=d.population, loc=d.loc))
    return out


def _chain(bound: dict[str, Bound], name: str) -> tuple[BoundAnalysis, tuple[str, ...]]:
    """The analysis a repetition repeats (following chains), and the ``by`` items of the
    whole chain, the repeated analysis' first: ``Z = Y by t`` with ``Y = X by s`` is ``X``
    within each level of ``s`` and of ``t``."""
    seen: set[str] = set()
    b = bound[name]
    by: tuple[str, ...] = ()
    while isinstance(b, Repetition):
        if b.name in seen:  # the checker refuses a cycle (SAP233)
            raise AssertionError(f"analysis {name} repeats itself")
        seen.add(b.name)
        by = tuple(item.name for item in b.by) + by
        b = bound[b.base]
    return b, tuple(item.name for item in b.by) + by


def _step(plan: m.Plan, bound: dict[str, Bound], name: str) -> Step:
    b = bound[name]
    root, by = _chain(bound, name)
    after = any(i.after_baseline for i in by_chain(plan, plan.analyses[name]))
    if isinstance(b, Repetition):
        label = b.label or plan.analyses[root.name].label or b.name
        return Step(id=b.name, label=label, method=root.method,
                    population=root.population, roles=root.roles, options=root.options, by=by,
                    visit=root.visit, handling=root.handling, plan_line=b.loc.line, loc=b.loc,
                    depends=(b.base,), repeated=True, after_baseline=after)
    return Step(id=b.name, label=b.label, method=b.method, population=b.population,
                roles=b.roles, options=b.options, by=by, visit=b.visit, handling=b.handling,
                plan_line=b.loc.line, loc=b.loc, after_baseline=after)


def compile_plan(checked: CheckedPlan) -> list[Step]:
    """Steps in dependency order (a base analysis before its `by` repetitions); none for
    the analyses that are not estimable (``CheckedPlan.not_estimable``)."""
    missing = [name for name in checked.plan.analyses if name not in checked.bound]
    if missing:  # check binds every analysis of a plan it accepts
        raise AssertionError(f"analysis {missing[0]} was compiled unchecked")
    # An analysis the engine cannot estimate (SAP254) is not run: its warning says so.
    steps = {name: _step(checked.plan, checked.bound, name) for name in checked.plan.analyses
             if name not in checked.not_estimable}
    ordered: list[Step] = []
    done: set[str] = set()

    def visit_step(name: str) -> None:
        if name in done:
            return
        for dep in steps[name].depends:
            visit_step(dep)
        done.add(name)
        ordered.append(steps[name])

    for name in steps:
        visit_step(name)
    return ordered


def main_variable(step: Step) -> str:
    """The ARD ``variable`` of a step: its response, variable(s) or cross-tabulated pair."""
    roles = step.role_map
    for role in ("response", "variable", "variables", "time"):
        if role in roles:
            return ", ".join(t.name for t in roles[role])
    if "row" in roles:
        return f"{roles['row'][0].name} x {roles['col'][0].name}"
    first = next(iter(roles.values()), ())
    return ", ".join(t.name for t in first)


def json_value(value: object) -> object:
    """An option value as JSON: tuples become lists (recursively)."""
    if isinstance(value, (tuple, list)):
        return [json_value(v) for v in value]
    return value


def resolved_options(steps: list[Step]) -> dict[str, dict[str, dict[str, object]]]:
    """Every step's resolved options and where each came from, JSON-serialisable:
    ``{analysis_id: {option: {"value": ..., "source": "given"|"clause"|"default"}}}``, with
    ``"clause"`` naming the plan clause for a value it gave (for the ARD metadata)."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for step in steps:
        entry: dict[str, dict[str, object]] = {}
        for o in step.options:
            item: dict[str, object] = {"value": json_value(o.value), "source": o.source}
            if o.clause:
                item["clause"] = o.clause
            entry[o.name] = item
        out[step.id] = entry
    return out
