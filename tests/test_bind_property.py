"""Property: whatever ``check`` accepts, compile and execute accept with the same types.

Small analysis statements over the mini study's columns (numbers, categories, cuts,
conditions; as covariates, factors, analysed variables, crosstab rows, responses and events)
are checked; for every plan the checker accepts, each bound term's column in the analysis
frame holds what its kind and role say (a number, text, the flag "Y"/"N", or 1/0), and no
analysis fails at run for a type (a non-numeric covariate, SAP425, and its kin).
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import MINI
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from sap_engine.api import check_plan
from sap_engine.compile import compile_plan
from sap_engine.data.derive import Evaluator
from sap_engine.errors import SapError
from sap_engine.execute import analysis_frame, run_step

HEAD = (MINI / "mini.sap").read_text().split("estimand E1")[0] + \
    'endpoint old "Older than 50" = adsl.AGE > 50\n'
NUMBERS = ["adsl.AGE", "baseline(score)", "score", "(adsl.AGE / 10)"]
CATEGORIES = ["adsl.SEX", "adsl.SITE", "base_cat", '(adsl.AGE cut (0, 45] "young", (45, inf) '
              '"old")', '(baseline(score) cut (0, 15] "low", (15, inf) "high")']
CONDITIONS = ["(adsl.AGE > 40)", '(adsl.SEX == "F")', "improved", "old",
              "(baseline(score) >= 15)", '(adsl.SITE in {"A"})']
TERMS = NUMBERS + CATEGORIES + CONDITIONS
# Run-time failures that mean a term reached the method with another type than checked.
TYPE_CODES = {"SAP424", "SAP425", "SAP454"}

terms = st.sampled_from(TERMS)
categorical = st.sampled_from(CATEGORIES + CONDITIONS)
conditions = st.sampled_from(CONDITIONS)


@st.composite
def statements(draw) -> str:
    kind = draw(st.sampled_from(["ancova", "descriptive", "crosstab", "logistic", "event",
                                 "smd"]))
    if kind == "ancova":
        rhs = " + ".join(dict.fromkeys(draw(st.lists(terms, min_size=1, max_size=2))))
        return f"method ancova\n  model chg_score ~ treatment + {rhs}"
    if kind == "descriptive":
        return f"method descriptive\n  variable {draw(terms)}"
    if kind == "smd":
        return f"method smd\n  variable {draw(terms)}"
    if kind == "crosstab":
        row, col = draw(categorical), draw(categorical)
        return f"method {draw(st.sampled_from(['chisq', 'fisher_exact']))}\n" \
               f"  crosstab {row} by {col}"
    if kind == "logistic":
        return f"method logistic\n  model {draw(conditions)} ~ treatment + {draw(terms)}"
    return f"method kaplan_meier\n  roles time = adsl.AGE, event = {draw(conditions)}\n" \
           "  options event_from = event"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    for f in MINI.glob("*.csv"):
        (folder / f.name).write_bytes(f.read_bytes())
    return folder


def _expected(kind: str | None) -> set[str]:
    return {"numeric": {"number"}, "bool": {"flag", "indicator"}}.get(kind or "", {"text"})


def _holds(coding: str, column: pd.Series) -> bool:
    values = column.dropna()
    if coding == "number":
        return pd.api.types.is_numeric_dtype(column)
    if coding == "indicator":
        return pd.api.types.is_numeric_dtype(column) and set(values) <= {0.0, 1.0}
    if coding == "flag":
        return set(values) <= {"Y", "N"}
    return all(isinstance(v, str) for v in values)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(statement=statements())
@example(statement='method ancova\n  model chg_score ~ treatment + (baseline(score) cut '
                   '(0, 15] "low", (15, inf) "high")')
@example(statement="method ancova\n  model chg_score ~ treatment + (adsl.AGE > 40)")
@example(statement="method kaplan_meier\n  roles time = adsl.AGE, event = old\n"
                   "  options event_from = event")
def test_what_check_accepts_runs_with_the_checked_types(study, statement):
    plan = study / "plan.sap"
    plan.write_text(HEAD + f'analysis P "p" {{\n  population FAS\n  {statement}\n'
                           "  at week 16\n}\n")
    try:
        checked = check_plan(plan)
    except SapError as exc:
        event(f"refused {exc.diagnostics[0].code}")
        return  # refused by the checker: nothing to hold
    event("accepted")
    (step,) = compile_plan(checked)
    ev = Evaluator(checked)
    frame = analysis_frame(step, ev)
    for role, bound in step.roles:
        for term in bound:
            assert term.coding in _expected(term.kind), (role, term)
            if not term.is_treatment:
                assert _holds(term.coding, frame[term.column]), (role, term,
                                                                 frame[term.column].tolist())
    for failure in run_step(step, ev).failures:
        event(f"failed at run {failure.code}")
        assert failure.code not in TYPE_CODES, failure.message
        assert "not numeric" not in failure.message, failure.message
