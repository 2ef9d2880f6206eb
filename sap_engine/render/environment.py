"""How plan text is escaped in each output format, and rendering a document template.

Plan text (titles, labels, footnotes, arm and study names) reaches the documents only as
values, never as template code. Each writer (:mod:`sap_engine.render.writers`) names its
:class:`Escaping`: the HTML is always autoescaped, whatever the template's file name
(``<script>`` in a label prints as text); the Markdown report escapes the ``<`` that would
open an HTML tag in a Markdown viewer. The sandbox of user templates and their check are in
:mod:`sap_engine.template_sandbox` (``check`` uses them too).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2

from sap_engine import model as m
from sap_engine.errors import OutputError
from sap_engine.resources import TemplateRef
from sap_engine.template_sandbox import builtin_environment, template_diagnostic


@dataclass(frozen=True)
class Escaping:
    """How a format prints plan text: Jinja's HTML autoescape, and a function applied to
    every value a template prints (``finalize``)."""

    name: str
    autoescape: bool
    finalize: Callable[[object], object] | None = None

    def environment(self) -> jinja2.Environment:
        """The environment of the built-in templates with this escaping."""
        return builtin_environment(self.autoescape, self.finalize)


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def _markdown_text(value):
    """A value printed into Markdown: a ``<`` that would open an HTML tag as ``&lt;``
    (``<0.0001`` stays as it is)."""
    return _TAG_START.sub("&lt;", value) if isinstance(value, str) else value


HTML = Escaping("html", autoescape=True)
MARKDOWN = Escaping("markdown", autoescape=False, finalize=_markdown_text)
NONE = Escaping("none", autoescape=False)  # a format that prints values as they are


def render(template, ref: TemplateRef, plan: m.Plan, **values) -> str:
    """Render ``template``; a failure is OutputError SAP507 at the template line."""
    problem: BaseException
    try:
        return template.render(**values)
    except (jinja2.TemplateError, RecursionError) as exc:
        problem = exc
    except Exception as exc:  # an expression of a user's template: 1/0, "%d" | format("x")
        if ref.builtin:
            raise
        problem = exc
    # Jinja rewrites the traceback so that template code shows as frames of the template
    # files: the deepest is where it failed (an included template's line, if it was there).
    frames = [f for f in traceback.extract_tb(problem.__traceback__)
              if not f.filename.endswith(".py") and Path(f.filename).is_file()]
    path = Path(frames[-1].filename) if frames else ref.path
    line = frames[-1].lineno if frames else None
    if isinstance(problem, jinja2.TemplateSyntaxError) and problem.filename:
        path, line = Path(problem.filename), problem.lineno  # an included template
    message = getattr(problem, "message", None) or str(problem) or type(problem).__name__
    if isinstance(problem, jinja2.TemplateNotFound):
        message = f"it includes \"{problem.name}\", which does not exist"
    raise OutputError(template_diagnostic(
        "SAP507", f"failed while rendering: {message}", plan, ref, path, line)) from None
