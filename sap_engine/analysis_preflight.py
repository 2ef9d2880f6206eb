"""The analysis preflight: what the compiled steps show on the data, found by ``check``.

It runs after compile (``sap_engine.api.check``), so it may use the steps and the
executor, and extends the data preflight (``data/preflight.py``) with the passes that need
them:

- a population narrowed where it is used (``population FAS where ...``, with the analysis'
  handling of intercurrent events and missing data) has subjects (SAP401), and so does every
  population in use;
- a parameter analysed at one visit has a value there after imputation (SAP316);
- the analyses whose expressions can leave the finite numbers (``/``, ``*``, ``log``,
  ``sqrt``, ``exp``) or read another dataset have their frames built (SAP314...);
- cross-tabulations (``crosstab A by B``) have the levels their method needs (SAP460,
  SAP461, SAP463): those analyses are computed, and their tables' shape problems reported.

Of the analyses, only the cross-tabulations are computed (with scipy, for their tests).
"""

from __future__ import annotations

from sap_engine import model as m
from sap_engine.bind import analysis_chain
from sap_engine.check import CheckedPlan
from sap_engine.compile import Step
from sap_engine.data.preflight import DataPreflight, empty_text
from sap_engine.execute import run_step
from sap_engine.execute_frames import analysis_frame, each_visit
from sap_engine.functions import FAMILY, NONFINITE

# A cross-tabulation without the levels its method needs: too few non-empty rows or columns,
# a named level that is not there, not 2 x 2.
TABLE_SHAPE = ("SAP460", "SAP461", "SAP463")


def preflight(checked: CheckedPlan, steps: list[Step], analyses: bool = True) -> CheckedPlan:
    """Return ``checked`` or raise a SapError listing every problem found.

    With ``analyses`` false (``run --keep-going``) only what no analysis can survive is
    checked (files, keys, infinite numbers): a problem of one analysis is then left to the
    executor, which reports it with the analysis and runs the others."""
    pf = AnalysisPreflight(checked, steps)
    pf.integrity()
    pf.visit_labels()  # the document's visit labels: needed with --keep-going too
    pf.raise_problems()
    if analyses:
        pf.visit_pass()
        pf.data_pass()
        pf.raise_problems()
    return checked


class AnalysisPreflight(DataPreflight):
    def __init__(self, checked: CheckedPlan, steps: list[Step]):
        super().__init__(checked)
        self.steps = steps

    def data_pass(self) -> None:
        self.parameters()
        self.aggregates()
        self.shift_categories()
        for name in dict.fromkeys(use.name for use in self.population_uses()):
            self.guarded(lambda name=name: self.population(name))
        empty: dict[tuple, list[str]] = {}  # a narrowed population -> analyses it empties
        for step in self.steps:
            use = step.population
            if use is not None and use.where is not None:
                if self.guarded(lambda use=use, step=step: self.empty(use, step.handling)):
                    empty.setdefault((use.loc.line, use.loc.column, use), []).append(step.id)
            if step.visit is not None and not each_visit(step):
                self.guarded(lambda step=step: self.visit_values(step))
        for d in self.displays():
            shown = d.population
            if shown is not None and shown.where is not None:
                if self.guarded(lambda use=shown: self.empty(use)):
                    empty.setdefault((shown.loc.line, shown.loc.column, shown), [])
        for (_, _, use), ids in empty.items():
            self.error("SAP401", empty_text(use, ids), use.loc)
        if not self.problems:
            for step in self.steps:
                if self.risky(step):
                    self.guarded(lambda step=step: analysis_frame(step, self.ev),
                                 step.loc, f"analysis {step.id}")
        if not self.problems:
            self.crosstabs()

    def population_uses(self) -> list[m.PopulationUse]:
        uses = [s.population for s in self.steps if s.population is not None]
        uses += [d.population for d in self.displays() if d.population is not None]
        return list(dict.fromkeys(uses))

    def step_terms(self, step: Step) -> list[tuple[m.Expr, m.Loc]]:
        """The expressions a step evaluates at its visit, with where to point at them."""
        a = self.plan.analyses[step.id]
        out = [(t.expr, t.expr.loc if t.expr.loc.line else a.loc) for _, terms in step.roles
               for t in terms if not t.is_treatment]
        for name in step.by:
            if name in self.plan.endpoints:
                item = next((b for b in self.by_items(a) if b.name == name), None)
                out.append((m.Col(name), item.loc if item and item.loc.line else a.loc))
        return out

    def by_items(self, a: m.Analysis) -> tuple[m.ByItem, ...]:
        base = self.plan.analyses.get(a.base or "")
        return a.by + (base.by if base else ())

    def visit_values(self, step: Step) -> None:
        """A parameter analysed at one visit has a value there, after the analysis' handling
        of intercurrent events and missing data (LOCF fills scheduled visits)."""
        ev = self.ev
        assert step.visit is not None
        for term, _ in self.step_terms(step):
            for node, name in self.at_visit(term):
                family = isinstance(node, m.Call) and node.function in FAMILY
                if bool(self.plan.parameters[name].by) != family:
                    continue  # a family's members are analysed one by one, each may lack it
                if float(step.visit) not in ev.visits_present(
                        name, None if family else step.handling):
                    self.error("SAP316", ev.no_value_at(name, step.visit), self.visit_loc(step))

    def visit_loc(self, step: Step) -> m.Loc:
        base = analysis_chain(self.plan, self.plan.analyses[step.id])
        if base.visit is not None:
            return base.visit_loc if base.visit_loc.line else base.loc
        est = self.plan.estimands.get(base.estimand or "")
        if est is not None:
            return est.visit_loc if est.visit_loc.line else est.loc
        return base.loc

    def risky(self, step: Step) -> bool:
        """Whether building the step's data can fail on the data: an expression that can
        leave the finite numbers, or a column of another dataset than the subjects'."""
        roots = [t for t, _ in self.step_terms(step)]
        if step.population is not None and step.population.where is not None:
            roots.append(step.population.where)
        seen: set[str] = set()
        while roots:
            for node in m.walk(roots.pop()):
                if isinstance(node, m.BinOp) and node.op in ("/", "*") or \
                        isinstance(node, m.Call) and node.function in NONFINITE or \
                        isinstance(node, m.Col) and node.dataset not in (
                            None, self.checked.subjects):
                    return True
                if isinstance(node, m.Col) and node.dataset is None and \
                        node.name in self.plan.endpoints and node.name not in seen:
                    seen.add(node.name)
                    roots.append(self.plan.endpoints[node.name].expr)
        return False

    def crosstabs(self) -> None:
        """The tables of cross-tabulating analyses have the levels their method needs.

        Whether a table has enough non-empty rows and columns (SAP460), the level a method
        names (SAP461) or the 2 x 2 shape it requires (SAP463) depends on the method and its
        options (kappa with ``zeros``, Fisher r x c...), so the method itself answers: each
        such analysis is computed here (its tables are small; the executor computes it
        again) and only these shape problems are kept, the others being left to ``run``."""
        for step in self.steps:
            roles = step.role_map
            if "row" not in roles or "col" not in roles:
                continue
            for d in run_step(step, self.ev).failures:
                if d.code in TABLE_SHAPE:
                    self.add(d)
