"""Expressions of the plan language evaluated on pandas Series.

Missing values propagate: a comparison with a missing operand is missing, never True, so
a filter or responder definition cannot silently count a patient without data. Binary
results are floats 1.0 / 0.0 (missing as NaN), which ``and`` / ``or`` combine as min / max.
Names and functions are resolved by the caller (``column`` and ``call``), so the same
evaluator serves row filters on one dataset and subject-level endpoints.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sap_engine import model as m

_COMPARE = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def evaluate(e: m.Expr, column, call) -> pd.Series | float | str:  # noqa: C901 - one case per node
    """Evaluate an expression; missing operands give missing results (never True)."""
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
        return -evaluate(e.operand, column, call)
    if isinstance(e, m.Not):
        v = _as_float(evaluate(e.operand, column, call))
        return 1.0 - v
    if isinstance(e, m.InSet):
        v = evaluate(e.operand, column, call)
        wanted = [evaluate(x, column, call) for x in e.values]
        hit = v.astype(str).isin([str(w) for w in wanted]) if not _numeric(v) else v.isin(wanted)
        out = hit.astype(float).where(v.notna())
        return 1.0 - out if e.negated else out
    if isinstance(e, m.Cut):
        v = evaluate(e.operand, column, call).astype(float)
        out = pd.Series(pd.NA, index=v.index, dtype="object")
        for iv in e.intervals:
            lo = v >= iv.lower if iv.lower_closed else v > iv.lower
            hi = v <= iv.upper if iv.upper_closed else v < iv.upper
            out.loc[(lo & hi & out.isna()).to_numpy()] = iv.display
        return out
    if isinstance(e, m.BinOp):
        left, right = evaluate(e.left, column, call), evaluate(e.right, column, call)
        if e.op in ("and", "or"):
            lf, rf = _as_float(left), _as_float(right)
            return np.minimum(lf, rf) if e.op == "and" else np.maximum(lf, rf)
        if e.op in _COMPARE:
            if isinstance(left, pd.Series) and not _numeric(left) and isinstance(right, str):
                missing = left.isna()
                result = getattr(left.astype(str), _COMPARE[e.op])(right).astype(float)
            else:
                lf, rf = _as_float(left), _as_float(right)
                result = getattr(lf, _COMPARE[e.op])(rf) if isinstance(lf, pd.Series) else \
                    getattr(pd.Series([lf]), _COMPARE[e.op])(rf)
                result = result.astype(float)
                missing = lf.isna() if isinstance(lf, pd.Series) else rf.isna()
            return result.where(~missing)
        lf, rf = _as_float(left), _as_float(right)
        return {"+": lambda: lf + rf, "-": lambda: lf - rf, "*": lambda: lf * rf,
                "/": lambda: lf / rf}[e.op]()
    raise TypeError(f"cannot evaluate {e!r}")


def _numeric(v) -> bool:
    return isinstance(v, (int, float)) or pd.api.types.is_numeric_dtype(v)


def _as_float(v):
    if isinstance(v, pd.Series):
        return pd.to_numeric(v, errors="coerce").astype(float)
    return float(v)
