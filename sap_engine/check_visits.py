"""Values that need a visit, used where there is none (or where the data have no visits).

A parameter's value, its change from baseline and a parameter family's ``max``/``min``/
``sum`` are taken at a visit: the analysis' ``at week N`` (or its estimand's), or every
visit with ``by visit``. Without one the run used to fail with SAP219 although the plan
shows it; a population's ``where`` is evaluated before any visit, so there it can never
work. A family over a dataset without the visit variable has no visits at all, and its
``max`` at week 16 used to be silently missing for every subject.

A baseline, ``max_over_visits`` / ``min_over_visits`` and the value of a parameter over a
dataset without visits (one value per subject) need no visit.

The rule is stated once, here (:func:`report_visit_needs`), over a ``has_visits`` answer
per parameter. The checker applies it with what it reads of the rows itself; where it cannot
tell (a parameter filter it cannot evaluate), the data preflight applies it again with the
executor's own answer (``data/preflight.py``), so SAP219 is always reported by ``check``,
with one wording.

The unit of analysis of a method is checked here too: a method that analyses every visit of
a subject at once (``unit`` subject x visit, see ``methods/registry.py``) needs a visit
schedule (SAP486) and takes no visit of its own (``at week N``, SAP487): it would be
ignored, the method receiving every visit. Nor is it split ``by visit`` unless it consumes
the visit itself (SAP488): split, it would get one visit at a time.

Codes: SAP219 (a value that needs a visit where there is none), SAP243 (a family aggregate
over a dataset without visits), SAP486, SAP487, SAP488, SAP246 (`by treatment` on a
subject x visit model of the arms); see docs/errors.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.bind import analysis_chain, by_chain
from sap_engine.functions import AT_VISIT, FAMILY, PER_SUBJECT
from sap_engine.methods import registry

if TYPE_CHECKING:
    from sap_engine.check import _Checker

# Reports a located problem: (code, message, loc), as the checker's and the preflight's error().
Report = Callable[[str, str, m.Loc], None]

class VisitNeeds:
    """Which parts of an expression need a visit, given whether each parameter has visits
    (``has_visits``: True, False, or None when it cannot be told: such a part is let pass)."""

    def __init__(self, plan: m.Plan, has_visits: Callable[[str], bool | None]):
        self.plan = plan
        self.has_visits = has_visits
        self.column = plan.visits.column.name if plan.visits else "AVISITN"

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


class _RowVisits:
    """The checker's answer to ``has_visits``, from the rows it reads itself."""

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
    """SAP219, SAP243, SAP246 and SAP486-SAP488 (see the module's docstring)."""
    report_visit_needs(VisitNeeds(ch.plan, _RowVisits(ch).has_visits), ch.error)
    check_units(ch.plan, ch.error)


def report_visit_needs(v: VisitNeeds, error: Report, families: bool = True) -> None:
    """Report every value that needs a visit where there is none (SAP219), and with
    ``families`` every family aggregate over a dataset without visits (SAP243)."""
    plan = v.plan
    for use in _uses(plan):
        if use.where is None:
            continue
        found = v.needing_visit(use.where)
        if found:
            part, what = found
            error("SAP219", f"population {use.name} where ...: {what} is taken at a visit, "
                            "but a population is selected before any visit; filter on a "
                            "baseline or a subject-level value", part.loc)
        family = v.family_without_visits(use.where) if families else None
        if family:
            _family_error(error, v, family, f"population {use.name} where ...", use.loc)
    names = [e.name for e in plan._of(m.Estimand)]
    twice = {n for n in names if names.count(n) > 1}
    for a in plan.analyses.values():
        base = analysis_chain(plan, a)
        if base.estimand in twice:
            continue  # which definition is meant is SAP225's question
        est = plan.estimands.get(base.estimand or "")
        visit = base.visit if base.visit is not None else (est.visit if est else None)
        by = [b.name for b in by_chain(plan, a)]
        at_visit = visit is not None or "visit" in by or _unit(base) == registry.SUBJECT_VISIT
        terms = _terms(base) if not a.base else []
        terms += [m.Col(b, loc=next(x.loc for x in a.by if x.name == b))
                  for b in (x.name for x in a.by) if b in plan.endpoints]
        for t in terms:
            found = None if at_visit else v.needing_visit(t)
            if found:
                part, what = found
                error("SAP219", f"analysis '{a.name}': {what} is taken at a visit, but "
                                "the analysis has none: add 'at week N' or 'by visit'",
                      part.loc if part.loc.line else a.loc)
            family = v.family_without_visits(t) if families else None
            if family:
                _family_error(error, v, family, f"analysis '{a.name}'", a.loc)


def _unit(a: m.Analysis) -> str | None:
    method = registry.get(a.method) if a.method else None
    return method.unit if method is not None else None


def check_units(plan: m.Plan, error: Report) -> None:
    """A method whose unit is the subject and visit gets every scheduled visit of a subject:
    the plan needs a visit schedule (SAP486), the analysis no visit of its own (SAP487),
    and no `by visit` unless the method consumes it (SAP488)."""
    for a in plan.analyses.values():
        base = analysis_chain(plan, a)
        if _unit(base) != registry.SUBJECT_VISIT:
            continue
        _split_by_visit(a, base, error)
        _split_by_treatment(a, base, error)
        if a.base:
            continue  # a repetition (`X = Y by s`) is checked at the analysis it repeats
        if plan.visits is None or not plan.visits.weeks:
            error("SAP486", f"analysis '{a.name}': method '{a.method}' analyses every visit "
                            "of a subject at once, but the plan schedules no visits: add a "
                            "'visits' block with 'scheduled' weeks",
                  a.method_loc if a.method_loc.line else a.loc)
        method = registry.get(base.method or "")
        if method is not None and any(o.clause == registry.ANALYSIS_VISIT
                                      for o in method.options):
            continue  # it analyses the visit itself (an option fed by `at week N`)
        est = plan.estimands.get(a.estimand or "")
        if a.visit is not None:
            loc = a.visit_loc if a.visit_loc.line else a.loc
        elif est is not None and est.visit is not None:
            loc = est.visit_loc if est.visit_loc.line else est.loc
        else:
            continue
        visit = a.visit if a.visit is not None else est.visit if est else None
        error("SAP487", f"analysis '{a.name}': method '{a.method}' analyses every visit of a "
                        f"subject at once, so 'at week {m._num(visit or 0)}' would be "
                        "ignored; leave the visit out (or analyse it with a method of one "
                        "row per subject)", loc)


def _split_by_visit(a: m.Analysis, base: m.Analysis, error: Report) -> None:
    """SAP488: `by visit` would hand a subject x visit method one visit at a time."""
    method = registry.get(base.method or "")
    item = next((b for b in a.by if b.name == "visit"), None)
    if method is None or item is None or "visit" in method.consumes:
        return
    error("SAP488", f"analysis '{a.name}': method '{method.name}' analyses every visit of a "
                    "subject at once, but 'by visit' would split its data into one visit at "
                    "a time; leave 'by visit' out", item.loc if item.loc.line else a.loc)


def _split_by_treatment(a: m.Analysis, base: m.Analysis, error: Report) -> None:
    """SAP246: a subject x visit model of the arms (`mmrm`), split by arm, would get one
    arm per fit and could compare none."""
    method = registry.get(base.method or "")
    item = next((b for b in a.by if b.name == "treatment"), None)
    roles = {r.name: r for r in method.roles} if method is not None else {}
    if item is None or "treatment" not in roles or not roles["treatment"].required:
        return
    error("SAP246", f"analysis '{a.name}': method '{base.method}' models the treatment arms "
                    "itself (LS means by arm and their differences at every visit), but "
                    "'by treatment' would fit each arm alone; leave 'by treatment' out",
          item.loc if item.loc.line else a.loc)


def _family_error(error: Report, v: VisitNeeds, found: tuple[m.Expr, str], where: str,
                  fallback: m.Loc) -> None:
    part, what = found
    name = what[what.index("(") + 1:-1]  # "max(fam)" -> "fam"
    dataset = v.plan.parameters[name].source.dataset
    error("SAP243", f"{where}: {what} is the {what[:3]} over the members of a family at a "
                    f"visit, but dataset '{dataset}' has no visit variable '{v.column}' "
                    "(one row per subject and member), so it has no value at any visit",
          part.loc if part.loc.line else fallback)
