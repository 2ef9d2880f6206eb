"""Resolve an analysis' options: the method's defaults, what the plan's clauses imply, what
the analysis gives, each validated by the method's option spec and recorded with its source.

Which clause feeds which option is declared by the option (``registry.OptionSpec.clause``), never
inferred from a name: ``lsmeans weights observed`` sets an ancova's LS-mean weights because
its ``weights`` option says so, and a method whose own ``weights`` means something else
(multiplicity's list of hypothesis weights) refuses the clause (SAP244).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.errors import did_you_mean
from sap_engine.methods import registry as r

if TYPE_CHECKING:
    from sap_engine.bind import Reporter

SOURCES = ("given", "clause", "default")  # where a resolved option's value came from


@dataclass(frozen=True)
class ResolvedOption:
    """One option of a bound analysis: its value and where it came from (``SOURCES``;
    ``clause`` names the plan clause for source 'clause'). A list is held as a tuple."""

    name: str
    value: object
    source: str
    clause: str = ""
    loc: m.Loc = field(default=m.Loc(), compare=False, repr=False)


def as_method_options(options: tuple[ResolvedOption, ...]) -> dict[str, object]:
    """The options as a method receives them: a list the plan gave or implied is a list (as
    before binding existed), a default is the registry's own value."""
    return {o.name: list(o.value) if isinstance(o.value, tuple) and o.source != "default"
            else o.value for o in options}


@dataclass(frozen=True)
class ClauseValue:
    value: object
    loc: m.Loc
    text: str  # how the plan wrote it, for messages


def category_levels(plan: m.Plan, e: m.Expr) -> list[str] | None:
    """Display order of a categorical term's levels: cut order, or a labels block's order."""
    if isinstance(e, m.Col) and e.name in plan.endpoints:
        inner = plan.endpoints[e.name].expr
        if isinstance(inner, m.Cut):
            return [iv.display for iv in inner.intervals]
    if isinstance(e, m.Cut):
        return [iv.display for iv in e.intervals]
    agg = plan.aggregates.get(e.name) if isinstance(e, m.Col) and e.dataset is None else None
    if isinstance(e, m.Col) and agg is not None and agg.categories() is not None:
        # worst(): its levels as declared (mildest first), then the no-record level; a
        # labels block renames them. any(): sorted as a condition ("N", "Y") unless a
        # labels block orders it; a value the block leaves out still has its row.
        every = agg.categories() or []
        if agg.function == "worst":
            return every
        if e.name not in plan.labels:
            return None
        given = [v for v in plan.labels[e.name] if v in every]
        return given + [v for v in every if v not in given]
    if isinstance(e, m.Col) and e.name in plan.labels:
        return list(plan.labels[e.name])
    # The baseline (or value) of a text parameter: its categories, as its labels order them.
    if isinstance(e, m.Call) and e.function in ("baseline", "value") and e.args and \
            isinstance(e.args[0], m.Col) and e.args[0].name in plan.parameters and \
            e.args[0].name in plan.labels:
        return list(plan.labels[e.args[0].name])
    return None


def clause_values(plan: m.Plan, a: m.Analysis, roles: dict[str, tuple[m.Expr, ...]],
                  interactions: list[tuple[str, m.Loc]]) -> dict[str, ClauseValue]:
    """The value of every clause that applies to ``a`` (keys: ``registry`` clause names)."""
    out: dict[str, ClauseValue] = {}
    if a.weights:
        out[r.LSMEANS_WEIGHTS] = ClauseValue(a.weights, a.weights_loc if a.weights_loc.line
                                             else a.loc, f"'lsmeans weights {a.weights}'")
    if a.contrasts:
        out[r.CONTRAST] = ClauseValue(tuple(c.label for c in a.contrasts), a.contrasts[0].loc,
                                      f"'contrast {a.contrasts[0].label}'")
    if interactions:
        text, loc = interactions[0]
        out[r.MODEL_INTERACTIONS] = ClauseValue(tuple(t for t, _ in interactions),
                                                loc if loc.line else a.loc,
                                                f"the model's interaction '{text}'")
    trt = plan.treatment
    if trt and trt.reference:
        out[r.TREATMENT_REFERENCE] = ClauseValue(trt.reference.level, trt.reference.loc,
                                                 f"the reference arm '{trt.reference.level}'")
    # The arms order the treatment only where the treatment is the method's treatment or
    # group (a group of another variable has levels of its own).
    if trt and any(isinstance(e, m.Col) and e.dataset is None and e.name == "treatment"
                   for role in ("treatment", "group") for e in roles.get(role, ())):
        out[r.TREATMENT_ARMS] = ClauseValue(tuple(arm.level for arm in trt.arms), trt.loc,
                                            "the treatment's arms")
    est = plan.estimands.get(a.estimand or "")
    if a.visit is not None:
        out[r.ANALYSIS_VISIT] = ClauseValue(a.visit, a.visit_loc if a.visit_loc.line
                                            else a.loc, f"'at week {m._num(a.visit)}'")
    elif est is not None and est.visit is not None:
        out[r.ANALYSIS_VISIT] = ClauseValue(est.visit, est.visit_loc if est.visit_loc.line
                                            else est.loc,
                                            f"the estimand's 'at week {m._num(est.visit)}'")
    for role, clause in (("variable", r.VARIABLE_LEVELS), ("row", r.ROW_LEVELS),
                         ("col", r.COL_LEVELS)):
        terms = roles.get(role, ())
        orders = [category_levels(plan, t) for t in terms]
        # Several variables (analysed one by one) share the option: only a common order.
        if orders and orders[0] and all(o == orders[0] for o in orders):
            out[clause] = ClauseValue(tuple(orders[0]), terms[0].loc if terms[0].loc.line
                                      else a.loc, f"the category order of {role}")
    return out


def _given_value(opt: m.Option) -> object:
    return tuple(opt.value) if isinstance(opt.value, (tuple, list)) else opt.value


def _validate(spec: r.OptionSpec, value: object) -> str | None:
    return spec.validate(list(value) if isinstance(value, tuple) else value)


def resolve_options(plan: m.Plan, a: m.Analysis, method: r.Method,
                    roles: dict[str, tuple[m.Expr, ...]],
                    interactions: list[tuple[str, m.Loc]], ch: Reporter
                    ) -> tuple[ResolvedOption, ...] | None:
    """Every option of ``method`` for ``a``, sorted by name; None (problems reported) when an
    option is unknown or invalid, or a clause cannot be taken or contradicts an option."""
    ok = True
    given: dict[str, m.Option] = {}
    for opt in a.options:
        spec = method.option(opt.name)
        if spec is None:
            ch.error("SAP207", f"method '{a.method}' has no option '{opt.name}'", opt.loc,
                     did_you_mean(opt.name, [o.name for o in method.options]))
            ok = False
            continue
        problem = _validate(spec, _given_value(opt))
        if problem:
            ch.error("SAP207", f"method '{a.method}': {problem}", opt.loc)
            ok = False
        given[opt.name] = opt
    values = clause_values(plan, a, roles, interactions)
    fed = {o.clause for o in method.options}
    for clause in r.ANALYSIS_CLAUSES:
        if clause in values and clause not in fed:
            ch.error("SAP244", _refused_text(method, clause, values[clause]),
                     values[clause].loc)
            ok = False
    resolved = []
    for spec in method.options:
        fed_by = values.get(spec.clause) if spec.clause else None
        if spec.name in given:
            opt = given[spec.name]
            if fed_by is not None and spec.clause in r.ANALYSIS_CLAUSES:
                ch.error("SAP245", f"option '{spec.name}' is set twice: by 'options "
                                   f"{spec.name} = ...' and by {fed_by.text} (line "
                                   f"{fed_by.loc.line}); keep one of them", opt.loc)
                ok = False
            resolved.append(ResolvedOption(spec.name, _given_value(opt), "given", loc=opt.loc))
        elif fed_by is not None:
            problem = _validate(spec, fed_by.value)
            if problem:
                ch.error("SAP207", f"method '{a.method}': {fed_by.text}: {problem}",
                         fed_by.loc)
                ok = False
            resolved.append(ResolvedOption(spec.name, fed_by.value, "clause", spec.clause,
                                           fed_by.loc))
        else:
            resolved.append(ResolvedOption(spec.name, spec.default, "default"))
    return tuple(sorted(resolved, key=lambda o: o.name)) if ok else None


def _refused_text(method: r.Method, clause: str, value: ClauseValue) -> str:
    takers = sorted(x.name for x in r.METHODS.values()
                    if any(o.clause == clause for o in x.options))
    same = next((o.name for o in method.options if clause.endswith(o.name)
                 or (clause == r.CONTRAST and o.name == "contrasts")), None)
    why = f"its option '{same}' is another thing, which this clause does not set" if same \
        else "it would be ignored"
    where = f"; the methods that take it: {', '.join(takers)}" if takers else ""
    return f"method '{method.name}' cannot take {value.text} ({why}){where}"
