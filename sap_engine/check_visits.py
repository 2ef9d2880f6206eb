"""Values that need a visit, used where there is none (or where the data have no visits).

A parameter's value, its change from baseline and a parameter family's ``max``/``min``/
``sum`` are taken at a visit: the analysis' ``at week N`` (or its estimand's), or every
visit with ``by visit``. Without one the run used to fail with SAP219 although the plan
shows it; a population's ``where`` is evaluated before any visit, so there it can never
work. A family over a dataset without the visit variable has no visits at all, and its
``max`` at week 16 used to be silently missing for every subject.

A baseline, ``max_over_visits`` / ``min_over_visits`` and the value of a parameter over a
dataset without visits (one value per subject) need no visit.

Codes: SAP219 (a value that needs a visit where there is none), SAP243 (a family aggregate
over a dataset without visits); see docs/errors.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.functions import AT_VISIT, FAMILY, PER_SUBJECT
from sap_engine.roles import analysis_chain

if TYPE_CHECKING:
    from sap_engine.check import _Checker


class _Visits:
    def __init__(self, ch: _Checker):
        self.ch = ch
        self.plan = ch.plan
        self.column = self.plan.visits.column.name if self.plan.visits else "AVISITN"
        self._has: dict[str, bool | None] = {}

    def has_visits(self, parameter: str) -> bool | None:
        """Whether the parameter's rows have visits; None when the checker cannot tell.

        As the run decides (``data/derive.py``): a parameter whose rows have no visit
        value (its dataset has no visit variable, or it is missing on every row its
        ``where`` keeps) is subject-level, one value per subject."""
        if parameter not in self._has:
            self._has[parameter] = self._visits_of(self.plan.parameters[parameter])
        return self._has[parameter]

    def _visits_of(self, p: m.Parameter) -> bool | None:
        ds = self.ch.datasets.get(p.source.dataset or "")
        if ds is None:
            return None
        if self.column not in ds.columns:
            return False
        from sap_engine.check_arms import _Rows, kept_rows

        try:
            rows = _Rows(ds, self.column)
        except Exception:  # noqa: BLE001 - an unreadable file is the data checks' to report
            return None
        keep = kept_rows(p.where, rows, ds.columns)
        if keep is None:
            return None
        visits = rows.column(m.Col(self.column)) or []
        return any(k and v is not None and v == v for k, v in zip(keep, visits))

    def needing_visit(self, e: m.Expr, seen: frozenset[str] = frozenset()
                      ) -> tuple[m.Expr, str] | None:
        """The first part of ``e`` that needs a visit, with what needs it (following
        endpoints), or None. A family over a dataset without visits is SAP243's."""
        plan = self.plan
        if isinstance(e, m.Col) and e.dataset is None:
            if e.name in plan.parameters:
                return (e, f"the value of '{e.name}'") if self.has_visits(e.name) else None
            if e.name in plan.endpoints and e.name not in seen:
                inner = self.needing_visit(plan.endpoints[e.name].expr, seen | {e.name})
                if inner is None:
                    return None
                what = inner[1]
                cause = what.split(" (through ", 1)[1][:-1] if " (through " in what else what
                return e, f"'{e.name}' (through {cause})"
            return None
        if isinstance(e, m.Call) and e.args and isinstance(e.args[0], m.Col):
            name = e.args[0].name
            if e.function in AT_VISIT and name in plan.parameters:
                # Without visits: SAP221 (change) or SAP243 (a family), value() needs none.
                return (e, f"{e.function}({name})") if self.has_visits(name) else None
            if e.function in PER_SUBJECT:
                return None
        for child in m.children(e):
            found = self.needing_visit(child, seen)
            if found:
                return found
        return None

    def family_without_visits(self, e: m.Expr, seen: frozenset[str] = frozenset()
                              ) -> tuple[m.Expr, str] | None:
        """The first ``max``/``min``/``sum`` of a family over a dataset without visits."""
        plan = self.plan
        if isinstance(e, m.Col) and e.dataset is None and e.name in plan.endpoints \
                and e.name not in seen:
            inner = self.family_without_visits(plan.endpoints[e.name].expr, seen | {e.name})
            return (e, inner[1]) if inner else None
        if isinstance(e, m.Call) and e.function in FAMILY and e.args and \
                isinstance(e.args[0], m.Col) and e.args[0].name in plan.parameters and \
                self.has_visits(e.args[0].name) is False:
            return e, f"{e.function}({e.args[0].name})"
        for child in m.children(e):
            found = self.family_without_visits(child, seen)
            if found:
                return found
        return None


def _terms(a: m.Analysis) -> list[m.Expr]:
    """The terms an analysis analyses (its roles' terms)."""
    terms: list[m.Expr] = [t for t in (a.response, a.terms) if t is not None]
    terms += [*a.variables, *(a.crosstab or ()), *(r.expr for r in a.roles)]
    return terms


def _uses(plan: m.Plan) -> list[m.PopulationUse]:
    uses = [a.population for a in plan.analyses.values() if a.population]
    uses += [e.population for e in plan.estimands.values() if e.population]
    displays: list[m.Table | m.Figure] = [*plan.tables, *plan.figures]
    return uses + [d.population for d in displays if d.population]


def check_visit_needs(ch: _Checker) -> None:
    """SAP219 and SAP243 (see the module's docstring)."""
    v = _Visits(ch)
    plan = ch.plan
    for use in _uses(plan):
        if use.where is None:
            continue
        found = v.needing_visit(use.where)
        if found:
            part, what = found
            ch.error("SAP219", f"population {use.name} where ...: {what} is taken at a visit, "
                               "but a population is selected before any visit; filter on a "
                               "baseline or a subject-level value", part.loc)
        family = v.family_without_visits(use.where)
        if family:
            _family_error(ch, v, family, f"population {use.name} where ...", use.loc)
    names = [e.name for e in plan._of(m.Estimand)]
    twice = {n for n in names if names.count(n) > 1}
    for a in plan.analyses.values():
        base = analysis_chain(plan, a)
        if base.estimand in twice:
            continue  # which definition is meant is SAP225's question
        est = plan.estimands.get(base.estimand or "")
        visit = base.visit if base.visit is not None else (est.visit if est else None)
        by = [b.name for b in (*base.by, *(a.by if a.base else ()))]
        at_visit = visit is not None or "visit" in by
        terms = _terms(base) if not a.base else []
        terms += [m.Col(b, loc=next(x.loc for x in a.by if x.name == b))
                  for b in (x.name for x in a.by) if b in plan.endpoints]
        for t in terms:
            found = None if at_visit else v.needing_visit(t)
            if found:
                part, what = found
                ch.error("SAP219", f"analysis '{a.name}': {what} is taken at a visit, but "
                                   "the analysis has none: add 'at week N' or 'by visit'",
                         part.loc if part.loc.line else a.loc)
            family = v.family_without_visits(t)
            if family:
                _family_error(ch, v, family, f"analysis '{a.name}'", a.loc)


def _family_error(ch: _Checker, v: _Visits, found: tuple[m.Expr, str], where: str,
                  fallback: m.Loc) -> None:
    part, what = found
    name = what[what.index("(") + 1:-1]  # "max(fam)" -> "fam"
    dataset = v.plan.parameters[name].source.dataset
    ch.error("SAP243", f"{where}: {what} is the {what[:3]} over the members of a family at a "
                       f"visit, but dataset '{dataset}' has no visit variable '{v.column}' "
                       "(one row per subject and member), so it has no value at any visit",
             part.loc if part.loc.line else fallback)
