"""Checks of ``aggregate`` statements and of where their values are used.

An aggregate derives one value per subject from the subject's records of an occurrence set
(``any``, ``count``, ``worst``, ``highest``, ``lowest``). Its declaration is checked here,
each problem where it is written: a function the language does not have, or arguments
that do not fit it (SAP270), an occurrence set the plan does not declare (SAP271), a
column its dataset lacks (SAP272), the levels of ``worst`` (empty, repeated, the
no-record level among them) and a ``none`` level given to another function (SAP273). A
record whose value is not listed is a data error found by the data preflight (SAP274,
``data/aggregates.py``). An aggregate has one value per subject over all its records,
whatever their visit: analysed as a value at a visit (``at week N``, ``by visit``, a
repeated-measures response) it would repeat one number as if it were measured there
(SAP275).

Once declared, an aggregate is a subject-level value like a column of the subject dataset:
the expression checker types it (``category`` for ``any`` and ``worst``, ``numeric``
otherwise) and refuses it in a row filter (SAP238).

Codes: SAP270-SAP275 (see docs/errors.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.bind import Bound, BoundAnalysis, analysis_chain, by_chain
from sap_engine.errors import did_you_mean
from sap_engine.methods import registry

if TYPE_CHECKING:
    from sap_engine.check import _Checker

# The roles that are the analysed value (not an adjustment, the arms or strata): the
# roles an aggregate cannot fill in an analysis at a visit.
_ADJUSTING = ("covariates", "factors", "strata", "treatment", "group", "dose")


def check_aggregate(ch: _Checker, agg: m.Aggregate) -> None:
    """The declaration against the catalogue, the plan's occurrence sets and the data."""
    spec = m.AGGREGATE_FUNCTIONS.get(agg.function)
    where = agg.function_loc if agg.function_loc.line else agg.loc
    if spec is None:
        ch.error("SAP270", f"aggregate '{agg.name}': unknown function '{agg.function}' "
                           f"(an aggregate is one of {', '.join(m.AGGREGATE_FUNCTIONS)})",
                 where, did_you_mean(agg.function, list(m.AGGREGATE_FUNCTIONS)),
                 width=len(agg.function))
        return
    reads_column, kind = spec
    ch.kinds[agg.name] = kind
    source = agg.source
    if reads_column and source.dataset is None:
        example = f"{agg.function}({source.name}.AESEV, [MILD, MODERATE, SEVERE])" \
            if agg.function == "worst" else f"{agg.function}({source.name}.AVAL)"
        ch.error("SAP270", f"aggregate '{agg.name}': {agg.function}() reads a column of the "
                           f"records: write {example}", source.loc or where)
    elif not reads_column and source.dataset is not None:
        ch.error("SAP270", f"aggregate '{agg.name}': {agg.function}() counts the records "
                           f"of an occurrence set and reads no column: write "
                           f"{agg.function}({source.dataset})", source.loc or where)
    if agg.function == "worst" and agg.levels is None:
        ch.error("SAP270", f"aggregate '{agg.name}': worst() needs the levels, mildest "
                           f"first: worst({source.text}, [MILD, MODERATE, SEVERE])", where)
    elif agg.function != "worst" and agg.levels is not None:
        ch.error("SAP270", f"aggregate '{agg.name}': only worst() takes a list of levels",
                 agg.levels_loc or where)
    if agg.none is not None and agg.function != "worst":
        ch.error("SAP273", f"aggregate '{agg.name}': 'none' names the level of a subject "
                           f"without records, which only worst() has ({agg.function}() "
                           f"gives {_without_records(agg.function)})", agg.none_loc or where)
    _check_levels(ch, agg)
    occ = ch.plan.occurrences.get(agg.occurrence)
    if occ is None:
        ch.error("SAP271", f"aggregate '{agg.name}': unknown occurrence set "
                           f"'{agg.occurrence}'", source.loc or where,
                 did_you_mean(agg.occurrence, list(ch.plan.occurrences)))
        return
    cols = ch.columns_of(occ.dataset)
    column = agg.column
    if column is None or not cols or not reads_column:
        return  # no column, or an unknown dataset (reported at the occurrence statement)
    if column not in cols:
        ch.error("SAP272", f"aggregate '{agg.name}': dataset '{occ.dataset}' of occurrence "
                           f"set '{occ.name}' has no column '{column}'", source.loc or where,
                 did_you_mean(column, list(cols)))
    elif kind == "numeric" and cols[column] != "numeric":
        ch.non_numeric(occ.dataset, column, source.loc or where,
                       f"aggregate '{agg.name}' ({agg.function})")


def _without_records(function: str) -> str:
    return {"any": '"N"', "count": "0"}.get(function, "a missing value")


def _check_levels(ch: _Checker, agg: m.Aggregate) -> None:
    """SAP273: the levels of worst() are given, distinct, and not the no-record level."""
    levels = agg.levels
    if agg.function != "worst" or levels is None:
        return
    where = agg.levels_loc if agg.levels_loc.line else agg.loc
    if not levels:
        ch.error("SAP273", f"aggregate '{agg.name}': worst() needs at least one level, "
                           "mildest first", where)
        return
    repeated = sorted({v for v in levels if levels.count(v) > 1})
    if repeated:
        ch.error("SAP273", f"aggregate '{agg.name}': level '{repeated[0]}' is listed twice "
                           "(the order of the levels says which is worse)", where)
    if agg.none_level in levels:
        ch.error("SAP273", f"aggregate '{agg.name}': the level of subjects without records, "
                           f"'{agg.none_level}', is also a listed level: a subject without "
                           "records would be counted with those who have one; name it with "
                           "'none \"...\"'", agg.none_loc if agg.none_loc.line else where)


def aggregates_in(plan: m.Plan, e: m.Expr) -> list[m.Col]:
    """The aggregate names in ``e``, through the endpoints it names (each once)."""
    found: list[m.Col] = []
    seen: set[str] = set()
    stack: list[object] = [e]
    while stack:
        for node in m.walk(stack.pop()):
            if not isinstance(node, m.Col) or node.dataset is not None:
                continue
            if node.name in plan.aggregates:
                found.append(node)
            elif node.name in plan.endpoints and node.name not in seen:
                seen.add(node.name)
                stack.append(plan.endpoints[node.name].expr)
    return found


def check_aggregate_uses(ch: _Checker, bound: dict[str, Bound]) -> None:
    """SAP275: an aggregate analysed as a value at a visit: the analysed value of an
    analysis at a visit (``at week N``, its estimand's visit, ``by visit``) or of a method
    whose unit is the subject and visit (a repeated-measures response); an estimand whose
    variable is one at a visit."""
    plan = ch.plan
    if not plan.aggregates:
        return
    for a in plan.analyses.values():
        b = bound.get(analysis_chain(plan, a).name)
        why = _at_visit(plan, a, b)
        if not isinstance(b, BoundAnalysis) or why is None:
            continue
        if a.base and _at_visit(plan, plan.analyses[a.base], b) is not None:
            continue  # reported at the analysis it repeats
        for role, terms in b.roles:
            if role in _ADJUSTING:
                continue
            for t in terms:
                for col in dict.fromkeys(c.name for c in aggregates_in(plan, t.expr)):
                    through = "" if isinstance(t.expr, m.Col) and t.expr.name == col else \
                        f" (in '{t.name}')"
                    ch.error("SAP275", _per_visit_text(col, f"analysis {a.name}", why,
                                                       through),
                             t.expr.loc if t.expr.loc.line else a.loc)
    for est in plan.estimands.values():
        if est.variable is not None and est.visit is not None:
            for col in dict.fromkeys(c.name for c in aggregates_in(plan, est.variable)):
                ch.error("SAP275", _per_visit_text(
                    col, f"estimand {est.name}",
                    f"its variable is at week {m._num(est.visit)}"),
                    est.variable.loc if est.variable.loc.line else est.loc)


def _at_visit(plan: m.Plan, a: m.Analysis, b: Bound | None) -> str | None:
    """Why the analysed value of ``a`` (bound as ``b``) is a value at a visit; None if not."""
    if not isinstance(b, BoundAnalysis):
        return None
    method = registry.get(b.method)
    if any(item.name == "visit" for item in by_chain(plan, a)):
        return "'by visit'"
    if method is not None and method.unit == registry.SUBJECT_VISIT:
        return f"method '{b.method}' analyses every visit"
    if b.visit is not None:
        return f"the analysis is at week {m._num(b.visit)}"
    return None


def _per_visit_text(name: str, who: str, why: str, through: str = "") -> str:
    return (f"{who}: aggregate '{name}'{through} has one value per subject over all its records, "
            f"not a value at a visit, but {why}; analyse it without a visit (remove "
            "'at week N' or 'by visit'), or derive a parameter for the per-visit values")
