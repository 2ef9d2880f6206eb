"""A parameter family evaluated in one pass equals each member analysed on its own.

An analysis of a family (``parameter f = ... by PARAMCD``) evaluates every member at once,
with (subject, member) as the unit. The reference is the same analysis of each member
written as an ordinary parameter (``where PARAMCD == ...``), which takes the subject-level
path through the evaluator. Both must agree under every intercurrent-event rule and
missing-data rule, at one visit and by visit.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import MINI, write_plan

from sap_engine import ard
from sap_engine.api import run_plan

HANDLINGS = {
    "oc": "",
    "locf": "  missing locf\n",
    "bocf": "  missing bocf\n",
}


def _second_member(tmp_path):
    """adeff with a second parameter SCORE2: other values, other gaps (week 8 of S02)."""
    rows = pd.read_csv(MINI / "adeff.csv")
    two = rows.copy()
    two["PARAMCD"] = "SCORE2"
    two["AVAL"] = two["AVAL"] * 1.5 - 2
    two = two[~((two.USUBJID == "S02") & (two.AVISITN == 8))]
    return pd.concat([rows, two])


def _plan(handling: str, estimand: bool, by_visit: bool) -> str:
    base = (MINI / "mini.sap").read_text()
    head = " for E1" if estimand else ""
    pop = "" if estimand else "  population FAS\n"
    when = "  by treatment, visit\n" if by_visit else "  at week 16\n  by treatment\n"
    if estimand:
        when = "  by treatment, visit\n" if by_visit else "  by treatment\n"
    body = pop + "  method descriptive\n  variable {var}\n" + when + HANDLINGS[handling]
    extra = f'''parameter fam "Scores" = adeff.AVAL by PARAMCD
parameter s1 "Score 1" = adeff.AVAL where PARAMCD == "SCORE"
parameter s2 "Score 2" = adeff.AVAL where PARAMCD == "SCORE2"
endpoint chg_fam = change(fam)
endpoint chg_s1 = change(s1)
endpoint chg_s2 = change(s2)
endpoint resp_fam = percent_change(fam) < -20
endpoint resp_s2 = percent_change(s2) < -20

analysis FAM "Family"{head} {{
{body.format(var="chg_fam, resp_fam")}}}

analysis ONE "Member 1"{head} {{
{body.format(var="chg_s1")}}}

analysis TWO "Member 2"{head} {{
{body.format(var="chg_s2, resp_s2")}}}

document "Mini results"'''
    return base.replace('document "Mini results"', extra)


def _cells(frame, analysis, variable, member=None):
    rows = frame[(frame.analysis_id == analysis) & (frame.variable == variable)]
    if member is not None:
        rows = rows[(rows.group2 == "PARAMCD") & (rows.group2_level == member)
                    | (rows.group3 == "PARAMCD") & (rows.group3_level == member)]
    keys = []
    for r in rows.itertuples():
        groups = tuple((g, lv) for g, lv in ((r.group1, r.group1_level),
                                              (r.group2, r.group2_level),
                                              (r.group3, r.group3_level))
                       if isinstance(g, str) and g != "PARAMCD")
        keys.append((groups, r.variable_level, r.stat_name))
    return dict(zip(keys, rows.stat))


@pytest.mark.parametrize("estimand", [True, False], ids=["switch_rule", "policy"])
@pytest.mark.parametrize("by_visit", [False, True], ids=["week16", "by_visit"])
@pytest.mark.parametrize("handling", sorted(HANDLINGS))
def test_family_equals_members_analysed_alone(tmp_path, handling, estimand, by_visit):
    plan = write_plan(tmp_path, _plan(handling, estimand, by_visit))
    _second_member(tmp_path).to_csv(tmp_path / "adeff.csv", index=False)
    out = tmp_path / "o"
    run_plan(plan, out, jobs=1)
    f = ard.read(out / "ard.parquet")
    for group3 in ("group3", "group3_level"):
        if group3 not in f.columns:
            f[group3] = None
    fam1 = _cells(f, "FAM", "chg_fam", "SCORE")
    fam2 = _cells(f, "FAM", "chg_fam", "SCORE2")
    one, two = _cells(f, "ONE", "chg_s1"), _cells(f, "TWO", "chg_s2")
    assert fam1 and fam2 and len(fam1) == len(one) and len(fam2) == len(two)
    for fam, alone in ((fam1, one), (fam2, two)):
        for key, value in alone.items():
            assert fam[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
    resp_fam = _cells(f, "FAM", "resp_fam", "SCORE2")
    resp_two = _cells(f, "TWO", "resp_s2")
    assert resp_fam and {k: v for k, v in resp_fam.items()} == pytest.approx(resp_two,
                                                                             nan_ok=True)
