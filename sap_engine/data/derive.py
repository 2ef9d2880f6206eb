"""Populations, parameters and endpoint values: the plan's derivations evaluated on data.

Conventions (each stated in the plan language documentation):
- A parameter's baseline is its value at the ``visits`` baseline visit, or the first
  non-missing value of the column named by ``baseline COL``.
- change = value - baseline; percent_change = 100 * change / baseline, missing when the
  baseline is 0 (a percent change from nothing is undefined).
- Intercurrent events: ``with last_before`` replaces every value after the event visit by
  the last non-missing value at or before it (the ProDERM switch rule: the event is assessed
  at the switch visit, before the first dose of the other arm); ``with missing`` deletes
  values after the event; ``with non_responder`` makes a binary endpoint 0 after the event.
- Missing data: ``locf`` carries the last non-missing value (baseline included) forward over the
  scheduled visits; ``bocf`` imputes the baseline; ``observed_case`` leaves gaps.
- Non-finite data: a NaN read from a float column is missing, like a null; an infinite value of
  a parameter (or its visit or baseline column) is an error naming the file, row and column,
  and so is an expression that makes present values infinite or NaN (``x / 0``, ``log(0)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sap_engine import model as m
from sap_engine.check import CheckedPlan
from sap_engine.data.expressions import NonFiniteError, apply_math
from sap_engine.data.expressions import evaluate as _eval
from sap_engine.data.sources import subject_key
from sap_engine.errors import DataError, DataLocation, Diagnostic, plan_diagnostic
from sap_engine.functions import FAMILY, OVER_VISITS, PARAMETER, USES_BASELINE
from sap_engine.model import Handling

NO_HANDLING = Handling()  # no intercurrent event, no missing-data rule


class _EachVisit:
    """The visit argument when the unit of analysis carries its own visit (``by visit``)."""

    def __repr__(self) -> str:
        return "EACH_VISIT"


EACH_VISIT = _EachVisit()


@dataclass(frozen=True, eq=False)
class Scope:
    """What one evaluation is of, passed to the evaluator instead of set on it.

    - ``selector``: the member in use of each parameter family, as
      ``((parameter, ((column, value), ...)), ...)``: an analysis of one member at a time.
    - ``family``: the family evaluated whole (every member at once): its values are indexed
      by (subject, *family columns, visit).
    - ``unit``: the units of analysis when they are more than the subject: (subject, *family
      columns) and/or (..., visit) for every scheduled visit at once (see ``Evaluator.units``);
      None for one row per subject.
    - ``subjects``: the subjects whose values the frame being built uses: an expression that
      is not finite for a subject outside them (a screening failure with a baseline of 0)
      is no error. None: every subject counts.

    Results cached by the evaluator are keyed by the parts of the scope they depend on
    (a population by the selector, a parameter by its member and whether its family is
    whole); ``unit`` and ``subjects`` only shape or guard a result that is not cached.
    """

    selector: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    family: str | None = None
    unit: pd.MultiIndex | None = None
    subjects: pd.Index | None = None

    def member(self, parameter: str) -> tuple[tuple[str, str], ...]:
        return dict(self.selector).get(parameter, ())


SUBJECTS = Scope()  # one row per subject, every member, every subject counting


@dataclass
class Evaluator:
    """Evaluates a checked plan's derivations on its data. Evaluation is a function of the
    arguments (the expression, visit, handling and :class:`Scope`); the only state is the
    caches, keyed by those arguments."""

    checked: CheckedPlan
    _params: dict = field(default_factory=dict)
    _rows: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        plan = self.checked.plan
        source = next(s for s in plan.sources if s.name == self.checked.subjects)
        self.key = subject_key(source)
        self.subjects = self.checked.datasets[source.name].frame().set_index(self.key,
                                                                             drop=False)
        self.visit_col = plan.visits.column.name if plan.visits else "AVISITN"

    @property
    def plan(self) -> m.Plan:
        return self.checked.plan

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
                                     Scope(selector=selector, subjects=ids)).reindex(ids)
            ids = ids[keep.fillna(0).astype(bool).to_numpy()]
        return ids

    # ---- row-level expressions on one dataset (population and parameter filters)
    def row_eval(self, e: m.Expr, frame: pd.DataFrame, dataset: str) -> pd.Series:
        def column(col: m.Col) -> pd.Series:
            if (col.dataset in (None, dataset)) and col.name in frame.columns:
                return frame[col.name]
            self._subject_column(col, f"a filter on '{dataset}' reads its own columns and "
                                      "the subject dataset's")
            keyed = frame[self.key].map(self.subjects[col.name])
            return keyed

        try:
            return _broadcast(_eval(e, column, lambda call: _unsupported(call)), frame.index)
        except NonFiniteError as exc:
            path = str(self.checked.datasets[dataset].path)
            first = int(exc.labels[0]) + 1 if exc.labels else None
            raise DataError(self._non_finite(exc, f"rows of '{dataset}'",
                                             f"row {first}" if first else None,
                                             DataLocation(path, first))) from None

    # ---- parameters: long data (subject x visit) after intercurrent-event handling
    def parameter(self, name: str, handling: Handling, scope: Scope = SUBJECTS) -> pd.DataFrame:
        """Values (column ``value``) and baselines (``base``) indexed by (subject, visit): of
        the member ``scope`` selects, or of every member when ``scope`` has the family whole."""
        member = scope.member(name)
        whole = scope.family == name
        cache_key = (name, handling, member, whole)
        if cache_key in self._params:
            return self._params[cache_key]
        p = self.plan.parameters[name]
        long, base = self._prepared(name)
        if p.by and not whole:  # one member of a family, split from the prepared family
            long, base = self._members(name).get(tuple(level for _, level in member),
                                                 (long.iloc[0:0].droplevel(list(p.by)),
                                                  base.iloc[0:0].droplevel(list(p.by))))
        long = self._handle(long, base, handling)
        result = pd.DataFrame({"value": long.to_numpy(dtype=float)}, index=long.index)
        unit = result.index.droplevel("visit") if result.index.nlevels > 2 else \
            result.index.get_level_values(0)
        result["base"] = base.reindex(unit).to_numpy(dtype=float)
        self._params[cache_key] = result
        return result

    def _members(self, name: str) -> dict[tuple, tuple[pd.Series, pd.Series]]:
        """Each member of a family: (values by subject and visit, baselines by subject)."""
        key = ("members", name)
        if key not in self._params:
            by = list(self.plan.parameters[name].by)
            long, base = self._prepared(name)
            bases = {k if isinstance(k, tuple) else (k,): part.droplevel(by)
                     for k, part in base.groupby(level=by, sort=False)}
            self._params[key] = {
                (k if isinstance(k, tuple) else (k,)): (
                    part.droplevel(by), bases.get(k if isinstance(k, tuple) else (k,),
                                                  base.iloc[0:0].droplevel(by)))
                for k, part in long.groupby(level=by, sort=False)}
        return self._params[key]

    def prepare(self, name: str) -> None:
        """Build a parameter's values once: the checks of its data (one value per subject
        and visit, finite numbers) without the work of any particular analysis."""
        self._prepared(name)

    def _prepared(self, name: str) -> tuple[pd.Series, pd.Series]:
        """A parameter's values indexed by (subject, *family columns, visit), and baselines
        indexed by (subject, *family columns); built once for a whole family."""
        key = ("prepared", name)
        if key in self._params:
            return self._params[key]
        p = self.plan.parameters[name]
        ds = self.checked.datasets[str(p.source.dataset)]
        frame = self.parameter_rows(name)
        # A dataset without the visit variable (ADTTE, one row per subject) gives a
        # subject-level parameter: the same value at every visit, and no baseline.
        subject_level = self.visit_col not in frame.columns
        by = list(p.by)
        keep = [self.key, *by, p.source.name] + ([] if subject_level else [self.visit_col])
        if p.baseline_column:
            keep.append(p.baseline_column.name)
        long = frame[keep].rename(columns={self.visit_col: "visit", p.source.name: "value"})
        if subject_level:
            long["visit"] = math.nan
        for column in by:
            long[column] = long[column].astype(str)
        dup = long.duplicated([self.key, *by, "visit"], keep=False)
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            first = long.iloc[row]
            member = "".join(f", {c} {first[c]}" for c in by)
            at = "" if subject_level else f" at visit {m._num(float(first['visit']))}"
            raise DataError(self._diagnostic(
                "SAP304", f"parameter '{name}' has more than one value for subject "
                          f"{first[self.key]}{member}{at}; refine its 'where'",
                p.where.loc if p.where is not None else p.source.loc,
                DataLocation(str(ds.path), int(frame.index[row]) + 1, p.source.name)))
        text = long["visit"].notna() & pd.to_numeric(long["visit"], errors="coerce").isna()
        if text.any():  # a visit variable of text ("Week 0") cannot be scheduled
            row = int(np.flatnonzero(text.to_numpy())[0])
            visits = self.plan.visits
            raise DataError(self._diagnostic(
                "SAP305", f"the visit variable '{self.visit_col}' of '{ds.name}' needs numbers: "
                          f"value '{long['visit'].iloc[row]}' is not a number",
                visits.column.loc if visits else p.loc,
                DataLocation(str(ds.path), int(frame.index[row]) + 1, self.visit_col)))
        long = long.astype({"value": float, "visit": float})
        checked = [("value", p.source.name), ("visit", self.visit_col)]
        if p.baseline_column:
            checked.append((p.baseline_column.name, p.baseline_column.name))
        for column, shown in checked:
            infinite = np.isinf(pd.to_numeric(long[column], errors="coerce")
                                .to_numpy(dtype=float))
            if infinite.any():
                row = int(np.flatnonzero(infinite)[0])
                raise DataError(self._diagnostic(
                    "SAP313", f"parameter '{name}': column '{shown}' of '{ds.name}' holds "
                              f"{long[column].iloc[row]:g} (an infinite number is not data; "
                              "a missing value must be empty)",
                    p.source.loc if column == "value" else p.loc,
                    DataLocation(str(ds.path), int(frame.index[row]) + 1, shown)))
        if p.baseline_column:
            base = long.groupby([self.key, *by])[p.baseline_column.name].first().astype(float)
        else:
            bl = self.plan.visits.baseline if self.plan.visits else 0.0
            base = long[long["visit"] == bl].set_index([self.key, *by])["value"]
        values = long.set_index([self.key, *by, "visit"])["value"].sort_index()
        self._params[key] = (values, base)
        return values, base

    def parameter_rows(self, name: str) -> pd.DataFrame:
        """The dataset rows of a parameter (all members of a family); filtered once."""
        if name not in self._rows:
            p = self.plan.parameters[name]
            dataset = str(p.source.dataset)
            frame = self.checked.datasets[dataset].frame()
            if p.where is not None:
                frame = frame[self.row_eval(p.where, frame, dataset).fillna(0)
                              .astype(bool).to_numpy()]
            self._rows[name] = frame
        return self._rows[name]

    def family_members(self, name: str) -> list[tuple[tuple[str, str], ...]]:
        """Members of a parameter family, in data order: ((column, value), ...) each."""
        p = self.plan.parameters[name]
        rows = self.parameter_rows(name)[list(p.by)].dropna().astype(str).drop_duplicates()
        return [tuple(zip(p.by, values)) for values in rows.itertuples(index=False)]

    def units(self, ids: pd.Index, family: str | None,
              visits: list[float] | None) -> pd.Index:
        """The units of an analysis, in the order of a loop over visits, then members of
        ``family``, then subjects in population order: ``ids`` itself when there is
        neither a family nor a list of visits."""
        arrays, names = [ids.to_numpy()], [self.key]
        if family:
            members = self.family_members(family)
            by = self.plan.parameters[family].by
            arrays = [np.tile(ids.to_numpy(), len(members))]
            for j in range(len(by)):
                arrays.append(np.repeat(np.array([mem[j][1] for mem in members],
                                                 dtype=object), len(ids)))
            names += list(by)
        if visits is not None:
            n = len(arrays[0])
            arrays = [np.tile(a, len(visits)) for a in arrays]
            arrays.append(np.repeat(np.asarray(visits, dtype=float), n))
            names.append("visit")
        if len(arrays) == 1:
            return ids
        return pd.MultiIndex.from_arrays(arrays, names=names)

    def align(self, values, scope: Scope = SUBJECTS):
        """A series or frame indexed by some of the unit's levels (the subject; the subject
        and visit; ...) on the unit of analysis of ``scope``, repeated over the other levels:
        a baseline repeats at every visit, a subject's age for every family member."""
        unit = scope.unit
        if unit is None:
            return values.reindex(self.subjects.index)
        names = list(values.index.names)
        if names == list(unit.names):
            return values.reindex(unit)
        key = unit.droplevel([n for n in unit.names if n not in names])
        return values.reindex(key).set_axis(unit)

    def _handle(self, long: pd.Series, base: pd.Series, handling: Handling) -> pd.Series:
        """Apply intercurrent-event rules and missing-data imputation; never in place
        (``long`` may be the cached, shared preparation of the parameter)."""
        weeks = self.plan.visits.weeks if self.plan.visits else ()
        # The unit is every level but the visit: the subject, or (subject, *family columns)
        # when a whole parameter family is evaluated at once.
        levels = list(range(long.index.nlevels - 1))
        unit_levels: int | list[int] = levels[0] if len(levels) == 1 else levels
        for st in handling.strategies:
            how = st.effective_handling
            if how not in ("last_before", "missing"):
                continue
            times = self.event_times(st.event)
            subjects = long.index.get_level_values(0)
            times = times[times.index.isin(subjects.unique())]
            if times.empty:
                continue
            # Scheduled visits after the event that have no record still get the rule.
            units = long.index.droplevel(-1).unique()
            units = units[units.get_level_values(0).isin(times.index)]
            extra = pd.MultiIndex.from_tuples(
                [(*(u if isinstance(u, tuple) else (u,)), w)
                 for u in units for w in weeks
                 if w > times[u[0] if isinstance(u, tuple) else u]],
                names=long.index.names)
            long = long.reindex(long.index.union(extra)).sort_index()
            event_at = long.index.get_level_values(0).map(times).to_numpy(dtype=float)
            visit = long.index.get_level_values(-1).to_numpy(dtype=float)
            after = visit > event_at  # False where there is no event (NaN compares False)
            values = long.to_numpy(dtype=float).copy()
            if how == "last_before":
                before = long[~after & ~np.isnan(values) & ~np.isnan(event_at)]
                last = before.groupby(level=unit_levels).last()
                fill = last.reindex(_unit_index(long.index)).to_numpy(dtype=float)
                values[after] = fill[after]
            else:
                values[after] = np.nan
            long = pd.Series(values, index=long.index, name=long.name)
        if handling.missing in ("locf", "bocf"):
            units = long.index.droplevel(-1).unique()
            grid_weeks = sorted(set(weeks) or set(long.index.levels[-1]))
            arrays = [np.repeat(units.get_level_values(i).to_numpy(), len(grid_weeks))
                      for i in range(units.nlevels)]
            arrays.append(np.tile(np.asarray(grid_weeks, dtype=float), len(units)))
            grid = pd.MultiIndex.from_arrays(arrays, names=long.index.names)
            long = long.reindex(long.index.union(grid))
            if handling.missing == "locf":
                long = long.groupby(level=unit_levels).ffill()
            else:
                filled = base.reindex(_unit_index(long.index)).to_numpy(dtype=float)
                long = long.fillna(pd.Series(filled, index=long.index))
        return long

    def event_times(self, event: str) -> pd.Series:
        ie = self.plan.intercurrents[event]
        occurred = self.row_eval(ie.condition, self.subjects, self.checked.subjects)
        times = self.subjects[ie.time.name].astype(float)
        return times[occurred.fillna(0).astype(bool).to_numpy()].dropna()

    # ---- subject-level expressions at a visit
    def subject_eval(self, e: m.Expr, visit, handling: Handling,
                     scope: Scope = SUBJECTS) -> pd.Series:
        """``e`` per unit of analysis (the subject, or the ``unit`` of ``scope``) at ``visit``
        (a week, None, or EACH_VISIT when the unit carries the visit), indexed by the unit."""
        index = scope.unit if scope.unit is not None else self.subjects.index

        def column(col: m.Col) -> pd.Series:
            plan = self.plan
            if col.dataset is None and col.name in plan.parameters:
                return self._param_value("value", col.name, visit, handling, scope)
            if col.dataset is None and col.name in plan.endpoints:
                ep = plan.endpoints[col.name]
                result = self.subject_eval(ep.expr, visit, handling, scope)
                return self._non_responder(result, ep, visit, handling)
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
            arg = _broadcast(_eval(c.args[0], column, call, guard), index)
            return apply_math(c, arg.astype(float), guard)

        counted = set(scope.subjects) if scope.subjects is not None else None

        def guard(expr: m.Expr, labels: list, total: int, reason: str) -> None:
            if counted is not None:  # only the subjects the analysis uses count
                labels = [lab for lab in labels if _subject_of(lab) in counted]
                if not labels:
                    return
                total = sum(1 for lab in index if _subject_of(lab) in counted)
            raise NonFiniteError(expr, labels, total, reason)

        try:
            return _broadcast(_eval(e, column, call, guard), index)
        except NonFiniteError as exc:
            label = _unit_label(exc.labels[0], index.names) if exc.labels else None
            raise DataError(self._non_finite(exc, "subjects" if index.nlevels == 1 else
                                             "values", label, None)) from None

    def _subject_column(self, col: m.Col, rule: str) -> None:
        """A column read through the subject key must be one of the subject dataset."""
        if col.dataset in (None, self.checked.subjects) and col.name in self.subjects.columns:
            return
        # The checker refuses such plans (SAP238, SAP239): reaching this is an engine bug.
        raise RuntimeError(f"'{col.text}' is not a column of the subject dataset "
                           f"'{self.checked.subjects}': {rule}")

    def _diagnostic(self, code: str, message: str, loc: m.Loc,
                    data_location: DataLocation | None = None) -> Diagnostic:
        """A problem located at ``loc`` in the plan, quoting its line."""
        return plan_diagnostic(code, message, loc, self.plan.path, self.plan.text,
                               data_location=data_location)

    def _non_finite(self, exc: NonFiniteError, units: str, example: str | None,
                    where: DataLocation | None) -> Diagnostic:
        from sap_engine.fmt import expr

        count = f"{exc.count} of {exc.total} {units}" if exc.labels else "a constant"
        shown = f" (e.g. {example})" if example else ""
        return self._diagnostic(
            "SAP314", f"'{expr(exc.expr)}' is not a finite number for {count}{shown}: "
                      f"{exc.reason}; exclude those values in the plan or fix the data",
            exc.expr.loc, where)

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

    def visits_of(self, name: str) -> str:
        """'subject' for a parameter read from a dataset without the visit variable, or
        whose rows all lack a visit (one value per subject, the same at every visit, and no
        baseline), 'visit' for one measured at visits, 'none' for one without rows."""
        rows = self.parameter_rows(name)
        if rows.empty:
            return "none"
        if self.visit_col not in rows.columns or rows[self.visit_col].isna().all():
            return "subject"
        return "visit"

    def _visits_with_rows(self, name: str) -> str:
        """``visits_of`` for a parameter about to be used: one without rows is an error
        (its filter selected nothing), not a parameter without visits."""
        kind = self.visits_of(name)
        if kind == "none":
            p = self.plan.parameters[name]
            raise DataError(self._diagnostic(
                "SAP315", f"parameter '{name}' has no rows: its 'where' selects none of the "
                          f"rows of '{p.source.dataset}'", p.where.loc if p.where else p.loc))
        return kind

    def why_no_visits(self, name: str) -> str:
        p = self.plan.parameters[name]
        if self.visit_col in self.checked.datasets[str(p.source.dataset)].columns:
            return f"none of its rows has a '{self.visit_col}'"
        return f"its dataset '{p.source.dataset}' has no visit variable '{self.visit_col}'"

    def no_visits_text(self, name: str, fn: str) -> str:
        """What is wrong with ``fn(name)`` of a parameter without visits."""
        head = f"{fn}({name}): '{name}' has one value per subject ({self.why_no_visits(name)})"
        if fn in USES_BASELINE:
            return f"{head}, so it has no baseline; use the value itself"
        if fn in FAMILY:
            return (f"{fn}({name}): the family '{name}' has one value per subject and member "
                    f"({self.why_no_visits(name)}), but {fn}() of a family is taken at a visit")
        return f"{head}: there are no visits to take it over; use '{name}' itself"

    def visits_present(self, name: str, handling: Handling | None = None) -> set[float]:
        """The visits at which a parameter has a row after ``handling`` (imputation may add
        some); with none, as prepared (a family's max/min/sum apply no handling)."""
        values = self._prepared(name)[0] if handling is None else \
            self.parameter(name, handling)
        return set(values.index.get_level_values("visit").dropna())

    def no_value_at(self, name: str, visit: float) -> str:
        """A parameter asked for at a visit where it has no value (after imputation)."""
        rows = self.parameter_rows(name)
        visits = sorted(set(rows[self.visit_col].dropna().astype(float))) \
            if self.visit_col in rows.columns else []
        shown = ", ".join(m._num(v) for v in visits[:12]) + (" ..." if len(visits) > 12 else "")
        return (f"parameter '{name}' has no value at week {m._num(visit)} (its visits: "
                f"{shown or 'none'}): the results would be empty")

    def _non_responder(self, result: pd.Series, ep: m.Endpoint, visit: float | None,
                       handling: Handling) -> pd.Series:
        for st in handling.strategies:
            if st.effective_handling == "non_responder" and visit is not None:
                times = self.event_times(st.event)
                subjects = result.index.get_level_values(0)
                if visit is EACH_VISIT:
                    at = result.index.get_level_values("visit").to_numpy(dtype=float)
                    hit = subjects.map(times).to_numpy(dtype=float) < at  # NaN: no event
                else:
                    hit = subjects.isin(times[times < visit].index)
                result = result.copy()
                result.loc[hit] = 0.0
        return result


def _unit_index(index: pd.MultiIndex) -> pd.Index:
    """The unit of each (unit..., visit) entry: the subject, or (subject, *family columns)."""
    return index.droplevel(-1) if index.nlevels > 2 else index.get_level_values(0)


def _arg_name(c: m.Call) -> str:
    """The parameter a parameter function names (the checker made sure it is one)."""
    arg = c.args[0]
    assert isinstance(arg, m.Col)
    return arg.name


def _subject_of(label: object) -> object:
    return label[0] if isinstance(label, tuple) else label


def _unit_label(label: object, names: list) -> str:
    """``subject S01`` or ``subject S01, PARAMCD X, visit 16`` for an index label."""
    values = label if isinstance(label, tuple) else (label,)
    parts = []
    for i, (name, value) in enumerate(zip(names, values)):
        if isinstance(value, float):
            value = m._num(value)
        parts.append(f"subject {value}" if i == 0 else f"{name} {value}")
    return ", ".join(parts)


def _unsupported(call: m.Call) -> pd.Series:
    raise DataError(Diagnostic("SAP220", f"{call.function}() cannot be used in a row filter"))


def _broadcast(value, index: pd.Index) -> pd.Series:
    """An expression's value as one value per row: a constant (``1 == 1``, ``log(2)``, an
    expression of literals only) stands for the same value in every row."""
    if isinstance(value, pd.Series):
        return value
    return pd.Series(value, index=index)
