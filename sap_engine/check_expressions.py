"""The checker's typing of expressions: every name in an expression resolved against the
plan and the data's schema, and the expression's kind (``numeric``, ``string``, ``bool``,
``category``), with SAP201-SAP204, SAP211, SAP220, SAP223, SAP224, SAP238 and SAP239.

Separate from the statements (:mod:`sap_engine.check`, whose ``_Checker`` extends
:class:`ExpressionChecker`) because an expression is checked the same wherever it is
written, a population's filter, a parameter's, an endpoint, an analysis' term: the only
context is the dataset whose rows it is evaluated on (None: one value per subject). The
statement checks decide that context and what kind they need; the reporting (``error``,
``problems``) is here because every check reports through it.
"""

from __future__ import annotations

from sap_engine import functions
from sap_engine import model as m
from sap_engine.data.sources import Dataset
from sap_engine.errors import DataLocation, Diagnostic, did_you_mean, plan_diagnostic


class ExpressionChecker:
    """The plan, its datasets' schemas and the problems found; the kinds of expressions."""

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
    def parameter_kind(self, name: str) -> str:
        """'string' for a parameter over a text column (ADLBC's ANRIND: a category per
        visit), else 'numeric' (what every other parameter is, or is refused as)."""
        p = self.plan.parameters[name]
        ds = self.datasets.get(p.source.dataset or "")
        return "string" if ds is not None and ds.holds_text(p.source.name) else "numeric"

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
                else:
                    self.expect_numeric_parameter(e, param.name)
                return "numeric"
            if e.function in functions.OVER_VISITS:
                arg = e.args[0] if len(e.args) == 1 else None
                param = self.plan.parameters.get(getattr(arg, "name", ""))
                if param is None or param.by:
                    plain = [n for n, p in self.plan.parameters.items() if not p.by]
                    self.error("SAP224", f"{e.function}() takes one parameter that is not a "
                                         "family", e.loc,
                               did_you_mean(getattr(arg, "name", ""), plain))
                else:
                    self.expect_numeric_parameter(e, param.name)
                return "numeric"
            if e.function in functions.PARAMETER:
                arg = e.args[0] if len(e.args) == 1 else None
                if not isinstance(arg, m.Col) or arg.name not in self.plan.parameters:
                    self.error("SAP211", f"{e.function}() takes one parameter name",
                               e.loc, did_you_mean(getattr(arg, "name", ""),
                                                   list(self.plan.parameters)))
                    return "numeric"
                # The baseline and the value of a text parameter are its categories; a
                # change or percent change needs numbers.
                if e.function in ("baseline", "value"):
                    return self.parameter_kind(arg.name)
                self.expect_numeric_parameter(e, arg.name)
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
        if isinstance(e, m.IsMissing):
            self.kind(e.operand, dataset)
            return "bool"
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

    def expect_numeric_parameter(self, call: m.Call, name: str) -> None:
        """SAP204: a function of numbers (change, percent_change, max_over_visits, a
        family's max) applied to a parameter over a text column."""
        if self.parameter_kind(name) != "string":
            return
        p = self.plan.parameters[name]
        self.error("SAP204", f"{call.function}() needs a numeric parameter, but '{name}' is "
                             f"text (column '{p.source.name}' of '{p.source.dataset}'): a text "
                             f"parameter has categories; use '{name}' or 'baseline({name})'",
                   call.loc)

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
                                    or col.name in self.plan.endpoints
                                    or col.name in self.plan.aggregates):
            what = "a parameter" if col.name in self.plan.parameters else "an aggregate" \
                if col.name in self.plan.aggregates else "a endpoint or stratum"
            self.error("SAP238", f"'{col.name}' is {what}: a filter of the rows of "
                                 f"'{dataset}' can use only columns of '{dataset}' and of "
                                 "the subject dataset", col.loc)
            return None
        if col.name in self.plan.parameters:
            return self.parameter_kind(col.name)
        if col.name in self.plan.endpoints:
            return self.kinds.get(col.name)
        if col.name in self.plan.aggregates:  # typed by check_aggregate
            return self.kinds.get(col.name)
        subject_cols = self.columns_of(self.subjects)
        if col.name in subject_cols:
            return subject_cols[col.name]
        candidates = [*local, *self.plan.parameters, *self.plan.endpoints,
                      *self.plan.aggregates, *subject_cols]
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
        agg = self.plan.aggregates.get(target.name) if target.dataset is None else None
        if agg is not None and dataset is None and agg.categories() is not None:
            levels = agg.categories() or []
            if literal.value not in levels:
                shown = ", ".join(f'"{v}"' for v in levels)
                self.error("SAP203", f"aggregate '{target.name}' takes the values {shown}, "
                                     f"not \"{literal.value}\"", literal.loc,
                           did_you_mean(literal.value, levels))
            return
        owner = self.dataset_of(target, dataset)
        if target.dataset is None and target.name in self.plan.parameters and \
                dataset is None and kind == "string":  # a text parameter: its column's levels
            source = self.plan.parameters[target.name].source
            owner, target = source.dataset, m.Col(source.name, loc=target.loc)
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
