"""The checker: every name in a plan resolved against the plan and the data's schema.

Nothing runs until the whole plan checks. All problems are collected and reported at once,
each with its code, plan location, source line with a caret, and a suggestion where one
exists. Codes: SAP2xx for names/types/levels, SAP3xx for data files.

This module checks the statements; the typing of the expressions they hold (names
resolved, kinds) is :mod:`sap_engine.check_expressions`, which the checker extends.
Checks that need no name resolution live beside this module: ``check_defs`` (names defined
twice, cycles, cut intervals), ``check_outputs`` (display numbers, table columns, the
reproduction map) and ``check_arms`` (treatment levels of a population that are not arms);
``check_estimands`` checks the estimands' strategies against the data rules behind them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sap_engine import model as m
from sap_engine.bind import Bound, bind_plan
from sap_engine.check_aggregates import check_aggregate, check_aggregate_uses
from sap_engine.check_arms import check_arm_levels
from sap_engine.check_defs import check_definitions
from sap_engine.check_estimands import check_estimand, not_estimable
from sap_engine.check_expressions import ExpressionChecker
from sap_engine.check_incidence import check_incidence, check_occurrence
from sap_engine.check_listing import check_listing
from sap_engine.check_order import display_order_warnings
from sap_engine.check_outputs import check_columns, check_numbers, check_reproduction
from sap_engine.check_visit_display import check_visit_display
from sap_engine.check_visits import check_visit_needs
from sap_engine.data.sources import Dataset, open_sources
from sap_engine.errors import (
    DataError,
    DataLocation,
    Diagnostic,
    PlanCheckError,
    did_you_mean,
    reset_suggestions,
    with_source_line,
)
from sap_engine.methods import registry


@dataclass
class CheckedPlan:
    """A plan whose names all resolve, with the datasets it reads and every analysis bound
    to its method (``bind``: typed terms, resolved options)."""

    plan: m.Plan
    datasets: dict[str, Dataset]
    subjects: str  # name of the subject-level dataset
    bound: dict[str, Bound] = field(default_factory=dict)  # analysis name -> its binding
    # Analyses checked but not run, each with its warning (SAP254: an estimand with a
    # principal stratum strategy, which the engine cannot estimate).
    not_estimable: dict[str, Diagnostic] = field(default_factory=dict)
    # Other warnings of the check (SAP255: displays numbered out of document order): the
    # plan runs, and they are printed and recorded in the ARD and the document.
    warnings: list[Diagnostic] = field(default_factory=list)

    def analysis(self, name: str) -> m.Analysis:
        return self.plan.analyses[name]


class _Checker(ExpressionChecker):
    """The statement checks, in the order ``run`` applies them, over the typing of
    expressions; the passes beside this module (check_defs, check_outputs, ...) take it."""

    def check_labels(self, lab: m.Labels) -> None:
        """A labels block names a data column, or a categorical endpoint or stratum (then
        its keys must be values the endpoint takes)."""
        name = lab.column.name
        if name in self.plan.endpoints or name in self.plan.aggregates:
            agg = self.plan.aggregates.get(name)
            levels = agg.categories() if agg else self.plan.endpoint_levels(name)
            if levels is None:
                self.error("SAP204", f"'{name}' is numeric: labels name the values of a "
                                     "categorical column or endpoint", lab.column.loc)
                return
            for i, (key, _) in enumerate(lab.items):
                if key not in levels:
                    shown = ", ".join(f'"{v}"' for v in levels)
                    where = lab.item_locs[i] if i < len(lab.item_locs) else lab.loc
                    self.error("SAP203", f"'{name}' takes the values {shown}, not \"{key}\"",
                               where, did_you_mean(key, levels))
        elif name in self.plan.parameters and not any(
                name in ds.columns for ds in self.datasets.values()):
            self._check_parameter_labels(lab)
        elif not any(name in ds.columns for ds in self.datasets.values()):
            self.error("SAP201", f"no dataset has a column '{name}'", lab.column.loc,
                       did_you_mean(name, [*self.plan.endpoints]))

    def _check_parameter_labels(self, lab: m.Labels) -> None:
        """Labels of a text parameter's categories (`labels gind { "H" = "High" }`): its
        column's values, in display order; a numeric parameter has none (SAP204)."""
        name = lab.column.name
        p = self.plan.parameters[name]
        ds = self.datasets.get(p.source.dataset or "")
        if ds is None or p.source.name not in ds.columns:
            return  # the parameter's own error
        if self.parameter_kind(name) != "string":
            self.error("SAP204", f"'{name}' is numeric: labels name the categories of a text "
                                 "parameter, column or categorical endpoint", lab.column.loc)
            return
        levels = ds.levels(p.source.name)
        for i, (key, _) in enumerate(lab.items):
            if key not in levels:
                shown = ", ".join(f'"{v}"' for v in levels[:8])
                where = lab.item_locs[i] if i < len(lab.item_locs) else lab.loc
                self.error("SAP203", f"'{name}' (column '{p.source.name}') takes the values "
                                     f"{shown}, not \"{key}\"", where, did_you_mean(key, levels))

    def run(self) -> CheckedPlan:
        plan = self.plan
        if self.subjects is None:
            self.error("SAP210", "no subject-level dataset: mark one dataset with 'subjects'",
                       getattr(plan.statements[0], "loc", m.Loc()) if plan.statements
                       else m.Loc())
        check_definitions(self)
        self.check_treatment()
        for lab in plan._of(m.Labels):
            self.check_labels(lab)
        for pop in plan.populations.values():
            if pop.dataset not in self.datasets:
                self.error("SAP202", f"unknown dataset '{pop.dataset}'", pop.loc,
                           did_you_mean(pop.dataset, list(self.datasets)))
            elif pop.where is not None:
                self.kind(pop.where, pop.dataset)
        for p in plan.parameters.values():
            self.check_parameter(p)
        for occ in plan.occurrences.values():
            check_occurrence(self, occ)
        for agg in plan.aggregates.values():
            check_aggregate(self, agg)
        for ie in plan.intercurrents.values():
            self.kind(ie.condition, self.subjects)
            self.expect_numeric(ie.time, self.subjects)
        for ep in plan.endpoints.values():
            self.kinds[ep.name] = self.kind(ep.expr, None) or "numeric"
            if ep.kind == "stratum" and not isinstance(ep.expr, m.Cut) and \
                    self.kinds[ep.name] == "numeric":
                self.error("SAP212", f"stratum '{ep.name}' must be categorical (use 'cut')",
                           ep.loc)
        for est in plan.estimands.values():
            check_estimand(self, est)
        bound = bind_plan(plan, self)
        check_incidence(self, bound)
        check_aggregate_uses(self, bound)
        check_listing(self, bound)
        not_run = not_estimable(self)
        check_visit_needs(self)
        check_visit_display(self)
        displays: list[m.Table | m.Figure] = [*plan.tables, *plan.figures]
        for display in displays:
            self.check_display(display)
        check_numbers(self)
        check_reproduction(self)
        doc = plan.document
        if doc and doc.template is not None:
            from sap_engine.template_sandbox import document_template_problems

            self.problems.extend(document_template_problems(plan))
        if not self.problems:  # evaluates filters: only once every name resolves
            check_arm_levels(self)
        if self.problems:
            raise PlanCheckError(sorted(self.problems, key=_position))
        return CheckedPlan(plan, self.datasets, self.subjects or "", bound, not_run,
                           display_order_warnings(plan))

    def check_treatment(self) -> None:
        trt = self.plan.treatment
        if trt is None:
            return
        cols = self.columns_of(self.subjects)
        if trt.column.name not in cols:
            self.error("SAP201", f"subject dataset '{self.subjects}' has no column "
                                 f"'{trt.column.name}'", trt.column.loc,
                       did_you_mean(trt.column.name, list(cols)))
            return
        if self.subjects is None:  # no subject dataset: nothing has columns (SAP210)
            return
        levels = self.datasets[self.subjects].levels(trt.column.name)
        for arm in trt.arms:
            if arm.level not in levels:
                self.error("SAP203", f"treatment '{trt.column.name}' has no arm '{arm.level}' "
                                     f"(arms: {', '.join(levels)})", arm.loc,
                           did_you_mean(arm.level, levels), width=len(arm.level) + 4)
        if sum(a.reference for a in trt.arms) > 1:
            self.error("SAP213", "more than one reference arm", trt.loc)

    def check_parameter(self, p: m.Parameter) -> None:
        ds = p.source.dataset
        if ds not in self.datasets:
            self.error("SAP202", f"parameter '{p.name}': unknown dataset '{ds}'", p.source.loc,
                       did_you_mean(ds or "", list(self.datasets)))
            return
        cols = self.columns_of(ds)
        if p.source.name not in cols:
            self.error("SAP201", f"dataset '{ds}' has no column '{p.source.name}'", p.source.loc,
                       did_you_mean(p.source.name, list(cols)))
        elif cols[p.source.name] != "numeric" and self.parameter_kind(p.name) != "string":
            # A text column (no value a number) is a text parameter: a category per visit.
            self.non_numeric(ds, p.source.name, p.source.loc, f"parameter '{p.name}'")
        if p.where is not None:
            self.kind(p.where, ds)
        for by in p.by:
            if by not in cols:
                self.error("SAP201", f"parameter '{p.name}': dataset '{ds}' has no column "
                                     f"'{by}'", p.loc, did_you_mean(by, list(cols)))
        if p.baseline_column and p.baseline_column.name not in cols:
            self.error("SAP201", f"dataset '{ds}' has no column '{p.baseline_column.name}'",
                       p.baseline_column.loc, did_you_mean(p.baseline_column.name, list(cols)))

    def non_numeric(self, dataset: str, column: str, loc: m.Loc, what: str) -> None:
        ds = self.datasets[dataset]
        bad = ds.first_non_numeric(column)
        where = DataLocation(str(ds.path), bad[0], column) if bad else None
        detail = f": value '{bad[1]}' is not a number" if bad else ""
        self.error("SAP305" if bad else "SAP204",
                   f"{what} needs numeric values but column '{column}' of '{dataset}' is "
                   f"text{detail}", loc, data_location=where)

    def check_missing(self, missing: str | None, worst: str | None, loc: m.Loc) -> None:
        """SAP251: WOCF imputes the worst value, so the plan must say which one is worst;
        ``worst`` with another rule would be ignored silently."""
        if missing == "wocf" and worst is None:
            self.error("SAP251", "'missing wocf' needs the worst value: write "
                       "'missing wocf worst highest' or 'missing wocf worst lowest'", loc)
        elif missing is not None and missing != "wocf" and worst is not None:
            self.error("SAP251", f"'worst {worst}' applies only to 'missing wocf', "
                       f"not to '{missing}'", loc)

    def check_visit(self, visit: float | None, loc: m.Loc) -> None:
        visits = self.plan.visits
        if visit is not None and visits and visits.weeks and visit not in visits.weeks:
            self.error("SAP215", f"week {m._num(visit)} is not a scheduled visit", loc)

    def check_population_use(self, use: m.PopulationUse) -> None:
        pop = self.plan.populations.get(use.name)
        if pop is None:
            self.error("SAP205", f"unknown population '{use.name}'", use.loc,
                       did_you_mean(use.name, list(self.plan.populations)),
                       width=len("population ") + len(use.name))
            return
        if use.where is not None:  # evaluated per subject, like an endpoint
            self.kind(use.where, None)

    def check_display(self, d: m.Table | m.Figure) -> None:
        names = d.rows if isinstance(d, m.Table) else (m.TableRows(d.analysis, loc=d.loc),)
        for r in names:
            for name in (r.analysis, *r.also):
                if name not in self.plan.analyses:
                    self.error("SAP209", f"unknown analysis '{name}'", r.loc,
                               did_you_mean(name, list(self.plan.analyses)))
        if d.population:
            self.check_population_use(d.population)
        if isinstance(d, m.Table):
            check_columns(self, d)


def check_names(plan: m.Plan, data_root: str | Path | None = None) -> CheckedPlan:
    """Check ``plan`` against its data's schema; raise PlanCheckError/DataError listing
    every problem. The checker stage only: the whole of ``sap-run check`` (the data and
    analysis preflights, after compile) is :func:`sap_engine.api.check`.

    Data files must lie below ``data_root`` (default: the working directory or the plan's
    folder)."""
    reset_suggestions()
    try:
        datasets = open_sources(plan.sources, plan.path, data_root)
    except DataError as exc:
        raise DataError([with_source_line(d, plan.text) for d in exc.diagnostics]) from None
    registry.load_all()
    return _Checker(plan, datasets).run()


def _position(d: Diagnostic) -> tuple[int, int]:
    return (d.location.line, d.location.column) if d.location else (0, 0)

