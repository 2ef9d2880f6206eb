"""How visits are shown and which are split: the checks of the by-visit displays.

- A ``labels`` block for the visit variable (``labels AVISITN { 0 = "Baseline" }``) names
  scheduled visits: a key that is no number, or a number the schedule does not hold, would
  label nothing and is refused where it is written (SAP265).
- ``label from AVISIT`` in the ``visits`` block names a column the parameter datasets with
  visits hold (SAP201 otherwise); its labels are read from the data, one per visit
  (SAP266, ``data/visit_labels.py``).
- ``by visit after baseline`` leaves the baseline visit out of the split: the plan must
  declare one (SAP267), and a method that analyses every visit at once (``mmrm``) chooses
  its visits itself, so the clause would change nothing there (SAP268).
- A table ``by visit`` sets out each visit as a section holding every ``rows`` block: each
  analysis it shows must be split by visit (SAP269), else it has no visit to be put under.

A parameter over a text column (categories per visit) is carried forward by `locf` and
`bocf` as it is, but `wocf` needs an order of worse and better values that categories do
not have: an analysis with `missing wocf` of such a parameter is SAP204, at the `missing`.

Codes: SAP265, SAP267, SAP268, SAP269 (and SAP201, SAP204); see docs/errors.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.bind import analysis_chain, by_chain
from sap_engine.errors import did_you_mean
from sap_engine.methods import registry

if TYPE_CHECKING:
    from sap_engine.check import _Checker


def check_visit_display(ch: _Checker) -> None:
    plan = ch.plan
    _visit_labels_block(ch)
    _label_from(ch)
    for a in plan.analyses.values():
        item = next((b for b in a.by if b.after_baseline), None)
        if item is not None:
            _after_baseline(ch, a, item)
    for table in plan.tables:
        if table.by_visit:
            _table_by_visit(ch, table)
    for a in plan.analyses.values():
        _wocf_of_text(ch, a)


def _text_parameter(ch: _Checker, e: m.Expr, seen: frozenset[str] = frozenset()) -> str | None:
    """The first parameter over a text column that ``e`` reads (through endpoints)."""
    for node in m.walk(e):
        if not isinstance(node, m.Col) or node.dataset is not None:
            continue
        if node.name in ch.plan.parameters and ch.parameter_kind(node.name) == "string":
            return node.name
        if node.name in ch.plan.endpoints and node.name not in seen:
            found = _text_parameter(ch, ch.plan.endpoints[node.name].expr, seen | {node.name})
            if found:
                return found
    return None


def _wocf_of_text(ch: _Checker, a: m.Analysis) -> None:
    base = analysis_chain(ch.plan, a)
    est = ch.plan.estimands.get(base.estimand or "")
    if base.missing == "wocf":
        loc = base.missing_loc if base.missing_loc.line else base.loc
    elif base.missing is None and est is not None and est.missing == "wocf":
        loc = est.missing_loc if est.missing_loc.line else est.loc
    else:
        return
    if a.base:
        return  # a repetition: reported at the analysis it repeats
    terms = [t for t in (base.response, base.terms) if t is not None]
    terms += [*base.variables, *(base.crosstab or ()), *(r.expr for r in base.roles)]
    if est is not None and est.variable is not None:
        terms.append(est.variable)
    for t in terms:
        name = _text_parameter(ch, t)
        if name:
            ch.error("SAP204", f"analysis '{a.name}': 'missing wocf' imputes the worst value "
                               f"observed, but '{name}' is a text parameter (categories have "
                               "no worst without an order): use 'locf', 'bocf' or "
                               "'observed_case'", loc)
            return


def _visit_labels_block(ch: _Checker) -> None:
    """SAP265: a key of the visit variable's labels that is not a scheduled visit."""
    visits = ch.plan.visits
    if visits is None:
        return
    scheduled = {m._num(w): w for w in visits.weeks}
    shown = ", ".join(scheduled) or "none"
    for lab in ch.plan._of(m.Labels):
        if lab.column.name != visits.column.name:
            continue
        for i, (key, _) in enumerate(lab.items):
            try:
                number = m._num(float(key))
            except ValueError:
                number = None
            if number in scheduled:
                continue
            where = lab.item_locs[i] if i < len(lab.item_locs) else lab.loc
            what = f'"{key}" is not a number' if number is None else \
                f"{key} is not a scheduled visit"
            ch.error("SAP265", f"labels for the visit variable '{lab.column.name}': {what} "
                               f"(scheduled: {shown}); a label names a scheduled visit",
                     where, did_you_mean(key, list(scheduled)))


def _label_from(ch: _Checker) -> None:
    """SAP201: `label from COL` names a column of no dataset that has the visit column."""
    visits = ch.plan.visits
    if visits is None or visits.label_from is None:
        return
    with_visits = [ds for ds in ch.datasets.values() if visits.column.name in ds.columns]
    if any(visits.label_from in ds.columns for ds in with_visits):
        return
    names = ", ".join(ds.name for ds in with_visits) or "none"
    columns = sorted({c for ds in with_visits for c in ds.columns})
    ch.error("SAP201", f"visits {visits.column.name}: 'label from {visits.label_from}': no "
                       f"dataset with the visit column has a column '{visits.label_from}' "
                       f"(datasets with '{visits.column.name}': {names})",
             visits.label_from_loc if visits.label_from_loc.line else visits.loc,
             did_you_mean(visits.label_from, columns))


def _after_baseline(ch: _Checker, a: m.Analysis, item: m.ByItem) -> None:
    """SAP267 without a baseline visit; SAP268 for a method that takes every visit."""
    visits = ch.plan.visits
    loc = item.loc if item.loc.line else a.loc
    if visits is None or visits.baseline is None:
        ch.error("SAP267", f"analysis '{a.name}': 'by visit after baseline' leaves out the "
                           "baseline visit, but the plan declares none: add 'baseline N' "
                           "to the 'visits' block (or write 'by visit')", loc)
        return
    base = analysis_chain(ch.plan, a)
    method = registry.get(base.method or "")
    if method is not None and "visit" in method.consumes:
        ch.error("SAP268", f"analysis '{a.name}': method '{method.name}' analyses every "
                           "visit at once and chooses its visits itself (it leaves the "
                           "baseline out already; 'options visits = [...]' chooses them), "
                           "so 'after baseline' would change nothing: write 'by visit'", loc)


def _table_by_visit(ch: _Checker, table: m.Table) -> None:
    """SAP269: an analysis of a table laid out by visit that is not split by visit."""
    for rows in table.rows:
        for name in (rows.analysis, *rows.also):
            a = ch.plan.analyses.get(name)
            if a is None:
                continue  # an unknown analysis is SAP209's
            if any(b.name == "visit" for b in by_chain(ch.plan, a)):
                continue
            ch.error("SAP269", f'table "{table.number}" is laid out by visit (\'by visit\'), '
                               f"but analysis '{name}' is not split by visit: add 'by visit' "
                               "(or 'by visit after baseline') to it, or show it in another "
                               "table", rows.loc if rows.loc.line else table.loc)
