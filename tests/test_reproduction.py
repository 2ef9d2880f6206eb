"""The ProDERM plan on the shipped synthetic data reproduces every published figure.

The comparison is the document's appendix itself (plans/prodrem.reproduction.json against
studies/proderm/published.json, a copy of shared/proderm/published.json); this test fails
when any figure falls outside its tolerance, and names it.
"""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, SHARED

from sap_engine import ard
from sap_engine.api import run_plan
from sap_engine.render.ard_view import ArdView
from sap_engine.render.reproduction import compare, load
from studies.proderm import reproduction_map


@pytest.fixture(scope="module")
def prodrem(tmp_path_factory):
    out = tmp_path_factory.mktemp("prodrem") / "out"
    result = run_plan(ROOT / "plans" / "prodrem.sap", out)
    return result, ard.read(out / "ard.parquet")


def test_map_is_current():
    assert reproduction_map.main(["--check"]) == 0, \
        "run: python -m studies.proderm.reproduction_map"


def test_published_copy_matches_shared():
    shared = SHARED / "proderm" / "published.json"
    if not shared.exists():
        pytest.skip("shared/ is not beside the checkout")
    ours = ROOT / "studies" / "proderm" / "published.json"
    assert json.loads(ours.read_text()) == json.loads(shared.read_text())


def test_every_published_figure_within_tolerance(prodrem):
    _, frame = prodrem
    mapping, published, _ = load(str(ROOT / "plans" / "prodrem.sap"),
                                 "prodrem.reproduction.json")
    checks = compare(ArdView(frame), mapping, published)
    assert len(checks) >= 290
    failed = [(c.figure, c.published, c.engine, c.tolerance, c.note) for c in checks
              if c.within is False]
    assert not failed, failed


def test_appendix_in_document(prodrem):
    result, _ = prodrem
    html = (result.out_dir / "report.html").read_text()
    assert 'id="reproduction"' in html
    assert "published figures are reproduced within their tolerance" in html
    # Figures: inline SVG in the HTML, PNG files beside it.
    assert html.count("<svg") >= 10
    pngs = list((result.out_dir / "figures").glob("*.png"))
    assert len(pngs) >= 10 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
