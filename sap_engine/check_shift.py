"""Checks of shift analyses (method ``shift``) and record listings (``record_listing``),
the two readers of an occurrence set besides ``incidence``, where they are written.

A shift table reads three columns of its occurrence set's dataset (the baseline category,
each record's category, and optionally the parameter and its order) and the plan's visit
variable (to tell post-baseline records from the rest): each must exist (SAP280, with a
did-you-mean), the categories must be a non-empty list of distinct values and the ``worst``
order a reordering of them (SAP281), and the plan must say which visit is the baseline
(a ``visits`` block naming the visit variable, which the dataset must hold, and its
``baseline`` unless the analysis names its visit: SAP282).

The values themselves are checked when the analysis runs (SAP625: a category outside the
list; SAP626: two baseline categories for one subject and parameter).

A record listing names the columns it lists, each a column of the occurrence set's dataset
(SAP283), and sorts by listed columns only (SAP284).

Codes: SAP280-SAP284 (see docs/errors.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.bind import BoundAnalysis

# check_incidence imports this module when it checks an analysis: no import cycle.
from sap_engine.check_incidence import _option
from sap_engine.data.sources import subject_key
from sap_engine.errors import did_you_mean

if TYPE_CHECKING:
    from sap_engine.check import _Checker

COLUMN_OPTIONS = ("baseline", "value", "parameter", "parameter_order")
REQUIRED = ("baseline", "value", "categories")


def check_shift_options(ch: _Checker, b: BoundAnalysis, occ: m.Occurrence,
                        cols: dict[str, str]) -> None:
    for name in REQUIRED:
        value, _ = _option(b, name)
        if value is None:
            ch.error("SAP280", f"analysis '{b.name}': a shift table needs 'options {name} = "
                               "...' (the baseline category column, the record's category "
                               "column and the categories in display order)", b.loc)
    for name in COLUMN_OPTIONS:
        value, loc = _option(b, name)
        if value is not None and str(value) not in cols:
            ch.error("SAP280", f"analysis '{b.name}': {name} column '{value}' is not in "
                               f"dataset '{occ.dataset}' of occurrence set '{occ.name}'",
                     loc, did_you_mean(str(value), list(cols)))
    cats, cloc = _option(b, "categories")
    levels = [str(c) for c in cats] if isinstance(cats, (list, tuple)) else []
    if cats is not None and (not levels or len(set(levels)) < len(levels)
                             or "" in (lev.strip() for lev in levels)):
        ch.error("SAP281", f"analysis '{b.name}': categories must list distinct, non-blank "
                           "values (e.g. [\"L\", \"N\", \"H\"])", cloc)
    worst, wloc = _option(b, "worst")
    if worst is not None and levels and (not isinstance(worst, (list, tuple))
                                         or sorted(map(str, worst)) != sorted(levels)):
        ch.error("SAP281", f"analysis '{b.name}': worst must list the categories "
                           f"({', '.join(levels)}) each once, from best to worst", wloc)
    visits = ch.plan.visits
    if visits is None or (b.visit is None and visits.baseline is None):
        ch.error("SAP282", f"analysis '{b.name}': a shift table compares the baseline with "
                           "the records after it, so the plan needs a 'visits' block (the "
                           "visit variable) with a 'baseline' visit", b.loc)
    elif visits.column.name not in cols:
        ch.error("SAP282", f"analysis '{b.name}': the visit variable '{visits.column.name}' "
                           f"is not in dataset '{occ.dataset}' of occurrence set "
                           f"'{occ.name}', so its records have no visit", b.loc)


def check_record_listing_options(ch: _Checker, b: BoundAnalysis, occ: m.Occurrence,
                                 cols: dict[str, str]) -> None:
    columns, loc = _option(b, "columns")
    listed = [str(c) for c in columns] if isinstance(columns, (list, tuple)) else []
    if not listed:
        ch.error("SAP283", f"analysis '{b.name}': a record listing needs 'options columns = "
                           "[...]', the columns of the occurrence set's dataset it lists", loc)
    for name in listed:
        if name not in cols:
            ch.error("SAP283", f"analysis '{b.name}': listed column '{name}' is not in "
                               f"dataset '{occ.dataset}' of occurrence set '{occ.name}'",
                     loc, did_you_mean(name, list(cols)))
    sort, sloc = _option(b, "sort")
    if not isinstance(sort, (list, tuple)):
        return
    source = next((s for s in ch.plan.sources if s.subjects), None)
    key = subject_key(source) if source else "USUBJID"
    trt = ch.plan.treatment
    allowed = [*([trt.column.name] if trt else []), key, *listed]
    for value in sort:
        if str(value) not in allowed:
            ch.error("SAP284", f"analysis '{b.name}': sort column '{value}' is not a listed "
                               f"column ({', '.join(dict.fromkeys(allowed))})", sloc,
                     did_you_mean(str(value), allowed))
