"""Where the grammar and the templates live, installed or in a source checkout.

The wheel carries them inside the package (``sap_engine/grammar``, ``sap_engine/templates``,
mapped from the top-level folders at build time); an editable install or a plain checkout
reads the top-level ``grammar/`` and ``templates/`` folders directly.
"""

from __future__ import annotations

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
