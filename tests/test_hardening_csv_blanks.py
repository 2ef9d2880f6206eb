"""An empty text cell of a CSV file is a missing value (as a blank character value in SAS and
ADaM), not a level "" counted as data."""

from __future__ import annotations

import csv

from conftest import MINI, write_plan

from sap_engine.api import check
from sap_engine.execute import execute
from sap_engine.parse import parse_file


def test_an_empty_text_cell_is_missing_not_a_level(tmp_path):
    path = write_plan(tmp_path, (MINI / "mini.sap").read_text())
    rows = list(csv.DictReader(open(tmp_path / "adsl.csv", newline="")))
    blanked = next(r for r in rows if r["FASFL"] == "Y")
    blanked["SEX"] = ""
    with open(tmp_path / "adsl.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    results = execute(check(parse_file(path)))
    total = {(r["variable_level"], r["stat_name"]): r["stat"] for r in results.rows
             if r["analysis_id"] == "S1" and not r.get("group1")}
    fas = [r for r in rows if r["FASFL"] == "Y"]
    assert total[(None, "n_missing")] == 1  # counted by hand: the one blanked subject
    assert ("", "n") not in total
    assert total[("F", "n")] == sum(r["SEX"] == "F" for r in fas)
    assert total[("M", "n")] == sum(r["SEX"] == "M" for r in fas)


def test_a_run_time_error_quotes_its_own_line_and_writes_numbers_as_the_plan_does(tmp_path,
                                                                                 sap_run):
    """An overflow that only the run finds is located at its expression, quoting that line
    (it quoted the analysis line), and its numbers are not printed as 309 digits."""
    text = (MINI / "mini.sap").read_text() + (
        '\nendpoint zz = AGE + 1.7e308 + 1.7e308\nanalysis ZZ "z" {\n  population FAS\n'
        '  method descriptive\n  variable zz\n}\n')
    plan = write_plan(tmp_path, text)
    done = sap_run("run", plan, "--out", tmp_path / "o", "--jobs", "1")
    assert done.returncode == 2, done.stderr
    head, quoted = done.stderr.splitlines()[:2]
    line = text.splitlines().index("endpoint zz = AGE + 1.7e308 + 1.7e308") + 1
    assert f"plan.sap:{line}:15: error[SAP314]" in head and "1.7e+308" in head
    assert quoted == "  | endpoint zz = AGE + 1.7e308 + 1.7e308"
    assert not (tmp_path / "o").exists()
