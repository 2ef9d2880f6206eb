"""The registry of statistical methods, keyed by name.

Every method the plan language can name is registered here with
- its *roles* (which variables it takes: a response, a row and a column factor...),
- its *options* (validated by the plan checker before anything runs),
- its *conventions* (which SAS or R default it follows and what each option changes),
- its *evidence* (the independent reference it was validated against, and the tolerance).

``docs/methods.md`` is generated from this registry (``python -m sap_engine.methods.docs``)
and a test fails when the committed file is stale.

A registered function has the signature::

    run(frame: pandas.DataFrame, roles: Mapping[str, str | tuple[str, ...]],
        options: Mapping[str, Any]) -> list[Stat]

``frame`` holds only the analysis population's rows; grouping by arm, visit or stratum
(``by``) is done by the executor, which calls the method once per group.
A method raises :class:`sap_engine.errors.MethodError` for input it cannot analyse.
A statistic without a value is ``None``; a NaN or infinite value is accepted by the
executor only for the stat_names the method lists in ``nonfinite``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sap_engine.model import RoleKind


@dataclass(frozen=True)
class Stat:
    """One number of a method's result, in the ARD vocabulary (see docs/ard.md)."""

    stat_name: str
    stat: float | None
    variable_level: str | None = None
    stat_label: str | None = None
    stat_text: str | None = None
    # Extra grouping a method produces itself (e.g. a KM time point, a contrast's
    # comparator): pairs of (group name, level) appended after the executor's groups.
    groups: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RoleSpec:
    """A variable a method takes: ``kind`` is 'numeric', 'category' or 'any' (the
    vocabulary of :data:`sap_engine.model.RoleKind`)."""

    name: str
    kind: RoleKind = "any"
    many: bool = False
    required: bool = True
    doc: str = ""


@dataclass(frozen=True)
class OptionSpec:
    """A plan-settable option of a method, with its SAS-compatible default."""

    name: str
    kind: str
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def validate(self, value: Any) -> str | None:
        """None when ``value`` is acceptable, else a one-line reason."""
        if self.kind == "choice" and value not in self.choices:
            return f"option '{self.name}' must be one of {', '.join(self.choices)}"
        if self.kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"option '{self.name}' must be a number"
            if self.kind == "integer" and int(value) != value:
                return f"option '{self.name}' must be a whole number"
            if self.minimum is not None and value < self.minimum:
                return f"option '{self.name}' must be >= {self.minimum}"
            if self.maximum is not None and value > self.maximum:
                return f"option '{self.name}' must be <= {self.maximum}"
        if self.kind == "bool" and not isinstance(value, bool):
            return f"option '{self.name}' must be true or false"
        if self.kind == "string" and not isinstance(value, str):
            return f"option '{self.name}' must be a string"
        return None


@dataclass(frozen=True)
class Evidence:
    """How a method was validated: against what, to what tolerance, by which test."""

    reference: str
    tolerance: str
    test: str


@dataclass(frozen=True)
class Method:
    name: str
    family: str
    summary: str
    run: Callable[..., list[Stat]]
    roles: tuple[RoleSpec, ...] = ()
    options: tuple[OptionSpec, ...] = ()
    conventions: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    stats: tuple[str, ...] = field(default=())  # stat_names it can emit
    # stat_names whose value may legitimately be NaN or infinite (a median never reached,
    # the upper limit of an exact CI); any other non-finite value is refused by the
    # executor (SAP472), so a degenerate computation never reaches the ARD as a number.
    nonfinite: tuple[str, ...] = field(default=())

    def option(self, name: str) -> OptionSpec | None:
        return next((o for o in self.options if o.name == name), None)

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with the plan's options (assumed already validated)."""
        resolved = {o.name: o.default for o in self.options}
        resolved.update(given)
        return resolved


METHODS: dict[str, Method] = {}


def register(
    name: str,
    *,
    family: str,
    summary: str,
    roles: Sequence[RoleSpec] = (),
    options: Sequence[OptionSpec] = (),
    conventions: Sequence[str] = (),
    evidence: Sequence[Evidence] = (),
    stats: Sequence[str] = (),
    nonfinite: Sequence[str] = (),
) -> Callable[[Callable[..., list[Stat]]], Callable[..., list[Stat]]]:
    """Decorator: register ``run`` under ``name`` (names are unique)."""

    def decorate(run: Callable[..., list[Stat]]) -> Callable[..., list[Stat]]:
        if name in METHODS:
            raise ValueError(f"method {name!r} registered twice")
        METHODS[name] = Method(
            name=name,
            family=family,
            summary=summary,
            run=run,
            roles=tuple(roles),
            options=tuple(options),
            conventions=tuple(conventions),
            evidence=tuple(evidence),
            stats=tuple(stats),
            nonfinite=tuple(nonfinite),
        )
        return run

    return decorate


# The families, each a module of sap_engine.methods that registers its methods on import.
FAMILIES = (
    "descriptive",
    "linear",
    "freq",
    "agreement",
    "correlation",
    "survival",
    "multiplicity",
)


def load_all() -> dict[str, Method]:
    """Import every family module (lazily: only when a plan needs the registry)."""
    import importlib

    for family in FAMILIES:
        try:
            importlib.import_module(f"sap_engine.methods.{family}")
        except ModuleNotFoundError as exc:  # a family not yet written
            if exc.name != f"sap_engine.methods.{family}":
                raise
    return METHODS


def get(name: str) -> Method | None:
    if name not in METHODS:
        load_all()
    return METHODS.get(name)
