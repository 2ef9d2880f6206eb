"""Where something is in a plan: the one location type of the engine.

Every plan node carries a :class:`Loc` (its span: 1-based line and column of its start and
of its end; 0 where unknown) and so does every located :class:`~sap_engine.errors.Diagnostic`
(then with the plan's ``file`` too). It lives in a module of its own, importing nothing, so
that both the plan model and the error module use it without importing each other.

>>> str(Loc(3, 7, file="plan.sap"))
'plan.sap:3:7'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Loc:
    """A span in a plan file; ``file`` is set where the span is reported (a diagnostic)."""

    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}"
        return f"{self.file}:{where}" if self.file is not None else where
