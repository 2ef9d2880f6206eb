"""Estimands: the composite strategy with a stated value (checked against a hand computation
in pandas, not the engine), and the principal stratum strategy, which the engine cannot
estimate: its analyses are reported as not estimable (SAP254), never with a number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import MINI, write_plan

from sap_engine import ard
from sap_engine.api import check_plan, explain_plan, run_plan

# The mini study with more switchers: S02 at week 0 (weeks 8 and 16 after it), S04 at week 0
# (its week 8 is missing: a composite sets it all the same), S06 at 8 (week 16 after it),
# S07 at 16 (no visit after it: nothing changes).
SWITCH = {"S02": 0, "S04": 0, "S06": 8, "S07": 16}
VALUE = 25.0

HEAD = (MINI / "mini.sap").read_text().split("analysis D1 ")[0]


def _data(tmp_path):
    adsl = pd.read_csv(MINI / "adsl.csv")
    adsl["SWITCHFL"] = np.where(adsl.USUBJID.isin(SWITCH), "Y", "N")
    adsl["SWITCHWK"] = adsl.USUBJID.map(SWITCH)
    adsl.to_csv(tmp_path / "adsl.csv", index=False)


def _plan(tmp_path, text: str):
    path = write_plan(tmp_path, HEAD + text)
    _data(tmp_path)  # write_plan copied the mini data over it
    return path


COMPOSITE = """
estimand E_comp "Switching is a failure: the change is set to 25" {
  population FAS
  variable chg_score at week 16
  treatment "Active drug vs control"
  intercurrent switch composite with value 25
}

estimand E_nr "Switchers are non-responders" {
  population FAS
  variable improved at week 16
  intercurrent switch composite
}

analysis C16 "Change at week 16, composite" for E_comp {
  method descriptive
  variable chg_score, score
  by treatment
}

analysis CV "Change by visit, composite" for E_comp {
  method descriptive
  variable chg_score
  by treatment, visit
}

estimand E_par "Switchers get a score of 50" {
  population FAS
  variable score at week 16
  intercurrent switch composite with value 50
}

analysis CP "Score at week 16, composite on the parameter" for E_par {
  method descriptive
  variable score, chg_score
  by treatment
}

analysis NR "Responders at week 16, switchers non-responders" for E_nr {
  method descriptive
  variable improved
  by treatment
  options levels = ["Y", "N"], denominator = nonmissing
}
"""


def _hand() -> pd.DataFrame:
    """Change from baseline per FAS subject and scheduled visit, by the definition: every
    scheduled visit of a subject (a missing value stays missing), the change set to VALUE
    at the visits after the subject's switch."""
    adsl = pd.read_csv(MINI / "adsl.csv")
    adsl = adsl[adsl.FASFL == "Y"][["USUBJID", "TRT01P"]]
    eff = pd.read_csv(MINI / "adeff.csv")
    eff = eff[eff.PARAMCD == "SCORE"]
    base = eff[eff.AVISITN == 0].set_index("USUBJID").AVAL
    grid = adsl.merge(pd.DataFrame({"AVISITN": [0, 8, 16]}), how="cross")
    grid = grid.merge(eff[["USUBJID", "AVISITN", "AVAL"]], how="left")
    grid["chg"] = grid.AVAL - grid.USUBJID.map(base)
    grid["improved"] = (100 * grid.chg / grid.USUBJID.map(base) < -20).astype(float)
    grid.loc[grid.chg.isna(), "improved"] = np.nan
    after = grid.AVISITN > grid.USUBJID.map(SWITCH)  # NaN (no switch) compares False
    grid.loc[after, "chg"] = VALUE
    grid.loc[after, "improved"] = 0.0
    return grid


def _stat(frame, analysis, arm, name, variable=None, visit=None, level=None):
    rows = frame[(frame.analysis_id == analysis) & (frame.group1_level == arm)
                 & (frame.stat_name == name)]
    if variable is not None:
        rows = rows[rows.variable == variable]
    if visit is not None:
        rows = rows[(rows.group2 == "visit") & (rows.group2_level.astype(float) == visit)]
    if level is not None:
        rows = rows[rows.variable_level == level]
    assert len(rows) == 1, rows
    return float(rows.stat.iloc[0])


@pytest.fixture(scope="module")
def composite_ard(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("composite")
    run_plan(_plan(tmp, COMPOSITE), tmp / "out", jobs=1)
    return ard.read(tmp / "out" / "ard.parquet")


@pytest.mark.parametrize("arm", ["Active", "Control"])
def test_composite_value_matches_a_hand_computation(composite_ard, arm):
    hand = _hand()
    arm_rows = hand[hand.TRT01P == arm]
    for week in (0, 8, 16):
        values = arm_rows[arm_rows.AVISITN == week].chg.dropna()
        assert _stat(composite_ard, "CV", arm, "n", visit=week) == len(values)
        assert _stat(composite_ard, "CV", arm, "mean", visit=week) == \
            pytest.approx(values.mean(), rel=1e-12)
    at16 = arm_rows[arm_rows.AVISITN == 16].chg.dropna()
    assert _stat(composite_ard, "C16", arm, "mean", "chg_score") == \
        pytest.approx(at16.mean(), rel=1e-12)


def test_composite_changes_the_values_it_should():
    """The fixture really exercises the rule: a missing value after the event is set, a
    switch at the last visit changes nothing."""
    hand = _hand().set_index(["USUBJID", "AVISITN"])
    assert hand.loc[("S04", 8), "chg"] == VALUE  # missing in the data
    assert hand.loc[("S02", 16), "chg"] == VALUE
    assert hand.loc[("S07", 16), "chg"] == 1  # observed: 16 - 15
    assert hand.loc[("S02", 0), "chg"] == 0  # the event visit itself is before the rule


def test_composite_sets_only_the_estimands_variable(composite_ard):
    """The score itself (not the estimand's variable) keeps its observed week-16 values."""
    eff = pd.read_csv(MINI / "adeff.csv")
    adsl = pd.read_csv(MINI / "adsl.csv")
    ids = adsl.USUBJID[(adsl.TRT01P == "Active") & (adsl.FASFL == "Y")]
    observed = eff[(eff.AVISITN == 16) & eff.USUBJID.isin(ids)].AVAL
    assert _stat(composite_ard, "C16", "Active", "mean", "score") == \
        pytest.approx(observed.mean(), rel=1e-12)


@pytest.mark.parametrize("arm", ["Active", "Control"])
def test_composite_non_responder_matches_a_hand_computation(composite_ard, arm):
    hand = _hand()
    values = hand[(hand.TRT01P == arm) & (hand.AVISITN == 16)].improved.dropna()
    assert _stat(composite_ard, "NR", arm, "n", level="Y") == (values == 1).sum()
    assert _stat(composite_ard, "NR", arm, "n", level="N") == (values == 0).sum()


PRINCIPAL = """
estimand E_ps "Effect in those who would not switch on either arm" {
  population FAS
  variable chg_score at week 16
  intercurrent switch principal_stratum
  summary "Difference in means, Active - Control"
}

analysis P1 "Change at week 16, principal stratum" for E_ps {
  method descriptive
  variable chg_score
  by treatment
}

analysis P1s "By baseline score" = P1 by base_cat

analysis D1 "Change at week 16" {
  population FAS
  method descriptive
  variable chg_score
  at week 16
  by treatment
}

table "1" "Change at week 16" {
  population FAS
  columns treatment
  rows P1 "Principal stratum" show n, mean_sd
  rows D1 "Observed" show n, mean_sd
}

figure "1" "Principal stratum" = P1 {
  population FAS
}
"""


def test_sap254_principal_stratum_is_not_estimable(tmp_path, sap_run):
    path = _plan(tmp_path, PRINCIPAL)
    checked = check_plan(path)
    assert sorted(checked.not_estimable) == ["P1", "P1s"]
    warning = checked.not_estimable["P1"]
    assert warning.severity == "warning" and warning.code == "SAP254"
    assert warning.location.line == path.read_text().splitlines().index(
        'analysis P1 "Change at week 16, principal stratum" for E_ps {') + 1
    explained = explain_plan(path)
    assert "not run: P1 (not estimable" in explained and "step 1: P1 " not in explained
    done = sap_run("check", path.name, cwd=tmp_path)
    assert done.returncode == 0
    assert "warning[SAP254]" in done.stderr and "not estimable" in done.stderr
    done = sap_run("run", path.name, "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning[SAP254]" in done.stderr
    frame = ard.read(tmp_path / "out" / "ard.parquet")
    assert not frame.analysis_id.str.startswith("P1").any()  # not run: no number at all
    assert (frame.analysis_id == "D1").any()
    for name in ("report.html", "report.md"):
        text = (tmp_path / "out" / name).read_text()
        assert "not estimable by the chosen method" in text


@pytest.mark.parametrize("arm", ["Active", "Control"])
def test_composite_on_a_parameter_sets_its_value_only(composite_ard, arm):
    """With the parameter as the variable the score is set; the change (another variable
    of the analysis) stays as observed."""
    eff = pd.read_csv(MINI / "adeff.csv")
    eff = eff[eff.PARAMCD == "SCORE"]
    adsl = pd.read_csv(MINI / "adsl.csv")
    ids = adsl.USUBJID[(adsl.TRT01P == arm) & (adsl.FASFL == "Y")]
    at16 = eff[(eff.AVISITN == 16) & eff.USUBJID.isin(ids)].set_index("USUBJID").AVAL
    base = eff[eff.AVISITN == 0].set_index("USUBJID").AVAL
    observed_change = (at16 - base.reindex(at16.index)).dropna()
    at16 = at16.copy()
    at16[at16.index.map(SWITCH).to_numpy(dtype=float) < 16] = 50.0
    assert _stat(composite_ard, "CP", arm, "mean", "score") == \
        pytest.approx(at16.dropna().mean(), rel=1e-12)
    assert _stat(composite_ard, "CP", arm, "mean", "chg_score") == \
        pytest.approx(observed_change.mean(), rel=1e-12)
