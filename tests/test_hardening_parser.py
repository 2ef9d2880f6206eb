"""Hardening of the parser, the plan model's schedule, error reporting and the CLI (issue 8).

Each test names the point of the issue it guards: 6 (visit ranges), 8 (no endless loop, no
infinite literal), 9 (deep expressions), 10 (unreadable plan paths), 11 (bounded error
output), 13 (line counting, BOM, keyword suggestions, --debug), exit codes.
"""

from __future__ import annotations

import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import MINI, ROOT, write_plan
from hypothesis import given, settings
from hypothesis import strategies as st

from sap_engine import cli
from sap_engine import model as m
from sap_engine.api import check
from sap_engine.errors import (
    MAX_COLLECTED,
    MAX_SHOWN,
    SOURCE_WINDOW,
    Diagnostic,
    PlanCheckError,
    PlanSyntaxError,
    SapError,
    source_lines,
)
from sap_engine.fmt import format_plan
from sap_engine.parse import MAX_PLAN_BYTES, parse_file, parse_text, parser
from sap_engine.syntax_errors import expected_tokens

MINI_TEXT = (MINI / "mini.sap").read_text()


def _mini(*replacements: tuple[str, str]) -> str:
    text = MINI_TEXT
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _syntax_errors(text: str) -> list[Diagnostic]:
    with pytest.raises(PlanSyntaxError) as info:
        parse_text(text, "plan.sap")
    return info.value.diagnostics


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.split("\n"), 1) if fragment in line)


def _clean_exit_2(r, *fragments: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr[-2000:]
    assert "RecursionError" not in r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, r.stderr[-2000:]


# ---- point 6: visit ranges -----------------------------------------------------------------


def test_reversed_visit_range_is_a_located_error():
    text = _mini(("scheduled 0, 8, 16", "scheduled 0, 40 to 0 by 4"))
    (d,) = _syntax_errors(text)
    assert d.code == "SAP106" and "40 to 0 by 4" in d.message
    assert (d.location.line, d.location.column) == (_line_of(text, "40 to 0"), 16)
    assert "^" in d.render() and "scheduled 0, 40 to 0 by 4" in d.render()


def test_decimal_visit_range_contains_the_weeks_as_written():
    text = _mini(("scheduled 0, 8, 16", "scheduled 0 to 1 by 0.1, 8, 16"))
    weeks = parse_text(text).visits.weeks
    assert weeks == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 8.0, 16.0)
    assert 0.3 in weeks and 0.7 in weeks and 1.0 in weeks  # 0.1 * 3 summed is not 0.3
    visits = m.Visits(m.Col("AVISITN"), scheduled=((2.0, 3.0, 0.25), (0.0, 52.0, 4.0)))
    assert visits.weeks == (0.0, 2.0, 2.25, 2.5, 2.75, 3.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0,
                            28.0, 32.0, 36.0, 40.0, 44.0, 48.0, 52.0)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(start=st.integers(0, 100_000), step=st.integers(1, 10_000), n=st.integers(0, 300),
       places=st.integers(0, 4))
def test_every_week_of_a_range_is_the_number_as_written(start, step, n, places):
    # `A to B by S` written with up to 4 decimals: the visits are exactly the decimals
    # A, A + S, ..., B, each as a plan would write it in `at week`, B included.
    scale = Decimal(10) ** -places
    a, s = Decimal(start) * scale, Decimal(step) * scale
    b = a + n * s
    weeks = m.visit_range(float(a), float(b), float(s))
    assert weeks == tuple(float(str(a + i * s)) for i in range(n + 1))


def test_a_decimal_week_of_a_range_passes_check(tmp_path):
    text = _mini(("scheduled 0, 8, 16", "scheduled 0 to 1 by 0.1, 8, 16"),
                 ("  variable chg_score\n  at week 16", "  variable chg_score\n  at week 0.3"))
    # SAP215 before: 0.3 unscheduled. (The mini data have no week 0.3, which the data
    # preflight of single analyses would report: SAP316; it is not what this tests.)
    checked = check(parse_file(write_plan(tmp_path, text)), analyses=False)
    assert checked.plan.analyses["D1_obs"].visit == 0.3


# ---- point 8: no endless loop, no infinite number --------------------------------------------


@pytest.mark.parametrize("spec", ["0 to 40 by 0", "0 to 40 by 0.0", "0 to 40 by 0e5"])
def test_visit_range_step_must_be_positive(spec):
    text = _mini(("scheduled 0, 8, 16", f"scheduled {spec}"))
    (d,) = _syntax_errors(text)
    assert d.code == "SAP105" and "greater than 0" in d.message
    assert d.location.column == len("  scheduled 0 to 40 by ") + 1  # at the step


@pytest.mark.parametrize("spec", ["0 to 100000 by 1", "0 to 1e300 by 1e-300",
                                  "0 to 6000 by 1, 6001 to 12000 by 1"])
def test_a_schedule_of_more_than_10000_visits_is_refused(spec):
    text = _mini(("scheduled 0, 8, 16", f"scheduled {spec}"))
    (d,) = _syntax_errors(text)
    assert d.code == "SAP107" and "10000" in d.message
    assert d.location.line == _line_of(text, "scheduled")


def test_visits_of_an_invalid_range_raise_instead_of_looping():
    for spec in ((0.0, 40.0, 0.0), (0.0, 1e300, 1e-300), (0.0, float("inf"), 1.0)):
        with pytest.raises(ValueError):
            _ = m.Visits(m.Col("AVISITN"), scheduled=(spec,)).weeks
    assert m.Visits(m.Col("AVISITN"), scheduled=((0.0, 10000 - 1.0, 1.0),)).weeks[-1] == 9999


@pytest.mark.parametrize("old, new, fragment", [
    ("scheduled 0, 8, 16", "scheduled 0 to 1e309 by 4", "1e309"),
    ('FASFL == "Y"', 'FASFL == "Y" and AGE < 1e309', "1e309"),
    ("arm Active", "arm 1e400", "1e400"),
    ('cut (0, 15] "low"', 'cut (0, 1E309] "low"', "1E309"),
    ('denominator = nonmissing', 'denominator = nonmissing, alpha = 2e308', "2e308"),
    ("phase 2", f"phase {'9' * 400}", "9" * 30),
])
def test_a_number_too_large_for_a_double_is_a_located_error(old, new, fragment):
    text = _mini((old, new))
    (d,) = _syntax_errors(text)
    assert d.code == "SAP104" and "too large" in d.message
    line = text.split("\n")[d.location.line - 1]
    assert line[d.location.column - 1:].startswith(fragment)


def test_a_visit_bound_too_large_gives_no_second_error():
    for spec in ("5 to 1e309 by 1", "1e309 to 5 by 1", "0 to 5 by 1e309"):
        (d,) = _syntax_errors(_mini(("scheduled 0, 8, 16", f"scheduled {spec}")))
        assert d.code == "SAP104"


def test_a_number_read_as_zero_is_a_located_error():
    (d,) = _syntax_errors(_mini(('FASFL == "Y"', 'FASFL == "Y" and AGE > 1e-400')))
    assert d.code == "SAP104" and "read as 0" in d.message
    parse_text(_mini(('FASFL == "Y"', 'FASFL == "Y" and AGE > 0.0e-400 and AGE > 1e-300')))


def test_value_problems_are_reported_together(sap_run, tmp_path):
    text = _mini(("scheduled 0, 8, 16", "scheduled 0 to 40 by 0, 16 to 8 by 4"),
                 ('FASFL == "Y"', 'FASFL == "Y" and AGE < 1e999'))
    r = sap_run("check", write_plan(tmp_path, text))
    _clean_exit_2(r, "error[SAP104]", "error[SAP105]", "error[SAP106]", "3 errors")
    assert r.stderr.index("SAP104") < r.stderr.index("SAP105")  # in plan order


# ---- point 9: deep expressions ---------------------------------------------------------------

DEEP = {
    "sum": 'AGE + ' + " + ".join(["0"] * 500) + " > 1",
    "and": " and ".join(['FASFL == "Y"'] * 500),
    "unary minus": 'AGE > ' + "-" * 500 + "1",
    "unary minus spaced": 'AGE > ' + "- " * 500 + "AGE",
    "not": "not " * 500 + 'FASFL == "Y"',
    "parenthesised sums": "(" * 500 + "AGE" + " + 1)" * 500 + " > 0",
    "calls": "abs(" * 500 + "AGE" + ")" * 500 + " > 0",
}


def test_deep_expressions_are_located_errors_in_check_and_fmt(sap_run, tmp_path):
    populations = [f"population P{i} = adsl where {e}" for i, e in enumerate(DEEP.values())]
    text = _mini(('population FAS "Full', "\n".join(populations) + '\npopulation FAS "Full'))
    plan = write_plan(tmp_path, text)
    expected = [f"plan.sap:{_line_of(text, f'population P{i} ')}:" for i in range(len(DEEP))]
    r = sap_run("check", plan)
    _clean_exit_2(r, *expected, f"{len(DEEP)} errors")
    assert r.stderr.count("error[SAP108]") == len(DEEP)
    for args in (("fmt", plan), ("fmt", "--check", plan)):
        r = sap_run(*args)
        _clean_exit_2(r, *expected)
    assert plan.read_text() == text  # fmt refused, nothing written


def test_deeply_nested_parentheses_alone_are_harmless(sap_run, tmp_path):
    text = _mini(('FASFL == "Y"', "(" * 500 + 'FASFL == ' + "(" * 500 + '"Y"' + ")" * 1000))
    plan = write_plan(tmp_path, text)
    assert sap_run("check", plan).returncode == 0
    assert sap_run("fmt", "--check", plan).returncode == 1
    r = sap_run("fmt", plan)
    assert r.returncode == 0 and "reformatted" in r.stdout, r.stderr
    assert 'adsl where FASFL == "Y"\n' in plan.read_text()
    assert sap_run("check", plan).returncode == 0


def test_an_expression_at_the_depth_limit_checks_formats_and_runs(sap_run, tmp_path):
    # change(score) is one level, each "+ 0" one more, naming the endpoint in an analysis
    # one more: 1 + 98 + 1 = 100, the limit.
    deep = "change(score)" + " + 0" * 98
    text = _mini(('= change(score)\n', f"= {deep}\n"))
    plan = write_plan(tmp_path, text)
    assert sap_run("check", plan).returncode == 0
    r = sap_run("fmt", "--check", plan)
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr
    r = sap_run("run", plan, "--out", tmp_path / "out", "--jobs", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    one_more = _mini(('= change(score)\n', f"= {deep} + 0\n"))
    errors = _syntax_errors(one_more)  # at each use of the endpoint, now 101 levels deep
    assert {d.code for d in errors} == {"SAP108"} and len(errors) >= 2
    assert all("101 levels deep through the endpoints it names (chg_score)" in d.message
               for d in errors)
    too_deep = _mini(('= change(score)\n', f"= {deep} + 0 + 0\n"))
    (d,) = _syntax_errors(too_deep)  # too deep by itself: reported there only
    assert "101 levels deep;" in d.message and d.location.line == _line_of(too_deep, "+ 0")


def test_endpoints_named_in_each_other_count_towards_the_depth(sap_run, tmp_path):
    # Each endpoint alone is shallow, but the evaluator follows the names: 30 endpoints of
    # 99 levels each used to pass check and then fail at run with RecursionError (exit 3).
    chain = ['endpoint e0 "e0" = change(score)']
    chain += [f'endpoint e{i} "e{i}" = e{i - 1}' + " + 0" * 98 for i in range(1, 30)]
    text = _mini(('endpoint chg_score "Change in disease score" = change(score)',
                  "\n".join(chain) + '\nendpoint chg_score "Change in disease score" = e29'))
    r = sap_run("check", write_plan(tmp_path, text))
    _clean_exit_2(r, "error[SAP108]", "through the endpoints it names (e1)",
                  f"plan.sap:{_line_of(text, 'endpoint e2 ')}:", "1 error;")


def test_a_chain_of_endpoints_within_the_limit_runs(sap_run, tmp_path):
    chain = ['endpoint e0 "e0" = change(score)']
    chain += [f'endpoint e{i} "e{i}" = e{i - 1}' for i in range(1, 98)]
    text = _mini(('endpoint chg_score "Change in disease score" = change(score)',
                  "\n".join(chain) + '\nendpoint chg_score "Change in disease score" = e97'))
    plan = write_plan(tmp_path, text)
    r = sap_run("run", plan, "--out", tmp_path / "out", "--jobs", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    (d,) = _syntax_errors(text.replace("= e97", "= e97 + 0 + 0"))
    assert d.code == "SAP108" and d.location.line == _line_of(text, "= e97")


def test_a_huge_expression_is_refused_without_recursion():
    errors = _syntax_errors(_mini(('FASFL == "Y"', "AGE" + " + 1" * 20000 + " > 0")))
    assert [d.code for d in errors] == ["SAP108"] and "20001 levels" in errors[0].message


def test_a_cycle_of_endpoints_does_not_hang_the_depth_check():
    text = _mini(('endpoint chg_score "Change in disease score" = change(score)',
                  'endpoint a "a" = b + 1\nendpoint b "b" = a + 1\n'
                  'endpoint chg_score "Change in disease score" = change(score)'))
    assert set(parse_text(text).endpoints) >= {"a", "b"}  # the checker reports the cycle


@pytest.mark.parametrize("old, new, block, word, first", [
    ("  method descriptive\n", "  method descriptive\n  method smd\n", "analysis D1", "method",
     "  method descriptive"),
    ("  scheduled 0, 8, 16\n", "  scheduled 0, 8, 16\n  scheduled 0, 8\n", "visits AVISITN",
     "scheduled", "  scheduled 0, 8, 16"),
    ('  template "results.html"\n', '  template "results.html"\n  template "results.md"\n',
     "document", "template", '  template "results.html"'),
    ("  missing observed_case\n", "  missing observed_case\n  missing locf\n", "estimand E1",
     "missing", "  missing observed_case"),
    ("  at week 16\n", "  at week 16\n  at week 8\n", "analysis D1_obs", "at week",
     "  at week 16"),
    ("  columns treatment, total\n", "  columns treatment, total\n  columns treatment\n",
     'table "1"', "columns", "  columns treatment, total"),
    ("  population FAS\n  method smd", "  population FAS\n  population FAS\n  method smd",
     "analysis SMD1", "population", "  population FAS\n  population FAS\n  method smd"),
])
def test_a_block_item_given_twice_is_a_located_error(old, new, block, word, first):
    # One of the two used to win silently (the last `method`, the first `missing`...).
    text = _mini((old, new))
    (d,) = _syntax_errors(text)
    assert d.code == "SAP109" and d.message.startswith(f"{block}: '{word}' is given twice")
    first_line = text.index(first)
    assert f"first at line {text[:first_line].count(chr(10)) + 1}" in d.message
    assert d.location.line == text[:first_line].count("\n") + 2


def test_items_that_may_repeat_are_not_refused():
    plan = parse_text(_mini(("  footnote ", '  footnote "a"\n  footnote ')))
    assert len(plan.tables[0].footnotes) == 2


# ---- point 11: bounded error output ------------------------------------------------------------


def test_thousands_of_errors_give_a_short_report(sap_run, tmp_path):
    one_line = ", ".join(f"adsl.Q{i}" for i in range(4000))
    many_lines = "\n".join(f'analysis X{i} "x" {{ population FAS method descriptive '
                           f"variable adsl.R{i} by treatment }}" for i in range(2000))
    text = _mini(("variable adsl.SEX", f"variable {one_line}")) + many_lines + "\n"
    r = sap_run("check", write_plan(tmp_path, text))
    _clean_exit_2(r, "... and 5950 more errors", "6000 errors; nothing was written")
    assert r.stderr.count("error[SAP201]") == MAX_SHOWN
    assert len(r.stderr) < 100_000  # 50 diagnostics of three short lines each
    assert max(len(line) for line in r.stderr.split("\n")) < SOURCE_WINDOW + 300


def test_rendering_many_errors_on_a_long_line_is_bounded_in_size_and_memory():
    line = "x" * 50_000
    diagnostics = [Diagnostic("SAP201", f"unknown column 'Q{i}'", m.Loc(1, 10 * i + 1, 1,
                                                                       10 * i + 5, "p.sap"),
                              source_line=line) for i in range(1000)]
    tracemalloc.start()
    try:
        text = PlanCheckError(diagnostics).render()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert text.endswith("... and 950 more errors")
    assert len(text) < 50 * (SOURCE_WINDOW * 2 + 200)
    assert peak < 2_000_000  # the 50 KB line was never copied 1000 times


def test_problems_beyond_those_kept_are_still_counted(tmp_path, capsys):
    numbers = ", ".join(["1e309"] * 3000)
    plan = write_plan(tmp_path, _mini(("denominator = nonmissing",
                                       f"denominator = nonmissing, cuts = [{numbers}]")))
    with pytest.raises(PlanSyntaxError) as info:
        parse_file(plan)
    assert len(info.value.diagnostics) == MAX_COLLECTED and info.value.count == 3000
    assert cli.main(["check", str(plan)]) == 2
    err = capsys.readouterr().err
    assert err.count("error[SAP104]") == MAX_SHOWN
    assert "... and 2950 more errors" in err and "3000 errors; nothing was written" in err


@pytest.mark.parametrize("column", [1, 70, 5000, 9990, 10_000])
def test_a_long_source_line_is_quoted_as_a_window_around_the_caret(column):
    line = "".join(chr(ord("a") + i % 26) for i in range(10_000))
    d = Diagnostic("SAP201", "unknown", m.Loc(3, column, 3, column + 3, "p.sap"), source_line=line)
    _, quoted, caret = d.render().split("\n")
    assert len(quoted) <= SOURCE_WINDOW + 10
    offset = caret.index("^")
    assert quoted[offset] == line[column - 1]  # the caret is under the culprit
    assert caret.count("^") == min(3, len(line) - column + 1)
    assert quoted.startswith("  | ...") == (column > SOURCE_WINDOW // 3 + 1)


def test_a_very_long_name_does_not_make_a_very_long_message():
    (d,) = _syntax_errors(_mini(("method descriptive", "x" * 1_000_000 + " descriptive")))
    assert d.code == "SAP101" and len(d.render()) < 2000


def test_a_50_mb_plan_is_refused_before_it_is_read(tmp_path, sap_run):
    plan = tmp_path / "huge.sap"
    with plan.open("w") as f:
        for _ in range(50):
            f.write("# padding " + "x" * (1024 * 1024 - 11) + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(PlanSyntaxError) as info:
            parse_file(plan)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.codes == ["SAP005"] and peak < 1_000_000
    _clean_exit_2(sap_run("check", plan), "error[SAP005]", "too large")
    with pytest.raises(PlanSyntaxError) as info:
        parse_text("#" * (MAX_PLAN_BYTES + 1))
    assert info.value.codes == ["SAP005"]


# ---- point 13: line counting, BOM, keyword suggestions, --debug ---------------------------------


@pytest.mark.parametrize("odd", ["\f", "\v", "\u2028", "\u2029", "\x1c", "\x85"])
def test_line_counting_matches_the_lexer(tmp_path, odd):
    text = _mini(("# A small study", f"# A{odd}small study"),
                 ('label "Week"', f'label "We{odd}ek"'),
                 ("variable adsl.SEX", "variable adsl.SEXX"))
    if odd == "\f":  # whitespace to the grammar
        text = text.replace("population FAS", f"population{odd}FAS", 1)
    with pytest.raises(SapError) as info:
        check(parse_file(write_plan(tmp_path, text)))
    (d,) = info.value.diagnostics
    assert d.code == "SAP201" and d.location.line == _line_of(text, "adsl.SEXX")
    assert "variable adsl.SEXX" in d.render()
    bad = text.replace("method descriptive", "method descriptive {", 1)
    (d,) = _syntax_errors(bad)
    assert d.source_line == bad.split("\n")[d.location.line - 1]
    assert "method descriptive {" in d.source_line
    assert source_lines(text) == text.split("\n")[:-1]


def test_comments_with_odd_line_breaks_survive_fmt():
    text = _mini(("# A small study", "# A\u2028small\x0bstudy\x85here"),
                 ('label "Week"', 'label "C:\\\\"  # a note after a backslash'))
    formatted = format_plan(parse_text(text))
    assert "# A\u2028small\x0bstudy\x85here whose results are computed" in formatted
    assert "# a note after a backslash" in formatted
    assert parse_text(formatted).statements == parse_text(text).statements


def test_a_byte_order_mark_is_accepted(tmp_path, sap_run):
    plan = write_plan(tmp_path, "\ufeff" + MINI_TEXT)
    r = sap_run("check", plan)
    assert r.returncode == 0, r.stderr
    bad = write_plan(tmp_path, "\ufeffpopulaton FAS = adsl\n", "bad.sap")
    (d,) = pytest.raises(PlanSyntaxError, parse_file, bad).value.diagnostics
    assert (d.location.line, d.location.column) == (1, 1)  # the mark is not a column
    assert d.suggestion == "population"


@pytest.mark.parametrize("old, new, suggestion", [
    ("method descriptive", "metod descriptive", "method"),
    ('analysis D1 "Change', 'analyis D1 "Change', "analysis"),
    ('population FAS "Full', 'populaton FAS "Full', "population"),
    ("missing observed_case", "missing observd_case", "observed_case"),
    ("switch hypothetical", "switch hypothetcal", "hypothetical"),
    ("with last_before", "with last_befor", "last_before"),
    ("phase 2", "phaze 2", "phase"),
    ('"Control" reference', '"Control" referense', "reference"),
    ("key USUBJID subjects", "key USUBJID subject", "subjects"),
    ('template "results.html"', 'template "results.html"\n  rounding half_evn', "half_even"),
    ("by treatment\n  options", "lsmeans weights observd\n  by treatment\n  options",
     "observed"),
])
def test_a_misspelt_keyword_gets_a_suggestion_and_the_words_expected(old, new, suggestion):
    (d,) = _syntax_errors(_mini((old, new)))
    assert d.code == "SAP101" and d.suggestion == suggestion
    assert f"'{suggestion}'" in d.message.split("; expected ")[1]
    assert "anon" not in d.message.lower()


def test_a_misspelt_function_is_named_with_a_suggestion():
    text = _mini(("= change(score)", "= chnage(score)"))
    (d,) = _syntax_errors(text)
    assert d.message.startswith("unknown function 'chnage'; the functions are baseline, change")
    assert d.suggestion == "change"
    assert d.location.column == text.split("\n")[d.location.line - 1].index("chnage") + 1
    (d,) = _syntax_errors(_mini(("= change(score)", "= score\n(")))
    assert "unknown function" not in d.message  # a name on the line before is no call


def test_a_choice_word_names_the_choices_not_the_keyword_before_it():
    (d,) = _syntax_errors(_mini(("by treatment\n  options",
                                 "lsmeans weights observd\n  by treatment\n  options")))
    assert d.message == "unexpected token 'observd'; expected 'equal', 'observed'"
    (d,) = _syntax_errors(_mini(("missing observed_case", "missing observd_case")))
    assert d.message.endswith("expected 'bocf', 'locf', 'observed_case', 'wocf'")


def test_every_terminal_is_described_as_a_user_writes_it():
    for terminal in parser().terminals:
        if terminal.name in ("WS", "COMMENT"):
            continue
        for text in expected_tokens([terminal.name], parser()):
            assert text.startswith("'") or text.startswith("a "), (terminal.name, text)
            assert "__" not in text and terminal.name not in text, (terminal.name, text)


def test_debug_is_accepted_after_the_command(sap_run, tmp_path):
    plan = write_plan(tmp_path, MINI_TEXT)
    for args in (("check", plan, "--debug"), ("check", "--debug", plan),
                 ("--debug", "check", plan), ("fmt", "--check", plan, "--debug")):
        r = sap_run(*args)
        assert r.returncode == 0, (args, r.stderr)
    assert cli._parser().parse_args(["run", "--debug", "p.sap"]).debug is True
    assert cli._parser().parse_args(["run", "p.sap"]).debug is False
    bad = write_plan(tmp_path, "populaton FAS = adsl\n", "bad.sap")
    r = sap_run("check", bad, "--debug")
    assert r.returncode != 0 and "Traceback" in r.stderr  # --debug shows the traceback


# ---- point 10: plan paths that cannot be read ---------------------------------------------------


def test_a_plan_path_that_is_a_folder_is_a_plan_error(sap_run, tmp_path):
    _clean_exit_2(sap_run("check", tmp_path), "error[SAP003]", "folder")
    _clean_exit_2(sap_run("run", tmp_path, "--out", tmp_path / "o"), "error[SAP003]")
    _clean_exit_2(sap_run("fmt", tmp_path), "error[SAP003]")
    _clean_exit_2(sap_run("check", "/dev/null"), "error[SAP003]", "not a regular file")


def test_an_unreadable_plan_is_a_plan_error(monkeypatch, tmp_path, capsys):
    plan = write_plan(tmp_path, MINI_TEXT)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(PlanSyntaxError) as info:
        parse_file(plan)
    assert info.value.codes == ["SAP004"] and "permission denied" in info.value.render()
    assert cli.main(["check", str(plan)]) == 2
    assert "error[SAP004]" in capsys.readouterr().err


def test_fmt_that_cannot_write_is_a_plan_error(monkeypatch, tmp_path, capsys):
    text = MINI_TEXT.replace("phase 2", "phase   2")
    plan = write_plan(tmp_path, text)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", denied)
    assert cli.main(["fmt", str(plan)]) == 2
    assert "error[SAP006]" in capsys.readouterr().err
    assert plan.read_text() == text and not list(tmp_path.glob(".*.tmp"))


def test_fmt_writes_nothing_when_one_of_its_plans_has_an_error(sap_run, tmp_path):
    untidy = MINI_TEXT.replace("phase 2", "phase   2")
    first = write_plan(tmp_path, untidy, "first.sap")
    second = write_plan(tmp_path, untidy.replace("phase   2", "phase 1e309"), "second.sap")
    _clean_exit_2(sap_run("fmt", first, second), "error[SAP104]", "nothing was written")
    assert first.read_text() == untidy


# ---- exit codes ------------------------------------------------------------------------------


def test_exit_codes_are_documented(sap_run):
    help_text = sap_run("--help").stdout
    for code, words in (("0", "success"), ("1", "fmt --check"), ("2", "plan"),
                        ("3", "internal error")):
        assert any(line.strip().startswith(code) and words in line
                   for line in help_text.split("\n")), help_text
    assert "3 only for a bug" in cli.__doc__
    docs = (ROOT / "docs" / "errors.md").read_text()
    assert "## Exit codes" in docs and "| 3 | an internal error" in docs
