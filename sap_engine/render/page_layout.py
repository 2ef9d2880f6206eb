"""How a display is laid out on paper, shared by the RTF and DOCX writers: the page's
orientation, the columns' widths, the header lines, the file name of each display.

A table is portrait when its columns fit the portrait text width with the row labels
wrapped to at most :data:`LABEL_MIN` characters, landscape otherwise (a wide table, such as
one column per body area); the widths come from the characters the cells hold in the
monospaced document font (:data:`sap_engine.render.rtf.CHAR` twips each).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sap_engine.render.rtf import CHAR, FONT_SIZE, GAP, Page
from sap_engine.render.table_model import BuiltTable

LABEL_MIN = 28  # characters a row label may be wrapped to before the page turns landscape
LABEL_MAX = 60  # characters a row label column grows to when there is room
HEADER_WRAP = 16  # a column header longer than this wraps rather than widening the column
INDENT_CHARS = 2  # characters of one indent level
KEEP_GROUP = 20  # a group of at most this many rows is kept on one page
SHORT_SHA = 12  # hex digits of the plan's SHA-256 in the page footer


@dataclass(frozen=True)
class PageFrame:
    """What every page of every display repeats: the study lines of the page header, the
    footer, and the run's time as (year, month, day, hour, minute, second)."""

    study: str
    study_title: str
    footer: str
    created: tuple[int, ...] | None


def page_frame(model) -> PageFrame:
    """The page frame of a document model (its study and provenance)."""
    study, prov = model.study, model.provenance
    attrs = dict(study.get("attributes", ()))
    ident = attrs.get("protocol") or attrs.get("registry")
    line = study.get("name", "") + (f" ({ident})" if ident else "")
    if attrs.get("sponsor"):
        line = f"{attrs['sponsor']}: {line}"
    plan = Path(prov.plan_path).name or "plan"
    sha = prov.plan_sha256[:SHORT_SHA]
    created = prov.created_utc
    footer = (f"Plan {plan} (SHA-256 {sha}); program sap-run, sap-engine "
              f"{prov.engine_version}; data as of the run {created}")
    stamp = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z", created)
    return PageFrame(line, study.get("title", ""), footer,
                     tuple(int(g) for g in stamp.groups()) if stamp else None)


@dataclass(frozen=True)
class TableLayout:
    page: Page
    widths: tuple[int, ...]  # twips: the row-label column, then one per data column
    font_size: int = FONT_SIZE  # half-points: smaller for a table too wide at 9 points


def header_lines(text: str) -> list[str]:
    """A column header as lines: the arm's name, then its N on a line of its own
    (``"IVIg 2.0 g/kg (N=47)"`` -> ``["IVIg 2.0 g/kg", "(N=47)"]``)."""
    found = re.fullmatch(r"(.*\S)\s+(\(N=\d+\))", text)
    return [found.group(1), found.group(2)] if found else [text]


def table_layout(table: BuiltTable) -> TableLayout:
    """The page, column widths and font size of ``table`` (see the module docstring): the
    first of portrait and landscape at 9, 8 and 7 points where every data column holds its
    widest cell and header word and the labels wrap to at most :data:`LABEL_MIN`."""
    rows = [r for s in table.sections for r in s.rows]
    label = max([len(r.label) + INDENT_CHARS * r.indent for r in rows] + [8])
    least, wanted = [], []  # characters of each data column: at the least, and wanted
    for j, head in enumerate(table.header[1:]):
        lines = header_lines(head)
        cells = [len(r.cells[j]) for r in rows if j < len(r.cells)]
        least.append(max([*cells, *(len(w) for line in lines for w in line.split()), 4]))
        wanted.append(max(least[-1], min(max(len(line) for line in lines), HEADER_WRAP)))
    chosen = None
    for size in (FONT_SIZE, FONT_SIZE - 2, FONT_SIZE - 4):
        for page in (Page(landscape=False), Page(landscape=True)):
            if _span(size, [min(label, LABEL_MIN), *least]) <= page.text_width:
                chosen = (size, page)
                break
        if chosen:
            break
    size, page = chosen or (FONT_SIZE - 4, Page(landscape=True))
    room = page.text_width
    fit = wanted if _span(size, [min(label, LABEL_MIN), *wanted]) <= room else least
    widths = [_twips(size, c) for c in (min(label, LABEL_MIN), *fit)]
    if sum(widths) > room:  # too wide even at 7 points: the data columns wrap
        scale = (room - widths[0]) / sum(widths[1:])
        widths[1:] = [int(w * scale) for w in widths[1:]]
    else:  # the label column takes the room it wants first, the data columns the rest
        widths[0] = min(_twips(size, min(label, LABEL_MAX)), room - sum(widths[1:]))
        if len(widths) > 1:
            extra = (room - sum(widths)) // (len(widths) - 1)
            widths[1:] = [w + extra for w in widths[1:]]
    widths[-1] += room - sum(widths)  # rounding: the table spans the text width exactly
    return TableLayout(page, tuple(widths), size)


def _twips(size: int, chars: int) -> int:
    """Twips of a column of ``chars`` characters at ``size`` half-points, with padding and
    one character to spare (a reader's rounding of the cell margins must not wrap it)."""
    return (chars + 1) * size * CHAR // FONT_SIZE + 2 * GAP


def _span(size: int, chars: list[int]) -> int:
    return sum(_twips(size, c) for c in chars)


def figure_page(px_width: int, px_height: int) -> Page:
    """A figure clearly wider than tall (the line charts, 7 x 4.2 in) is printed on a
    landscape page; a squarer one (a heat map, 7.5 x 6.2 in) is larger on a portrait page."""
    return Page(landscape=px_width > 1.25 * px_height)


def display_stem(kind: str, number: str) -> str:
    """A display's file name without suffix: ``t-14-2-1`` (Table 14.2.1), ``f-2a``."""
    slug = re.sub(r"[^a-z0-9]+", "-", number.lower()).strip("-") or "x"
    return f"{kind[0]}-{slug}"


def kept_with_next(group_size: int, index: int) -> bool:
    """Whether row ``index`` of a group of ``group_size`` rows keeps with the next row:
    all but the last of a short group (the group stays on one page), only the first of a
    long one (its heading is never left alone at the foot of a page)."""
    if group_size <= KEEP_GROUP:
        return index < group_size - 1
    return index == 0
