"""Data integrity, the first part of the preflight (see ``preflight``): the key columns exist
and identify rows, every dataset read is linked to the subjects, and no numeric column the
plan reads holds an infinite number. Also the reporting helpers the preflight shares.

A missing value in a key column is a value like any other (ADaM's unscheduled records have
no ``AVISITN``); the subject dataset, though, needs one row per subject and a subject id in
every row, because every other row is linked to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sap_engine import model as m
from sap_engine.check import CheckedPlan
from sap_engine.data.sources import subject_key
from sap_engine.errors import (
    AnalysisError,
    DataError,
    DataLocation,
    Diagnostic,
    PlanCheckError,
    plan_diagnostic,
    source_lines,
    with_source_line,
)


class Integrity:
    """Collects located problems of a checked plan's data; the integrity checks."""

    def __init__(self, checked: CheckedPlan):
        self.checked = checked
        self.plan = checked.plan
        self.lines = source_lines(self.plan.text)  # numbered as the parser numbers them
        self.problems: list[Diagnostic] = []
        self.sources = {s.name: s for s in self.plan.sources}
        self.key = subject_key(self.sources[checked.subjects])

    # ---- reporting
    def error(self, code: str, message: str, loc: m.Loc,
              data_location: DataLocation | None = None, width: int | None = None) -> None:
        self.add(plan_diagnostic(code, message, loc, self.plan.path, self.plan.text,
                                 width=width, data_location=data_location))

    def add(self, d: Diagnostic) -> None:
        d = with_source_line(d, self.plan.text)
        if d not in self.problems:
            self.problems.append(d)

    def raise_problems(self) -> None:
        if not self.problems:
            return
        problems = sorted(self.problems, key=lambda d: (
            d.location.line if d.location else 0, d.location.column if d.location else 0))
        codes = {d.code for d in problems}
        if all(c.startswith("SAP4") for c in codes):  # analyses that cannot be computed
            raise AnalysisError(problems)
        if all(c.startswith("SAP3") for c in codes):
            raise DataError(problems)
        raise PlanCheckError(problems)

    # ---- keys: declared columns exist, then identify rows (the subject dataset: subjects)
    def key_columns(self) -> None:
        for src in self.plan.sources:
            columns = self.checked.datasets[src.name].columns
            for key, loc in zip(src.keys, self.key_locations(src)):
                if key not in columns:
                    self.error("SAP309", f"dataset '{src.name}' has no key column '{key}'",
                               loc, width=len(key))
            if src.name == self.checked.subjects and not src.keys and self.key not in columns:
                self.error("SAP309", f"subject dataset '{src.name}' declares no key and has no "
                                     f"column '{self.key}': add 'key COLUMN'", src.loc)
        used = {p.dataset for p in self.plan.populations.values()}
        used |= {str(p.source.dataset) for p in self.plan.parameters.values()}
        for name in sorted(used - {self.checked.subjects}):
            ds = self.checked.datasets.get(name)
            if ds is not None and self.key not in ds.columns:
                self.error("SAP312", f"dataset '{name}' has no column '{self.key}', the "
                                     f"subject key of '{self.checked.subjects}' that links "
                                     "its rows to the subjects", self.sources[name].loc,
                           DataLocation(str(ds.path)), width=len("dataset ") + len(name))

    def key_locations(self, src: m.Source) -> list[m.Loc]:
        """Where each key name is written (the dataset statement when not found)."""
        first, last = src.loc.line, src.loc.end_line or src.loc.line
        if not first or last > len(self.lines):
            return [src.loc] * len(src.keys)
        text = "\n".join(self.lines[first - 1:last])
        found = list(re.finditer(r"\bkey\s+([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)", text))
        if not found:
            return [src.loc] * len(src.keys)
        group = found[-1]
        out = []
        for name in src.keys:
            hit = re.search(rf"\b{re.escape(name)}\b", text[group.start(1):group.end(1)])
            if hit is None:
                out.append(src.loc)
                continue
            offset = group.start(1) + hit.start()
            line = first + text.count("\n", 0, offset)
            column = offset - (text.rfind("\n", 0, offset) + 1) + 1
            out.append(m.Loc(line, column, line, column + len(name)))
        return out

    def key_pass(self) -> None:
        for src in self.plan.sources:
            ds = self.checked.datasets[src.name]
            subjects = src.name == self.checked.subjects
            keys = [self.key] if subjects else list(src.keys)
            if not keys:
                continue
            frame = ds.frame()
            where = self.key_locations(src)[0] if src.keys else src.loc
            if subjects:
                ids = frame[self.key]
                # An empty text field is read as "" (not null): no subject either.
                blank = (ids.isna() | (ids.astype(str).str.strip() == "")).to_numpy()
                if blank.any():
                    row = int(blank.nonzero()[0][0]) + 1
                    self.error("SAP311", f"subject dataset '{src.name}' has a row without a "
                                         f"subject ('{self.key}' is empty)", where,
                               DataLocation(str(ds.path), row, self.key))
            later = frame.duplicated(keys, keep="first").to_numpy()
            if not later.any():
                continue
            row = int(later.nonzero()[0][0])
            values = frame.iloc[row][keys]
            twin = _first_equal(frame[keys], values)
            shown = ", ".join(f"{k} {_shown(values[k])}" for k in keys)
            if subjects:
                text = (f"subject dataset '{src.name}' has two rows for subject "
                        f"{_shown(values[self.key])} (rows {twin + 1} and {row + 1}): it "
                        "needs one row per subject")
            else:
                text = (f"dataset '{src.name}': rows {twin + 1} and {row + 1} have the same "
                        f"key ({shown}); declare the columns that identify a row")
            self.error("SAP310", text, where, DataLocation(str(ds.path), row + 1))

    def infinite_columns(self) -> None:
        """No numeric column the plan reads directly holds +/-inf (a NaN is missing). A
        parameter's own column is checked on the rows it selects (see ``derive``)."""
        import numpy as np

        seen: set[tuple[str, str]] = set()
        for col, context in self.column_uses():
            target = self.column_of(col, context)
            if target is None or target in seen:
                continue
            seen.add(target)
            ds = self.checked.datasets[target[0]]
            if ds.columns.get(target[1]) != "numeric":
                continue
            values = ds.frame()[target[1]].to_numpy(dtype=float, na_value=np.nan)
            infinite = np.isinf(values)
            if infinite.any():
                row = int(infinite.nonzero()[0][0])
                self.error("SAP313", f"column '{target[1]}' of '{target[0]}' holds "
                                     f"{values[row]:g} (an infinite number is not data; a "
                                     "missing value must be empty)", col.loc,
                           DataLocation(str(ds.path), row + 1, target[1]))

    def column_uses(self) -> Iterator[tuple[m.Col, str | None]]:
        """Every column reference with the dataset it is resolved in first."""
        plan = self.plan
        roots: list[object]
        context: str | None
        for statement in plan.statements:
            if isinstance(statement, m.Population):
                roots, context = [statement.where], statement.dataset
            elif isinstance(statement, m.Parameter):
                roots, context = [statement.where], statement.source.dataset
            elif isinstance(statement, m.Intercurrent):
                roots, context = [statement.condition, statement.time], self.checked.subjects
            elif isinstance(statement, (m.Endpoint, m.Estimand, m.Analysis, m.Table, m.Figure)):
                roots, context = [statement], None
            else:
                continue
            for node in m.walk(tuple(r for r in roots if r is not None)):
                if isinstance(node, m.Col):
                    yield node, context

    def column_of(self, col: m.Col, context: str | None) -> tuple[str, str] | None:
        cols = self.checked.datasets
        if col.dataset:
            return (col.dataset, col.name) if col.dataset in cols and \
                col.name in cols[col.dataset].columns else None
        if context and context in cols and col.name in cols[context].columns:
            return context, col.name
        if col.name in self.plan.parameters or col.name in self.plan.endpoints:
            return None
        if col.name in cols[self.checked.subjects].columns:
            return self.checked.subjects, col.name
        return None


def text(e: object) -> str:
    from sap_engine.fmt import expr

    return expr(e)  # type: ignore[arg-type]


def _first_equal(frame, values) -> int:
    """Position of the first row of ``frame`` equal to ``values`` (missing equals missing)."""
    import numpy as np

    same = np.ones(len(frame), dtype=bool)
    for name in frame.columns:
        v = values[name]
        same &= (frame[name].isna() if _missing(v) else frame[name] == v).to_numpy()
    return int(same.nonzero()[0][0])


def _missing(v: object) -> bool:
    try:
        return bool(v != v) or v is None  # NaN, None, pd.NA
    except TypeError:
        return True


def _shown(v: object) -> str:
    if _missing(v):
        return "(missing)"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
