"""Parse plan text into the plan model (``grammar/sap.lark``, LALR).

>>> plan = parse_text('population FAS "Full analysis set" = adsl where FASFL == "Y"')
>>> plan.populations["FAS"].dataset
'adsl'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from sap_engine import depth, functions
from sap_engine import model as m
from sap_engine.errors import (
    MAX_COLLECTED,
    Diagnostic,
    PlanSyntaxError,
    plan_diagnostic,
    source_lines,
)
from sap_engine.parse_statements import PlanToModel
from sap_engine.resources import grammar_path
from sap_engine.syntax_errors import syntax_error

# A plan larger than this is refused before it is read (SAP005): parsing takes about 100 MB
# of memory per megabyte of an ordinary plan and up to 500 MB for a pathological one (a
# megabyte of unary minus), while a real plan is a few tens of kilobytes.
MAX_PLAN_BYTES = 1024 * 1024


# The grammar's FUNCTION terminal, filled in from the catalogue of plan functions.
_FUNCTION_TERMINAL = "FUNCTION.2: /(FUNCTION_NAMES)(?=\\s*\\()/"


def grammar_text() -> str:
    """The grammar, with the function names of :mod:`sap_engine.functions`."""
    text = grammar_path().read_text(encoding="utf-8")
    if _FUNCTION_TERMINAL not in text:
        raise AssertionError(f"grammar has no line {_FUNCTION_TERMINAL!r}")
    return text.replace(_FUNCTION_TERMINAL, f"FUNCTION.2: /{functions.grammar_pattern()}/")


@lru_cache(maxsize=1)
def parser() -> Lark:
    # cache=True stores the LALR tables in the temp dir keyed by grammar hash: a cold CLI
    # then skips table construction (~100 ms here).
    return Lark(grammar_text(), parser="lalr", propagate_positions=True,
                maybe_placeholders=True, cache=True)


def parse_text(text: str, path: str = "<plan>") -> m.Plan:
    """Parse plan text; raise :class:`PlanSyntaxError` with located diagnostics."""
    if text.startswith("\ufeff"):  # a UTF-8 byte order mark, as some editors write
        text = text[1:]
    if len(text) > MAX_PLAN_BYTES:
        raise PlanSyntaxError(_too_large(path, len(text)))
    try:
        tree = parser().parse(text, on_error=None)
    except (UnexpectedToken, UnexpectedCharacters, UnexpectedEOF) as exc:
        raise PlanSyntaxError(syntax_error(exc, text, path, parser())) from None
    # Too deep an expression is refused before anything recurses over it (SAP108); the
    # transformer itself does not recurse, so the other problems are still found.
    problems = depth.tree_problems(tree)
    to_model = PlanToModel()
    statements = to_model.transform(tree)
    problems += to_model.problems
    if not problems:
        problems = depth.reference_problems(statements)
    if problems:
        problems.sort(key=lambda p: (p[2].line, p[2].column))
        omitted = to_model.omitted + max(0, len(problems) - MAX_COLLECTED)
        raise PlanSyntaxError([plan_diagnostic(code, message, loc, path, text, width=1)
                               for code, message, loc in problems[:MAX_COLLECTED]],
                              omitted=omitted)
    # Comments are ignored by the grammar; the lexer callback is not available with a cached
    # parser, so collect them with a second, cheap scan.
    return m.Plan(path=path, statements=statements, comments=_comments(text), text=text)


def _too_large(path: str, size: int) -> Diagnostic:
    return Diagnostic("SAP005", f"plan file is too large: {path} ({size:,} bytes; the limit is "
                      f"{MAX_PLAN_BYTES:,})")


def _comments(text: str) -> tuple[tuple[int, str], ...]:
    """(line, text) of each ``#`` comment outside strings (lines counted as the lexer does)."""
    found = []
    for number, line in enumerate(source_lines(text), start=1):
        if "#" not in line:
            continue
        in_string, escaped = False, False
        for i, ch in enumerate(line):
            if in_string:
                # A backslash escapes the next character, so "C:\\" ends at its last quote.
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "#":
                found.append((number, line[i:].rstrip()))
                break
    return tuple(found)


def parse_file(path: str | Path) -> m.Plan:
    """Read and parse a plan file; a path that cannot be read as a plan is a SAP00x error."""
    path = Path(path)
    try:
        if not path.exists():
            raise FileNotFoundError(path)
        if path.is_dir():
            raise PlanSyntaxError(Diagnostic("SAP003",
                                             f"plan path is a folder, not a file: {path}"))
        if not path.is_file():  # a FIFO or a device: reading it could block forever
            raise PlanSyntaxError(Diagnostic("SAP003",
                                             f"plan path is not a regular file: {path}"))
        size = path.stat().st_size
        if size > MAX_PLAN_BYTES:
            raise PlanSyntaxError(_too_large(str(path), size))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanSyntaxError(Diagnostic("SAP001", f"plan file not found: {path}")) from None
    except UnicodeDecodeError as exc:
        raise PlanSyntaxError(_not_utf8(path, exc)) from None
    except OSError as exc:  # permission denied, an I/O error, a name too long...
        reason = exc.strerror or type(exc).__name__
        raise PlanSyntaxError(Diagnostic(
            "SAP004", f"plan file cannot be read: {path} ({reason.lower()})")) from None
    return parse_text(text, str(path))


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> Diagnostic:
    """SAP002 at the line and column of the first byte that is not UTF-8 (the line quoted
    with that byte shown as U+FFFD), so an editor can jump to it."""
    data = exc.object if isinstance(exc.object, bytes) else b""
    before = data[:exc.start]
    line = before.count(b"\n") + 1
    start = before.rfind(b"\n") + 1
    column = len(before[start:].decode("utf-8", errors="replace")) + 1
    end = data.find(b"\n", exc.start)
    quoted = data[start:end if end >= 0 else len(data)].decode("utf-8", errors="replace")
    return Diagnostic("SAP002", f"plan file is not UTF-8 text: byte {exc.start} "
                                f"(0x{data[exc.start]:02x}) cannot be decoded; save the plan "
                                "as UTF-8", m.Loc(line, column, file=str(path)),
                      source_line=quoted)
