"""The Jinja environments of the documents, what a user's template may do, and its check.

Plan text (titles, labels, footnotes, arm and study names) reaches the documents only as
values, never as template code, so ``{{ 7*7 }}`` in a title prints as written. The HTML is
always autoescaped, whatever the template's file name: ``<script>`` in a label prints as text.

A user's template (``template "mine.html"``, a file in the plan's folder) is rendered in an
immutable Jinja sandbox: no attribute that starts with ``_`` (``''.__class__``), no methods
that modify data, no ``safe`` filter and no ``{% autoescape %}`` block (they would let plan
text through unescaped; a figure's SVG is already markup), repeated strings and powers
bounded. A template that cannot be compiled is a located SAP263/SAP264 at ``check``; one that
fails while rendering (an unknown attribute, a sandbox violation) is a located SAP507 at
``run`` (:func:`sap_engine.render.environment.render`), never an internal error.

This module is not under ``render/``: ``check`` compiles the template with the same sandbox
the renderer uses, and a stage imports only from the stages before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from sap_engine import model as m
from sap_engine.errors import Diagnostic, plan_diagnostic, source_lines
from sap_engine.resources import TemplateRef, TemplateRefError, resolve_template, templates_dir

_MAX_REPEAT = 1_000_000  # characters or items a template may build with '*'
_MAX_EXPONENT = 1_000


def builtin_environment(autoescape: bool = True,
                        finalize: Callable[[object], object] | None = None) -> jinja2.Environment:
    """The environment of the built-in templates: HTML autoescaped unless told otherwise,
    ``finalize`` applied to every printed value (a writer's escaping)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                              autoescape=autoescape, trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined, finalize=finalize)


class UnsafeTemplateError(jinja2.TemplateSyntaxError):
    """A user template that uses what would let plan text into the HTML unescaped."""


class UserEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox for a user's template (see the module docstring)."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > _MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large for a template")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and \
                        len(seq) * count > _MAX_REPEAT:
                    raise SecurityError("a template may not build a value of more than "
                                        f"{_MAX_REPEAT:,} characters or items")
        return super().call_binop(context, operator, left, right)

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        for node in tree.find_all((nodes.ScopedEvalContextModifier, nodes.EvalContextModifier,
                                   nodes.Filter, nodes.Getattr, nodes.Getitem)):
            problem = _unsafe(node)
            if problem:
                raise UnsafeTemplateError(f"may not use {problem}",
                                          node.lineno, name, filename)
        return tree


def _unsafe(node: nodes.Node) -> str | None:
    """What is wrong with a node of a user template, found before it runs; None if fine.
    The sandbox refuses the same at run time; refusing it at ``check`` says so sooner."""
    if isinstance(node, nodes.Filter):
        return ("the 'safe' filter: it would put plan text into the HTML unescaped"
                if node.name == "safe" else None)
    if isinstance(node, (nodes.ScopedEvalContextModifier, nodes.EvalContextModifier)):
        return "an 'autoescape' block: it would put plan text into the HTML unescaped"
    if isinstance(node, nodes.Getattr):
        attr = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        attr = node.arg.value
    else:
        return None
    if isinstance(attr, str) and attr.startswith("_"):
        return f"the attribute '{attr}': names starting with '_' are internal to Python"
    return None


def user_environment(folder: Path) -> UserEnvironment:
    """The sandbox for a user's template in ``folder``; includes find the user's files
    first, then the built-in templates (``table.html.j2``)."""
    env = UserEnvironment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(folder)),
                                    jinja2.FileSystemLoader(str(templates_dir()))]),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined)
    env.filters.pop("safe", None)
    return env


def load(ref: TemplateRef):
    """The compiled document template; TemplateCompileError if it does not compile."""
    if ref.builtin:
        return builtin_environment().get_template(ref.path.name)
    env = user_environment(ref.path.parent)
    try:
        return env.get_template(ref.path.name)
    except jinja2.TemplateSyntaxError as exc:
        text = exc.message or str(exc)
        path = Path(exc.filename) if exc.filename else ref.path
        if isinstance(exc, UnsafeTemplateError):
            raise TemplateCompileError("SAP264", text, path, exc.lineno) from None
        raise TemplateCompileError("SAP263", f"does not compile: {text}", path,
                                   exc.lineno) from None
    except UnicodeDecodeError:
        raise TemplateCompileError("SAP263", "is not UTF-8 text", ref.path, None) from None
    except OSError as exc:  # including TemplateNotFound: the file went away since resolved
        raise TemplateCompileError("SAP260", f"cannot be read: {exc.strerror or exc}",
                                   ref.path, None) from None


class TemplateCompileError(Exception):
    """A user template that does not compile: code, message, the file and line."""

    def __init__(self, code: str, message: str, path: Path, line: int | None):
        super().__init__(message)
        self.code, self.message, self.path, self.line = code, message, path, line


def template_diagnostic(code: str, message: str, plan: m.Plan, ref: TemplateRef,
                        path: Path, line: int | None) -> Diagnostic:
    """A template problem, located at the plan's ``template`` clause, with the template's
    file, line and text in the message (a built-in template: located in it)."""
    line = line or 1
    shown = ref.shown if path.resolve() == ref.path.resolve() else _shown(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    text = lines[line - 1] if 0 < line <= len(lines) else None
    if ref.builtin or plan.document is None:
        return Diagnostic(code, f"template \"{ref.name}\" {message}",
                          m.Loc(line, 1, file=shown), source_line=text)
    quoted = "" if text is None else f": {_shorten(text.strip())}"
    return plan_diagnostic(code, f"template \"{ref.name}\" {message} (at {shown}:{line}{quoted})",
                           template_clause(plan), plan.path, plan.text)


def _shorten(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def _shown(path: Path) -> str:
    """A template's path as messages show it: relative to the working folder if below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def document_template_problems(plan: m.Plan) -> list[Diagnostic]:
    """``check``: the document's template resolves (SAP260-SAP262, at the plan's
    ``template`` line) and compiles in its sandbox (SAP263, SAP264, at the template line)."""
    doc = plan.document
    if doc is None or doc.template is None:
        return []
    try:
        ref = resolve_template(doc.template, plan.path)
        load(ref)
    except TemplateRefError as exc:
        return [plan_diagnostic(exc.code, exc.message, template_clause(plan), plan.path,
                                plan.text)]
    except TemplateCompileError as exc:
        return [template_diagnostic(exc.code, exc.message, plan, ref, exc.path, exc.line)]
    return []


def template_clause(plan: m.Plan) -> m.Loc:
    """Where the plan names its document template: the ``template "..."`` clause inside
    the document block (the parser keeps only the block's location)."""
    assert plan.document is not None
    return document_clause(plan, "template", plan.document.template or "")


def document_clause(plan: m.Plan, keyword: str, value: str) -> m.Loc:
    """Where ``keyword "value"`` is written in the plan's document block (else the block)."""
    doc = plan.document
    assert doc is not None
    lines = source_lines(plan.text)  # numbered as the parser numbers them
    first = max(doc.loc.line or 1, 1)
    pattern = re.compile(rf'\b{keyword}\s+"' + re.escape(value) + '"')
    for number in range(first, len(lines) + 1):
        found = pattern.search(lines[number - 1])
        if found:
            return m.Loc(number, found.start() + 1, number, found.end() + 1)
    return m.Loc(first, doc.loc.column or 1)
