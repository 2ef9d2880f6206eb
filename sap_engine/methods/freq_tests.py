"""Chi-square tests of a two-way table, McNemar, Bowker, and the stratified CMH statistics.

Formulas are those of the SAS/STAT PROC FREQ documentation ("Chi-Square Tests and
Statistics", "Tests and Measures of Agreement", "Cochran-Mantel-Haenszel Statistics"):

- Pearson Q_P = sum (n - e)^2 / e and likelihood ratio G^2 = 2 sum n ln(n / e), both with
  (R - 1)(C - 1) df over the non-empty rows and columns; for 2 x 2 tables the continuity-
  adjusted Q_C = sum max(0, |n - e| - 1/2)^2 / e; the Mantel-Haenszel Q_MH = (n - 1) r^2 with
  r the Pearson correlation of the table scores (1 df).
- McNemar Q_M = (n12 - n21)^2 / (n12 + n21), no continuity correction (SAS); Bowker
  Q_B = sum_{i<j} (n_ij - n_ji)^2 / (n_ij + n_ji) with k(k - 1)/2 df, pairs with
  n_ij + n_ji = 0 contributing 0.
- CMH (Landis, Heyman & Koch 1978): Q = G' V^- G with G = sum_h A (n_h - m_h) and
  V = sum_h A V_h A', V_h = N_h^2 / (N_h - 1) (D_r - p_r p_r') (x) (D_c - p_c p_c');
  A picks the general association ((R-1)(C-1) df), the row mean scores (column scores,
  R - 1 df) or the nonzero correlation (row and column scores, 1 df).

>>> round(bowker([[10, 4], [8, 9]]).statistic, 4)       # (4 - 8)^2 / 12
1.3333
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.freq_table import as_counts, chi2_sf
from sap_engine.methods.registry import OptionSpec, Stat


@dataclass(frozen=True)
class ChiSquare:
    """A chi-square statistic with its degrees of freedom and upper-tail p-value."""

    statistic: float
    df: float
    p_value: float

    @classmethod
    def of(cls, statistic: float, df: float) -> ChiSquare:
        return cls(float(statistic), float(df), chi2_sf(statistic, df))


@dataclass(frozen=True)
class TableChiSquare:
    """SAS's "Statistics for Table": Pearson, likelihood ratio, continuity-adjusted (2 x 2
    only, else None) and Mantel-Haenszel chi-squares; ``low_expected`` is the fraction of
    cells with expected count below 5 (SAS warns above 20 %)."""

    pearson: ChiSquare
    likelihood_ratio: ChiSquare
    continuity_adjusted: ChiSquare | None
    mantel_haenszel: ChiSquare
    low_expected: float
    n: int


def _drop_empty(t: np.ndarray, *scores: np.ndarray | None):
    keep_r, keep_c = t.sum(1) > 0, t.sum(0) > 0
    row_s, col_s = (scores + (None, None))[:2]
    return (t[keep_r][:, keep_c],
            None if row_s is None else np.asarray(row_s, float)[keep_r],
            None if col_s is None else np.asarray(col_s, float)[keep_c])


def chisq_tests(table, row_scores=None, col_scores=None) -> TableChiSquare:
    """Pearson, LR, continuity-adjusted and MH chi-squares of a table (empty lines dropped)."""
    t, rs, cs = _drop_empty(as_counts(table), row_scores, col_scores)
    r, c = t.shape
    if r < 2 or c < 2:
        raise MethodError("SAP460", f"chi-square tests need at least 2 x 2 non-empty levels; "
                                    f"the table has {r} x {c}")
    n = t.sum()
    e = np.outer(t.sum(1), t.sum(0)) / n
    df = (r - 1) * (c - 1)
    pearson = float(((t - e) ** 2 / e).sum())
    pos = t > 0
    g2 = 2.0 * float((t[pos] * np.log(t[pos] / e[pos])).sum())
    adjusted = None
    if (r, c) == (2, 2):
        adjusted = ChiSquare.of(float((np.maximum(0.0, np.abs(t - e) - 0.5) ** 2 / e).sum()), 1)
    rs = np.arange(1.0, r + 1) if rs is None else rs
    cs = np.arange(1.0, c + 1) if cs is None else cs
    q_mh = (n - 1) * _score_correlation(t, rs, cs) ** 2
    return TableChiSquare(ChiSquare.of(pearson, df), ChiSquare.of(g2, df), adjusted,
                          ChiSquare.of(q_mh, 1), float((e < 5).mean()), int(n))


def _score_correlation(t: np.ndarray, rs: np.ndarray, cs: np.ndarray) -> float:
    """Pearson correlation of row and column scores over the table's observations."""
    n = t.sum()
    pr, pc = t.sum(1) / n, t.sum(0) / n
    mr, mc = pr @ rs, pc @ cs
    cov = float((t / n * np.outer(rs - mr, cs - mc)).sum())
    var_r, var_c = float(pr @ (rs - mr) ** 2), float(pc @ (cs - mc) ** 2)
    return cov / math.sqrt(var_r * var_c) if var_r > 0 and var_c > 0 else 0.0


def mcnemar(table, correct: bool = False) -> ChiSquare:
    """McNemar's test of a paired 2 x 2 table (``correct``: R's continuity correction)."""
    t = as_counts(table)
    if t.shape != (2, 2):
        raise MethodError("SAP463", f"McNemar's test needs a 2 x 2 table; this one is "
                                    f"{t.shape[0]} x {t.shape[1]}")
    b, c = int(t[0, 1]), int(t[1, 0])
    if b + c == 0:
        raise MethodError("SAP465", "McNemar's test is undefined: no discordant pairs")
    diff = abs(b - c) - (1.0 if correct else 0.0)
    return ChiSquare.of(max(diff, 0.0) ** 2 / (b + c), 1)


def bowker(table, df_rule: str = "all") -> ChiSquare:
    """Bowker's test of symmetry of a k x k table.

    ``df_rule = all`` (SAS default, k(k-1)/2 df) or ``nonzero`` (pairs with
    n_ij + n_ji = 0 removed from the df).
    """
    t = as_counts(table)
    k = t.shape[0]
    if t.shape[1] != k or k < 2:
        raise MethodError("SAP480", f"the symmetry test needs a square table with at least 2 "
                                    f"levels; this one is {t.shape[0]} x {t.shape[1]}")
    iu = np.triu_indices(k, 1)
    upper, lower = t[iu].astype(float), t.T[iu].astype(float)
    total = upper + lower
    used = total > 0
    stat = float(((upper - lower)[used] ** 2 / total[used]).sum())
    df = len(total) if df_rule == "all" else int(used.sum())
    if df == 0:
        raise MethodError("SAP465", "the symmetry test is undefined: no off-diagonal counts")
    return ChiSquare.of(stat, df)


@dataclass(frozen=True)
class CMH:
    """The three CMH statistics (SAS "Cochran-Mantel-Haenszel Statistics (Based on Table
    Scores)") and the number of strata used."""

    nonzero_correlation: ChiSquare
    row_mean_scores: ChiSquare
    general_association: ChiSquare
    strata: int


def cmh(tables, row_scores=None, col_scores=None) -> CMH:
    """CMH statistics of a list of R x C tables (one per stratum, same levels)."""
    stack = np.stack([as_counts(t) for t in tables]).astype(float)
    keep_r, keep_c = stack.sum((0, 2)) > 0, stack.sum((0, 1)) > 0
    stack = stack[:, keep_r][:, :, keep_c]
    _, r, c = stack.shape
    if r < 2 or c < 2:
        raise MethodError("SAP460", f"CMH statistics need at least 2 x 2 non-empty levels; "
                                    f"the table has {r} x {c}")
    rs = np.arange(1.0, r + 1) if row_scores is None else np.asarray(row_scores, float)[keep_r]
    cs = np.arange(1.0, c + 1) if col_scores is None else np.asarray(col_scores, float)[keep_c]
    ir = np.eye(r)[:-1]
    ic = np.eye(c)[:-1]
    designs = {"cor": np.kron(rs[None, :], cs[None, :]), "rms": np.kron(ir, cs[None, :]),
               "gen": np.kron(ir, ic)}
    g = {k: np.zeros(a.shape[0]) for k, a in designs.items()}
    v = {k: np.zeros((a.shape[0], a.shape[0])) for k, a in designs.items()}
    used = 0
    for t in stack:
        n = t.sum()
        if n < 2:  # a stratum of one subject has no variance (N^2 / (N - 1) undefined)
            continue
        used += 1
        pr, pc = t.sum(1) / n, t.sum(0) / n
        dev = (t - n * np.outer(pr, pc)).ravel()
        vh = n * n / (n - 1) * np.kron(np.diag(pr) - np.outer(pr, pr),
                                       np.diag(pc) - np.outer(pc, pc))
        for k, a in designs.items():
            g[k] += a @ dev
            v[k] += a @ vh @ a.T
    if used == 0:
        raise MethodError("SAP467", "CMH statistics need a stratum with at least 2 subjects")
    q = {k: _quadratic(g[k], v[k]) for k in designs}
    return CMH(ChiSquare.of(q["cor"], 1), ChiSquare.of(q["rms"], r - 1),
               ChiSquare.of(q["gen"], (r - 1) * (c - 1)), used)


def _quadratic(g: np.ndarray, v: np.ndarray) -> float:
    """g' V^- g, with a generalized inverse when V is singular (a level absent in a way
    that leaves a contrast without variance)."""
    try:
        return float(g @ np.linalg.solve(v, g))
    except np.linalg.LinAlgError:
        return float(g @ np.linalg.pinv(v) @ g)


@dataclass(frozen=True)
class CommonOddsRatio:
    """Mantel-Haenszel common odds ratio with the Robins-Breslow-Greenland CI, and the
    Breslow-Day test of homogeneity (with Tarone's adjustment as a second statistic)."""

    odds_ratio: float
    ci_lower: float
    ci_upper: float
    breslow_day: ChiSquare
    breslow_day_tarone: ChiSquare


def mantel_haenszel(tables, z: float = 1.959963984540054) -> CommonOddsRatio:
    """MH odds ratio (row 1 / row 2 odds of column 1) over 2 x 2 strata, RBG CI, Breslow-Day."""
    stack = np.stack([as_counts(t) for t in tables]).astype(float)
    if stack.shape[1:] != (2, 2):
        raise MethodError("SAP463", "the common odds ratio needs 2 x 2 tables in every "
                                    "stratum")
    stack = stack[stack.sum((1, 2)) > 0]
    a, b, c, d = (stack[:, i, j] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
    n = a + b + c + d
    r_k, s_k = a * d / n, b * c / n
    r, s = r_k.sum(), s_k.sum()
    if r == 0 or s == 0:
        raise MethodError("SAP465", "the Mantel-Haenszel odds ratio is 0 or infinite (a "
                                    "zero in every stratum's a*d or b*c)")
    psi = r / s
    p, q = (a + d) / n, (b + c) / n
    var = ((p * r_k).sum() / (2 * r * r) + (p * s_k + q * r_k).sum() / (2 * r * s)
           + (q * s_k).sum() / (2 * s * s))
    half = z * math.sqrt(float(var))
    bd, tarone = _breslow_day(a, a + b, a + c, c + d, psi)
    psi = float(psi)
    return CommonOddsRatio(psi, psi * math.exp(-half), psi * math.exp(half), bd, tarone)


def _breslow_day(a, r1, c1, r2, psi: float) -> tuple[ChiSquare, ChiSquare]:
    """Breslow-Day statistic at the MH estimate; strata with a zero margin are skipped."""
    fit = (r1 > 0) & (r2 > 0) & (c1 > 0) & (c1 < r1 + r2)
    a, r1, c1, r2 = a[fit], r1[fit], c1[fit], r2[fit]
    if psi == 1.0:
        e = r1 * c1 / (r1 + r2)
    else:
        # E[a] solves psi (r1 - E)(c1 - E) = E (r2 - c1 + E): the root inside the support.
        qa, qb, qc = 1.0 - psi, r2 - c1 + psi * (r1 + c1), -psi * r1 * c1
        disc = np.sqrt(qb * qb - 4 * qa * qc)
        roots = np.stack([(-qb + disc) / (2 * qa), (-qb - disc) / (2 * qa)])
        lo, hi = np.maximum(0, c1 - r2), np.minimum(r1, c1)
        inside = (roots >= lo - 1e-9) & (roots <= hi + 1e-9)
        e = np.where(inside[0], roots[0], roots[1])
    var = 1.0 / (1.0 / e + 1.0 / (r1 - e) + 1.0 / (c1 - e) + 1.0 / (r2 - c1 + e))
    q = float(((a - e) ** 2 / var).sum())
    df = len(a) - 1
    tarone = q - float((a.sum() - e.sum()) ** 2 / var.sum())
    return ChiSquare.of(q, df), ChiSquare.of(tarone, df)


# --- shared by the freq and agreement methods: their ARD rows and the Bowker option ---

def chi_rows(name: str, level: str, test: ChiSquare, label: str | None = None) -> list[Stat]:
    """A statistic, its df and p-value as three ARD rows sharing ``variable_level``."""
    return [Stat(name, test.statistic, variable_level=level, stat_label=label),
            Stat("df", test.df, variable_level=level),
            Stat("p_value", test.p_value, variable_level=level)]


BOWKER_DF = OptionSpec("bowker_df", "choice", "all", "Bowker df: all k(k-1)/2 pairs (SAS "
                       "default) or only pairs with off-diagonal counts",
                       choices=("all", "nonzero"))
