"""Treatment levels of an analysis population that the plan does not declare as arms.

A subject whose treatment value is not an arm is counted in a table's Total but in no arm
column (so the arms do not add up to the total), and a model refuses it at run time
(SAP435). When the population's filter is simple enough to evaluate on the subject
dataset's columns alone (comparisons of a column with a literal, ``in`` sets, ``and``,
``or``, ``not``), the checker sees which subjects it keeps and reports an undeclared level
at the ``treatment`` block. Filters on parameters or endpoints are left to ``run``.

The evaluation follows the selection rules of ``data/expressions.py`` exactly: a missing
text compares as the empty string, a missing number makes every comparison false but
``!=`` (and ``in`` false, ``not in`` true), ``is missing`` is true for a null or an empty
text, and only a result of 1 keeps a row.

Code: SAP241 (see docs/errors.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sap_engine import model as m

if TYPE_CHECKING:
    from sap_engine.check import _Checker
    from sap_engine.data.sources import Dataset

_UNKNOWN = object()  # the filter cannot be evaluated here
_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


class _Rows:
    """Columns of the subject dataset as Python lists, read on demand."""

    def __init__(self, ds: Dataset, first: str):
        # Column by column: a Parquet file is then read no further than the filter needs.
        self.ds = ds
        self._cols: dict[str, list] = {first: ds.column(first).to_pylist()}
        self.n = len(self._cols[first])

    def column(self, col: m.Col) -> list | None:
        if col.dataset not in (None, self.ds.name) or col.name not in self.ds.columns:
            return None
        if col.name not in self._cols:
            self._cols[col.name] = self.ds.column(col.name).to_pylist()
        return self._cols[col.name]


def _flag(x: bool | None) -> float | None:
    return None if x is None else float(x)


def _literal(e: m.Expr) -> Any:
    if isinstance(e, m.Str):
        return e.value
    if isinstance(e, m.Num):
        return e.value
    return _UNKNOWN


def _evaluate(e: m.Expr, rows: _Rows, kinds: dict[str, str]) -> Any:  # noqa: C901
    """A list of 1.0 / 0.0 / None per row, or _UNKNOWN."""
    if isinstance(e, m.Bool):
        return [float(e.value)] * rows.n
    if isinstance(e, m.Not):
        inner = _evaluate(e.operand, rows, kinds)
        return inner if inner is _UNKNOWN else [None if v is None else 1.0 - v for v in inner]
    if isinstance(e, m.BinOp) and e.op in ("and", "or"):
        left, right = _evaluate(e.left, rows, kinds), _evaluate(e.right, rows, kinds)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        pick = min if e.op == "and" else max
        return [None if a is None or b is None else pick(a, b) for a, b in zip(left, right)]
    if isinstance(e, m.BinOp) and e.op in _COMPARE:
        col, lit, flip = (e.left, e.right, False) if isinstance(e.left, m.Col) else \
            (e.right, e.left, True)
        values = rows.column(col) if isinstance(col, m.Col) else None
        value = _literal(lit)
        if not isinstance(col, m.Col) or values is None or value is _UNKNOWN \
                or not _same_kind(kinds[col.name], value):
            return _UNKNOWN
        op = _COMPARE[e.op]
        text = isinstance(value, str)
        if not text:  # a missing number: only `!=` is true
            return [float(e.op == "!=") if _absent(v) else
                    _flag(op(value, float(v)) if flip else op(float(v), value)) for v in values]
        return [_flag(op(value, _cell(v, text)) if flip else op(_cell(v, text), value))
                for v in values]
    if isinstance(e, m.InSet) and isinstance(e.operand, m.Col):
        values = rows.column(e.operand)
        wanted = [_literal(x) for x in e.values]
        kind = kinds.get(e.operand.name, "")
        if values is None or any(w is _UNKNOWN or not _same_kind(kind, w) for w in wanted):
            return _UNKNOWN
        text = kind != "numeric"
        keep = {str(w) for w in wanted} if text else set(wanted)
        hit = [0.0 if not text and _absent(v) else float(_cell(v, text) in keep)
               for v in values]
        return [1.0 - h for h in hit] if e.negated else hit
    if isinstance(e, m.IsMissing) and isinstance(e.operand, m.Col):
        values = rows.column(e.operand)
        if values is None:
            return _UNKNOWN
        return [float(_absent(v) != e.negated) for v in values]
    return _UNKNOWN


def _same_kind(kind: str, value: Any) -> bool:
    return (kind == "numeric") == (not isinstance(value, str)) and kind in ("numeric",
                                                                           "string")


def _cell(v: Any, text: bool) -> Any:
    """A text cell as str, missing as "" (SAS); a number as float."""
    if text:
        return "" if v is None else str(v)
    return float(v)


def _absent(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, float) and v != v)  # v != v: NaN


def kept_rows(e: m.Expr | None, rows: _Rows, kinds: dict[str, str]) -> list[bool] | None:
    """Which rows a filter keeps (all without one), or None if it cannot be evaluated."""
    if e is None:
        return [True] * rows.n
    try:
        values = _evaluate(e, rows, kinds)
    except RecursionError:  # a filter of thousands of terms: left to run
        return None
    return None if values is _UNKNOWN else [v == 1.0 for v in values]


def _uses(plan: m.Plan) -> list[m.PopulationUse]:
    uses: list[m.PopulationUse] = []
    for a in plan.analyses.values():
        if a.base:
            continue
        est = plan.estimands.get(a.estimand or "")
        use = a.population or (est.population if est else None)
        if use is not None:
            uses.append(use)
    displays: list[m.Table | m.Figure] = [*plan.tables, *plan.figures]
    uses += [d.population for d in displays if d.population]
    return uses


def check_arm_levels(ch: _Checker) -> None:
    """SAP241: a population of an analysis or display holds subjects of an undeclared arm."""
    plan, trt = ch.plan, ch.plan.treatment
    if trt is None or ch.subjects is None:
        return
    ds = ch.datasets[ch.subjects]
    if trt.column.name not in ds.columns:
        return
    from sap_engine.data.sources import _as_text

    rows = _Rows(ds, trt.column.name)
    arms = {arm.level for arm in trt.arms}
    treatment = rows.column(m.Col(trt.column.name)) or []
    key = next((s.keys[0] for s in plan.sources if s.name == ch.subjects and s.keys), None)
    ids = rows.column(m.Col(key)) if key else None
    reported: set[str] = set()
    seen: set[tuple] = set()
    for use in _uses(plan):
        pop = plan.populations.get(use.name)
        if pop is None or pop.dataset != ch.subjects or (use.name, use.where) in seen:
            continue
        seen.add((use.name, use.where))
        keep, narrow = kept_rows(pop.where, rows, ds.columns), kept_rows(use.where, rows,
                                                                          ds.columns)
        if keep is None or narrow is None:
            continue  # left to run (SAP435 at the analysis)
        extra: dict[str, list[int]] = {}
        for i, level in enumerate(treatment):
            if keep[i] and narrow[i] and level is not None and _as_text(level) not in arms:
                extra.setdefault(_as_text(level), []).append(i)
        for level, where in extra.items():
            if level in reported:
                continue
            reported.add(level)
            first = f", e.g. {ids[where[0]]}" if ids else ""
            ch.error("SAP241", f"treatment '{trt.column.name}' has level '{level}' that is "
                               f"not an arm ({len(where)} subject(s) of population "
                               f"{use.name}{first}): declare it with 'arm {level}' or leave "
                               "it out with the population's filter", trt.loc,
                     width=len("treatment"))
