"""One location type and one helper that turns a plan location into a diagnostic.

``Loc`` (``sap_engine.location``) is both the plan model's location and a diagnostic's;
``errors.plan_diagnostic`` is the one place that quotes a plan line under a caret. The
regression tests below are plans whose text holds a character that ``str.splitlines`` takes
for a line end but the lexer does not (a form feed in a comment): four sites used to count
lines with ``splitlines`` and quoted, or pointed at, the wrong line.
"""

from __future__ import annotations

import pytest
from conftest import MINI, write_plan
from test_hardening_leftovers import ONE_ARM, failure

from sap_engine import errors
from sap_engine import model as m
from sap_engine.api import check, check_plan
from sap_engine.errors import Diagnostic, PlanCheckError, SapError, plan_diagnostic
from sap_engine.location import Loc
from sap_engine.parse import parse_file

PAGE_BREAK = "# page one\x0cpage two\n"  # one plan line; two for str.splitlines


def _line_of(text: str, fragment: str) -> int:
    """1-based plan line (as the lexer counts) of the first line starting with ``fragment``."""
    return next(i for i, line in enumerate(text.split("\n"), start=1)
                if line.lstrip().startswith(fragment))


def test_the_model_and_the_errors_share_one_location_type():
    assert m.Loc is Loc
    assert not hasattr(errors, "Location")
    assert str(Diagnostic.__dataclass_fields__["location"].type) == "Loc | None"


def test_a_location_prints_as_file_line_column():
    assert str(Loc(3, 7, 3, 9, file="p.sap")) == "p.sap:3:7"
    assert str(Loc(3, 7)) == "3:7"


def test_plan_diagnostic_underlines_a_node_that_ends_on_its_line():
    d = plan_diagnostic("SAP201", "unknown", Loc(2, 5, 2, 9), "p.sap", "a\nxx  SEXX = 1\n")
    assert d.location == Loc(2, 5, 2, 9, file="p.sap")
    assert d.render().split("\n")[1:] == ["  | xx  SEXX = 1", "  |     ^^^^"]


def test_plan_diagnostic_marks_the_start_of_a_node_over_several_lines():
    d = plan_diagnostic("SAP401", "empty", Loc(1, 3, 4, 2), "p.sap", "  analysis A {\n")
    assert d.render().split("\n")[2] == "  |   ^"


def test_plan_diagnostic_width_sets_the_caret():
    d = plan_diagnostic("SAP312", "no key", Loc(1, 1, 1, 30), "p.sap", "dataset adae = x\n",
                        width=len("dataset adae"))
    assert d.render().split("\n")[2] == "  | " + "^" * len("dataset adae")
    one = plan_diagnostic("SAP401", "x", Loc(1, 1, 1, 30), "p.sap", "dataset adae = x\n",
                          width=1)
    assert one.render().split("\n")[2] == "  | ^"


def test_plan_diagnostic_keeps_suggestion_and_data_location():
    where = errors.DataLocation("adsl.csv", 3, "AGE")
    d = plan_diagnostic("SAP201", "unknown column 'AGX'", Loc(1, 1, 1, 4), "p.sap", "AGX\n",
                        suggestion="AGE", data_location=where)
    assert d.suggestion == "AGE" and d.data_location == where
    assert d.render().split("\n")[0] == ("p.sap:1:1: error[SAP201]: unknown column 'AGX' "
                                         "(adsl.csv, row 3, column AGE); did you mean 'AGE'?")


def test_an_unknown_location_is_the_first_line_and_a_line_past_the_end_is_not_quoted():
    first = plan_diagnostic("SAP201", "x", Loc(), "p.sap", "study S\n")
    assert str(first.location) == "p.sap:1:1" and first.source_line == "study S"
    past = plan_diagnostic("SAP201", "x", Loc(5, 1), "p.sap", "study S\n")
    assert past.source_line is None and past.render() == "p.sap:5:1: error[SAP201]: x"


def test_lines_are_counted_as_the_lexer_counts_them():
    d = plan_diagnostic("SAP201", "x", Loc(2, 1), "p.sap", PAGE_BREAK + "study S\n")
    assert d.source_line == "study S"
    quoted = errors.with_source_line(Diagnostic("SAP303", "x", Loc(2, 1, file="p.sap")),
                                     PAGE_BREAK + "study S\n")
    assert quoted.source_line == "study S"


# ---- regressions: each site below quoted the line after a form feed wrongly (str.splitlines)
def test_a_run_time_table_error_quotes_its_own_line(tmp_path):
    # execute.py: SAP241 at the table (was: the line before it).
    text = PAGE_BREAK + ONE_ARM + '''
population ALL "All subjects" = adsl where FASFL == "Y"
table "2" "Ages" {
  population ALL where baseline(score) > 0
  columns treatment, total
  rows S1 "Sex"
}
'''
    d = failure(tmp_path, text, "SAP241")
    assert d.location.line == _line_of(text, 'table "2"')
    assert d.source_line == 'table "2" "Ages" {'


def test_a_derivation_error_quotes_its_own_line(tmp_path):
    # data/derive.py: SAP314 at the endpoint (was: the line before it).
    text = (PAGE_BREAK + (MINI / "mini.sap").read_text()
            + '\nendpoint zz = not not log(inf)\nanalysis ZZ "z" {\n  population FAS\n'
              '  method descriptive\n  variable zz\n}\n')
    with pytest.raises(SapError) as exc:
        check(parse_file(write_plan(tmp_path, text)))
    (d,) = exc.value.diagnostics
    assert d.code == "SAP314" and d.source_line == "endpoint zz = not not log(inf)"


def test_a_document_template_error_points_at_its_clause(tmp_path):
    # render/environment.py: SAP261 at the template clause (was: the line after it).
    text = PAGE_BREAK + (MINI / "mini.sap").read_text().replace(
        'template "results.html"', 'template "results.md"')
    assert 'template "results.md"' in text
    with pytest.raises(PlanCheckError) as exc:
        check_plan(write_plan(tmp_path, text))
    (d,) = exc.value.diagnostics
    assert d.code == "SAP261"
    assert d.location.line == _line_of(text, 'template "results.md"')
    assert d.source_line.strip() == 'template "results.md"'


def test_a_data_integrity_error_points_at_its_key_name(tmp_path):
    # data/integrity.py: SAP309 at the misspelt key name (was: the dataset statement's
    # start, and the line before it quoted).
    text = PAGE_BREAK + (MINI / "mini.sap").read_text().replace(
        "key USUBJID, PARAMCD, AVISITN", "key USUBJID, PARAMCDQX, AVISITN")
    with pytest.raises(SapError) as exc:
        check(parse_file(write_plan(tmp_path, text)))
    (d,) = exc.value.diagnostics
    line = _line_of(text, "dataset adeff")
    assert d.code == "SAP309" and d.location.line == line
    assert d.source_line == text.split("\n")[line - 1]
    assert d.location.column == d.source_line.index("PARAMCDQX") + 1


def test_a_reproduction_map_error_points_at_its_clause(tmp_path):
    # check_outputs.py: SAP237 at the reproduce clause (was: the line after it).
    golden = MINI.parents[1] / "golden" / "errors"
    for name in ("checker_reproduce.map.json", "checker_reproduce.published.json"):
        (tmp_path / name).write_bytes((golden / name).read_bytes())
    text = PAGE_BREAK + (golden / "checker_reproduce.sap").read_text().replace(
        '"../../fixtures/mini/', '"')
    with pytest.raises(PlanCheckError) as exc:
        check(parse_file(write_plan(tmp_path, text)))
    line = _line_of(text, "reproduce")
    assert {d.code for d in exc.value.diagnostics} == {"SAP236", "SAP237"}
    for d in exc.value.diagnostics:
        assert d.location.line == line
        assert d.source_line.strip() == 'reproduce "checker_reproduce.map.json"'
