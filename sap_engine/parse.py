"""Parse plan text into the plan model (``grammar/sap.lark``, LALR).

>>> plan = parse_text('population FAS "Full analysis set" = adsl where FASFL == "Y"')
>>> plan.populations["FAS"].dataset
'adsl'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from sap_engine import model as m
from sap_engine.errors import Diagnostic, Location, PlanSyntaxError, SapError
from sap_engine.resources import grammar_path

# Friendlier names for the terminals a user may meet in "expected ..." messages.
_TERMINAL_NAMES = {
    "NAME": "a name", "STRING": 'a "string"', "SIGNED_NUMBER": "a number", "LBRACE": "'{'",
    "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'", "EQUAL": "'='", "COMMA": "','",
    "TILDE": "'~'", "LSQB": "'['", "RSQB": "']'", "FUNCTION": "a function call",
    "MINUS": "'-'", "PLUS": "'+'", "STAR": "'*'", "SLASH": "'/'", "COMPARATOR": "a comparison",
}


@lru_cache(maxsize=1)
def parser() -> Lark:
    # cache=True stores the LALR tables in the temp dir keyed by grammar hash: a cold CLI
    # then skips table construction (~100 ms here).
    return Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr",
                propagate_positions=True, maybe_placeholders=True, cache=True)


def _loc(meta) -> m.Loc:
    if getattr(meta, "empty", True):
        return m.Loc()
    return m.Loc(meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_loc(tok: Token) -> m.Loc:
    return m.Loc(tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)


def _unquote(s: str) -> str:
    return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def _level(x) -> str:
    """An arm/label level written as NAME, "string" or number, as the data's text."""
    if isinstance(x, m.Num):
        return m._num(x.value)
    if isinstance(x, m.Str):
        return x.value
    return str(x)


@v_args(meta=True)
class _ToModel(Transformer):
    # ---- atoms
    def number_(self, meta, c):
        return m.Num(float(c[0]), _loc(meta))

    def string(self, meta, c):
        return c[0]  # already a Str (STRING callback)

    def boolean(self, meta, c):
        return m.Bool(str(c[0]) == "true", _loc(meta))

    def bare_word(self, meta, c):
        return m.Str(str(c[0]), _loc(meta))

    def infinity(self, meta, c):
        return m.Inf(_loc(meta))

    def column_ref(self, meta, c):
        if len(c) == 2:
            return m.Col(str(c[1]), str(c[0]), _loc(meta))
        return m.Col(str(c[0]), None, _loc(meta))

    def name_list(self, meta, c):
        return tuple(str(t) for t in c)

    def STRING(self, tok):  # noqa: N802 (lark callback names terminals)
        return m.Str(_unquote(tok), _tok_loc(tok))

    # ---- expressions
    def call(self, meta, c):
        return m.Call(str(c[0]), tuple(c[1:]), _loc(meta))

    def _bin(op):  # noqa: N805 - a factory evaluated in the class body
        def rule(self, meta, c):
            return m.BinOp(op, c[0], c[-1], _loc(meta))
        return rule

    add, sub, mul, div = _bin("+"), _bin("-"), _bin("*"), _bin("/")
    or_, and_ = _bin("or"), _bin("and")

    def compare(self, meta, c):
        return m.BinOp(str(c[1]), c[0], c[2], _loc(meta))

    def not_(self, meta, c):
        return m.Not(c[0], _loc(meta))

    def neg(self, meta, c):
        if isinstance(c[0], m.Num):
            return m.Num(-c[0].value, _loc(meta))
        return m.Neg(c[0], _loc(meta))

    def in_set(self, meta, c):
        return m.InSet(c[0], tuple(c[1:]), False, _loc(meta))

    def not_in_set(self, meta, c):
        return m.InSet(c[0], tuple(c[1:]), True, _loc(meta))

    def neg_infinity(self, meta, c):
        return m.Num(-float("inf"), _loc(meta))

    def _bound(self, x) -> float:
        return float("inf") if isinstance(x, m.Inf) else x.value

    def open_lower(self, meta, c):
        return (self._bound(c[0]), False)

    def closed_lower(self, meta, c):
        return (self._bound(c[0]), True)

    def open_upper(self, meta, c):
        return (self._bound(c[0]), False)

    def closed_upper(self, meta, c):
        return (self._bound(c[0]), True)

    def interval(self, meta, c):
        (lo, lo_closed), (hi, hi_closed), label = c
        return m.Interval(lo, hi, lo_closed, hi_closed, label.value if label else None,
                          _loc(meta))

    def cut(self, meta, c):
        return m.Cut(c[0], tuple(c[1:]), _loc(meta))

    # ---- statements
    def start(self, meta, c):
        return tuple(c)

    def study_attr(self, meta, c):
        value = c[1].value if hasattr(c[1], "value") else c[1]
        return (str(c[0]), value)

    def study(self, meta, c):
        return m.Study(str(c[0]), c[1].value, tuple(c[2:]), _loc(meta))

    def file_source(self, meta, c):
        return ("file", c[0].value)

    def package_source(self, meta, c):
        return ("package", c[0].value)

    def source(self, meta, c):
        name, (kind, ref), keys, subjects = c
        return m.Source(str(name), kind, ref, keys or (), subjects is not None, _loc(meta))

    def data(self, meta, c):
        return m.DataBlock(tuple(c), _loc(meta))

    def arm(self, meta, c):
        return m.Arm(_level(c[0]), c[1].value if c[1] else None, c[2] is not None, _loc(meta))

    def treatment(self, meta, c):
        return m.Treatment(c[0], tuple(c[1:]), _loc(meta))

    def label_item(self, meta, c):
        return (_level(c[0]), c[1].value), _loc(meta)

    def labels(self, meta, c):
        items = c[1:]
        return m.Labels(c[0], tuple(i for i, _ in items), _loc(meta),
                        tuple(loc for _, loc in items))

    def population(self, meta, c):
        name, label, dataset, where = c
        return m.Population(str(name), label.value if label else None, str(dataset), where,
                            _loc(meta))

    def visit_baseline(self, meta, c):
        return ("baseline", c[0].value)

    def visit_one(self, meta, c):
        return (c[0].value,)

    def visit_range(self, meta, c):
        return (c[0].value, c[1].value, c[2].value)

    def visit_scheduled(self, meta, c):
        return ("scheduled", tuple(c))

    def visit_label(self, meta, c):
        return ("label", c[0].value)

    def visits(self, meta, c):
        items = dict(c[1:])
        return m.Visits(c[0], items.get("baseline"), items.get("scheduled", ()),
                        items.get("label"), _loc(meta))

    def parameter(self, meta, c):
        name, label, source, where, base, by = c
        return m.Parameter(str(name), label.value if label else None, source, where, base,
                           by or (), _loc(meta))

    def endpoint(self, meta, c):
        return m.Endpoint(str(c[0]), c[1].value if c[1] else None, c[2], "endpoint", _loc(meta))

    def stratum(self, meta, c):
        return m.Endpoint(str(c[0]), c[1].value if c[1] else None, c[2], "stratum", _loc(meta))

    def intercurrent(self, meta, c):
        return m.Intercurrent(str(c[0]), c[1].value if c[1] else None, c[2], c[3], _loc(meta))

    def population_use(self, meta, c):
        return m.PopulationUse(str(c[0]), c[1], _loc(meta))

    def visit_at(self, meta, c):
        return ("visit", (c[0].value, _loc(meta)))

    def missing_use(self, meta, c):
        return ("missing", str(c[0]))

    def est_variable(self, meta, c):
        return ("variable", (c[0], c[1][1] if c[1] else (None, m.Loc())))

    def est_intercurrent(self, meta, c):
        return ("strategy", m.Strategy(str(c[0]), str(c[1]), str(c[2]) if c[2] else None,
                                       _loc(meta)))

    def est_summary(self, meta, c):
        return ("summary", c[0].value)

    def estimand(self, meta, c):
        name, label, *items = c
        pop = next((i for i in items if isinstance(i, m.PopulationUse)), None)
        kv = [i for i in items if isinstance(i, tuple)]
        variable, (visit, visit_loc) = next((v for k, v in kv if k == "variable"),
                                            (None, (None, m.Loc())))
        return m.Estimand(
            str(name), label.value if label else None, pop, variable, visit,
            tuple(v for k, v in kv if k == "strategy"),
            next((v for k, v in kv if k == "missing"), None),
            next((v for k, v in kv if k == "summary"), None), _loc(meta), visit_loc)

    # ---- analyses
    def option(self, meta, c):
        value = c[1]
        return m.Option(str(c[0]), _plain(value), _loc(meta))

    def list_value(self, meta, c):
        return tuple(x for x in c if x is not None)

    def option_list(self, meta, c):
        return tuple(x for x in c if x is not None)

    def an_method(self, meta, c):
        return ("method", (str(c[0]), c[1] or (), _loc(meta)))

    def an_model(self, meta, c):
        return ("model", (c[0], c[1]))

    def an_variables(self, meta, c):
        return ("variables", tuple(c))

    def an_crosstab(self, meta, c):
        return ("crosstab", (c[0], c[1]))

    def role(self, meta, c):
        return m.Role(str(c[0]), c[1], _loc(meta))

    def an_roles(self, meta, c):
        return ("roles", tuple(c))

    def by_treatment(self, meta, c):
        return m.ByItem("treatment", _loc(meta))

    def by_total(self, meta, c):
        return m.ByItem("total", _loc(meta))

    def by_visit(self, meta, c):
        return m.ByItem("visit", _loc(meta))

    def by_name(self, meta, c):
        return m.ByItem(str(c[0]), _loc(meta))

    def an_by(self, meta, c):
        return ("by", tuple(c))

    def an_at(self, meta, c):
        return c[0]

    def an_contrast(self, meta, c):
        return ("contrast", m.Contrast(_level(c[0]), _level(c[1]), _loc(meta)))

    def an_lsmeans(self, meta, c):
        return ("weights", str(c[0]))

    def an_options(self, meta, c):
        return ("options", tuple(c))

    def analysis(self, meta, c):
        name, label, estimand, *items = c
        kv: dict[str, object] = {}
        contrasts, options = [], []
        pop = None
        for item in items:
            if isinstance(item, m.PopulationUse):
                pop = item
                continue
            key, value = item
            if key == "contrast":
                contrasts.append(value)
            elif key == "options":
                options.extend(value)
            else:
                kv[key] = value
        method, method_options, method_loc = kv.get("method", (None, (), m.Loc()))
        response, terms = kv.get("model", (None, None))
        visit, visit_loc = kv.get("visit", (None, m.Loc()))
        return m.Analysis(
            name=str(name), label=label.value if label else None,
            estimand=str(estimand) if estimand else None, population=pop, method=method,
            method_loc=method_loc, options=tuple(method_options) + tuple(options),
            response=response, terms=terms, variables=kv.get("variables", ()),
            crosstab=kv.get("crosstab"), roles=kv.get("roles", ()), by=kv.get("by", ()),
            visit=visit, visit_loc=visit_loc, contrasts=tuple(contrasts), weights=kv.get("weights"),
            missing=kv.get("missing"), loc=_loc(meta))

    def analysis_by(self, meta, c):
        name, label, base, by = c
        return m.Analysis(name=str(name), label=label.value if label else None,
                          base=str(base), by=tuple(m.ByItem(b) for b in by), loc=_loc(meta))

    # ---- displays
    def show_item(self, meta, c):
        return m.ShowItem(str(c[0]), c[1].value if c[1] else None, _loc(meta))

    def tab_columns(self, meta, c):
        return ("columns", tuple(c))

    def tab_rows(self, meta, c):
        return ("rows", m.TableRows(c[0][0], c[0][1:], c[1].value if c[1] else None,
                                    tuple(x for x in c[2:] if x is not None), _loc(meta)))

    def tab_footnote(self, meta, c):
        return ("footnote", c[0].value)

    def _display_items(self, items):
        pop, columns, rows, notes = None, (), [], []
        for item in items:
            if isinstance(item, m.PopulationUse):
                pop = item
            elif item[0] == "columns":
                columns = item[1]
            elif item[0] == "rows":
                rows.append(item[1])
            elif item[0] == "footnote":
                notes.append(item[1])
        return pop, columns, tuple(rows), tuple(notes)

    def table(self, meta, c):
        pop, columns, rows, notes = self._display_items(c[2:])
        return m.Table(c[0].value, c[1].value, pop, columns, rows, notes, _loc(meta))

    def figure(self, meta, c):
        pop, _, _, notes = self._display_items(c[3:])
        return m.Figure(c[0].value, c[1].value, str(c[2]), pop, notes, _loc(meta))

    def doc_template(self, meta, c):
        return ("template", c[0].value)

    def doc_include(self, meta, c):
        return ("include", tuple(str(x) for x in c) or ("all",))

    def doc_author(self, meta, c):
        return ("author", c[0].value)

    def doc_reproduce(self, meta, c):
        return ("reproduce", c[0].value)

    def doc_rounding(self, meta, c):
        return ("rounding", str(c[0]))

    def document(self, meta, c):
        items = dict(c[1:])
        return m.Document(c[0].value, items.get("template"), items.get("include", ("all",)),
                          items.get("author"), items.get("reproduce"),
                          items.get("rounding", "half_away_from_zero"), _loc(meta))


def _plain(value):
    if isinstance(value, (m.Num, m.Str, m.Bool)):
        return value.value
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _syntax_error(exc: UnexpectedInput, text: str, path: str) -> Diagnostic:
    lines = text.splitlines()
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            message = "unexpected end of plan; a block or statement is not finished"
            code = "SAP102"
        else:
            message = f"unexpected {tok.type == 'STRING' and 'string' or 'token'} '{tok}'"
            code = "SAP101"
        expected = sorted(_TERMINAL_NAMES.get(e, _describe(e)) for e in exc.expected)
        if expected and len(expected) <= 8:
            message += "; expected " + ", ".join(expected)
    elif isinstance(exc, UnexpectedCharacters):
        message = f"unexpected character {text[exc.pos_in_stream]!r}"
        code = "SAP103"
    else:  # UnexpectedEOF
        message, code = "unexpected end of plan", "SAP102"
    return Diagnostic(code, message, Location(path, line, column), source_line=source_line)


def _describe(terminal: str) -> str:
    if terminal.startswith("__ANON") or terminal.isupper() and "_" in terminal:
        return terminal.lower()
    return f"'{terminal.lower()}'"


def parse_text(text: str, path: str = "<plan>") -> m.Plan:
    """Parse plan text; raise :class:`PlanSyntaxError` with a located diagnostic."""
    comments: list[Token] = []
    lark = parser()
    try:
        tree = lark.parse(text, on_error=None)
        # Comments are ignored by the grammar; the lexer callback is not available with a
        # cached parser, so collect them with a second, cheap scan.
        statements = _ToModel().transform(tree)
    except (UnexpectedToken, UnexpectedCharacters, UnexpectedEOF) as exc:
        raise PlanSyntaxError(_syntax_error(exc, text, path)) from None
    except SapError:
        raise
    comments = _comments(text)
    return m.Plan(path=path, statements=statements, comments=comments, text=text)


def _comments(text: str) -> tuple[tuple[int, str], ...]:
    """(line, text) of each ``#`` comment outside strings."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        in_string = False
        for i, ch in enumerate(line):
            if ch == '"' and (i == 0 or line[i - 1] != "\\"):
                in_string = not in_string
            elif ch == "#" and not in_string:
                found.append((number, line[i:].rstrip()))
                break
    return tuple(found)


def parse_file(path: str | Path) -> m.Plan:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanSyntaxError(Diagnostic("SAP001", f"plan file not found: {path}")) from None
    except UnicodeDecodeError as exc:
        raise PlanSyntaxError(Diagnostic(
            "SAP002", f"plan file is not UTF-8 text: {path} (byte {exc.start})")) from None
    return parse_text(text, str(path))
