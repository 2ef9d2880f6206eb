"""Checks of occurrence sets and of the analyses that count them (method ``incidence``).

An ``occurrence`` statement names a dataset of event records (ADAE) and a row filter over
its columns (and the subject dataset's, as a parameter's filter); the dataset must carry the
subject key, or no record could be tied to a subject of the population (SAP256). An
incidence analysis names its occurrence set and hierarchy by options, each checked where it
is written: an unknown set (SAP257), a hierarchy or severity column its dataset lacks, or a
hierarchy of more than two columns (SAP258), options that contradict each other,
and a ``by`` the method cannot honour (SAP259): it counts by arm and in total itself.

Codes: SAP256-SAP259 (see docs/errors.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.bind import BoundAnalysis, analysis_chain, by_chain
from sap_engine.data.sources import subject_key
from sap_engine.errors import did_you_mean
from sap_engine.methods import registry

if TYPE_CHECKING:
    from sap_engine.check import _Checker


def check_occurrence(ch: _Checker, occ: m.Occurrence) -> None:
    """The dataset exists (SAP202) and carries the subject key (SAP256); the filter's
    names resolve on its rows."""
    if occ.dataset not in ch.datasets:
        ch.error("SAP202", f"occurrence set '{occ.name}': unknown dataset '{occ.dataset}'",
                 occ.loc, did_you_mean(occ.dataset, list(ch.datasets)))
        return
    source = next((s for s in ch.plan.sources if s.subjects), None)
    key = subject_key(source) if source else "USUBJID"
    if key not in ch.columns_of(occ.dataset):
        ch.error("SAP256", f"occurrence set '{occ.name}': dataset '{occ.dataset}' has no "
                           f"subject key column '{key}', so its records cannot be counted "
                           "per subject", occ.loc)
    if occ.where is not None:
        ch.kind(occ.where, occ.dataset)


def _option(b: BoundAnalysis, name: str) -> tuple[object, m.Loc]:
    opt = next((o for o in b.options if o.name == name), None)
    if opt is None:
        return None, b.loc
    return opt.value, opt.loc if opt.loc.line else b.loc


def check_incidence(ch: _Checker, bound: dict) -> None:
    """Every analysis of unit occurrence: its options against the plan and the data."""
    plan = ch.plan
    for a in plan.analyses.values():
        base = analysis_chain(plan, a)
        method = registry.get(base.method or "")
        if method is None or method.unit != registry.OCCURRENCE:
            continue
        items = by_chain(plan, a)
        if items:
            does = "lists every arm" if method.name == "record_listing" else \
                "counts by arm and in total"
            ch.error("SAP259", f"analysis '{a.name}': method '{method.name}' {does} "
                               f"itself; 'by {items[0].name}' cannot split an occurrence "
                               "frame (remove it)",
                     items[0].loc if items[0].loc.line else a.loc)
        b = bound.get(a.name)
        if isinstance(b, BoundAnalysis):
            _check_options(ch, b)


def _check_options(ch: _Checker, b: BoundAnalysis) -> None:
    plan = ch.plan
    events, loc = _option(b, "events")
    if events is None or str(events) not in plan.occurrences:
        what = "names no occurrence set (add 'options events = NAME')" if events is None \
            else f"unknown occurrence set '{events}'"
        ch.error("SAP257", f"analysis '{b.name}': {what}", loc,
                 did_you_mean(str(events or ""), list(plan.occurrences)))
        return
    occ = plan.occurrences[str(events)]
    cols = ch.columns_of(occ.dataset)
    if not cols:
        return  # an unknown dataset, reported at the occurrence statement
    if b.method == "shift":
        from sap_engine.check_shift import check_shift_options

        check_shift_options(ch, b, occ, cols)
        return
    if b.method == "record_listing":
        from sap_engine.check_shift import check_record_listing_options

        check_record_listing_options(ch, b, occ, cols)
        return
    hierarchy, hloc = _option(b, "hierarchy")
    levels = [str(h) for h in hierarchy] if isinstance(hierarchy, (list, tuple)) else []
    # [] is allowed: the "any event" row alone (a row of an overview of adverse events).
    if not isinstance(hierarchy, (list, tuple)) or len(levels) > 2:
        ch.error("SAP258", f"analysis '{b.name}': hierarchy needs none, one or two columns "
                           f"of '{occ.dataset}' (e.g. [AEBODSYS, AEDECOD]: SOC > PT; [] for "
                           "the 'any event' row alone)", hloc)
    for name in levels:
        if name not in cols:
            ch.error("SAP258", f"analysis '{b.name}': hierarchy column '{name}' is not in "
                               f"dataset '{occ.dataset}' of occurrence set '{occ.name}'",
                     hloc, did_you_mean(name, list(cols)))
    if len(set(levels)) < len(levels):
        ch.error("SAP258", f"analysis '{b.name}': hierarchy names a column twice", hloc)
    severity, sloc = _option(b, "severity")
    grades, gloc = _option(b, "severity_levels")
    if severity is not None and str(severity) not in cols:
        ch.error("SAP258", f"analysis '{b.name}': severity column '{severity}' is not in "
                           f"dataset '{occ.dataset}'", sloc, did_you_mean(str(severity),
                                                                            list(cols)))
    if (severity is None) != (grades is None):
        ch.error("SAP259", f"analysis '{b.name}': severity and severity_levels go together "
                           "(the column of grades and its grades from mildest to worst)",
                 sloc if severity is not None else gloc)
    elif isinstance(grades, (list, tuple)) and (not grades or len(set(grades)) < len(grades)):
        ch.error("SAP259", f"analysis '{b.name}': severity_levels must list distinct grades",
                 gloc)
    rd, rloc = _option(b, "risk_difference")
    trt = plan.treatment
    if rd and (trt is None or trt.reference is None):
        ch.error("SAP259", f"analysis '{b.name}': risk_difference compares each arm with the "
                           "reference arm; mark one arm 'reference' in the treatment", rloc)
