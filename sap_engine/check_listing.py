"""Checks of the analyses that list subjects (method ``listing``), where they are written.

A listing's ``sort`` names listed columns only (SAP613): the treatment, the subject key or a
listed variable by its ARD name (``baseline(x)`` as ``baseline_x``). A
listing has one row per subject of its population and no ``by`` (SAP615): splitting it by
arm or visit would make one listing per group, which its single display cannot show.

Codes: SAP613, SAP615 (SAP614, a listing over ``max_subjects``, is raised when it runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sap_engine.bind import BoundAnalysis, analysis_chain, by_chain
from sap_engine.data.sources import subject_key
from sap_engine.errors import did_you_mean
from sap_engine.methods import registry

if TYPE_CHECKING:
    from sap_engine.check import _Checker

LISTING = "listing"


def check_listing(ch: _Checker, bound: dict) -> None:
    """Every listing analysis: no ``by`` (SAP615), sort columns among the listed (SAP613)."""
    plan = ch.plan
    for a in plan.analyses.values():
        base = analysis_chain(plan, a)
        if base.method != LISTING or registry.get(LISTING) is None:
            continue
        items = by_chain(plan, a)
        if items:
            ch.error("SAP615", f"analysis '{a.name}': a listing has one row per subject of "
                               f"its population; 'by {items[0].name}' cannot split it "
                               "(remove it, and sort by the column instead)",
                     items[0].loc if items[0].loc.line else a.loc)
        b = bound.get(a.name)
        if isinstance(b, BoundAnalysis):
            _check_sort(ch, b)


def _check_sort(ch: _Checker, b: BoundAnalysis) -> None:
    opt = next((o for o in b.options if o.name == "sort"), None)
    if opt is None or not isinstance(opt.value, (list, tuple)):
        return
    source = next((s for s in ch.plan.sources if s.subjects), None)
    key = subject_key(source) if source else "USUBJID"
    listed = [key]
    trt = ch.plan.treatment
    if trt:
        listed.insert(0, trt.column.name)
    for name, terms in b.roles:
        if name != "variables":
            continue
        for t in terms:
            listed.append(t.column)  # the ARD name, e.g. baseline_cdasi_a
    loc = opt.loc if opt.loc.line else b.loc
    for value in opt.value:
        name = str(value)
        if name not in listed:
            ch.error("SAP613", f"analysis '{b.name}': sort column '{name}' is not a listed "
                               f"column ({', '.join(dict.fromkeys(listed))}); list it in "
                               "'variable' or sort by a listed one", loc,
                     did_you_mean(name, listed))
