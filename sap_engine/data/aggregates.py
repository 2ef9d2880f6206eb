"""Aggregates on the data: one value per subject from the subject's records of an
occurrence set (``aggregate`` statements; see docs/language.md).

Conventions (each stated in the plan language documentation):
- Every subject of the subject dataset has a value: ``any`` is "Y" with at least one
  record and "N" without (never missing); ``count`` is the number of records (0 without).
- ``worst`` is the worst listed level among the subject's records (the levels are listed
  mildest first); a subject without records takes the no-record level (``none``, default
  "None"); a record with a blank value is skipped, and a subject whose records are all blank
  is missing (its severity is unknown: the analysis counts it as missing, never as a level).
  A record value that is not listed is an error naming the data file, row and column
  (SAP274): silently skipped, it could hide the worst grade.
- ``highest``/``lowest`` are the largest/smallest non-missing value of the records; missing
  for a subject without records or without a value.
- Records whose subject is not in the subject dataset belong to no subject and are not
  aggregated (the subject dataset defines the subjects).

The records are the occurrence set's (:func:`~sap_engine.data.occurrences.occurrence_rows`:
its filter applied as an incidence analysis applies it), so an aggregate and an incidence
analysis of the same set count the same subjects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sap_engine import model as m
from sap_engine.data.derive import Evaluator
from sap_engine.data.occurrences import occurrence_rows
from sap_engine.errors import DataError, DataLocation


def aggregate_values(ev: Evaluator, name: str) -> pd.Series:
    """The aggregate ``name`` per subject, indexed like the subject dataset; computed once."""
    key = ("aggregate", name)
    if key not in ev._rows:
        agg = ev.plan.aggregates[name]
        ev._rows[key] = _compute(ev, agg).rename(name)
    return ev._rows[key]


def _compute(ev: Evaluator, agg: m.Aggregate) -> pd.Series:
    index = ev.subjects.index
    rows = occurrence_rows(ev, agg.occurrence)
    subjects = rows[ev.key].to_numpy(dtype=object)
    # A positional subject per record (-1: not a subject of the subject dataset).
    where = pd.Index(index.to_numpy(dtype=object)).get_indexer(subjects)
    inside = where >= 0
    counts = np.bincount(where[inside], minlength=len(index))
    if agg.function == "any":
        return pd.Series(np.where(counts > 0, "Y", "N"), index=index, dtype=object)
    if agg.function == "count":
        return pd.Series(counts.astype(float), index=index)
    column = str(agg.column)
    values = rows[column]
    if agg.function in ("highest", "lowest"):
        numbers = pd.Series(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)[inside],
                            index=where[inside])
        grouped = numbers.groupby(level=0)
        best = grouped.max() if agg.function == "highest" else grouped.min()
        out = np.full(len(index), np.nan)
        out[best.index.to_numpy()] = best.to_numpy()
        return pd.Series(out, index=index)
    return _worst(ev, agg, values, where, inside, counts, index)


def _worst(ev: Evaluator, agg: m.Aggregate, values: pd.Series, where: np.ndarray,
           inside: np.ndarray, counts: np.ndarray, index: pd.Index) -> pd.Series:
    levels = list(agg.levels or ())
    text = _as_text(values)
    blank = text.isna().to_numpy()
    rank = text.map({v: i for i, v in enumerate(levels)}).to_numpy(dtype=float)
    unknown = ~blank & np.isnan(rank) & inside
    if unknown.any():
        raise DataError(_unlisted(ev, agg, values, text, np.flatnonzero(unknown)))
    graded = inside & ~blank
    ranks = pd.Series(rank[graded], index=where[graded]).groupby(level=0).max()
    out = np.full(len(index), None, dtype=object)
    out[counts == 0] = agg.none_level  # no record: the stated level, never missing
    out[ranks.index.to_numpy()] = [levels[int(r)] for r in ranks.to_numpy()]
    return pd.Series(out, index=index, dtype=object)  # all records blank: missing


def _as_text(values: pd.Series) -> pd.Series:
    """Record values as the text a plan lists them by (numbers as written, 2 not 2.0);
    a missing or blank value is None."""
    def one(v: object) -> str | None:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return None
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            return m._num(float(v))
        s = str(v)
        return s if s.strip() else None

    return pd.Series([one(v) for v in values.to_numpy(dtype=object)], index=values.index,
                     dtype=object)


def _unlisted(ev: Evaluator, agg: m.Aggregate, values: pd.Series, text: pd.Series,
              positions: np.ndarray):
    """SAP274 at the aggregate, naming the first record's file, row and column."""
    occ = ev.plan.occurrences[agg.occurrence]
    dataset = ev.checked.datasets[occ.dataset]
    row = int(values.index[positions[0]]) + 1  # the record's row in the file, 1-based
    others = sorted({str(text.iloc[i]) for i in positions})
    shown = ", ".join(f'"{v}"' for v in others[:5]) + (" ..." if len(others) > 5 else "")
    listed = ", ".join(f'"{v}"' for v in agg.levels or ())
    return ev._diagnostic(
        "SAP274", f"aggregate '{agg.name}': {len(positions)} record(s) of occurrence set "
                  f"'{occ.name}' (dataset '{occ.dataset}') have a value of '{agg.column}' "
                  f"that is not a listed level ({shown}; listed: {listed}); list every "
                  "level of the column, mildest "
                  "first", agg.levels_loc if agg.levels_loc.line else agg.loc,
        DataLocation(str(dataset.path), row, str(agg.column)))
