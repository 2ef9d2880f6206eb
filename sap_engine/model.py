"""The plan model: frozen dataclasses, one per language construct.

Every node carries a :class:`Loc` (line and column in the plan file). Locations do not take
part in equality, so ``parse(format(plan)) == plan`` holds although formatting moves text.
Nothing here mutates: derive a changed node with :func:`dataclasses.replace`.

The model is three modules, each building on the one before: :mod:`sap_engine.model_expr`
(expressions, the kinds of value, the walk over the model), :mod:`sap_engine.model_declarations`
(study, data, arms, populations, visits, parameters, endpoints, estimands) and this one:
the analyses, the displays, the document and ``Plan``. This module imports the other two's
names, so that ``from sap_engine import model as m`` gives every name of the model
(``m.Col``, ``m.Population``, ``m.Analysis``, ``m.walk``) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

# The declarations and expressions: re-exported (most unused here), so that the model is
# one namespace for its users.
from sap_engine.model_declarations import (  # noqa: F401
    AGGREGATE_FUNCTIONS,
    HANDLINGS,
    MAX_VISITS,
    NO_RECORD,
    Aggregate,
    Arm,
    DataBlock,
    Endpoint,
    Estimand,
    Handling,
    Intercurrent,
    Labels,
    Occurrence,
    Parameter,
    Population,
    PopulationUse,
    Source,
    Strategy,
    Study,
    Treatment,
    Visits,
    visit_range,
    visit_range_count,
)
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
    IsMissing,
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
    # `by visit after baseline`: the scheduled visits without the baseline visit, where a
    # change from baseline is 0 for everyone (plain `by visit` keeps it, as it always did).
    after_baseline: bool = False

    @property
    def text(self) -> str:
        return "visit after baseline" if self.after_baseline else self.name


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
    worst: str | None = None  # `missing wocf worst highest|lowest`
    missing_loc: Loc = _loc()
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
    # `by visit`: each visit a section holding every `rows` statement's block (a lab
    # summary: the value and the change from baseline under each visit).
    by_visit: bool = False
    by_visit_loc: Loc = _loc()


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
    def occurrences(self) -> dict[str, Occurrence]:
        return self.named(Occurrence)

    @cached_property
    def aggregates(self) -> dict[str, Aggregate]:
        return self.named(Aggregate)

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
        if isinstance(expr, (BinOp, InSet, IsMissing, Not)) and getattr(expr, "op", "==") in (
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
