"""The checks of estimands: every intercurrent event a strategy names exists, and every
strategy has a data handling behind it, so that no analysis runs one strategy as if it were
another.

The engine estimates a strategy only through a rule on the data (:mod:`sap_engine.data`):

- ``treatment_policy``: the data as observed; it takes no ``with`` rule.
- ``hypothetical`` and ``while_on_treatment``: the values after the event are deleted
  (``with missing``, the default) or replaced by the last value at or before the event
  (``with last_before``).
- ``composite``: the estimand's variable is set at the visits after the event, to 0 for a
  binary endpoint (``with non_responder``, the default) or to the plan's value
  (``with value N``).
- ``principal_stratum``: no rule and no estimator; it may be declared, but an analysis for
  such an estimand is not run and the document says it is not estimable (SAP254, a warning).

Codes (docs/errors.md): SAP214 an unknown event; SAP242 an event given two strategies in one
estimand; SAP252 a ``with`` rule the strategy cannot take; SAP253 a composite strategy whose
variable cannot take its rule; SAP254 (warning) an analysis of a principal stratum estimand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.errors import Diagnostic, did_you_mean, plan_diagnostic

if TYPE_CHECKING:
    from sap_engine.check import _Checker

NOT_ESTIMABLE = "principal_stratum"  # the strategy the engine has no estimator for


def check_estimand(ch: _Checker, est: m.Estimand) -> None:
    """The estimand's names, visit and missing-data rule, and each strategy's handling."""
    if est.population:
        ch.check_population_use(est.population)
    kind = ch.kind(est.variable, None) if est.variable is not None else None
    seen: dict[str, m.Strategy] = {}
    for st in est.strategies:
        if st.event not in ch.plan.intercurrents:
            ch.error("SAP214", f"unknown intercurrent event '{st.event}'", st.loc,
                     did_you_mean(st.event, list(ch.plan.intercurrents)))
        first = seen.setdefault(st.event, st)
        if first is not st:  # the data would get both rules, one after the other
            ch.error("SAP242", f"estimand '{est.name}': intercurrent event '{st.event}' is "
                               f"given a second strategy (first at line {first.loc.line}); "
                               "an event has one strategy", st.loc)
        if _check_handling(ch, st) and st.strategy == "composite":
            _check_composite(ch, est, st, kind)
    ch.check_visit(est.visit, est.visit_loc if est.visit_loc.line else est.loc)
    ch.check_missing(est.missing, est.worst, est.missing_loc)


def _check_handling(ch: _Checker, st: m.Strategy) -> bool:
    """SAP252: ``with`` a rule that does not belong to the strategy. It used to run silently
    (``treatment_policy with last_before`` ran the hypothetical switch rule)."""
    if st.handling is None:
        return True
    allowed = m.HANDLINGS.get(st.strategy, ())
    if st.handling in allowed:
        return True
    from sap_engine.fmt import handling

    written = f"'{st.strategy} with {handling(st)}'"
    if not allowed:
        why = ("uses the data as observed" if st.strategy == "treatment_policy" else
               "has no data rule in the engine (its analyses are not estimable)")
        ch.error("SAP252", f"{written}: {st.strategy} takes no 'with' rule: it {why}",
                 st.loc)
    else:
        rules = " or ".join(f"'with {r}" + (" N'" if r == "value" else "'") for r in allowed)
        ch.error("SAP252", f"{written}: the rule does not apply to {st.strategy}, which "
                           f"takes {rules}", st.loc)
    return False


def _check_composite(ch: _Checker, est: m.Estimand, st: m.Strategy, kind: str | None) -> None:
    """SAP253: a composite strategy sets the estimand's variable after the event, so the
    variable must be an endpoint or parameter that can take the value set."""
    how = st.effective_handling
    target = est.variable_name
    plan = ch.plan
    if target is None or not (target in plan.endpoints or target in plan.parameters):
        what = f"estimand '{est.name}' has no 'variable'" if est.variable is None else \
            f"the variable of estimand '{est.name}' is not an endpoint or a parameter"
        ch.error("SAP253", f"composite strategy of '{st.event}': {what}, so there is "
                           "nothing for the event to set; name the endpoint in 'variable'",
                 st.loc)
        return
    if kind is None:  # the variable's own error is reported already
        return
    if kind in ("category", "string"):
        ch.error("SAP253", f"composite strategy of '{st.event}': '{target}' is categorical; "
                           "a composite sets a binary endpoint (with non_responder) or a "
                           "number (with value N)", st.loc)
    elif how == "non_responder" and kind != "bool":
        ch.error("SAP253", f"composite strategy of '{st.event}': 'non_responder' (the "
                           f"default) sets a binary endpoint to 0, but '{target}' is "
                           f"{kind}; write 'with value N' with the value the event gives",
                 st.loc)
    elif how == "value" and kind == "bool" and st.value not in (0.0, 1.0):
        ch.error("SAP253", f"composite strategy of '{st.event}': '{target}' is binary (1 or "
                           f"0), not {m._num(st.value or 0.0)}; write 'with value 0' (or "
                           "'with non_responder') or 'with value 1'", st.loc)


def not_estimable(ch: _Checker) -> dict[str, Diagnostic]:
    """SAP254 (a warning): the analyses for an estimand with a principal stratum strategy,
    and their repetitions. The engine has no estimator of a principal stratum, so rather
    than analysing the data as another strategy would, they are not run and the document
    says they are not estimable."""
    plan = ch.plan
    out: dict[str, Diagnostic] = {}
    for a in plan.analyses.values():
        est = plan.estimands.get(a.estimand or "")
        st = next((s for s in est.strategies if s.strategy == NOT_ESTIMABLE), None) \
            if est else None
        if est is None or st is None:
            continue
        out[a.name] = _warning(ch, a, f"analysis '{a.name}' is for estimand '{est.name}', "
                                      f"whose intercurrent event '{st.event}' has the "
                                      "principal_stratum strategy: not estimable by the "
                                      "chosen method (the engine has no principal stratum "
                                      "estimator); the analysis is not run")
    changed = True
    while changed:  # `X = Y by s` of a not estimable Y, to any depth
        changed = False
        for a in plan.analyses.values():
            if a.base in out and a.name not in out:
                out[a.name] = _warning(ch, a, f"analysis '{a.name}' repeats '{a.base}', "
                                              "which is not estimable by the chosen method "
                                              "(principal_stratum); it is not run")
                changed = True
    return out


def _warning(ch: _Checker, a: m.Analysis, message: str) -> Diagnostic:
    from dataclasses import replace

    d = plan_diagnostic("SAP254", message, a.loc, ch.plan.path, ch.plan.text,
                        width=len("analysis ") + len(a.name))
    return replace(d, severity="warning", analysis=a.name)
