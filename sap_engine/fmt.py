"""The canonical formatter behind ``sap-run fmt``.

One layout for every plan: one statement per paragraph, block items one per line indented
by two spaces, single spaces around operators, strings always double-quoted. Comments are
kept: each is written before the statement or block item that followed it in the source.
``parse(format(plan))`` equals ``plan`` and ``format`` is idempotent (tested on every plan
in ``plans/`` and the golden files).
"""

from __future__ import annotations

from sap_engine import model as m

_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4,
               ">=": 4, "in": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7}


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def level(s: str) -> str:
    """A level as written: bare when it is a plain name, else quoted."""
    if s.replace("_", "a").isalnum() and not s[0].isdigit() and s.isascii():
        return s
    return quote(s)


def expr(e: m.Expr, parent: int = 0) -> str:
    """Format an expression with the fewest parentheses that keep its meaning."""
    if isinstance(e, m.Num):
        return m._num(e.value) if e.value not in (float("inf"), -float("inf")) else (
            "inf" if e.value > 0 else "-inf")
    if isinstance(e, m.Str):
        return quote(e.value)
    if isinstance(e, m.Bool):
        return "true" if e.value else "false"
    if isinstance(e, m.Inf):
        return "inf"
    if isinstance(e, m.Col):
        return e.text
    if isinstance(e, m.Call):
        return f"{e.function}(" + ", ".join(expr(a) for a in e.args) + ")"
    if isinstance(e, m.Neg):
        return "-" + expr(e.operand, _PRECEDENCE["neg"])
    if isinstance(e, m.Not):
        return _wrap("not " + expr(e.operand, _PRECEDENCE["not"]), _PRECEDENCE["not"], parent)
    if isinstance(e, m.InSet):
        op = "not in" if e.negated else "in"
        text = f"{expr(e.operand, 5)} {op} {{" + ", ".join(expr(v) for v in e.values) + "}"
        return _wrap(text, 4, parent)
    if isinstance(e, m.IsMissing):
        text = f"{expr(e.operand, 5)} is {'not ' if e.negated else ''}missing"
        return _wrap(text, 4, parent)
    if isinstance(e, m.Cut):
        text = expr(e.operand, 1) + " cut " + ", ".join(
            i.text + (" " + quote(i.label) if i.label else "") for i in e.intervals)
        return _wrap(text, 0, parent)
    if isinstance(e, m.BinOp):
        p = _PRECEDENCE[e.op]
        # Left-associative: the right operand needs brackets at equal precedence.
        right_parent = p + 1 if e.op in ("-", "/", "+", "*", "and", "or") else p + 1
        text = f"{expr(e.left, p if p != 4 else 5)} {e.op} {expr(e.right, right_parent)}"
        return _wrap(text, p, parent)
    raise TypeError(f"cannot format {e!r}")


def _wrap(text: str, own: int, parent: int) -> str:
    return f"({text})" if own < parent else text


def _opt_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return m._num(float(v))
    if isinstance(v, tuple):
        return "[" + ", ".join(_opt_value(x) for x in v) + "]"
    text = str(v)
    # Choice words (observed, nonmissing, cicchetti_allison) stay bare; data values and
    # free text are quoted, so `levels = ["Y", "N"]` keeps reading as data.
    bare = text.isidentifier() and text.islower() and text not in ("true", "false")
    return text if bare else quote(text)


def handling(st: m.Strategy) -> str:
    """A strategy's data handling as written after ``with``: ``value -1`` for a composite
    value, else the rule's word."""
    if st.handling == "value" and st.value is not None:
        return f"value {m._num(st.value)}"
    return st.handling or ""


def _label(label: str | None) -> str:
    return f" {quote(label)}" if label else ""


def _pop(p: m.PopulationUse) -> str:
    return f"population {p.name}" + (f" where {expr(p.where)}" if p.where else "")


def _visit_spec(spec: tuple[float, ...]) -> str:
    if len(spec) == 1:
        return m._num(spec[0])
    return f"{m._num(spec[0])} to {m._num(spec[1])} by {m._num(spec[2])}"


def _block(head: str, items: list[tuple[m.Loc, str]], comments: _Comments) -> str:
    lines = [head + " {"]
    for loc, text in items:
        lines.extend("  " + c for c in comments.before(loc))
        lines.append("  " + text)
    lines.append("}")
    return "\n".join(lines)


class _Comments:
    """Hands out source comments in order, each before the first node that followed it."""

    def __init__(self, comments: tuple[tuple[int, str], ...]):
        self.pending = list(comments)

    def before(self, loc: m.Loc) -> list[str]:
        if not loc.line:
            return []
        out = []
        while self.pending and self.pending[0][0] <= loc.line:
            out.append(self.pending.pop(0)[1])
        return out

    def rest(self) -> list[str]:
        out = [c for _, c in self.pending]
        self.pending = []
        return out


def _analysis(a: m.Analysis, comments: _Comments) -> str:
    head = f"analysis {a.name}{_label(a.label)}"
    if a.base:
        return f"{head} = {a.base} by " + ", ".join(b.name for b in a.by)
    if a.estimand:
        head += f" for {a.estimand}"
    items: list[tuple[m.Loc, str]] = []
    if a.population:
        items.append((a.population.loc, _pop(a.population)))
    if a.method:
        items.append((a.method_loc, f"method {a.method}"))
    if a.response is not None and a.terms is not None:  # the grammar gives both or neither
        items.append((a.response.loc, f"model {expr(a.response)} ~ {expr(a.terms)}"))
    if a.variables:
        items.append((a.variables[0].loc, "variable " + ", ".join(expr(v) for v in a.variables)))
    if a.crosstab:
        items.append((a.crosstab[0].loc,
                      f"crosstab {expr(a.crosstab[0])} by {expr(a.crosstab[1])}"))
    if a.roles:
        items.append((a.roles[0].loc,
                      "roles " + ", ".join(f"{r.name} = {expr(r.expr)}" for r in a.roles)))
    if a.visit is not None:
        items.append((m.Loc(), f"at week {m._num(a.visit)}"))
    if a.by:
        items.append((a.by[0].loc, "by " + ", ".join(b.text for b in a.by)))
    for c in a.contrasts:
        items.append((c.loc, f"contrast {level(c.left)} - {level(c.right)}"))
    if a.weights:
        items.append((m.Loc(), f"lsmeans weights {a.weights}"))
    if a.missing:
        items.append((m.Loc(), f"missing {a.missing}" + (f" worst {a.worst}" if a.worst else "")))
    if a.options:
        items.append((a.options[0].loc, "options " + ", ".join(
            f"{o.name} = {_opt_value(o.value)}" for o in a.options)))
    return _block(head, items, comments)


def _display_items(pop, columns, rows, notes, by_visit: m.Loc | None = None
                   ) -> list[tuple[m.Loc, str]]:
    items: list[tuple[m.Loc, str]] = []
    if pop:
        items.append((pop.loc, _pop(pop)))
    if columns:
        items.append((columns[0].loc, "columns " + ", ".join(c.name for c in columns)))
    if by_visit is not None:
        items.append((by_visit, "by visit"))
    for r in rows:
        text = "rows " + ", ".join((r.analysis, *r.also)) + _label(r.label)
        if r.show:
            text += " show " + ", ".join(s.name + _label(s.pattern) for s in r.show)
        items.append((r.loc, text))
    items.extend((m.Loc(), f"footnote {quote(n)}") for n in notes)
    return items


def _statement(s: object, comments: _Comments) -> str:  # noqa: C901 - one case per statement
    if isinstance(s, m.Study):
        items = [(m.Loc(), f"{k} {_opt_value(v)}") for k, v in s.attributes]
        return _block(f"study {s.name} {quote(s.title)}", items, comments)
    if isinstance(s, m.DataBlock):
        items = []
        for src in s.sources:
            ref = quote(src.ref) if src.kind == "file" else f"package {quote(src.ref)}"
            text = f"dataset {src.name} from {ref}"
            if src.keys:
                text += " key " + ", ".join(src.keys)
            if src.subjects:
                text += " subjects"
            items.append((src.loc, text))
        return _block("data", items, comments)
    if isinstance(s, m.Treatment):
        items = [(a.loc, f"arm {level(a.level)}{_label(a.label)}"
                  + (" reference" if a.reference else "")) for a in s.arms]
        return _block(f"treatment {s.column.text}", items, comments)
    if isinstance(s, m.Labels):
        items = [(m.Loc(), f"{quote(k)} = {quote(v)}") for k, v in s.items]
        return _block(f"labels {s.column.text}", items, comments)
    if isinstance(s, m.Population):
        where = f" where {expr(s.where)}" if s.where else ""
        return f"population {s.name}{_label(s.label)} = {s.dataset}{where}"
    if isinstance(s, m.Visits):
        items = []
        if s.baseline is not None:
            items.append((m.Loc(), f"baseline {m._num(s.baseline)}"))
        if s.scheduled:
            items.append((m.Loc(), "scheduled " + ", ".join(_visit_spec(v) for v in s.scheduled)))
        if s.label or s.label_from:
            # The prefix and the data's labels in one item: `label "Week" from AVISIT`.
            text = f"label {quote(s.label)}" if s.label else "label"
            items.append((m.Loc(), text + (f" from {s.label_from}" if s.label_from else "")))
        return _block(f"visits {s.column.text}", items, comments)
    if isinstance(s, m.Parameter):
        text = f"parameter {s.name}{_label(s.label)} = {s.source.text}"
        if s.where:
            text += f" where {expr(s.where)}"
        if s.baseline_column:
            text += f" baseline {s.baseline_column.text}"
        if s.by:
            text += " by " + ", ".join(s.by)
        return text
    if isinstance(s, m.Occurrence):
        where = f" where {expr(s.where)}" if s.where else ""
        return f"occurrence {s.name}{_label(s.label)} = {s.dataset}{where}"
    if isinstance(s, m.Aggregate):
        levels = "" if s.levels is None else \
            ", [" + ", ".join(quote(v) for v in s.levels) + "]"  # data values: quoted
        none = "" if s.none is None else f" none {quote(s.none)}"
        return (f"aggregate {s.name}{_label(s.label)} = {s.function}({s.source.text}{levels})"
                f"{none}")
    if isinstance(s, m.Endpoint):
        return f"{s.kind} {s.name}{_label(s.label)} = {expr(s.expr)}"
    if isinstance(s, m.Intercurrent):
        return (f"intercurrent_event {s.name}{_label(s.label)} = {expr(s.condition)}"
                f" at {s.time.text}")
    if isinstance(s, m.Estimand):
        items = []
        if s.population:
            items.append((s.population.loc, _pop(s.population)))
        if s.variable is not None:
            at = f" at week {m._num(s.visit)}" if s.visit is not None else ""
            items.append((s.variable.loc, f"variable {expr(s.variable)}{at}"))
        if s.treatment is not None:
            items.append((s.treatment_loc, f"treatment {quote(s.treatment)}"))
        for st in s.strategies:
            items.append((st.loc, f"intercurrent {st.event} {st.strategy}"
                          + (f" with {handling(st)}" if st.handling else "")))
        if s.missing:
            worst = f" worst {s.worst}" if s.worst else ""
            items.append((m.Loc(), f"missing {s.missing}{worst}"))
        if s.summary:
            items.append((m.Loc(), f"summary {quote(s.summary)}"))
        return _block(f"estimand {s.name}{_label(s.label)}", items, comments)
    if isinstance(s, m.Analysis):
        return _analysis(s, comments)
    if isinstance(s, m.Table):
        items = _display_items(s.population, s.columns, s.rows, s.footnotes,
                               s.by_visit_loc if s.by_visit else None)
        return _block(f"table {quote(s.number)} {quote(s.title)}", items, comments)
    if isinstance(s, m.Figure):
        head = f"figure {quote(s.number)} {quote(s.title)} = {s.analysis}"
        items = _display_items(s.population, (), (), s.footnotes)
        return _block(head, items, comments) if items else head
    if isinstance(s, m.Document):
        items = []
        if s.template:
            items.append((m.Loc(), f"template {quote(s.template)}"))
        if s.author:
            items.append((m.Loc(), f"author {quote(s.author)}"))
        items.append((m.Loc(), "include " + ", ".join(s.include)))
        if s.reproduce:
            items.append((m.Loc(), f"reproduce {quote(s.reproduce)}"))
        if s.rounding != "half_away_from_zero":
            items.append((m.Loc(), f"rounding {s.rounding}"))
        return _block(f"document {quote(s.title)}", items, comments)
    raise TypeError(f"cannot format statement {s!r}")


def format_plan(plan: m.Plan) -> str:
    """The canonical text of ``plan``, comments included."""
    comments = _Comments(plan.comments)
    chunks = []
    for statement in plan.statements:
        lead = comments.before(getattr(statement, "loc", m.Loc()))
        chunks.append("\n".join([*lead, _statement(statement, comments)]))
    tail = comments.rest()
    if tail:
        chunks.append("\n".join(tail))
    return "\n\n".join(chunks) + "\n"
