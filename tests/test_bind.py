"""Bind once: what the checker approves is what compile orders and execute fits.

Bug 1 of issue 9: a ``cut`` term and a condition (``AGE > 40``) in a model were typed as
factors by the checker and as covariates by compile (a run-time SAP425, or a silently
different model). Bug 2: a clause reached a method through an option of the same name. The
unit tests below pin the bound analyses, the compiled steps and their resolved options.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import MINI, write_plan

from sap_engine import model as m
from sap_engine.api import check_plan
from sap_engine.bind import Repetition, Term
from sap_engine.compile import compile_plan, resolved_options
from sap_engine.data.derive import Evaluator
from sap_engine.errors import SapError
from sap_engine.execute import analysis_frame, run_step

# The mini study's declarations (data, treatment, labels, population, visits, parameter,
# endpoints, stratum), without its analyses.
HEAD = (MINI / "mini.sap").read_text().split("estimand E1")[0]
CUT = '(baseline(score) cut (0, 15] "low", (15, inf) "high")'


def _checked(tmp_path, analyses: str):
    return check_plan(write_plan(tmp_path, HEAD + analyses))


def _run(checked, name: str):
    step = next(s for s in compile_plan(checked) if s.id == name)
    ev = Evaluator(checked)
    return step, ev, run_step(step, ev)


def _ancova(name: str, term: str, extra: str = "") -> str:
    return f"""
analysis {name} "ANCOVA" {{
  population FAS
  method ancova
  model chg_score ~ treatment + {term}
  at week 16
  {extra}
}}
"""


def _stats(rows: list[dict]) -> dict[tuple, float]:
    return {(r["stat_name"], r["variable_level"],
             dict(r["groups"]).get("TRT01P")): r["stat"] for r in rows}


def _independent_fit(factor: pd.Series):
    """statsmodels OLS of chg ~ C(TRT01P, Sum) + C(factor, Sum) on the mini data at week 16
    (FAS, observed values), with equal-weight LS means over the factor's levels."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    adsl = pd.read_csv(MINI / "adsl.csv").set_index("USUBJID")
    eff = pd.read_csv(MINI / "adeff.csv")
    eff = eff[eff.PARAMCD == "SCORE"].pivot(index="USUBJID", columns="AVISITN", values="AVAL")
    data = pd.DataFrame({"chg": eff[16] - eff[0], "base": eff[0], "trt": adsl.TRT01P})
    data["f"] = factor.reindex(data.index)
    data = data[adsl.FASFL.reindex(data.index) == "Y"].dropna()
    fit = smf.ols("chg ~ C(trt, Sum) + C(f, Sum)", data=data).fit()
    table = anova_lm(fit, typ=3)
    levels = sorted(data.f.unique())
    lsmeans = {arm: float(np.mean(fit.predict(pd.DataFrame({"trt": [arm] * len(levels),
                                                             "f": levels}))))
               for arm in ("Active", "Control")}
    return data, table.loc["C(f, Sum)"], table.loc["C(trt, Sum)"], lsmeans


def _baseline_category():
    eff = pd.read_csv(MINI / "adeff.csv")
    base = eff[(eff.PARAMCD == "SCORE") & (eff.AVISITN == 0)].set_index("USUBJID").AVAL
    return base.map(lambda v: "low" if 0 < v <= 15 else "high")


def test_a_cut_term_in_a_model_is_fitted_as_the_factor_the_checker_approved(tmp_path):
    # Bug 1: passed check as a factor, then failed at run as a non-numeric covariate.
    checked = _checked(tmp_path, _ancova("A1", CUT))
    step, ev, result = _run(checked, "A1")
    assert not result.failures, result.failures
    (term,) = step.role_map["factors"]
    assert (term.kind, term.coding) == ("category", "text")
    assert "covariates" not in step.role_map
    frame = analysis_frame(step, ev)
    assert set(frame[term.column].dropna()) == {"low", "high"}
    data, f_row, trt_row, lsmeans = _independent_fit(_baseline_category())
    got = _stats(result.rows)
    assert got[("f_value", term.column, None)] == pytest.approx(f_row["F"], rel=1e-9)
    assert got[("p_value", term.column, None)] == pytest.approx(f_row["PR(>F)"], rel=1e-9)
    assert got[("f_value", "TRT01P", None)] == pytest.approx(trt_row["F"], rel=1e-9)
    for arm, value in lsmeans.items():
        assert got[("lsmean", None, arm)] == pytest.approx(value, rel=1e-9)
    assert got[("n", "model", None)] == len(data)


def test_a_condition_in_a_model_is_a_two_level_factor_not_a_covariate(tmp_path):
    # Bug 1: `(AGE > 40)` was approved as a factor and silently fitted as a 0/1 covariate,
    # whose LS means sit at the covariate's mean instead of averaging the two levels.
    checked = _checked(tmp_path, _ancova("A2", "(adsl.AGE > 40)"))
    step, ev, result = _run(checked, "A2")
    assert not result.failures, result.failures
    (term,) = step.role_map["factors"]
    assert (term.kind, term.coding) == ("bool", "flag")
    frame = analysis_frame(step, ev)
    assert set(frame[term.column].dropna()) == {"Y", "N"}
    adsl = pd.read_csv(MINI / "adsl.csv").set_index("USUBJID")
    _, f_row, _, lsmeans = _independent_fit((adsl.AGE > 40).map({True: "Y", False: "N"}))
    got = _stats(result.rows)
    assert got[("f_value", term.column, None)] == pytest.approx(f_row["F"], rel=1e-9)
    for arm, value in lsmeans.items():
        assert got[("lsmean", None, arm)] == pytest.approx(value, rel=1e-9)


def test_a_condition_endpoint_in_a_numeric_role_is_one_or_zero(tmp_path):
    # The checker approves a condition in a numeric role (an event flag); it used to reach
    # the method as "Y"/"N" text and fail (SAP476) when written as an endpoint.
    checked = _checked(tmp_path, """
endpoint old "Older than 50" = adsl.AGE > 50

analysis K1 "Time" {
  population FAS
  method kaplan_meier
  roles time = adsl.AGE, event = old
  options event_from = event
}
""")
    step, ev, result = _run(checked, "K1")
    assert not result.failures, result.failures
    (event,) = step.role_map["event"]
    assert (event.kind, event.coding) == ("bool", "indicator")
    assert set(analysis_frame(step, ev)[event.column].dropna()) == {0.0, 1.0}


def _codes(tmp_path, analyses: str) -> list[tuple[str, int]]:
    with pytest.raises(SapError) as info:
        _checked(tmp_path, analyses)
    return [(d.code, d.location.line) for d in info.value.diagnostics]


def _line(analyses: str, text: str) -> int:
    return (HEAD + analyses).splitlines().index(text) + 1


LSMEANS_UNDER = """
analysis X "x" {{
  population FAS
  method {method}
  {roles}
  lsmeans weights observed
}}
"""


@pytest.mark.parametrize("method, roles", [
    ("descriptive", "variable adsl.AGE"),
    ("multiplicity", "roles p_value = adsl.AGE, hypothesis = adsl.SEX"),
])
def test_lsmeans_weights_under_a_method_without_ls_means_is_a_located_error(
        tmp_path, method, roles):
    # Bug 2: dropped silently under descriptive; under multiplicity it became the list
    # option `weights` as the string 'observed'.
    text = LSMEANS_UNDER.format(method=method, roles=roles)
    assert _codes(tmp_path, text) == [("SAP244", _line(text, "  lsmeans weights observed"))]


def test_lsmeans_weights_clause_and_option_together_are_a_located_error(tmp_path):
    text = _ancova("A3", "baseline(score)",
                   "lsmeans weights observed\n  options weights = equal")
    assert _codes(tmp_path, text) == [("SAP245", _line(text, "  options weights = equal"))]


def test_a_list_option_given_a_single_value_is_refused(tmp_path):
    text = """
analysis S "Sex" {
  population FAS
  method descriptive
  variable adsl.SEX
  options levels = "F"
}
"""
    assert _codes(tmp_path, text) == [("SAP207", _line(text, '  options levels = "F"'))]


# ---- unit tests of the bound analyses and compiled steps -----------------------------------
def test_bound_roles_are_typed_terms_with_frame_columns(tmp_path):
    checked = _checked(tmp_path, _ancova("A", f"baseline(score) + adsl.SEX + {CUT}"))
    bound = checked.bound["A"]
    roles = {role: [(t.name, t.kind, t.column, t.coding) for t in terms]
             for role, terms in bound.roles}
    assert roles["response"] == [("chg_score", "numeric", "chg_score", "number")]
    assert roles["treatment"] == [("treatment", "category", "TRT01P", "text")]
    assert roles["covariates"] == [("baseline_score", "numeric", "baseline_score", "number")]
    assert [r[:2] for r in roles["factors"]] == [("SEX", "string"), (
        "baseline_score__cut__0__15___low____15__inf___high", "category")]
    assert bound.visit == 16 and bound.population.name == "FAS"
    with pytest.raises(AttributeError):  # frozen
        bound.roles[0][1][0].kind = "numeric"  # type: ignore[misc]


def test_options_record_their_source(tmp_path):
    checked = _checked(tmp_path, _ancova("A", "baseline(score)",
                                         "contrast Active - Control\n  options adjust = holm"))
    options = {o.name: (o.value, o.source, o.clause) for o in checked.bound["A"].options}
    assert options["contrasts"] == (("Active - Control",), "clause", "contrast")
    assert options["reference"] == ("Control", "clause", "treatment reference")
    assert options["levels"] == (("Active", "Control"), "clause", "treatment arms")
    assert options["adjust"] == ("holm", "given", "")
    assert options["weights"] == ("equal", "default", "")
    step = compile_plan(checked)[0]
    # The method receives lists for what the plan gave or implied, as before binding.
    assert step.option_map["contrasts"] == ["Active - Control"]
    assert step.option_map["interactions"] == ()
    report = resolved_options(compile_plan(checked))
    assert json.loads(json.dumps(report)) == report
    assert report["A"]["contrasts"] == {"value": ["Active - Control"], "source": "clause",
                                        "clause": "contrast"}
    assert report["A"]["adjust"] == {"value": "holm", "source": "given"}


def test_an_option_given_overrides_a_declaration_of_the_whole_plan(tmp_path):
    # A labels block orders SEX for every analysis; an analysis' own `levels` is more specific.
    checked = _checked(tmp_path, """
analysis S "Sex" {
  population FAS
  method descriptive
  variable adsl.SEX
  options levels = ["M", "F"]
}
analysis T "Sex" {
  population FAS
  method descriptive
  variable adsl.SEX
}
""")
    given = {o.name: o for o in checked.bound["S"].options}["levels"]
    implied = {o.name: o for o in checked.bound["T"].options}["levels"]
    assert (given.value, given.source) == (("M", "F"), "given")
    assert (implied.value, implied.source, implied.clause) == (
        ("F", "M"), "clause", "variable category order")


def test_the_arms_order_only_a_group_that_is_the_treatment(tmp_path):
    checked = _checked(tmp_path, """
analysis K "Time by sex" {
  population FAS
  method kaplan_meier
  roles time = adsl.AGE, event = adsl.SWITCHWK, group = adsl.SEX
}
analysis L "Time by arm" {
  population FAS
  method kaplan_meier
  roles time = adsl.AGE, event = adsl.SWITCHWK
}
""")
    assert {o.name: o.source for o in checked.bound["K"].options}["levels"] == "default"
    assert {o.name: o.value for o in checked.bound["L"].options}["levels"] == (
        "Active", "Control")


def test_a_repetition_is_expanded_by_compile_after_its_base():
    checked = check_plan(MINI / "mini.sap")
    assert isinstance(checked.bound["D1s"], Repetition)
    steps = compile_plan(checked)
    ids = [s.id for s in steps]
    assert ids.index("D1") < ids.index("D1s")
    d1, d1s = (next(s for s in steps if s.id == n) for n in ("D1", "D1s"))
    assert d1s.by == (*d1.by, "base_cat") and d1s.depends == ("D1",) and d1s.repeated
    assert d1s.roles == d1.roles and d1s.options == d1.options
    assert d1s.label == "Change at week 16 by baseline score"
    assert d1.handling.missing == "observed_case" and d1.visit == 16


def test_terms_are_frozen_values():
    t = Term(expr=m.Col("AGE"), kind="numeric", column="AGE", coding="number")
    assert t.name == "AGE" and not t.is_treatment and hash(t)


def test_a_repetition_of_a_repetition_keeps_every_by_item(tmp_path):
    # `D3 = D2 by age_cat` with `D2 = D1 by base_cat` used to drop D2's base_cat.
    checked = _checked(tmp_path, """
stratum age_cat "Age" = adsl.AGE cut (0, 45] "young", (45, inf) "old"

analysis D1 "Age" {
  population FAS
  method descriptive
  variable adsl.AGE
  by treatment
}
analysis D2 "Age by baseline score" = D1 by base_cat
analysis D3 "Age by baseline score and age" = D2 by age_cat
""")
    steps = {s.id: s for s in compile_plan(checked)}
    assert steps["D3"].by == ("treatment", "base_cat", "age_cat")
    assert steps["D3"].depends == ("D2",)
    ev = Evaluator(checked)
    ids = {r["analysis_id"] for r in run_step(steps["D3"], ev).rows}
    assert "D3[base_cat=low;age_cat=young]" in ids


def test_binding_a_plan_that_check_refuses_loads_no_pandas():
    # Binding runs inside check: a plan refused for its names is reported without pandas.
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys; from sap_engine.api import check_plan\n"
            "try:\n    check_plan('tests/golden/errors/bind_clause_refused.sap')\n"
            "except Exception as exc:\n    print(type(exc).__name__)\n"
            "print('pandas' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.stdout.split() == ["PlanCheckError", "False"], r.stderr


def test_variables_with_different_category_orders_do_not_share_one(tmp_path):
    # `variable adsl.SEX, base_cat` runs once per variable with one `levels` option: the
    # labels order of SEX used to be imposed on base_cat, whose levels were then all missed.
    checked = _checked(tmp_path, """
analysis V "Sex and baseline category" {
  population FAS
  method descriptive
  variable adsl.SEX, base_cat
}
""")
    assert {o.name: o.source for o in checked.bound["V"].options}["levels"] == "default"
    step, _, result = _run(checked, "V")
    counts = {(r["variable"], r["variable_level"]): r["stat"] for r in result.rows
              if r["stat_name"] == "n"}
    assert counts[("base_cat", "low")] == 3 and counts[("base_cat", "high")] == 4
    assert counts[("SEX", "F")] == 5
