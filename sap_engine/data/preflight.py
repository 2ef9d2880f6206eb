"""The data preflight: what the plan's data already show, found by ``check``.

``check`` runs it once every name of the plan resolves, so that ``run`` does not discover
after minutes (or not at all) what the data showed from the start. This module holds the
passes that need the data and the plan's derivations but no analysis step:

1. Integrity (``integrity``): key columns exist (SAP309, at the key in the plan) and identify
   rows (SAP310), subjects have ids (SAP311), every dataset a population or parameter reads
   has the subject key (SAP312), no numeric column the plan reads holds an infinite number
   (SAP313).
2. Derivations, with pandas and the executor's own :class:`Evaluator` (so check and run cannot
   disagree on what a filter selects): ``baseline()``/``change()`` (SAP221) and
   ``max_over_visits()`` or a family's ``max()`` (SAP317) are not applied to a parameter
   without visits; a value that needs a visit has one (SAP219, the checker's rule of
   ``check_visits`` applied where the checker could not tell whether a parameter has
   visits); every parameter has rows (SAP315), one value per subject and visit (SAP304) and
   finite values (SAP313); a population has subjects (SAP401); an aggregate's records hold
   only the levels it lists (SAP274); a shift analysis' records hold only its categories
   (SAP625).

The passes over the compiled analysis steps (a population narrowed where it is used, a value
at an analysis' visit, the data of risky expressions, cross-tabulations) come after compile,
in ``sap_engine.analysis_preflight``, which extends :class:`DataPreflight` and runs it all.

It costs the import of pandas (~0.25 s of CPU beyond pyarrow here) and one evaluation of
every population and parameter, which ``run`` repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property

from sap_engine import model as m
from sap_engine.check import CheckedPlan
from sap_engine.check_visits import VisitNeeds, report_visit_needs
from sap_engine.data.derive import Evaluator, Handling
from sap_engine.data.integrity import Integrity, text
from sap_engine.errors import DataError, DataLocation, plan_diagnostic
from sap_engine.functions import AT_VISIT, FAMILY, OVER_VISITS, TAKES_PARAMETER


class DataPreflight(Integrity):
    """The integrity checks and the passes over the plan's derivations (no step needed)."""

    def __init__(self, checked: CheckedPlan):
        super().__init__(checked)
        self.visit_col = self.plan.visits.column.name if self.plan.visits else "AVISITN"

    @cached_property
    def ev(self) -> Evaluator:
        """The executor's evaluator, made once the keys it indexes by are known to exist."""
        return Evaluator(self.checked)

    def integrity(self) -> None:
        """Keys, then links and infinite numbers: what no analysis can survive."""
        self.key_columns()
        self.raise_problems()
        self.key_pass()
        self.infinite_columns()
        self.raise_problems()

    # ---- visits: their labels in the data, which values need one, which parameters have none
    def visit_labels(self) -> None:
        """SAP266: one visit number with two labels in the `label from` column."""
        from sap_engine.data.visit_labels import read_visit_labels

        visits = self.plan.visits
        _, clash = read_visit_labels(self.plan, self.checked.datasets)
        if clash is None or visits is None:
            return
        self.error("SAP266", f"visits {visits.column.name}: 'label from {visits.label_from}': "
                             f"visit {clash.visit} is labelled \"{clash.first}\" ("
                             f"{clash.first_where}) and \"{clash.label}\" (dataset "
                             f"{clash.dataset}, row {clash.row}); a visit number has one "
                             "label: correct the data, or label the visits in a 'labels' "
                             "block",
                   visits.label_from_loc if visits.label_from_loc.line else visits.loc,
                   DataLocation(clash.path, clash.row, visits.label_from))

    def visit_pass(self) -> None:
        self.guarded(self.visit_functions)
        self.guarded(self.visit_needs)

    def visit_needs(self) -> None:
        """SAP219 with the executor's answer to whether a parameter has visits: the
        checker reported those it could tell itself (SAP243 is the checker's alone)."""
        exact = VisitNeeds(self.plan, lambda name: self.visits_of(name) == "visit")
        report_visit_needs(exact, self.error, families=False)

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

    # ---- the derivations' data
    def guarded(self, work: Callable, at: m.Loc | None = None, who: str | None = None):
        """Run ``work``; the data errors it raises are problems of the plan (one without a
        location of its own is put at ``at``, its message prefixed with ``who``)."""
        try:
            return work()
        except DataError as exc:
            for d in exc.diagnostics:
                if d.location is None and at is not None:
                    d = plan_diagnostic(d.code, f"{who}: {d.message}" if who else d.message,
                                        at, self.plan.path, self.plan.text, width=1,
                                        suggestion=d.suggestion, data_location=d.data_location)
                self.add(d)
        return None

    def parameters(self) -> None:
        for name, p in self.plan.parameters.items():
            self.guarded(lambda name=name, p=p: self.parameter(name, p))

    def parameter(self, name: str, p: m.Parameter) -> None:
        ev = self.ev
        rows = ev.parameter_rows(name)
        if rows.empty:
            ds = self.checked.datasets[str(p.source.dataset)]
            frame = ds.frame()
            hint = ""
            for col in m.walk(p.where) if p.where is not None else ():
                if isinstance(col, m.Col) and col.name in frame.columns:
                    missing = int(frame[col.name].isna().sum())
                    if missing:
                        hint = (f"; '{col.name}' is missing in {missing} of {len(frame)} rows "
                                "(in a filter a missing text compares as \"\", and a missing "
                                "number makes every comparison but != false)")
                        break
            self.error("SAP315", f"parameter '{name}' has no rows: its 'where' selects none "
                                 f"of the {len(frame)} rows of '{ds.name}'{hint}",
                       p.where.loc if p.where is not None else p.loc,
                       DataLocation(str(ds.path)))
            return
        ev.prepare(name)  # one value per subject and visit, finite values

    def aggregates(self) -> None:
        """Every aggregate's values: a record value ``worst()`` does not list is SAP274, at
        the aggregate's levels with the record's file, row and column."""
        for name in self.plan.aggregates:
            self.guarded(lambda name=name: self.ev.aggregate(name))

    def shift_categories(self) -> None:
        """Every record of a shift analysis' occurrence set holds, in its baseline and value
        columns, one of the listed categories (or a blank): SAP625 at the categories, with
        the first other record's file, row and column. (The method refuses one too, for the
        population's records, but cannot say where it is in the data.)"""
        import numpy as np
        import pandas as pd

        from sap_engine.bind import BoundAnalysis
        from sap_engine.data.occurrences import occurrence_rows
        from sap_engine.methods.shift import category_text

        for b in self.checked.bound.values():
            if not isinstance(b, BoundAnalysis) or b.method != "shift":
                continue
            opts = {o.name: o for o in b.options}
            if not all(k in opts for k in ("events", "baseline", "value", "categories")):
                continue  # reported by the checker (SAP280)
            listed = [str(c) for c in opts["categories"].value]  # type: ignore[attr-defined]
            occ = self.plan.occurrences[str(opts["events"].value)]
            rows = self.guarded(lambda occ=occ: occurrence_rows(self.ev, occ.name))
            if rows is None:
                continue
            loc = opts["categories"].loc if opts["categories"].loc.line else b.loc
            for column in dict.fromkeys((str(opts["baseline"].value),
                                         str(opts["value"].value))):
                text = pd.Series(category_text(rows[column].to_numpy(dtype=object)))
                bad = np.flatnonzero(((text != "") & ~text.isin(listed)).to_numpy())
                if len(bad):
                    values = ", ".join(f'"{v}"' for v in sorted(set(text.iloc[bad]))[:5])
                    path = self.checked.datasets[occ.dataset].path
                    self.error("SAP625", f"analysis '{b.name}': {len(bad)} record(s) of "
                                         f"occurrence set '{occ.name}' have a value of "
                                         f"'{column}' that is not among the categories "
                                         f"({values}; listed: {', '.join(listed)})", loc,
                               DataLocation(str(path), int(rows.index[bad[0]]) + 1, column))

    def population(self, name: str) -> None:
        """A population has subjects."""
        pop = self.plan.populations[name]
        if len(self.ev.population(m.PopulationUse(name))) == 0:
            ds = self.checked.datasets[pop.dataset]
            self.error("SAP401", f"population '{name}' is empty: its filter selects none of "
                                 f"the {len(ds.frame())} rows of '{pop.dataset}'",
                       pop.where.loc if pop.where is not None else pop.loc)

    def empty(self, use: m.PopulationUse, handling: Handling | None = None) -> bool:
        """A population narrowed where it is used (``population FAS where ...``) has no
        subject left (with the analysis' handling of intercurrent events and missing data);
        an empty population itself is reported at its definition."""
        ev = self.ev
        if len(ev.population(m.PopulationUse(use.name))) == 0:
            return False
        return len(ev.population(use, handling or Handling())) == 0

    def displays(self) -> list[m.Table | m.Figure]:
        return [*self.plan.tables, *self.plan.figures]


def empty_text(use: m.PopulationUse, analyses: list[str]) -> str:
    """SAP401 for a population emptied by its ``where`` (the analyses it empties first)."""
    who = ""
    if analyses:  # an estimand's population serves several analyses
        others = f" (and {', '.join(analyses[1:])})" if analyses[1:] else ""
        who = f"analysis {analyses[0]}{others}: "
    return (f"{who}population '{use.name}' is empty after its 'where' filter "
            f"({text(use.where)})")
