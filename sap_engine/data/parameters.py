"""A checked plan's parameters on its data: the rows a parameter selects, its values by
subject and visit after intercurrent-event and missing-data handling, its baselines, its
family members, and what the data says of its visits.

Conventions (each stated in the plan language documentation):
- A parameter's baseline is its value at the ``visits`` baseline visit, or the first
  non-missing value of the column named by ``baseline COL``.
- Intercurrent events: ``with last_before`` replaces every value after the event visit by
  the last non-missing value at or before it (the ProDERM switch rule: the event is assessed
  at the switch visit, before the first dose of the other arm); ``with missing`` deletes
  values after the event; the composite rules (``with non_responder``: a binary endpoint is
  0 after the event; ``with value N``) set the estimand's variable itself and are applied
  where it is evaluated, by :mod:`~sap_engine.data.derive`.
- Missing data: ``locf`` carries the last non-missing value (baseline included) forward over the
  scheduled visits; ``bocf`` imputes the baseline; ``wocf`` imputes the worst value
  (``worst highest`` or ``worst lowest``, as the plan says) observed at or before the
  missing visit for the subject, baseline included; ``observed_case`` leaves gaps.
- Non-finite data: a NaN read from a float column is missing, like a null; an infinite value of
  a parameter (or its visit or baseline column) is an error naming the file, row and column,
  and so is a row filter that makes present values infinite or NaN.

This is the evaluator's data layer, separate from the evaluation of expressions per subject
(:class:`~sap_engine.data.derive.Evaluator`, which extends :class:`ParameterValues`): what
is read and cached per parameter does not depend on how an analysis combines it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sap_engine import model as m
from sap_engine.check import CheckedPlan
from sap_engine.data.expressions import NonFiniteError
from sap_engine.data.expressions import evaluate as _eval
from sap_engine.data.missing_data import impute_missing
from sap_engine.data.scope import SUBJECTS, Scope, broadcast, unit_index
from sap_engine.data.sources import subject_key
from sap_engine.errors import DataError, DataLocation, Diagnostic, plan_diagnostic
from sap_engine.functions import FAMILY, USES_BASELINE
from sap_engine.model import Handling


@dataclass
class ParameterValues:
    """A checked plan's parameters (and row filters) on its data. The only state is the
    caches, keyed by what a result depends on (the parameter, its handling, the member in
    use, whether its family is whole)."""

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

    def is_text(self, name: str) -> bool:
        """Whether a parameter is over a text column (categories: ANRIND), as the checker
        typed it; its values and baselines are then text, never converted to numbers."""
        p = self.plan.parameters[name]
        return self.checked.datasets[str(p.source.dataset)].holds_text(p.source.name)

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
            # A selection of rows: comparisons are never missing (data/expressions.py).
            return broadcast(_eval(e, column, lambda call: _unsupported(call), selection=True),
                             frame.index)
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
        dtype = object if self.is_text(name) else float
        result = pd.DataFrame({"value": long.to_numpy(dtype=dtype)}, index=long.index)
        unit = result.index.droplevel("visit") if result.index.nlevels > 2 else \
            result.index.get_level_values(0)
        result["base"] = base.reindex(unit).to_numpy(dtype=dtype)
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
        text_value = self.is_text(name)
        if text_value:  # categories: a blank text is missing, as on reading
            value = long["value"].astype(object)
            blank = value.isna() | (value.astype(str).str.strip() == "")
            long = long.assign(value=value.where(~blank, None)).astype({"visit": float})
        else:
            long = long.astype({"value": float, "visit": float})
        checked = [("visit", self.visit_col)] if text_value else \
            [("value", p.source.name), ("visit", self.visit_col)]
        if p.baseline_column and not text_value:
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
            base = long.groupby([self.key, *by])[p.baseline_column.name].first()
            base = base.astype(object) if text_value else base.astype(float)
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
            # A text parameter's categories stay text (objects), numbers floats.
            dtype = object if long.dtype == object else float
            values = long.to_numpy(dtype=dtype).copy()
            if how == "last_before":
                before = long[~after & ~pd.isna(values) & ~np.isnan(event_at)]
                last = before.groupby(level=unit_levels).last()
                fill = last.reindex(unit_index(long.index)).to_numpy(dtype=dtype)
                values[after] = fill[after]
            else:
                values[after] = np.nan
            long = pd.Series(values, index=long.index, name=long.name)
        if handling.missing in ("locf", "bocf", "wocf"):
            long = impute_missing(long, base, handling, weeks, unit_levels)
        return long

    def event_times(self, event: str) -> pd.Series:
        ie = self.plan.intercurrents[event]
        occurred = self.row_eval(ie.condition, self.subjects, self.checked.subjects)
        times = self.subjects[ie.time.name].astype(float)
        return times[occurred.fillna(0).astype(bool).to_numpy()].dropna()

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


def _unsupported(call: m.Call) -> pd.Series:
    raise DataError(Diagnostic("SAP220", f"{call.function}() cannot be used in a row filter"))
