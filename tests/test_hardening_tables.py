"""Hardening, plan level (issue 8, point 19): a by-visit ANCOVA over the baseline visit, a
table whose population is not its analyses', and columns mixing arms with another variable.

Expected values come from the mini study's CSV files read here with pandas and numpy
(the hand-made data of tests/fixtures/mini), never from the engine's own output.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import MINI, write_plan

HEAD = (MINI / "mini.sap").read_text().split("estimand E1")[0]

DOCUMENT = """
document "Mini results" {
  template "results.html"
  include all
}
"""

ANCOVA_BY_VISIT = HEAD + """
analysis AV "ANCOVA by visit" {
  population FAS
  method ancova
  model chg_score ~ treatment + baseline(score)
  contrast Active - Control
  by visit
}

table "2" "ANCOVA by visit" {
  population FAS
  columns treatment
  rows AV "Score" show lsmean_se, diff_ci, p_value
}
""" + DOCUMENT


def _ard(out):
    return pq.read_table(out / "ard.parquet").to_pandas()


def _mini_change(week: int) -> pd.DataFrame:
    """chg = AVAL(week) - AVAL(0) of the FAS, observed values, from the CSV files."""
    adsl = pd.read_csv(MINI / "adsl.csv").set_index("USUBJID")
    adeff = pd.read_csv(MINI / "adeff.csv")
    wide = adeff.pivot(index="USUBJID", columns="AVISITN", values="AVAL")
    frame = pd.DataFrame({"trt": adsl.TRT01P, "base": wide[0], "chg": wide[week] - wide[0]})
    return frame[adsl.FASFL == "Y"].dropna()


def test_by_visit_ancova_reports_the_baseline_visit_as_not_estimable(tmp_path, sap_run):
    plan = write_plan(tmp_path, ANCOVA_BY_VISIT)
    out = tmp_path / "out"
    done = sap_run("run", plan, "--out", out)
    assert done.returncode == 0, done.stderr
    lines = ANCOVA_BY_VISIT.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("analysis AV"))
    assert f"plan.sap:{line}:1: warning[SAP474]: analysis AV: visit 0 is the baseline " \
           "visit" in done.stderr
    ard = _ard(out)
    av = ard[ard.analysis_id == "AV"]
    # Nothing infinite or NaN anywhere (the baseline visit stored t = inf and p = 0).
    assert all(s is None or math.isfinite(s) for s in ard.stat.tolist() if s == s)
    assert av.stat.notna().all()
    visits = set(av.group1_level[av.group1 == "visit"])
    assert visits == {"8", "16"}
    # The other visits are the ANCOVA they were: the week-16 difference by least squares.
    frame = _mini_change(16)
    x = np.column_stack([np.ones(len(frame)), (frame.trt == "Active").astype(float),
                         frame.base])
    beta = np.linalg.lstsq(x, frame.chg.to_numpy(dtype=float), rcond=None)[0]
    diff = av[(av.stat_name == "diff") & (av.group1_level == "16")].stat
    assert diff.tolist() == [pytest.approx(beta[1], rel=1e-10, abs=0)]
    report = (out / "report.md").read_text()
    assert "<0.0001" not in report
    assert "Note: Visit 0 is the baseline visit" in report


def test_ancova_at_the_baseline_visit_is_a_located_error(tmp_path, sap_run):
    text = ANCOVA_BY_VISIT.replace("  by visit\n", "  at week 0\n")
    plan = write_plan(tmp_path, text)
    out = tmp_path / "out"
    done = sap_run("run", plan, "--out", out)
    assert done.returncode == 2, done.stderr
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("analysis AV"))
    assert f"plan.sap:{line}:1: error[SAP473]: analysis AV: the model fits 'chg_score' " \
           "exactly" in done.stderr
    assert "internal error" not in done.stderr
    assert not out.exists()


POPULATIONS = HEAD + """
population HIGH "Subjects with a week-16 score above 10" = adeff where AVISITN == 16 and AVAL > 10

analysis S_high "Sex" {
  population HIGH
  method descriptive
  variable adsl.SEX
  by treatment, total
}

table "3" "Sex of the subjects with a high score" {
  population FAS
  columns treatment, total
  rows S_high "Sex, n (%)"
}
""" + DOCUMENT


def test_percentages_of_another_population_show_their_denominator(tmp_path, sap_run):
    """Header N is the table population (FAS); the rows are of HIGH: the N row shows it."""
    plan = write_plan(tmp_path, POPULATIONS)
    out = tmp_path / "out"
    done = sap_run("run", plan, "--out", out)
    assert done.returncode == 0, done.stderr
    adsl = pd.read_csv(MINI / "adsl.csv").set_index("USUBJID")
    adeff = pd.read_csv(MINI / "adeff.csv")
    high = adsl.loc[sorted(set(adeff.USUBJID[(adeff.AVISITN == 16) & (adeff.AVAL > 10)]))]
    fas = adsl[adsl.FASFL == "Y"]
    n_high = [int((high.TRT01P == a).sum()) for a in ("Active", "Control")] + [len(high)]
    n_fas = [int((fas.TRT01P == a).sum()) for a in ("Active", "Control")] + [len(fas)]
    assert n_high != n_fas  # the construct under test
    females = [int(((high.TRT01P == a) & (high.SEX == "F")).sum()) for a in ("Active",
                                                                           "Control")]
    females.append(int((high.SEX == "F").sum()))
    report = (out / "report.md").read_text()
    assert f"Active drug (N={n_fas[0]}) | Control (N={n_fas[1]}) | Total (N={n_fas[2]})" \
        in report
    assert "| &nbsp;&nbsp;N | " + " | ".join(map(str, n_high)) + " |" in report
    cells = " | ".join(f"{f} ({100 * f / n:.1f})" for f, n in zip(females, n_high))
    assert f"| &nbsp;&nbsp;Female | {cells} |" in report
    assert "percentages are of the N in its first row" in report


MIXED = HEAD + """
analysis S_cat "Sex by baseline score" {
  population FAS
  method descriptive
  variable adsl.SEX
  by treatment, base_cat
}

table "4" "Sex by baseline score" {
  population FAS
  columns treatment, base_cat
  rows S_cat "Sex, n (%)"
}
""" + DOCUMENT


def test_columns_mixing_arms_and_a_variable_is_a_located_error(tmp_path, sap_run):
    plan = write_plan(tmp_path, MIXED)
    out = tmp_path / "out"
    done = sap_run("run", plan, "--out", out)
    assert done.returncode == 2, done.stderr
    line = next(i for i, t in enumerate(MIXED.splitlines(), 1)
                if t.startswith("  columns treatment, base_cat"))
    # Refused by the checker (SAP235) before anything runs.
    assert f"plan.sap:{line}:22: error[SAP235]: 'columns base_cat' cannot" in done.stderr
    assert "internal error" not in done.stderr
    assert not out.exists()


NAN_MEAN = HEAD + """
analysis D_age "Age" {
  population FAS
  method descriptive
  variable adsl.AGE
  by treatment
}
""" + DOCUMENT


def test_a_non_finite_statistic_from_a_method_fails_its_analysis(tmp_path, monkeypatch):
    """The executor's guard (SAP472): a method that returns a NaN mean, as one computing
    over an infinite value would, fails its analysis at the plan line; nothing is written."""
    from dataclasses import replace

    from sap_engine.api import run_plan
    from sap_engine.errors import AnalysisError
    from sap_engine.methods import registry
    from sap_engine.methods.registry import Stat

    method = registry.get("descriptive")
    monkeypatch.setitem(registry.METHODS, "descriptive", replace(
        method, run=lambda frame, roles, options: [Stat("n", float(len(frame))),
                                                   Stat("mean", math.nan)]))
    plan = write_plan(tmp_path, NAN_MEAN)
    with pytest.raises(AnalysisError) as err:
        run_plan(plan, tmp_path / "out", jobs=1)
    line = next(i for i, t in enumerate(NAN_MEAN.splitlines(), 1) if t.startswith("analysis D_"))
    text = err.value.render()
    assert err.value.codes == ["SAP472"]
    assert f"plan.sap:{line}:1: error[SAP472]: analysis D_age: method descriptive gave " \
           "mean = nan" in text
    assert not (tmp_path / "out").exists()


NONMISSING = HEAD + """
analysis R_f "Improvement at week 8, women" {
  population FAS where adsl.SEX == "F"
  method descriptive
  variable improved
  at week 8
  by treatment
  options levels = ["Y", "N"], denominator = nonmissing
}

table "5" "Improvement at week 8, women" {
  population FAS
  columns treatment
  rows R_f "Improved, n (%)"
}
""" + DOCUMENT


def test_denominators_of_non_missing_values_are_shown_as_n(tmp_path, sap_run):
    """Women of the FAS: Active S01 (14/20: -30 %, improved), S03 (24/30: -20 %, not
    improved: the rule is < -20 %), S04 (no week-8 value); Control S06 (22/18: +22 %) and
    S07 (15/15: 0 %), neither improved. Percentages of the non-missing: Active 1/2, 1/2;
    Control 0/2, 2/2; the header N stays the FAS (4 and 3)."""
    plan = write_plan(tmp_path, NONMISSING)
    out = tmp_path / "out"
    done = sap_run("run", plan, "--out", out)
    assert done.returncode == 0, done.stderr
    report = (out / "report.md").read_text()
    assert "| Active drug (N=4) | Control (N=3) |" in report
    assert "| &nbsp;&nbsp;n | 2 | 2 |" in report
    assert "| &nbsp;&nbsp;Y | 1 (50.0) | 0 (0.0) |" in report
    assert "| &nbsp;&nbsp;N | 1 (50.0) | 2 (100.0) |" in report
    assert "percentages are of the n in its first row (the analysis population's subjects " \
           "with a value)" in report
