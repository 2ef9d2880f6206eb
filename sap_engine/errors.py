"""Every user-facing error of the engine, in one place.

Each error carries a stable code (``SAP1xx`` syntax, ``SAP2xx`` names and types,
``SAP3xx`` data, ``SAP4xx`` statistics/methods, ``SAP5xx`` output), a one-line
message and, where it has one, a location: a plan ``file:line:col`` or a data
``file, row, column``. Semantic errors are *collected* and raised together as one
:class:`PlanCheckError`, so a user fixes a plan in one pass instead of one error per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

from sap_engine.location import Loc

# A report shows the first MAX_SHOWN diagnostics and a count of the rest: 4,000 errors on one
# long line once printed 209 MB. Collectors (the checker) may stop collecting at MAX_COLLECTED,
# which bounds memory too; the count shown is then "at least".
MAX_SHOWN = 50
MAX_COLLECTED = 1000
# A source line longer than this is shown as a window around the caret ("..." at the cut ends);
# a message longer than MAX_MESSAGE is cut likewise (a misspelt name may be megabytes long).
SOURCE_WINDOW = 160
MAX_MESSAGE = 1000


def source_lines(text: str) -> list[str]:
    """The lines of a plan as the lexer counts them, for quoting a line by its number.

    Only ``\\n`` ends a line: ``str.splitlines`` also splits at ``\\f``, ``\\v``,
    ``\\x1c``-``\\x1e``, ``\\x85`` and U+2028/U+2029, which the grammar reads as ordinary
    characters (in strings and comments) or whitespace, so every later line would be quoted
    wrongly. A ``\\r`` before the ``\\n`` is dropped, and as with ``splitlines`` a final
    newline adds no empty line.

    >>> source_lines("a\\fb\\nc\\r\\n")
    ['a\\x0cb', 'c']
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class DataLocation:
    """A position in a data file: row is 1-based over data rows (header excluded)."""

    file: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a plan or its data."""

    code: str
    message: str
    location: Loc | None = None  # with its file
    data_location: DataLocation | None = None
    suggestion: str | None = None
    source_line: str | None = None
    # "warning": reported and shown in the document, but the run succeeds (exit code 0).
    severity: str = "error"
    analysis: str | None = None  # the analysis a warning concerns, for display footnotes

    def render(self) -> str:
        """``file:line:col: error[CODE]: message``, the source line and a caret."""
        head = f"{self.location}: " if self.location else ""
        if self.data_location:
            head = f"{self.data_location}: " if not self.location else head
        text = f"{head}{self.severity}[{self.code}]: {_shorten(self.message)}"
        if self.data_location and self.location:
            text += f" ({self.data_location})"
        if self.suggestion:
            text += f"; did you mean '{_shorten(self.suggestion, 80)}'?"
        if self.location and self.source_line is not None:
            line, caret = _caret_window(self.source_line.rstrip("\r\n"), self.location)
            text += "\n  | " + line + "\n  | " + caret
        return text


def _caret_window(line: str, loc: Loc) -> tuple[str, str]:
    """The source line (or a window of it around the caret) and the caret line under it."""
    start = max(0, loc.column - 1)
    width = max(1, (loc.end_column or loc.column + 1) - loc.column)
    if len(line) <= SOURCE_WINDOW:
        return line, " " * start + "^" * width
    lo = max(0, min(start - SOURCE_WINDOW // 3, len(line) - SOURCE_WINDOW))
    hi = lo + SOURCE_WINDOW
    prefix = "..." if lo > 0 else ""
    suffix = "..." if hi < len(line) else ""
    offset = len(prefix) + start - lo
    width = max(1, min(width, hi - start))
    return prefix + line[lo:hi] + suffix, " " * offset + "^" * width


@lru_cache(maxsize=8)
def _plan_lines(text: str) -> tuple[str, ...]:
    # A checker reports thousands of problems of one plan: split its text once, not per
    # diagnostic (a string's hash is cached, so a hit costs nothing).
    return tuple(source_lines(text))


def plan_diagnostic(code: str, message: str, loc: Loc, path: str, text: str, *,
                    suggestion: str | None = None, width: int | None = None,
                    data_location: DataLocation | None = None) -> Diagnostic:
    """A diagnostic located at ``loc`` in the plan ``path`` (whose text is ``text``), quoting
    its source line under a caret: the one place a plan location becomes a diagnostic.

    The caret spans the node when it ends on its own line, else marks its first character;
    ``width`` sets the caret's width instead (``width=1``: one character at the start). An
    unknown location (line 0) is reported at the plan's first line.

    >>> print(plan_diagnostic("SAP201", "unknown column 'SEXX'", Loc(2, 10, 2, 14),
    ...                       "p.sap", "study S\\nvariable SEXX\\n").render())
    p.sap:2:10: error[SAP201]: unknown column 'SEXX'
      | variable SEXX
      |           ^^^^
    """
    line = loc.line or 1
    column = loc.column or 1
    end = loc.end_column if loc.end_line == loc.line and loc.end_column else 0
    if width:
        end = column + width
    lines = _plan_lines(text)
    return Diagnostic(code, message, Loc(line, column, line if end else 0, end, file=path),
                      suggestion=suggestion, data_location=data_location,
                      source_line=lines[line - 1] if line <= len(lines) else None)


def with_source_line(d: Diagnostic, text: str) -> Diagnostic:
    """``d`` quoting its plan line (``text`` is the plan's), if it is located and quotes none
    (a data reader locates its problems at a plan line but does not hold the plan text)."""
    if d.location is None or d.source_line is not None:
        return d
    lines = _plan_lines(text)
    if 0 < d.location.line <= len(lines):
        return replace(d, source_line=lines[d.location.line - 1])
    return d


def render_diagnostics(diagnostics: list[Diagnostic], limit: int = MAX_SHOWN,
                       omitted: int = 0) -> str:
    """The first ``limit`` diagnostics rendered, then a count of the ones not shown (``omitted``
    more were found but not kept)."""
    shown = [d.render() for d in diagnostics[:limit]]
    rest = len(diagnostics) - len(shown) + omitted
    if rest > 0:
        noun = "error" if all(d.severity == "error" for d in diagnostics[limit:]) else "problem"
        shown.append(f"... and {rest} more {noun}{'s' if rest != 1 else ''}")
    return "\n".join(shown)


class SapError(Exception):
    """Base of every error the engine reports to a user (exit code 2)."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic, omitted: int = 0):
        """``omitted``: how many further problems a collector found but did not keep (it
        stopped at MAX_COLLECTED); they are counted in the report."""
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.omitted = omitted
        super().__init__(self.render())

    @property
    def count(self) -> int:
        """How many problems were found, including the ones not kept."""
        return len(self.diagnostics) + self.omitted

    def render(self, limit: int = MAX_SHOWN) -> str:
        """The diagnostics as a user reads them: at most ``limit``, then a count of the rest."""
        return render_diagnostics(self.diagnostics, limit, self.omitted)

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]


class PlanSyntaxError(SapError):
    """The plan text does not parse (SAP1xx)."""


class PlanCheckError(SapError):
    """The plan parses but does not check against the data (SAP2xx, SAP3xx)."""


class DataError(SapError):
    """A data file is missing, unreadable or has unusable content (SAP3xx)."""


class AnalysisError(SapError):
    """An analysis cannot be computed on its data (SAP4xx)."""


class OutputError(SapError):
    """Outputs could not be written (SAP5xx)."""


@dataclass
class MethodError(Exception):
    """Raised by a statistical method when its input cannot be analysed.

    Methods know nothing of plans; the executor adds the analysis id and plan
    location and turns this into an :class:`AnalysisError`.
    """

    code: str
    message: str
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


# Suggestions compare a name with every candidate: with thousands of errors among thousands
# of names that is quadratic (a 5,000-definition plan took seconds). Each check may spend
# this many comparisons; past it, diagnostics come without a suggestion (only the first
# MAX_SHOWN are printed anyway).
SUGGESTION_BUDGET = 200_000
_suggestions_left = [SUGGESTION_BUDGET]


def reset_suggestions(budget: int = SUGGESTION_BUDGET) -> None:
    """Give the next check its own budget of suggestion comparisons."""
    _suggestions_left[0] = budget


def did_you_mean(name: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The closest candidate to a misspelt name, or None (case-insensitive first).

    >>> did_you_mean("FASFLG", ["FASFL", "SAFFL"])
    'FASFL'
    """
    import difflib

    if _suggestions_left[0] < len(candidates):
        return None
    _suggestions_left[0] -= len(candidates)
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    if match:
        return match[0]
    # "YES" for "Y", "Female" for "F": a unique candidate that starts the name (or that the
    # name starts) is most likely a coded value written out.
    prefixed = [c for c in candidates if c and (name.lower().startswith(c.lower())
                                                 or c.lower().startswith(name.lower()))]
    return prefixed[0] if len(prefixed) == 1 else None
