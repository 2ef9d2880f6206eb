"""The analysis frames of the executor: one row per unit of analysis of a step's method,
one column per term, and the frame split by the step's `by` items into groups.

Separate from running the steps (:mod:`sap_engine.execute`) because building a frame is
needed without running a method: the analysis preflight of check builds the frames of
the steps to find what would fail (SAP401, SAP241, SAP314). The frame is built through the
evaluator with a :class:`~sap_engine.data.derive.Scope` per frame (the evaluator keeps no
state of the step); a treatment value that is not a declared arm is refused here (SAP241).
"""

from __future__ import annotations

import math

import pandas as pd

from sap_engine import model as m
from sap_engine.bind import Term
from sap_engine.compile import Step, category_levels
from sap_engine.data.derive import EACH_VISIT, Evaluator, Scope
from sap_engine.data.occurrences import occurrence_frame
from sap_engine.errors import DataError, Diagnostic
from sap_engine.functions import FAMILY, OVER_VISITS
from sap_engine.methods import registry

TOTAL = "Total"  # the level of all arms together (`by total`, a display's N)


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
    method = registry.get(step.method)
    if method is not None and method.unit == registry.OCCURRENCE:
        return _occurrence_frame(step, ev)
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


# Options of the occurrence-unit methods that name a column of the occurrence set's dataset.
OCCURRENCE_COLUMNS = ("severity", "baseline", "value", "parameter", "parameter_order")


def _occurrence_frame(step: Step, ev: Evaluator) -> pd.DataFrame:
    """Unit occurrence: the records of the occurrence set the step's ``events`` option
    names, for the population's subjects, and a row per subject without a record (the
    denominators); the columns its options read (hierarchy, severity) and the treatment."""
    ids = ev.population(step.population, step.handling)
    if len(ids) == 0:
        raise DataError(Diagnostic("SAP401", f"population '{step.population.name}' is empty"
                                   + (" after its 'where' filter" if step.population.where
                                      else "")))
    _refuse_undeclared_arms(ev, step.population, ids)
    options = step.option_map
    columns = [str(c) for c in options.get("hierarchy") or ()]  # type: ignore[attr-defined]
    # The columns the method's options name (incidence: severity; shift: its categories).
    columns += [str(options[o]) for o in OCCURRENCE_COLUMNS if options.get(o)]
    columns += [str(c) for c in options.get("columns") or ()]  # type: ignore[attr-defined]
    visits = ev.plan.visits
    shift = step.method == "shift" and visits is not None
    if shift:
        columns.append(visits.column.name)  # type: ignore[union-attr]
    trt = ev.plan.treatment.column.name if ev.plan.treatment else None
    frame = occurrence_frame(ev, str(options["events"]), ids, columns, trt)
    if shift:  # the shift reads records by the plan's visit variable, under a fixed name
        frame["visit"] = frame[visits.column.name]  # type: ignore[union-attr]
        frame.attrs["baseline_visit"] = visits.baseline  # type: ignore[union-attr]
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


def undeclared_arms_text(ev: Evaluator, use: m.PopulationUse, extra: dict[str, list]) -> str:
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
        raise DataError(Diagnostic("SAP241", undeclared_arms_text(ev, use, extra)))


def _flag_text(series: pd.Series, term: Term) -> pd.Series:
    """A condition (kind bool) where it is a category becomes "Y"/"N", the ADaM flag
    convention; in a numeric role it stays 1/0 (``bind.coding``)."""
    if term.coding == "flag":
        return series.map({1.0: "Y", 0.0: "N"})
    return series


def split_groups(step: Step, frame: pd.DataFrame, ev: Evaluator,
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
                    if step.after_baseline and plan.visits and v == plan.visits.baseline:
                        continue  # `by visit after baseline`: no group at the baseline
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
