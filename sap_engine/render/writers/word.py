"""``report.docx``: the tables and figures as a Word document (python-docx).

The same displays as ``report.rtf`` (:mod:`.rtf`), from the same document model and page
layout (:mod:`sap_engine.render.page_layout`): a cover page, then each display in a
section of its own, portrait or landscape, with a page header (study, "Page x of y" as
PAGE and NUMPAGES fields) and footer (plan file and SHA-256, engine, run time). Tables are
real Word tables (:mod:`sap_engine.render.docx_table`): the title rows and the column header
row are marked as header rows (``w:tblHeader``: repeated on every page), group rows keep
with the next row.
Figures are the bare drawings as PNG (``BuiltFigure.drawing``: the page prints their number,
title and footnotes as text, so not the framed ``figures/*.png``). The title page prints the
run's provenance block (:attr:`sap_engine.provenance.Provenance.lines`).

The file is byte-reproducible: python-docx stamps the document properties and every zip
member with the clock, so the properties are set to the run's time (the ARD's
``created_utc``) and the package is rewritten with that time on every member.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable
from functools import partial
from typing import BinaryIO

from sap_engine.render import docx_table, rtf
from sap_engine.render.environment import Escaping
from sap_engine.render.figures import BuiltFigure
from sap_engine.render.page_layout import figure_page, page_frame, table_layout
from sap_engine.render.table_model import BuiltTable
from sap_engine.render.writers.registry import Document, Writer, register

_text = docx_table.text
ESCAPING = Escaping("docx", autoescape=False, finalize=_text)  # python-docx escapes XML


def _twips(value: int):
    from docx.shared import Twips

    return Twips(value)


def _field(paragraph, instruction: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    simple = OxmlElement("w:fldSimple")
    simple.set(qn("w:instr"), instruction)
    run, text = OxmlElement("w:r"), OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    simple.append(run)
    paragraph._p.append(simple)


def _paragraph(container, text: str, align: str = "l", bold: bool = False,
               size: float = 9, keep: bool = False):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    para = container.add_paragraph()
    run = para.add_run(_text(text))
    run.bold = bold or None
    run.font.size = Pt(size)
    para.alignment = {"l": WD_ALIGN_PARAGRAPH.LEFT, "c": WD_ALIGN_PARAGRAPH.CENTER}[align]
    para.paragraph_format.keep_with_next = keep or None
    para.paragraph_format.space_after = Pt(0)
    return para


def _page(section, page: rtf.Page, model, normal) -> None:
    """Page size, orientation, margins, and the header and footer of one section."""
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_TAB_ALIGNMENT

    width, height = page.size
    section.orientation = WD_ORIENT.LANDSCAPE if page.landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = _twips(width), _twips(height)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, _twips(rtf.MARGIN))
    section.header.is_linked_to_previous = False
    section.footer.is_linked_to_previous = False
    head = section.header.paragraphs[0]
    head.style = normal  # not the style "Header": its centre tab stop would take the tab
    head.paragraph_format.tab_stops.add_tab_stop(_twips(page.text_width),
                                                 WD_TAB_ALIGNMENT.RIGHT)
    frame = page_frame(model)
    head.add_run(_text(frame.study))
    head.add_run("\tPage ")
    _field(head, "PAGE")
    head.add_run(" of ")
    _field(head, "NUMPAGES")
    _paragraph(section.header, frame.study_title, size=8)
    section.footer.paragraphs[0].add_run(_text(frame.footer))


def _table(doc, table: BuiltTable) -> rtf.Page:
    from docx.oxml import parse_xml

    layout = table_layout(table)
    body = doc.element.body
    body.insert(len(body) - 1, parse_xml(docx_table.table_xml(table, layout)))  # before sectPr
    _paragraph(doc, "")
    for note in (*table.footnotes, *table.methods):
        _paragraph(doc, note, size=8)
    return layout.page


def _figure(doc, figure: BuiltFigure) -> rtf.Page:
    # The bare drawing: this page prints the number, title and footnotes as text (the
    # framed figures/*.png carries them too, for a figure file standing alone).
    data = figure.drawing if figure.png else b""
    if data:
        px_w, px_h = rtf.png_size(data)
        page = figure_page(px_w, px_h)
    else:
        page = rtf.Page(landscape=False)
    _paragraph(doc, f"Figure {figure.number}", "c", bold=True, keep=True)
    _paragraph(doc, figure.title, "c", bold=True, keep=True)
    if figure.subtitle:
        _paragraph(doc, figure.subtitle, "c", keep=True)
    if data:
        scale = min(page.text_width / px_w, (page.text_height - 2880) / px_h)
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        doc.add_picture(io.BytesIO(data), width=_twips(int(px_w * scale)))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    else:
        _paragraph(doc, figure.note or "Figure not drawn.", "c")
    for note in (*figure.footnotes, *figure.methods):
        _paragraph(doc, note, size=8)
    return page


def _cover(doc, model) -> None:
    prov = model.provenance
    _paragraph(doc, model.title, "c", bold=True, size=12)
    _paragraph(doc, f"{model.study.get('name', '')}: {model.study.get('title', '')}", "c")
    _paragraph(doc, "")
    for key, value in model.study.get("attributes", ()):
        _paragraph(doc, f"{str(key).capitalize()}: {value}")
    _paragraph(doc, "")
    _paragraph(doc, "Provenance", bold=True)
    for label, value in prov.lines:
        _paragraph(doc, f"{label}: {value}", size=8)
    _paragraph(doc, "")
    for heading, lines in (("Analyses that could not be computed", model.failures),
                           ("Notes on the results", model.warnings)):
        if lines:
            _paragraph(doc, heading, bold=True)
            for line in lines:
                _paragraph(doc, line, size=8)
    _paragraph(doc, "Displays", bold=True)
    for t in model.tables:
        _paragraph(doc, f"Table {t.number} {t.title}")
    for f in model.figures:
        _paragraph(doc, f"Figure {f.number} {f.title}")
    for note in model.notes:
        _paragraph(doc, note, size=8)


def _created(model) -> dt.datetime:
    stamp = model.provenance.created_utc
    try:
        return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)


def write(document: Document, out: BinaryIO) -> None:
    import docx
    from docx.enum.section import WD_SECTION
    from docx.oxml.ns import qn
    from docx.shared import Pt

    model = document.model
    doc = docx.Document()
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = "Courier New", Pt(9)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "Courier New")
    normal.paragraph_format.space_after, normal.paragraph_format.line_spacing = Pt(0), 1.0
    _page(doc.sections[0], rtf.Page(landscape=False), model, normal)
    _cover(doc, model)
    builds: list[Callable[[], rtf.Page]] = [partial(_table, doc, t) for t in model.tables]
    builds += [partial(_figure, doc, f) for f in model.figures]
    for build in builds:
        section = doc.add_section(WD_SECTION.NEW_PAGE)
        _page(section, build(), model, normal)
    created = _created(model)
    props = doc.core_properties
    props.title, props.author, props.last_modified_by = _text(model.title), "sap-run", "sap-run"
    props.created = props.modified = created
    props.revision = 1
    buffer = io.BytesIO()
    doc.save(buffer)
    out.write(_stable_zip(buffer.getvalue(), created))


def _stable_zip(data: bytes, when: dt.datetime) -> bytes:
    """The package again, every member stamped ``when`` (zip keeps no time zone)."""
    stamp = max(when, dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)).timetuple()[:6]
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=stamp)
            member.compress_type, member.external_attr = zipfile.ZIP_DEFLATED, 0o600 << 16
            target.writestr(member, source.read(info.filename))
    return buffer.getvalue()


WRITER = register(Writer("docx", ".docx", ESCAPING, write))
