"""The parse tree of a plan's blocks to the plan model: the statements (``study``, ``data``,
``treatment``, ``population``, ``visits``, ``parameter``, ``estimand``, ``analysis``,
``table``, ``figure``, ``document``) and the items they fold into their fields (the second
half of the transformer of :mod:`sap_engine.parse`).

Separate from the expressions (:mod:`sap_engine.parse_expressions`, which
:class:`PlanToModel` extends) because a block is a different kind of rule: its items are
:class:`_Item` values folded into one statement, with SAP109 for an item given twice, and
the visit schedule's own problems (SAP105-SAP107), while an expression rule builds a node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lark import v_args

from sap_engine import model as m
from sap_engine.parse_expressions import ExpressionsToModel, meta_loc, token_loc


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


@v_args(meta=True)
class PlanToModel(ExpressionsToModel):
    """Parse tree to plan model: the statement rules over the expression rules.

    Every rule builds a typed value with its location: a plan node, or a block item
    (:class:`_Item`) that its statement folds into its fields."""

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

    # ---- statements
    def start(self, meta, c):
        return tuple(c)

    def study_attr(self, meta, c):
        value = c[1].value if hasattr(c[1], "value") else c[1]
        return (str(c[0]), value)

    def study(self, meta, c):
        return m.Study(str(c[0]), c[1].value, tuple(c[2:]), meta_loc(meta))

    def file_source(self, meta, c):
        return _Item("from", meta_loc(meta), sets={"kind": "file", "ref": c[0].value})

    def package_source(self, meta, c):
        return _Item("from", meta_loc(meta), sets={"kind": "package", "ref": c[0].value})

    def source(self, meta, c):
        name, ref, keys, subjects = c
        return m.Source(str(name), keys=keys or (), subjects=subjects is not None,
                        loc=meta_loc(meta), **ref.sets)

    def data(self, meta, c):
        return m.DataBlock(tuple(c), meta_loc(meta))

    def arm(self, meta, c):
        return m.Arm(_level(c[0]), c[1].value if c[1] else None, c[2] is not None, meta_loc(meta))

    def treatment(self, meta, c):
        return m.Treatment(c[0], tuple(c[1:]), meta_loc(meta))

    def label_item(self, meta, c):
        return (_level(c[0]), c[1].value), meta_loc(meta)

    def labels(self, meta, c):
        items = c[1:]
        return m.Labels(c[0], tuple(i for i, _ in items), meta_loc(meta),
                        tuple(loc for _, loc in items))

    def population(self, meta, c):
        name, label, dataset, where = c
        return m.Population(str(name), label.value if label else None, str(dataset), where,
                            meta_loc(meta))

    def visit_baseline(self, meta, c):
        return _Item("baseline", meta_loc(meta), sets={"baseline": c[0].value})

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
                         meta_loc(meta))
        elif m.visit_range_count(start, stop, step) > m.MAX_VISITS:
            self.problem("SAP107", f"visit range {text} has more than {m.MAX_VISITS} visits",
                         meta_loc(meta))
        else:
            return spec
        return (start,)  # parsing goes on to report every problem; the plan is refused

    def visit_scheduled(self, meta, c):
        count = sum(1 if len(s) == 1 else m.visit_range_count(*s) for s in c)
        if count > m.MAX_VISITS:
            self.problem("SAP107", f"the schedule has {count} visits, more than {m.MAX_VISITS}",
                         meta_loc(meta))
        return _Item("scheduled", meta_loc(meta), sets={"scheduled": tuple(c)})

    def visit_label(self, meta, c):
        sets = {"label": c[0].value}
        if c[1] is not None:  # `label "Week" from AVISIT`: the prefix and the data's labels
            sets.update(label_from=str(c[1]), label_from_loc=meta_loc(meta))
        return _Item("label", meta_loc(meta), sets=sets)

    def visit_label_from(self, meta, c):
        return _Item("label from", meta_loc(meta),
                     sets={"label_from": str(c[0]), "label_from_loc": meta_loc(meta)})

    def visits(self, meta, c):
        froms = [i for i in c[1:] if isinstance(i, _Item) and "label_from" in i.sets]
        if len(froms) > 1:  # `label "Week" from A` and `label from B`: one source of labels
            self.problem("SAP109", f"visits {c[0].text}: the labels' column ('from') is given "
                         f"twice (first at line {froms[0].loc.line}); give it once",
                         froms[1].loc)
        fields = self.fold(f"visits {c[0].text}", c[1:])
        return m.Visits(c[0], loc=meta_loc(meta), **fields)

    def parameter(self, meta, c):
        name, label, source, where, base, by = c
        return m.Parameter(str(name), label.value if label else None, source, where, base,
                           by or (), meta_loc(meta))

    def occurrence(self, meta, c):
        name, label, dataset, where = c
        return m.Occurrence(str(name), label.value if label else None, str(dataset), where,
                            meta_loc(meta))

    def aggregate(self, meta, c):
        name, label, function, source, levels, none = c
        levels_loc, values = levels if levels is not None else (m.Loc(), None)
        none_loc, none_text = none if none is not None else (m.Loc(), None)
        return m.Aggregate(str(name), label.value if label else None, str(function), source,
                           values, none_text, meta_loc(meta),
                           function_loc=token_loc(function),
                           levels_loc=levels_loc, none_loc=none_loc)

    def agg_levels(self, meta, c):
        return meta_loc(meta), tuple(_level(x) for x in c)

    def agg_none(self, meta, c):
        return meta_loc(meta), c[0].value

    def endpoint(self, meta, c):
        return m.Endpoint(str(c[0]), c[1].value if c[1] else None, c[2], "endpoint", meta_loc(meta))

    def stratum(self, meta, c):
        return m.Endpoint(str(c[0]), c[1].value if c[1] else None, c[2], "stratum", meta_loc(meta))

    def intercurrent(self, meta, c):
        return m.Intercurrent(str(c[0]), c[1].value if c[1] else None, c[2], c[3], meta_loc(meta))

    def population_use(self, meta, c):
        return m.PopulationUse(str(c[0]), c[1], meta_loc(meta))

    def visit_at(self, meta, c):
        return _Item("at week", meta_loc(meta),
                     sets={"visit": c[0].value, "visit_loc": meta_loc(meta)})

    def missing_use(self, meta, c):
        # `worst highest|lowest` says which value WOCF imputes; checked in check_missing.
        return _Item("missing", meta_loc(meta),
                     sets={"missing": str(c[0]), "worst": str(c[1]) if c[1] else None,
                           "missing_loc": meta_loc(meta)})

    def est_variable(self, meta, c):
        at_week = c[1].sets if c[1] else {}
        return _Item("variable", meta_loc(meta), sets={"variable": c[0], **at_week})

    def handling_value(self, meta, c):
        return ("value", c[0].value)

    def handling_negative(self, meta, c):
        return ("value", -c[0].value)

    def est_intercurrent(self, meta, c):
        how, value = c[2] if isinstance(c[2], tuple) else (c[2], None)
        strategy = m.Strategy(str(c[0]), str(c[1]), str(how) if how else None, value,
                              meta_loc(meta))
        return _Item("intercurrent", meta_loc(meta), adds={"strategies": (strategy,)})

    def est_treatment(self, meta, c):
        return _Item("treatment", meta_loc(meta),
                     sets={"treatment": c[0].value, "treatment_loc": meta_loc(meta)})

    def est_summary(self, meta, c):
        return _Item("summary", meta_loc(meta), sets={"summary": c[0].value})

    def estimand(self, meta, c):
        name, label, *items = c
        fields = self.fold(f"estimand {name}", items)
        return m.Estimand(str(name), label.value if label else None, loc=meta_loc(meta), **fields)

    # ---- analyses
    def option(self, meta, c):
        value = c[1]
        return m.Option(str(c[0]), _plain(value), meta_loc(meta))

    def negative_number(self, meta, c):
        # An option value such as a tipping-point delta may be negative (`delta = [-2, 0]`).
        return m.Num(-c[0].value, meta_loc(meta))

    def list_value(self, meta, c):
        return tuple(x for x in c if x is not None)

    def option_list(self, meta, c):
        return tuple(x for x in c if x is not None)

    def an_method(self, meta, c):
        return _Item("method", meta_loc(meta), sets={
            "method": str(c[0]), "method_loc": meta_loc(meta), "method_options": c[1] or ()})

    def an_model(self, meta, c):
        return _Item("model", meta_loc(meta), sets={"response": c[0], "terms": c[1]})

    def an_variables(self, meta, c):
        return _Item("variable", meta_loc(meta), sets={"variables": tuple(c)})

    def an_crosstab(self, meta, c):
        return _Item("crosstab", meta_loc(meta), sets={"crosstab": (c[0], c[1])})

    def role(self, meta, c):
        return m.Role(str(c[0]), c[1], meta_loc(meta))

    def an_roles(self, meta, c):
        return _Item("roles", meta_loc(meta), sets={"roles": tuple(c)})

    def by_treatment(self, meta, c):
        return m.ByItem("treatment", meta_loc(meta))

    def by_total(self, meta, c):
        return m.ByItem("total", meta_loc(meta))

    def by_visit(self, meta, c):
        return m.ByItem("visit", meta_loc(meta))

    def by_visit_after_baseline(self, meta, c):
        return m.ByItem("visit", meta_loc(meta), after_baseline=True)

    def by_name(self, meta, c):
        return m.ByItem(str(c[0]), meta_loc(meta))

    def an_by(self, meta, c):
        return _Item("by", meta_loc(meta), sets={"by": tuple(c)})

    def an_at(self, meta, c):
        return c[0]

    def an_contrast(self, meta, c):
        contrast = m.Contrast(_level(c[0]), _level(c[1]), meta_loc(meta))
        return _Item("contrast", meta_loc(meta), adds={"contrasts": (contrast,)})

    def an_lsmeans(self, meta, c):
        # The clause's own location: a method that takes no weights is refused there (SAP244).
        return _Item("lsmeans weights", meta_loc(meta),
                     sets={"weights": str(c[0]), "weights_loc": meta_loc(meta)})

    def an_options(self, meta, c):
        return _Item("options", meta_loc(meta), adds={"options": tuple(c)})

    def analysis(self, meta, c):
        name, label, estimand, *items = c
        fields = self.fold(f"analysis {name}", items)
        # The options of `method X (...)` come first, wherever an `options` item is written.
        options = fields.pop("method_options", ()) + fields.pop("options", ())
        return m.Analysis(name=str(name), label=label.value if label else None,
                          estimand=str(estimand) if estimand else None, options=options,
                          loc=meta_loc(meta), **fields)

    def analysis_by(self, meta, c):
        name, label, base, by = c
        return m.Analysis(name=str(name), label=label.value if label else None,
                          base=str(base), by=tuple(m.ByItem(b) for b in by), loc=meta_loc(meta))

    # ---- displays
    def show_item(self, meta, c):
        return m.ShowItem(str(c[0]), c[1].value if c[1] else None, meta_loc(meta))

    def tab_columns(self, meta, c):
        return _Item("columns", meta_loc(meta), sets={"columns": tuple(c)})

    def tab_rows(self, meta, c):
        rows = m.TableRows(c[0][0], c[0][1:], c[1].value if c[1] else None,
                           tuple(x for x in c[2:] if x is not None), meta_loc(meta))
        return _Item("rows", meta_loc(meta), adds={"rows": (rows,)})

    def tab_by_visit(self, meta, c):
        return _Item("by visit", meta_loc(meta),
                     sets={"by_visit": True, "by_visit_loc": meta_loc(meta)})

    def tab_footnote(self, meta, c):
        return _Item("footnote", meta_loc(meta), adds={"footnotes": (c[0].value,)})

    def table(self, meta, c):
        fields = self.fold(f'table "{c[0].value}"', c[2:])
        return m.Table(c[0].value, c[1].value, loc=meta_loc(meta), **fields)

    def figure(self, meta, c):
        items = c[3:]
        # A figure shares the grammar of a table's items, but it draws its one analysis:
        # table columns or rows would be ignored, so they are refused where they are written.
        for item in items:
            if isinstance(item, _Item) and item.words in ("columns", "rows", "by visit"):
                self.problem("SAP110", f'figure "{c[0].value}" draws analysis {c[2]}: '
                             f"'{item.words}' belongs to a table and would be ignored; "
                             "remove it", item.loc)
        fields = self.fold(f'figure "{c[0].value}"', items)
        fields.pop("columns", None)
        fields.pop("rows", None)
        fields.pop("by_visit", None)
        fields.pop("by_visit_loc", None)
        return m.Figure(c[0].value, c[1].value, str(c[2]), loc=meta_loc(meta), **fields)

    def doc_template(self, meta, c):
        return _Item("template", meta_loc(meta), sets={"template": c[0].value})

    def doc_include(self, meta, c):
        return _Item("include", meta_loc(meta),
                     sets={"include": tuple(str(x) for x in c) or ("all",)})

    def doc_author(self, meta, c):
        return _Item("author", meta_loc(meta), sets={"author": c[0].value})

    def doc_reproduce(self, meta, c):
        return _Item("reproduce", meta_loc(meta), sets={"reproduce": c[0].value})

    def doc_rounding(self, meta, c):
        return _Item("rounding", meta_loc(meta), sets={"rounding": str(c[0])})

    def document(self, meta, c):
        fields = self.fold("document", c[1:])
        return m.Document(c[0].value, loc=meta_loc(meta), **fields)


def _plain(value):
    if isinstance(value, (m.Num, m.Str, m.Bool)):
        return value.value
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value
