"""RTF 1.9 building blocks: escaped text, paragraphs, table rows, fields, pictures, sections.

Written directly rather than with rtflite (the pharmaverse RTF composer): rtflite paginates
by counting rows per page and copies the titles and column headers onto each page it
computed, so a wrapped label shifts every later page break; it has no ``\\trhdr`` header rows,
no keep-with-next, prints the page number as ``\\chpgn`` instead of a PAGE field, passes
``{``, ``}`` and ``\\`` in text through unescaped (a footnote with a brace breaks the file),
and brings polars and pydantic (about 200 MB) for a few hundred lines of output. Here the
word processor paginates: header rows repeat on every page (``\\trhdr``), group rows keep
with the next row (``\\keepn``), rows do not split (``\\trkeep``), and "Page x of y" are the
fields PAGE and NUMPAGES. Every piece of plan text goes through :func:`escape`.

Lengths are in twips (1/1440 inch). The font is Courier New, 9 points: monospaced, so a
column's width follows from its number of characters (:data:`CHAR`), the SAS convention.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

FONT_SIZE = 18  # half-points: 9 pt
SMALL = 16  # footnotes and page header/footer, 8 pt
CHAR = 108  # twips: Courier's advance is 0.6 em, 0.6 * 9 pt = 5.4 pt = 108 twips
GAP = 72  # cell padding on each side (\trgaph)
MARGIN = 1440
LETTER = (12240, 15840)  # US Letter, portrait: width, height
INDENT = 216  # one level of row-label indent


def escape(text: object) -> str:
    """Plan text as RTF: ``\\ { }`` escaped, tabs and line breaks as control words, and
    every character beyond 7-bit ASCII as ``\\uN?`` (UTF-16 units, signed), so the file is
    pure ASCII and needs no code page."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ch == "\t":
            out.append("\\tab ")
        elif ch == "\n":
            out.append("\\line ")
        elif code < 32:
            continue  # other control characters have no meaning in a document
        elif code < 128:
            out.append(ch)
        else:
            units = ch.encode("utf-16-be")
            for (unit,) in struct.iter_unpack(">H", units):
                out.append(f"\\u{unit - 65536 if unit > 32767 else unit}?")
    return "".join(out)


def field(instruction: str, shown: str = "1") -> str:
    """A field (``PAGE``, ``NUMPAGES``) with the result a reader without fields shows."""
    return f"{{\\field{{\\*\\fldinst {instruction} }}{{\\fldrslt {shown}}}}}"


PAGE_X_OF_Y = f"Page {field('PAGE')} of {field('NUMPAGES')}"


@dataclass(frozen=True)
class Page:
    """A section's page: its orientation and the width text may take."""

    landscape: bool

    @property
    def size(self) -> tuple[int, int]:
        w, h = LETTER
        return (h, w) if self.landscape else (w, h)

    @property
    def text_width(self) -> int:
        return self.size[0] - 2 * MARGIN

    @property
    def text_height(self) -> int:
        return self.size[1] - 2 * MARGIN

    def section(self) -> str:
        """The section's page settings (after ``\\sectd``)."""
        w, h = self.size
        turn = "\\lndscpsxn" if self.landscape else ""
        return (f"\\pgwsxn{w}\\pghsxn{h}{turn}"
                f"\\marglsxn{MARGIN}\\margrsxn{MARGIN}\\margtsxn{MARGIN}\\margbsxn{MARGIN}"
                "\\headery720\\footery720")


def paragraph(text: str, align: str = "l", bold: bool = False, size: int = FONT_SIZE,
              keepn: bool = False, space_after: int = 0, raw: bool = False) -> str:
    """One paragraph; ``text`` is plan text (escaped) unless ``raw`` (RTF already)."""
    body = text if raw else escape(text)
    keep = "\\keepn" if keepn else ""
    weight = "\\b" if bold else ""
    return (f"{{\\pard\\plain\\q{align}{keep}\\sa{space_after}\\f0\\fs{size}{weight} "
            f"{body}\\par}}\n")


@dataclass(frozen=True)
class Cell:
    text: str  # plan text, escaped when written
    align: str = "c"  # l, c, r
    bold: bool = False
    indent: int = 0  # left indent in twips
    raw: bool = False  # text is RTF already


def row(cells: Sequence[Cell], widths: Sequence[int], header: bool = False,
        keepn: bool = False, top: bool = False, bottom: bool = False,
        size: int = FONT_SIZE) -> str:
    """One table row. A ``header`` row is repeated at the top of every page the table
    spans (``\\trhdr``; header rows must be the table's first rows); ``keepn`` keeps the row
    on the page of the next one (a group's heading is never left alone at a page foot);
    no row is split across pages (``\\trkeep``). ``top``/``bottom`` draw a rule."""
    parts = [f"\\trowd\\trgaph{GAP}\\trleft0\\trqc\\trkeep" + ("\\trhdr" if header else "")]
    edge = 0
    for width in widths:
        edge += width
        rules = ("\\clbrdrt\\brdrs\\brdrw10" if top else "") + \
            ("\\clbrdrb\\brdrs\\brdrw10" if bottom else "")
        parts.append(f"{rules}\\clvertalb\\cellx{edge}")
    keep = "\\keepn" if keepn else ""
    for cell in cells:
        body = cell.text if cell.raw else escape(cell.text)
        weight = "\\b" if cell.bold else ""
        parts.append(f"\\pard\\plain\\intbl\\q{cell.align}{keep}\\li{cell.indent}\\f0"
                     f"\\fs{size}{weight} {body}\\cell")
    parts.append("\\row")
    # Not wrapped in a group: some readers lose the row's properties in a closed group.
    return "\n".join(parts) + "\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height in pixels of a PNG (its IHDR chunk); ValueError if not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def picture(data: bytes, width: int, height: int) -> str:
    """A PNG embedded as ``\\pict\\pngblip`` (hex, 64 bytes a line), shown at ``width`` x
    ``height`` twips."""
    px_w, px_h = png_size(data)
    hexed = data.hex()
    lines = "\n".join(hexed[i:i + 128] for i in range(0, len(hexed), 128))
    return (f"{{\\pict\\pngblip\\picw{px_w}\\pich{px_h}\\picwgoal{width}\\pichgoal{height}\n"
            f"{lines}}}")


def header_footer(kind: str, paragraphs: Iterable[str]) -> str:
    """A section's ``\\header`` or ``\\footer`` (repeated on each of its pages)."""
    return f"{{\\{kind}" + "".join(paragraphs) + "}\n"


def tab_paragraph(left: str, right: str, width: int, size: int = SMALL,
                  bottom_rule: bool = False, top_rule: bool = False) -> str:
    """A line with RTF ``left`` text and RTF ``right`` text at a right tab stop."""
    rule = ("\\brdrb\\brdrs\\brdrw10\\brsp20" if bottom_rule else "") + \
        ("\\brdrt\\brdrs\\brdrw10\\brsp20" if top_rule else "")
    return (f"{{\\pard\\plain\\ql\\tqr\\tx{width}{rule}\\f0\\fs{size} {left}\\tab {right}"
            "\\par}\n")


def document(body: str, title: str, created: tuple[int, ...] | None) -> str:
    """The whole file: header (font and colour tables, document info) and ``body`` (one
    or more sections, each opened by ``\\sectd`` and its page settings). ``created`` is
    (year, month, day, hour, minute) for ``\\creatim``: the run's time, never the clock's,
    so the file is byte-reproducible."""
    info = f"{{\\title {escape(title)}}}"
    if created:
        y, mo, d, h, mi = created[:5]
        info += f"{{\\creatim\\yr{y}\\mo{mo}\\dy{d}\\hr{h}\\min{mi}}}"
    return ("{\\rtf1\\ansi\\ansicpg1252\\uc1\\deff0\n"
            "{\\fonttbl{\\f0\\fmodern\\fcharset0\\fprq1 Courier New;}}\n"
            "{\\colortbl;\\red0\\green0\\blue0;}\n"
            f"{{\\info{info}}}\n"
            f"\\paperw{LETTER[0]}\\paperh{LETTER[1]}\\margl{MARGIN}\\margr{MARGIN}"
            f"\\margt{MARGIN}\\margb{MARGIN}\\widowctrl\\ftnbj\\fet0\n"
            f"{body}}}\n")
