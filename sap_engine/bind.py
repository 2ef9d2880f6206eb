"""Bind: every analysis statement resolved, once, into a typed call of its method.

Binding runs inside ``check`` (it reports through the checker) and its result is what
``compile`` orders and ``execute`` runs: nothing downstream types a term or resolves an
option again, so what the checker approved is what is fitted.

Roles, in words a plan author can predict:
- ``model Y ~ treatment + X + A * B``: Y is the ``response``; the word ``treatment`` is the
  ``treatment`` role; a numeric term is a ``covariates`` entry, any other (a category, a
  text column, a ``cut``, a condition such as ``AGE > 40``) a ``factors`` entry;
  ``A * B`` adds both main effects and the interaction (option ``interactions``).
- ``variable a, b``: the method's ``variables`` role when it takes many, else ``variable``
  (or ``response``), the analysis then being run once per variable.
- ``crosstab R by C``: roles ``row`` and ``col``.
- ``roles name = term, ...``: any role by name.
- A method role ``treatment`` or ``group`` that the plan leaves empty is the treatment
  variable (so ``method smd`` compares the arms without further words).
- For a time-to-event method (roles ``time``, ``group``), ``model T ~ treatment + X`` fills
  ``time`` with T and ``group`` with the treatment; the event comes from ``roles event = E``.

How a term is held in the analysis frame (``Term.coding``): a number as a number; a category
or text as text; a condition (kind ``bool``) as the ADaM flag "Y"/"N" wherever it is a
category (a factor, a crosstab row, an analysed variable), so a model fits it as a two-level
factor whose levels sort as text ("N" before "Y", as every other class variable sorts), and as
1/0 where the method's role is numeric (an event, a p-value).

Options (see ``registry.OptionSpec.clause``): the method's default, replaced by what a plan
clause implies, replaced by the analysis' own ``options``; the value of a clause is
validated like a given one. A clause of the analysis (``lsmeans weights``, ``contrast``, a
model's ``A * B``) that no option of the method takes is an error (SAP244), and so is such a
clause together with the option it feeds (SAP245): neither may silently win.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sap_engine import model as m
from sap_engine.bind_options import (
    ResolvedOption,
    as_method_options,
    category_levels,
    resolve_options,
)
from sap_engine.errors import did_you_mean
from sap_engine.methods import registry

TREATMENT = m.Col("treatment")
__all__ = ["BoundAnalysis", "Repetition", "ResolvedOption", "Term", "bind_plan",
           "category_levels", "term_name"]


class Reporter(Protocol):
    """What binding needs of the checker: report a located problem."""

    def error(self, code: str, message: str, loc: m.Loc, suggestion: str | None = None
              ) -> None: ...


class Checker(Reporter, Protocol):
    """The checker's services binding uses: type an expression, check names of a context."""

    def kind(self, e: m.Expr, dataset: str | None) -> str | None: ...

    def check_population_use(self, use: m.PopulationUse) -> None: ...

    def check_visit(self, visit: float | None, loc: m.Loc) -> None: ...

    def check_missing(self, missing: str | None, worst: str | None, loc: m.Loc) -> None: ...


@dataclass(frozen=True)
class Term:
    """A plan expression in a method role: its kind (the checker's: numeric, category,
    string, bool), the analysis-frame column holding it, and how that column codes it
    ('number', 'text', 'flag' for "Y"/"N", 'indicator' for 1/0)."""

    expr: m.Expr
    kind: str | None
    column: str
    coding: str

    @property
    def name(self) -> str:
        """The term's name in the ARD (``baseline(x)`` -> ``baseline_x``)."""
        return term_name(self.expr)

    @property
    def is_treatment(self) -> bool:
        return is_treatment(self.expr)


class RolesAndOptions:
    """What a bound analysis and a compiled step share: roles by name, and the options as
    the method receives them."""

    roles: tuple[tuple[str, tuple[Term, ...]], ...]
    options: tuple[ResolvedOption, ...]

    @property
    def role_map(self) -> dict[str, tuple[Term, ...]]:
        return dict(self.roles)

    @property
    def option_map(self) -> dict[str, object]:
        """The options as the method receives them (``bind_options.as_method_options``)."""
        return as_method_options(self.options)


@dataclass(frozen=True)
class BoundAnalysis(RolesAndOptions):
    """An analysis statement bound to its method: everything the executor needs."""

    name: str
    label: str
    method: str
    roles: tuple[tuple[str, tuple[Term, ...]], ...]
    options: tuple[ResolvedOption, ...]  # sorted by name
    population: m.PopulationUse
    visit: float | None
    # The handling of intercurrent events (the estimand's strategies) and missing values.
    strategies: tuple[m.Strategy, ...]
    missing: str | None
    by: tuple[m.ByItem, ...]
    loc: m.Loc = field(default=m.Loc(), compare=False)
    worst: str | None = None  # of ``missing wocf worst ...``

    @property
    def handling(self) -> m.Handling:
        return m.Handling(self.strategies, self.missing, self.worst)


@dataclass(frozen=True)
class Repetition:
    """``analysis X = Y by s``: analysis Y again, within each level of the ``by`` items."""

    name: str
    label: str | None
    base: str
    by: tuple[m.ByItem, ...]
    loc: m.Loc = field(default=m.Loc(), compare=False)


Bound = BoundAnalysis | Repetition


# ---- terms -------------------------------------------------------------------------------
def flatten_sum(e: m.Expr | None) -> list[m.Expr]:
    if e is None:
        return []
    if isinstance(e, m.BinOp) and e.op == "+":
        return flatten_sum(e.left) + flatten_sum(e.right)
    return [e]


def flatten_product(e: m.Expr) -> list[m.Expr]:
    if isinstance(e, m.BinOp) and e.op == "*":
        return flatten_product(e.left) + flatten_product(e.right)
    return [e]


def term_name(e: m.Expr) -> str:
    """A stable column name for a term (``baseline(cdasi_a)`` -> ``baseline_cdasi_a``)."""
    from sap_engine.fmt import expr

    if isinstance(e, m.Col):
        return e.name
    if isinstance(e, m.Call) and len(e.args) == 1 and isinstance(e.args[0], m.Col):
        return f"{e.function}_{e.args[0].name}"
    text = expr(e)
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")


def is_treatment(e: m.Expr) -> bool:
    return isinstance(e, m.Col) and e.dataset is None and e.name == "treatment"


def coding(kind: str | None, role_kind: str) -> str:
    """How the frame holds a term of ``kind`` in a role of ``role_kind`` (module docstring)."""
    if kind == "numeric":
        return "number"
    if kind == "bool":
        return "indicator" if role_kind == "numeric" else "flag"
    return "text"


def analysis_chain(plan: m.Plan, a: m.Analysis) -> m.Analysis:
    """The analysis an ``X = Y by s`` statement repeats (following chains)."""
    seen = set()
    while a.base and a.base in plan.analyses and a.name not in seen:
        seen.add(a.name)
        a = plan.analyses[a.base]
    return a


def by_chain(plan: m.Plan, a: m.Analysis) -> tuple[m.ByItem, ...]:
    """The ``by`` items of ``a`` and of every analysis it repeats, the repeated one's first
    (as ``compile`` expands a repetition)."""
    items: tuple[m.ByItem, ...] = ()
    seen: set[str] = set()
    while a.name not in seen:
        seen.add(a.name)
        items = a.by + items
        if not (a.base and a.base in plan.analyses):
            break
        a = plan.analyses[a.base]
    return items


# ---- roles -------------------------------------------------------------------------------
KindOf = Callable[[m.Expr], "str | None"]


def resolve_roles(a: m.Analysis, method: registry.Method, kind_of: KindOf
                  ) -> tuple[dict[str, tuple[m.Expr, ...]], list[tuple[str, m.Loc]]]:
    """Roles -> plan expressions for ``a``, and its interactions ("A*B", where written)."""
    roles: dict[str, list[m.Expr]] = {}
    interactions: list[tuple[str, m.Loc]] = []
    names = {r.name for r in method.roles}
    if a.response is not None:
        roles["response"] = [a.response]
        for term in flatten_sum(a.terms):
            parts = flatten_product(term)
            if len(parts) > 1:
                interactions.append(("*".join(
                    "treatment" if is_treatment(p) else term_name(p) for p in parts), term.loc))
            for p in parts:
                if is_treatment(p):
                    roles.setdefault("treatment", [TREATMENT])
                    continue
                role = "covariates" if kind_of(p) == "numeric" else "factors"
                if all(term_name(p) != term_name(q) for q in roles.get(role, [])):
                    roles.setdefault(role, []).append(p)
    if a.variables:
        many = next((r.name for r in method.roles if r.many and r.name == "variables"), None)
        target = many or ("variable" if "variable" in names else "response")
        roles[target] = list(a.variables)
    if a.crosstab:
        roles["row"], roles["col"] = [a.crosstab[0]], [a.crosstab[1]]
    for r in a.roles:
        roles[r.name] = [r.expr]
        # A term given its own role (the dose of a dose-response model) is not also an
        # ordinary covariate or factor of the model.
        for other in ("covariates", "factors"):
            if other in roles:
                roles[other] = [t for t in roles[other] if term_name(t) != term_name(r.expr)]
                if not roles[other]:
                    del roles[other]
    # A time-to-event model reads `model time ~ treatment + covariates`: the left-hand side
    # is the method's time and the treatment its group.
    for given, alias in (("response", "time"), ("treatment", "group")):
        if given in roles and given not in names and alias in names and alias not in roles:
            roles[alias] = roles.pop(given)
    for implicit in ("treatment", "group"):
        if implicit in names and implicit not in roles:
            roles[implicit] = [TREATMENT]
    return {k: tuple(v) for k, v in roles.items()}, interactions


def _terms(plan: m.Plan, method: registry.Method, roles: dict[str, tuple[m.Expr, ...]],
           kind_of: KindOf) -> tuple[tuple[str, tuple[Term, ...]], ...]:
    trt_column = plan.treatment.column.name if plan.treatment else "treatment"
    kinds = {r.name: r.kind for r in method.roles}
    out = []
    for role, exprs in roles.items():
        terms = []
        for e in exprs:
            kind = kind_of(e)
            column = trt_column if is_treatment(e) else term_name(e)
            terms.append(Term(e, kind, column, coding(kind, kinds.get(role, "any"))))
        out.append((role, tuple(terms)))
    return tuple(out)


# ---- binding -----------------------------------------------------------------------------
def bind_plan(plan: m.Plan, checker: Checker) -> dict[str, Bound]:
    """Bind every analysis, reporting its problems through ``checker``; an analysis with a
    problem is left out (``check`` then refuses the plan)."""
    from sap_engine.bind_checks import check_contrasts, check_event_coding, check_roles

    out: dict[str, Bound] = {}
    strata = [n for n, e in plan.endpoints.items() if e.kind == "stratum"]
    for a in plan.analyses.values():
        if not _check_context(plan, a, checker, strata):
            continue
        if a.base:
            out[a.name] = Repetition(a.name, a.label, a.base, a.by, a.loc)
            continue
        method = _method(a, checker)
        if method is None:
            continue
        kinds: dict[int, str | None] = {}

        def kind_of(e: m.Expr, kinds: dict = kinds) -> str | None:
            if is_treatment(e):
                return "category"
            if id(e) not in kinds:
                kinds[id(e)] = checker.kind(e, None)
            return kinds[id(e)]

        roles, interactions = resolve_roles(a, method, kind_of)
        ok = check_roles(a, method, roles, kind_of, checker)
        ok = check_contrasts(plan, a, checker) and ok
        options = resolve_options(plan, a, method, roles, interactions, checker)
        estimand = plan.estimands.get(a.estimand or "")
        population = a.population or (estimand.population if estimand else None)
        if options is None or population is None or not ok or \
                not check_event_coding(a, roles, options, kind_of, checker):
            continue
        out[a.name] = BoundAnalysis(
            name=a.name, label=a.label or a.name, method=method.name,
            roles=_terms(plan, method, roles, kind_of), options=options,
            population=population,
            visit=a.visit if a.visit is not None else (estimand.visit if estimand else None),
            strategies=estimand.strategies if estimand else (),
            missing=a.missing or (estimand.missing if estimand else None),
            by=a.by, loc=a.loc,
            worst=a.worst if a.missing else (estimand.worst if estimand else None))
    return out


def _check_context(plan: m.Plan, a: m.Analysis, ch: Checker, strata: list[str]) -> bool:
    """The names around the method: base analysis, by-items, estimand, population, visit."""
    ok = True
    if a.base and a.base not in plan.analyses:
        ch.error("SAP209", f"unknown analysis '{a.base}'", a.loc,
                 did_you_mean(a.base, list(plan.analyses)))
        return False
    for b in a.by:
        if b.name not in ("treatment", "total", "visit") and b.name not in strata:
            ch.error("SAP216", f"'by {b.name}': not a stratum, 'treatment', 'total' or "
                               "'visit'", b.loc or a.loc, did_you_mean(b.name, strata))
            ok = False
    if a.base:
        return ok
    if a.estimand and a.estimand not in plan.estimands:
        ch.error("SAP208", f"unknown estimand '{a.estimand}'", a.loc,
                 did_you_mean(a.estimand, list(plan.estimands)))
    ch.check_missing(a.missing, a.worst, a.missing_loc)
    if a.population:
        ch.check_population_use(a.population)
    elif not (a.estimand and a.estimand in plan.estimands
              and plan.estimands[a.estimand].population):
        ch.error("SAP217", f"analysis '{a.name}' names no population (add 'population X' "
                           "or 'for ESTIMAND')", a.loc)
    ch.check_visit(a.visit, a.visit_loc if a.visit_loc.line else a.loc)
    return True


def _method(a: m.Analysis, ch: Reporter) -> registry.Method | None:
    if a.method is None:
        ch.error("SAP206", f"analysis '{a.name}' names no method", a.loc)
        return None
    method = registry.get(a.method)
    if method is None:
        ch.error("SAP206", f"unknown method '{a.method}'", a.method_loc,
                 did_you_mean(a.method, sorted(registry.METHODS)))
    return method
