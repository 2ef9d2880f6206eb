"""A visit as a reader reads it: "Week 2", "Baseline", "End of Treatment", never "2".

The ARD keeps the visit number (group ``visit``, level ``m._num(AVISITN)``); documents show
a label, from the first source that has one:

1. the plan's ``labels`` block for the visit variable (``labels AVISITN { 0 = "Baseline"
   99 = "End of Treatment" }``; the checker holds its keys to scheduled visits, SAP265);
2. the data's labels, with ``label from AVISIT`` in the ``visits`` block (read at the run
   and kept in the ARD's ``visit_labels`` metadata, so a render needs no data);
3. the ``visits`` block's ``label`` as a prefix: ``label "Week"`` makes "Week 2" (without
   one, "Visit 2"); the baseline visit reads "Baseline".
"""

from __future__ import annotations

from collections.abc import Mapping

from sap_engine import model as m


def _plan_labels(plan: m.Plan) -> dict[str, str]:
    visits = plan.visits
    if visits is None:
        return {}
    out: dict[str, str] = {}
    for key, label in plan.labels.get(visits.column.name, {}).items():
        try:
            out[m._num(float(key))] = label  # `0`, `"0"` and `0.0` name one visit
        except ValueError:
            continue  # not a visit (the checker refuses it, SAP265)
    return out


class VisitLabels:
    """The label of each visit level of one document (the plan's and the ARD's labels)."""

    def __init__(self, plan: m.Plan, data_labels: Mapping[str, str] | None = None):
        self.visits = plan.visits
        self.given = _plan_labels(plan)
        self.data = dict(data_labels or {})

    def __call__(self, level: object) -> str:
        text = str(level)
        try:
            key = m._num(float(text))
        except ValueError:
            return text  # not a number: shown as it is
        if key in self.given:
            return self.given[key]
        if key in self.data:
            return self.data[key]
        visits = self.visits
        if visits is not None and visits.baseline is not None and \
                key == m._num(visits.baseline):
            return "Baseline"
        prefix = visits.label if visits is not None and visits.label else "Visit"
        return f"{prefix} {key}"

    def labelled(self) -> bool:
        """Whether any visit has a label of its own (the plan's or the data's)."""
        return bool(self.given or self.data)


def visit_ticks(plan: m.Plan, data_labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """"visit 2" -> "Week 2" for a figure's x axis, only where the plan's `labels` block or
    the data (`label from`) name the visits: the axis of a plan without them is unchanged
    (numbers under "Week")."""
    text = VisitLabels(plan, data_labels)
    if plan.visits is None or not text.labelled():
        return {}
    return {f"visit {w:g}": text(m._num(w)) for w in plan.visits.weeks}
