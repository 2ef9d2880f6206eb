"""The RTF and DOCX files open in LibreOffice: converted to PDF headless, their text
(pdftotext, poppler) has the titles, the ARD's values and real page numbers, and a long
table repeats its title and column headers on every page and breaks only between groups.

Skipped where LibreOffice (``soffice``) or pdftotext is not installed; ``.ci/run``
installs both (libreoffice-writer-nogui, poppler-utils).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import ROOT

from sap_engine import ard
from sap_engine.api import run_plan
from sap_engine.provenance import Provenance
from sap_engine.render.document import DocumentModel
from sap_engine.render.tables import BuiltTable, Row, Section
from sap_engine.render.writers import Document, rtf, word

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None or shutil.which("pdftotext") is None,
    reason="LibreOffice (soffice) or pdftotext (poppler-utils) is not installed")


def _to_pdf(files, folder) -> None:
    """Convert with a profile of its own: a user's running LibreOffice is left alone."""
    profile = (folder / "lo-profile").as_uri()
    r = subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless",
                        "--convert-to", "pdf", "--outdir", str(folder), *map(str, files)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for f in files:
        assert (folder / f"{f.stem}.pdf").is_file(), (r.stdout, r.stderr)


def _pages(pdf) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, timeout=120, check=True).stdout
    return text.split("\f")[:-1]  # pdftotext ends every page with a form feed


@pytest.fixture(scope="module")
def proderm(tmp_path_factory):
    out = tmp_path_factory.mktemp("proderm") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", "1700000000")
        run_plan(ROOT / "plans" / "prodrem.sap", out, jobs=2)
    pdf = out.parent / "pdf"
    (pdf / "docx").mkdir(parents=True)
    _to_pdf([out / "report.rtf", out / "rtf" / "t-14-2-1.rtf"], pdf)
    _to_pdf([out / "report.docx"], pdf / "docx")  # report.pdf too: a folder of its own
    return out, pdf


def test_proderm_has_one_rtf_per_display(proderm):
    from sap_engine.parse import parse_file

    out, _ = proderm
    plan = parse_file(ROOT / "plans" / "prodrem.sap")
    names = {"t-" + re.sub(r"\W+", "-", t.number) + ".rtf" for t in plan.tables}
    names |= {"f-" + re.sub(r"\W+", "-", f.number.lower()) + ".rtf" for f in plan.figures}
    assert {p.name for p in (out / "rtf").iterdir()} == names
    assert len(names) == len(plan.tables) + len(plan.figures) == 29  # 18 tables, 11 figures


def _expected_n(out) -> tuple[list[str], list[str]]:
    """Table 14.2.1: the header N of each arm and the first row n, from the ARD."""
    frame = ard.read(out / "ard.parquet")
    counts = frame[(frame.analysis_id == "table 14.2.1")
                   & (frame.method == "population_count")]
    big_n = [str(int(counts[counts.group1_level == a].stat.iloc[0])) for a in ("IVIg", "Placebo")]
    rows = frame[(frame.analysis_id == "D_cdasi_a") & (frame.stat_name == "n")]
    small_n = [str(int(rows[rows.group1_level == a].stat.iloc[0])) for a in ("IVIg", "Placebo")]
    return big_n, small_n


def test_one_table_rtf_opens_with_its_title_values_and_page_fields(proderm):
    out, pdf = proderm
    pages = _pages(pdf / "t-14-2-1.pdf")
    text = "\n".join(pages)
    assert "Table 14.2.1" in text
    assert "Change from baseline to week 16 in CDASI activity" in text
    big_n, small_n = _expected_n(out)
    assert re.search(rf"\(N={big_n[0]}\)\s+\(N={big_n[1]}\)", text)
    assert re.search(rf"^\s*n\s+{small_n[0]}\s+{small_n[1]}\s*$", text, re.M)
    # The PAGE and NUMPAGES fields are computed by LibreOffice.
    assert f"Page 1 of {len(pages)}" in pages[0]


@pytest.mark.parametrize("folder", [".", "docx"], ids=["rtf", "docx"])
def test_the_combined_document_opens_with_many_pages(proderm, folder):
    out, pdf = proderm
    pages = _pages(pdf / folder / "report.pdf")
    assert len(pages) > 20  # a cover, 16 tables and 11 figures
    assert f"Page 2 of {len(pages)}" in pages[1]
    text = "\n".join(pages)
    assert "Table 14.1.1" in text and "Figure 2a" in text and "Table 14.2.7" in text
    _, small_n = _expected_n(out)
    assert re.search(rf"^\s*n\s+{small_n[0]}\s+{small_n[1]}\s*$", text, re.M)


def _long_document(tmp_path):
    """A table of 40 groups of 6 rows (several pages), alone in a document."""
    groups = [Section(f"Group {g}", [Row(f"Statistic {i}", [f"{g}.{i}", f"{i}.{g}"])
                                     for i in range(6)]) for g in range(40)]
    table = BuiltTable("99.1", "A long table", "Safety set (N = 10)",
                       ["", "Arm A (N=5)", "Arm B (N=5)"], groups, ["A footnote."])
    model = DocumentModel("Doc", {"name": "S", "title": "Study", "attributes": []},
                          Provenance.of({"plan_path": "p.sap", "plan_sha256": "0" * 64,
                                         "created_utc": "2023-11-14T22:13:20Z"}),
                          [table], [], [], [], [], [])
    return Document(model, None)  # type: ignore[arg-type]


def test_a_long_rtf_table_repeats_its_titles_on_every_page(tmp_path):
    """The titles are in the page header: every reader repeats them. The column headers are
    ``\\trhdr`` rows, which Word repeats and LibreOffice 7.4 does not (its RTF import
    reads no ``\\trhdr``, nor ``\\keepn`` inside a table): only the first page has them
    there (the DOCX test below shows the repeated header rows)."""
    path = tmp_path / "long.rtf"
    with open(path, "wb") as out:
        rtf.parts(_long_document(tmp_path))[0].write(out)
    _to_pdf([path], tmp_path)
    pages = _pages(tmp_path / "long.pdf")
    assert len(pages) >= 3
    for number, page in enumerate(pages, 1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        assert f"Page {number} of {len(pages)}" in lines[0]
        assert "Table 99.1" in lines and "A long table" in lines
        assert "Safety set (N = 10)" in lines
    assert re.search(r"Arm A\s+Arm B", pages[0])


def test_a_long_docx_table_repeats_its_header_rows_on_every_page(tmp_path):
    path = tmp_path / "long.docx"
    with open(path, "wb") as out:
        word.write(_long_document(tmp_path), out)
    _to_pdf([path], tmp_path)
    pages = _pages(tmp_path / "long.pdf")
    assert len(pages) >= 3
    for number, page in enumerate(pages[1:-1], 2):  # the cover, then the table's pages
        assert f"Page {number} of {len(pages)}" in page
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        assert "Table 99.1" in lines and "A long table" in lines
        assert re.search(r"Arm A\s+Arm B", page) and re.search(r"\(N=5\)\s+\(N=5\)", page)
