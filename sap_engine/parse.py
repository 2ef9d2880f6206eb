"""Parse plan text into the plan model (``grammar/sap.lark``, LALR).

>>> plan = parse_text('population FAS "Full analysis set" = adsl where FASFL == "Y"')
>>> plan.populations["FAS"].dataset
'adsl'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken
from lark.visitors import Transformer_NonRecursive

from sap_engine import depth, functions
from sap_engine import model as m
from sap_engine.errors import (
    MAX_COLLECTED,
    Diagnostic,
    PlanSyntaxError,
    plan_diagnostic,
    source_lines,
)
from sap_engine.resources import grammar_path
from sap_engine.syntax_errors import shorten, syntax_error

# A plan larger than this is refused before it is read (SAP005): parsing takes about 100 MB
# of memory per megabyte of an ordinary plan and up to 500 MB for a pathological one (a
# megabyte of unary minus), while a real plan is a few tens of kilobytes.
MAX_PLAN_BYTES = 1024 * 1024


# The grammar's FUNCTION terminal, filled in from the catalogue of plan functions.
_FUNCTION_TERMINAL = "FUNCTION.2: /(FUNCTION_NAMES)(?=\\s*\\()/"


def grammar_text() -> str:
    """The grammar, with the function names of :mod:`sap_engine.functions`."""
    text = grammar_path().read_text(encoding="utf-8")
    if _FUNCTION_TERMINAL not in text:
        raise AssertionError(f"grammar has no line {_FUNCTION_TERMINAL!r}")
    return text.replace(_FUNCTION_TERMINAL, f"FUNCTION.2: /{functions.grammar_pattern()}/")


@lru_cache(maxsize=1)
def parser() -> Lark:
    # cache=True stores the LALR tables in the temp dir keyed by grammar hash: a cold CLI
    # then skips table construction (~100 ms here).
    return Lark(grammar_text(), parser="lalr", propagate_positions=True,
                maybe_placeholders=True, cache=True)


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


@dataclass(frozen=True)
class _Item:
    """A block item as the transformer builds it: where it is written, the words it is
    written with, and the fields of its statement it sets (``method ancova`` sets ``method``
    and ``method_loc``) or, for an item that may repeat (``contrast``, ``rows``, ``options``,
    ``footnote``, ``intercurrent``), the elements it adds to a tuple field. An item that sets
    fields is written once per block: twice, one used to win silently (SAP109)."""

    words: str
    loc: m.Loc
    sets: dict[str, Any] = field(default_factory=dict)
    adds: dict[str, tuple] = field(default_factory=dict)


def _binary(op: str):
    """The transformer rule of a binary operator (the first and last child are the operands;
    a comparison keeps its operator token in between)."""

    def rule(self, meta, c):
        return m.BinOp(op, c[0], c[-1], _loc(meta))

    return rule


@v_args(meta=True)
class _ToModel(Transformer_NonRecursive):
    """Parse tree to plan model, without recursion (a deep tree cannot exhaust the stack).

    Every rule builds a typed value with its location: a plan node, or a block item
    (:class:`_Item`) that its statement folds into its fields. Problems only visible once a
    value is known (a number too large for a float, a visit range that is empty, endless or
    too long) are collected in ``problems`` as (code, message, loc), so one pass reports
    them all."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[tuple[str, str, m.Loc]] = []
        self.omitted = 0  # problems found beyond MAX_COLLECTED: counted, not kept

    def fold(self, block: str, items) -> dict[str, Any]:
        """The fields a block's items give its statement, in source order; SAP109 for an
        item written twice (the first one's line named)."""
        fields: dict[str, Any] = {}
        seen: dict[str, m.Loc] = {}
        for item in items:
            if isinstance(item, m.PopulationUse):
                item = _Item("population", item.loc, sets={"population": item})
            if item.sets:
                if item.words in seen:
                    self.problem("SAP109", f"{block}: '{item.words}' is given twice (first at "
                                 f"line {seen[item.words].line}); give it once", item.loc)
                else:
                    seen[item.words] = item.loc
                fields.update(item.sets)
            for name, values in item.adds.items():
                fields[name] = fields.get(name, ()) + values
        return fields

    def problem(self, code: str, message: str, loc: m.Loc) -> None:
        if len(self.problems) < MAX_COLLECTED:
            self.problems.append((code, message, loc))
        else:
            self.omitted += 1

    # ---- atoms
    def number_(self, meta, c):
        text = str(c[0])
        value = float(text)
        mantissa = text.lower().split("e")[0]
        if not math.isfinite(value):
            self.problem("SAP104", f"number {shorten(text)} is too large (the largest is about "
                         "1.8e308)", _tok_loc(c[0]))
        elif value == 0 and mantissa.strip("0.") != "":
            self.problem("SAP104", f"number {shorten(text)} is too small: it would be read as 0",
                         _tok_loc(c[0]))
        return m.Num(value, _loc(meta))

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

    add, sub, mul, div = _binary("+"), _binary("-"), _binary("*"), _binary("/")
    or_, and_ = _binary("or"), _binary("and")

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
        return _Item("from", _loc(meta), sets={"kind": "file", "ref": c[0].value})

    def package_source(self, meta, c):
        return _Item("from", _loc(meta), sets={"kind": "package", "ref": c[0].value})

    def source(self, meta, c):
        name, ref, keys, subjects = c
        return m.Source(str(name), keys=keys or (), subjects=subjects is not None,
                        loc=_loc(meta), **ref.sets)

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
        return _Item("baseline", _loc(meta), sets={"baseline": c[0].value})

    def visit_one(self, meta, c):
        return (c[0].value,)

    def visit_range(self, meta, c):
        start, stop, step = (x.value for x in c)
        spec = (start, stop, step)
        text = f"{m._num(start)} to {m._num(stop)} by {m._num(step)}"
        if not all(math.isfinite(x) for x in spec):
            pass  # a number too large, reported (SAP104) where it is written
        elif step <= 0:
            self.problem("SAP105", f"visit range {text}: the step must be greater than 0",
                         c[2].loc)
        elif stop < start:
            self.problem("SAP106", f"visit range {text} ends before it starts, so it has no "
                         f"visits; write {m._num(stop)} to {m._num(start)} by {m._num(step)}",
                         _loc(meta))
        elif m.visit_range_count(start, stop, step) > m.MAX_VISITS:
            self.problem("SAP107", f"visit range {text} has more than {m.MAX_VISITS} visits",
                         _loc(meta))
        else:
            return spec
        return (start,)  # parsing goes on to report every problem; the plan is refused

    def visit_scheduled(self, meta, c):
        count = sum(1 if len(s) == 1 else m.visit_range_count(*s) for s in c)
        if count > m.MAX_VISITS:
            self.problem("SAP107", f"the schedule has {count} visits, more than {m.MAX_VISITS}",
                         _loc(meta))
        return _Item("scheduled", _loc(meta), sets={"scheduled": tuple(c)})

    def visit_label(self, meta, c):
        return _Item("label", _loc(meta), sets={"label": c[0].value})

    def visits(self, meta, c):
        fields = self.fold(f"visits {c[0].text}", c[1:])
        return m.Visits(c[0], loc=_loc(meta), **fields)

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
        return _Item("at week", _loc(meta), sets={"visit": c[0].value, "visit_loc": _loc(meta)})

    def missing_use(self, meta, c):
        return _Item("missing", _loc(meta), sets={"missing": str(c[0])})

    def est_variable(self, meta, c):
        at_week = c[1].sets if c[1] else {}
        return _Item("variable", _loc(meta), sets={"variable": c[0], **at_week})

    def est_intercurrent(self, meta, c):
        strategy = m.Strategy(str(c[0]), str(c[1]), str(c[2]) if c[2] else None, _loc(meta))
        return _Item("intercurrent", _loc(meta), adds={"strategies": (strategy,)})

    def est_summary(self, meta, c):
        return _Item("summary", _loc(meta), sets={"summary": c[0].value})

    def estimand(self, meta, c):
        name, label, *items = c
        fields = self.fold(f"estimand {name}", items)
        return m.Estimand(str(name), label.value if label else None, loc=_loc(meta), **fields)

    # ---- analyses
    def option(self, meta, c):
        value = c[1]
        return m.Option(str(c[0]), _plain(value), _loc(meta))

    def list_value(self, meta, c):
        return tuple(x for x in c if x is not None)

    def option_list(self, meta, c):
        return tuple(x for x in c if x is not None)

    def an_method(self, meta, c):
        return _Item("method", _loc(meta), sets={
            "method": str(c[0]), "method_loc": _loc(meta), "method_options": c[1] or ()})

    def an_model(self, meta, c):
        return _Item("model", _loc(meta), sets={"response": c[0], "terms": c[1]})

    def an_variables(self, meta, c):
        return _Item("variable", _loc(meta), sets={"variables": tuple(c)})

    def an_crosstab(self, meta, c):
        return _Item("crosstab", _loc(meta), sets={"crosstab": (c[0], c[1])})

    def role(self, meta, c):
        return m.Role(str(c[0]), c[1], _loc(meta))

    def an_roles(self, meta, c):
        return _Item("roles", _loc(meta), sets={"roles": tuple(c)})

    def by_treatment(self, meta, c):
        return m.ByItem("treatment", _loc(meta))

    def by_total(self, meta, c):
        return m.ByItem("total", _loc(meta))

    def by_visit(self, meta, c):
        return m.ByItem("visit", _loc(meta))

    def by_name(self, meta, c):
        return m.ByItem(str(c[0]), _loc(meta))

    def an_by(self, meta, c):
        return _Item("by", _loc(meta), sets={"by": tuple(c)})

    def an_at(self, meta, c):
        return c[0]

    def an_contrast(self, meta, c):
        contrast = m.Contrast(_level(c[0]), _level(c[1]), _loc(meta))
        return _Item("contrast", _loc(meta), adds={"contrasts": (contrast,)})

    def an_lsmeans(self, meta, c):
        # The clause's own location: a method that takes no weights is refused there (SAP244).
        return _Item("lsmeans weights", _loc(meta),
                     sets={"weights": str(c[0]), "weights_loc": _loc(meta)})

    def an_options(self, meta, c):
        return _Item("options", _loc(meta), adds={"options": tuple(c)})

    def analysis(self, meta, c):
        name, label, estimand, *items = c
        fields = self.fold(f"analysis {name}", items)
        # The options of `method X (...)` come first, wherever an `options` item is written.
        options = fields.pop("method_options", ()) + fields.pop("options", ())
        return m.Analysis(name=str(name), label=label.value if label else None,
                          estimand=str(estimand) if estimand else None, options=options,
                          loc=_loc(meta), **fields)

    def analysis_by(self, meta, c):
        name, label, base, by = c
        return m.Analysis(name=str(name), label=label.value if label else None,
                          base=str(base), by=tuple(m.ByItem(b) for b in by), loc=_loc(meta))

    # ---- displays
    def show_item(self, meta, c):
        return m.ShowItem(str(c[0]), c[1].value if c[1] else None, _loc(meta))

    def tab_columns(self, meta, c):
        return _Item("columns", _loc(meta), sets={"columns": tuple(c)})

    def tab_rows(self, meta, c):
        rows = m.TableRows(c[0][0], c[0][1:], c[1].value if c[1] else None,
                           tuple(x for x in c[2:] if x is not None), _loc(meta))
        return _Item("rows", _loc(meta), adds={"rows": (rows,)})

    def tab_footnote(self, meta, c):
        return _Item("footnote", _loc(meta), adds={"footnotes": (c[0].value,)})

    def table(self, meta, c):
        fields = self.fold(f'table "{c[0].value}"', c[2:])
        return m.Table(c[0].value, c[1].value, loc=_loc(meta), **fields)

    def figure(self, meta, c):
        fields = self.fold(f'figure "{c[0].value}"', c[3:])
        # A figure shares the items of a table; it has no columns or rows of its own.
        fields.pop("columns", None)
        fields.pop("rows", None)
        return m.Figure(c[0].value, c[1].value, str(c[2]), loc=_loc(meta), **fields)

    def doc_template(self, meta, c):
        return _Item("template", _loc(meta), sets={"template": c[0].value})

    def doc_include(self, meta, c):
        return _Item("include", _loc(meta), sets={"include": tuple(str(x) for x in c) or ("all",)})

    def doc_author(self, meta, c):
        return _Item("author", _loc(meta), sets={"author": c[0].value})

    def doc_reproduce(self, meta, c):
        return _Item("reproduce", _loc(meta), sets={"reproduce": c[0].value})

    def doc_rounding(self, meta, c):
        return _Item("rounding", _loc(meta), sets={"rounding": str(c[0])})

    def document(self, meta, c):
        fields = self.fold("document", c[1:])
        return m.Document(c[0].value, loc=_loc(meta), **fields)


def _plain(value):
    if isinstance(value, (m.Num, m.Str, m.Bool)):
        return value.value
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def parse_text(text: str, path: str = "<plan>") -> m.Plan:
    """Parse plan text; raise :class:`PlanSyntaxError` with located diagnostics."""
    if text.startswith("\ufeff"):  # a UTF-8 byte order mark, as some editors write
        text = text[1:]
    if len(text) > MAX_PLAN_BYTES:
        raise PlanSyntaxError(_too_large(path, len(text)))
    try:
        tree = parser().parse(text, on_error=None)
    except (UnexpectedToken, UnexpectedCharacters, UnexpectedEOF) as exc:
        raise PlanSyntaxError(syntax_error(exc, text, path, parser())) from None
    # Too deep an expression is refused before anything recurses over it (SAP108); the
    # transformer itself does not recurse, so the other problems are still found.
    problems = depth.tree_problems(tree)
    to_model = _ToModel()
    statements = to_model.transform(tree)
    problems += to_model.problems
    if not problems:
        problems = depth.reference_problems(statements)
    if problems:
        problems.sort(key=lambda p: (p[2].line, p[2].column))
        omitted = to_model.omitted + max(0, len(problems) - MAX_COLLECTED)
        raise PlanSyntaxError([plan_diagnostic(code, message, loc, path, text, width=1)
                               for code, message, loc in problems[:MAX_COLLECTED]],
                              omitted=omitted)
    # Comments are ignored by the grammar; the lexer callback is not available with a cached
    # parser, so collect them with a second, cheap scan.
    return m.Plan(path=path, statements=statements, comments=_comments(text), text=text)


def _too_large(path: str, size: int) -> Diagnostic:
    return Diagnostic("SAP005", f"plan file is too large: {path} ({size:,} bytes; the limit is "
                      f"{MAX_PLAN_BYTES:,})")


def _comments(text: str) -> tuple[tuple[int, str], ...]:
    """(line, text) of each ``#`` comment outside strings (lines counted as the lexer does)."""
    found = []
    for number, line in enumerate(source_lines(text), start=1):
        if "#" not in line:
            continue
        in_string, escaped = False, False
        for i, ch in enumerate(line):
            if in_string:
                # A backslash escapes the next character, so "C:\\" ends at its last quote.
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "#":
                found.append((number, line[i:].rstrip()))
                break
    return tuple(found)


def parse_file(path: str | Path) -> m.Plan:
    """Read and parse a plan file; a path that cannot be read as a plan is a SAP00x error."""
    path = Path(path)
    try:
        if not path.exists():
            raise FileNotFoundError(path)
        if path.is_dir():
            raise PlanSyntaxError(Diagnostic("SAP003",
                                             f"plan path is a folder, not a file: {path}"))
        if not path.is_file():  # a FIFO or a device: reading it could block forever
            raise PlanSyntaxError(Diagnostic("SAP003",
                                             f"plan path is not a regular file: {path}"))
        size = path.stat().st_size
        if size > MAX_PLAN_BYTES:
            raise PlanSyntaxError(_too_large(str(path), size))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanSyntaxError(Diagnostic("SAP001", f"plan file not found: {path}")) from None
    except UnicodeDecodeError as exc:
        raise PlanSyntaxError(_not_utf8(path, exc)) from None
    except OSError as exc:  # permission denied, an I/O error, a name too long...
        reason = exc.strerror or type(exc).__name__
        raise PlanSyntaxError(Diagnostic(
            "SAP004", f"plan file cannot be read: {path} ({reason.lower()})")) from None
    return parse_text(text, str(path))


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> Diagnostic:
    """SAP002 at the line and column of the first byte that is not UTF-8 (the line quoted
    with that byte shown as U+FFFD), so an editor can jump to it."""
    data = exc.object if isinstance(exc.object, bytes) else b""
    before = data[:exc.start]
    line = before.count(b"\n") + 1
    start = before.rfind(b"\n") + 1
    column = len(before[start:].decode("utf-8", errors="replace")) + 1
    end = data.find(b"\n", exc.start)
    quoted = data[start:end if end >= 0 else len(data)].decode("utf-8", errors="replace")
    return Diagnostic("SAP002", f"plan file is not UTF-8 text: byte {exc.start} "
                                f"(0x{data[exc.start]:02x}) cannot be decoded; save the plan "
                                "as UTF-8", m.Loc(line, column, file=str(path)),
                      source_line=quoted)
