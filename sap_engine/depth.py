"""The expression depth limit (SAP108), enforced at parse time without recursion.

The checker, formatter, compiler and evaluator walk expressions recursively, and Python stops
at about 1,000 frames: a 500-term sum, 500 `and`, 500 unary minus raised RecursionError. So
the parser refuses an expression nested more than :data:`MAX_EXPRESSION_DEPTH` levels, where
each operator, comparison, function call, `not`, unary minus, `in { }` and `cut` is a level
(parentheses alone are not: the grammar drops them). The evaluator also follows an endpoint
named inside another endpoint, so the depth counts through such references too: `e2 = e1 + 1`
is one level deeper than `e1`, and a chain of endpoints is limited like one expression.

Both walks here use explicit stacks; they never recurse, whatever the input.
"""

from __future__ import annotations

from lark import Tree

from sap_engine import model as m

MAX_EXPRESSION_DEPTH = 100

# Parse-tree rules that nest an expression one level deeper.
_NESTING_RULES = frozenset({
    "add", "sub", "mul", "div", "or_", "and_", "not_", "neg", "compare", "in_set",
    "not_in_set", "is_missing", "is_not_missing", "call", "cut"})
_NESTING_NODES = (m.BinOp, m.Not, m.Neg, m.InSet, m.IsMissing, m.Call, m.Cut)
_EXPR_NODES = (m.Num, m.Str, m.Bool, m.Inf, m.Col, *_NESTING_NODES)

Problem = tuple[str, str, m.Loc]
_ADVICE = ("each operator, comparison, function call, `not`, unary minus, `in`, `is missing` "
           "and `cut` is a level; parentheses are not")


def _loc(meta) -> m.Loc:
    if getattr(meta, "empty", True):
        return m.Loc()
    return m.Loc(meta.line, meta.column, meta.end_line, meta.end_column)


def tree_problems(tree: Tree, limit: int = MAX_EXPRESSION_DEPTH) -> list[Problem]:
    """One SAP108 per outermost expression of the parse tree nested deeper than ``limit``."""
    deepest: dict[int, int] = {}
    roots: dict[int, Tree] = {}
    stack: list[tuple[Tree, int, int]] = [(tree, 0, -1)]  # node, depth, id of its outermost
    while stack:
        node, depth, root = stack.pop()
        if node.data in _NESTING_RULES:
            depth += 1
            if root < 0:
                root = id(node)
                roots[root] = node
            deepest[root] = max(deepest.get(root, 0), depth)
        else:
            depth, root = 0, -1
        stack.extend((child, depth, root) for child in node.children if isinstance(child, Tree))
    return [("SAP108", f"expression nested {depth} levels deep; the limit is {limit} "
             f"({_ADVICE}): simplify it", _loc(roots[root].meta))
            for root, depth in deepest.items() if depth > limit]


def _references(e: m.Expr, endpoints: dict[str, m.Endpoint]) -> tuple[int, list[tuple[int, str]]]:
    """The depth of ``e`` alone, and (depth, name) of each endpoint it names."""
    own, refs = 0, []
    stack: list[tuple[object, int]] = [(e, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _NESTING_NODES):
            depth += 1
            own = max(own, depth)
            stack.extend((c, depth) for c in m.children(node))
        elif isinstance(node, m.Col) and node.dataset is None and node.name in endpoints:
            refs.append((depth, node.name))
    return own, refs


def _endpoint_depths(endpoints: dict[str, m.Endpoint]) -> dict[str, int]:
    """Each endpoint's depth counting through the endpoints it names (one level per name).

    Iterative post-order over the references; an endpoint in a cycle (reported by the
    checker) counts the one that closes the cycle as depth 0, so this always ends."""
    local = {name: _references(ep.expr, endpoints) for name, ep in endpoints.items()}
    depth: dict[str, int] = {}
    for start in endpoints:
        on_path: set[str] = set()
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            name, finished = stack.pop()
            if finished:
                on_path.discard(name)
                own, refs = local[name]
                depth[name] = max([own, *(d + 1 + depth.get(r, 0) for d, r in refs)])
            elif name not in depth and name not in on_path:
                on_path.add(name)
                stack.append((name, True))
                stack.extend((r, False) for _, r in local[name][1]
                             if r not in depth and r not in on_path)
    return depth


def _expressions(statement: object):
    """The outermost expressions anywhere in a statement (iterative walk of its nodes)."""
    stack = [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, _EXPR_NODES):
            yield node
        else:
            stack.extend(m.children(node))


def reference_problems(statements: tuple, limit: int = MAX_EXPRESSION_DEPTH) -> list[Problem]:
    """SAP108 where naming endpoints makes an expression deeper than ``limit``: reported once,
    at the expression where the chain crosses the limit (not at every one built on it)."""
    endpoints = {s.name: s for s in statements if isinstance(s, m.Endpoint)}
    if not endpoints:
        return []
    depths = _endpoint_depths(endpoints)
    problems = []
    for statement in statements:
        for e in _expressions(statement):
            own, refs = _references(e, endpoints)
            if own > limit or any(depths.get(r, 0) > limit for _, r in refs):
                continue  # reported where it is too deep by itself, or deeper down the chain
            total = max([own, *(d + 1 + depths.get(r, 0) for d, r in refs)])
            if total > limit:
                used = ", ".join(sorted({r for _, r in refs}))
                problems.append(("SAP108", f"expression nested {total} levels deep through "
                                 f"the endpoints it names ({used}); the limit is {limit} "
                                 f"({_ADVICE}; naming an endpoint adds one): simplify it",
                                 e.loc))
    return problems
