"""Where the grammar and the templates live, installed or in a source checkout.

The wheel carries them inside the package (``sap_engine/grammar``, ``sap_engine/templates``,
mapped from the top-level folders at build time); an editable install or a plain checkout
reads the top-level ``grammar/`` and ``templates/`` folders directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder ``name`` (``grammar`` or ``templates``), installed copy first."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"sap-engine installation is missing its {name}/ folder")


def grammar_path() -> Path:
    return resource_dir("grammar") / "sap.lark"


def templates_dir() -> Path:
    return resource_dir("templates")


# ---- document templates

# The built-in templates by the name a plan gives them, and what each one is.
BUILTIN_TEMPLATES = {
    "results.html": "document",  # the HTML document (report.html), the default
    "results.md": "markdown",  # report.md, always written with it
    "table.html": "partial",  # one table, included by results.html
}


@dataclass(frozen=True)
class TemplateRef:
    """The HTML document template a plan names: a built-in one, or a file of the user's."""

    name: str  # as the plan names it
    path: Path  # absolute
    builtin: bool
    shown: str = ""  # the path as messages show it (beside the plan's path as given)


class TemplateRefError(Exception):
    """A document template that cannot be used (code SAP260-SAP262)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def resolve_template(name: str | None, plan_path: str | Path) -> TemplateRef:
    """The template of the HTML document for ``template "name"`` of a plan's document.

    No name: the built-in ``results.html``. A built-in name (``results.html``, with or
    without ``.j2``) is the built-in template; the other built-in templates (``table.html``,
    a part of the document; ``results.md``, the Markdown report) are not document templates.
    Any other name is a file relative to the plan's folder, which it must not leave (it is
    rendered, sandboxed, into the report). Used by ``check`` and by the renderer alike.
    """
    if name is None:
        name = "results.html"
    builtin = name[:-3] if name.endswith(".j2") else name
    kind = BUILTIN_TEMPLATES.get(builtin)
    if kind == "document":
        path = templates_dir() / f"{builtin}.j2"
        return TemplateRef(name, path, True, str(path))
    if kind is not None:
        what = ("a part of the built-in document (one table)" if kind == "partial"
                else "the built-in Markdown template (report.md is always written with it)")
        raise TemplateRefError("SAP261", f"template \"{name}\" is {what}, not a template of "
                                        "the HTML document; use \"results.html\" or a "
                                        "template file of your own")
    folder = Path(plan_path).resolve().parent
    path = (folder / name).resolve()
    if not path.is_relative_to(folder):
        raise TemplateRefError("SAP262", f"template \"{name}\" is outside the plan's folder "
                                        f"{folder}: a user template must lie in it or below")
    if not path.is_file():
        builtins = ", ".join(f'"{n}"' for n, k in BUILTIN_TEMPLATES.items() if k == "document")
        raise TemplateRefError("SAP260", f"template \"{name}\" not found: it is neither a "
                                        f"built-in template ({builtins}) nor a file relative "
                                        "to the plan")
    return TemplateRef(name, path, False, str(Path(plan_path).parent / name))
