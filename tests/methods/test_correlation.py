"""Correlation against SAS PROC CORR / R cor.test published outputs, and scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sap_engine.errors import MethodError
from sap_engine.methods.correlation import (
    average_ranks,
    correlate,
    correlation,
    correlation_matrix,
    kendall_tau_b,
    pearson,
    spearman,
)

# SAS PROC CORR documentation, "Getting Started": the Fitness data (Age Weight Oxygen RunTime),
# altered by SAS to contain missing values ('.').
FITNESS = """
44 89.47 44.609 11.37  40 75.07 45.313 10.07  44 85.84 54.297  8.65  42 68.15 59.571  8.17
38 89.02 49.874   .    47 77.45 44.811 11.63  40 75.98 45.681 11.95  43 81.19 49.091 10.85
44 81.42 39.442 13.08  38 81.87 60.055  8.63  44 73.03 50.541 10.13  45 87.66 37.388 14.03
45 66.45 44.754 11.12  47 79.15 47.273 10.60  54 83.12 51.855 10.33  49 81.42 49.156  8.95
51 69.63 40.836 10.95  51 77.91 46.672 10.00  48 91.63 46.774 10.25  49 73.37   .    10.08
57 73.37 39.407 12.63  54 79.38 46.080 11.17  52 76.32 45.441  9.63  50 70.87 54.625  8.92
51 67.25 45.118 11.08  54 91.63 39.203 12.88  51 73.71 45.790 10.47  57 59.08 50.545  9.93
49 76.32   .      .    48 61.24 47.920 11.50  52 82.78 47.467 10.50
"""


def _fitness() -> pd.DataFrame:
    values = [math.nan if t == "." else float(t) for t in FITNESS.split()]
    return pd.DataFrame(np.array(values).reshape(-1, 4),
                        columns=["Age", "Weight", "Oxygen", "RunTime"])


def test_sas_fitness_pearson_matrix():
    """SAS PROC CORR doc, Output "Pearson Correlations" (Example: Fisher's z Transformation).

    Printed: Weight-Oxygen -0.15358 (p 0.4264, n 29); Weight-RunTime 0.20072 (0.2965, 29);
    Oxygen-RunTime -0.86843 (<.0001, 28); diagonal n: Weight 31, Oxygen 29, RunTime 29.
    """
    d = _fitness()
    stats = correlation(d, {"variables": ("Weight", "Oxygen", "RunTime")}, {})
    got = {(s.variable_level, s.stat_name): s.stat for s in stats}
    printed = {"Weight|Oxygen": (-0.15358, 0.4264, 29), "Weight|RunTime": (0.20072, 0.2965, 29),
               "Oxygen|RunTime": (-0.86843, None, 28)}
    for level, (r, p, n) in printed.items():
        a, b = level.split("|")
        for key in (level, f"{b}|{a}"):  # the full matrix: both orders
            assert round(got[(key, "correlation")], 5) == r
            assert got[(key, "n")] == n
            if p is not None:
                assert round(got[(key, "p_value")], 4) == p
            else:
                assert got[(key, "p_value")] < 0.0001
    for name, n in (("Weight", 31), ("Oxygen", 29), ("RunTime", 29)):
        assert got[(f"{name}|{name}", "correlation")] == 1.0
        assert got[(f"{name}|{name}", "n")] == n
        assert (f"{name}|{name}", "p_value") not in got
    assert len(stats) == 9 * 2 + 6  # 9 cells with r and n, 6 off-diagonal p-values


# Penn State STAT 509, 18.4 "Example - Correlation Coefficients" (SAS program
# 19.1_correlation.sas): age and % body fat of 18 adults; PROC CORR PEARSON SPEARMAN KENDALL
# gives 0.7921, 0.7539 and 0.5762. Age has four tied pairs, so this checks ties.
AGE = [23, 23, 27, 27, 39, 41, 45, 49, 50, 53, 53, 54, 56, 57, 58, 58, 60, 61]
FAT = [9.5, 27.9, 7.8, 17.8, 31.4, 25.9, 27.4, 25.2, 31.1, 34.7, 42.0, 29.1, 32.5, 30.3,
       33.0, 33.8, 41.1, 34.5]


def test_sas_bodyfat_three_coefficients():
    assert round(pearson(AGE, FAT).coefficient, 4) == 0.7921
    assert round(spearman(AGE, FAT).coefficient, 4) == 0.7539
    assert round(kendall_tau_b(AGE, FAT).coefficient, 4) == 0.5762


# Hollander & Wolfe (1973) p. 187, the R cor.test documentation example.
HW_X = [44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1]
HW_Y = [2.6, 3.1, 2.5, 5.0, 3.6, 4.0, 5.2, 2.8, 3.8]


def test_hollander_wolfe_cor_test():
    """Printed S/R output (stat.sc.edu course notes, cor.test on these data):

    Pearson: t = 1.8411, df = 7, p-value = 0.1082, cor 0.5711815.
    Kendall (normal approximation, as SAS): normal-z = 1.6681, p-value = 0.0953, tau 0.4444444.
    Spearman (R documentation): S = 48, rho 0.6; the SAS t test by hand:
    t = 0.6 sqrt(7 / 0.64) = 1.98431, two-sided p on 7 df.
    """
    r = pearson(HW_X, HW_Y)
    assert round(r.statistic, 4) == 1.8411 and r.df == 7
    assert round(r.p_value, 4) == 0.1082
    assert r.coefficient == pytest.approx(0.5711815, abs=1e-7)
    k = kendall_tau_b(HW_X, HW_Y)
    assert k.coefficient == pytest.approx(0.4444444, abs=1e-7)
    assert round(k.statistic, 4) == 1.6681 and round(k.p_value, 4) == 0.0953
    # Kendall by hand: S = 16 concordant-minus-discordant pairs, Var(S) = 9*8*23/18 = 92
    assert k.statistic == pytest.approx(16 / math.sqrt(92), rel=1e-12)
    s = spearman(HW_X, HW_Y)
    assert s.coefficient == pytest.approx(0.6, abs=1e-12)
    # R's S statistic: S = (n^3 - n)(1 - rho) / 6 = 720 * 0.4 / 6 = 48
    assert (9 ** 3 - 9) * (1 - s.coefficient) / 6 == pytest.approx(48)
    assert s.statistic == pytest.approx(0.6 * math.sqrt(7 / 0.64), rel=1e-12)


def test_average_ranks_ties():
    assert average_ranks(np.array([10.0, 20, 20, 5, 20])).tolist() == [2, 4, 4, 1, 4]


def test_kendall_ties_variance_by_hand():
    # x ties: one pair (t=2); y ties: one triple (u=3). n = 5.
    x = np.array([1.0, 1, 2, 3, 4])
    y = np.array([1.0, 2, 2, 2, 3])
    k = kendall_tau_b(x, y)
    # S by hand: pairs (i<j) sgn(dx) sgn(dy): 10 pairs, 6 concordant, 0 discordant
    s = 6
    n0, n1, n2 = 10, 1, 3
    assert k.coefficient == pytest.approx(s / math.sqrt((n0 - n1) * (n0 - n2)))
    v0 = 5 * 4 * 15
    vt, vu = 2 * 1 * 9, 3 * 2 * 11
    v = (v0 - vt - vu) / 18 + (2 * 6) / (2 * 5 * 4) + (0 * 6) / (9 * 5 * 4 * 3)
    assert k.statistic == pytest.approx(s / math.sqrt(v), rel=1e-12)


def test_scipy_second_algorithm():
    from scipy import stats

    d = _fitness()
    rng = np.random.default_rng(7)
    ties = np.round(rng.normal(size=40), 1)  # rounded: many ties
    other = np.round(ties + rng.normal(size=40), 0)
    pairs = [(d.Oxygen.to_numpy(), d.RunTime.to_numpy()), (ties, other),
             (np.array(AGE, float), np.array(FAT))]
    for x, y in pairs:
        ok = ~(np.isnan(x) | np.isnan(y))
        ref = stats.pearsonr(x[ok], y[ok])
        got = correlate(x, y, "pearson")
        assert got.coefficient == pytest.approx(ref.statistic, abs=1e-10)
        assert got.p_value == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-15)
        ref = stats.spearmanr(x[ok], y[ok])
        got = correlate(x, y, "spearman")
        assert got.coefficient == pytest.approx(ref.statistic, abs=1e-10)
        assert got.p_value == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-15)
        ref = stats.kendalltau(x[ok], y[ok], method="asymptotic")
        got = correlate(x, y, "kendall")
        assert got.coefficient == pytest.approx(ref.statistic, abs=1e-10)
        assert got.p_value == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-15)


def test_listwise_uses_complete_rows_only():
    d = _fitness()
    cols = {c: d[c].to_numpy() for c in ("Weight", "Oxygen", "RunTime")}
    m = correlation_matrix(cols, "pearson", listwise=True)
    complete = d[["Weight", "Oxygen", "RunTime"]].dropna()
    assert m[("Weight", "Oxygen")].n == len(complete) == 28
    assert m[("Weight", "Weight")].n == 28
    ref = np.corrcoef(complete.Weight, complete.Oxygen)[0, 1]
    assert m[("Weight", "Oxygen")].coefficient == pytest.approx(ref, abs=1e-12)


def test_zero_variance_names_the_variable():
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4], "flat": [5.0, 5, 5, 5]})
    with pytest.raises(MethodError) as err:
        correlation(frame, {"variables": ("a", "flat")}, {"type": "spearman"})
    assert err.value.code == "SAP451" and "'flat'" in err.value.message
    # constant only on the rows shared with the other variable
    frame = pd.DataFrame({"a": [1.0, 2, 3, np.nan], "b": [5.0, 5, 5, 6]})
    with pytest.raises(MethodError, match="'b' has no spread on the rows where 'a'"):
        correlation(frame, {"variables": ("a", "b")}, {})


def test_bad_inputs():
    with pytest.raises(MethodError) as err:
        correlation(pd.DataFrame({"a": [1.0, 2]}), {"variables": ("a",)}, {})
    assert err.value.code == "SAP450"
    with pytest.raises(MethodError) as err:
        correlation(pd.DataFrame({"a": [1.0, 2], "s": ["x", "y"]}), {"variables": ("a", "s")},
                    {})
    assert err.value.code == "SAP454"
    with pytest.raises(MethodError) as err:
        pearson([1.0], [2.0])
    assert err.value.code == "SAP452"


def test_perfect_correlation_and_two_pairs():
    r = pearson([1.0, 2, 3], [2.0, 4, 6])
    assert r.coefficient == 1.0 and r.p_value == 0.0
    r = pearson([1.0, 2], [3.0, 1])
    assert r.coefficient == -1.0 and r.p_value is None  # n - 2 = 0 df: no test (SAS: blank)
