"""Populations and endpoint values: the plan's derivations evaluated per subject (or per
unit of analysis) on the data.

Conventions (each stated in the plan language documentation):
- change = value - baseline; percent_change = 100 * change / baseline, missing when the
  baseline is 0 (a percent change from nothing is undefined).
- A composite strategy sets the estimand's variable (the endpoint or parameter it names) at
  the visits after the intercurrent event: to 0 (``with non_responder``, a binary endpoint)
  or to the plan's value (``with value N``), whether or not a value was observed there.
- An expression that makes present values infinite or NaN (``x / 0``, ``log(0)``) is an
  error naming the subjects, unless only subjects the analysis does not use are affected.

The :class:`Evaluator` extends :class:`~sap_engine.data.parameters.ParameterValues` (a
parameter's values, baselines, members and visits after handling) with populations and
expressions per subject at a visit; what an evaluation is of is its :class:`Scope`
(:mod:`~sap_engine.data.scope`). ``Scope``, ``EACH_VISIT``, ``SUBJECTS``, ``NO_HANDLING`` and
``Handling`` are importable from here, where the executor and the preflight take them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sap_engine import model as m
from sap_engine.data.expressions import NonFiniteError, apply_math
from sap_engine.data.expressions import evaluate as _eval
from sap_engine.data.parameters import ParameterValues
from sap_engine.data.scope import (
    EACH_VISIT,
    NO_HANDLING,
    SUBJECTS,
    Handling,
    Scope,
    broadcast,
    subject_of,
    unit_label,
)
from sap_engine.errors import DataError, Diagnostic
from sap_engine.functions import FAMILY, OVER_VISITS, PARAMETER


@dataclass
class Evaluator(ParameterValues):
    """Evaluates a checked plan's derivations on its data. Evaluation is a function of the
    arguments (the expression, visit, handling and :class:`Scope`); the only state is the
    caches, keyed by those arguments."""

    # ---- populations
    def population(self, use: m.PopulationUse, handling: Handling = NO_HANDLING,
                   scope: Scope = SUBJECTS) -> pd.Index:
        """The subjects of a population as used (its ``where`` may read the family member of
        ``scope``: only its selector matters, the population being one row per subject)."""
        # Populations rarely depend on a family member; cache them unless they do.
        member = tuple(sorted(scope.selector)) if use.where is not None else ()
        key = ("population", use, handling, member)
        if key not in self._params:
            self._params[key] = self._population(use, handling, member)
        return self._params[key]

    def _population(self, use: m.PopulationUse, handling: Handling,
                    selector: tuple) -> pd.Index:
        pop = self.plan.populations[use.name]
        frame = self.checked.datasets[pop.dataset].frame()
        if pop.where is not None:
            mask = self.row_eval(pop.where, frame, pop.dataset)
            frame = frame[mask.fillna(0).astype(bool).to_numpy()]
        ids = pd.Index(pd.unique(frame[self.key]), name=self.key)
        if use.where is not None:
            keep = self.subject_eval(use.where, None, handling,
                                     Scope(selector=selector, subjects=ids),
                                     selection=True).reindex(ids)
            ids = ids[keep.fillna(0).astype(bool).to_numpy()]
        return ids

    # ---- subject-level expressions at a visit
    def subject_eval(self, e: m.Expr, visit, handling: Handling,
                     scope: Scope = SUBJECTS, selection: bool = False) -> pd.Series:
        """``e`` per unit of analysis (the subject, or the ``unit`` of ``scope``) at ``visit``
        (a week, None, or EACH_VISIT when the unit carries the visit), indexed by the unit.
        ``selection``: ``e`` selects subjects (its comparisons are never missing); an
        endpoint it names is still a value (data/expressions.py)."""
        index = scope.unit if scope.unit is not None else self.subjects.index

        def column(col: m.Col) -> pd.Series:
            plan = self.plan
            if col.dataset is None and col.name in plan.parameters:
                result = self._param_value("value", col.name, visit, handling, scope)
                return self._composite(result, col.name, visit, handling)
            if col.dataset is None and col.name in plan.endpoints:
                ep = plan.endpoints[col.name]
                result = self.subject_eval(ep.expr, visit, handling, scope)
                return self._composite(result, ep.name, visit, handling)
            if col.dataset is None and col.name in plan.aggregates:
                # One value per subject over all its records: repeated at every visit
                # or member of the unit, as a subject dataset column is.
                return self.align(self.aggregate(col.name), scope)
            self._subject_column(col, "an analysis takes one value per subject: declare a "
                                      "parameter for the values of another dataset")
            if scope.unit is None:
                return self.subjects[col.name]
            return self.align(self.subjects[col.name], scope)

        def call(c: m.Call) -> pd.Series:
            if c.function in FAMILY:
                return self._family_aggregate(c.function, _arg_name(c), visit, scope)
            if c.function in OVER_VISITS:
                return self._over_visits(c.function[:3], _arg_name(c), handling, scope)
            if c.function in PARAMETER:
                return self._param_value(c.function, _arg_name(c), visit, handling, scope)
            arg = broadcast(_eval(c.args[0], column, call, guard), index)
            return apply_math(c, arg.astype(float), guard)

        counted = set(scope.subjects) if scope.subjects is not None else None

        def guard(expr: m.Expr, labels: list, total: int, reason: str) -> None:
            if counted is not None:  # only the subjects the analysis uses count
                labels = [lab for lab in labels if subject_of(lab) in counted]
                if not labels:
                    return
                total = sum(1 for lab in index if subject_of(lab) in counted)
            raise NonFiniteError(expr, labels, total, reason)

        try:
            return broadcast(_eval(e, column, call, guard, selection), index)
        except NonFiniteError as exc:
            label = unit_label(exc.labels[0], index.names) if exc.labels else None
            raise DataError(self._non_finite(exc, "subjects" if index.nlevels == 1 else
                                             "values", label, None)) from None

    def aggregate(self, name: str) -> pd.Series:
        """An ``aggregate`` per subject of the subject dataset (``data/aggregates.py``)."""
        # Imported here: aggregates read occurrence sets, whose module builds on this one.
        from sap_engine.data.aggregates import aggregate_values

        return aggregate_values(self, name)

    def _family_aggregate(self, fn: str, name: str, visit: float | None,
                          scope: Scope) -> pd.Series:
        """max/min/sum of a family's members per subject at a visit (missing members are
        skipped; a subject with no member value at the visit is missing)."""
        if visit is None:
            raise DataError(Diagnostic(
                "SAP219", f"{fn}({name}) needs a visit: add 'at week N' or 'by visit'"))
        values, _ = self._prepared(name)
        if self._visits_with_rows(name) == "subject":
            raise DataError(Diagnostic("SAP317", self.no_visits_text(name, fn)))
        if visit is EACH_VISIT:
            grouped = values.groupby(level=[0, "visit"])
        else:
            try:
                at = values.xs(visit, level="visit")
            except KeyError:
                raise DataError(Diagnostic("SAP316", self.no_value_at(name, visit))) from None
            grouped = at.groupby(level=0)
        result = {"max": grouped.max, "min": grouped.min, "sum": grouped.sum}[fn]()
        if fn == "sum":
            result = result.where(grouped.count() > 0)
        return self.align(result, scope)

    def _over_visits(self, fn: str, name: str, handling: Handling, scope: Scope) -> pd.Series:
        """A patient's highest (``max``) or lowest value of a parameter over the scheduled
        visits, baseline included, after the analysis' intercurrent-event and missing-data
        handling; visits without a value are skipped, and a patient without any is missing."""
        if self._visits_with_rows(name) == "subject":
            raise DataError(Diagnostic("SAP317", self.no_visits_text(name, fn + "_over_visits")))
        long = self.parameter(name, handling, scope)["value"]
        weeks = self.plan.visits.weeks if self.plan.visits else ()
        if weeks:
            long = long[long.index.get_level_values("visit").isin([float(w) for w in weeks])]
        grouped = long.groupby(level=0)
        return self.align(grouped.max() if fn == "max" else grouped.min(), scope)

    def _param_value(self, fn: str, name: str, visit: float | None, handling: Handling,
                     scope: Scope) -> pd.Series:
        long = self.parameter(name, handling, scope)
        kind = self._visits_with_rows(name)  # of the whole family: a member may lack data
        if fn == "baseline":
            if kind == "subject" and self.plan.parameters[name].baseline_column is None:
                raise DataError(Diagnostic("SAP221", self.no_visits_text(name, fn)))
            levels = list(range(long.index.nlevels - 1))
            base = long.groupby(level=levels if len(levels) > 1 else 0)["base"].first()
            return self.align(base, scope)
        if long.index.get_level_values("visit").isna().all():  # subject-level parameter
            values = long.droplevel("visit")
            if fn != "value" and kind == "subject":
                raise DataError(Diagnostic("SAP221", self.no_visits_text(name, fn)))
            return self.align(values["value"], scope)
        if visit is None:
            raise DataError(Diagnostic(
                "SAP219", f"{fn}({name}) needs a visit: add 'at week N' or 'by visit'"))
        if visit is EACH_VISIT:
            at = self.align(long, scope)
        else:
            try:
                at = long.xs(visit, level="visit")
            except KeyError:
                if not self.plan.parameters[name].by:  # a family member may lack the visit
                    raise DataError(Diagnostic("SAP316", self.no_value_at(name, visit))) \
                        from None
                at = long.iloc[0:0].droplevel("visit")
            at = self.align(at, scope)
        if fn == "value":
            return at["value"]
        change = at["value"] - at["base"]
        if fn == "change":
            return change
        with np.errstate(divide="ignore", invalid="ignore"):
            return (100.0 * change / at["base"]).where(at["base"] != 0)

    def _composite(self, result: pd.Series, name: str, visit, handling: Handling) -> pd.Series:
        """``name``'s values with the composite strategies applied: a strategy whose target
        is ``name`` (the estimand's variable, and nothing else the analysis evaluates) sets
        the value at visits after the subject's event (``non_responder``: 0)."""
        for st in handling.strategies:
            how = st.effective_handling
            if st.target != name or how not in ("non_responder", "value") or visit is None:
                continue
            times = self.event_times(st.event)
            subjects = result.index.get_level_values(0)
            if visit is EACH_VISIT:
                at = result.index.get_level_values("visit").to_numpy(dtype=float)
                hit = subjects.map(times).to_numpy(dtype=float) < at  # NaN: no event
            else:
                hit = subjects.isin(times[times < visit].index)
            result = result.copy()
            result.loc[hit] = 0.0 if how == "non_responder" else st.value
        return result


def _arg_name(c: m.Call) -> str:
    """The parameter a parameter function names (the checker made sure it is one)."""
    arg = c.args[0]
    assert isinstance(arg, m.Col)
    return arg.name
