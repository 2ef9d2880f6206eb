"""The "Estimands" section of the results document: one table per estimand, as a SAP states
it. A Markdown and an HTML snapshot (reviewed golden files), the HTML read without a browser
(the standard library's parser), the treatment condition derived from the arms, and the
document rebuilt from the ARD to the same bytes.

Set SAP_UPDATE_GOLDEN=1 to rewrite a snapshot after a deliberate change, then review it.
"""

from __future__ import annotations

import os
from html.parser import HTMLParser

import pytest
from conftest import MINI, ROOT, write_plan

from sap_engine.api import render_plan, run_plan
from sap_engine.parse import parse_text
from sap_engine.render.estimands import build_estimands

UPDATE = os.environ.get("SAP_UPDATE_GOLDEN") == "1"
GOLDEN = ROOT / "tests" / "golden" / "render"

ADDED = """
intercurrent_event rescue "Rescue medication" = adsl.SWITCHFL == "Y" at adsl.SWITCHWK

estimand E2 "Switching as failure, <any> score" {
  population FAS where baseline(score) > 10
  variable chg_score at week 16
  treatment "Active drug 10 mg daily vs control | open label"
  intercurrent switch composite with value 25
  intercurrent rescue while_on_treatment
  missing locf
}

estimand E_ps "Effect in the patients who would never switch" {
  population FAS
  variable chg_score at week 16
  intercurrent switch principal_stratum
  summary "Difference in means, Active - Control"
}

analysis C1 "Change at week 16, switch as failure" for E2 {
  method descriptive
  variable chg_score
  by treatment
}

analysis P1 "Change at week 16, principal stratum" for E_ps {
  method descriptive
  variable chg_score
  by treatment
}

table "2" "Estimands at week 16" {
  population FAS
  columns treatment
  rows P1 "Principal stratum" show n, mean_sd
  rows C1 "Switch as failure" show n, mean_sd
}

figure "1" "Principal stratum" = P1 {
  population FAS
}
"""


def _plan_text() -> str:
    text = (MINI / "mini.sap").read_text()
    return text.replace('document "Mini results"', ADDED + '\ndocument "Mini results"')


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("estimands")
    plan = write_plan(tmp, _plan_text())
    run_plan(plan, tmp / "out", jobs=1)
    return tmp, plan


def _golden(name: str, got: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(got)
    assert got == path.read_text()


def test_markdown_estimands_snapshot(run):
    tmp, _ = run
    md = (tmp / "out" / "report.md").read_text()
    start = md.index("## Estimands")
    got = md[start:md.index("\n## ", start + 1)].strip() + "\n"
    _golden("estimands.md", got)


def test_html_estimands_snapshot(run):
    tmp, _ = run
    html = (tmp / "out" / "report.html").read_text()
    start = html.index('<h2 id="estimands">')
    got = html[start:html.index("<h2>Tables</h2>", start)].strip() + "\n"
    _golden("estimands.html", got)


class _Tables(HTMLParser):
    """Every <table>'s rows as lists of cell texts (a <br> is a line break), by id."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.order: list[str] = []
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id") or "", [])
            self.order.append(dict(attrs).get("id") or "")
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _html_tables(tmp) -> _Tables:
    parser = _Tables()
    parser.feed((tmp / "out" / "report.html").read_text())
    return parser


def test_html_estimand_tables_read_without_a_browser(run):
    tmp, _ = run
    parser = _html_tables(tmp)
    ids = [i for i in parser.order if i.startswith("estimand-")]
    assert ids == ["estimand-E1", "estimand-E2", "estimand-E_ps"]  # plan order
    assert parser.order.index("estimand-E1") < parser.order.index("table-1")  # near the start
    e2 = {row[0]: row[1].split("\n") for row in parser.tables["estimand-E2"]}
    assert list(e2) == ["Population", "Variable", "Treatment condition",
                        "Intercurrent events and strategies", "Missing data",
                        "Population-level summary", "Analyses"]
    assert e2["Population"] == ["Full analysis set, where baseline(score) > 10"]
    assert e2["Variable"] == ["Change in disease score (chg_score) at Week 16"]
    assert e2["Treatment condition"] == ["Active drug 10 mg daily vs control | open label"]
    assert e2["Intercurrent events and strategies"] == [
        "Switched arm - composite - chg_score is set to 25 at the visits after the event",
        "Rescue medication - while on treatment - values after the event are discarded (then "
        "handled as missing data)"]
    assert e2["Analyses"] == ["C1: Change at week 16, switch as failure"]
    assert e2["Population-level summary"] == ["not stated in the plan"]
    ps = {row[0]: row[1] for row in parser.tables["estimand-E_ps"]}
    assert ps["Analyses"] == ("P1: Change at week 16, principal stratum - not estimable by "
                              "the chosen method")
    assert "principal stratum - not estimable" in ps["Intercurrent events and strategies"]


def test_a_not_estimable_analysis_never_shows_a_number(run):
    tmp, _ = run
    parser = _html_tables(tmp)
    rows = parser.tables["table-2"]
    at = next(i for i, r in enumerate(rows) if r and r[0] == "Principal stratum")
    assert rows[at + 1][0] == "not estimable by the chosen method"
    assert all(cell == "" for cell in rows[at + 1][1:])
    assert any(r[0] == "Switch as failure" for r in rows)  # the other analysis ran
    html = (tmp / "out" / "report.html").read_text()
    assert "Analysis P1 is not estimable by the chosen method" in html  # the figure
    assert "figure-1.png" not in html
    md = (tmp / "out" / "report.md").read_text()
    assert "| &nbsp;&nbsp;not estimable by the chosen method |" in md


def test_the_document_is_rebuilt_from_the_ard_to_the_same_bytes(run):
    tmp, plan = run
    again = tmp / "again"
    render_plan(tmp / "out" / "ard.parquet", plan, again, jobs=1)
    for name in ("report.html", "report.md"):
        assert (again / name).read_bytes() == (tmp / "out" / name).read_bytes(), name


THREE_ARMS = """
treatment TRT01P {
  arm Placebo "Placebo" reference
  arm "Xanomeline Low Dose" "Xan Low"
  arm "Xanomeline High Dose" "Xan High"
}
estimand E { population ITT }
"""


def test_treatment_condition_is_each_arm_against_the_reference():
    plan = parse_text(THREE_ARMS)
    (built,) = build_estimands(plan)
    rows = {r.attribute: r.lines for r in built.rows}
    assert rows["Treatment condition"] == ("Xan Low vs Placebo", "Xan High vs Placebo")
    assert rows["Variable"] == ("not stated in the plan",)
    no_reference = parse_text(THREE_ARMS.replace(" reference", ""))
    (built,) = build_estimands(no_reference)
    rows = {r.attribute: r.lines for r in built.rows}
    assert rows["Treatment condition"] == ("Placebo vs Xan Low vs Xan High",)
    worded = parse_text(THREE_ARMS.replace("{ population ITT }",
                                           '{ treatment "Xanomeline patch vs placebo" }'))
    (built,) = build_estimands(worded)
    assert {r.attribute: r.lines for r in built.rows}["Treatment condition"] == \
        ("Xanomeline patch vs placebo",)
