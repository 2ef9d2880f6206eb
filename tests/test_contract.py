"""The executor-method contract, the stateless evaluator and the displays' denominator steps.

The seam under test: a method that works per visit (its unit of analysis is the subject and
visit, and it consumes ``by visit``) is added by one ``register(...)`` call, and nothing
else: the executor builds its frame of every visit and does not split it by visit. The toy
method below is registered inside the test (and removed after it); its numbers are checked
against a hand computation with pandas on the mini study's data.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import MINI, write_plan

from sap_engine import ard
from sap_engine import model as m
from sap_engine.api import check, run_plan
from sap_engine.compile import DenominatorStep, compile_plan, denominator_steps
from sap_engine.data.derive import EACH_VISIT, Evaluator, Handling, Scope
from sap_engine.errors import PlanCheckError, SapError
from sap_engine.execute import execute, run_step
from sap_engine.methods import registry
from sap_engine.parse import parse_file

TOY = "toy_per_visit"
CALLS: list[pd.DataFrame] = []  # the frames the toy method received


def _per_visit(frame: pd.DataFrame, roles, options) -> list[registry.Stat]:
    """Subjects with a value and their mean, at every visit of the frame it receives."""
    CALLS.append(frame.copy())
    column = roles["variable"]
    stats = []
    for visit in sorted(frame["visit"].unique()):
        values = frame.loc[frame["visit"] == visit, column].dropna()
        at = (("visit", m._num(float(visit))),)
        stats.append(registry.Stat("n", float(values.index.nunique()), groups=at))
        stats.append(registry.Stat("mean", float(values.mean()), groups=at))
    return stats


@pytest.fixture
def toy_method():
    """The toy per-visit method: ONE registration point, removed after the test."""
    CALLS.clear()
    registry.register(
        TOY, family="descriptive", summary="Subjects and mean per visit (a test's toy).",
        roles=(registry.RoleSpec("variable", "numeric", doc="the response"),),
        stats=("n", "mean"), unit=registry.SUBJECT_VISIT, consumes=("visit",),
    )(_per_visit)
    try:
        yield registry.METHODS[TOY]
    finally:
        registry.unregister(TOY)
        CALLS.clear()


def _with(analyses: str, visits: bool = True) -> str:
    text = (MINI / "mini.sap").read_text()
    if not visits:
        start = text.index("visits AVISITN {")
        text = text[:start] + text[text.index("}\n", start) + 2:]
        # Without visits, the mini plan's other analyses would be at weeks it lacks.
        text = text[:text.index("estimand E1")] + text[text.index('document "Mini'):]
    return text.replace('document "Mini results"', analyses + '\ndocument "Mini results"')


PER_VISIT = '''analysis PV "Change by visit, per visit" {
  population FAS
  method toy_per_visit
  variable chg_score
  by treatment, visit
}

analysis PV_all "Change by visit, per visit, all arms" {
  population FAS
  method toy_per_visit
  variable chg_score
}
'''


def _by_hand() -> pd.DataFrame:
    """n and mean of the change from baseline per arm and visit, observed values, FAS."""
    adsl = pd.read_csv(MINI / "adsl.csv")
    adeff = pd.read_csv(MINI / "adeff.csv")
    score = adeff[adeff.PARAMCD == "SCORE"].merge(adsl[adsl.FASFL == "Y"], on="USUBJID")
    base = score[score.AVISITN == 0].set_index("USUBJID")["AVAL"]
    score = score.assign(chg=score.AVAL - score.USUBJID.map(base))
    return score.groupby(["TRT01P", "AVISITN"])["chg"].agg(["count", "mean"])


def _cells(f: pd.DataFrame, analysis: str) -> dict:
    rows = f[f.analysis_id == analysis]
    out = {}
    for r in rows.itertuples():
        groups = tuple((g, lv) for g, lv in ((r.group1, r.group1_level),
                                              (r.group2, r.group2_level))
                       if isinstance(g, str))
        out[(groups, r.stat_name)] = r.stat
    return out


def test_a_per_visit_method_is_one_registration(tmp_path, toy_method):
    path = write_plan(tmp_path, _with(PER_VISIT))
    run_plan(path, tmp_path / "out", jobs=1)
    f = ard.read(tmp_path / "out" / "ard.parquet")
    hand = _by_hand()
    got = _cells(f, "PV")
    want = {}
    for (arm, visit), (n, mean) in hand.iterrows():
        at = (("TRT01P", arm), ("visit", m._num(float(visit))))
        want[(at, "n")], want[(at, "mean")] = float(n), mean
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
    # S04 has no week-8 value: 3 subjects there, 4 at the other visits of the Active arm.
    assert got[((("TRT01P", "Active"), ("visit", "8")), "n")] == 3
    # `by visit` was consumed: one call per arm (not per arm and visit), each frame holding
    # every scheduled visit of its subjects, with the visit column.
    pv_calls, all_calls = CALLS[:2], CALLS[2:]
    assert [sorted(c["visit"].unique()) for c in pv_calls] == [[0.0, 8.0, 16.0]] * 2
    assert [len(c) for c in pv_calls] == [4 * 3, 3 * 3]  # subjects x visits of each arm
    # Without `by visit` the unit is still the subject and visit: one call, every visit.
    assert len(all_calls) == 1 and len(all_calls[0]) == 7 * 3
    pooled = _cells(f, "PV_all")
    total = hand.reset_index().assign(sum=lambda d: d["count"] * d["mean"]) \
        .groupby("AVISITN")[["count", "sum"]].sum()
    for visit, (n, s) in total.iterrows():
        at = (("visit", m._num(float(visit))),)
        assert pooled[(at, "n")] == n and pooled[(at, "mean")] == pytest.approx(s / n)


def test_the_registration_is_removed_after_the_test():
    assert registry.get(TOY) is None


def test_a_per_visit_method_needs_a_visit_schedule(tmp_path, toy_method):
    text = _with(PER_VISIT.replace("  by treatment, visit\n", "  by treatment\n"),
                 visits=False)
    with pytest.raises(PlanCheckError) as exc:
        check(parse_file(write_plan(tmp_path, text)))
    (d,) = [d for d in exc.value.diagnostics if d.code == "SAP486"][:1]
    assert d.location.line == text.splitlines().index("  method toy_per_visit") + 1
    assert "schedules no visits" in d.message


def test_a_per_visit_method_takes_no_visit_of_its_own(tmp_path, toy_method):
    text = _with(PER_VISIT.replace("  by treatment, visit\n", "  at week 16\n"))
    with pytest.raises(PlanCheckError) as exc:
        check(parse_file(write_plan(tmp_path, text)))
    assert exc.value.codes == ["SAP487"]
    (d,) = exc.value.diagnostics
    lines = text.splitlines()
    assert d.location.line == lines.index("  at week 16", lines.index(
        'analysis PV "Change by visit, per visit" {')) + 1
    assert "'at week 16' would be ignored" in d.message


def test_a_subject_visit_method_that_does_not_consume_the_visit_is_not_split(tmp_path):
    # A method over every visit that does not split them itself (say, one slope over the
    # visits): `by visit` would hand it one visit at a time, against its declared unit.
    registry.register("toy_slope", family="descriptive", summary="-",
                      roles=(registry.RoleSpec("variable", "numeric"),),
                      unit=registry.SUBJECT_VISIT)(_per_visit)
    try:
        text = _with(PER_VISIT.replace("toy_per_visit", "toy_slope")
                     + 'analysis PV_arm "Repeated by visit" = PV_all by visit\n')
        with pytest.raises(PlanCheckError) as exc:
            check(parse_file(write_plan(tmp_path, text)))
    finally:
        registry.unregister("toy_slope")
    assert exc.value.codes == ["SAP488", "SAP488"]
    lines = text.splitlines()
    first, second = exc.value.diagnostics
    assert first.location.line == lines.index("  by treatment, visit") + 1
    assert first.location.column == len("  by treatment, ") + 1
    assert second.location.line == lines.index(
        'analysis PV_arm "Repeated by visit" = PV_all by visit') + 1
    assert "'by visit' would split its data into one visit at a time" in first.message


@pytest.mark.parametrize("unit, consumes, said", [
    ("visit", (), "is not one of"),
    (registry.SUBJECT_VISIT, ("treatment",), "cannot consume 'by treatment'"),
    (registry.SUBJECT, ("visit",), "its unit must be"),
])
def test_an_inconsistent_contract_is_refused_at_registration(unit, consumes, said):
    with pytest.raises(ValueError, match=said):
        registry.register("toy_bad", family="descriptive", summary="-", unit=unit,
                          consumes=consumes)
    assert registry.get("toy_bad") is None


def test_every_shipped_method_has_a_valid_contract():
    for method in registry.load_all().values():
        assert method.unit in registry.UNITS and set(method.consumes) <= set(
            registry.CONSUMABLE), method.name


# ---- the evaluator: a function of its arguments


def test_the_evaluator_keeps_no_evaluation_state():
    checked = check(parse_file(MINI / "mini.sap"))
    ev = Evaluator(checked)
    assert not {"selector", "family", "unit", "scope"} & set(vars(ev))
    change = m.Call("change", (m.Col("score"),))
    at16 = ev.subject_eval(change, 16.0, Handling())
    ids = ev.population(m.PopulationUse("FAS"))
    units = ev.units(ids, None, [0.0, 8.0, 16.0])
    every = ev.subject_eval(change, EACH_VISIT, Handling(),
                            Scope(unit=units, subjects=ids))
    # Evaluating per subject and visit left nothing behind: the same call, the same values.
    again = ev.subject_eval(change, 16.0, Handling())
    pd.testing.assert_series_equal(again, at16)
    fresh = Evaluator(checked).subject_eval(change, 16.0, Handling())
    pd.testing.assert_series_equal(fresh, at16)
    assert every.xs(16.0, level="visit").reindex(ids).tolist() == at16.reindex(ids).tolist()


# ---- the displays' denominators: steps made by compile, run like any other


def test_denominators_are_compiled_steps_run_like_any_step():
    checked = check(parse_file(MINI / "mini.sap"))
    (step,) = denominator_steps(checked.plan)
    table = checked.plan.tables[0]
    assert isinstance(step, DenominatorStep) and step.id == "table 1"
    assert step.loc == table.loc and step.population == table.population
    part = run_step(step, Evaluator(checked))
    assert not part.failures
    n = {dict(r["groups"])["TRT01P"]: r["stat"] for r in part.rows}
    assert n == {"Total": 7.0, "Active": 4.0, "Control": 3.0}  # S08 is not in FAS
    # The executor runs them after the analyses, in workers too, with the same rows.
    one, two = execute(checked, jobs=1), execute(checked, jobs=2)
    assert one.rows == two.rows
    assert [r["analysis_id"] for r in one.rows[-3:]] == ["table 1"] * 3
    assert len(one.rows) == sum(len(run_step(s, Evaluator(checked)).rows)
                                for s in compile_plan(checked)) + 3


def test_a_display_population_with_an_undeclared_arm_fails_at_the_display(tmp_path):
    # A population no analysis or display uses is not the checker's (SAP241 at check): a
    # denominator step of it shows how the executor reports the run-time case (a filter on
    # a parameter the checker cannot evaluate), located at the display.
    text = (MINI / "mini.sap").read_text().replace(
        'population FAS "Full', 'population ALL "All" = adsl\npopulation FAS "Full')
    path = write_plan(tmp_path, text)
    adsl = pd.read_csv(MINI / "adsl.csv")
    adsl.loc[adsl.USUBJID == "S08", "TRT01P"] = "Other"
    adsl.to_csv(tmp_path / "adsl.csv", index=False)
    checked = check(parse_file(path))
    table = checked.plan.tables[0]
    step = DenominatorStep(id="table 1", label=table.title, display="table", number="1",
                           population=m.PopulationUse("ALL"), loc=table.loc)
    part = run_step(step, Evaluator(checked))
    (d,) = part.failures
    assert not part.rows
    assert d.code == "SAP241" and d.message.startswith("table 1: treatment 'TRT01P' has level")
    assert d.location.line == table.loc.line
    assert d.source_line == text.splitlines()[d.location.line - 1]


# ---- SAP219: one rule, applied by the preflight where the checker cannot tell


def test_a_value_needing_a_visit_is_found_where_the_checker_cannot_read_the_filter(tmp_path):
    # `AVAL > AVISITN - 100` compares two columns: the checker cannot tell which rows the
    # parameter keeps, so whether it has visits is the evaluator's answer.
    text = (MINI / "mini.sap").read_text().replace(
        'document "Mini results"', '''parameter late "Score" = adeff.AVAL
  where PARAMCD == "SCORE" and AVAL > AVISITN - 100
analysis L1 "Change, no visit" {
  population FAS
  method descriptive
  variable change(late)
  by treatment
}
document "Mini results"''')
    with pytest.raises(SapError) as exc:
        check(parse_file(write_plan(tmp_path, text)))
    assert exc.value.codes == ["SAP219"]
    (d,) = exc.value.diagnostics
    assert d.message == ("analysis 'L1': change(late) is taken at a visit, but the analysis "
                         "has none: add 'at week N' or 'by visit'")
    assert d.location.line == text.splitlines().index("  variable change(late)") + 1
