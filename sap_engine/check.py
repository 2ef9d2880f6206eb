"""The checker: every name in a plan resolved against the plan and the data's schema.

Nothing runs until the whole plan checks. All problems are collected and reported at once,
each with its code, plan location, source line with a caret, and a suggestion where one
exists. Codes: SAP2xx for names/types/levels, SAP3xx for data files.

Checks that need no name resolution live beside this module: ``check_defs`` (names defined
twice, cycles, cut intervals), ``check_outputs`` (display numbers, table columns, the
reproduction map) and ``check_arms`` (treatment levels of a population that are not arms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sap_engine import functions
from sap_engine import model as m
from sap_engine.bind import Bound, bind_plan
from sap_engine.check_arms import check_arm_levels
from sap_engine.check_defs import check_definitions
from sap_engine.check_outputs import check_columns, check_numbers, check_reproduction
from sap_engine.check_visits import check_visit_needs
from sap_engine.data.sources import Dataset, open_sources
from sap_engine.errors import (
    DataError,
    DataLocation,
    Diagnostic,
    PlanCheckError,
    did_you_mean,
    plan_diagnostic,
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

    def analysis(self, name: str) -> m.Analysis:
        return self.plan.analyses[name]


class _Checker:
    def __init__(self, plan: m.Plan, datasets: dict[str, Dataset]):
        self.plan = plan
        self.datasets = datasets
        self.problems: list[Diagnostic] = []
        self.kinds: dict[str, str] = {}
        self.subjects = next((s.name for s in plan.sources if s.subjects), None)

    # ---- reporting
    def error(self, code: str, message: str, loc: m.Loc, suggestion: str | None = None,
              width: int | None = None, data_location: DataLocation | None = None) -> None:
        self.problems.append(plan_diagnostic(
            code, message, loc, self.plan.path, self.plan.text,
            suggestion=suggestion, width=width, data_location=data_location))

    # ---- expressions
    def columns_of(self, dataset: str | None) -> dict[str, str]:
        ds = self.datasets.get(dataset or "")
        return ds.columns if ds else {}

    def kind(self, e: m.Expr, dataset: str | None) -> str | None:  # noqa: C901
        """Resolve names in ``e``; return its kind ('numeric', 'string', 'bool', 'category')."""
        if isinstance(e, (m.Num, m.Inf)):
            return "numeric"
        if isinstance(e, m.Str):
            return "string"
        if isinstance(e, m.Bool):
            return "bool"
        if isinstance(e, m.Col):
            return self.name_kind(e, dataset)
        if isinstance(e, m.Call):
            if dataset is not None:  # a row filter: evaluated on one dataset's rows
                self.error("SAP220", f"{e.function}() cannot be used in a filter of the rows "
                                     f"of '{dataset}': filter on its columns", e.loc)
                return None
            if e.function in functions.FAMILY:
                arg = e.args[0] if len(e.args) == 1 else None
                param = self.plan.parameters.get(getattr(arg, "name", ""))
                if param is None or not param.by:
                    families = [n for n, p in self.plan.parameters.items() if p.by]
                    self.error("SAP223", f"{e.function}() takes one parameter family (a "
                                         "parameter declared with 'by')", e.loc,
                               did_you_mean(getattr(arg, "name", ""), families))
                return "numeric"
            if e.function in functions.OVER_VISITS:
                arg = e.args[0] if len(e.args) == 1 else None
                param = self.plan.parameters.get(getattr(arg, "name", ""))
                if param is None or param.by:
                    plain = [n for n, p in self.plan.parameters.items() if not p.by]
                    self.error("SAP224", f"{e.function}() takes one parameter that is not a "
                                         "family", e.loc,
                               did_you_mean(getattr(arg, "name", ""), plain))
                return "numeric"
            if e.function in functions.PARAMETER:
                arg = e.args[0] if len(e.args) == 1 else None
                if not isinstance(arg, m.Col) or arg.name not in self.plan.parameters:
                    self.error("SAP211", f"{e.function}() takes one parameter name",
                               e.loc, did_you_mean(getattr(arg, "name", ""),
                                                   list(self.plan.parameters)))
                return "numeric"
            function = functions.FUNCTIONS[e.function]
            if len(e.args) != function.arity:  # `log(x, 10)` is not a logarithm to base 10
                self.error("SAP204", f"{e.function}() takes one number, not {len(e.args)}",
                           e.loc)
            for a in e.args:
                if self.kind(a, dataset) not in ("numeric", None):
                    self.error("SAP204", f"{e.function}() needs a number", a.loc)
            return function.result
        if isinstance(e, m.Neg):
            self.expect_numeric(e.operand, dataset)
            return "numeric"
        if isinstance(e, m.Not):
            self.kind(e.operand, dataset)
            return "bool"
        if isinstance(e, m.Cut):
            self.expect_numeric(e.operand, dataset)
            return "category"
        if isinstance(e, m.InSet):
            k = self.kind(e.operand, dataset)
            for v in e.values:
                self.check_level(e.operand, v, dataset, k)
            return "bool"
        if isinstance(e, m.BinOp):
            if e.op in ("and", "or"):
                self.kind(e.left, dataset)
                self.kind(e.right, dataset)
                return "bool"
            lk, rk = self.kind(e.left, dataset), self.kind(e.right, dataset)
            if e.op in ("==", "!="):
                if isinstance(e.right, m.Str):
                    self.check_level(e.left, e.right, dataset, lk)
                elif isinstance(e.left, m.Str):
                    self.check_level(e.right, e.left, dataset, rk)
                elif None not in (lk, rk) and {lk, rk} == {"numeric", "string"}:
                    self.error("SAP204", f"cannot compare a {lk} with a {rk}", e.loc)
                return "bool"
            for side, k in ((e.left, lk), (e.right, rk)):
                if k not in ("numeric", None):
                    if e.op in ("<", "<=", ">", ">="):
                        text = f"cannot compare a {k} value with '{e.op}'"
                    else:
                        text = f"cannot use a {k} value in arithmetic ('{e.op}')"
                    self.error("SAP204", text, side.loc)
            return "bool" if e.op in ("<", "<=", ">", ">=") else "numeric"
        return None

    def expect_numeric(self, e: m.Expr, dataset: str | None) -> None:
        k = self.kind(e, dataset)
        if k not in ("numeric", None):
            self.error("SAP204", f"expected a number, found a {k}", e.loc)

    def name_kind(self, col: m.Col, dataset: str | None) -> str | None:
        if col.dataset:
            if col.dataset not in self.datasets:
                self.error("SAP202", f"unknown dataset '{col.dataset}'", col.loc,
                           did_you_mean(col.dataset, list(self.datasets)))
                return None
            cols = self.columns_of(col.dataset)
            if col.name not in cols:
                self.error("SAP201", f"dataset '{col.dataset}' has no column '{col.name}'",
                           col.loc, did_you_mean(col.name, list(cols)))
                return None
            if not self.reachable(col, dataset):
                return None
            return cols[col.name]
        local = self.columns_of(dataset)
        if col.name in local:
            return local[col.name]
        if dataset is not None and (col.name in self.plan.parameters
                                    or col.name in self.plan.endpoints):
            what = "parameter" if col.name in self.plan.parameters else "endpoint or stratum"
            self.error("SAP238", f"'{col.name}' is a {what}: a filter of the rows of "
                                 f"'{dataset}' can use only columns of '{dataset}' and of "
                                 "the subject dataset", col.loc)
            return None
        if col.name in self.plan.parameters:
            return "numeric"
        if col.name in self.plan.endpoints:
            return self.kinds.get(col.name)
        subject_cols = self.columns_of(self.subjects)
        if col.name in subject_cols:
            return subject_cols[col.name]
        candidates = [*local, *self.plan.parameters, *self.plan.endpoints, *subject_cols]
        where = f"dataset '{dataset}' or the plan" if dataset else "the plan or subject data"
        self.error("SAP201", f"unknown name '{col.name}' (not a column of {where})", col.loc,
                   did_you_mean(col.name, candidates))
        return None

    def reachable(self, col: m.Col, dataset: str | None) -> bool:
        """Whether a qualified column can be read where it is used: a row filter of
        ``dataset`` reads that dataset's rows and, through the subject key, subject-level
        columns; a subject-level value (``dataset`` None) reads the subject dataset only."""
        if col.dataset in (dataset, self.subjects):
            return True
        if dataset is None:
            self.error("SAP239", f"'{col.text}' is a column of '{col.dataset}', which is not "
                                 "the subject dataset: an analysis or endpoint takes one value "
                                 f"per subject (a column of '{self.subjects}', or a parameter "
                                 f"over '{col.dataset}')", col.loc)
        else:
            also = f" and of the subject dataset '{self.subjects}'" \
                if dataset != self.subjects else ""
            self.error("SAP238", f"'{col.text}' is a column of '{col.dataset}': a filter of the "
                                 f"rows of '{dataset}' is evaluated on those rows, so it can "
                                 f"use only the columns of '{dataset}'{also}", col.loc)
        return False

    def dataset_of(self, col: m.Col, dataset: str | None) -> str | None:
        if col.dataset:
            return col.dataset
        if col.name in self.columns_of(dataset):
            return dataset
        if col.name in self.columns_of(self.subjects):
            return self.subjects
        return None

    def check_level(self, target: m.Expr, literal: m.Expr, dataset: str | None,
                    kind: str | None) -> None:
        if not isinstance(target, m.Col) or not isinstance(literal, m.Str):
            return
        owner = self.dataset_of(target, dataset)
        if owner is None or kind != "string":
            if kind == "numeric":
                self.error("SAP204", f"'{target.text}' is numeric; compare it with a number, "
                                     f"not \"{literal.value}\"", literal.loc)
            return
        levels = self.datasets[owner].levels(target.name)
        if literal.value not in levels:
            shown = ", ".join(f'"{v}"' for v in levels[:8]) + (" ..." if len(levels) > 8 else "")
            self.error("SAP203", f"column '{target.name}' has no level \"{literal.value}\" "
                                 f"(levels: {shown})", literal.loc,
                       did_you_mean(literal.value, levels))

    def check_labels(self, lab: m.Labels) -> None:
        """A labels block names a data column, or a categorical endpoint or stratum (then
        its keys must be values the endpoint takes)."""
        name = lab.column.name
        if name in self.plan.endpoints:
            levels = self.plan.endpoint_levels(name)
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
        elif not any(name in ds.columns for ds in self.datasets.values()):
            self.error("SAP201", f"no dataset has a column '{name}'", lab.column.loc,
                       did_you_mean(name, [*self.plan.endpoints]))

    # ---- statements
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
            self.check_estimand(est)
        bound = bind_plan(plan, self)
        check_visit_needs(self)
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
        return CheckedPlan(plan, self.datasets, self.subjects or "", bound)

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
        elif cols[p.source.name] != "numeric":
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

    def check_estimand(self, est: m.Estimand) -> None:
        if est.population:
            self.check_population_use(est.population)
        if est.variable is not None:
            self.kind(est.variable, None)
        for st in est.strategies:
            if st.event not in self.plan.intercurrents:
                self.error("SAP214", f"unknown intercurrent event '{st.event}'", st.loc,
                           did_you_mean(st.event, list(self.plan.intercurrents)))
        self.check_visit(est.visit, est.visit_loc if est.visit_loc.line else est.loc)

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

