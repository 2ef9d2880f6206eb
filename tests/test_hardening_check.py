"""Hardening of the checker (issue 8, points 1, 2, 4, 10, 12, 19, 20): plans that used to
pass ``check`` and then run with a silently dropped definition, or fail at ``run`` with an
internal error, are refused by ``check`` with a located SAPnnn error.

Every plan here is the mini study's plan (tests/fixtures/mini) with one change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import MINI, write_plan

from sap_engine.api import check
from sap_engine.errors import Diagnostic, PlanCheckError
from sap_engine.parse import parse_file

BASE = (MINI / "mini.sap").read_text()

ANCOVA = '''
analysis A1 "ANCOVA" {
  population FAS
  method ancova
  model chg_score ~ treatment + baseline(score)
  at week 16
  contrast Active - Control
}
'''


def diagnostics(tmp_path: Path, text: str) -> list[Diagnostic]:
    """The diagnostics of checking ``text`` (beside copies of the mini data); [] if ok."""
    path = write_plan(tmp_path, text)
    try:
        check(parse_file(path))
    except PlanCheckError as exc:
        return exc.diagnostics
    return []


def only(tmp_path: Path, text: str, code: str) -> Diagnostic:
    """The one diagnostic of ``text``, which must have ``code`` and a plan location."""
    found = diagnostics(tmp_path, text)
    assert [d.code for d in found] == [code], [d.render() for d in found]
    d = found[0]
    assert d.location is not None and d.location.line > 0 and d.source_line is not None
    return d


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line starting with ``fragment`` (indent aside)."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1)
            if line.lstrip().startswith(fragment)]
    return hits[occurrence - 1]


def replace(old: str, new: str, text: str = BASE) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_mini_plan_checks():
    check(parse_file(MINI / "mini.sap"))


# ---- point 1: a name defined twice, a block given twice


DUPLICATES = {
    "analysis": ('\nanalysis D1 "again" {\n  population FAS\n  method descriptive\n'
                 '  variable adsl.AGE\n}\n', "analysis D1 ", "analysis 'D1' is defined twice"),
    "population": ('\npopulation FAS "All" = adsl\n', "population FAS ",
                   "population 'FAS' is defined twice"),
    "parameter": ('\nparameter score "S" = adeff.AVAL\n', "parameter score ",
                  "parameter 'score' is defined twice"),
    "endpoint": ('\nendpoint chg_score = change(score) * 2\n', "endpoint chg_score ",
                 "endpoint 'chg_score' is defined twice"),
    "stratum": ('\nstratum base_cat = baseline(score) cut (0, 20] "a", (20, inf) "b"\n',
                "stratum base_cat ", "stratum 'base_cat' is defined twice"),
    "intercurrent": ('\nintercurrent_event switch = adsl.SWITCHFL == "N" at adsl.SWITCHWK\n',
                     "intercurrent_event switch ", "intercurrent event 'switch' is defined"),
    "estimand": ('\nestimand E1 "again" {\n  population FAS\n}\n', "estimand E1 ",
                 "estimand 'E1' is defined twice"),
    "labels": ('\nlabels SEX {\n  "F" = "Woman"\n}\n', "labels SEX", "labels for 'SEX'"),
    "table": ('\ntable "1" "again" {\n  population FAS\n  columns treatment\n'
              '  rows S1 "Sex"\n}\n', 'table "1"', "table number '1' is used twice"),
    "figure": ('\nfigure "1" "a" = D1\nfigure "1" "b" = S1\n', 'figure "1"',
               "figure number '1' is used twice"),
}


@pytest.mark.parametrize("kind", sorted(DUPLICATES))
def test_a_name_defined_twice_is_an_error_at_the_second_definition(tmp_path, kind):
    extra, fragment, message = DUPLICATES[kind]
    text = BASE + extra
    d = only(tmp_path, text, "SAP225")
    first, second = line_of(text, fragment), line_of(text, fragment, 2)
    assert message in d.message
    assert d.location.line == second
    assert f"first at line {first}" in d.message


def test_two_datasets_of_one_name(tmp_path):
    text = replace('  dataset adeff from "adeff.csv"',
                   '  dataset adeff from "adsl.csv" key USUBJID\n  dataset adeff from "adeff.csv"')
    d = only(tmp_path, text, "SAP225")
    assert "dataset 'adeff' is defined twice" in d.message
    assert d.location.line == line_of(text, "dataset adeff", 2)


@pytest.mark.parametrize("block", ["treatment", "visits", "document", "study"])
def test_a_repeated_single_block_is_an_error(tmp_path, block):
    extra = {"treatment": 'treatment SEX {\n  arm F\n  arm M reference\n}\n',
             "visits": "visits AVISITN {\n  baseline 8\n  scheduled 8, 16\n}\n",
             "document": 'document "Other" {\n  include all\n}\n',
             "study": 'study OTHER "Other" {\n  phase 3\n}\n'}[block]
    text = BASE + "\n" + extra
    d = only(tmp_path, text, "SAP226")
    assert d.location.line == line_of(text, block + " ", 2)
    assert f"second '{block}' block" in d.message
    assert f"line {line_of(text, block + ' ')}" in d.message


@pytest.mark.parametrize("extra, word", [
    ('\nendpoint score = adsl.AGE\n', "parameter 'score'"),
    # Not also a cycle: the argument of baseline() is the parameter.
    ('\nendpoint score = baseline(score)\n', "parameter 'score'"),
    ('\nstratum chg_score = adsl.SEX\n', "endpoint 'chg_score'"),
])
def test_a_parameter_and_an_endpoint_cannot_share_a_name(tmp_path, extra, word):
    text = BASE + extra
    d = only(tmp_path, text, "SAP227")
    assert word in d.message
    assert d.location.line == len(text.splitlines())


def test_two_subject_datasets_are_refused(tmp_path):
    text = replace("key USUBJID, PARAMCD, AVISITN", "key USUBJID, PARAMCD, AVISITN subjects")
    d = only(tmp_path, text, "SAP226")
    assert "'adeff' is marked 'subjects', like 'adsl'" in d.message
    assert d.location.line == line_of(text, "dataset adeff")


@pytest.mark.parametrize("old, new, culprit", [
    ("  variable chg_score\n  by treatment, total",
     "  variable chg_score\n  by treatment, treatment, total", "'by' item 'treatment'"),
    ("= D1 by base_cat", "= D1 by base_cat, base_cat", "'by' item 'base_cat'"),
    ("variable adsl.SEX", "variable adsl.SEX, adsl.SEX", "variable 'adsl.SEX'"),
    ("denominator = nonmissing", "denominator = nonmissing, denominator = population",
     "option 'denominator'"),
    ('  "M" = "Male"', '  "M" = "Male"\n  "M" = "Man"', 'the value "M" is labelled twice'),
])
def test_an_item_repeated_within_a_statement_is_refused(tmp_path, old, new, culprit):
    text = replace(old, new)
    d = only(tmp_path, text, "SAP242")
    assert culprit in d.message
    changed = next(i for i, (a, b) in enumerate(zip(BASE.splitlines(), text.splitlines()),
                                                start=1) if a != b)
    assert d.location.line in (changed, changed + new.count("\n"))


def test_a_contrast_given_twice_is_refused(tmp_path):
    text = BASE + replace("  contrast Active - Control\n",
                          "  contrast Active - Control\n  contrast Active - Control\n", ANCOVA)
    d = only(tmp_path, text, "SAP242")
    assert d.location.line == line_of(text, "contrast Active - Control", 2)


@pytest.mark.parametrize("old, new, cycle", [
    ("= D1 by base_cat", "= D1s by base_cat", ["D1s -> D1s"]),
    ("= D1 by base_cat", "= D1t by base_cat\nanalysis D1t \"t\" = D1s by base_cat",
     ["D1s -> D1t -> D1s", "D1t -> D1s -> D1t"]),
])
def test_an_analysis_repeating_itself_is_refused(tmp_path, old, new, cycle):
    found = diagnostics(tmp_path, replace(old, new))
    assert [d.code for d in found] == ["SAP233"] * len(cycle)
    assert [c in d.message for c, d in zip(cycle, found)] == [True] * len(cycle)


@pytest.mark.parametrize("extra", [
    "endpoint treatment = adsl.AGE\n", "stratum total = adsl.SEX\n",
    'parameter visit = adeff.AVAL where PARAMCD == "SCORE"\n'])
def test_a_value_named_like_a_keyword_is_refused(tmp_path, extra):
    # `variable treatment` / `by total` would silently mean the arms, not the plan's name.
    text = BASE + "\n" + extra
    d = only(tmp_path, text, "SAP227")
    assert "reserves" in d.message
    assert d.location.line == len(text.splitlines())


# ---- point 2: a contrast of an arm with itself; an unknown arm


def test_a_contrast_of_an_arm_with_itself_is_refused(tmp_path):
    text = BASE + replace("contrast Active - Control", "contrast Active - Active", ANCOVA)
    d = only(tmp_path, text, "SAP229")
    assert d.location.line == line_of(text, "contrast Active - Active")
    assert "'Active' with itself" in d.message


def test_a_contrast_of_an_undeclared_arm_is_refused(tmp_path):
    text = BASE + replace("contrast Active - Control", "contrast Active - Placebo", ANCOVA)
    d = only(tmp_path, text, "SAP203")
    assert d.location.line == line_of(text, "contrast Active - Placebo")


# ---- point 4 and 10: cut intervals


CUT = 'cut (0, 15] "low", (15, inf) "high"'


@pytest.mark.parametrize("cut, code, culprit", [
    ('cut (15, 0] "low", (15, inf) "high"', "SAP230", "(15, 0] is reversed"),
    ('cut (5, 5) "low", (15, inf) "high"', "SAP230", "(5, 5) is empty"),
    ('cut [5, 5) "low", (15, inf) "high"', "SAP230", "[5, 5) is empty"),
    ('cut (0, 20] "low", (15, inf) "high"', "SAP231", "(15, inf) overlaps (0, 20]"),
    ('cut [0, 15] "low", [15, inf) "high"', "SAP231", "[15, inf) overlaps [0, 15]"),
    ('cut (0, 10] "a", (20, 30] "b", (5, 25] "c"', "SAP231", "(5, 25] overlaps (0, 10]"),
    ('cut (0, 15] "low", (15, inf) "low"', "SAP232", "shown as 'low'"),
    ('cut (0, 15], (15, 20] "(0, 15]"', "SAP232", "shown as '(0, 15]'"),
])
def test_bad_cut_intervals_are_located_errors(tmp_path, cut, code, culprit):
    text = replace(CUT, cut)
    d = only(tmp_path, text, code)
    assert culprit in d.message
    assert d.location.line == line_of(text, "stratum base_cat")
    assert d.location.column > text.splitlines()[d.location.line - 1].index("cut")


@pytest.mark.parametrize("cut", [
    'cut (0, 15] "low", (15, inf) "high"',
    'cut [0, 0] "0", [1, 1] "1", (1, inf) "more"',
    'cut (-inf, 10) "a", [10, 15] "b", (20, inf) "c"',  # a gap is allowed
    'cut (15, inf) "high", (0, 15] "low"',  # any order
])
def test_disjoint_intervals_check(tmp_path, cut):
    assert diagnostics(tmp_path, replace(CUT, cut)) == []


# ---- point 10: the same arm twice, endpoint cycles


def test_an_arm_listed_twice_is_refused(tmp_path):
    text = replace('  arm Control "Control" reference',
                   '  arm Control "Control" reference\n  arm Active "Again"')
    d = only(tmp_path, text, "SAP228")
    assert d.location.line == line_of(text, "arm Active", 2)
    assert f"first at line {line_of(text, 'arm Active')}" in d.message


ANALYSE_A = '\nanalysis X "x" {\n  population FAS\n  method descriptive\n  variable a\n' \
    '  at week 16\n}\n'  # a change is taken at a visit (SAP219 without one)


@pytest.mark.parametrize("defs, cycle", [
    ("endpoint a = a + 1\n", "a -> a"),
    ("endpoint a = b + 1\nendpoint b = a * 2\n", "a -> b -> a"),
    ("endpoint a = b + 1\nendpoint b = c\nstratum c = a cut (0, 1] \"x\"\n", "a -> b -> c -> a"),
])
def test_endpoints_defined_through_each_other_are_refused(tmp_path, defs, cycle):
    text = BASE + "\n" + defs + ANALYSE_A
    d = only(tmp_path, text, "SAP233")
    assert cycle in d.message
    assert d.location.line == line_of(text, "endpoint a =")


def test_endpoints_built_on_endpoints_without_a_cycle_check(tmp_path):
    text = BASE + "\nendpoint b = chg_score * 2\nendpoint a = b + chg_score\n" + ANALYSE_A
    assert diagnostics(tmp_path, text) == []


# ---- point 10 and 12: display numbers, reproduction map


@pytest.mark.parametrize("number", ["1/2", "..", "a\\\\b", "1:2", "   "])
def test_a_table_or_figure_number_unsafe_as_a_file_name_is_refused(tmp_path, number):
    text = replace('table "1"', f'table "{number}"') + f'\nfigure "{number}" "f" = D1\n'
    found = diagnostics(tmp_path, text)
    assert [d.code for d in found] == ["SAP234", "SAP234"], [d.render() for d in found]
    assert [d.location.line for d in found] == [line_of(text, "table "),
                                                 line_of(text, "figure ")]


def test_figure_numbers_differing_only_in_case_are_refused(tmp_path):
    text = BASE + '\nfigure "1a" "a" = D1\nfigure "1A" "b" = S1\n'
    d = only(tmp_path, text, "SAP234")
    assert "only in case" in d.message
    assert d.location.line == line_of(text, 'figure "1A"')


def test_a_dotted_number_is_fine(tmp_path):
    assert diagnostics(tmp_path, replace('table "1"', 'table "14.2.1-a"')) == []


def _with_map(tmp_path: Path, mapping, published=None, raw: str | None = None) -> str:
    (tmp_path / "map.json").write_text(raw if raw is not None else json.dumps(mapping))
    if published is not None:
        (tmp_path / "pub.json").write_text(published if isinstance(published, str)
                                          else json.dumps(published))
    return replace('  include all\n', '  include all\n  reproduce "map.json"\n')


GOOD_ENTRY = {"figure": "t1.n", "tolerance": 0,
              "lookup": {"analysis": "D1", "stat": "n", "groups": {"TRT01P": "Active"}}}


def test_a_well_formed_reproduction_map_checks(tmp_path):
    text = _with_map(tmp_path, {"published": "pub.json", "entries": [GOOD_ENTRY]},
                     {"t1": {"n": 4}})
    assert diagnostics(tmp_path, text) == []


@pytest.mark.parametrize("mapping, published, raw, code, message", [
    (None, None, "{not json", "SAP236", "not valid JSON"),
    ([1, 2], None, None, "SAP236", "expected a JSON object"),
    ({"entries": []}, None, None, "SAP236", "'published' must name"),
    ({"published": "pub.json"}, {}, None, "SAP236", "'entries' must be a list"),
    ({"published": "missing.json", "entries": []}, None, None, "SAP222",
     "published figures not found"),
    ({"published": "pub.json", "entries": []}, "[oops", None, "SAP236", "not valid JSON"),
    ({"published": "pub.json", "entries": [{"lookup": {}}]}, {}, None, "SAP236",
     "needs a \"figure\""),
    ({"published": "pub.json", "entries": [GOOD_ENTRY]}, {"t1": {}}, None, "SAP237",
     "no figure 't1.n'"),
    ({"published": "pub.json", "entries": [{**GOOD_ENTRY, "lookup": {"stat": "n"}}]},
     {"t1": {"n": 4}}, None, "SAP236", "needs \"analysis\" and \"stat\""),
    ({"published": "pub.json", "entries": [{**GOOD_ENTRY, "tolerance": "t1.tol"}]},
     {"t1": {"n": 4}}, None, "SAP237", "no tolerance 't1.tol'"),
    ({"published": "pub.json", "entries": [{**GOOD_ENTRY, "tolerance": [1]}]},
     {"t1": {"n": 4}}, None, "SAP236", "'tolerance' must be"),
    ({"published": "pub.json", "entries": [GOOD_ENTRY]}, {"t1": {"n": "many"}}, None,
     "SAP236", "not a number"),
    ({"published": "pub.json", "entries": [{**GOOD_ENTRY, "lookup": {"sum": "x"}}]},
     {"t1": {"n": 4}}, None, "SAP236", "'sum' must be a non-empty list"),
])
def test_a_malformed_reproduction_map_is_located_at_the_reproduce_line(
        tmp_path, mapping, published, raw, code, message):
    text = _with_map(tmp_path, mapping, published, raw)
    d = only(tmp_path, text, code)
    assert message in d.message
    assert d.location.line == line_of(text, "reproduce")
    assert d.location.column == 3


def test_a_missing_reproduction_map_is_located_at_the_reproduce_line(tmp_path):
    text = replace('  include all\n', '  include all\n  reproduce "nowhere.json"\n')
    d = only(tmp_path, text, "SAP222")
    assert d.location.line == line_of(text, "reproduce")


def test_a_reproduction_map_that_is_a_folder_is_located(tmp_path):
    (tmp_path / "maps").mkdir()
    text = replace('  include all\n', '  include all\n  reproduce "maps"\n')
    d = only(tmp_path, text, "SAP222")
    assert "is a folder" in d.message
    assert d.location.line == line_of(text, "reproduce")


def test_an_unreadable_published_file_is_located(tmp_path):
    text = _with_map(tmp_path, {"published": "pub.json", "entries": []})
    (tmp_path / "pub.json").write_bytes(b"\xff\xfe not text")
    d = only(tmp_path, text, "SAP222")
    assert "cannot read published figures" in d.message
    assert d.location.line == line_of(text, "reproduce")


def test_many_broken_entries_are_summarised(tmp_path):
    entries = [{"figure": f"x{i}", "lookup": {"analysis": "D1", "stat": "n"}}
               for i in range(12)]
    text = _with_map(tmp_path, {"published": "pub.json", "entries": entries}, {})
    found = diagnostics(tmp_path, text)
    assert len(found) == 6
    assert "7 further entry problems" in found[-1].message


# ---- point 19: table columns


@pytest.mark.parametrize("columns, rows, message", [
    ("treatment, base_cat", "D1s", "'columns base_cat' cannot be combined"),
    ("base_cat, total", "D1s", "'columns base_cat' cannot be combined"),
    ("treatment, treatment", "D1", "given twice"),
    ("visit", "D1", "'columns visit'"),
    ("nonsense", "D1", "'columns nonsense'"),
    ("base_cat", "D1s", "also split by treatment"),
    ("base_cat", "SMD1", "not split by base_cat"),
])
def test_unsupported_table_columns_are_refused(tmp_path, columns, rows, message):
    text = replace("columns treatment, total", f"columns {columns}")
    text = replace('rows D1 "Disease score"', f'rows {rows} "Disease score"', text)
    found = diagnostics(tmp_path, text)
    assert {d.code for d in found} == {"SAP235"}, [d.render() for d in found]
    d = found[0]
    assert message in d.message
    assert d.location.line in (line_of(text, "columns "), line_of(text, f"rows {rows} "))


def test_a_grouping_column_alone_over_unsplit_analyses_checks(tmp_path):
    text = BASE + '''
analysis C1 "Score class by baseline" {
  population FAS
  method descriptive
  variable adsl.SEX
  by base_cat
}

table "2" "By baseline score" {
  population FAS
  columns base_cat
  rows C1 "Sex"
}

parameter fam "Family" = adeff.AVAL by PARAMCD
endpoint fam_high = fam > 10
analysis F1 "Family members above 10" {
  population FAS
  method descriptive
  variable fam_high
  at week 16
}

table "3" "By member" {
  population FAS
  columns PARAMCD
  rows F1 "Above 10"
}
'''
    assert diagnostics(tmp_path, text) == []


# ---- point 20: filters and values from other datasets, families, undeclared arms


@pytest.mark.parametrize("where, culprit", [
    ('adeff.PARAMCD == "SCORE"', "'adeff.PARAMCD' is a column of 'adeff'"),
    ("score > 3", "'score' is a parameter"),
    ("chg_score > 3", "'chg_score' is a endpoint or stratum"),
])
def test_a_population_filter_uses_its_own_dataset(tmp_path, where, culprit):
    text = replace('adsl where FASFL == "Y"', f'adsl where FASFL == "Y" and {where}')
    d = only(tmp_path, text, "SAP238")
    assert culprit in d.message
    assert d.location.line == line_of(text, "population FAS ")
    assert d.location.column == text.splitlines()[d.location.line - 1].index(where[:4]) + 1


def test_a_parameter_filter_may_use_subject_columns_but_not_other_datasets(tmp_path):
    ok = replace('where PARAMCD == "SCORE"', 'where PARAMCD == "SCORE" and adsl.SEX == "F"')
    assert diagnostics(tmp_path, ok) == []
    bad = replace('where PARAMCD == "SCORE"', 'where PARAMCD == "SCORE" and score > 1')
    assert "'score' is a parameter" in only(tmp_path, bad, "SAP238").message


def test_a_function_in_a_row_filter_is_refused_at_check(tmp_path):
    text = replace('adsl where FASFL == "Y"', 'adsl where abs(AGE) > 3')
    d = only(tmp_path, text, "SAP220")
    assert d.location.line == line_of(text, "population FAS ")


def test_a_column_of_a_non_subject_dataset_is_not_a_subject_value(tmp_path):
    text = replace("variable adsl.SEX", "variable adeff.NOTE")
    d = only(tmp_path, text, "SAP239")
    assert d.location.line == line_of(text, "variable adeff.NOTE")
    assert "parameter" in d.message


def test_an_event_time_from_another_dataset_is_refused(tmp_path):
    text = replace("at adsl.SWITCHWK", "at adeff.AVISITN")
    assert only(tmp_path, text, "SAP238").location.line == line_of(text, "intercurrent_event")


FAMILY = '''
parameter fam "f" = adeff.AVAL by {by}
endpoint fp = fam >= 10
analysis FA "family" {{
  population FAS
  method descriptive
  variable fp
  at week 16
  by treatment
}}
'''


@pytest.mark.parametrize("by, what", [
    ("AVISITN", "the visit variable"), ("USUBJID", "the subject key"),
    ("AVAL", "the parameter's value column"), ("PARAMCD, PARAMCD", "given twice"),
])
def test_a_family_over_an_index_or_value_column_is_refused(tmp_path, by, what):
    text = BASE + FAMILY.format(by=by)
    d = only(tmp_path, text, "SAP240")
    assert what in d.message
    assert d.location.line == line_of(text, "parameter fam")


@pytest.mark.parametrize("by", ["PARAMCD", "NOTE", "PARAMCD, NOTE"])
def test_a_family_over_member_columns_checks(tmp_path, by):
    assert diagnostics(tmp_path, BASE + FAMILY.format(by=by)) == []


ONE_ARM = replace('  arm Active "Active drug"\n  arm Control "Control" reference',
                  '  arm Active "Active drug" reference')


def test_an_undeclared_treatment_level_in_a_population_is_refused(tmp_path):
    d = only(tmp_path, ONE_ARM, "SAP241")
    assert d.location.line == line_of(ONE_ARM, "treatment TRT01P")
    assert "'Control'" in d.message and "population FAS" in d.message
    assert "3 subject(s)" in d.message  # S05-S07: S08 is not in the FAS


@pytest.mark.parametrize("where", ['TRT01P == "Active"', 'TRT01P in {"Active"}',
                                   'not (TRT01P != "Active")', 'TRT01P != "Control"'])
def test_a_population_filter_that_leaves_out_the_level_is_fine(tmp_path, where):
    text = replace('adsl where FASFL == "Y"', f'adsl where FASFL == "Y" and {where}', ONE_ARM)
    assert diagnostics(tmp_path, text) == []


def test_an_undeclared_level_behind_an_endpoint_filter_is_left_to_run(tmp_path):
    # The FAS leaves Control out; the ANCOVA's population filters on an endpoint, which
    # only run evaluates: run then refuses the undeclared arm at the analysis (exit 2).
    from sap_engine.api import run_plan
    from sap_engine.errors import AnalysisError

    one_arm = ONE_ARM.replace(ONE_ARM[ONE_ARM.index("analysis SMD1"):
                                      ONE_ARM.index('table "1"')], "")  # SMD: two arms
    text = replace('adsl where FASFL == "Y"', 'adsl where FASFL == "Y" and TRT01P == "Active"',
                   one_arm) + "\npopulation ALL = adsl\nendpoint adult = adsl.AGE >= 18\n" + \
        ANCOVA.replace("  population FAS\n", "  population ALL where adult\n").replace(
        "  contrast Active - Control\n", "")
    assert diagnostics(tmp_path, text) == []
    with pytest.raises(AnalysisError) as caught:
        run_plan(tmp_path / "plan.sap", tmp_path / "out")
    d = caught.value.diagnostics[0]
    # The executor refuses the undeclared arm before any method runs (SAP241, as check
    # does when it can evaluate the filter), naming the level and its count.
    assert d.code == "SAP241", caught.value.render()
    assert "'Control'" in d.message and "4 subject(s)" in d.message  # S05-S08
    assert d.location.line == line_of(text, "analysis A1")


# ---- the CLI: check refuses, and run reports exit 2 (never an internal error, exit 3)


CLI_CASES = {
    "dup_table": BASE + DUPLICATES["table"][0],
    "dup_arm": replace('  arm Control "Control" reference',
                       '  arm Control "Control" reference\n  arm Active'),
    "cut_label": replace(CUT, 'cut (0, 15] "low", (15, inf) "low"'),
    "cycle": BASE + "\nendpoint a = a + 1\n" + ANALYSE_A,
    "population_other_dataset": replace('adsl where FASFL == "Y"',
                                        'adsl where adeff.PARAMCD == "SCORE"'),
    "variable_other_dataset": replace("variable adsl.SEX", "variable adeff.NOTE"),
    "family_by_visit": BASE + FAMILY.format(by="AVISITN"),
    "variable_twice": replace("variable adsl.SEX", "variable adsl.SEX, adsl.SEX"),
    "analysis_cycle": replace("= D1 by base_cat", "= D1s by base_cat"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_run_reports_a_located_error_not_an_internal_error(tmp_path, sap_run, case):
    path = write_plan(tmp_path, CLI_CASES[case])
    for command in ("check", "run"):
        args = [command, path] + (["--out", tmp_path / "out"] if command == "run" else [])
        result = sap_run(*args)
        assert result.returncode == 2, result.stderr
        assert f"{path}:" in result.stderr and "error[SAP2" in result.stderr
        assert "internal error" not in result.stderr
    assert not (tmp_path / "out").exists()
