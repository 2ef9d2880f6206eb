"""Snapshot tests of rendered sections, one table at a time (reviewed golden files).

Set SAP_UPDATE_GOLDEN=1 to rewrite a snapshot after a deliberate change, then review it.
"""

from __future__ import annotations

import os

import pytest
from conftest import MINI, ROOT

from sap_engine.api import run_plan

UPDATE = os.environ.get("SAP_UPDATE_GOLDEN") == "1"


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(heading)
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end > 0 else None].strip() + "\n"


@pytest.mark.parametrize("plan, heading, snapshot", [
    (MINI / "mini.sap", "## Table 1 ", "mini_table1.md"),
])
def test_markdown_table_snapshot(tmp_path, plan, heading, snapshot):
    out = tmp_path / "out"
    run_plan(plan, out)
    got = _section((out / "report.md").read_text(), heading)
    path = ROOT / "tests" / "golden" / "render" / snapshot
    if UPDATE:
        path.write_text(got)
    assert got == path.read_text()


def test_html_table_snapshot(tmp_path):
    out = tmp_path / "out"
    run_plan(MINI / "mini.sap", out)
    html = (out / "report.html").read_text()
    start = html.index('<table class="results" id="table-1">')
    got = html[start:html.index("</table>", start) + len("</table>")] + "\n"
    path = ROOT / "tests" / "golden" / "render" / "mini_table1.html"
    if UPDATE:
        path.write_text(got)
    assert got == path.read_text()


@pytest.mark.parametrize("rule, said", [
    (None, "rounded half away from zero (SAS ROUND)"),
    ("half_even", "rounded half to even (IEEE)")])
def test_the_document_states_the_rounding_rule_the_plan_chose(tmp_path, rule, said):
    from conftest import write_plan

    text = (MINI / "mini.sap").read_text()
    if rule:
        text = text.replace("  include all\n}", f"  include all\n  rounding {rule}\n}}")
    run_plan(write_plan(tmp_path, text), tmp_path / "out", jobs=1)
    for name in ("report.md", "report.html"):
        report = (tmp_path / "out" / name).read_text()
        assert said in report
        assert ("half away" in report) == (rule is None), name  # never the other rule
