"""The plan model: frozen dataclasses, one per language construct.

Every node carries a :class:`Loc` (line and column in the plan file). Locations do not take
part in equality, so ``parse(format(plan)) == plan`` holds although formatting moves text.
Nothing here mutates: derive a changed node with :func:`dataclasses.replace`.

This module holds the statements (the plan's declarations) and ``Plan``; the expressions
they hold, the kinds of value and the walk over the model are in
:mod:`sap_engine.model_expr` and are imported here, so that ``from sap_engine import model
as m`` gives every name of the model (``m.Col``, ``m.Analysis``, ``m.walk``) in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from functools import cached_property
from typing import TypeVar

# The expressions, the kinds of value and the walk: re-exported (unused here too), so that
# the model is one namespace for its users.
from sap_engine.model_expr import (  # noqa: F401
    BinOp,
    Bool,
    Call,
    Col,
    Cut,
    Expr,
    Inf,
    InSet,
    Interval,
    Kind,
    Loc,
    Neg,
    Not,
    Num,
    RoleKind,
    Str,
    _loc,
    _num,
    children,
    walk,
)

_T = TypeVar("_T")


# ---- statements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    attributes: tuple[tuple[str, object], ...] = ()
    loc: Loc = _loc()


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # "file" | "package"
    ref: str
    keys: tuple[str, ...] = ()
    subjects: bool = False
    loc: Loc = _loc()


@dataclass(frozen=True)
class Arm:
    level: str
    label: str | None = None
    reference: bool = False
    loc: Loc = _loc()

    @property
    def display(self) -> str:
        return self.label or self.level


@dataclass(frozen=True)
class Treatment:
    column: Col
    arms: tuple[Arm, ...]
    loc: Loc = _loc()

    @property
    def reference(self) -> Arm | None:
        return next((a for a in self.arms if a.reference), None)


@dataclass(frozen=True)
class Labels:
    column: Col
    items: tuple[tuple[str, str], ...]
    loc: Loc = _loc()
    item_locs: tuple[Loc, ...] = field(default=(), compare=False)  # one per item


@dataclass(frozen=True)
class Population:
    name: str
    label: str | None
    dataset: str
    where: Expr | None = None
    loc: Loc = _loc()


@dataclass(frozen=True)
class Visits:
    column: Col
    baseline: float | None = None
    scheduled: tuple[tuple[float, ...], ...] = ()  # each spec: (v,) or (start, stop, step)
    label: str | None = None
    loc: Loc = _loc()

    @cached_property
    def weeks(self) -> tuple[float, ...]:
        """Every scheduled visit, sorted, each once (ranges expanded by :func:`visit_range`)."""
        out: list[float] = []
        for spec in self.scheduled:
            out.extend(spec if len(spec) == 1 else visit_range(*spec))
        return tuple(sorted(set(out)))


# A schedule longer than this is refused by the parser (SAP107): no trial has 10,000 visits,
# and a range such as `0 to 1e300 by 1` must not be expanded at all.
MAX_VISITS = 10_000


def _decimal(x: float) -> Decimal:
    # repr is the shortest text that reads back as x: for a number written in the plan, the
    # number as written (0.1 stays 0.1, not 0.1000000000000000055511151231257827).
    return Decimal(repr(float(x)))


def visit_range_count(start: float, stop: float, step: float) -> int:
    """How many visits ``start to stop by step`` has; ValueError if it is not a valid range.

    >>> visit_range_count(0, 1, 0.1), visit_range_count(0, 52, 4), visit_range_count(3, 3, 1)
    (11, 14, 1)
    """
    if not all(math.isfinite(x) for x in (start, stop, step)):
        raise ValueError("a visit range needs finite numbers")
    if step <= 0:
        raise ValueError("the step of a visit range must be positive")
    if stop < start:
        raise ValueError("a visit range must not end before it starts")
    if (stop - start) / step > MAX_VISITS:  # float estimate first: never a huge Decimal count
        return MAX_VISITS + 1
    with localcontext() as ctx:
        ctx.prec = 60
        return int((_decimal(stop) - _decimal(start)) // _decimal(step)) + 1


def visit_range(start: float, stop: float, step: float) -> tuple[float, ...]:
    """The visits ``start to stop by step``: ``start + i * step`` computed in decimal, so
    ``0 to 1 by 0.1`` contains 0.3 exactly as a plan writes it (repeated float addition gave
    0.30000000000000004, which matched no visit). ValueError for an invalid or over-long range
    (the parser reports those with their location first).

    >>> visit_range(0, 1, 0.1)[:4], visit_range(0, 16, 8)
    ((0.0, 0.1, 0.2, 0.3), (0.0, 8.0, 16.0))
    """
    count = visit_range_count(start, stop, step)
    if count > MAX_VISITS:
        raise ValueError(f"a visit range of more than {MAX_VISITS} visits")
    first, by = _decimal(start), _decimal(step)
    with localcontext() as ctx:
        ctx.prec = 60
        return tuple(float(first + i * by) for i in range(count))


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str | None
    source: Col  # dataset.value_column
    where: Expr | None = None
    baseline_column: Col | None = None
    by: tuple[str, ...] = ()
    loc: Loc = _loc()


@dataclass(frozen=True)
class Endpoint:
    name: str
    label: str | None
    expr: Expr
    kind: str = "endpoint"  # "endpoint" | "stratum"
    loc: Loc = _loc()


@dataclass(frozen=True)
class Intercurrent:
    name: str
    label: str | None
    condition: Expr
    time: Col
    loc: Loc = _loc()


@dataclass(frozen=True)
class PopulationUse:
    name: str
    where: Expr | None = None
    loc: Loc = _loc()


@dataclass(frozen=True)
class Strategy:
    event: str
    strategy: str
    handling: str | None = None
    loc: Loc = _loc()

    @property
    def effective_handling(self) -> str | None:
        """The data handling a strategy implies when the plan does not say (documented)."""
        if self.handling:
            return self.handling
        return {
            "hypothetical": "missing",
            "while_on_treatment": "missing",
            "composite": "non_responder",
        }.get(self.strategy)


@dataclass(frozen=True)
class Handling:
    """How intercurrent events and missing values are handled for one analysis: the
    strategies of its estimand and the missing-data rule (the analysis' or the estimand's)."""

    strategies: tuple[Strategy, ...] = ()
    missing: str | None = None


@dataclass(frozen=True)
class Estimand:
    name: str
    label: str | None
    population: PopulationUse | None = None
    variable: Expr | None = None
    visit: float | None = None
    strategies: tuple[Strategy, ...] = ()
    missing: str | None = None
    summary: str | None = None
    loc: Loc = _loc()
    visit_loc: Loc = _loc()  # of `at week N`


@dataclass(frozen=True)
class Option:
    name: str
    value: object
    loc: Loc = _loc()


@dataclass(frozen=True)
class Role:
    name: str
    expr: Expr
    loc: Loc = _loc()


@dataclass(frozen=True)
class Contrast:
    left: str
    right: str
    loc: Loc = _loc()

    @property
    def label(self) -> str:
        return f"{self.left} - {self.right}"


@dataclass(frozen=True)
class ByItem:
    name: str  # "treatment", "total", "visit" or a stratum name
    loc: Loc = _loc()


@dataclass(frozen=True)
class Analysis:
    name: str
    label: str | None
    estimand: str | None = None
    population: PopulationUse | None = None
    method: str | None = None
    method_loc: Loc = _loc()
    options: tuple[Option, ...] = ()
    response: Expr | None = None
    terms: Expr | None = None  # right-hand side of a model, a sum of products
    variables: tuple[Expr, ...] = ()
    crosstab: tuple[Expr, Expr] | None = None
    roles: tuple[Role, ...] = ()
    by: tuple[ByItem, ...] = ()
    visit: float | None = None
    contrasts: tuple[Contrast, ...] = ()
    weights: str | None = None
    missing: str | None = None
    base: str | None = None  # for `analysis X = Y by s`
    loc: Loc = _loc()
    visit_loc: Loc = _loc()  # of `at week N`
    weights_loc: Loc = _loc()  # of `lsmeans weights W`


@dataclass(frozen=True)
class ShowItem:
    name: str
    pattern: str | None = None
    loc: Loc = _loc()


@dataclass(frozen=True)
class TableRows:
    analysis: str
    also: tuple[str, ...] = ()  # further analyses supplying statistics (e.g. an SMD)
    label: str | None = None
    show: tuple[ShowItem, ...] = ()
    loc: Loc = _loc()


@dataclass(frozen=True)
class Table:
    number: str
    title: str
    population: PopulationUse | None = None
    columns: tuple[ByItem, ...] = ()
    rows: tuple[TableRows, ...] = ()
    footnotes: tuple[str, ...] = ()
    loc: Loc = _loc()


@dataclass(frozen=True)
class Figure:
    number: str
    title: str
    analysis: str
    population: PopulationUse | None = None
    footnotes: tuple[str, ...] = ()
    loc: Loc = _loc()


@dataclass(frozen=True)
class Document:
    title: str
    template: str | None = None
    include: tuple[str, ...] = ("all",)
    author: str | None = None
    reproduce: str | None = None  # a reproduction map (published figures vs the ARD)
    rounding: str = "half_away_from_zero"  # display rounding: SAS ROUND; or "half_even"
    loc: Loc = _loc()


@dataclass(frozen=True)
class Plan:
    """A parsed plan: its statements in source order, plus typed views of them."""

    path: str = field(compare=False)
    statements: tuple[object, ...] = ()
    comments: tuple[tuple[int, str], ...] = field(default=(), compare=False, repr=False)
    text: str = field(default="", compare=False, repr=False)

    def _of(self, kind: type) -> tuple:
        return tuple(s for s in self.statements if isinstance(s, kind))

    @cached_property
    def study(self) -> Study | None:
        found = self._of(Study)
        return found[0] if found else None

    @cached_property
    def sources(self) -> tuple[Source, ...]:
        return tuple(src for s in self.statements if isinstance(s, DataBlock) for src in s.sources)

    @cached_property
    def treatment(self) -> Treatment | None:
        found = self._of(Treatment)
        return found[0] if found else None

    @cached_property
    def visits(self) -> Visits | None:
        found = self._of(Visits)
        return found[0] if found else None

    @cached_property
    def document(self) -> Document | None:
        found = self._of(Document)
        return found[0] if found else None

    def named(self, kind: type[_T]) -> dict[str, _T]:
        return {s.name: s for s in self._of(kind)}

    @cached_property
    def populations(self) -> dict[str, Population]:
        return self.named(Population)

    @cached_property
    def parameters(self) -> dict[str, Parameter]:
        return self.named(Parameter)

    @cached_property
    def endpoints(self) -> dict[str, Endpoint]:
        return self.named(Endpoint)

    @cached_property
    def intercurrents(self) -> dict[str, Intercurrent]:
        return self.named(Intercurrent)

    @cached_property
    def estimands(self) -> dict[str, Estimand]:
        return self.named(Estimand)

    @cached_property
    def analyses(self) -> dict[str, Analysis]:
        return self.named(Analysis)

    @cached_property
    def labels(self) -> dict[str, dict[str, str]]:
        return {lab.column.name: dict(lab.items) for lab in self._of(Labels)}

    def endpoint_levels(self, name: str) -> list[str] | None:
        """The values a categorical endpoint takes: "Y"/"N" for a condition (the ADaM flag
        convention), the intervals of a ``cut``; None for a numeric endpoint."""
        endpoint = self.endpoints.get(name)
        expr = endpoint.expr if endpoint else None
        if isinstance(expr, (BinOp, InSet, Not)) and getattr(expr, "op", "==") in (
                "==", "!=", "<", "<=", ">", ">=", "and", "or"):
            return ["Y", "N"]
        if isinstance(expr, Cut):
            return [iv.display for iv in expr.intervals]
        return None

    @cached_property
    def tables(self) -> tuple[Table, ...]:
        return self._of(Table)

    @cached_property
    def figures(self) -> tuple[Figure, ...]:
        return self._of(Figure)


@dataclass(frozen=True)
class DataBlock:
    sources: tuple[Source, ...]
    loc: Loc = _loc()
