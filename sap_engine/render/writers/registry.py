"""The output formats of the results document: one :class:`Writer` each, registered by name.

A writer turns the built document (:class:`~sap_engine.render.document.DocumentModel`, what
templates see as ``doc``, made from the ARD and the plan's display specs only) into the bytes
of one file, ``<stem><suffix>`` in the output folder (``report.html``; the ARS writer's
``ars.json``), and optionally of one file per display
(``parts``: ``<name>/<stem><suffix>``, e.g. ``rtf/t-14-2-1.rtf``). :func:`render_documents
<sap_engine.render.document.render_documents>` writes every registered format, in the order
they were registered; nothing else names the formats. Adding one is a module that calls
:func:`register` (a built-in one is imported by ``sap_engine/render/writers/__init__.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sap_engine import model as m
from sap_engine.render.environment import Escaping

if TYPE_CHECKING:
    import pyarrow as pa

    from sap_engine.render.document import DocumentModel

STEM = "report"  # a format's file is report<suffix> unless it names another stem
RESERVED = ("figures",)  # folders of the output that a writer's parts may not take


@dataclass(frozen=True)
class Document:
    """What a writer writes: the document and the plan it comes from (its display specs,
    and where a template's error is located)."""

    model: DocumentModel
    plan: m.Plan
    # The output folder being written: the figures' PNG files are there (``figure.png``
    # relative to it), for a format that embeds them.
    folder: Path | None = None
    # The ARD itself (rows and metadata), for a format that states every result (ARS).
    ard: pa.Table | None = None


@dataclass(frozen=True)
class Part:
    """One more file of a format, such as one display: ``stem`` names it (lowercase
    letters, digits and hyphens), ``write(out)`` writes it whole."""

    stem: str
    write: Callable[[BinaryIO], None]


@dataclass(frozen=True)
class Writer:
    """One output format.

    ``write(document, out)`` writes the whole file into ``out``, a binary stream (the caller
    opens, names and atomically publishes the file); it must print plan text only through
    its ``escaping``. ``prepare(plan)``, if given, runs before the document is built (and its
    figures drawn), to report a problem of the writer's own inputs (a user template that
    changed since ``check``) before the slow part; it raises OutputError. ``parts(document)``,
    if given, lists more files, written after the report into the folder named after the
    writer (``rtf/t-14-2-1.rtf``).
    """

    name: str  # "html": a lowercase word
    suffix: str  # ".html": the file is report.html
    escaping: Escaping
    write: Callable[[Document, BinaryIO], None]
    prepare: Callable[[m.Plan], None] | None = None
    parts: Callable[[Document], Sequence[Part]] | None = None
    stem: str = STEM  # the file's name before the suffix: "ars" for ars.json

    @property
    def file_name(self) -> str:
        return f"{self.stem}{self.suffix}"

    def part_names(self, document: Document) -> list[tuple[str, Part]]:
        """Each part's path relative to the output folder; ValueError for a malformed or a
        repeated stem (a bug of the writer: two displays would share a file)."""
        named: list[tuple[str, Part]] = []
        for part in self.parts(document) if self.parts is not None else ():
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", part.stem):
                raise ValueError(f"writer {self.name}: part name {part.stem!r}")
            name = f"{self.name}/{part.stem}{self.suffix}"
            if any(name == n for n, _ in named):
                raise ValueError(f"writer {self.name}: two parts named {name}")
            named.append((name, part))
        return named


_WRITERS: dict[str, Writer] = {}


def register(writer: Writer) -> Writer:
    """Add an output format; ValueError for a malformed name or suffix, or one taken."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", writer.name):
        raise ValueError(f"writer name {writer.name!r} must be a lowercase word")
    if writer.name in RESERVED:
        raise ValueError(f"writer {writer.name}: the folder {writer.name}/ is the engine's")
    if not re.fullmatch(r"(\.[a-z0-9]+)+", writer.suffix):
        raise ValueError(f"writer {writer.name}: suffix {writer.suffix!r} must be like '.html'")
    for other in _WRITERS.values():
        if writer.name == other.name or writer.file_name == other.file_name:
            raise ValueError(f"writer {writer.name} ({writer.suffix}) clashes with the "
                             f"registered writer {other.name} ({other.suffix})")
    _WRITERS[writer.name] = writer
    return writer


def unregister(name: str) -> None:
    """Remove an output format (KeyError if none has that name)."""
    del _WRITERS[name]


def registered() -> tuple[Writer, ...]:
    """The output formats, in the order registered (HTML, Markdown, RTF, DOCX, ARS)."""
    return tuple(_WRITERS.values())
