"""Checks of a plan's definitions on their own, before any name is resolved against data.

The plan model keeps statements in source order and builds its name lookups last-wins
(``Plan.named``), and its single blocks (``treatment``, ``visits``...) first-wins. A plan
that defines a name twice would therefore run with one definition silently dropped, so
every repetition is an error here, at the second definition, naming the first. The same
goes for definitions that are well-formed but cannot mean what they say: an arm listed
twice, a contrast of an arm with itself, a ``cut`` whose intervals are empty, overlap or
share a label, an item repeated within a statement, and endpoints or analyses defined
through each other.

Codes: SAP225-SAP233, SAP240, SAP242 (see docs/errors.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.functions import TAKES_PARAMETER

if TYPE_CHECKING:
    from sap_engine.check import _Checker

# Blocks a plan has at most once (the model reads the first and ignores the others).
SINGLE_BLOCKS: tuple[tuple[type, str], ...] = (
    (m.Study, "study"), (m.Treatment, "treatment"), (m.Visits, "visits"),
    (m.Document, "document"))

# Names an expression looks up in one namespace (`name_kind`, `subject_eval`): a parameter
# and an endpoint of the same name would resolve to whichever the lookup tries first.
_VALUE_KINDS = (m.Parameter, m.Endpoint, m.Aggregate)
# Words that `by`, `columns` and models read before any plan name.
RESERVED = {"treatment": "the arms", "total": "all arms together",
            "visit": "the scheduled visits"}


def _kind_word(s: object) -> str:
    if isinstance(s, m.Endpoint):
        return s.kind  # "endpoint" or "stratum"
    return {m.Population: "population", m.Parameter: "parameter",
            m.Intercurrent: "intercurrent event", m.Estimand: "estimand",
            m.Analysis: "analysis", m.Table: "table", m.Figure: "figure",
            m.Labels: "labels for", m.Source: "dataset",
            m.Occurrence: "occurrence set", m.Aggregate: "aggregate"}[type(s)]


def _key(s: object) -> tuple[str, str] | None:
    """(namespace, name) of a definition; None for statements that define no name."""
    if isinstance(s, _VALUE_KINDS):
        return ("value", s.name)
    if isinstance(s, (m.Population, m.Intercurrent, m.Estimand, m.Analysis, m.Occurrence)):
        return (type(s).__name__, s.name)
    if isinstance(s, (m.Table, m.Figure)):
        return (type(s).__name__, s.number)
    if isinstance(s, m.Labels):
        return ("labels", s.column.name)
    if isinstance(s, m.Source):
        return ("source", s.name)
    return None


def _definitions(plan: m.Plan) -> list[object]:
    out: list[object] = []
    for s in plan.statements:
        out.extend(s.sources if isinstance(s, m.DataBlock) else (s,))
    return out


def check_unique(ch: _Checker) -> None:
    """SAP225 a name defined twice, SAP226 a single block repeated, SAP227 a parameter and
    an endpoint or stratum sharing a name."""
    first: dict[tuple[str, str], object] = {}
    for s in _definitions(ch.plan):
        key = _key(s)
        if key is None:
            continue
        loc: m.Loc = s.loc  # type: ignore[attr-defined]
        if key[0] == "value" and key[1] in RESERVED:
            ch.error("SAP227", f"{_kind_word(s)} '{key[1]}' has a name the language reserves "
                               f"('{key[1]}' in 'by', 'columns' and models means "
                               f"{RESERVED[key[1]]}); rename it", loc)
        earlier = first.get(key)
        if earlier is None:
            first[key] = s
            continue
        line = earlier.loc.line  # type: ignore[attr-defined]
        word, name = _kind_word(s), key[1]
        if isinstance(s, _VALUE_KINDS) and type(s) is not type(earlier) \
                or isinstance(s, m.Endpoint) and isinstance(earlier, m.Endpoint) \
                and s.kind != earlier.kind:
            kinds = "parameters, endpoints and strata" if not isinstance(
                s, m.Aggregate) and not isinstance(earlier, m.Aggregate) else \
                "parameters, endpoints, strata and aggregates"
            ch.error("SAP227", f"{word} '{name}' has the name of {_kind_word(earlier)} "
                               f"'{name}' (line {line}): {kinds} share one namespace; "
                               "rename one", loc)
        elif isinstance(s, m.Labels):
            ch.error("SAP225", f"labels for '{name}' are given twice (first at line {line})",
                     loc)
        elif isinstance(s, (m.Table, m.Figure)):
            ch.error("SAP225", f"{word} number '{name}' is used twice (first at line {line})",
                     loc)
        else:
            ch.error("SAP225", f"{word} '{name}' is defined twice (first at line {line})",
                     loc)
    for kind, word in SINGLE_BLOCKS:
        found = ch.plan._of(kind)
        for again in found[1:]:
            ch.error("SAP226", f"a second '{word}' block (the first is at line "
                               f"{found[0].loc.line}); a plan has one", again.loc)
    marked = [s for s in ch.plan.sources if s.subjects]
    for again in marked[1:]:
        ch.error("SAP226", f"dataset '{again.name}' is marked 'subjects', like "
                           f"'{marked[0].name}' (line {marked[0].loc.line}); a plan has one "
                           "subject-level dataset", again.loc)


def check_arms(ch: _Checker) -> None:
    """SAP228: an arm listed twice would be counted twice in every table."""
    trt = ch.plan.treatment
    if trt is None:
        return
    seen: dict[str, m.Arm] = {}
    for arm in trt.arms:
        if arm.level in seen:
            ch.error("SAP228", f"arm '{arm.level}' is listed twice (first at line "
                               f"{seen[arm.level].loc.line})", arm.loc)
        else:
            seen[arm.level] = arm


def check_contrasts(ch: _Checker) -> None:
    """SAP229: ``contrast A - A`` is a difference of 0 with a meaningless test."""
    for a in ch.plan._of(m.Analysis):
        for c in a.contrasts:
            if c.left == c.right:
                ch.error("SAP229", f"contrast compares arm '{c.left}' with itself; name two "
                                   "different arms", c.loc)


# ---- cut intervals


def _empty(iv: m.Interval) -> bool:
    return iv.lower > iv.upper or (iv.lower == iv.upper
                                   and not (iv.lower_closed and iv.upper_closed))


def _overlap(a: m.Interval, b: m.Interval) -> bool:
    """Whether two non-empty intervals share a value."""
    if a.lower != b.lower:
        lo, lo_closed = max((a.lower, a.lower_closed), (b.lower, b.lower_closed))
    else:
        lo, lo_closed = a.lower, a.lower_closed and b.lower_closed
    if a.upper != b.upper:
        hi, hi_closed = min((a.upper, a.upper_closed), (b.upper, b.upper_closed))
    else:
        hi, hi_closed = a.upper, a.upper_closed and b.upper_closed
    return lo < hi or (lo == hi and lo_closed and hi_closed)


def check_cut(ch: _Checker, cut: m.Cut) -> None:
    """SAP230 an empty or reversed interval, SAP231 overlapping intervals (a value in both
    would silently go to the first), SAP232 two intervals shown with the same text."""
    kept: list[m.Interval] = []
    shown: dict[str, m.Interval] = {}
    for iv in cut.intervals:
        loc = iv.loc if iv.loc.line else cut.loc
        if _empty(iv):
            hint = "write the lower bound first" if iv.lower > iv.upper else \
                f"one value is written [{m._num(iv.lower)}, {m._num(iv.lower)}]"
            what = "reversed" if iv.lower > iv.upper else "empty"
            ch.error("SAP230", f"interval {iv.text} is {what}: no value falls in it "
                               f"({hint})", loc)
        else:
            other = next((k for k in kept if _overlap(k, iv)), None)
            if other is not None:
                ch.error("SAP231", f"interval {iv.text} overlaps {other.text}: a value in "
                                   "both would be counted in the first only", loc)
            kept.append(iv)
        if iv.display in shown:
            ch.error("SAP232", f"two intervals of this cut are shown as '{iv.display}' "
                               f"({shown[iv.display].text} and {iv.text}); give each its "
                               "own label", loc)
        else:
            shown[iv.display] = iv


def _cuts(e: object) -> list[m.Cut]:
    """Every ``cut`` inside an expression (iteratively: plans may nest deeply)."""
    found, stack = [], [e]
    while stack:
        node = stack.pop()
        if isinstance(node, m.Cut):
            found.append(node)
        stack.extend(m.children(node))
    return found


def plan_expressions(plan: m.Plan) -> list[object]:
    """The expressions of a plan that hold endpoint values (endpoints, strata, analyses)."""
    out: list[object] = [ep.expr for ep in plan._of(m.Endpoint)]
    for a in plan._of(m.Analysis):
        out += [a.response, a.terms, *a.variables, *(a.crosstab or ()),
                *(r.expr for r in a.roles)]
        if a.population and a.population.where is not None:
            out.append(a.population.where)
    out += [est.variable for est in plan._of(m.Estimand)]
    return [e for e in out if e is not None]


def check_cuts(ch: _Checker) -> None:
    for e in plan_expressions(ch.plan):
        for cut in _cuts(e):
            check_cut(ch, cut)


# ---- endpoints defined through each other


def _endpoint_refs(e: object, plan: m.Plan) -> list[str]:
    """Endpoints an expression reads. As at run time, a name is a parameter before it is
    an endpoint, and the argument of ``change()``, ``max()``... is always a parameter."""
    names, stack = [], [e]
    while stack:
        node = stack.pop()
        if isinstance(node, m.Col) and node.dataset is None and node.name in plan.endpoints \
                and node.name not in plan.parameters:
            names.append(node.name)
        if not (isinstance(node, m.Call) and node.function in TAKES_PARAMETER):
            stack.extend(m.children(node))
    return names


def check_cycles(ch: _Checker) -> None:
    """SAP233: an endpoint whose definition comes back to itself has no value."""
    endpoints = ch.plan.endpoints
    refs = {name: _endpoint_refs(ep.expr, ch.plan) for name, ep in endpoints.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in endpoints:
        if state.get(start):
            continue
        path = [start]
        todo = [iter(refs[start])]
        state[start] = 1
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                todo.pop()
                continue
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                ep = endpoints[nxt]
                what = "itself" if len(cycle) == 2 else "other endpoints that use it"
                ch.error("SAP233", f"{ep.kind} '{nxt}' is defined through {what} "
                                   f"({' -> '.join(cycle)})", ep.loc)
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                todo.append(iter(refs[nxt]))


def check_analysis_cycles(ch: _Checker) -> None:
    """SAP233: ``X = Y by s`` statements that come back to X repeat nothing."""
    analyses = ch.plan.analyses
    for a in analyses.values():
        path, node = [a.name], a
        while node.base and node.base in analyses and node.base not in path:
            node = analyses[node.base]
            path.append(node.name)
        if node.base == a.name:
            cycle = " -> ".join([*path, a.name])
            ch.error("SAP233", f"analysis '{a.name}' is defined through itself ({cycle})",
                     a.loc)


# ---- items repeated inside one statement


def _repeats(items: list[tuple[str, m.Loc]]) -> list[tuple[str, m.Loc]]:
    seen: set[str] = set()
    out = []
    for text, loc in items:
        if text in seen:
            out.append((text, loc))
        seen.add(text)
    return out


def check_repeats(ch: _Checker) -> None:
    """SAP242: a ``by`` item, variable, contrast or option given twice in an analysis, or
    a key given twice in a ``labels`` block (the model keeps the last, or the run stores
    one result twice)."""
    for a in ch.plan._of(m.Analysis):
        where = a.loc
        if len(a.variables) > 1:  # fmt costs a cold `check` ~15 ms to import
            from sap_engine.fmt import expr

            variables = [(expr(v), v.loc) for v in a.variables]
        else:
            variables = []
        lists = (
            ("'by' item", [(b.name, b.loc) for b in a.by]),
            ("variable", variables),
            ("contrast", [(c.label, c.loc) for c in a.contrasts]),
            ("option", [(o.name, o.loc) for o in a.options]),
        )
        for what, items in lists:
            for text, loc in _repeats(items):
                ch.error("SAP242", f"analysis '{a.name}': {what} '{text}' is given twice",
                         loc if loc.line else where)
    for table in ch.plan._of(m.Table):
        _table_repeats(ch, table)
    for lab in ch.plan._of(m.Labels):
        locs = list(lab.item_locs) + [lab.loc] * (len(lab.items) - len(lab.item_locs))
        for key, loc in _repeats([(k, loc) for (k, _), loc in zip(lab.items, locs)]):
            ch.error("SAP242", f"labels for '{lab.column.name}': the value \"{key}\" is "
                               "labelled twice", loc)


def _table_repeats(ch: _Checker, table: m.Table) -> None:
    """SAP242 in a table: an analysis named twice in one ``rows`` (``rows A1, A1``), a
    ``show`` item given twice, or a ``rows`` statement repeated as it is: each would be
    rendered twice."""
    seen: dict[tuple, m.TableRows] = {}
    for rows in table.rows:
        where = f"table {table.number}"
        names = [(name, rows.loc) for name in (rows.analysis, *rows.also)]
        for name, loc in _repeats(names):
            ch.error("SAP242", f"{where}: analysis '{name}' is given twice in one 'rows' "
                               "(its rows would be shown twice)", loc)
        show = [(item.name, item.loc if item.loc.line else rows.loc) for item in rows.show]
        for name, loc in _repeats(show):
            ch.error("SAP242", f"{where}: 'show {name}' is given twice (the statistic would be "
                               "shown twice)", loc)
        key = (rows.analysis, rows.also, tuple(i.name for i in rows.show))
        first = seen.setdefault(key, rows)
        if first is not rows:
            ch.error("SAP242", f"{where}: 'rows {', '.join((rows.analysis, *rows.also))}' is "
                               f"given twice (first at line {first.loc.line}): its rows would "
                               "be shown twice", rows.loc)


def check_family_keys(ch: _Checker) -> None:
    """SAP240: a family's members are the values of its ``by`` columns within a subject
    and visit; the subject key, the visit, the value and the baseline columns already
    index or hold the values, so a family over them has no meaning (and cannot run)."""
    key = next((s.keys[0] for s in ch.plan.sources if s.name == ch.subjects and s.keys),
               "USUBJID")
    visit = ch.plan.visits.column.name if ch.plan.visits else "AVISITN"
    for p in ch.plan._of(m.Parameter):
        roles = {key: "the subject key", visit: "the visit variable",
                 p.source.name: "the parameter's value column"}
        if p.baseline_column:
            roles[p.baseline_column.name] = "the parameter's baseline column"
        seen: set[str] = set()
        for by in p.by:
            if by in seen:
                ch.error("SAP240", f"parameter '{p.name}': 'by {by}' is given twice", p.loc)
            elif by in roles:
                ch.error("SAP240", f"parameter '{p.name}': a family cannot be 'by {by}', "
                                   f"{roles[by]}; 'by' names the columns that tell the "
                                   "members apart (e.g. a body area)", p.loc)
            seen.add(by)


def check_definitions(ch: _Checker) -> None:
    """Every check of this module, in source order of the problems they find."""
    check_unique(ch)
    check_arms(ch)
    check_contrasts(ch)
    check_repeats(ch)
    check_cuts(ch)
    check_cycles(ch)
    check_analysis_cycles(ch)
    check_family_keys(ch)
