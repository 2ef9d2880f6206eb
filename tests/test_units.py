"""``by visit`` evaluates every visit at once; it must equal one analysis per visit.

With ``by visit`` the unit of analysis is (subject, visit) and every scheduled visit is
evaluated in one pass. The reference is the same analysis written ``at week W`` for each
week, which evaluates one visit at a time. They must agree under each intercurrent-event
rule (switch rule, deletion, non-responder) and missing-data rule (observed, LOCF, BOCF),
for changes, binary endpoints, family aggregates and strata.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import MINI, write_plan

from sap_engine import ard
from sap_engine.api import run_plan

WEEKS = (0, 8, 16)

ESTIMANDS = '''estimand E_last "Switch rule" {
  population FAS
  variable chg_score
  intercurrent switch hypothetical with last_before
}

estimand E_del "Values after the switch deleted" {
  population FAS
  variable chg_score
  intercurrent switch hypothetical with missing
}

estimand E_nr "Switchers are non-responders" {
  population FAS
  variable improved
  intercurrent switch composite with non_responder
}

parameter fam "Scores" = adeff.AVAL by PARAMCD
endpoint worst "Highest score" = max(fam)
'''

VARIANTS = {
    "observed": ("", ""),
    "locf": ("", "  missing locf\n"),
    "bocf": ("", "  missing bocf\n"),
    "switch_rule": (" for E_last", ""),
    "deleted": (" for E_del", ""),
    "non_responder": (" for E_nr", ""),
}


def _data(tmp_path):
    rows = pd.read_csv(MINI / "adeff.csv")
    two = rows.copy()
    two["PARAMCD"] = "SCORE2"
    two["AVAL"] = 30 - two["AVAL"]
    pd.concat([rows, two]).to_csv(tmp_path / "adeff.csv", index=False)


def _analysis(name, head, tail, when):
    pop = "" if head else "  population FAS\n"
    return (f'analysis {name} "{name}"{head} {{\n{pop}  method descriptive\n'
            f'  variable chg_score, improved, worst\n{when}{tail}}}\n\n')


def _plan(variant: str, stratified: bool) -> str:
    head, tail = VARIANTS[variant]
    strata = ", base_cat" if stratified else ""
    text = ESTIMANDS + "\n" + _analysis("BV", head, tail, f"  by treatment{strata}, visit\n")
    for w in WEEKS:
        text += _analysis(f"W{w}", head, tail, f"  at week {w}\n  by treatment{strata}\n")
    base = (MINI / "mini.sap").read_text()
    return base.replace('document "Mini results"', text + 'document "Mini results"')


def _cells(frame, analysis):
    rows = frame[frame.analysis_id == analysis]
    out = {}
    for r in rows.to_dict("records"):
        groups, week = [], None
        i = 1
        while f"group{i}" in r:
            g, level = r[f"group{i}"], r[f"group{i}_level"]
            if isinstance(g, str):
                if g == "visit":
                    week = float(level)
                else:
                    groups.append((g, level))
            i += 1
        out[(week, tuple(groups), r["variable"], r["variable_level"], r["stat_name"])] = \
            r["stat"]
    return out


@pytest.mark.parametrize("stratified", [False, True], ids=["arms", "strata"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_by_visit_equals_one_analysis_per_week(tmp_path, variant, stratified):
    _data(tmp_path)
    plan = write_plan(tmp_path, _plan(variant, stratified))
    _data(tmp_path)  # write_plan copied the mini data over it
    run_plan(plan, tmp_path / "o", jobs=1)
    f = ard.read(tmp_path / "o" / "ard.parquet")
    by_visit = _cells(f, "BV")
    expected = {}
    for w in WEEKS:
        expected.update({(float(w), *k[1:]): v for k, v in _cells(f, f"W{w}").items()})
    assert len(expected) > 100
    assert by_visit.keys() == expected.keys()
    for key, value in expected.items():
        assert by_visit[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
