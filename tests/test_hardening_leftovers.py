"""Hardening leftovers (issue 8): plans that passed ``check`` and then failed at ``run`` with
an internal error, gave a silently wrong number (a Total that is not the sum of the arms,
missing values instead of an error), or rendered a row twice.

Every plan here is the mini study's plan (tests/fixtures/mini) with one change. Each case
ends as a located exit-2 error (at ``check`` when the plan and the data's schema show it)
or as a correct result.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import MINI, write_plan
from test_hardening_check import diagnostics, line_of, only

from sap_engine.api import check
from sap_engine.errors import Diagnostic
from sap_engine.execute import Results, execute
from sap_engine.parse import parse_file

BASE = (MINI / "mini.sap").read_text()
SMD1 = BASE[BASE.index("analysis SMD1"):BASE.index('table "1"')]
NO_SMD = BASE.replace(SMD1, "")  # the mini plan without its two-arm SMD

# One arm declared, and the FAS limited to it: subjects of Control are then outside every
# population unless a filter the checker cannot evaluate lets them in.
ONE_ARM = NO_SMD.replace('  arm Active "Active drug"\n  arm Control "Control" reference',
                         '  arm Active "Active drug" reference').replace(
    'adsl where FASFL == "Y"', 'adsl where FASFL == "Y" and TRT01P == "Active"')


# The checker's helpers: one plan beside the mini data, its diagnostics.


def executed(tmp_path: Path, text: str) -> Results:
    """Check (which must pass) and execute ``text`` in this process."""
    path = write_plan(tmp_path, text)
    return execute(check(parse_file(path)))


def failure(tmp_path: Path, text: str, code: str) -> Diagnostic:
    """The one failure of running ``text``: ``code``, located in the plan."""
    results = executed(tmp_path, text)
    assert [d.code for d in results.failures] == [code], \
        [d.render() for d in results.failures]
    d = results.failures[0]
    assert d.location is not None and d.location.line > 0 and d.source_line is not None
    return d


def stats(results: Results, analysis: str) -> dict[tuple, float | None]:
    """{(groups, variable_level, stat_name): stat} of one analysis."""
    return {(r["groups"], r["variable_level"], r["stat_name"]): r["stat"]
            for r in results.rows if r["analysis_id"] == analysis}


# ---- 1. method smd on a population with one arm (was StopIteration: internal error)


@pytest.mark.parametrize("arm", ["Control", "Active"])
def test_smd_on_a_population_of_one_arm_is_a_located_error(tmp_path, arm):
    text = NO_SMD + f'''
population ONE "One arm" = adsl where TRT01P == "{arm}"
analysis SMD2 "SMD in one arm" {{
  population ONE
  method smd
  variable adsl.AGE
}}
'''
    d = failure(tmp_path, text, "SAP484")
    assert d.location.line == line_of(text, "analysis SMD2")
    assert f"'{arm}'" in d.message and "two arms" in d.message


# ---- 2. subjects of an undeclared arm let in by a filter check cannot evaluate


UNDECLARED = ONE_ARM + '''
population ALL "All subjects" = adsl where FASFL == "Y"
analysis A2 "Age" {
  population ALL where baseline(score) > 0
  method descriptive
  variable adsl.AGE
  by treatment, total
}
'''


def test_an_undeclared_arm_behind_an_endpoint_filter_is_refused_by_descriptive(tmp_path):
    # Was: Total n = 7 beside Active n = 4 (the 3 Control subjects in no column), exit 0.
    assert diagnostics(tmp_path, UNDECLARED) == []  # check cannot evaluate baseline()
    d = failure(tmp_path, UNDECLARED, "SAP241")
    assert d.location.line == line_of(UNDECLARED, "analysis A2")
    assert "'Control'" in d.message and "3 subject(s)" in d.message


@pytest.mark.parametrize("method, lines", [
    ("smd", "  variable adsl.AGE\n"),
    ("chisq", "  crosstab treatment by adsl.SEX\n"),
    ("correlation", "  variable adsl.AGE, baseline(score)\n"),
])
def test_an_undeclared_arm_is_refused_for_every_method(tmp_path, method, lines):
    text = ONE_ARM + f'''
population ALL "All subjects" = adsl where FASFL == "Y"
analysis A2 "{method}" {{
  population ALL where baseline(score) > 0
  method {method}
{lines}}}
'''
    assert diagnostics(tmp_path, text) == []
    d = failure(tmp_path, text, "SAP241")
    assert "'Control'" in d.message and "3 subject(s)" in d.message


def test_an_undeclared_arm_in_a_table_population_is_refused_at_the_table(tmp_path):
    # The header's N per arm would not add up to its total.
    text = ONE_ARM + '''
population ALL "All subjects" = adsl where FASFL == "Y"
table "2" "Ages" {
  population ALL where baseline(score) > 0
  columns treatment, total
  rows S1 "Sex"
}
'''
    assert diagnostics(tmp_path, text) == []
    d = failure(tmp_path, text, "SAP241")
    assert d.location.line == line_of(text, 'table "2"')
    assert "table 2" in d.message and "3 subject(s)" in d.message


def test_a_declared_population_behind_an_endpoint_filter_still_runs(tmp_path):
    text = NO_SMD + '''
analysis A2 "Age" {
  population FAS where baseline(score) > 0
  method descriptive
  variable adsl.AGE
  by treatment, total
}
'''
    found = stats(executed(tmp_path, text), "A2")
    arm = {lev: found[((("TRT01P", lev),), None, "n")] for lev in ("Active", "Control", "Total")}
    assert arm == {"Active": 4.0, "Control": 3.0, "Total": 7.0}


# ---- 3. a value that needs a visit where there is none (was SAP219 at run only)


def test_a_population_filter_on_a_change_is_refused_at_check(tmp_path):
    # chg_score = change(score) is taken at a visit; a population is selected before any.
    text = BASE + '''
analysis A3 "Age of improvers" {
  population FAS where chg_score < 0
  method descriptive
  variable adsl.AGE
  at week 16
}
'''
    d = only(tmp_path, text, "SAP219")
    line = line_of(text, "population FAS where chg_score")
    assert (d.location.line, d.location.column) == (line, text.splitlines()[line - 1]
                                                     .index("chg_score") + 1)
    assert "chg_score" in d.message and "change(score)" in d.message


@pytest.mark.parametrize("where", ["score > 10", "value(score) > 10",
                                   "percent_change(score) < 0", "improved == \"Y\""])
def test_every_value_at_a_visit_in_a_population_filter_is_refused(tmp_path, where):
    text = BASE + f'''
table "2" "Ages" {{
  population FAS where {where}
  columns treatment
  rows S1 "Sex"
}}
'''
    assert only(tmp_path, text, "SAP219").location.line == line_of(text, "population FAS where")


@pytest.mark.parametrize("where", ["baseline(score) > 10", "max_over_visits(score) > 20",
                                   "base_cat == \"high\"", "adsl.AGE > 40"])
def test_a_population_filter_on_values_without_a_visit_still_runs(tmp_path, where):
    text = NO_SMD + f'''
analysis A3 "Age" {{
  population FAS where {where}
  method descriptive
  variable adsl.AGE
}}
'''
    results = executed(tmp_path, text)
    assert results.failures == []
    assert stats(results, "A3")[((), None, "n")] > 0


def test_an_analysis_of_a_change_without_a_visit_is_refused_at_check(tmp_path):
    text = BASE + '''
analysis A3 "No visit" {
  population FAS
  method descriptive
  variable chg_score
}
'''
    d = only(tmp_path, text, "SAP219")
    assert d.location.line == line_of(text, "variable chg_score", 4)
    assert "at week" in (d.message + (d.suggestion or ""))


def test_a_stratum_that_needs_a_visit_in_an_analysis_without_one_is_refused(tmp_path):
    text = BASE + '''
stratum chg_cat "Change" = change(score) cut (-inf, 0] "down", (0, inf) "up"
analysis S2 = S1 by chg_cat
'''
    d = only(tmp_path, text, "SAP219")
    assert d.location.line == line_of(text, "analysis S2")


# ---- 4. max() of a parameter family over a dataset without visits, at a visit


FAMILY_DATA = "USUBJID,PARAMCD,AVAL\n" + "".join(
    f"S0{i},{code},{i * k}\n" for i in range(1, 9) for code, k in (("A", 1), ("B", 2)))
FAMILY = '''
parameter fam "Scores without visits" = adfam.AVAL by PARAMCD
analysis F1 "Highest member" {{
  population FAS
  method descriptive
  variable max(fam)
{at}}}
'''


@pytest.mark.parametrize("at", ["  at week 16\n", "  by visit\n", ""])
def test_a_family_aggregate_over_a_dataset_without_visits_is_refused(tmp_path, at):
    # Was: at week 16, n = 0 in every group (every value silently missing), exit 0.
    (tmp_path / "adfam.csv").write_text(FAMILY_DATA)
    text = BASE.replace('key USUBJID, PARAMCD, AVISITN\n',
                        'key USUBJID, PARAMCD, AVISITN\n'
                        '  dataset adfam from "adfam.csv" key USUBJID, PARAMCD\n') + \
        FAMILY.format(at=at)
    d = only(tmp_path, text, "SAP243")
    assert d.location.line == line_of(text, "variable max(fam)")
    assert "adfam" in d.message and "AVISITN" in d.message


# ---- 5. a row or show item repeated in a table (was rendered twice)


@pytest.mark.parametrize("rows, what", [
    ('rows S1, S1 "Sex"', "analysis 'S1' is given twice"),
    ('rows D1 "Score" show n, mean_sd, n', "'show n' is given twice"),
    ('rows S1 "Sex"\n  rows S1 "Sex"', "'rows S1' is given twice"),
])
def test_a_row_or_show_item_repeated_in_a_table_is_refused(tmp_path, rows, what):
    text = BASE + f'''
table "2" "Again" {{
  population FAS
  columns treatment, total
  {rows}
}}
'''
    d = only(tmp_path, text, "SAP242")
    assert what in d.message and "table 2" in d.message
    assert d.location.line == line_of(text, 'table "2"') + 2 + len(rows.splitlines())
    if "show" in rows:  # at the repeated item
        assert d.location.column == text.splitlines()[d.location.line - 1].rindex("n") + 1


def test_one_analysis_in_two_rows_with_different_statistics_is_fine(tmp_path):
    text = BASE + '''
table "2" "Two views" {
  population FAS
  columns treatment, total
  rows D1 "Score, n" show n
  rows D1 "Score, mean" show mean_sd
}
'''
    assert diagnostics(tmp_path, text) == []


# ---- 6. methods on degenerate data (the sweep recorded in the report)


def with_columns(tmp_path: Path, **columns: list[str]) -> None:
    """Add columns (one value per subject S01-S08) to the copy of adsl.csv."""
    path = tmp_path / "adsl.csv"
    lines = path.read_text().splitlines()
    lines[0] += "".join(f",{name}" for name in columns)
    for i in range(1, len(lines)):
        lines[i] += "".join(f",{values[i - 1]}" for values in columns.values())
    path.write_text("\n".join(lines) + "\n")


def write_with_columns(tmp_path: Path, text: str, **columns: list[str]) -> Path:
    path = write_plan(tmp_path, text)
    with_columns(tmp_path, **columns)
    return path


def run_with_columns(tmp_path: Path, text: str, **columns: list[str]) -> Results:
    return execute(check(parse_file(write_with_columns(tmp_path, text, **columns))))


def test_binary_smd_with_every_value_missing_in_one_arm_names_the_arm(tmp_path):
    # Was: SAP472 "smd = nan" (the proportion of an empty arm).
    text = NO_SMD + '''
analysis SMD2 "Binary SMD" {
  population FAS
  method smd
  variable adsl.FLAG
}
'''
    results = run_with_columns(tmp_path, text, FLAG=["1", "0", "1", "0", "", "", "", ""])
    assert [d.code for d in results.failures] == ["SAP410"]
    assert "'Control'" in results.failures[0].message and "FLAG" in results.failures[0].message


COX = '''
analysis C1 "Cox" {{
  population {population}
  method cox
  model adsl.TTE ~ treatment + adsl.AGE
  roles event = adsl.{event}
{extra}}}
'''
TTE = ["10", "12", "3", "7", "5", "9", "11", "4"]


@pytest.mark.parametrize("population, event", [
    ('FAS where TRT01P == "Active"', "CNSR"),  # one arm in the population
    ("FAS", "CNSRX"),  # Control's events all missing: its rows are dropped
])
def test_cox_without_a_second_arm_is_refused_not_fitted_without_treatment(tmp_path,
                                                                           population, event):
    # Was: a model of AGE alone (the treatment term silently left out), exit 0.
    text = NO_SMD + COX.format(population=population, event=event, extra="")
    results = run_with_columns(tmp_path, text, TTE=TTE, CNSR=["0", "1", "0", "0", "1", "0",
                                                               "1", "0"],
                               CNSRX=["0", "1", "0", "0", "", "", "", ""])
    assert [d.code for d in results.failures] == ["SAP485"], results.rows[:3]
    assert "'Control'" in results.failures[0].message
    assert results.failures[0].location.line == line_of(text, "analysis C1")


def test_cox_within_each_arm_still_fits_without_a_group_parameter(tmp_path):
    text = NO_SMD + COX.format(population="FAS", event="CNSR", extra="  by treatment\n")
    results = run_with_columns(tmp_path, text, TTE=TTE,
                               CNSR=["0", "1", "0", "0", "0", "0", "0", "1"])
    assert results.failures == []
    estimates = {r["groups"]: r["variable_level"] for r in results.rows
                 if r["analysis_id"] == "C1" and r["stat_name"] == "hazard_ratio"}
    assert estimates == {(("TRT01P", "Active"),): "AGE", (("TRT01P", "Control"),): "AGE"}


def test_cmh_with_one_stratum_gives_the_mantel_haenszel_test_without_breslow_day(tmp_path):
    # Was: SAP472 (Breslow-Day p-value NaN with 0 df): the whole analysis failed.
    text = NO_SMD + '''
analysis M1 "CMH in one stratum" {
  population FAS
  method cmh
  crosstab treatment by adsl.SEX
  roles strata = adsl.ONE
}
'''
    results = run_with_columns(tmp_path, text, ONE=["a"] * 8)
    assert results.failures == []
    found = stats(results, "M1")
    assert not any(level and "breslow" in level for _, level, _ in found)
    # One 2 x 2 table: the MH chi-square is (n - 1) / n times Pearson's.
    # FAS: Active F, M, F, F; Control M, F, F -> [[3, 1], [2, 1]], n = 7.
    n, a, b, c, d = 7, 3, 1, 2, 1
    pearson = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    assert math.isclose(found[((), "general_association", "cmh_chisq")],
                        pearson * (n - 1) / n, rel_tol=1e-12)

