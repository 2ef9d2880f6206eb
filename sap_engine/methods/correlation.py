"""Correlation coefficients with their tests, as SAS PROC CORR computes them.

Conventions (SAS PROC CORR defaults unless the plan says otherwise):
- Pearson by default; ``type = spearman`` or ``type = kendall`` (tau-b) instead.
- Missing values are dropped pair by pair (SAS default); ``missing = listwise`` keeps only the
  rows complete in every variable (SAS NOMISS).
- Pearson and Spearman p-values: t = r sqrt((n - 2) / (1 - r^2)) on n - 2 df.
- Spearman ranks tied values by their average rank (SAS, R), within the pair's rows.
- Kendall tau-b p-value: S / sqrt(Var(S)) referred to the standard normal, with the tie-corrected
  variance of Noether (1967) that SAS documents; no continuity correction. (R ``cor.test`` uses
  an exact test for n < 50 without ties, so its p-value differs there; its normal z agrees.)

>>> r = pearson(np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 5, 9]))
>>> round(r.coefficient, 6), r.n
(0.964764, 4)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.inputs import refuse_infinite
from sap_engine.methods.registry import Evidence, OptionSpec, RoleSpec, Stat, register

_T = "tests/methods/test_correlation.py"
TYPES = ("pearson", "spearman", "kendall")


@dataclass(frozen=True)
class Correlation:
    """One coefficient with its test: ``statistic`` is t (Pearson, Spearman) or z (Kendall)."""

    method: str
    coefficient: float
    n: int
    statistic: float | None
    df: float | None
    p_value: float | None


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks (SAS PROC RANK TIES=MEAN)."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # Boundaries of runs of equal values; each run gets the mean of its 1-based positions.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x))
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + 1 + e) / 2.0
    return ranks


def _t_test(r: float, n: int) -> tuple[float | None, float | None, float | None]:
    """(t, df, two-sided p) of H0: rho = 0 on n - 2 df (SAS PROC CORR, Pearson and Spearman)."""
    if n < 3:
        return None, None, None
    df = n - 2
    if abs(r) >= 1.0:
        return math.copysign(math.inf, r), float(df), 0.0
    from scipy.special import stdtr

    t = r * math.sqrt(df / (1.0 - r * r))
    return t, float(df), float(2.0 * stdtr(df, -abs(t)))


def _check_spread(x: np.ndarray, name: str, other: str | None = None) -> None:
    if len(x) and np.all(x == x[0]):
        where = f" on the rows where '{other}' is also present" if other else ""
        raise MethodError("SAP451", f"variable '{name}' has no spread{where} (all values equal "
                                    f"{x[0]:g}): its correlation is undefined")


def pearson(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Pearson product-moment correlation of complete pairs, with its t test."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    if n < 2:
        raise MethodError("SAP452", f"a correlation needs at least 2 complete pairs, got {n}")
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy = float(dx @ dx), float(dy @ dy)
    if sxx == 0 or syy == 0:
        raise MethodError("SAP451", "a variable has no spread: its correlation is undefined")
    # Clip: rounding can push |r| a hair above 1 for perfectly collinear data.
    r = max(-1.0, min(1.0, float(dx @ dy) / math.sqrt(sxx * syy)))
    t, df, p = _t_test(r, n)
    return Correlation("pearson", r, n, t, df, p)


def spearman(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Spearman rank correlation: Pearson on average ranks, with the same t test (SAS)."""
    r = pearson(average_ranks(x), average_ranks(y))
    return Correlation("spearman", r.coefficient, r.n, r.statistic, r.df, r.p_value)


def _tie_sums(x: np.ndarray) -> tuple[float, float, float]:
    """Over groups of tied values of size t: sum t(t-1), sum t(t-1)(t-2), sum t(t-1)(2t+5)."""
    _, counts = np.unique(x, return_counts=True)
    t = counts[counts > 1].astype(float)
    return float(np.sum(t * (t - 1))), float(np.sum(t * (t - 1) * (t - 2))), \
        float(np.sum(t * (t - 1) * (2 * t + 5)))


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Kendall's tau-b with SAS's normal-approximation test (Noether's tie-corrected Var(S))."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    if n < 2:
        raise MethodError("SAP452", f"a correlation needs at least 2 complete pairs, got {n}")
    # S = sum over pairs i < j of sgn(x_i - x_j) sgn(y_i - y_j), one row of pairs at a time
    # (O(n) memory; a quadratic count is fast enough for trial-sized data).
    s = 0.0
    for i in range(n - 1):
        s += float(np.sum(np.sign(x[i] - x[i + 1:]) * np.sign(y[i] - y[i + 1:])))
    n0 = n * (n - 1) / 2.0
    tx1, tx2, tx5 = _tie_sums(x)
    ty1, ty2, ty5 = _tie_sums(y)
    denominator = math.sqrt((n0 - tx1 / 2) * (n0 - ty1 / 2))
    if denominator == 0:
        raise MethodError("SAP451", "a variable has no spread: its correlation is undefined")
    tau = s / denominator
    if n < 3:
        return Correlation("kendall", tau, n, None, None, None)
    var_s = ((n * (n - 1) * (2 * n + 5) - tx5 - ty5) / 18.0
             + tx1 * ty1 / (2.0 * n * (n - 1))
             + tx2 * ty2 / (9.0 * n * (n - 1) * (n - 2)))
    from scipy.special import ndtr

    z = s / math.sqrt(var_s)
    return Correlation("kendall", tau, n, z, None, float(2.0 * ndtr(-abs(z))))


_FUNCTIONS = {"pearson": pearson, "spearman": spearman, "kendall": kendall_tau_b}


def correlate(x: np.ndarray, y: np.ndarray, method: str = "pearson") -> Correlation:
    """The ``method`` correlation of the pairs where both ``x`` and ``y`` are present."""
    if method not in _FUNCTIONS:
        raise MethodError("SAP453", f"unknown correlation type '{method}' "
                                    f"(one of {', '.join(TYPES)})")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    refuse_infinite(np.column_stack([x, y]), ["x", "y"])
    ok = ~(np.isnan(x) | np.isnan(y))
    return _FUNCTIONS[method](x[ok], y[ok])


def correlation_matrix(columns: Mapping[str, np.ndarray], method: str = "pearson",
                       listwise: bool = False) -> dict[tuple[str, str], Correlation]:
    """Every ordered pair (diagonal included) of the named columns, as PROC CORR prints them.

    The diagonal holds r = 1 with n the variable's own non-missing count and no test; a
    zero-variance variable raises :class:`MethodError` naming it.
    """
    names = list(columns)
    if len(names) < 2:
        raise MethodError("SAP450", "a correlation needs at least two variables")
    data = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
    for name, values in data.items():
        refuse_infinite(values, [name])
    if listwise:
        keep = ~np.any(np.isnan(np.vstack(list(data.values()))), axis=0)
        data = {k: v[keep] for k, v in data.items()}
    for name, values in data.items():
        _check_spread(values[~np.isnan(values)], name)
    out: dict[tuple[str, str], Correlation] = {}
    for i, a in enumerate(names):
        own = int(np.sum(~np.isnan(data[a])))
        out[(a, a)] = Correlation(method, 1.0, own, None, None, None)
        for b in names[i + 1:]:
            ok = ~(np.isnan(data[a]) | np.isnan(data[b]))
            _check_spread(data[a][ok], a, b)
            _check_spread(data[b][ok], b, a)
            r = _FUNCTIONS[method](data[a][ok], data[b][ok])
            out[(a, b)] = out[(b, a)] = r
    return out


@register(
    "correlation", family="correlation",
    label="Correlation coefficients",
    summary="Correlation matrix of numeric variables (Pearson, Spearman or Kendall tau-b) "
            "with the test of zero correlation and the number of pairs, as SAS PROC CORR.",
    roles=(RoleSpec("variables", "numeric", many=True, doc="two or more numeric variables"),),
    options=(
        OptionSpec("type", "choice", "pearson", "coefficient: Pearson (SAS default), Spearman "
                   "rank or Kendall tau-b", choices=TYPES),
        OptionSpec("missing", "choice", "pairwise", "rows used: complete for each pair (SAS "
                   "default) or complete for all variables (SAS NOMISS)",
                   choices=("pairwise", "listwise")),
    ),
    conventions=(
        "Pearson by default, as SAS PROC CORR; missing values dropped pair by pair unless "
        "`missing = listwise` (SAS NOMISS).",
        "Pearson and Spearman p-values: t = r sqrt((n - 2) / (1 - r^2)) on n - 2 df (SAS; R "
        "cor.test for Pearson). R cor.test's Spearman p-value is exact (AS 89) for small n and "
        "so differs from SAS's.",
        "Spearman: Pearson correlation of ranks, ties given their average rank (SAS, R), ranked "
        "within the rows used for the pair.",
        "Kendall tau-b p-value: S / sqrt(Var(S)) against the standard normal, Var(S) with "
        "Noether's tie corrections, no continuity correction (SAS PROC CORR); R cor.test uses "
        "an exact test for n < 50 without ties.",
        "The full matrix is emitted (both orders and the diagonal, variable_level `X|Y`); the "
        "diagonal has r = 1 and n = the variable's non-missing count, no p-value (as PROC CORR "
        "prints it). A variable with no spread is an error naming it.",
    ),
    evidence=(
        Evidence("SAS PROC CORR documentation, Fitness data with missing values (Example "
                 "'Analysis Using Fisher's z Transformation', Pearson table): r, p and "
                 "pairwise n for Weight, Oxygen, RunTime", "printed digits (5 decimals r, "
                 "4 decimals p)", f"{_T}::test_sas_fitness_pearson_matrix"),
        Evidence("Penn State STAT 509 SAS example 18.4 (PROC CORR, body fat vs age, ties): "
                 "Pearson 0.7921, Spearman 0.7539, Kendall tau-b 0.5762", "4 decimals",
                 f"{_T}::test_sas_bodyfat_three_coefficients"),
        Evidence("R/S cor.test on Hollander & Wolfe (1973) p. 187 data: Pearson t = 1.8411, "
                 "p = 0.1082, r = 0.5711815; Kendall tau = 0.4444444, normal z = 1.6681, "
                 "p = 0.0953; Spearman rho = 0.6 (R documentation)", "printed digits",
                 f"{_T}::test_hollander_wolfe_cor_test"),
        Evidence("scipy.stats pearsonr / spearmanr / kendalltau (asymptotic) as a second "
                 "algorithm, with ties and missing values", "1e-10",
                 f"{_T}::test_scipy_second_algorithm"),
    ),
    stats=("correlation", "p_value", "n"),
)
def correlation(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    names = roles["variables"]
    names = [names] if isinstance(names, str) else list(names)
    method = options.get("type", "pearson")
    columns = {}
    for name in names:
        columns[name] = _numeric(frame[name], name)
    matrix = correlation_matrix(columns, method, options.get("missing") == "listwise")
    out: list[Stat] = []
    for a in names:
        for b in names:
            r = matrix[(a, b)]
            level = f"{a}|{b}"
            out.append(Stat("correlation", r.coefficient, variable_level=level))
            if a != b:
                out.append(Stat("p_value", r.p_value, variable_level=level))
            out.append(Stat("n", float(r.n), variable_level=level))
    return out


def _numeric(series, name: str) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):  # a 0/1 flag correlates as its 0/1 coding
        return series.astype(float).to_numpy(dtype=float, na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(series):
        raise MethodError("SAP454", f"variable '{name}' is not numeric: a correlation needs "
                                    "numeric variables")
    values = series.to_numpy(dtype=float, na_value=np.nan)
    refuse_infinite(values, [name], series.index)
    return values
