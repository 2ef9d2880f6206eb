"""Expressions with constants: a constant stands for the same value in every row, and a
constant on the left of a comparison means what it says (found by the fuzz test: both were
internal errors, exit 3)."""

from __future__ import annotations

import csv

import pytest
from conftest import MINI, write_plan

from sap_engine.api import check
from sap_engine.errors import SapError
from sap_engine.execute import execute
from sap_engine.parse import parse_file

ANALYSIS = '\nendpoint zz = {expr}\nanalysis ZZ "z" {{\n  population FAS\n  method ' \
           'descriptive\n  variable zz\n}}\n'


def _counts(tmp_path, expr: str) -> dict[str, float]:
    text = (MINI / "mini.sap").read_text() + ANALYSIS.format(expr=expr)
    results = execute(check(parse_file(write_plan(tmp_path, text))))
    return {f"{r['variable_level']}:{r['stat_name']}": r["stat"] for r in results.rows
            if r["analysis_id"] == "ZZ" and not r.get("group1")}


def _fas_ages() -> list[float]:
    with open(MINI / "adsl.csv", newline="") as f:
        return [float(r["AGE"]) for r in csv.DictReader(f) if r["FASFL"] == "Y"]


@pytest.mark.parametrize("expr", ["40 < AGE", "AGE > 40", "not (40 >= AGE)"])
def test_a_constant_on_either_side_of_a_comparison(tmp_path, expr):
    ages = _fas_ages()
    got = _counts(tmp_path, expr)
    assert got["Y:n"] == sum(a > 40 for a in ages)  # counted from the CSV by hand
    assert got["N:n"] == sum(a <= 40 for a in ages)


@pytest.mark.parametrize("expr, level", [("1 == 1", "Y"), ("2 < 1", "N"),
                                         ("log(2) > 0", "Y")])
def test_a_constant_condition_holds_for_every_subject(tmp_path, expr, level):
    got = _counts(tmp_path, expr)
    assert got[f"{level}:n"] == len(_fas_ages()) and got[f"{level}:pct"] == 100.0


def test_a_constant_that_is_not_finite_is_a_located_error(tmp_path):
    text = (MINI / "mini.sap").read_text() + ANALYSIS.format(expr="not not log(inf)")
    with pytest.raises(SapError) as exc:
        check(parse_file(write_plan(tmp_path, text)))
    (d,) = exc.value.diagnostics
    assert d.code == "SAP314" and d.source_line == "endpoint zz = not not log(inf)"
    assert d.location.column == len("endpoint zz = not not ") + 1
