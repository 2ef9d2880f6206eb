"""Expressions of the plan language evaluated on pandas Series.

Missing values in comparisons follow two rules (docs/language.md, "Missing values"):

- in a *selection* (a population's or parameter's ``where``, an intercurrent event's
  condition: ``selection=True``) a comparison is never missing. A missing text value
  compares as the empty string, as in SAS, so ``DTYPE != "LOCF"`` keeps the rows without a
  DTYPE. A missing number makes ``==``, ``<``, ``<=``, ``>``, ``>=`` false and ``!=`` true
  (unlike SAS, where a missing number is below every number: ``AVAL < 5`` selecting the
  rows without an AVAL would be a wrong number). ``in`` / ``not in`` follow ``==`` / ``!=``.
- in a *value* (an endpoint, a responder definition) a comparison with a missing operand
  stays missing, so the endpoint's missing-data rule (observed case, non-responder, ...)
  sees the subject without data instead of a silent "N".

``X is missing`` / ``X is not missing`` is 1 or 0 in both (a null, or an empty text). Binary
results are floats 1.0 / 0.0 (missing as NaN), which ``and`` / ``or`` combine as min / max.
Names and functions are resolved by the caller (``column`` and ``call``), so the same
evaluator serves row filters on one dataset and subject-level endpoints.

Arithmetic and the functions ``log``, ``exp``, ``sqrt`` never turn present values into
non-finite ones silently: ``x / 0``, ``log(0)``, ``sqrt(-1)`` or an overflow call the
caller's ``guard``, which by default raises :class:`NonFiniteError` (the caller locates it
in the plan and names a subject), because a NaN would otherwise pass for a missing value
and an infinity would poison a mean or a model. A guard may instead let values pass that
no analysis uses (a subject outside the population). A missing operand still gives a
missing result. numpy's warnings for these cases are silenced: the error says it instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sap_engine import model as m
from sap_engine.functions import FUNCTIONS

_COMPARE = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b}

# A pd.Series (of float or text), a float, or a str; pandas has no type information here.
Value = Any
# guard(expression, index labels of the non-finite entries, number of entries, reason)
Guard = Callable[[m.Expr, list, int, str], None]


class NonFiniteError(Exception):
    """An operation gave infinity or NaN where its operands were present and finite."""

    def __init__(self, expr: m.Expr, labels: list, total: int, reason: str):
        self.expr = expr
        self.labels = labels  # index labels of the offending entries (empty for a constant)
        self.total = total
        self.reason = reason
        super().__init__(f"{reason} ({len(labels) or 1} of {total})")

    @property
    def count(self) -> int:
        return len(self.labels) or 1


def refuse(e: m.Expr, labels: list, total: int, reason: str) -> None:
    """The default guard: any non-finite result is an error."""
    raise NonFiniteError(e, labels, total, reason)


def evaluate(e: m.Expr, column: Callable[[m.Col], Value], call: Callable[[m.Call], Value],
             guard: Guard = refuse, selection: bool = False) -> Value:
    """Evaluate an expression; ``selection``: the comparison rules of a row or subject
    selection (a comparison is never missing), else those of a value (missing stays
    missing)."""
    return _evaluate(e, column, call, guard, selection)


def _evaluate(e: m.Expr, column: Callable[[m.Col], Value],  # noqa: C901 - one case per node
              call: Callable[[m.Call], Value], guard: Guard, sel: bool) -> Value:
    if isinstance(e, m.Num):
        return e.value
    if isinstance(e, m.Str):
        return e.value
    if isinstance(e, m.Bool):
        return 1.0 if e.value else 0.0
    if isinstance(e, m.Inf):
        return math.inf
    if isinstance(e, m.Col):
        return column(e)
    if isinstance(e, m.Call):
        return call(e)
    if isinstance(e, m.Neg):
        return -_as_float(_evaluate(e.operand, column, call, guard, sel))
    if isinstance(e, m.Not):
        v = _as_float(_evaluate(e.operand, column, call, guard, sel))
        return 1.0 - v
    if isinstance(e, m.InSet):
        s = _evaluate(e.operand, column, call, guard, sel)
        wanted = [_evaluate(x, column, call, guard, sel) for x in e.values]
        if _numeric(s):
            hit = s.isin(wanted)  # a missing number is in no set
        else:
            hit = _text(s, sel).isin([str(w) for w in wanted])
        out = hit.astype(float) if sel else hit.astype(float).where(s.notna())
        return 1.0 - out if e.negated else out
    if isinstance(e, m.IsMissing):
        absent = _absent(_evaluate(e.operand, column, call, guard, sel))
        return 1.0 - absent if e.negated else absent
    if isinstance(e, m.Cut):
        v = _evaluate(e.operand, column, call, guard, sel).astype(float)
        out = pd.Series(pd.NA, index=v.index, dtype="object")
        for iv in e.intervals:
            lo = v >= iv.lower if iv.lower_closed else v > iv.lower
            hi = v <= iv.upper if iv.upper_closed else v < iv.upper
            out.loc[(lo & hi & out.isna()).to_numpy()] = iv.display
        return out
    if isinstance(e, m.BinOp):
        left = _evaluate(e.left, column, call, guard, sel)
        right = _evaluate(e.right, column, call, guard, sel)
        if e.op in ("and", "or"):
            lf, rf = _as_float(left), _as_float(right)
            return np.minimum(lf, rf) if e.op == "and" else np.maximum(lf, rf)
        if e.op in _COMPARE:
            return compare(e.op, left, right, sel)
        return arithmetic(e, _as_float(left), _as_float(right), guard)
    raise TypeError(f"cannot evaluate {e!r}")


def compare(op: str, left: Value, right: Value, selection: bool) -> Value:
    """``left op right`` as 1.0 / 0.0: never missing in a selection, else missing where an
    operand is (the module's docstring)."""
    name = _COMPARE[op]
    series = [v for v in (left, right) if isinstance(v, pd.Series)]
    text = isinstance(left, str) or isinstance(right, str) or (
        len(series) == 2 and not _numeric(left) and not _numeric(right))
    if not series:  # two constants: a constant truth value
        if text:
            lt, rt = ("" if pd.isna(v) else str(v) for v in (left, right))
            return float(getattr(pd.Series([lt]), name)(rt).iloc[0])
        lf, rf = _as_float(left), _as_float(right)
        if pd.isna(lf) or pd.isna(rf):
            return (1.0 if op == "!=" else 0.0) if selection else float("nan")
        return float(getattr(pd.Series([lf]), name)(rf).iloc[0])
    if text:
        lv = _text(left, selection) if isinstance(left, pd.Series) else str(left)
        rv = _text(right, selection) if isinstance(right, pd.Series) else str(right)
        if not isinstance(lv, pd.Series):  # `"LOCF" != DTYPE`: the constant in every row
            lv = pd.Series(lv, index=rv.index, dtype=object)
        result = getattr(lv, name)(rv).astype(float)
    else:
        lf, rf = _as_float(left), _as_float(right)
        if not isinstance(lf, pd.Series):  # `40 < AGE`: the constant in every row
            lf = pd.Series(lf, index=rf.index, dtype=float)
        # pandas: NaN == x, NaN < x ... are False and NaN != x is True, the selection rule.
        result = getattr(lf, name)(rf).astype(float)
    if selection:
        return result
    missing = series[0].isna()
    for other in (left, right):
        missing = missing | (other.isna() if isinstance(other, pd.Series) else pd.isna(other))
    return result.where(~missing)


def arithmetic(e: m.BinOp, lf: Value, rf: Value, guard: Guard = refuse) -> Value:
    """``lf op rf``; a non-finite result from present operands raises NonFiniteError."""
    with np.errstate(all="ignore"):
        # np.float64, not float: 1 / 0 of two constants is inf (reported), not an exception.
        out = _ARITHMETIC[e.op](np.float64(lf) if isinstance(lf, float) else lf, rf)

    def reason(i: int | None) -> str:
        if e.op == "/" and _at(rf, i) == 0:
            return "division by zero"
        return "the result overflows" if e.op != "/" else "the quotient overflows"

    _require_finite(e, out, (lf, rf), reason, guard)
    return float(out) if isinstance(out, np.floating) else out


def apply_math(c: m.Call, arg: Value, guard: Guard = refuse) -> Value:
    """``abs``, ``log``, ``exp`` or ``sqrt`` of a float Series (or number)."""
    with np.errstate(all="ignore"):
        out = getattr(np, FUNCTIONS[c.function].numpy or "")(arg)

    def reason(i: int | None) -> str:
        if c.function == "log":
            return "log() of a value <= 0" if _at(arg, i) <= 0 else "log() overflows"
        if c.function == "sqrt":
            return "sqrt() of a negative value"
        return f"{c.function}() overflows (its argument is {_at(arg, i):g})"

    _require_finite(c, out, (arg,), reason, guard)
    return out


def _require_finite(e: m.Expr, out: Value, operands: tuple, reason: Callable,
                    guard: Guard) -> None:
    if isinstance(out, pd.Series):
        values = out.to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        for op in operands:
            if isinstance(op, pd.Series):
                bad &= ~np.isnan(op.to_numpy(dtype=float))
            elif math.isnan(op):
                return
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            guard(e, list(out.index[bad]), len(values), reason(first))
    elif not math.isfinite(out) and not any(math.isnan(op) for op in operands):
        refuse(e, [], 1, reason(None))  # a constant: no subject makes it better


def _at(v: Value, i: int | None) -> float:
    return float(v.iloc[i]) if isinstance(v, pd.Series) and i is not None else float(v)


def _text(s: pd.Series, selection: bool) -> pd.Series:
    """A text column as str; in a selection, missing as the empty string (SAS)."""
    if selection:
        return s.astype(object).where(s.notna(), "").astype(str)
    return s.astype(str)


def _absent(v: Value) -> Value:
    """1.0 where ``v`` is missing (null, NaN, or an empty text), else 0.0."""
    if isinstance(v, pd.Series):
        empty = v.astype(object).map(lambda x: isinstance(x, str) and x == "")
        return (v.isna() | empty.astype(bool)).astype(float)
    return float(pd.isna(v) or v == "")


def _numeric(v: Value) -> bool:
    return isinstance(v, (int, float)) or pd.api.types.is_numeric_dtype(v)


def _as_float(v: Value) -> Value:
    if isinstance(v, pd.Series):
        return pd.to_numeric(v, errors="coerce").astype(float)
    return float(v)
