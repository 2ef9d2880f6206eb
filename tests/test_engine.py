"""End to end on the mini study, every number checked against a hand computation.

Change from baseline at week 16 in the full analysis set (S08 is not in it), with the
switch rule for S06 (switched at week 8: its week-8 value 22 is carried forward):
  Active:  S01 10-20=-10, S02 8-12=-4, S03 19-30=-11, S04 7-8=-1
  Control: S05 23-25=-2,  S06 22-18=+4 (not the observed 10-18=-8), S07 16-15=+1
"""

from __future__ import annotations

import math

import pyarrow.parquet as pq
import pytest
from conftest import MINI

from sap_engine import ard
from sap_engine.api import run_plan


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    out = tmp_path_factory.mktemp("mini") / "out"
    result = run_plan(MINI / "mini.sap", out)
    return result, ard.read(out / "ard.parquet")


def value(frame, analysis, stat, level=None, **groups):
    rows = frame[(frame.analysis_id == analysis) & (frame.stat_name == stat)]
    if level is not None:
        rows = rows[rows.variable_level == level]
    for name, want in groups.items():
        rows = rows[(rows.group1 == name) & (rows.group1_level == want)]
    assert len(rows) == 1, rows
    return float(rows.stat.iloc[0])


def test_change_summaries_by_hand(mini):
    _, f = mini
    assert value(f, "D1", "n", TRT01P="Active") == 4
    assert value(f, "D1", "mean", TRT01P="Active") == pytest.approx(-6.5)
    # deviations -3.5, 2.5, -4.5, 5.5: sum of squares 69, variance 69/3 = 23
    assert value(f, "D1", "sd", TRT01P="Active") == pytest.approx(math.sqrt(23))
    assert value(f, "D1", "median", TRT01P="Active") == pytest.approx(-7.0)
    assert value(f, "D1", "q1", TRT01P="Active") == pytest.approx(-10.5)  # n*p = 1: average
    assert value(f, "D1", "q3", TRT01P="Active") == pytest.approx(-2.5)
    assert value(f, "D1", "mean", TRT01P="Control") == pytest.approx(1.0)  # (-2 + 4 + 1) / 3
    assert value(f, "D1", "n", TRT01P="Total") == 7
    # Total sorted: -11 -10 -4 -2 -1 1 4; QNTLDEF=5: Q1 = x(2), median = x(4), Q3 = x(6)
    assert value(f, "D1", "q1", TRT01P="Total") == -10
    assert value(f, "D1", "median", TRT01P="Total") == -2
    assert value(f, "D1", "q3", TRT01P="Total") == 1
    se = math.sqrt(23) / 2
    half = 3.182446305284263 * se  # t(0.975, 3)
    assert value(f, "D1", "mean_ci_lower", TRT01P="Active") == pytest.approx(-6.5 - half)


def test_switch_rule_applies_only_to_its_estimand(mini):
    _, f = mini
    # Without the hypothetical strategy S06 keeps its observed change -8: (-2 - 8 + 1) / 3
    assert value(f, "D1_obs", "mean", TRT01P="Control") == pytest.approx(-3.0)
    assert value(f, "D1", "mean", TRT01P="Control") == pytest.approx(1.0)


def test_by_stratum_ids_and_counts(mini):
    _, f = mini
    ids = set(f.analysis_id)
    # baseline <= 15: S02 (12), S04 (8), S07 (15); > 15: S01, S03, S05, S06
    assert {"D1s[base_cat=low]", "D1s[base_cat=high]"} <= ids
    low = f[(f.analysis_id == "D1s[base_cat=low]") & (f.stat_name == "n")]
    counts = dict(zip(low.group1_level, low.stat))
    assert counts == {"Active": 2.0, "Control": 1.0, "Total": 3.0}


def test_categorical_counts_and_population_denominator(mini):
    _, f = mini
    assert value(f, "S1", "n", level="F", TRT01P="Active") == 3
    assert value(f, "S1", "pct", level="F", TRT01P="Control") == pytest.approx(200 / 3)
    assert value(f, "S1", "N", TRT01P="Total") == 7


def test_responder_endpoint_with_switch_rule(mini):
    _, f = mini
    # percent change < -20: S01 -50, S02 -33.3, S03 -36.7 yes; S04 -12.5 no
    assert value(f, "R1", "n", level="Y", TRT01P="Active") == 3
    # Control: S05 -8, S06 +22.2 (switch rule), S07 +6.7: none
    assert value(f, "R1", "n", level="Y", TRT01P="Control") == 0
    assert value(f, "R1", "pct", level="N", TRT01P="Control") == 100


def test_smd_pooled_sd_by_hand(mini):
    _, f = mini
    active, control = [20, 12, 30, 8], [25, 18, 15]
    ma, mc = sum(active) / 4, sum(control) / 3
    ssa = sum((x - ma) ** 2 for x in active)
    ssc = sum((x - mc) ** 2 for x in control)
    d = (ma - mc) / math.sqrt((ssa + ssc) / 5)
    assert value(f, "SMD1", "smd", level="Active - Control") == pytest.approx(d)


def test_ard_contract(mini):
    result, f = mini
    table = pq.read_table(result.out_dir / "ard.parquet")
    names = table.schema.names
    assert names[:4] == ["analysis_id", "analysis_label", "method", "population"]
    assert names[-7:] == ["variable", "variable_level", "stat_name", "stat_label", "stat",
                          "stat_text", "plan_line"]
    assert str(table.schema.field("stat").type) == "double"
    assert str(table.schema.field("plan_line").type) == "int32"
    group_cols = [c for c in names if c.startswith("group")]
    key = ["analysis_id", *group_cols, "variable", "variable_level", "stat_name"]
    assert not f.duplicated(key).any()
    meta = f.attrs["sap_engine"]
    for k in ("plan_path", "plan_sha256", "data_sha256", "engine_version",
              "dependency_versions", "created_utc", "command_line", "seeds"):
        assert k in meta
    assert len(meta["plan_sha256"]) == 64
    # Every row traces back to its plan statement.
    assert (f.plan_line > 0).all()
    line = (MINI / "mini.sap").read_text().splitlines()[int(value_line(f, "D1")) - 1]
    assert line.startswith("analysis D1 ")


def value_line(f, analysis):
    return f[f.analysis_id == analysis].plan_line.iloc[0]


def test_documents_rendered(mini):
    result, _ = mini
    html = (result.out_dir / "report.html").read_text()
    md = (result.out_dir / "report.md").read_text()
    assert "Table 1 Change from baseline at week 16" in html
    assert "-6.5 (4.80)" in html and "-6.5 (4.80)" in md
    # Self-contained: no external resources.
    for marker in ("http://", "https://", "<script src", "<link "):
        assert marker not in html


def test_rounding_is_a_plan_option():
    from sap_engine.render.format import ROUNDING, fmt_pattern, sas_round

    assert sas_round(0.125, 2) == 0.13 and sas_round(-2.5, 0) == -3.0  # SAS ROUND
    token = ROUNDING.set("half_even")
    try:
        assert sas_round(0.125, 2) == 0.12 and sas_round(-2.5, 0) == -2.0
        assert fmt_pattern("xx.x (xx.xx)", 2.25, 0.125) == "2.2 (0.12)"
    finally:
        ROUNDING.reset(token)
    from sap_engine.parse import parse_text

    plan = parse_text('document "D" { include all rounding half_even }')
    assert plan.document.rounding == "half_even"


def test_locf_carries_the_last_value_forward(tmp_path):
    from conftest import write_plan

    extra = '''analysis W8_oc "Week 8, observed" {
  population FAS
  method descriptive
  variable chg_score
  at week 8
  by treatment
}

analysis W8_locf "Week 8, LOCF" {
  population FAS
  method descriptive
  variable chg_score
  at week 8
  by treatment
  missing locf
}

document "Mini results"'''
    text = (MINI / "mini.sap").read_text().replace('document "Mini results"', extra)
    out = tmp_path / "o"
    run_plan(write_plan(tmp_path, text), out)
    f = ard.read(out / "ard.parquet")
    # Active week 8: S01 -6, S02 -3, S03 -6; S04 is missing (observed case n = 3);
    # LOCF carries S04's last value (its baseline, 8) forward: change 0.
    assert value(f, "W8_oc", "n", TRT01P="Active") == 3
    assert value(f, "W8_oc", "mean", TRT01P="Active") == pytest.approx(-5.0)
    assert value(f, "W8_locf", "n", TRT01P="Active") == 4
    assert value(f, "W8_locf", "mean", TRT01P="Active") == pytest.approx(-15 / 4)


def test_family_aggregates_and_their_checks(tmp_path):
    from conftest import write_plan

    from sap_engine.errors import PlanCheckError

    base = (MINI / "mini.sap").read_text()
    extra = '''parameter arm_score "Score by visit family" = adeff.AVAL by PARAMCD

endpoint worst "Highest score over the family" = max(arm_score)

analysis AGG "Highest score at week 16" {
  population FAS
  method descriptive
  variable worst
  at week 16
  by treatment
}

document "Mini results"'''
    out = tmp_path / "o"
    run_plan(write_plan(tmp_path, base.replace('document "Mini results"', extra)), out)
    f = ard.read(out / "ard.parquet")
    # One member (SCORE): the maximum is the week-16 value itself: Active 10, 8, 19, 7
    assert value(f, "AGG", "mean", TRT01P="Active") == pytest.approx(11.0)
    bad = base.replace('document "Mini results"', 'endpoint nope = max(score)\n\n'
                       'document "Mini results"')
    with pytest.raises(PlanCheckError) as err:
        from sap_engine.api import check_plan

        check_plan(write_plan(tmp_path, bad, "bad.sap"))
    assert "SAP223" in err.value.codes


def test_max_and_min_over_visits_by_hand(tmp_path):
    from conftest import write_plan

    extra = '''endpoint peak "Highest score" = max_over_visits(score)
endpoint low "Lowest score" = min_over_visits(score)

analysis OV "Highest and lowest score, observed" {
  population FAS
  method descriptive
  variable peak, low
  by treatment
}

analysis OV_E1 "Highest and lowest score, switch rule" for E1 {
  method descriptive
  variable peak, low
  by treatment
}

document "Mini results"'''
    text = (MINI / "mini.sap").read_text().replace('document "Mini results"', extra)
    out = tmp_path / "o"
    run_plan(write_plan(tmp_path, text), out)
    f = ard.read(out / "ard.parquet")

    def mean(analysis, variable, arm):
        rows = f[(f.analysis_id == analysis) & (f.variable == variable)
                 & (f.stat_name == "mean") & (f.group1_level == arm)]
        return float(rows.stat.iloc[0])

    # Active: S01 20/14/10, S02 12/9/8, S03 30/24/19, S04 8/-/7 (the missing week skipped).
    assert mean("OV", "peak", "Active") == pytest.approx((20 + 12 + 30 + 8) / 4)
    assert mean("OV", "low", "Active") == pytest.approx((10 + 8 + 19 + 7) / 4)
    # Control (S08 is not in the FAS): S05 25/24/23, S06 18/22/10 (switched at week 8),
    # S07 15/15/16. Observed, S06's lowest is its week-16 10; under the switch rule week 16
    # carries its week-8 22 forward, so its lowest is the baseline 18; its highest stays 22.
    assert mean("OV", "peak", "Control") == pytest.approx((25 + 22 + 16) / 3)
    assert mean("OV", "low", "Control") == pytest.approx((23 + 10 + 15) / 3)
    assert mean("OV_E1", "low", "Control") == pytest.approx((23 + 18 + 15) / 3)
    assert mean("OV_E1", "peak", "Control") == pytest.approx((25 + 22 + 16) / 3)


def test_over_visits_needs_a_plain_parameter(tmp_path):
    from conftest import write_plan

    from sap_engine.api import check_plan
    from sap_engine.errors import PlanCheckError

    bad = (MINI / "mini.sap").read_text().replace(
        'document "Mini results"',
        'endpoint nope = max_over_visits(chg_score)\n\ndocument "Mini results"')
    with pytest.raises(PlanCheckError) as err:
        check_plan(write_plan(tmp_path, bad))
    assert err.value.codes == ["SAP224"]
    assert "did you mean 'score'" in str(err.value)


def test_labels_of_a_binary_endpoint_are_display_only(tmp_path):
    from conftest import write_plan

    extra = '''labels improved { "Y" = "Improved"  "N" = "Not improved" }

table "2" "Responders at week 16" {
  population FAS
  columns treatment
  rows R1 "Score improved by more than 20 %, n (%)"
}

document "Mini results"'''
    text = (MINI / "mini.sap").read_text().replace('document "Mini results"', extra)
    out = tmp_path / "o"
    run_plan(write_plan(tmp_path, text), out)
    md = (out / "report.md").read_text()
    # Active: 3 of 4 responders (S01, S02, S03); Control: none of 3 (see above)
    assert "| &nbsp;&nbsp;Improved | 3 (75.0) | 0 (0.0) |" in md
    assert "| &nbsp;&nbsp;Not improved | 1 (25.0) | 3 (100.0) |" in md
    # The ARD keeps the data's values; labels are for display.
    f = ard.read(out / "ard.parquet")
    assert value(f, "R1", "n", level="Y", TRT01P="Active") == 3
