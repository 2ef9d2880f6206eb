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

``frame`` holds only the analysis population's rows, one per *unit of analysis* the method
declares (``unit``): one row per subject (``SUBJECT``, the default), or one per subject and
scheduled visit (``SUBJECT_VISIT``: every visit of a subject in one frame, with a ``visit``
column, as a repeated-measures model needs), or one per event record of an occurrence set
(``OCCURRENCE``: indexed by subject, with a row for each subject without a record).
Grouping by arm, visit or stratum (``by``) is done by the executor, which calls the method
once per group, except for the ``by`` items the method declares it ``consumes``: it then gets
them in its frame and handles them itself
(a per-visit model given ``by visit`` gets every visit at once). See docs/architecture.md.
A method raises :class:`sap_engine.errors.MethodError` for input it cannot analyse.
A statistic without a value is ``None``; a NaN or infinite value is accepted by the
executor only for the stat_names the method lists in ``nonfinite``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sap_engine.model import RoleKind

# Units of analysis: what one row of the frame a method receives stands for.
SUBJECT = "subject"
SUBJECT_VISIT = "subject x visit"
# One row per event record of an occurrence set (ADAE) for the population's subjects, plus one
# row (column ``record`` False, event columns missing) per population subject without any, so
# the method has the denominators and counts subjects, not records (``incidence``).
OCCURRENCE = "occurrence"
UNITS = (SUBJECT, SUBJECT_VISIT, OCCURRENCE)
# The `by` items a method may consume (handle itself instead of the executor splitting):
# the visit, which needs the subject x visit unit to reach the method whole.
CONSUMABLE = ("visit",)


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


# The plan clauses that can feed an option (``OptionSpec.clause``). The first three are clauses of
# one analysis: a method without an option fed by such a clause refuses it (SAP244), and the
# option given as well (``options weights = ...`` beside ``lsmeans weights``) is an error
# (SAP245). The others are declarations of the whole plan (the treatment block, a ``cut``, a
# ``labels`` block): they fill an option a method has, and an analysis' own ``options`` value
# overrides them (the more specific statement wins); a method without the option ignores them.
LSMEANS_WEIGHTS = "lsmeans weights"  # `lsmeans weights observed`
CONTRAST = "contrast"  # every `contrast A - B` of the analysis, as "A - B" labels
MODEL_INTERACTIONS = "model interactions"  # the `A * B` terms of `model Y ~ ...`, as "A*B"
TREATMENT_REFERENCE = "treatment reference"  # the arm marked `reference`
TREATMENT_ARMS = "treatment arms"  # the arms in plan order (when the treatment is a role)
VARIABLE_LEVELS = "variable category order"  # a cut's intervals or a labels block's values
ROW_LEVELS = "row category order"  # the same for `crosstab ROW by COL`
COL_LEVELS = "col category order"
# The analysis' own visit (`at week N`, or its estimand's): a method of unit subject x visit
# that declares an option fed by it receives every visit and analyses this one (a
# multiple-imputation ANCOVA models the earlier visits to impute the analysed one).
ANALYSIS_VISIT = "analysis visit"
ANALYSIS_CLAUSES = (LSMEANS_WEIGHTS, CONTRAST, MODEL_INTERACTIONS)
PLAN_CLAUSES = (TREATMENT_REFERENCE, TREATMENT_ARMS, VARIABLE_LEVELS, ROW_LEVELS, COL_LEVELS,
                ANALYSIS_VISIT)


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
    clause: str = ""  # the plan clause that feeds it (one of ANALYSIS_CLAUSES, PLAN_CLAUSES)

    def validate(self, value: Any) -> str | None:
        """None when ``value`` is acceptable, else a one-line reason."""
        if value is None and self.default is None:
            return None  # an option without a default is unset until a clause or plan sets it
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
        if self.kind == "list" and not isinstance(value, (list, tuple)):
            return f"option '{self.name}' must be a list ([...])"
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
    # The executor-method contract: the unit of one frame row, and the `by` items the
    # method handles itself (the executor neither splits by them nor drops their column).
    unit: str = SUBJECT
    consumes: tuple[str, ...] = field(default=())
    # How a reader knows the method ("ANCOVA"): the documents' method lines print it.
    label: str = ""
    # Groupings the method's results carry themselves (a tipping-point grid's deltas): a
    # table may lay its columns out by one of them (`columns delta_reference`).
    groups: tuple[str, ...] = field(default=())

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
    unit: str = SUBJECT,
    consumes: Sequence[str] = (),
    label: str = "",
    groups: Sequence[str] = (),
) -> Callable[[Callable[..., list[Stat]]], Callable[..., list[Stat]]]:
    """Decorator: register ``run`` under ``name`` (names are unique).

    ``unit`` and ``consumes`` are the method's contract with the executor (see the module
    docstring); an inconsistent contract is a bug of the method, refused here."""
    _check_contract(name, unit, tuple(consumes))

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
            unit=unit,
            consumes=tuple(consumes),
            label=label or name,
            groups=tuple(groups),
        )
        return run

    return decorate


def _check_contract(name: str, unit: str, consumes: tuple[str, ...]) -> None:
    if unit not in UNITS:
        raise ValueError(f"method {name!r}: unit {unit!r} is not one of {UNITS}")
    for item in consumes:
        if item not in CONSUMABLE:
            raise ValueError(f"method {name!r}: cannot consume 'by {item}' (only "
                             f"{', '.join(CONSUMABLE)})")
    if "visit" in consumes and unit != SUBJECT_VISIT:
        # Handling the visits itself, the method must receive all of them at once.
        raise ValueError(f"method {name!r} consumes 'by visit': its unit must be "
                         f"{SUBJECT_VISIT!r}")


def unregister(name: str) -> None:
    """Remove a method (for a test that registers one of its own)."""
    METHODS.pop(name, None)


# The families, each a module of sap_engine.methods that registers its methods on import.
FAMILIES = (
    "descriptive",
    "linear",
    "freq",
    "agreement",
    "correlation",
    "survival",
    "multiplicity",
    "mmrm",
    "mi",
    "incidence",
    "shift",
    "listing",
    "record_listing",
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
