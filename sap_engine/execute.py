"""Execute compiled steps: build each analysis frame, split it by group, call the method.

The frames and their groups are built by :mod:`sap_engine.execute_frames`; this module
runs the steps (in this process or in forked workers), calls the methods, turns their
statistics into ARD rows and locates a failure at its analysis in the plan.

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
from sap_engine.check import CheckedPlan
from sap_engine.compile import DenominatorStep, Step, compile_plan, denominator_steps, main_variable
from sap_engine.data.derive import Evaluator
from sap_engine.errors import DataError, Diagnostic, MethodError, plan_diagnostic
from sap_engine.execute_frames import (
    TOTAL,
    analysis_frame,
    split_by,
    split_groups,
    undeclared_arms,
    undeclared_arms_text,
)
from sap_engine.methods import registry


@dataclass
class Results:
    rows: list[dict] = field(default_factory=list)
    failures: list[Diagnostic] = field(default_factory=list)
    # Warnings: results that exist but deserve a reader's attention (an empty stratum).
    notes: list[Diagnostic] = field(default_factory=list)


AnyStep = Step | DenominatorStep


def execute(checked: CheckedPlan, steps: list[Step] | None = None, jobs: int = 1,
            while_waiting: Callable[[], None] | None = None) -> Results:
    """Run every step, then the displays' denominator steps; with ``jobs`` > 1 the steps
    are spread over forked workers (see :mod:`sap_engine.workers`) and ``while_waiting``
    runs here meanwhile. The rows come out in step order either way."""
    work: list[AnyStep] = [*(steps if steps is not None else compile_plan(checked)),
                           *denominator_steps(checked.plan)]
    ev = Evaluator(checked)
    # The analyses not run because they are not estimable are reported with the run's
    # warnings, so that the ARD (and the document made from it) says so.
    results = Results(notes=[*checked.not_estimable.values(), *checked.warnings])
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
        raise DataError(Diagnostic("SAP241", undeclared_arms_text(ev, step.population, extra)))
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
    groups = split_groups(step, frame, ev, empty)
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
