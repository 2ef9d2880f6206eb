"""The catalogue of plan functions: every function a plan can call, described once.

The parser builds the grammar's ``FUNCTION`` terminal from it (so the language knows exactly
these names, and an unknown one is a syntax error that lists them, SAP101), the checker
validates and types a call by it, the preflight and the evaluator dispatch on its groups,
and the math functions name their numpy implementation here. Adding a function is one entry
below plus its evaluation (``data/derive.py``), and a line in ``docs/language.md``.

Each function takes one argument, which is one of
- ``parameter``: the name of a parameter (a family too: then one value per member);
- ``plain_parameter``: the name of a parameter that is not a family;
- ``family``: the name of a parameter family (a parameter declared with ``by``);
- ``number``: any numeric expression;

and reads a parameter's visits in one of four ways (``visits``): ``baseline`` (its baseline
value, one per subject), ``at_visit`` (its value at the analysis' visit), ``over_visits``
(one value per subject over the scheduled visits), ``none`` (a number in, a number out).

>>> [f.name for f in FUNCTIONS.values() if f.argument == "family"]
['max', 'min', 'sum']
>>> FUNCTIONS["log"].numpy, FUNCTIONS["change"].uses_baseline
('log', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sap_engine.model import Kind

Argument = Literal["parameter", "plain_parameter", "family", "number"]
Visits = Literal["baseline", "at_visit", "over_visits", "none"]


@dataclass(frozen=True)
class Function:
    """A function of the plan language."""

    name: str
    argument: Argument
    visits: Visits
    summary: str
    arity: int = 1
    result: Kind = "numeric"
    uses_baseline: bool = False  # needs the parameter's baseline (so, visits or a column)
    numpy: str | None = None  # a math function: the numpy ufunc that computes it
    # Finite arguments can give a non-finite value (log(0), sqrt(-1), exp(1000)): the data
    # of an analysis using it are built by ``check`` to find those values (SAP314).
    nonfinite: bool = False

    @property
    def takes_parameter(self) -> bool:
        return self.argument != "number"


# In the order the syntax error for an unknown function lists them.
_CATALOGUE = (
    Function("baseline", "parameter", "baseline", "the parameter's baseline value",
             uses_baseline=True),
    Function("change", "parameter", "at_visit", "value - baseline at the visit",
             uses_baseline=True),
    Function("percent_change", "parameter", "at_visit",
             "100 * (value - baseline) / baseline at the visit (missing for a baseline of 0)",
             uses_baseline=True),
    Function("value", "parameter", "at_visit", "the parameter's value at the visit"),
    Function("abs", "number", "none", "absolute value", numpy="abs"),
    Function("log", "number", "none", "natural logarithm", numpy="log", nonfinite=True),
    Function("exp", "number", "none", "exponential", numpy="exp", nonfinite=True),
    Function("sqrt", "number", "none", "square root", numpy="sqrt", nonfinite=True),
    Function("max_over_visits", "plain_parameter", "over_visits",
             "a patient's highest value over the scheduled visits, baseline included"),
    Function("min_over_visits", "plain_parameter", "over_visits",
             "a patient's lowest value over the scheduled visits, baseline included"),
    Function("max", "family", "at_visit", "the highest of a family's members at the visit"),
    Function("min", "family", "at_visit", "the lowest of a family's members at the visit"),
    Function("sum", "family", "at_visit", "the sum of a family's members at the visit"),
)

FUNCTIONS: dict[str, Function] = {f.name: f for f in _CATALOGUE}
NAMES: tuple[str, ...] = tuple(FUNCTIONS)

# The groups the checker, the preflight and the evaluator dispatch on.
PARAMETER = tuple(f.name for f in _CATALOGUE if f.argument == "parameter")
FAMILY = tuple(f.name for f in _CATALOGUE if f.argument == "family")
OVER_VISITS = tuple(f.name for f in _CATALOGUE if f.visits == "over_visits")
MATH = tuple(f.name for f in _CATALOGUE if f.argument == "number")
TAKES_PARAMETER = tuple(f.name for f in _CATALOGUE if f.takes_parameter)
# A parameter's value at one visit: needs 'at week N' or 'by visit' (SAP219).
AT_VISIT = tuple(f.name for f in _CATALOGUE if f.visits == "at_visit")
# One value per subject whatever the visit: a baseline, or a value over the visits.
PER_SUBJECT = tuple(f.name for f in _CATALOGUE if f.visits in ("baseline", "over_visits"))
USES_BASELINE = tuple(f.name for f in _CATALOGUE if f.uses_baseline)
NONFINITE = tuple(f.name for f in _CATALOGUE if f.nonfinite)


def grammar_pattern() -> str:
    """The regular expression of the grammar's ``FUNCTION`` terminal: a function name is a
    keyword only when a "(" follows, so ``baseline 0`` (a visits item) and
    ``baseline(cdasi_a)`` (a call) do not collide."""
    return "(" + "|".join(NAMES) + r")(?=\s*\()"
