"""``report.html``: the plan's document template (built-in ``results.html`` or the user's,
sandboxed), HTML-autoescaped, self-contained (styles inline, figures as SVG)."""

from __future__ import annotations

from typing import BinaryIO

from sap_engine import model as m
from sap_engine import template_sandbox
from sap_engine.errors import OutputError, plan_diagnostic
from sap_engine.render import environment
from sap_engine.render.writers.registry import Document, Writer, register
from sap_engine.resources import TemplateRef, TemplateRefError, resolve_template


def _template(plan: m.Plan) -> tuple[object, TemplateRef]:
    """The compiled document template; check() resolved and compiled it, and a file
    changed since is reported the same way here (located OutputError)."""
    doc = plan.document
    try:
        ref = resolve_template(doc.template if doc else None, plan.path)
        if ref.builtin:
            return environment.HTML.environment().get_template(ref.path.name), ref
        return template_sandbox.load(ref), ref  # the sandbox: always HTML-autoescaped
    except TemplateRefError as exc:
        raise OutputError(plan_diagnostic(exc.code, exc.message,
                                          template_sandbox.template_clause(plan), plan.path,
                                          plan.text)) from None
    except template_sandbox.TemplateCompileError as exc:
        raise OutputError(template_sandbox.template_diagnostic(
            exc.code, exc.message, plan, ref, exc.path, exc.line)) from None


def prepare(plan: m.Plan) -> None:
    _template(plan)


def write(document: Document, out: BinaryIO) -> None:
    template, ref = _template(document.plan)
    text = environment.render(template, ref, document.plan, doc=document.model)
    out.write(text.encode("utf-8"))


WRITER = register(Writer("html", ".html", environment.HTML, write, prepare))
