"""``report.rtf`` and ``rtf/<display>.rtf``: the tables and figures as regulatory TLFs.

Each display is one RTF section on its own page(s), portrait or landscape
(:mod:`sap_engine.render.page_layout`): a page header with the study and "Page x of y"
(fields), the numbered title and the population line, the column headers with each arm's
N (title and headers are table header rows, repeated on every page), the rows in groups
kept together, the footnotes, and a page footer naming the plan file, its SHA-256, the
engine and the run's time (the ARD's ``created_utc``: ``SOURCE_DATE_EPOCH`` when set, so
the files are byte-reproducible). ``report.rtf`` has a cover page (with the run's
provenance block, :attr:`sap_engine.provenance.Provenance.lines`) and every display;
``rtf/t-14-2-1.rtf``, ``rtf/f-2a.rtf`` one display each. Built from the same document
model as the HTML and Markdown (the ARD and the plan only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import BinaryIO

from sap_engine.render import rtf
from sap_engine.render.environment import Escaping
from sap_engine.render.figures import BuiltFigure
from sap_engine.render.page_layout import (
    PageFrame,
    display_stem,
    figure_page,
    header_lines,
    kept_with_next,
    page_frame,
    table_layout,
)
from sap_engine.render.table_model import BuiltTable
from sap_engine.render.writers.registry import Document, Part, Writer, register

ESCAPING = Escaping("rtf", autoescape=False, finalize=rtf.escape)
FIGURE_ROOM = 2880  # twips of a figure page kept for its titles and footnotes


@dataclass(frozen=True)
class _Display:
    stem: str  # file name without suffix: t-14-2-1
    page: rtf.Page
    titles: tuple[str, ...]  # number, title, population: in the page header
    body: str


def _section(frame: PageFrame, display: _Display, first: bool) -> str:
    """One display's section: page settings, header (study, page x of y, the display's
    titles) and footer, then its content."""
    page, width = display.page, display.page.text_width
    titles = [rtf.paragraph(t, align="c", bold=i < 2, space_after=0)
              for i, t in enumerate(display.titles)]
    header = rtf.header_footer("header", [
        rtf.tab_paragraph(rtf.escape(frame.study), rtf.PAGE_X_OF_Y, width),
        rtf.tab_paragraph(rtf.escape(frame.study_title), "", width, bottom_rule=True),
        rtf.paragraph("", size=rtf.SMALL), *titles, rtf.paragraph("", size=rtf.SMALL)])
    footer = rtf.header_footer("footer", [
        rtf.tab_paragraph(rtf.escape(frame.footer), "", width, top_rule=True)])
    return ("" if first else "\\sect") + "\\sectd" + page.section() + "\n" + header + \
        footer + display.body


def _titles(kind: str, number: str, title: str, subtitle: str) -> tuple[str, ...]:
    return (f"{kind} {number}", title, *((subtitle,) if subtitle else ()))


def _table(table: BuiltTable) -> _Display:
    layout = table_layout(table)
    widths, full, size = layout.widths, layout.page.text_width, layout.font_size
    row = partial(rtf.row, size=size)
    # A 2-point paragraph first: LibreOffice (7.4) gives a section that opens with a table
    # the previous section's page header.
    parts = [rtf.paragraph("", size=4)]
    heads = [rtf.Cell(table.header[0] if table.header else "", align="l", raw=False)]
    heads += [rtf.Cell("\\line ".join(rtf.escape(line) for line in header_lines(h)),
                       raw=True) for h in table.header[1:]]
    parts.append(row(heads, widths, header=True, keepn=True, top=True, bottom=True))
    sections = [s for s in table.sections if s.rows or s.label]
    if not sections:
        parts.append(row([rtf.Cell("No results.", align="l")], [full], bottom=True))
    for k, section in enumerate(sections):
        last_section = k == len(sections) - 1
        if section.label:
            parts.append(row([rtf.Cell(section.label, align="l", bold=True)], [full],
                             keepn=True, bottom=last_section and not section.rows))
        for i, r in enumerate(section.rows):
            cells = [rtf.Cell(r.label, align="l", indent=rtf.INDENT * r.indent)]
            cells += [rtf.Cell(c) for c in r.cells[:len(widths) - 1]]
            cells += [rtf.Cell("")] * (len(widths) - len(cells))
            parts.append(row(cells, widths, keepn=kept_with_next(len(section.rows), i),
                             bottom=last_section and i == len(section.rows) - 1))
    parts.append(_notes([*table.footnotes, *table.methods]))
    return _Display(display_stem("table", table.number), layout.page,
                    _titles("Table", table.number, table.title, table.subtitle), "".join(parts))


def _notes(notes: Sequence[str]) -> str:
    out = rtf.paragraph("", size=rtf.SMALL)  # ends the table, a blank line before notes
    return out + "".join(rtf.paragraph(n, size=rtf.SMALL) for n in notes)


def _figure(figure: BuiltFigure) -> _Display:
    # The bare drawing: this page prints the number, title and footnotes as text (the
    # framed figures/*.png carries them too, for a figure file standing alone).
    data = figure.drawing if figure.png else b""
    if data:
        px_w, px_h = rtf.png_size(data)
        page = figure_page(px_w, px_h)
    else:
        page = rtf.Page(landscape=False)
    parts = []
    if data:
        scale = min(page.text_width / px_w, (page.text_height - FIGURE_ROOM) / px_h)
        picture = rtf.picture(data, int(px_w * scale), int(px_h * scale))
        parts.append(rtf.paragraph(picture, align="c", raw=True))
    else:
        parts.append(rtf.paragraph(figure.note or "Figure not drawn.", align="c"))
    parts.append(_notes([*figure.footnotes, *figure.methods]))
    return _Display(display_stem("figure", figure.number), page,
                    _titles("Figure", figure.number, figure.title, figure.subtitle),
                    "".join(parts))


def _cover(document: Document) -> str:
    model = document.model
    prov = model.provenance
    lines = [rtf.paragraph(model.title, align="c", bold=True, space_after=240),
             rtf.paragraph(f"{model.study.get('name', '')}: {model.study.get('title', '')}",
                           align="c", space_after=240)]
    for key, value in model.study.get("attributes", ()):
        lines.append(rtf.paragraph(f"{str(key).capitalize()}: {value}"))
    lines.append(rtf.paragraph("Provenance", bold=True))
    lines += [rtf.paragraph(f"{label}: {value}", size=rtf.SMALL) for label, value in prov.lines]
    lines.append(rtf.paragraph("", space_after=120))
    if model.failures:
        lines.append(rtf.paragraph("Analyses that could not be computed", bold=True))
        lines += [rtf.paragraph(f, size=rtf.SMALL) for f in model.failures]
    if model.warnings:
        lines.append(rtf.paragraph("Notes on the results", bold=True))
        lines += [rtf.paragraph(w, size=rtf.SMALL) for w in model.warnings]
    lines.append(rtf.paragraph("Displays", bold=True))
    lines += [rtf.paragraph(f"Table {t.number} {t.title}") for t in model.tables]
    lines += [rtf.paragraph(f"Figure {f.number} {f.title}") for f in model.figures]
    lines.append(rtf.paragraph("", space_after=120))
    lines += [rtf.paragraph(n, size=rtf.SMALL) for n in model.notes]
    return "".join(lines)


def _displays(document: Document) -> list[_Display]:
    """Each display (tables, then figures), with a file stem of its own."""
    out = [_table(t) for t in document.model.tables]
    out += [_figure(f) for f in document.model.figures]
    seen: dict[str, int] = {}
    for i, display in enumerate(out):  # "14.2.1" and "14-2-1" both give t-14-2-1
        seen[display.stem] = seen.get(display.stem, 0) + 1
        if seen[display.stem] > 1:
            out[i] = replace(display, stem=f"{display.stem}-{seen[display.stem]}")
    return out


def _write_file(document: Document, displays: list[_Display], out: BinaryIO) -> None:
    frame = page_frame(document.model)
    body = "".join(_section(frame, d, first=i == 0) for i, d in enumerate(displays))
    out.write(rtf.document(body, document.model.title, frame.created).encode("ascii"))


def write(document: Document, out: BinaryIO) -> None:
    cover = _Display("report", rtf.Page(landscape=False), (), _cover(document))
    _write_file(document, [cover, *_displays(document)], out)


def parts(document: Document) -> list[Part]:
    return [Part(d.stem, partial(_write_file, document, [d])) for d in _displays(document)]


WRITER = register(Writer("rtf", ".rtf", ESCAPING, write, parts=parts))
