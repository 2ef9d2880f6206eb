"""``sap-run explain``: golden files of compile, shown through the explained steps.

``golden/explain/NAME.sap`` (small plans on the mini study's data) is checked, compiled and
explained; the text (paths relative to the repository) must equal ``NAME.expected``. Set
SAP_UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change, then review the
diff: a golden file is a reviewed output.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ROOT, write_plan

from sap_engine.api import explain_plan

GOLDEN = ROOT / "tests" / "golden" / "explain"
UPDATE = os.environ.get("SAP_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.sap")), ids=lambda p: p.stem)
def test_explain_golden(path: Path, monkeypatch):
    monkeypatch.chdir(ROOT)
    got = explain_plan(path.relative_to(ROOT))
    expected = path.with_suffix(".expected")
    if UPDATE:
        expected.write_text(got)
    assert got == expected.read_text()


def test_explain_command_prints_the_steps(sap_run):
    plan = GOLDEN / "ancova.sap"
    done = sap_run("explain", plan.relative_to(ROOT))
    assert done.returncode == 0, done.stderr
    assert done.stdout == plan.with_suffix(".expected").read_text()


def test_explain_of_a_plan_that_does_not_check_is_its_errors(sap_run, tmp_path):
    head = (ROOT / "tests" / "fixtures" / "mini" / "mini.sap").read_text()
    plan = write_plan(tmp_path, head.split("estimand E1")[0] + """
analysis D "Age" {
  population FAS
  method descriptive
  variable adsl.AGE
  lsmeans weights observed
}
""")
    done = sap_run("explain", plan)
    assert done.returncode == 2 and done.stdout == ""
    assert "error[SAP244]" in done.stderr


def test_explain_shows_a_shipped_plan_s_clauses(monkeypatch):
    monkeypatch.chdir(ROOT)
    text = explain_plan("plans/cdiscpilot01.sap")
    step = text.split(": ADAS_ancova ")[1].split("\n\n")[0]
    assert "weights       clause (lsmeans weights)      observed" in step
    assert "factors     adsl.SITEGR1" in step
