"""Parameters over a text column (ADLBC's ANRIND: a reference-range category per visit),
checked against counts made by hand from tests/fixtures/visits/adlb.csv:

    subject arm      BNRIND  week 0  week 2  week 4
    S01     Active   N       N       N       N
    S02     Active   L       L       N       -
    S03     Active   H       H       N       N
    S04     Active   N       N       N       N
    S05     Control  N       N       N       N
    S06     Control  N       N       -       N
    S07     Control  N       N       H       H
    S08     Control  N       N       N       N
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from sap_engine import ard
from sap_engine.api import check_plan, run_plan
from sap_engine.errors import SapError

PLAN = """\
data {{
  dataset adsl from "adsl.csv" key USUBJID subjects
  dataset adlb from "adlb.csv" key USUBJID, PARAMCD, AVISITN
}}

treatment TRT01P {{
  arm Active "Active drug"
  arm Control "Control" reference
}}

population ALL "All subjects" = adsl where AGE > 0

visits AVISITN {{
  baseline 0
  scheduled 0, 2, 4
  label "Week" from AVISIT
}}

parameter gind "Glucose reference range" = adlb.ANRIND where PARAMCD == "GLUC" baseline BNRIND
{extra}
endpoint high "Above the range" = gind == "H"

analysis T "Range by visit" {{
  population ALL
  method descriptive
  variable gind
  by treatment, visit
}}

analysis TB "Range at baseline" {{
  population ALL
  method descriptive
  variable baseline(gind)
  by treatment
}}

analysis TH "Above the range at week 4" {{
  population ALL
  method descriptive
  variable high
  at week 4
  by treatment
}}

analysis T4 "Range at week 4, imputed" {{
  population ALL
  method descriptive
  variable gind
  at week 4
  by treatment
  {missing}
}}

table "1" "Reference range by visit" {{
  population ALL
  columns treatment
  rows TB "Baseline category"
  rows T "Category"
}}
"""

LABELS = '\nlabels gind {\n  "L" = "Low"\n  "N" = "Normal"\n  "H" = "High"\n}\n'


def _plan(tmp_path: Path, extra: str = "", missing: str = "missing locf") -> Path:
    (tmp_path / "adsl.csv").write_bytes((ROOT / "tests/fixtures/mini/adsl.csv").read_bytes())
    (tmp_path / "adlb.csv").write_bytes((ROOT / "tests/fixtures/visits/adlb.csv").read_bytes())
    path = tmp_path / "text.sap"
    path.write_text(PLAN.format(extra=extra, missing=missing), encoding="utf-8")
    return path


def _counts(f, analysis: str) -> dict[tuple, float]:
    """(arm, visit or None, category) -> n, the categories' rows only."""
    rows = f[(f.analysis_id == analysis) & (f.stat_name == "n") & f.variable_level.notna()]
    out = {}
    for r in rows.itertuples():
        visit = r.group2_level if r.group2 == "visit" else None
        if r.stat:  # a zero row of a labelled category: not a count to compare
            out[(r.group1_level, visit, r.variable_level)] = r.stat
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("text")
    path = _plan(tmp, LABELS)
    run_plan(path, tmp / "out", jobs=1)
    return ard.read(tmp / "out" / "ard.parquet"), \
        (tmp / "out" / "report.md").read_text(encoding="utf-8")


def test_descriptive_counts_each_category_at_each_visit(run):
    f, _ = run
    assert _counts(f, "T") == {
        ("Active", "0", "L"): 1, ("Active", "0", "N"): 2, ("Active", "0", "H"): 1,
        ("Active", "2", "N"): 4, ("Active", "4", "N"): 3,
        ("Control", "0", "N"): 4, ("Control", "2", "N"): 2, ("Control", "2", "H"): 1,
        ("Control", "4", "N"): 3, ("Control", "4", "H"): 1}
    missing = f[(f.analysis_id == "T") & (f.stat_name == "n_missing")]
    got = {(r.group1_level, r.group2_level): r.stat for r in missing.itertuples() if r.stat}
    assert got == {("Active", "4"): 1, ("Control", "2"): 1}  # S02 at week 4, S06 at week 2


def test_baseline_is_the_baseline_category(run):
    f, _ = run
    assert _counts(f, "TB") == {("Active", None, "L"): 1, ("Active", None, "N"): 2,
                                ("Active", None, "H"): 1, ("Control", None, "N"): 4}


def test_a_condition_on_a_text_parameter_is_a_flag(run):
    f, _ = run
    assert _counts(f, "TH") == {("Active", None, "N"): 3, ("Control", None, "N"): 3,
                                ("Control", None, "Y"): 1}


def test_locf_and_bocf_carry_the_category(run, tmp_path):
    f, _ = run
    # LOCF: S02's week-2 "N" at week 4.
    assert _counts(f, "T4") == {("Active", None, "N"): 4, ("Control", None, "N"): 3,
                                ("Control", None, "H"): 1}
    path = _plan(tmp_path, missing="missing bocf")
    run_plan(path, tmp_path / "out", jobs=1)
    g = ard.read(tmp_path / "out" / "ard.parquet")
    # BOCF: S02's baseline "L" at week 4.
    assert _counts(g, "T4") == {("Active", None, "N"): 3, ("Active", None, "L"): 1,
                                ("Control", None, "N"): 3, ("Control", None, "H"): 1}


def test_labels_name_and_order_the_categories(run):
    _, report = run
    table = report.split("## Table 1 ", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1].replace("&nbsp;", "").strip() for line in table.splitlines()
            if line.startswith("| &nbsp;")]
    # Each section in the labels' order, every category shown (zeros too).
    assert rows[:3] == ["Low", "Normal", "High"]
    assert rows == ["Low", "Normal", "High"] * 4
    assert "**Category: Week 2**" in table


def _problems(path: Path) -> str:
    with pytest.raises(SapError) as info:
        check_plan(path)
    return info.value.render()


@pytest.mark.parametrize("endpoint, function", [
    ("change(gind)", "change()"), ("percent_change(gind)", "percent_change()"),
    ("max_over_visits(gind)", "max_over_visits()")])
def test_a_numeric_function_of_a_text_parameter_is_sap204_at_the_call(tmp_path, endpoint,
                                                                      function):
    text = _problems(_plan(tmp_path, f'\nendpoint bad "Bad" = {endpoint}\n'))
    assert f"error[SAP204]: {function} needs a numeric parameter, but 'gind' is text " \
           "(column 'ANRIND' of 'adlb')" in text
    assert f'endpoint bad "Bad" = {endpoint}' in text  # located at the endpoint's line


def test_log_of_a_text_parameter_is_sap204(tmp_path):
    text = _problems(_plan(tmp_path, '\nendpoint bad "Bad" = log(gind)\n'))
    assert "error[SAP204]: log() needs a number" in text


def test_wocf_of_a_text_parameter_is_sap204_at_the_missing(tmp_path):
    text = _problems(_plan(tmp_path, missing="missing wocf worst highest"))
    assert "error[SAP204]: analysis 'T4': 'missing wocf' imputes the worst value observed, " \
           "but 'gind' is a text parameter" in text
    assert "|   missing wocf worst highest" in text


def test_labels_of_a_text_parameter_name_its_values(tmp_path):
    text = _problems(_plan(tmp_path, '\nlabels gind {\n  "X" = "Unknown"\n}\n'))
    assert "error[SAP203]: 'gind' (column 'ANRIND') takes the values" in text
    numeric = ('\nparameter glu "Glucose" = adlb.AVAL where PARAMCD == "GLUC"\n'
               '\nlabels glu {\n  "1" = "One"\n}\n')
    assert "error[SAP204]: 'glu' is numeric" in _problems(_plan(tmp_path, numeric))
