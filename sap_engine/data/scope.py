"""What one evaluation of the plan's derivations is of: the :class:`Scope` an evaluator is
handed (the family member in use, the family evaluated whole, the units of analysis, the
subjects that count), and the units' index helpers.

Separate from the evaluator because the scope is its argument, not its state: the executor
builds one per frame (``execute``), the data preflight and the evaluator's parts
(:mod:`~sap_engine.data.parameters`, :mod:`~sap_engine.data.derive`) read it, and none of
them needs the evaluator to name it. ``EACH_VISIT`` (the visit argument when the unit
carries its own visit) and ``NO_HANDLING`` are the constant arguments that go with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sap_engine import model as m
from sap_engine.model import Handling

NO_HANDLING = Handling()  # no intercurrent event, no missing-data rule


class _EachVisit:
    """The visit argument when the unit of analysis carries its own visit (``by visit``)."""

    def __repr__(self) -> str:
        return "EACH_VISIT"


EACH_VISIT = _EachVisit()


@dataclass(frozen=True, eq=False)
class Scope:
    """What one evaluation is of, passed to the evaluator instead of set on it.

    - ``selector``: the member in use of each parameter family, as
      ``((parameter, ((column, value), ...)), ...)``: an analysis of one member at a time.
    - ``family``: the family evaluated whole (every member at once): its values are indexed
      by (subject, *family columns, visit).
    - ``unit``: the units of analysis when they are more than the subject: (subject, *family
      columns) and/or (..., visit) for every scheduled visit at once (see ``Evaluator.units``);
      None for one row per subject.
    - ``subjects``: the subjects whose values the frame being built uses: an expression that
      is not finite for a subject outside them (a screening failure with a baseline of 0)
      is no error. None: every subject counts.

    Results cached by the evaluator are keyed by the parts of the scope they depend on
    (a population by the selector, a parameter by its member and whether its family is
    whole); ``unit`` and ``subjects`` only shape or guard a result that is not cached.
    """

    selector: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    family: str | None = None
    unit: pd.MultiIndex | None = None
    subjects: pd.Index | None = None

    def member(self, parameter: str) -> tuple[tuple[str, str], ...]:
        return dict(self.selector).get(parameter, ())


SUBJECTS = Scope()  # one row per subject, every member, every subject counting


def unit_index(index: pd.MultiIndex) -> pd.Index:
    """The unit of each (unit..., visit) entry: the subject, or (subject, *family columns)."""
    return index.droplevel(-1) if index.nlevels > 2 else index.get_level_values(0)


def subject_of(label: object) -> object:
    return label[0] if isinstance(label, tuple) else label


def unit_label(label: object, names: list) -> str:
    """``subject S01`` or ``subject S01, PARAMCD X, visit 16`` for an index label."""
    values = label if isinstance(label, tuple) else (label,)
    parts = []
    for i, (name, value) in enumerate(zip(names, values)):
        if isinstance(value, float):
            value = m._num(value)
        parts.append(f"subject {value}" if i == 0 else f"{name} {value}")
    return ", ".join(parts)


def broadcast(value, index: pd.Index) -> pd.Series:
    """An expression's value as one value per row: a constant (``1 == 1``, ``log(2)``, an
    expression of literals only) stands for the same value in every row."""
    if isinstance(value, pd.Series):
        return value
    return pd.Series(value, index=index)
