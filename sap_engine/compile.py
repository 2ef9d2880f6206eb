"""Compile a checked plan into an ordered graph of typed analysis steps.

Each step is one analysis with everything resolved: the method, its complete options
(plan options over the method's SAS-compatible defaults, plus what the plan implies: the
reference arm, arm order, contrasts, LS-mean weights), the roles filled with plan terms, the
population, the visit, and the intercurrent-event handling inherited from its estimand.
``X = Y by s`` steps depend on ``Y``; displays depend on the steps they show.
"""

from __future__ import annotations

from dataclasses import dataclass

from sap_engine import model as m
from sap_engine.check import CheckedPlan
from sap_engine.data.derive import Handling
from sap_engine.methods import registry
from sap_engine.roles import analysis_chain, resolve, term_name


@dataclass(frozen=True)
class Step:
    id: str
    label: str
    method: str
    population: m.PopulationUse
    roles: tuple[tuple[str, tuple[m.Expr, ...]], ...]
    options: tuple[tuple[str, object], ...]
    by: tuple[str, ...]
    visit: float | None
    handling: Handling
    plan_line: int
    loc: m.Loc
    depends: tuple[str, ...] = ()
    repeated: bool = False  # an `X = Y by s` step: analysis ids carry the stratum level

    @property
    def role_map(self) -> dict[str, tuple[m.Expr, ...]]:
        return dict(self.roles)

    @property
    def option_map(self) -> dict[str, object]:
        return dict(self.options)


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


def _options(plan: m.Plan, a: m.Analysis, method: registry.Method, interactions: list[str],
             roles: dict) -> dict[str, object]:
    given = {o.name: (list(o.value) if isinstance(o.value, tuple) else o.value)
             for o in a.options}
    names = {o.name for o in method.options}
    trt = plan.treatment
    implied: dict[str, object] = {}
    if trt and "reference" in names and trt.reference:
        implied["reference"] = trt.reference.level
    if trt and "levels" in names and ("treatment" in roles or "group" in roles):
        implied["levels"] = [arm.level for arm in trt.arms]
    if "contrasts" in names and a.contrasts:
        implied["contrasts"] = [c.label for c in a.contrasts]
    if "weights" in names and a.weights:
        implied["weights"] = a.weights
    if "interactions" in names and interactions:
        implied["interactions"] = interactions
    # A cross-tabulation keeps the plan's category order (cut intervals, labels blocks):
    # kappa weights and the symmetry test depend on it.
    for role, option in (("row", "row_levels"), ("col", "col_levels")):
        if option in names and role in roles:
            levels = category_levels(plan, roles[role][0])
            if levels:
                implied[option] = levels
    if "levels" in names and "levels" not in implied:
        target = next(iter(roles.get("variable", ())), None)
        levels = category_levels(plan, target) if target is not None else None
        if levels:
            implied["levels"] = levels
    resolved = method.resolve_options({**implied, **given})
    return resolved


def category_levels(plan: m.Plan, e: m.Expr) -> list[str] | None:
    """Display order of a categorical term's levels: cut order, or a labels block's order."""
    if isinstance(e, m.Col) and e.name in plan.endpoints:
        inner = plan.endpoints[e.name].expr
        if isinstance(inner, m.Cut):
            return [iv.display for iv in inner.intervals]
    if isinstance(e, m.Cut):
        return [iv.display for iv in e.intervals]
    if isinstance(e, m.Col) and e.name in plan.labels:
        return list(plan.labels[e.name])
    return None


def compile_plan(checked: CheckedPlan) -> list[Step]:
    """Steps in dependency order (a base analysis before its `by` repetitions)."""
    plan = checked.plan
    steps: dict[str, Step] = {}
    for a in plan.analyses.values():
        base = analysis_chain(plan, a)
        method = registry.get(base.method or "")
        estimand = plan.estimands.get(base.estimand or "")
        population = base.population or (estimand.population if estimand else None)
        if method is None or population is None:  # the checker refuses both (SAP206/217)
            raise AssertionError(f"analysis {a.name} was compiled unchecked")
        kinds = checked.kinds

        def kind_of(e: m.Expr, _k=kinds) -> str | None:
            if isinstance(e, m.Col) and e.name in _k:
                return _k[e.name]
            if isinstance(e, m.Col) and e.dataset is None and e.name == "treatment":
                return "category"
            if isinstance(e, m.Col):
                for ds in checked.datasets.values():
                    if e.name in ds.columns and (e.dataset in (None, ds.name)):
                        return ds.columns[e.name]
            return "numeric"

        roles, interactions = resolve(base, method, kind_of)
        options = _options(plan, base, method, interactions, roles)
        handling = Handling(estimand.strategies if estimand else (),
                            base.missing or (estimand.missing if estimand else None))
        by = tuple(b.name for b in base.by) + (tuple(b.name for b in a.by) if a.base else ())
        visit = base.visit if base.visit is not None else (estimand.visit if estimand else None)
        steps[a.name] = Step(
            id=a.name, label=a.label or base.label or a.name, method=base.method or method.name,
            population=population, roles=tuple(roles.items()),
            options=tuple(sorted(options.items())), by=by, visit=visit, handling=handling,
            plan_line=a.loc.line, loc=a.loc, depends=(a.base,) if a.base else (),
            repeated=bool(a.base))
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
            return ", ".join(term_name(t) for t in roles[role])
    if "row" in roles:
        return f"{term_name(roles['row'][0])} x {term_name(roles['col'][0])}"
    first = next(iter(roles.values()), ())
    return ", ".join(term_name(t) for t in first)
