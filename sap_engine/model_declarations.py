"""The plan model's declarations: what a plan states about its study, its data and its
trial before it analyses anything: the study, the data sources, the treatment and its
arms, labels, populations, the visit schedule (with the schedule arithmetic), parameters,
endpoints and strata, intercurrent events, and estimands with their strategies.

Separate from :mod:`sap_engine.model` (analyses, displays, the document and ``Plan``)
because the declarations are what the analyses and displays refer to by name and what
the evaluator derives on the data; they hold expressions (:mod:`sap_engine.model_expr`)
and know nothing of analyses or displays. Users import them from ``sap_engine.model``
(``m.Population``, ``m.visit_range``), which re-exports them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from functools import cached_property

from sap_engine.model_expr import Col, Expr, Loc, _loc


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
    # `label from AVISIT`: a column of the parameter datasets holding each visit's label
    # as text, read from the data (one label per visit number).
    label_from: str | None = None
    label_from_loc: Loc = _loc()

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
class Occurrence:
    """An occurrence set: the event records (one row each, e.g. ADAE) of ``dataset`` that
    ``where`` keeps; an ``incidence`` analysis counts the subjects with at least one."""

    name: str
    label: str | None
    dataset: str
    where: Expr | None = None
    loc: Loc = _loc()


# The functions of an ``aggregate`` statement: name -> (reads a column of the records, the
# kind of the subject-level value). ``any``: "Y"/"N"; ``count``: the number of records;
# ``worst``: the worst of the listed levels; ``highest``/``lowest``: of a numeric column.
AGGREGATE_FUNCTIONS: dict[str, tuple[bool, str]] = {
    "any": (False, "category"), "count": (False, "numeric"), "worst": (True, "category"),
    "highest": (True, "numeric"), "lowest": (True, "numeric")}
NO_RECORD = "None"  # the value `worst` gives a subject without records, unless `none "..."`


@dataclass(frozen=True)
class Aggregate:
    """A subject-level value derived from each subject's records of an occurrence set
    (``aggregate any_ser = any(teae_serious)``): usable wherever a subject-level column is.

    ``source`` is the occurrence set (``any(teae)``: ``Col("teae")``) or one of its
    dataset's columns (``worst(teae.AESEV, ...)``: ``Col("AESEV", dataset="teae")``);
    ``levels`` the listed levels of ``worst``, mildest first (None when none are listed);
    ``none`` the value of a subject without records (``worst`` only)."""

    name: str
    label: str | None
    function: str
    source: Col
    levels: tuple[str, ...] | None = None
    none: str | None = None
    loc: Loc = _loc()
    function_loc: Loc = _loc()
    levels_loc: Loc = _loc()
    none_loc: Loc = _loc()

    @property
    def occurrence(self) -> str:
        """The occurrence set whose records are aggregated."""
        return self.source.dataset or self.source.name

    @property
    def column(self) -> str | None:
        """The record column read (``worst``, ``highest``, ``lowest``); None for a count."""
        return self.source.name if self.source.dataset else None

    @property
    def none_level(self) -> str:
        return self.none if self.none is not None else NO_RECORD

    def categories(self) -> list[str] | None:
        """The values a categorical aggregate takes, in display order: "Y"/"N" for ``any``
        (the ADaM flag), the listed levels then the no-record level for ``worst``; None for
        a number."""
        if self.function == "any":
            return ["Y", "N"]
        if self.function == "worst":
            return [*(self.levels or ()), self.none_level]
        return None


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


# The rules of data handling each strategy can take (``with ...``), its default first. A
# strategy without an entry takes none: ``treatment_policy`` uses the data as observed, and
# ``principal_stratum`` has no estimator in the engine (its analyses are not run, SAP254).
# The checker refuses any other combination (SAP252): it would otherwise run silently as
# another strategy.
HANDLINGS: dict[str, tuple[str, ...]] = {
    "hypothetical": ("missing", "last_before"),
    "while_on_treatment": ("missing", "last_before"),
    "composite": ("non_responder", "value"),
}


@dataclass(frozen=True)
class Strategy:
    event: str
    strategy: str
    handling: str | None = None  # "last_before" | "missing" | "non_responder" | "value"
    value: float | None = None  # of ``with value N`` (composite): the value after the event
    loc: Loc = _loc()
    # The estimand's variable (an endpoint or parameter named by ``variable``) that a
    # composite strategy sets after the event. Not written in the plan: :class:`Estimand`
    # fills it from its ``variable``, so the strategy carries it into every analysis.
    target: str | None = None

    @property
    def effective_handling(self) -> str | None:
        """The data handling a strategy implies when the plan does not say (documented)."""
        if self.handling:
            return self.handling
        return HANDLINGS.get(self.strategy, (None,))[0]


@dataclass(frozen=True)
class Handling:
    """How intercurrent events and missing values are handled for one analysis: the
    strategies of its estimand and the missing-data rule (the analysis' or the estimand's)."""

    strategies: tuple[Strategy, ...] = ()
    missing: str | None = None
    worst: str | None = None  # for ``wocf``: "highest" or "lowest" is the worst value


@dataclass(frozen=True)
class Estimand:
    name: str
    label: str | None
    population: PopulationUse | None = None
    variable: Expr | None = None
    visit: float | None = None
    strategies: tuple[Strategy, ...] = ()
    missing: str | None = None
    worst: str | None = None  # `missing wocf worst highest|lowest`
    missing_loc: Loc = _loc()
    summary: str | None = None
    loc: Loc = _loc()
    visit_loc: Loc = _loc()  # of `at week N`
    treatment: str | None = None  # the treatment condition, as the plan words it
    treatment_loc: Loc = _loc()

    def __post_init__(self) -> None:
        # A strategy applies to the estimand's variable (a composite sets its value after
        # the event); analyses receive the strategies alone, so each carries the name.
        target = self.variable_name
        if any(s.target != target for s in self.strategies):
            object.__setattr__(self, "strategies", tuple(
                replace(s, target=target) for s in self.strategies))

    @property
    def variable_name(self) -> str | None:
        """The endpoint or parameter the ``variable`` names; None for an expression."""
        v = self.variable
        return v.name if isinstance(v, Col) and v.dataset is None else None


@dataclass(frozen=True)
class DataBlock:
    sources: tuple[Source, ...]
    loc: Loc = _loc()
