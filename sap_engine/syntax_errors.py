"""Syntax errors in the words a plan author uses (SAP101-SAP103).

lark reports the terminals a parser state accepts by their grammar names (``WEIGHTS``,
``__ANON_0``); a user needs the words to write (``'equal', 'observed'``, ``'missing'``), and
for a misspelt keyword or function the closest one. The words are read from the grammar
itself, so a new keyword needs no change here.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from sap_engine.errors import Diagnostic, did_you_mean, source_lines
from sap_engine.functions import NAMES
from sap_engine.location import Loc

# Friendlier names for the terminals a user may meet in "expected ..." messages.
_TERMINAL_NAMES = {
    "NAME": "a name", "STRING": 'a "string"', "SIGNED_NUMBER": "a number", "LBRACE": "'{'",
    "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'", "EQUAL": "'='", "COMMA": "','",
    "TILDE": "'~'", "LSQB": "'['", "RSQB": "']'", "FUNCTION": "a function call",
    "MINUS": "'-'", "PLUS": "'+'", "STAR": "'*'", "SLASH": "'/'", "COMPARATOR": "a comparison",
}


def syntax_error(exc: UnexpectedInput, text: str, path: str, lark: Lark) -> Diagnostic:
    """The located diagnostic of a lark parse error, in the words a plan author uses."""
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    suggestion = None
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            message = "unexpected end of plan; a block or statement is not finished"
            code = "SAP102"
        else:
            kind = "string" if tok.type == "STRING" else "token"
            message = f"unexpected {kind} '{shorten(str(tok))}'"
            code = "SAP101"
        expected = expected_tokens(exc.expected, lark)
        if tok.type != "$END" and expected and len(expected) <= 30:
            message += "; expected " + ", ".join(expected)
        if tok.type != "$END" and str(tok).isidentifier():
            # A misspelt keyword (`metod`) is lexed as a name: offer the closest keyword the
            # parser would have taken here.
            words = sorted({w for t in exc.expected for w in _terminal_words(lark).get(t, ())
                            if w.isidentifier()})
            suggestion = did_you_mean(str(tok), words) if words else None
        unknown = _unknown_function(exc, text)
        if unknown:
            name, column = unknown
            message = (f"unknown function '{shorten(name)}'; the functions are "
                       + ", ".join(NAMES))
            suggestion = did_you_mean(name, NAMES)
    elif isinstance(exc, UnexpectedCharacters):
        message = f"unexpected character {exc.char!r}"
        code = "SAP103"
    else:  # UnexpectedEOF
        message, code = "unexpected end of plan", "SAP102"
    return Diagnostic(code, message, Loc(line, column, file=path), suggestion=suggestion,
                      source_line=_line(text, line))


def _unknown_function(exc: UnexpectedToken, text: str) -> tuple[str, int] | None:
    """(name, column) when a '(' the parser did not expect follows a name in an expression:
    a misspelt function (`chnage(score)`) is lexed as a name, not as FUNCTION."""
    tok = exc.token
    if tok.type != "LPAR" or "PLUS" not in exc.expected or tok.start_pos is None:
        return None
    before = text[max(0, tok.start_pos - 200):tok.start_pos]
    found = re.search(r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*\Z", before)
    if not found:
        return None
    return found.group(1), (tok.column or 1) - (len(before) - found.start(1))


def expected_tokens(terminals, lark: Lark) -> list[str]:
    """The tokens a parser state accepts, as a user writes them: `'observed', 'equal'` for
    WEIGHTS, `'missing'` for the anonymous terminal lark calls __ANON_0, never a lark name."""
    out: set[str] = set()
    for name in terminals:
        if name in _TERMINAL_NAMES:
            out.add(_TERMINAL_NAMES[name])
        elif name in _terminal_words(lark):
            out.update(f"'{w}'" for w in _terminal_words(lark)[name])
        else:  # not expected to happen: every terminal of the grammar is covered above
            out.add(name.lower())
    return sorted(out)


@lru_cache(maxsize=4)
def _terminal_words(lark: Lark) -> dict[str, tuple[str, ...]]:
    """The words each keyword terminal of the grammar matches, read from the grammar itself
    (``WEIGHTS: "observed" | "equal"`` compiles to the pattern ``(?:observed|equal)``)."""
    words: dict[str, tuple[str, ...]] = {}
    for t in lark.terminals:
        if t.pattern.type == "str":
            words[t.name] = (t.pattern.value,)
        else:
            alternatives = re.fullmatch(r"\(\?:([A-Za-z_|]+)\)", t.pattern.value)
            if alternatives:
                words[t.name] = tuple(alternatives.group(1).split("|"))
            elif t.name == "FUNCTION":  # (baseline|change|...)(?=\s*\()
                words[t.name] = NAMES
    return words


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _line(text: str, number: int) -> str:
    lines = source_lines(text)
    return lines[number - 1] if 0 < number <= len(lines) else ""
