"""Fisher's exact test for r x c tables, and the exact conditional CI of a 2 x 2 odds ratio.

p-value (SAS PROC FREQ, R ``fisher.test``): the sum of the probabilities, under independence
with both margins fixed, of every table whose probability is at most the observed table's.
"At most" uses a relative tolerance of 1e-7 (P <= P_obs * (1 + 1e-7)), so tables whose
probability equals the observed one in exact arithmetic are not lost to floating-point
rounding (R uses the same tolerance; SAS does not publish its value).

Algorithm (a network algorithm in the sense of Mehta & Patel 1983, exact, no sampling):
the table is filled column by column. After j columns the future depends only on the multiset
of row totals still to fill, so those sorted totals are the *nodes* of stage j; every node
carries the distinct values of the partial probability of the paths reaching it, with their
multiplicities (paths with equal values are merged, as Mehta & Patel do). The last two
columns are not a stage: for each node of the stage before, all completions are listed once
(one free column), their probabilities are sorted and accumulated, and each past value finds
its count of "at most as probable" completions by binary search; a node whose every (or no)
completion counts is added in closed form, (sum of rows)! / prod(rows!) being the total
weight of its completions (the exact longest/shortest-path bounds of the network algorithm).
Columns are processed smallest first, so the two largest columns are the completions.

>>> r = fisher_exact([[3, 1], [1, 3]])          # Fisher's tea tasting
>>> round(r.p_value, 4), round(r.table_probability, 4), round(r.p_right, 4)
(0.4857, 0.2286, 0.2429)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.freq_table import as_counts

REL_TOL = 1e-7
# Beyond these sizes the enumeration would need gigabytes; an exact test is then not the
# right tool (SAS would also run for hours) and the message says so.
MAX_ENTRIES = 8_000_000  # partial tables or completions held at once
MAX_CELLS = 20_000_000  # entries x rows of a stage's fills


@dataclass(frozen=True)
class FisherExact:
    """Fisher's exact test: two-sided p and the observed table's probability.

    ``p_left`` / ``p_right`` (2 x 2 only) are SAS's "Left-sided Pr <= F" and "Right-sided
    Pr >= F" for the (1,1) cell; NaN for larger tables.
    """

    p_value: float
    table_probability: float
    p_left: float = math.nan
    p_right: float = math.nan


def _log_factorials(n: int) -> np.ndarray:
    return np.array([math.lgamma(k + 1.0) for k in range(n + 1)])


def _fills(bounds: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Every x with 0 <= x <= b and sum(x) == total, for each row b of ``bounds``.

    Returns (owner row index, x); owners come out in ascending order. Built one coordinate
    at a time with exact per-coordinate ranges, so nothing is generated and thrown away.
    """
    m, r = bounds.shape
    cap = bounds[:, ::-1].cumsum(1)[:, ::-1]  # cap[:, i] = sum of bounds i..r-1
    owner = np.arange(m)
    rem = np.full(m, total, dtype=np.int64)
    parts: list[np.ndarray] = []
    for i in range(r - 1):
        lo = np.maximum(0, rem - cap[owner, i + 1])
        hi = np.minimum(bounds[owner, i], rem)
        cnt = np.maximum(hi - lo + 1, 0)
        if int(cnt.sum()) * r > MAX_CELLS:  # checked before allocating
            raise _too_large()
        pick = np.repeat(np.arange(len(owner)), cnt)
        offset = np.arange(len(pick)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        value = lo[pick] + offset
        parts = [p[pick] for p in parts] + [value]
        owner, rem = owner[pick], rem[pick] - value
    parts.append(rem)
    return owner, np.column_stack(parts)


def _too_large() -> MethodError:
    return MethodError("SAP464", "Fisher's exact test: the table is too large for exact "
                                 "enumeration; use the chi-square test")


def _node_codes(rows: np.ndarray, radix: int) -> np.ndarray:
    """One integer per node (sorted row totals); equal nodes get equal codes."""
    if radix ** rows.shape[1] < 2 ** 62:
        return rows @ (radix ** np.arange(rows.shape[1] - 1, -1, -1, dtype=np.int64))
    return np.unique(rows, axis=0, return_inverse=True)[1].astype(np.int64).ravel()


def _merge(rows: np.ndarray, val: np.ndarray, weight: np.ndarray,
           radix: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge entries with the same node and (to 1e-9) the same log value; sort by node."""
    code = _node_codes(rows, radix)
    vkey = np.round((val - val.min()) * 1e9).astype(np.int64)
    span = int(vkey.max()) + 1
    if int(code.max()) < (2 ** 62) // span:
        key = code * span + vkey
        order = np.argsort(key, kind="stable")
        same = key[order][1:] == key[order][:-1]
    else:
        order = np.lexsort((vkey, code))
        same = (code[order][1:] == code[order][:-1]) & (vkey[order][1:] == vkey[order][:-1])
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    return rows[order[starts]], val[order[starts]], np.add.reduceat(weight[order], starts)


def _completion_logs(nodes: np.ndarray, ca: int, lf: np.ndarray) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """For every node a and every fill x of the next-to-last column: sum_i lf(x_i) + lf(a_i - x_i).

    The two-column completions of a node are its fills x (the last column is then a - x).
    Same enumeration as :func:`_fills`, but only the log-factorial sums are kept, which
    avoids materialising the fills (the last stage lists about a million of them).
    """
    m, r = nodes.shape
    a_all = nodes.astype(np.int32)
    cap = a_all[:, ::-1].cumsum(1)[:, ::-1]
    owner = np.arange(m, dtype=np.int32)
    rem = np.full(m, ca, dtype=np.int32)
    g = np.zeros(m)
    for i in range(r - 1):
        a = a_all[owner, i]
        lo = np.maximum(0, rem - cap[owner, i + 1])
        cnt = np.minimum(a, rem) - lo + 1
        if int(cnt.sum(dtype=np.int64)) > MAX_ENTRIES:
            raise _too_large()
        pick = np.repeat(np.arange(len(owner), dtype=np.int32), cnt)
        value = lo[pick] + (np.arange(len(pick), dtype=np.int32)
                            - np.repeat(np.cumsum(cnt, dtype=np.int32) - cnt, cnt))
        a = a[pick]
        g = g[pick] + lf[value] + lf[a - value]
        owner, rem = owner[pick], rem[pick] - value
    a = a_all[owner, r - 1]
    return owner, g + lf[rem] + lf[a - rem]


def _tail_sum(nodes: np.ndarray, node_of_entry: np.ndarray, past: np.ndarray,
              weight: np.ndarray, ca: int, cb: int, lf: np.ndarray, limit: float) -> float:
    """Sum over entries and their two-column completions of P(table) for P <= limit."""
    owner, g = _completion_logs(nodes, ca, lf)
    u = (lf[ca] + lf[cb]) - g
    bounds = np.searchsorted(owner, np.arange(len(nodes) + 1))
    umin = np.minimum.reduceat(u, bounds[:-1])
    umax = np.maximum.reduceat(u, bounds[:-1])
    log_total = lf[nodes.sum(1)] - lf[nodes].sum(1)  # log of the completions' total weight
    room = limit - past  # a completion counts when u <= room
    every = room >= umax[node_of_entry]
    total = float(np.sum(weight[every] * np.exp(past[every] + log_total[node_of_entry[every]])))
    partial = np.flatnonzero(~every & (room >= umin[node_of_entry]))
    if not len(partial):
        return total
    # Entries are sorted by node (see _merge), so each node's partial entries are contiguous.
    cuts = np.flatnonzero(np.diff(node_of_entry[partial])) + 1
    for group in np.split(partial, cuts):
        node = node_of_entry[group[0]]
        us = np.sort(u[bounds[node]:bounds[node + 1]])
        top = us[-1]
        cum = np.cumsum(np.exp(us - top))
        k = np.searchsorted(us, room[group], side="right")
        hit = k > 0
        total += float(np.dot(weight[group][hit] * np.exp(past[group][hit] + top),
                              cum[k[hit] - 1]))
    return total


def fisher_exact(table) -> FisherExact:
    """Fisher's exact test of independence for an r x c table of counts."""
    t = as_counts(table)
    t = t[t.sum(1) > 0][:, t.sum(0) > 0]  # empty rows/columns carry no information
    if t.shape[0] < 2 or t.shape[1] < 2:
        # One table only is possible with these margins.
        return FisherExact(1.0, 1.0, *((1.0, 1.0) if t.size else (math.nan, math.nan)))
    sided = _one_sided(t) if t.shape == (2, 2) else (math.nan, math.nan)
    if t.shape[0] > t.shape[1]:
        t = t.T  # fewer rows -> fewer nodes
    rows_tot, cols_tot, n = t.sum(1), t.sum(0), int(t.sum())
    lf = _log_factorials(n)
    const = float(lf[rows_tot].sum() - lf[n])
    log_obs = const + float(lf[cols_tot].sum() - lf[t].sum())
    limit = log_obs + math.log1p(REL_TOL)
    cols = sorted(int(c) for c in cols_tot)
    radix = int(rows_tot.max()) + 1
    nodes = np.sort(rows_tot)[None, :].astype(np.int64)
    past, weight = np.zeros(1), np.ones(1)
    for size in cols[:-2]:
        owner, x = _fills(nodes, size)
        new = np.sort(nodes[owner] - x, axis=1)
        val = past[owner] + (lf[size] - lf[x].sum(1))
        nodes, past, weight = _merge(new, val, weight[owner], radix)
        if len(nodes) > MAX_ENTRIES:
            raise _too_large()
    code = _node_codes(nodes, radix)
    first = np.concatenate(([True], code[1:] != code[:-1]))
    node_of_entry = np.cumsum(first) - 1
    p = _tail_sum(nodes[first], node_of_entry, const + past, weight, cols[-2], cols[-1], lf,
                  limit)
    return FisherExact(min(1.0, p), math.exp(log_obs), *sided)


def _one_sided(t: np.ndarray) -> tuple[float, float]:
    """P(n11 <= observed) and P(n11 >= observed) under the hypergeometric null."""
    support, pmf = _hypergeom(t)
    a = int(t[0, 0])
    return float(min(1.0, pmf[support <= a].sum())), float(min(1.0, pmf[support >= a].sum()))


def _hypergeom(t: np.ndarray, log_psi: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Support of n11 and its (noncentral, odds ratio e^log_psi) hypergeometric pmf."""
    r1, r2 = int(t[0].sum()), int(t[1].sum())
    c1 = int(t[:, 0].sum())
    lo, hi = max(0, c1 - r2), min(r1, c1)
    x = np.arange(lo, hi + 1)
    logw = (_lcomb(r1, x) + _lcomb(r2, c1 - x)) + x * log_psi
    w = np.exp(logw - logw.max())
    return x, w / w.sum()


def _lcomb(n: int, k: np.ndarray) -> np.ndarray:
    return np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
                     for j in k])


def exact_odds_ratio_ci(table, level: float = 0.95) -> tuple[float, float]:
    """Exact conditional CI of a 2 x 2 odds ratio (Cornfield 1956; SAS EXACT OR).

    Each limit inverts a one-sided test of the noncentral hypergeometric distribution of
    n11 at (1 - level) / 2: P(N11 >= n11; lower) = P(N11 <= n11; upper) = (1 - level) / 2.
    A limit is 0 or infinity when n11 is at the end of its support.
    """
    from scipy.optimize import brentq

    t = as_counts(table)
    if t.shape != (2, 2):
        raise MethodError("SAP463", "the exact odds-ratio CI needs a 2 x 2 table")
    alpha = (1 - level) / 2
    support, _ = _hypergeom(t)
    a = int(t[0, 0])

    def upper_tail(log_psi: float) -> float:
        x, pmf = _hypergeom(t, log_psi)
        return float(pmf[x >= a].sum()) - alpha

    def lower_tail(log_psi: float) -> float:
        x, pmf = _hypergeom(t, log_psi)
        return float(pmf[x <= a].sum()) - alpha

    lower = 0.0 if a == support[0] else math.exp(brentq(upper_tail, -50, 50, xtol=1e-12))
    upper = math.inf if a == support[-1] else math.exp(brentq(lower_tail, -50, 50, xtol=1e-12))
    return lower, upper
