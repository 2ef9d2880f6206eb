"""The "Estimands" section of the results document: each estimand of the plan as a SAP
states it (ICH E9(R1)), one table of its attributes.

Built from the plan and from what the ARD records (which analyses were not estimable: the
run's SAP254 warnings), so that ``sap-run render ARD PLAN`` rebuilds it like every other part
of the document. The rows: Population, Variable (the endpoint's label and visit), Treatment
condition (as the plan words it, else each arm against the reference arm), Intercurrent
events and strategies (one line per event: its label, the strategy, how the data are
handled), Missing data, Population-level summary, and the analyses that estimate it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sap_engine import model as m
from sap_engine.fmt import expr

NOT_ESTIMABLE = "not estimable by the chosen method"
NOT_STATED = "not stated in the plan"

_STRATEGY_WORDS = {"treatment_policy": "treatment policy", "hypothetical": "hypothetical",
                   "composite": "composite", "while_on_treatment": "while on treatment",
                   "principal_stratum": "principal stratum"}

_MISSING_WORDS = {
    "observed_case": "Observed case: visits without a value are left out",
    "locf": "LOCF: the last non-missing value, baseline included, is carried forward",
    "bocf": "BOCF: the baseline value is carried forward",
}


@dataclass(frozen=True)
class EstimandRow:
    attribute: str  # "Population", "Variable", ...
    lines: tuple[str, ...]  # one or more lines of text


@dataclass
class BuiltEstimand:
    name: str
    label: str
    anchor: str
    rows: list[EstimandRow] = field(default_factory=list)


def build_estimands(plan: m.Plan, not_estimable: Collection[str] = ()) -> list[BuiltEstimand]:
    """One table per estimand, in plan order; ``not_estimable``: the analyses the run did
    not estimate (their ids, from the ARD's SAP254 warnings)."""
    return [_build(plan, est, not_estimable) for est in plan.estimands.values()]


def _build(plan: m.Plan, est: m.Estimand, not_estimable: Collection[str]) -> BuiltEstimand:
    rows = [
        EstimandRow("Population", (_population(plan, est.population),)),
        EstimandRow("Variable", (_variable(plan, est),)),
        EstimandRow("Treatment condition", _treatment(plan, est)),
        EstimandRow("Intercurrent events and strategies",
                    tuple(_strategy(plan, est, st) for st in est.strategies)
                    or ("none stated",)),
        EstimandRow("Missing data", (_missing(plan, est),)),
        EstimandRow("Population-level summary", (est.summary or NOT_STATED,)),
        EstimandRow("Analyses", _analyses(plan, est, not_estimable) or ("none",)),
    ]
    return BuiltEstimand(est.name, est.label or est.name, "estimand-" + est.name, rows)


def _population(plan: m.Plan, use: m.PopulationUse | None) -> str:
    if use is None:
        return NOT_STATED
    pop = plan.populations.get(use.name)
    text = (pop.label or pop.name) if pop else use.name
    return text + (f", where {expr(use.where)}" if use.where is not None else "")


def _visit(plan: m.Plan, visit: float) -> str:
    from sap_engine.render.visit_labels import VisitLabels

    named = VisitLabels(plan).given.get(m._num(visit))  # `labels AVISITN { 99 = "..." }`
    if named:
        return named
    word = plan.visits.label if plan.visits and plan.visits.label else "Week"
    return f"{word} {m._num(visit)}"


def _variable(plan: m.Plan, est: m.Estimand) -> str:
    if est.variable is None:
        return NOT_STATED
    name = est.variable_name
    named = plan.endpoints.get(name or "") or plan.parameters.get(name or "")
    text = f"{named.label} ({name})" if named is not None and named.label else expr(est.variable)
    return text + (f" at {_visit(plan, est.visit)}" if est.visit is not None else "")


def _treatment(plan: m.Plan, est: m.Estimand) -> tuple[str, ...]:
    """The plan's wording, else each arm against the reference arm (one line each)."""
    if est.treatment:
        return (est.treatment,)
    trt = plan.treatment
    if trt is None or not trt.arms:
        return (NOT_STATED,)
    ref = trt.reference
    if ref is None:  # no reference declared: the arms are compared with one another
        return (" vs ".join(a.display for a in trt.arms),)
    return tuple(f"{a.display} vs {ref.display}" for a in trt.arms if a is not ref) \
        or (ref.display,)


def _strategy(plan: m.Plan, est: m.Estimand, st: m.Strategy) -> str:
    ie = plan.intercurrents.get(st.event)
    event = (ie.label or ie.name) if ie else st.event
    return f"{event} - {_STRATEGY_WORDS.get(st.strategy, st.strategy)} - " \
           f"{_handled(plan, est, st)}"


def _handled(plan: m.Plan, est: m.Estimand, st: m.Strategy) -> str:
    """How the data are handled for the event, in words (the rules of data/parameters.py
    and data/derive.py)."""
    how = st.effective_handling
    target = est.variable_name or "the variable"
    if st.strategy == "principal_stratum":
        return f"{NOT_ESTIMABLE} (the engine has no principal stratum estimator)"
    if st.strategy == "treatment_policy":
        return "values used as observed, whatever the event"
    if how == "last_before":
        return "the last value at or before the event is carried forward to later visits"
    if how == "missing":
        return "values after the event are discarded (then handled as missing data)"
    if how == "non_responder":
        return f"{target} is set to 0 (non-responder) at the visits after the event"
    if how == "value" and st.value is not None:
        return f"{target} is set to {m._num(st.value)} at the visits after the event"
    return "no data rule"


def _missing(plan: m.Plan, est: m.Estimand) -> str:
    imputed = [a.name for a in plan.analyses.values()
               if a.estimand == est.name and a.method == "mi_ancova"]
    if imputed:
        # The analyses impute what is missing themselves: the estimand's rule is not used.
        return ("Multiple imputation in the analyses (" + ", ".join(imputed) + "); "
                "Rubin's rules")
    if est.missing == "wocf":
        return f"WOCF: the worst ({est.worst or 'highest'}) value observed so far is " \
               "carried forward"
    return _MISSING_WORDS.get(est.missing or "observed_case", est.missing or "")


def _analyses(plan: m.Plan, est: m.Estimand, not_estimable: Collection[str]) -> tuple[str, ...]:
    """The analyses for the estimand, and their repetitions (``X = Y by s``)."""
    ours = [a.name for a in plan.analyses.values() if a.estimand == est.name]
    grew = True
    while grew:  # repetitions of repetitions
        grew = False
        for a in plan.analyses.values():
            if a.base in ours and a.name not in ours:
                ours.append(a.name)
                grew = True
    lines = []
    for name in (n for n in plan.analyses if n in ours):  # in plan order
        a = plan.analyses[name]
        text = f"{a.name}: {a.label}" if a.label else a.name
        lines.append(text + (f" - {NOT_ESTIMABLE}" if name in not_estimable else ""))
    return tuple(lines)
