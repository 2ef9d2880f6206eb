"""The RTF TLFs (``report.rtf``, ``rtf/<display>.rtf``), ``report.docx`` and the figures as
PNG, SVG and PDF, checked against independent references: the RTF 1.9 specification (its
grammar of groups and control words, ``\\uN`` escapes, the PNG signature), Pillow reading
the PNG, python-docx reading the Word file back, hashlib for the plan's SHA-256, and the
ARD's own values formatted by hand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zipfile

import pytest
from conftest import MINI, write_plan

from sap_engine import ard
from sap_engine.api import run_plan
from sap_engine.parse import parse_file
from sap_engine.render import rtf
from sap_engine.render.page_layout import display_stem, figure_page, table_layout
from sap_engine.render.tables import BuiltTable, Row, Section

EPOCH = 1700000000
WITH_FIGURE = (MINI / "mini.sap").read_text().replace(
    'document "Mini results"', 'figure "1" "Change by arm" = D1 {\n  population FAS\n  '
    'footnote "Means {and} 95% CIs \\\\ by arm."\n}\n\ndocument "Mini results"')


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The mini plan with a figure, run twice with SOURCE_DATE_EPOCH set."""
    root = tmp_path_factory.mktemp("office")
    plan = write_plan(root, WITH_FIGURE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
        for name in ("a", "b"):
            run_plan(plan, root / name, jobs=1)
    return plan, root / "a", root / "b"


# ---- RTF as the specification reads it


def _groups_balance(text: str) -> bool:
    """Braces balance, counting neither ``\\{`` nor ``\\}`` (escaped) nor ``\\\\``."""
    depth = 0
    for token in re.finditer(r"\\[\\{}]|[{}]", text):
        if token.group() == "{":
            depth += 1
        elif token.group() == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _rows(text: str) -> list[tuple[bool, list[str]]]:
    """Each table row: whether it is a header row, and its cells' plain text."""
    out = []
    for match in re.finditer(r"\\trowd(.*?)\\row\b", text, re.S):
        body = match.group(1)
        *_, last_definition = re.finditer(r"\\cellx\d+", body)
        cells = []
        for chunk in body[last_definition.end():].split("\\cell")[:-1]:
            plain = re.sub(r"\\line ", " ", chunk)
            cells.append(re.sub(r"\\[a-z]+-?\d* ?|[{}]", "", plain).strip())
        out.append(("\\trhdr" in body[:body.index("\\cellx")], cells))
    return out


def test_one_rtf_per_display_and_the_combined_file(runs):
    plan_path, out, _ = runs
    plan = parse_file(plan_path)
    expected = {f"t-{t.number}.rtf" for t in plan.tables} | \
        {f"f-{f.number}.rtf" for f in plan.figures}
    assert {p.name for p in (out / "rtf").iterdir()} == expected == {"t-1.rtf", "f-1.rtf"}
    combined = (out / "report.rtf").read_text(encoding="ascii")
    for name in expected:
        single = (out / "rtf" / name).read_bytes()
        assert single.startswith(b"{\\rtf1\\ansi") and single.endswith(b"}\n")
    # The combined file: a cover section, then one section per display.
    assert combined.count("\\sectd") == 1 + len(expected)
    assert combined.count("\\sect\\sectd") == len(expected)


@pytest.mark.parametrize("name", ["report.rtf", "rtf/t-1.rtf", "rtf/f-1.rtf"])
def test_rtf_structure(runs, name):
    plan_path, out, _ = runs
    text = (out / name).read_bytes().decode("ascii")  # \uN escapes: pure ASCII
    assert text.startswith("{\\rtf1") and _groups_balance(text)
    assert "{\\field{\\*\\fldinst PAGE }" in text and "{\\field{\\*\\fldinst NUMPAGES }" in text
    assert "{\\header" in text and "{\\footer" in text
    sha = hashlib.sha256(plan_path.read_bytes()).hexdigest()
    when = dt.datetime.fromtimestamp(EPOCH, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"Plan {plan_path.name} (SHA-256 {sha[:12]})" in text and when in text
    assert "{\\creatim\\yr2023\\mo11\\dy14\\hr22\\min13}" in text
    # The figure's footnote has braces and a backslash: escaped, the file still balances.
    if "f-1" in name or name == "report.rtf":
        assert "Means \\{and\\} 95% CIs \\\\ by arm." in text
        assert text.count("\\pict\\pngblip") == 1


def test_titles_are_in_the_page_header_and_column_headers_are_header_rows(runs):
    _, out, _ = runs
    text = (out / "rtf" / "t-1.rtf").read_text(encoding="ascii")
    rows = _rows(text)
    flags = [is_head for is_head, _ in rows]
    assert flags == sorted(flags, reverse=True)  # header rows come first
    frame = ard.read(out / "ard.parquet")
    counts = frame[(frame.analysis_id == "table 1") & (frame.method == "population_count")]
    n = {r.group1_level: int(r.stat) for r in counts.itertuples()}
    assert [cells for is_head, cells in rows if is_head] == [
        ["", f"Active drug (N={n['Active']})", f"Control (N={n['Control']})",
         f"Total (N={n['Total']})"]]
    # The numbered title and the population line are in the page header: on every page.
    header = text[text.index("{\\header"):text.index("{\\footer")]
    for line in ("Table 1", "Change from baseline at week 16", "Full analysis set (N = 7)"):
        assert f" {line}\\par}}" in header


def _ard_cells(frame) -> tuple[list[str], list[str]]:
    """The row "n" of D1 and the row "Female" of S1 formatted by hand from the ARD."""
    arms = ("Active", "Control", "Total")
    d1 = frame[(frame.analysis_id == "D1") & (frame.stat_name == "n")]
    n = [str(int(d1[d1.group1_level == a].stat.iloc[0])) for a in arms]
    s1 = frame[(frame.analysis_id == "S1") & (frame.variable_level == "F")]
    female = []
    for a in arms:
        count = s1[(s1.group1_level == a) & (s1.stat_name == "n")].stat.iloc[0]
        total = d1[d1.group1_level == a].stat.iloc[0]  # every subject has a sex here
        female.append(f"{int(count)} ({100 * count / total:.1f})")
    return n, female


def test_known_cells_of_the_rtf_are_the_ard_values(runs):
    _, out, _ = runs
    n, female = _ard_cells(ard.read(out / "ard.parquet"))
    rows = [cells for _, cells in _rows((out / "rtf" / "t-1.rtf").read_text(encoding="ascii"))]
    assert ["n", *n] in rows and ["Female", *female] in rows
    assert female[0] == "3 (75.0)"  # 3 of the 4 active-arm patients


def test_group_rows_keep_with_the_next_row(runs):
    _, out, _ = runs
    text = (out / "rtf" / "t-1.rtf").read_text(encoding="ascii")
    for group in ("Disease score", "Sex, n (%)"):
        row = text[text.rindex("\\trowd", 0, text.index(group)):text.index(group)]
        assert "\\keepn" in row and "\\trkeep" in row


def test_rtf_docx_and_figure_files_are_byte_identical_across_runs(runs):
    _, a, b = runs
    names = ["report.rtf", "rtf/t-1.rtf", "rtf/f-1.rtf", "report.docx",
             "figures/figure-1.png", "figures/figure-1.svg", "figures/figure-1.pdf"]
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _embedded_png(rtf_text: str) -> bytes:
    hexed = re.search(r"\\pict\\pngblip[^\n]*\n([0-9a-f\n]+)}", rtf_text).group(1)
    return bytes.fromhex(hexed.replace("\n", ""))


def test_figures_are_written_as_png_svg_and_pdf(runs):
    from PIL import Image

    _, out, _ = runs
    png = (out / "figures" / "figure-1.png").read_bytes()
    with Image.open(out / "figures" / "figure-1.png") as image:
        assert rtf.png_size(png) == image.size
    assert (out / "figures" / "figure-1.pdf").read_bytes().startswith(b"%PDF-")
    svg = (out / "figures" / "figure-1.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg


def test_rtf_and_docx_embed_the_bare_drawing_not_the_framed_file(runs):
    """The RTF and DOCX print the figure's number, title and footnotes as text: the picture
    they embed is the drawing alone (Pillow: as wide as the framed PNG file, shorter, and
    found pixel for pixel inside it), the same picture in both."""
    import io

    import numpy as np
    from PIL import Image

    _, out, _ = runs
    embedded = _embedded_png((out / "rtf" / "f-1.rtf").read_text(encoding="ascii"))
    assert embedded == _embedded_png((out / "report.rtf").read_text(encoding="ascii"))
    with zipfile.ZipFile(out / "report.docx") as package:
        media = [n for n in package.namelist() if n.startswith("word/media/")]
        assert len(media) == 1 and package.read(media[0]) == embedded
    with Image.open(io.BytesIO(embedded)) as image:
        bare = np.asarray(image.convert("RGB"))
    with Image.open(out / "figures" / "figure-1.png") as image:
        framed = np.asarray(image.convert("RGB"))
    assert bare.shape[1] == framed.shape[1] and bare.shape[0] + 40 < framed.shape[0]
    h = bare.shape[0]
    at = [k for k in range(framed.shape[0] - h + 1) if np.array_equal(framed[k:k + h], bare)]
    # What the framed file has above the drawing (the heading's dark text) is not embedded.
    assert len(at) == 1 and (framed[:at[0]].mean(axis=2) < 128).sum() > 50


def test_svg_and_pdf_files_carry_the_heading_around_a_vector_drawing(runs):
    """The SVG and PDF stand alone like the PNG: number, title, population line and
    footnote, the drawing staying vector. The SVG file is the inline (bare) drawing's
    width and taller by the heading's room; pdftotext reads the heading's text."""
    import shutil
    import subprocess

    _, out, _ = runs
    svg = (out / "figures" / "figure-1.svg").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    box = re.compile(r'<svg[^>]*viewBox="0 0 ([\d.]+) ([\d.]+)"')
    (w_file, h_file), (w_bare, h_bare) = box.search(svg).groups(), box.search(html).groups()
    assert float(w_file) == float(w_bare) and float(h_file) > float(h_bare) + 30
    assert "<image" not in svg  # not a picture of the PNG: paths
    # matplotlib notes each text it draws as paths in a comment.
    for line in ("Figure 1 Change by arm", "Full analysis set (N = 7)",
                 "Means {and} 95% CIs \\ by arm."):
        assert f"<!-- {line} -->" in svg
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(out / "figures" / "figure-1.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[:2] == ["Figure 1 Change by arm", "Full analysis set (N = 7)"]
    assert lines[-1] == "Means {and} 95% CIs \\ by arm."


# ---- DOCX read back with python-docx


def test_docx_tables_header_rows_and_cells(runs):
    import docx
    from docx.oxml.ns import qn

    _, out, _ = runs
    document = docx.Document(str(out / "report.docx"))
    assert len(document.tables) == 1  # the mini plan's one table
    table = document.tables[0]
    flags = [r._tr.trPr is not None and r._tr.trPr.find(qn("w:tblHeader")) is not None
             for r in table.rows]
    assert flags[:4] == [True] * 4 and not any(flags[4:])
    texts = [[c.text for c in r.cells] for r in table.rows]
    assert texts[0][0] == "Table 1" and texts[1][0] == "Change from baseline at week 16"
    n, female = _ard_cells(ard.read(out / "ard.parquet"))
    assert ["n", *n] in texts and ["Female", *female] in texts
    assert len(document.inline_shapes) == 1  # the figure
    assert document.core_properties.created == dt.datetime.fromtimestamp(EPOCH, dt.timezone.utc)
    sections = document.sections
    assert len(sections) == 3  # cover, table, figure
    xml = sections[1].header._element.xml
    assert 'w:instr="PAGE"' in xml and 'w:instr="NUMPAGES"' in xml
    with zipfile.ZipFile(out / "report.docx") as package:
        assert {i.date_time for i in package.infolist()} == {(2023, 11, 14, 22, 13, 20)}


# ---- the pieces, against the specification


@pytest.mark.parametrize("text, expected", [
    ("a{b}c\\d", "a\\{b\\}c\\\\d"),
    ("p \u2265 0.05", "p \\u8805? 0.05"),  # U+2265 is 8805
    ("caf\u00e9", "caf\\u233?"),
    ("\U0001F600", "\\u-10179?\\u-8704?"),  # UTF-16 D83D DE00 as signed 16-bit numbers
    ("one\ntwo\tthree\x07", "one\\line two\\tab three"),
])
def test_escape_follows_the_rtf_specification(text, expected):
    assert rtf.escape(text) == expected


def test_png_size_refuses_what_is_not_a_png():
    with pytest.raises(ValueError, match="not a PNG"):
        rtf.png_size(b"GIF89a" + b"\0" * 30)


def _table(columns: int, cell: str = "12 (34.5)") -> BuiltTable:
    header = ["", *(f"Arm {k} (N=100)" for k in range(columns))]
    rows = [Row(f"Row {i}", [cell] * columns) for i in range(3)]
    return BuiltTable("1", "T", "", header, [Section("G", rows)], [])


def test_a_narrow_table_is_portrait_and_a_wide_one_landscape():
    narrow, wide = table_layout(_table(3)), table_layout(_table(8))
    assert not narrow.page.landscape and wide.page.landscape
    for layout in (narrow, wide):  # the table spans the text width: 8.5 or 11 in - 2 in
        assert sum(layout.widths) == (11 if layout.page.landscape else 8.5) * 1440 - 2 * 1440
    # Each data column holds its widest cell ("12 (34.5)": 9 Courier characters at 9 pt).
    assert min(narrow.widths[1:]) >= 9 * 108
    assert table_layout(_table(14)).font_size < rtf.FONT_SIZE  # too wide at 9 points


def test_a_wide_figure_is_landscape_and_a_square_one_portrait():
    assert figure_page(840, 504).landscape  # 7 x 4.2 in at 120 dpi: the line charts
    assert not figure_page(900, 744).landscape  # 7.5 x 6.2 in: heat maps


def test_display_file_names():
    assert display_stem("table", "14.2.1") == "t-14-2-1"
    assert display_stem("figure", "2a") == "f-2a"


def test_plan_text_with_markup_characters_survives_both_formats(tmp_path, monkeypatch):
    import docx

    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    title = "Change <&> {x} \u2265 caf\u00e9"
    plan = write_plan(tmp_path, (MINI / "mini.sap").read_text().replace(
        '"Change from baseline at week 16"', f'"{title}"', 1))
    run_plan(plan, tmp_path / "out", jobs=1)
    text = (tmp_path / "out" / "rtf" / "t-1.rtf").read_text(encoding="ascii")
    assert _groups_balance(text)
    assert " Change <&> \\{x\\} \\u8805? caf\\u233?\\par}" in text
    table = docx.Document(str(tmp_path / "out" / "report.docx")).tables[0]
    assert table.rows[1].cells[0].text == title
