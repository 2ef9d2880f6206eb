"""Contingency tables for the categorical (freq) and agreement families (and the square
table of two ratings that kappa and Bowker's test share, :func:`square_table`).

A table is built from a frame's two categorical columns (and a strata column for CMH), with
the category order of SAS PROC FREQ:

- ``order = internal`` (SAS default ORDER=INTERNAL): numeric variables in numeric order,
  character variables in character (code point) order, a pandas ``Categorical`` in its
  category order (it plays the role of a coded variable with a format);
- ``order = data``: order of first appearance in the rows;
- ``order = formatted``: order of the displayed labels as text (so 10 sorts before 9).

``row_levels`` / ``col_levels`` override the order; they may list levels absent from the data
(zero rows and columns, as SAS's ZEROS option), but a level present in the data and missing
from the list is an error, never silently dropped. Rows with a missing value in any of the
variables are left out (SAS without the MISSING option).

Scores (SAS SCORES=TABLE, used by the CMH correlation statistics and Cicchetti-Allison
weights) are the numeric values of a numeric variable, else the ranks 1..k of the levels.

>>> import numpy as np
>>> t = Crosstab(np.array([[3, 1], [1, 3]]), ("a", "b"), ("x", "y"))
>>> t.n, t.shape
(8, (2, 2))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.inputs import refuse_infinite_columns

ORDERS = ("internal", "data", "formatted")


@dataclass(frozen=True, eq=False)
class Crosstab:
    """A two-way table of counts with its level labels and table scores."""

    counts: np.ndarray
    row_levels: tuple[str, ...]
    col_levels: tuple[str, ...]
    # None until __post_init__ fills in the default scores 1..k.
    row_scores: np.ndarray = field(default=None)  # type: ignore[arg-type]
    col_scores: np.ndarray = field(default=None)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        counts = as_counts(self.counts)
        object.__setattr__(self, "counts", counts)
        r, c = counts.shape
        for name, size in (("row_scores", r), ("col_scores", c)):
            scores = getattr(self, name)
            object.__setattr__(self, name, np.arange(1.0, size + 1) if scores is None
                               else np.asarray(scores, dtype=float))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def shape(self) -> tuple[int, int]:
        return self.counts.shape

    def nonempty(self) -> Crosstab:
        """The table without all-zero rows and columns (what SAS's statistics use)."""
        keep_r = self.counts.sum(1) > 0
        keep_c = self.counts.sum(0) > 0
        return Crosstab(self.counts[keep_r][:, keep_c],
                        tuple(lv for lv, k in zip(self.row_levels, keep_r) if k),
                        tuple(lv for lv, k in zip(self.col_levels, keep_c) if k),
                        self.row_scores[keep_r], self.col_scores[keep_c])


def as_counts(table: Any) -> np.ndarray:
    """A validated 2-D array of non-negative whole counts (int64)."""
    arr = np.asarray(table, dtype=float)
    if arr.ndim != 2:
        raise MethodError("SAP462", f"a contingency table must be two-dimensional, got "
                                    f"{arr.ndim} dimension(s)")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise MethodError("SAP462", "table counts must be non-negative whole numbers")
    return arr.astype(np.int64)


def need_levels(table: Crosstab, what: str, rows: int = 2, cols: int = 2) -> None:
    """Raise unless the table has at least ``rows`` x ``cols`` non-empty levels."""
    r, c = table.nonempty().shape
    if r < rows or c < cols:
        raise MethodError("SAP460", f"{what} needs at least {rows} row and {cols} column "
                                    f"levels with data; the table has {r} x {c}")


def need_2x2(table: Crosstab, what: str) -> None:
    if table.shape != (2, 2):
        raise MethodError("SAP463", f"{what} needs a 2 x 2 table; this one is "
                                    f"{table.shape[0]} x {table.shape[1]} (levels "
                                    f"{list(table.row_levels)} by {list(table.col_levels)})")


def label(value: Any) -> str:
    """Display label of a level: whole-number floats without a trailing '.0'."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _is_numeric(series) -> bool:
    import pandas as pd

    return (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
            and not isinstance(series.dtype, pd.CategoricalDtype))


def ordered_levels(series, order: str = "internal",
                   explicit: tuple | list = ()) -> tuple[list[Any], list[str], np.ndarray]:
    """Levels (raw values) of a non-missing series in table order, their labels and scores."""
    import pandas as pd

    if order not in ORDERS:
        raise MethodError("SAP462", f"order must be one of {', '.join(ORDERS)}")
    numeric = _is_numeric(series)
    values = series.dropna()
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = [v for v in series.cat.categories if (values == v).any()]
    else:
        present = list(pd.unique(values))
    if order == "data":
        levels = present
    elif order == "formatted":
        levels = sorted(present, key=label)
    elif isinstance(series.dtype, pd.CategoricalDtype):
        levels = present
    else:
        try:
            levels = sorted(present)
        except TypeError:  # mixed types in an object column: order by the labels
            levels = sorted(present, key=label)
    labels = [label(v) for v in levels]
    if explicit:
        wanted = [str(x) for x in explicit]
        missing = [lb for lb in labels if lb not in wanted]
        if missing:
            raise MethodError("SAP461", f"level(s) {missing} of '{series.name}' are in the "
                                        f"data but not in the listed levels {wanted}")
        by_label = dict(zip(labels, levels))
        levels = [by_label.get(lb, _parse(lb) if numeric else lb) for lb in wanted]
        labels = wanted
    if numeric:
        scores = np.array([float(v) for v in levels])
    else:
        scores = np.arange(1.0, len(levels) + 1)
    return levels, labels, scores


def _parse(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _column(frame, name: str):
    if name not in frame.columns:
        raise MethodError("SAP462", f"column '{name}' is not in the analysis data")
    # An infinite category (a numeric rating of inf) would be a level "inf" of its own.
    refuse_infinite_columns(frame, [name])
    return frame[name]


def role_column(roles: Mapping[str, Any], name: str) -> str:
    """The one column a role names (a role given as a one-element list or tuple too)."""
    value = roles[name]
    return value[0] if isinstance(value, (tuple, list)) else value


def crosstab(frame, row: str, col: str, *, order: str = "internal",
             row_levels: tuple | list = (), col_levels: tuple | list = ()) -> Crosstab:
    """The row x col table of a frame's complete cases."""
    r, c = _column(frame, row), _column(frame, col)
    ok = r.notna() & c.notna()
    r, c = r[ok], c[ok]
    rlev, rlab, rsc = ordered_levels(r, order, row_levels)
    clev, clab, csc = ordered_levels(c, order, col_levels)
    counts = np.zeros((len(rlev), len(clev)), dtype=np.int64)
    ri = _codes(r, rlev, rlab)
    ci = _codes(c, clev, clab)
    np.add.at(counts, (ri, ci), 1)
    return Crosstab(counts, tuple(rlab), tuple(clab), rsc, csc)


def _codes(series, levels: list, labels: list[str]) -> np.ndarray:
    index = {lb: i for i, lb in enumerate(labels)}
    return np.array([index[label(v)] for v in series.tolist()], dtype=np.int64)


def stratified(frame, row: str, col: str, strata: str, **kw: Any) -> list[tuple[str, Crosstab]]:
    """One table per stratum level, all with the same row and column levels."""
    s = _column(frame, strata)
    ok = s.notna() & _column(frame, row).notna() & _column(frame, col).notna()
    sub = frame[ok]
    whole = crosstab(sub, row, col, **kw)
    out = []
    slev, slab, _ = ordered_levels(sub[strata], kw.get("order", "internal"))
    for lev, lab in zip(slev, slab):
        part = sub[sub[strata] == lev]
        t = crosstab(part, row, col, order=kw.get("order", "internal"),
                     row_levels=whole.row_levels, col_levels=whole.col_levels)
        out.append((lab, Crosstab(t.counts, whole.row_levels, whole.col_levels,
                                  whole.row_scores, whole.col_scores)))
    return out


def square_table(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> Crosstab:
    """The k x k table of two ratings with the same categories in rows and columns.

    SAS computes agreement only on square tables whose rows and columns are the same
    categories. With ``zeros`` the table is squared over the union of the categories
    (empty rows/columns added, SAS's ZEROS with zero-weight records); otherwise a category
    seen in only one rating is an error naming it.
    """
    import pandas as pd

    row, col = role_column(roles, "row"), role_column(roles, "col")
    order = options.get("order", "internal")
    rl = tuple(options.get("row_levels") or ())
    cl = tuple(options.get("col_levels") or ())
    t = crosstab(frame, row, col, order=order, row_levels=rl, col_levels=cl)
    if t.row_levels == t.col_levels:
        return t
    if not options.get("zeros", False):
        only_r = [lv for lv in t.row_levels if lv not in t.col_levels]
        only_c = [lv for lv in t.col_levels if lv not in t.row_levels]
        what = "; ".join(part for part in (
            f"{only_r} only in '{row}'" if only_r else "",
            f"{only_c} only in '{col}'" if only_c else "") if part)
        raise MethodError("SAP480", f"agreement needs the same categories in both ratings "
                                    f"(a square table): {what or 'levels in another order'}; "
                                    f"list them in row_levels/col_levels or set zeros = true")
    sub = frame[[row, col]].dropna()
    both = pd.concat([sub[row], sub[col]], ignore_index=True)
    both.name = f"{row}/{col}"
    _, labels, scores = ordered_levels(both, order, rl or cl)
    square = crosstab(frame, row, col, order=order, row_levels=labels, col_levels=labels)
    return Crosstab(square.counts, square.row_levels, square.col_levels, scores, scores)


# --- distribution helpers (scipy.special imported lazily: import cost matters) ---------

def chi2_sf(x: float, df: float) -> float:
    """Upper tail of the chi-square distribution."""
    from scipy.special import chdtrc

    if df <= 0 or not math.isfinite(x):
        return math.nan
    return float(chdtrc(df, max(x, 0.0)))


def z_quantile(level: float) -> float:
    """Two-sided normal critical value for a confidence level (1.959964 for 0.95)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def norm_sf(z: float) -> float:
    """Upper tail P(Z > z) of the standard normal, accurate far into the tail.

    Computed as ndtr(-z), never as 1 - cdf: through erf the subtraction cancels, losing
    digits from z = 5 on and giving exactly 0 beyond z = 8.3 (the tail at z = 10 is 7.6e-24).
    """
    from scipy.special import ndtr

    return float(ndtr(-z))
