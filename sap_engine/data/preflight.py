"""The data preflight: what the plan and its data already show, found by ``check``.

``check`` runs it once every name of the plan resolves, so that ``run`` does not discover
after minutes (or not at all) what the data showed from the start:

1. Integrity (``integrity``): key columns exist (SAP309, at the key in the plan) and identify
   rows (SAP310), subjects have ids (SAP311), every dataset a population or parameter reads
   has the subject key (SAP312), no numeric column the plan reads holds an infinite number
   (SAP313).
2. Derivations, with pandas and the executor's own :class:`Evaluator` (so check and run cannot
   disagree on what a filter selects): a value that needs a visit has one (SAP219);
   ``baseline()``/``change()`` (SAP221) and ``max_over_visits()`` or a family's ``max()``
   (SAP317) are not applied to a parameter without visits; every parameter has rows
   (SAP315), one value per subject and visit (SAP304) and finite values (SAP313); every
   population in use has subjects (SAP401); a parameter analysed at one visit has a value
   there after imputation (SAP316); and the analyses whose expressions can leave the finite
   numbers (``/``, ``*``, ``log``, ``sqrt``, ``exp``) have their data built (SAP314).
3. Cross-tabulations (``crosstab A by B``) have the levels their method needs (SAP460,
   SAP461, SAP463): those analyses are computed, and their tables' shape problems reported.

It costs the import of pandas (~0.25 s of CPU beyond pyarrow here) and one evaluation of
every population and parameter, which ``run`` repeats; of the analyses, only the
cross-tabulations are computed (with scipy, for their tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from sap_engine import model as m
from sap_engine.check import CheckedPlan
from sap_engine.data.integrity import Integrity, text
from sap_engine.errors import DataError, DataLocation, Location
from sap_engine.functions import AT_VISIT, FAMILY, NONFINITE, OVER_VISITS, TAKES_PARAMETER

# A cross-tabulation without the levels its method needs: too few non-empty rows or columns,
# a named level that is not there, not 2 x 2.
TABLE_SHAPE = ("SAP460", "SAP461", "SAP463")


def preflight(checked: CheckedPlan, analyses: bool = True) -> CheckedPlan:
    """Return ``checked`` or raise a SapError listing every problem found.

    With ``analyses`` false (``run --keep-going``) only what no analysis can survive is
    checked (files, keys, infinite numbers): a problem of one analysis is then left to the
    executor, which reports it with the analysis and runs the others."""
    pf = _Preflight(checked)
    pf.key_columns()
    pf.raise_problems()
    pf.key_pass()
    pf.infinite_columns()
    pf.raise_problems()
    if analyses:
        pf.visit_pass()
        pf.data_pass()
        pf.raise_problems()
    return checked


class _Preflight(Integrity):
    def __init__(self, checked: CheckedPlan):
        super().__init__(checked)
        self.visit_col = self.plan.visits.column.name if self.plan.visits else "AVISITN"
        from sap_engine.compile import compile_plan

        self.steps = compile_plan(checked)

    # ---- visits: which values need one, and which parameters have none
    def visit_pass(self) -> None:
        from sap_engine.data.derive import Evaluator

        self.ev = Evaluator(self.checked)
        self.guarded(self.visit_functions)
        self.guarded(self.visits_needed)

    def visits_needed(self) -> None:
        """A value measured at visits, asked for where there is no visit (SAP219)."""
        for step in self.steps:
            if step.visit is None and "visit" not in step.by:
                for term, loc in self.step_terms(step):
                    needs = self.needs_visit(term)
                    if needs is not None:
                        self.error("SAP219", f"'{text(term)}' needs a visit ({text(needs)} "
                                             "is measured at visits): add 'at week N' or "
                                             "'by visit' to the analysis", loc)
        for use in self.population_uses():
            needs = self.needs_visit(use.where) if use.where is not None else None
            if needs is not None:
                self.error("SAP219", f"population filter '{text(use.where)}' needs a visit "
                                     f"({text(needs)} is measured at visits): use a value "
                                     "that has none, such as baseline()", needs.loc)

    def visits_of(self, name: str) -> str:
        """'subject', 'visit' or 'none' (no rows): the executor's rule (``derive``)."""
        return self.ev.visits_of(name)

    def visit_functions(self) -> None:
        """Functions of visits applied to a parameter without visits, wherever written."""
        for node in m.walk(self.plan.statements):
            if not (isinstance(node, m.Call) and node.args and isinstance(node.args[0], m.Col)):
                continue
            name = node.args[0].name
            if name not in self.plan.parameters or self.visits_of(name) != "subject":
                continue
            fn = node.function
            if fn in ("change", "percent_change") or (
                    fn == "baseline" and self.plan.parameters[name].baseline_column is None):
                self.error("SAP221", self.ev.no_visits_text(name, fn), node.loc)
            elif fn in OVER_VISITS + FAMILY:
                self.error("SAP317", self.ev.no_visits_text(name, fn), node.loc)

    def needs_visit(self, e: m.Expr) -> m.Expr | None:
        """The first part of ``e`` whose value depends on the visit (through endpoints)."""
        for node, _ in self.at_visit(e):
            return node
        return None

    def at_visit(self, e: m.Expr) -> Iterator[tuple[m.Expr, str]]:
        """(node, parameter) for every visit-dependent parameter value in ``e``."""
        plan, seen = self.plan, set()
        stack: list = [e]
        while stack:
            node = stack.pop()
            if isinstance(node, tuple):
                stack.extend(reversed(node))
                continue
            if isinstance(node, m.Col) and node.dataset is None:
                if node.name in plan.parameters:
                    if self.visits_of(node.name) == "visit":
                        yield node, node.name
                elif node.name in plan.endpoints and node.name not in seen:
                    seen.add(node.name)
                    stack.append(plan.endpoints[node.name].expr)
                continue
            if isinstance(node, m.Call) and node.args and isinstance(node.args[0], m.Col) \
                    and node.args[0].name in plan.parameters:
                name = node.args[0].name
                if node.function in AT_VISIT and self.visits_of(name) == "visit":
                    yield node, name
                if node.function in TAKES_PARAMETER:
                    continue
            stack.extend(reversed(m.children(node)))

    def step_terms(self, step) -> list[tuple[m.Expr, m.Loc]]:
        """The expressions a step evaluates at its visit, with where to point at them."""
        a = self.plan.analyses[step.id]
        out = [(t, t.loc if t.loc.line else a.loc) for _, terms in step.roles for t in terms
               if not (isinstance(t, m.Col) and t.dataset is None and t.name == "treatment")]
        for name in step.by:
            if name in self.plan.endpoints:
                item = next((b for b in self.by_items(a) if b.name == name), None)
                out.append((m.Col(name), item.loc if item and item.loc.line else a.loc))
        return out

    def by_items(self, a: m.Analysis) -> tuple[m.ByItem, ...]:
        base = self.plan.analyses.get(a.base or "")
        return a.by + (base.by if base else ())

    def displays(self) -> list[m.Table | m.Figure]:
        return [*self.plan.tables, *self.plan.figures]

    def population_uses(self) -> list[m.PopulationUse]:
        uses = [s.population for s in self.steps if s.population is not None]
        uses += [d.population for d in self.displays() if d.population is not None]
        return list(dict.fromkeys(uses))

    def data_pass(self) -> None:
        ev = self.ev
        for name, p in self.plan.parameters.items():
            self.guarded(lambda name=name, p=p: self.parameter(ev, name, p))
        for name in dict.fromkeys(use.name for use in self.population_uses()):
            self.guarded(lambda name=name: self.population(ev, name))
        empty: dict[tuple, list[str]] = {}  # a narrowed population -> analyses it empties
        for step in self.steps:
            use = step.population
            if use is not None and use.where is not None:
                if self.guarded(lambda use=use, step=step: self.empty(ev, use, step.handling)):
                    empty.setdefault((use.loc.line, use.loc.column, use), []).append(step.id)
            if step.visit is not None and "visit" not in step.by:
                self.guarded(lambda step=step: self.visit_values(ev, step))
        for d in self.displays():
            shown = d.population
            if shown is not None and shown.where is not None:
                if self.guarded(lambda use=shown: self.empty(ev, use)):
                    empty.setdefault((shown.loc.line, shown.loc.column, shown), [])
        for (_, _, use), ids in empty.items():
            who = ""
            if ids:  # the analyses it empties (an estimand's population serves several)
                others = f" (and {', '.join(ids[1:])})" if ids[1:] else ""
                who = f"analysis {ids[0]}{others}: "
            self.error("SAP401", f"{who}population '{use.name}' is empty after its 'where' "
                                 f"filter ({text(use.where)})", use.loc)
        if not self.problems:
            for step in self.steps:
                if self.risky(step):
                    self.guarded(lambda step=step: self.frame(ev, step), step)
        if not self.problems:
            self.crosstabs()

    def guarded(self, work, step=None):
        """Run ``work``; the data errors it raises are problems of the plan."""
        try:
            return work()
        except DataError as exc:
            for d in exc.diagnostics:
                if d.location is None and step is not None:
                    d = replace(d, message=f"analysis {step.id}: {d.message}",
                                location=Location(self.plan.path, step.loc.line or 1,
                                                  step.loc.column or 1))
                self.add(d)

    def parameter(self, ev, name: str, p: m.Parameter) -> None:
        rows = ev.parameter_rows(name)
        if rows.empty:
            ds = self.checked.datasets[str(p.source.dataset)]
            frame = ds.frame()
            hint = ""
            for col in m.walk(p.where) if p.where is not None else ():
                if isinstance(col, m.Col) and col.name in frame.columns:
                    missing = int(frame[col.name].isna().sum())
                    if missing:
                        hint = (f"; '{col.name}' is missing in {missing} of {len(frame)} rows, "
                                "and a comparison with a missing value is never true")
                        break
            self.error("SAP315", f"parameter '{name}' has no rows: its 'where' selects none "
                                 f"of the {len(frame)} rows of '{ds.name}'{hint}",
                       p.where.loc if p.where is not None else p.loc,
                       DataLocation(str(ds.path)))
            return
        ev.prepare(name)  # one value per subject and visit, finite values

    def population(self, ev, name: str) -> None:
        """A population in use has subjects."""
        pop = self.plan.populations[name]
        if len(ev.population(m.PopulationUse(name))) == 0:
            ds = self.checked.datasets[pop.dataset]
            self.error("SAP401", f"population '{name}' is empty: its filter selects none of "
                                 f"the {len(ds.frame())} rows of '{pop.dataset}'",
                       pop.where.loc if pop.where is not None else pop.loc)

    def empty(self, ev, use: m.PopulationUse, handling=None) -> bool:
        """A population narrowed where it is used (``population FAS where ...``) has no
        subject left (with the analysis' handling of intercurrent events and missing data);
        an empty population itself is reported at its definition."""
        from sap_engine.data.derive import Handling

        if len(ev.population(m.PopulationUse(use.name))) == 0:
            return False
        return len(ev.population(use, handling or Handling())) == 0

    def visit_values(self, ev, step) -> None:
        """A parameter analysed at one visit has a value there, after the analysis' handling
        of intercurrent events and missing data (LOCF fills scheduled visits)."""
        for term, _ in self.step_terms(step):
            for node, name in self.at_visit(term):
                family = isinstance(node, m.Call) and node.function in FAMILY
                if bool(self.plan.parameters[name].by) != family:
                    continue  # a family's members are analysed one by one, each may lack it
                if float(step.visit) not in ev.visits_present(
                        name, None if family else step.handling):
                    self.error("SAP316", ev.no_value_at(name, step.visit), self.visit_loc(step))

    def visit_loc(self, step) -> m.Loc:
        from sap_engine.roles import analysis_chain

        base = analysis_chain(self.plan, self.plan.analyses[step.id])
        if base.visit is not None:
            return base.visit_loc if base.visit_loc.line else base.loc
        est = self.plan.estimands.get(base.estimand or "")
        if est is not None:
            return est.visit_loc if est.visit_loc.line else est.loc
        return base.loc

    def risky(self, step) -> bool:
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
        from sap_engine.execute import run_step

        for step in self.steps:
            roles = step.role_map
            if "row" not in roles or "col" not in roles:
                continue
            for d in run_step(step, self.ev).failures:
                if d.code in TABLE_SHAPE:
                    self.add(d)

    def frame(self, ev, step) -> None:
        from sap_engine.execute import analysis_frame

        analysis_frame(step, ev)


