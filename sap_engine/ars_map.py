"""The mapping between plan concepts and CDISC ARS v1.0 classes, shared by the export
(``render/ars_build.py``, ``OUT/ars.json``) and the import (``ars_import.py``).

One place states how a plan condition becomes an ARS where clause and back, how ids are
made, and which words ARS uses, so that an exported plan imports to the same conditions.
docs/ars.md describes the whole mapping.

>>> clause(m.BinOp("==", m.Col("SAFFL"), m.Str("Y")), "adsl")
{'condition': {'dataset': 'ADSL', 'variable': 'SAFFL', 'comparator': 'EQ', 'value': ['Y']}}
>>> condition_text({'dataset': 'ADSL', 'variable': 'AGE', 'comparator': 'GE', 'value': ['65']})
'adsl.AGE >= 65'
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sap_engine import fmt
from sap_engine import model as m

# Plan comparison operators <-> ARS ConditionComparatorEnum.
COMPARATORS = {"==": "EQ", "!=": "NE", ">": "GT", ">=": "GE", "<": "LT", "<=": "LE"}
PLAN_OPERATORS = {v: k for k, v in COMPARATORS.items()}
LOGICAL = {"and": "AND", "or": "OR"}

# What every exported analysis says of its planning (required by the schema): the plan is
# a SAP, and it does not say which analyses are primary, so a sponsor term states that.
REASON = {"controlledTerm": "SPECIFIED IN SAP"}
PURPOSE_TERM = "PURPOSE_NOT_STATED"
PURPOSE = {"sponsorTermId": PURPOSE_TERM}
TERMINOLOGY = [{"id": "TermExt_Purpose", "enumeration": "AnalysisPurposeEnum",
                "sponsorTerms": [{"id": PURPOSE_TERM, "submissionValue": "NOT STATED IN SAP",
                                  "description": "The plan does not classify its analyses "
                                                 "as primary, secondary or exploratory."}]}]

# The ARS JSON Schema, shipped with the engine (cdisc-org/analysis-results-standard, MIT).
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "ars_ldm.schema.json"


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def ident(*parts: str) -> str:
    """An ARS id from plan names: ``ident("Mth", "ancova")`` -> ``Mth_ancova``; characters
    an id would not carry readably (spaces, brackets, ``=``) become ``_``."""
    return "_".join(re.sub(r"[^A-Za-z0-9.\-]+", "_", p).strip("_") or "x" for p in parts)


def dataset_name(plan_name: str) -> str:
    """ADaM datasets are named in upper case in ARS (``ADSL``); the plan's are its own."""
    return plan_name.upper()


def _value(e: m.Expr) -> str | None:
    if isinstance(e, m.Str):
        return e.value
    if isinstance(e, m.Num):
        return m._num(e.value)
    if isinstance(e, m.Neg) and isinstance(e.operand, m.Num):
        return m._num(-e.operand.value)
    return None


def _column(e: m.Expr, dataset: str) -> tuple[str, str] | None:
    """(dataset, variable) of a data column; None for a plan name or a derived value."""
    if isinstance(e, m.Col):
        return dataset_name(e.dataset or dataset), e.name
    return None


def clause(e: m.Expr, dataset: str) -> dict[str, Any] | None:
    """An ARS ``condition`` or ``compoundExpression`` (the fields of an AnalysisSet,
    DataSubset or Group) for a plan condition on rows of ``dataset``; None when a part of it
    is not a comparison of a data column with constants (a function, arithmetic, a plan
    name): an ARS condition is ``dataset.variable comparator values``, and a partial clause
    would select other rows than the plan does."""
    if isinstance(e, m.BinOp) and e.op in LOGICAL:
        parts = []
        for side in _flatten(e, e.op):
            got = clause(side, dataset)
            if got is None:
                return None
            parts.append(got)
        return {"compoundExpression": {"logicalOperator": LOGICAL[e.op], "whereClauses": [
            {"level": 2, "order": i, **part} for i, part in enumerate(parts, 1)]}}
    if isinstance(e, m.Not):
        inner = clause(e.operand, dataset)
        if inner is None:
            return None
        return {"compoundExpression": {"logicalOperator": "NOT", "whereClauses": [
            {"level": 2, "order": 1, **inner}]}}
    if isinstance(e, m.BinOp) and e.op in COMPARATORS:
        col, value = _column(e.left, dataset), _value(e.right)
        if col is None or value is None:
            return None
        return {"condition": {"dataset": col[0], "variable": col[1],
                              "comparator": COMPARATORS[e.op], "value": [value]}}
    if isinstance(e, m.InSet):
        col = _column(e.operand, dataset)
        values = [_value(v) for v in e.values]
        if col is None or any(v is None for v in values):
            return None
        return {"condition": {"dataset": col[0], "variable": col[1],
                              "comparator": "NOTIN" if e.negated else "IN", "value": values}}
    return None


def _flatten(e: m.Expr, op: str) -> list[m.Expr]:
    if isinstance(e, m.BinOp) and e.op == op:
        return _flatten(e.left, op) + _flatten(e.right, op)
    return [e]


def and_clauses(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One clause for several (AND), or the one itself."""
    if len(parts) == 1:
        return parts[0]
    return {"compoundExpression": {"logicalOperator": "AND", "whereClauses": [
        {"level": 2, "order": i, **p} for i, p in enumerate(parts, 1)]}}


def expression_text(e: m.Expr) -> str:
    return fmt.expr(e)


# ---- back: ARS where clauses as plan conditions (the import) ---------------------------------


def _literal(v: str) -> str:
    """A value as a plan constant: a number stays a number, anything else is a string."""
    if re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", v):
        return v
    return fmt.quote(v)


def condition_text(cond: dict[str, Any], own_dataset: str | None = None) -> str:
    """A WhereClauseCondition as a plan condition; the column is qualified by its dataset
    (lower case, the plan's names) unless it is ``own_dataset``."""
    ds = str(cond.get("dataset", "")).lower()
    var = str(cond["variable"])
    col = var if not ds or ds == own_dataset else f"{ds}.{var}"
    comp = cond.get("comparator", "EQ")
    values = [str(v) for v in cond.get("value", [])]
    if comp in ("IN", "NOTIN"):
        inside = ", ".join(_literal(v) for v in values)
        return f"{col} {'not in' if comp == 'NOTIN' else 'in'} {{{inside}}}"
    return f"{col} {PLAN_OPERATORS[comp]} {_literal(values[0] if values else '')}"


def where_text(holder: dict[str, Any], own_dataset: str | None,
               subsets: dict[str, dict[str, Any]] | None = None) -> str | None:
    """The plan condition of an object with a ``condition`` or ``compoundExpression`` (an
    AnalysisSet, DataSubset, Group or WhereClause); None when it has neither. A reference to
    another subset (``subClauseId``) is expanded from ``subsets``; KeyError if unknown."""
    if "condition" in holder:
        return condition_text(holder["condition"], own_dataset)
    if "subClauseId" in holder:
        return where_text((subsets or {})[holder["subClauseId"]], own_dataset, subsets)
    compound = holder.get("compoundExpression")
    if not compound:
        return None
    op = compound["logicalOperator"]
    parts = [where_text(c, own_dataset, subsets) for c in compound.get("whereClauses", [])]
    texts = [p for p in parts if p]
    if op == "NOT":
        return f"not ({texts[0]})" if texts else None
    joined = f" {op.lower()} ".join(f"({t})" if " and " in t or " or " in t else t
                                    for t in texts)
    return joined or None


def datasets_of(holder: dict[str, Any]) -> set[str]:
    """The datasets a where clause reads (upper case, as ARS names them)."""
    found: set[str] = set()
    if "condition" in holder and holder["condition"].get("dataset"):
        found.add(str(holder["condition"]["dataset"]))
    for c in holder.get("compoundExpression", {}).get("whereClauses", []):
        found |= datasets_of(c)
    return found
