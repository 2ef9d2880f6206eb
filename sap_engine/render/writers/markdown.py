"""``report.md``: always the built-in Markdown template (``results.md.j2``); a ``<`` that
would open an HTML tag in a Markdown viewer is printed as ``&lt;``."""

from __future__ import annotations

from typing import BinaryIO

from sap_engine.render import environment
from sap_engine.render.writers.registry import Document, Writer, register
from sap_engine.resources import TemplateRef, templates_dir

TEMPLATE = "results.md.j2"


def write(document: Document, out: BinaryIO) -> None:
    path = templates_dir() / TEMPLATE
    ref = TemplateRef("results.md", path, True, str(path))
    template = environment.MARKDOWN.environment().get_template(TEMPLATE)
    text = environment.render(template, ref, document.plan, doc=document.model)
    out.write(text.encode("utf-8"))


WRITER = register(Writer("markdown", ".md", environment.MARKDOWN, write))
