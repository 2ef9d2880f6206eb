"""The parse tree of an expression to the plan model: literals, columns, calls, operators,
intervals and cuts (the first half of the transformer of :mod:`sap_engine.parse`).

Separate from the statements (:mod:`sap_engine.parse_statements`) because expressions are
the language's recursive core, shared by every block, and know nothing of blocks: their
rules build ``m.Expr`` nodes (and a number's own SAP104 problem), while a block's rules
fold items into a statement. :class:`ExpressionsToModel` also holds what both halves share:
the problems collected in one pass (``problem``), and the location helpers.
"""

from __future__ import annotations

import math

from lark import Token, v_args
from lark.visitors import Transformer_NonRecursive

from sap_engine import model as m
from sap_engine.errors import MAX_COLLECTED
from sap_engine.syntax_errors import shorten


def meta_loc(meta) -> m.Loc:
    """The location of a rule's tree (none for an empty optional rule)."""
    if getattr(meta, "empty", True):
        return m.Loc()
    return m.Loc(meta.line, meta.column, meta.end_line, meta.end_column)


def token_loc(tok: Token) -> m.Loc:
    """The location of a token (a terminal has no ``meta``)."""
    return m.Loc(tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)


def _unquote(s: str) -> str:
    return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def _binary(op: str):
    """The transformer rule of a binary operator (the first and last child are the operands;
    a comparison keeps its operator token in between)."""

    def rule(self, meta, c):
        return m.BinOp(op, c[0], c[-1], meta_loc(meta))

    return rule


@v_args(meta=True)
class ExpressionsToModel(Transformer_NonRecursive):
    """The expression rules, without recursion (a deep tree cannot exhaust the stack).

    Problems only visible once a value is known (a number too large for a float; in the
    statements, a visit range that is empty, endless or too long) are collected in
    ``problems`` as (code, message, loc), so one pass reports them all."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[tuple[str, str, m.Loc]] = []
        self.omitted = 0  # problems found beyond MAX_COLLECTED: counted, not kept

    def problem(self, code: str, message: str, loc: m.Loc) -> None:
        if len(self.problems) < MAX_COLLECTED:
            self.problems.append((code, message, loc))
        else:
            self.omitted += 1

    # ---- atoms
    def number_(self, meta, c):
        text = str(c[0])
        value = float(text)
        mantissa = text.lower().split("e")[0]
        if not math.isfinite(value):
            self.problem("SAP104", f"number {shorten(text)} is too large (the largest is about "
                         "1.8e308)", token_loc(c[0]))
        elif value == 0 and mantissa.strip("0.") != "":
            self.problem("SAP104", f"number {shorten(text)} is too small: it would be read as 0",
                         token_loc(c[0]))
        return m.Num(value, meta_loc(meta))

    def string(self, meta, c):
        return c[0]  # already a Str (STRING callback)

    def boolean(self, meta, c):
        return m.Bool(str(c[0]) == "true", meta_loc(meta))

    def bare_word(self, meta, c):
        return m.Str(str(c[0]), meta_loc(meta))

    def infinity(self, meta, c):
        return m.Inf(meta_loc(meta))

    def column_ref(self, meta, c):
        if len(c) == 2:
            return m.Col(str(c[1]), str(c[0]), meta_loc(meta))
        return m.Col(str(c[0]), None, meta_loc(meta))

    def name_list(self, meta, c):
        return tuple(str(t) for t in c)

    def STRING(self, tok):  # noqa: N802 (lark callback names terminals)
        return m.Str(_unquote(tok), token_loc(tok))

    # ---- expressions
    def call(self, meta, c):
        return m.Call(str(c[0]), tuple(c[1:]), meta_loc(meta))

    add, sub, mul, div = _binary("+"), _binary("-"), _binary("*"), _binary("/")
    or_, and_ = _binary("or"), _binary("and")

    def compare(self, meta, c):
        return m.BinOp(str(c[1]), c[0], c[2], meta_loc(meta))

    def not_(self, meta, c):
        return m.Not(c[0], meta_loc(meta))

    def neg(self, meta, c):
        if isinstance(c[0], m.Num):
            return m.Num(-c[0].value, meta_loc(meta))
        return m.Neg(c[0], meta_loc(meta))

    def in_set(self, meta, c):
        return m.InSet(c[0], tuple(c[1:]), False, meta_loc(meta))

    def not_in_set(self, meta, c):
        return m.InSet(c[0], tuple(c[1:]), True, meta_loc(meta))

    def is_missing(self, meta, c):
        return m.IsMissing(c[0], False, meta_loc(meta))

    def is_not_missing(self, meta, c):
        return m.IsMissing(c[0], True, meta_loc(meta))

    def neg_infinity(self, meta, c):
        return m.Num(-float("inf"), meta_loc(meta))

    def _bound(self, x) -> float:
        return float("inf") if isinstance(x, m.Inf) else x.value

    def open_lower(self, meta, c):
        return (self._bound(c[0]), False)

    def closed_lower(self, meta, c):
        return (self._bound(c[0]), True)

    def open_upper(self, meta, c):
        return (self._bound(c[0]), False)

    def closed_upper(self, meta, c):
        return (self._bound(c[0]), True)

    def interval(self, meta, c):
        (lo, lo_closed), (hi, hi_closed), label = c
        return m.Interval(lo, hi, lo_closed, hi_closed, label.value if label else None,
                          meta_loc(meta))

    def cut(self, meta, c):
        return m.Cut(c[0], tuple(c[1:]), meta_loc(meta))
