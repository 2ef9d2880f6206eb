"""Execute compiled steps: build each analysis frame, split it by group, call the method.

Every number produced lands in the ARD as a row (see ``sap_engine.ard``). A step whose
method fails does not stop the others: failures are collected with the analysis id and plan
line, and the caller decides (by default nothing is written and the run exits 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pandas as pd

from sap_engine import model as m
from sap_engine import workers
from sap_engine.bind import Term
from sap_engine.check import CheckedPlan
from sap_engine.compile import (
    DenominatorStep,
    Step,
    category_levels,
    compile_plan,
    denominator_steps,
    main_variable,
)
from sap_engine.data.derive import EACH_VISIT, Evaluator, Scope
from sap_engine.errors import DataError, Diagnostic, MethodError, plan_diagnostic
from sap_engine.functions import FAMILY, OVER_VISITS
from sap_engine.methods import registry

TOTAL = "Total"


@dataclass
class Results:
    rows: list[dict] = field(default_factory=list)
    failures: list[Diagnostic] = field(default_factory=list)
    # Warnings: results that exist but deserve a reader's attention (an empty stratum).
    notes: list[Diagnostic] = field(default_factory=list)
    # The displays' N per arm, also in the ARD rows; kept until the renderer reads those.


AnyStep = Step | DenominatorStep


def execute(checked: CheckedPlan, steps: list[Step] | None = None, jobs: int = 1,
            while_waiting: Callable[[], None] | None = None) -> Results:
    """Run every step, then the displays' denominator steps; with ``jobs`` > 1 the steps
    are spread over forked workers (see :mod:`sap_engine.workers`) and ``while_waiting``
    runs here meanwhile. The rows come out in step order either way."""
    work: list[AnyStep] = [*(steps if steps is not None else compile_plan(checked)),
                           *denominator_steps(checked.plan)]
    ev = Evaluator(checked)
    results = Results()
    jobs = min(jobs, len(work))
    if jobs > 1:
        # Load once here what every worker would otherwise load for itself after the fork:
        # the data, and the numerical libraries the methods import on first use.
        for ds in checked.datasets.values():
            ds.frame()
        import scipy.linalg  # noqa: F401
        import scipy.special  # noqa: F401
    pool = workers.pool(jobs, {"checked": checked, "steps": work})
    try:
        pending = workers.submit_all(pool, _run_inherited, range(len(work))) if pool \
            else None
        if while_waiting is not None:
            while_waiting()
        parts = workers.results(pending) if pending is not None else \
            (run_step(step, ev) for step in work)
        for part in parts:
            results.rows.extend(part.rows)
            results.failures.extend(part.failures)
            results.notes.extend(part.notes)
    finally:
        if pool is not None:
            pool.shutdown()
    return results


def _run_inherited(index: int) -> Results:
    """In a worker: run step ``index`` of the plan the worker inherited."""
    state = workers.inherited()
    if "evaluator" not in state:  # one per worker, its caches shared by the steps it runs
        state["evaluator"] = Evaluator(state["checked"])
    return run_step(state["steps"][index], state["evaluator"])


def run_step(step: AnyStep, ev: Evaluator) -> Results:
    """One step's ARD rows, or its failure located at the analysis (display) in the plan."""
    checked = ev.checked
    results = Results()
    try:
        if isinstance(step, DenominatorStep):
            _run_denominator(step, ev, results)
        else:
            _run_step(step, ev, results)
    except MethodError as exc:
        results.failures.append(_located(checked, step, exc.code, exc.message))
    except DataError as exc:
        for d in exc.diagnostics:
            located = _located(checked, step, d.code, d.message)
            results.failures.append(Diagnostic(
                d.code, located.message, d.location or located.location,
                data_location=d.data_location,
                # The error's own location quotes its own line (a filter, a clause).
                source_line=d.source_line if d.location else located.source_line))
    return results


def _located(checked: CheckedPlan, step: AnyStep, code: str, message: str) -> Diagnostic:
    what = step.id if isinstance(step, DenominatorStep) else f"analysis {step.id}"
    return plan_diagnostic(code, f"{what}: {message}", step.loc, checked.plan.path,
                           checked.plan.text, width=1)


def _run_denominator(step: DenominatorStep, ev: Evaluator, results: Results) -> None:
    """Column-header denominators: N per arm and in total of a display's population.

    They are ARD rows (analysis_id ``table <number>``, stat ``N``), so a document can be
    rebuilt from the ARD alone; made by compile (``denominator_steps``), run like any step.
    """
    trt = ev.plan.treatment
    ids = ev.population(step.population)
    extra = undeclared_arms(ev, ids)
    if extra:  # the header's N per arm would not add up to its total
        raise DataError(Diagnostic("SAP241", _undeclared_text(ev, step.population, extra)))
    counts = {TOTAL: len(ids)}
    if trt:
        arms = ev.subjects.loc[ids, trt.column.name].astype(str)
        counts.update({arm.level: int((arms == arm.level).sum()) for arm in trt.arms})
    for level, n in counts.items():
        results.rows.append({
            "analysis_id": step.id, "analysis_label": step.label,
            "method": step.method, "population": step.population.name,
            "groups": ((trt.column.name if trt else "treatment", level),),
            "variable": None, "variable_level": None, "stat_name": "N",
            "stat_label": "Subjects in the population", "stat": float(n),
            "stat_text": None, "plan_line": step.plan_line})


def _parameters_in(e, plan: m.Plan, seen: set[str] | None = None) -> set[str]:
    """Parameters an expression depends on, through endpoints too."""
    seen = seen if seen is not None else set()
    found: set[str] = set()
    if isinstance(e, m.Call) and e.function in FAMILY:
        return found  # an aggregate over a family's members: one value per subject
    if isinstance(e, m.Call) and e.function in OVER_VISITS:
        return found  # one value per subject, whatever the analysis' unit
    if isinstance(e, m.Col) and e.dataset is None:
        if e.name in plan.parameters:
            found.add(e.name)
        elif e.name in plan.endpoints and e.name not in seen:
            seen.add(e.name)
            found |= _parameters_in(plan.endpoints[e.name].expr, plan, seen)
    for child in m.children(e):
        found |= _parameters_in(child, plan, seen)
    return found


def analysis_frame(step: Step, ev: Evaluator) -> pd.DataFrame:
    """One row per unit of analysis of the step's method (the subject, or the subject and
    visit; per visit too with `by visit`, per member of a parameter family), one column
    per term used."""
    plan = ev.plan
    used = set().union(*(_parameters_in(t.expr, plan) for _, terms in step.roles
                         for t in terms))
    families = sorted(p for p in used if plan.parameters[p].by)
    if not families:
        return _subject_frame(step, ev)
    family = families[0]  # one family per analysis (checked)
    if step.population.where is not None:
        # A population filter may read the member's own values: one member at a time.
        frames = []
        for member in ev.family_members(family):
            frame = _subject_frame(step, ev, selector=((family, member),))
            for column, level in member:
                frame[column] = level
            frames.append(frame)
        frame = pd.concat(frames)
    else:
        # Every member at once: the unit of analysis is (subject, member), rows ordered
        # member by member as the loop above would give them.
        frame = _subject_frame(step, ev, family=family)
    frame.attrs["family"] = list(plan.parameters[family].by)
    return frame


def each_visit(step: Step) -> bool:
    """Whether the step's frame holds every scheduled visit of a subject at once: with
    `by visit`, or for a method whose unit of analysis is the subject and visit."""
    method = registry.get(step.method)
    return "visit" in step.by or (method is not None and method.unit == registry.SUBJECT_VISIT)


def _subject_frame(step: Step, ev: Evaluator, family: str | None = None,
                   selector: tuple = ()) -> pd.DataFrame:
    """The analysis frame, one row per unit: per subject (per subject and member of
    ``family``; per subject and visit), for the family member ``selector`` picks."""
    ids = ev.population(step.population, step.handling, Scope(selector=selector))
    if len(ids) == 0:
        raise DataError(Diagnostic("SAP401", f"population '{step.population.name}' is empty"
                                   + (" after its 'where' filter" if step.population.where
                                      else "")))
    plan = ev.plan
    _refuse_undeclared_arms(ev, step.population, ids)
    # Every scheduled visit at once (the unit carries the visit), or the one visit asked.
    each = each_visit(step)
    visits = [float(w) for w in plan.visits.weeks] if each and plan.visits else None
    if each and not visits:
        return pd.DataFrame()
    visit = EACH_VISIT if each else step.visit
    units = ev.units(ids, family, visits)
    scope = Scope(selector=selector, subjects=ids) if units is ids else \
        Scope(selector=selector, family=family, unit=units, subjects=ids)
    subjects = units.get_level_values(0)
    frame = pd.DataFrame(index=subjects)
    if plan.treatment:
        frame[plan.treatment.column.name] = ev.subjects[plan.treatment.column.name] \
            .reindex(subjects).astype(str).to_numpy()
    for _, terms in step.roles:
        for t in terms:
            if t.is_treatment:
                continue
            frame[t.column] = _flag_text(
                ev.subject_eval(t.expr, visit, step.handling, scope).reindex(units), t) \
                .to_numpy()
    for b in step.by:
        if b in plan.endpoints:
            frame[b] = ev.subject_eval(m.Col(b), visit, step.handling, scope) \
                .reindex(units).to_numpy()
    if family:
        for i, column in enumerate(plan.parameters[family].by, start=1):
            frame[column] = units.get_level_values(i).to_numpy()
    if each:
        frame["visit"] = units.get_level_values("visit").to_numpy()
    elif visit is not None:
        frame["visit"] = visit
    return frame


def undeclared_arms(ev: Evaluator, ids: pd.Index) -> dict[str, list]:
    """Subjects of ``ids`` whose treatment value is not a declared arm, by level.

    The checker refuses them (SAP241) when it can evaluate the population's filter; a
    filter on a parameter or endpoint is evaluated here, and the same subjects would be
    counted in a Total but in no arm (the arms not adding up to it), or dropped from a
    model's arms. A missing treatment value is not a level (as in the checker).
    """
    trt = ev.plan.treatment
    if trt is None or len(ids) == 0:
        return {}
    from sap_engine.data.sources import _as_text

    arms = {arm.level for arm in trt.arms}
    values = ev.subjects[trt.column.name].reindex(ids)
    extra: dict[str, list] = {}
    for subject, value in zip(ids, values.tolist()):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if _as_text(value) not in arms:
            extra.setdefault(_as_text(value), []).append(subject)
    return extra


def _undeclared_text(ev: Evaluator, use: m.PopulationUse, extra: dict[str, list]) -> str:
    trt = ev.plan.treatment
    column = trt.column.name if trt else "treatment"
    level, subjects = next(iter(extra.items()))
    more = f" (and {len(extra) - 1} other undeclared level(s))" if len(extra) > 1 else ""
    return (f"treatment '{column}' has level '{level}' that is not an arm: "
            f"{len(subjects)} subject(s) of population {use.name}"
            f"{' after its where' if use.where is not None else ''}, e.g. {subjects[0]}{more}, "
            "would count in the total but in no arm; declare it with "
            f"'arm {level}' or leave it out with the population's filter")


def _refuse_undeclared_arms(ev: Evaluator, use: m.PopulationUse, ids: pd.Index) -> None:
    extra = undeclared_arms(ev, ids)
    if extra:
        raise DataError(Diagnostic("SAP241", _undeclared_text(ev, use, extra)))


def _flag_text(series: pd.Series, term: Term) -> pd.Series:
    """A condition (kind bool) where it is a category becomes "Y"/"N", the ADaM flag
    convention; in a numeric role it stays 1/0 (``bind.coding``)."""
    if term.coding == "flag":
        return series.map({1.0: "Y", 0.0: "N"})
    return series


def _groups(step: Step, frame: pd.DataFrame, ev: Evaluator,
            empty: list[str] | None = None) -> list[tuple[tuple, pd.DataFrame]]:
    """(group pairs, subset) for every combination of the step's `by` items.

    ``total`` adds a "Total" level to the treatment grouping (all arms together); alone,
    it is the whole population under the treatment variable's name. A stratum level
    without subjects (in the analysis or within a group) is described in ``empty``: its
    results are zero counts, or nothing at all over visits, and a reader must be told.
    """
    plan = ev.plan
    trt_col = plan.treatment.column.name if plan.treatment else "treatment"
    by = split_by(step)
    with_total = "total" in by
    parts: list[tuple[tuple, pd.DataFrame]] = [((), frame)]
    for b in by:
        if b == "total" and "treatment" in by:
            continue
        nxt = []
        for pairs, sub in parts:
            if b == "treatment":
                for arm in plan.treatment.arms if plan.treatment else ():
                    nxt.append((pairs + ((trt_col, arm.level),), sub[sub[trt_col] == arm.level]))
                if with_total:
                    nxt.append((pairs + ((trt_col, TOTAL),), sub))
            elif b == "total":
                nxt.append((pairs + ((trt_col, TOTAL),), sub))
            elif b == "visit":
                for v in sorted(sub["visit"].unique()):
                    nxt.append((pairs + (("visit", m._num(v)),), sub[sub["visit"] == v]))
            else:
                levels = category_levels(plan, m.Col(b)) or sorted(sub[b].dropna().unique())
                for level in levels:
                    part = sub[sub[b] == level]
                    nxt.append((pairs + ((b, level),), part))
                    if part.empty and empty is not None:
                        empty.append(_empty_text(b, level, pairs, frame))
        parts = nxt
    family = frame.attrs.get("family", [])
    if family:  # members of a parameter family, in data order, split in one pass
        parts = [(pairs + tuple(zip(family, key if isinstance(key, tuple) else (key,))), part)
                 for pairs, sub in parts
                 for key, part in sub.groupby(family, sort=False)]
    return parts


def split_by(step: Step) -> tuple[str, ...]:
    """The step's `by` items the executor splits by: all but those its method consumes
    (a method that handles the visits itself gets them in one frame)."""
    method = registry.get(step.method)
    consumed = method.consumes if method is not None else ()
    return tuple(b for b in step.by if b not in consumed)


def _empty_text(stratum: str, level: str, pairs: tuple, frame: pd.DataFrame) -> str:
    if (frame[stratum] != level).all():
        return f"stratum {stratum} '{level}' has no subjects"
    within = ", ".join(f"{g} {lev}" for g, lev in pairs if g != "visit")
    return f"stratum {stratum} '{level}' has no subjects in {within}"


def _run_step(step: Step, ev: Evaluator, results: Results) -> None:
    method = registry.get(step.method)
    if method is None:  # the checker refuses an unknown method (SAP206) before any run
        raise MethodError("SAP206", f"unknown method '{step.method}'")
    frame = analysis_frame(step, ev)
    options = step.option_map
    trt = ev.plan.treatment
    by_arm = False  # the `levels` option lists the arms: narrowed within one arm's group
    if trt and "levels" in options and options["levels"] == [a.level for a in trt.arms]:
        # The arms in play are those of the analysis population: a population that
        # selects two of three arms analyses those two. An arm present in the population
        # but without analysable values still fails in the method, as it must. A
        # population of one arm keeps the declared arms: a model of the treatment effect
        # then refuses it rather than silently leaving the treatment term out.
        present = set(frame[trt.column.name].dropna())
        kept = [a.level for a in trt.arms if a.level in present]
        if len(kept) > 1 or "treatment" in split_by(step):
            options = {**options, "levels": kept}
        by_arm = "treatment" in split_by(step)
    roles = {}
    for name, terms in step.roles:
        cols = tuple(t.column for t in terms)
        many = next((r.many for r in method.roles if r.name == name), False)
        roles[name] = cols if many else cols[0] if len(cols) == 1 else cols
    # A single-variable method given several variables runs once per variable.
    runs = [roles]
    for name, value in roles.items():
        if isinstance(value, tuple) and not next((r.many for r in method.roles
                                                  if r.name == name), True):
            runs = [{**roles, name: v} for v in value]
    empty: list[str] = []
    groups = _groups(step, frame, ev, empty)
    for text in dict.fromkeys(empty):
        located = _located(ev.checked, step, "SAP405",
                           f"{text} (population {step.population.name}); its results are "
                           "empty")
        results.notes.append(replace(located, severity="warning", analysis=step.id))
    for pairs, subset in groups:
        arm = dict(pairs).get(trt.column.name) if trt and by_arm else None
        # Within one arm's group only that arm is in play (a Total keeps them all).
        group_options = {**options, "levels": [arm]} if arm not in (None, TOTAL) else options
        for run_roles in runs:
            variable = _variable_name(step, run_roles)
            try:
                stats = method.run(subset, run_roles, group_options)
                refuse_nonfinite(method, stats)
            except MethodError as exc:
                note = _baseline_note(step, ev, pairs, subset, run_roles, exc)
                if note is None:
                    raise
                results.notes.append(note)
                continue
            analysis_id = step.id
            if step.repeated:
                strata = [f"{g}={lev}" for g, lev in pairs if g in ev.plan.endpoints]
                if strata:
                    analysis_id = f"{step.id}[{';'.join(strata)}]"
            for s in stats:
                results.rows.append({
                    "analysis_id": analysis_id, "analysis_label": step.label,
                    "method": step.method, "population": step.population.name,
                    "groups": pairs + s.groups, "variable": variable,
                    "variable_level": s.variable_level, "stat_name": s.stat_name,
                    "stat_label": s.stat_label, "stat": s.stat, "stat_text": s.stat_text,
                    "plan_line": step.plan_line,
                })


def refuse_nonfinite(method: registry.Method, stats: list[registry.Stat]) -> None:
    """A NaN or infinite statistic the method does not declare possible is an error.

    An inf t statistic with p = 0 from a perfect fit, or a NaN mean from an inf in the
    data, would otherwise reach the ARD and print as "p <0.0001": the analysis fails
    instead (SAP472), naming the statistic. ``None`` is a value the method chose to leave
    empty and is kept.
    """
    for s in stats:
        if s.stat is None or math.isfinite(s.stat) or s.stat_name in method.nonfinite:
            continue
        where = "".join(f", {g} {lev}" for g, lev in s.groups)
        level = f" of '{s.variable_level}'" if s.variable_level else ""
        raise MethodError("SAP472", f"method {method.name} gave {s.stat_name}{level}{where} "
                                    f"= {s.stat} (not a finite number): the data are "
                                    "degenerate for this method (a perfect fit, no spread, "
                                    "an infinite value); no result is written")


def _baseline_note(step: Step, ev: Evaluator, pairs: tuple, subset: pd.DataFrame,
                   roles: dict, exc: MethodError) -> Diagnostic | None:
    """The warning for a `by visit` group at the baseline visit that cannot be analysed.

    There a change from baseline is 0 for every subject (a percent change too), so a
    model of it has no residual variance and a test of it has no variation: the visit is
    reported as not estimable (a warning shown under the analysis' displays) rather than
    failing the whole analysis. Any other failure, or a response that does vary at the
    baseline visit, stays an error.
    """
    plan = ev.plan
    visits = plan.visits
    if "visit" not in split_by(step) or visits is None or visits.baseline is None:
        return None
    visit = dict(pairs).get("visit")
    if visit != m._num(visits.baseline):
        return None
    response = _variable_name(step, roles)
    if response not in subset.columns or subset[response].dropna().nunique() > 1:
        return None
    values = subset[response].dropna()
    value = values.iloc[0] if len(values) else None
    what = "has no values" if value is None else \
        f"is {value:g} for every subject" if isinstance(value, float) else \
        f"is {value} for every subject"
    located = _located(ev.checked, step, "SAP474",
                       f"visit {visit} is the baseline visit, where {response} {what}: "
                       f"{step.method} is not estimable there ({exc.code}), so that visit "
                       "has no results")
    return replace(located, severity="warning", analysis=step.id)


def _variable_name(step: Step, roles: dict) -> str:
    for role in ("response", "variable"):
        if role in roles and isinstance(roles[role], str):
            return roles[role]
    return main_variable(step)
