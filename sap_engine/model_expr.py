"""The plan model's expressions: the value nodes of the language, their kinds, and the
walk over any node of the model.

An expression (``AGE > 40``, ``change(score)``, ``cut(x, [0, 10))``) is what every part of
a plan is built of and what the checker types and the evaluator computes; a statement
(``population``, ``analysis``, ``table``) is a named declaration that holds expressions.
The two are kept apart because expressions are the part every stage reads and they do
not depend on statements, while statements and ``Plan`` build on them (``sap_engine.model``
imports this module, never the other way round). ``walk``/``children`` live here too: they
are generic over the model's frozen dataclasses and are mostly used to walk expressions.

Users import these names from ``sap_engine.model`` (``m.Col``, ``m.walk``), which re-exports
them; every node carries a :class:`Loc` that takes no part in equality.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal, Union

# The one location type; the model's nodes (and their users, as ``m.Loc``) carry it.
from sap_engine.location import Loc as Loc


def _loc() -> Loc:
    return field(default=Loc(), compare=False, repr=False)


# ---- expressions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: float
    loc: Loc = _loc()


@dataclass(frozen=True)
class Str:
    value: str
    loc: Loc = _loc()


@dataclass(frozen=True)
class Bool:
    value: bool
    loc: Loc = _loc()


@dataclass(frozen=True)
class Inf:
    loc: Loc = _loc()


@dataclass(frozen=True)
class Col:
    """A column (``FASFL``), a qualified column (``adsl.BMI``) or a plan name (``cdasi_a``)."""

    name: str
    dataset: str | None = None
    loc: Loc = _loc()

    @property
    def text(self) -> str:
        return f"{self.dataset}.{self.name}" if self.dataset else self.name


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Expr, ...]
    loc: Loc = _loc()


@dataclass(frozen=True)
class BinOp:
    op: str  # == != < <= > >= + - * / and or
    left: Expr
    right: Expr
    loc: Loc = _loc()


@dataclass(frozen=True)
class Not:
    operand: Expr
    loc: Loc = _loc()


@dataclass(frozen=True)
class Neg:
    operand: Expr
    loc: Loc = _loc()


@dataclass(frozen=True)
class InSet:
    operand: Expr
    values: tuple[Expr, ...]
    negated: bool = False
    loc: Loc = _loc()


@dataclass(frozen=True)
class IsMissing:
    """``X is missing`` (``negated``: ``X is not missing``): 1 or 0 in every row, never
    missing itself, so a plan can select or count the rows without a value."""
    operand: Expr
    negated: bool = False
    loc: Loc = _loc()


@dataclass(frozen=True)
class Interval:
    lower: float
    upper: float
    lower_closed: bool
    upper_closed: bool
    label: str | None = None
    loc: Loc = _loc()

    @property
    def text(self) -> str:
        def num(x: float) -> str:
            return "inf" if x == float("inf") else ("-inf" if x == -float("inf") else _num(x))

        return (("[" if self.lower_closed else "(") + num(self.lower) + ", " + num(self.upper)
                + ("]" if self.upper_closed else ")"))

    @property
    def display(self) -> str:
        """The category's label: its own, or the interval as written (``>14`` style kept)."""
        return self.label or self.text


@dataclass(frozen=True)
class Cut:
    operand: Expr
    intervals: tuple[Interval, ...]
    loc: Loc = _loc()


Expr = Union[Num, Str, Bool, Inf, Col, Call, BinOp, Not, Neg, InSet, IsMissing, Cut]

# The kinds of value, one vocabulary for the whole engine: the checker types an expression
# with them, a data column is "numeric" or "string", and a method's role (the registry's
# ``RoleSpec.kind``) takes a "numeric" or a "category" term, or "any".
Kind = Literal["numeric", "category", "string", "bool"]
RoleKind = Literal["numeric", "category", "any"]


def _num(x: float) -> str:
    """A number as a plan writes it: whole numbers without a decimal point, large and small
    ones in exponent form (``1.7e+308``, not 309 digits).

    >>> [_num(16.0), _num(0.3), _num(1.7e308), _num(-2.5e-7)]
    ['16', '0.3', '1.7e+308', '-2.5e-07']
    """
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e16 else repr(x)


# ---- walking the model ---------------------------------------------------------------------

_FIELDS: dict[type, tuple[str, ...]] = {}


def _is_node(value: object) -> bool:
    return is_dataclass(value) and not isinstance(value, (type, Loc))


def children(node: object) -> tuple[Any, ...]:
    """The nodes directly below ``node``, in source order: an expression's operands, the
    expressions and nodes a statement holds (tuples flattened; locations, names and plain
    values are not nodes). Typed Any: callers tell the node classes apart with isinstance.

    >>> children(BinOp("+", Col("x"), Num(1.0)))
    (Col(name='x', dataset=None), Num(value=1.0))
    """
    if not _is_node(node):
        return ()
    names = _FIELDS.get(type(node))
    if names is None:
        names = _FIELDS[type(node)] = tuple(f.name for f in fields(node))  # type: ignore[arg-type]
    out: list[object] = []
    for name in names:
        _collect(getattr(node, name), out)
    return tuple(out)


def _collect(value: object, out: list[object]) -> None:
    if isinstance(value, tuple):  # a tuple of nodes, or of pairs (a crosstab, attributes)
        for item in value:
            _collect(item, out)
    elif _is_node(value):
        out.append(value)


def walk(root: object) -> Iterator[object]:
    """``root`` (a node, or a tuple of them) and every node below it, depth first in source
    order, without recursion (an expression may nest a hundred levels).

    >>> [type(n).__name__ for n in walk(Not(BinOp(">", Col("AGE"), Num(40.0))))]
    ['Not', 'BinOp', 'Col', 'Num']
    """
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(reversed(node))
        elif _is_node(node):
            yield node
            stack.extend(reversed(children(node)))
