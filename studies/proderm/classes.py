"""Improvement classes at week 16: CDASI-A percent-reduction classes and TIS classes.

Table 3 of the paper cross-classifies, at week 16 (N = 87), the TIS improvement class
(rows: <= 20 none, (20,40] minimal, (40,60) moderate, >= 60 major) against the CDASI-A
improvement class (columns, percent reduction r = -PCHG: r < 20 none, [20,35) minimal,
(35,50) moderate, >= 50 major; r = 35 exactly is avoided so that "moderate or major"
coincides with the > 35 % responder definition). The generator fixes each subject's
class first and then draws values inside the class, so the table is reproduced exactly.

With integer CDASI-A values the classes become integer bounds on the change C for a
baseline B (reduction R = -C):
none R <= ceil(0.2 B) - 1; minimal ceil(0.2 B) <= R <= ceil(0.35 B) - 1;
moderate floor(0.35 B) + 1 <= R <= ceil(0.5 B) - 1; major ceil(0.5 B) <= R <= B.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("None", "Minimal", "Moderate", "Major")
# Per-arm CDASI-A class counts among the week-16 analysis set (this generator's split of
# the published column totals 34/13/10/30; responders = Moderate + Major = 29 and 11).
# Placebo has one more "None" patient: the one whose week-16 TIS is missing (N = 87).
CDASIA_CLASS_COUNTS = {"IVIg": (9, 6, 6, 23), "Placebo": (26, 7, 4, 7)}
TIS_EDGES = ((0.0, 20.0), (22.5, 40.0), (42.5, 57.5), (60.0, 100.0))  # 2.5-point grid


def _ceil_pct(base: np.ndarray, pct: int) -> np.ndarray:
    b = base.astype(np.int64)
    return (pct * b + 99) // 100


def reduction_bounds(base: np.ndarray, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) bounds of the integer change for class indices ``cls`` (0..3)."""
    b = base.astype(np.int64)
    r_lo = np.select([cls == 0, cls == 1, cls == 2, cls == 3],
                     [-(100 - b), _ceil_pct(b, 20), (35 * b) // 100 + 1, _ceil_pct(b, 50)])
    r_hi = np.select([cls == 0, cls == 1, cls == 2, cls == 3],
                     [_ceil_pct(b, 20) - 1, _ceil_pct(b, 35) - 1, _ceil_pct(b, 50) - 1, b])
    return -r_hi.astype(float), -r_lo.astype(float)


def feasible(base: np.ndarray) -> np.ndarray:
    """``subjects x 4`` boolean: can a subject with this baseline be in each class?"""
    cols = []
    for c in range(4):
        lo, hi = reduction_bounds(base, np.full(len(base), c))
        cols.append(lo <= hi)
    return np.stack(cols, axis=1)


def cdasia_class(base: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Class index 0..3 of each percent reduction (the definition, for checks)."""
    r = -100.0 * change / base
    return np.select([r < 20, r < 35, r < 50], [0, 1, 2], 3)


def assign_classes(base: np.ndarray, key: np.ndarray, counts: tuple[int, ...]) -> np.ndarray:
    """Class per subject with exact ``counts``: the best ``key`` (most improved) get Major.

    Feasibility (small baselines cannot reach every class on the integer scale) is
    respected by an optimal assignment of subjects to class slots (Hungarian method),
    minimising the squared distance between a subject's key rank and its slot rank.
    """
    from scipy.optimize import linear_sum_assignment

    n = len(base)
    if sum(counts) != n:
        raise ValueError(f"class counts {counts} do not sum to {n}")
    rank = np.empty(n)
    rank[np.argsort(-key, kind="stable")] = np.arange(n)  # 0 = most improved
    slot_cls = np.repeat(np.arange(3, -1, -1), [counts[3], counts[2], counts[1], counts[0]])
    ok = feasible(base)
    cost = (rank[:, None] - np.arange(n)[None, :]) ** 2
    cost = np.where(ok[:, slot_cls], cost, 1e9)
    rows, cols = linear_sum_assignment(cost)
    if np.any(cost[rows, cols] >= 1e9):
        raise ValueError("no feasible CDASI-A class assignment")
    out = np.empty(n, dtype=np.int64)
    out[rows] = slot_cls[cols]
    return out


def tis_classes(a_cls: np.ndarray, key: np.ndarray, table: np.ndarray) -> np.ndarray:
    """TIS class per subject so that the cross-table with ``a_cls`` equals ``table``.

    ``table[t, c]`` counts TIS class t against CDASI-A class c; within each CDASI-A
    class the highest ``key`` get the highest TIS classes.
    """
    out = np.empty(len(a_cls), dtype=np.int64)
    for c in range(4):
        idx = np.flatnonzero(a_cls == c)
        if len(idx) != table[:, c].sum():
            raise ValueError(f"column {c}: {len(idx)} subjects, table needs {table[:, c].sum()}")
        order = idx[np.argsort(key[idx], kind="stable")]  # lowest key first
        out[order] = np.repeat(np.arange(4), table[:, c])
    return out


def tis_values(rng: np.random.Generator, t_cls: np.ndarray, key: np.ndarray) -> np.ndarray:
    """TIS (steps of 2.5) inside each subject's class, ordered by ``key`` within the class."""
    out = np.empty(len(t_cls))
    for t, (lo, hi) in enumerate(TIS_EDGES):
        idx = np.flatnonzero(t_cls == t)
        if len(idx) == 0:
            continue
        # spread over the class, denser at the low end for "major" (TIS rarely > 90)
        top = hi if t < 3 else 92.5
        u = np.sort(rng.uniform(size=len(idx)))
        vals = np.round((lo + (top - lo) * u) / 2.5) * 2.5
        out[idx[np.argsort(key[idx], kind="stable")]] = np.sort(vals)
    return out
