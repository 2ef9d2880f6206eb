"""From an analysis statement to a method call: which plan term fills which method role.

The rules, in words a plan author can predict:
- ``model Y ~ treatment + X + A * B``: Y is the ``response``; the word ``treatment`` is the
  ``treatment`` role; a numeric term is a ``covariates`` entry, any other a ``factors`` entry;
  ``A * B`` adds both main effects and the interaction (option ``interactions``).
- ``variable a, b``: the method's ``variables`` role when it takes many, else ``variable``
  (or ``response``), the analysis then being run once per variable.
- ``crosstab R by C``: roles ``row`` and ``col``.
- ``roles name = term, ...``: any role by name.
- A method role ``treatment`` or ``group`` that the plan leaves empty is the treatment
  variable (so ``method smd`` compares the arms without further words).
- For a time-to-event method (roles ``time``, ``group``), ``model T ~ treatment + X`` fills
  ``time`` with T and ``group`` with the treatment; the event comes from ``roles event = E``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.errors import did_you_mean
from sap_engine.methods import registry

if TYPE_CHECKING:
    from sap_engine.check import _Checker

TREATMENT = m.Col("treatment")


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


def resolve(a: m.Analysis, method: registry.Method, kind_of) -> tuple[dict, list[str]]:
    """Roles -> terms for ``a``, and the interaction strings; ``kind_of(expr)`` types terms."""
    roles: dict[str, list[m.Expr]] = {}
    interactions: list[str] = []
    names = {r.name for r in method.roles}
    if a.response is not None:
        roles["response"] = [a.response]
        for term in flatten_sum(a.terms):
            parts = flatten_product(term)
            if len(parts) > 1:
                interactions.append("*".join(
                    "treatment" if is_treatment(p) else term_name(p) for p in parts))
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


def analysis_chain(plan: m.Plan, a: m.Analysis) -> m.Analysis:
    """The analysis an ``X = Y by s`` statement repeats (following chains)."""
    seen = set()
    while a.base and a.base in plan.analyses and a.name not in seen:
        seen.add(a.name)
        a = plan.analyses[a.base]
    return a


def check_analyses(ch: _Checker) -> dict[str, dict[str, tuple[m.Expr, ...]]]:
    """Validate every analysis' method, options, roles, by-items and contrasts."""
    plan = ch.plan
    out = {}
    strata = [n for n, e in plan.endpoints.items() if e.kind == "stratum"]
    for a in plan.analyses.values():
        if a.base:
            if a.base not in plan.analyses:
                ch.error("SAP209", f"unknown analysis '{a.base}'", a.loc,
                         did_you_mean(a.base, list(plan.analyses)))
                continue
        for b in a.by:
            if b.name not in ("treatment", "total", "visit") and b.name not in strata:
                ch.error("SAP216", f"'by {b.name}': not a stratum, 'treatment', 'total' or "
                                   "'visit'", b.loc or a.loc, did_you_mean(b.name, strata))
        if a.base:
            continue
        if a.estimand and a.estimand not in plan.estimands:
            ch.error("SAP208", f"unknown estimand '{a.estimand}'", a.loc,
                     did_you_mean(a.estimand, list(plan.estimands)))
        if a.population:
            ch.check_population_use(a.population)
        elif not (a.estimand and a.estimand in plan.estimands
                  and plan.estimands[a.estimand].population):
            ch.error("SAP217", f"analysis '{a.name}' names no population (add 'population X' "
                               "or 'for ESTIMAND')", a.loc)
        ch.check_visit(a.visit, a.visit_loc if a.visit_loc.line else a.loc)
        if a.method is None:
            ch.error("SAP206", f"analysis '{a.name}' names no method", a.loc)
            continue
        method = registry.get(a.method)
        if method is None:
            ch.error("SAP206", f"unknown method '{a.method}'", a.method_loc,
                     did_you_mean(a.method, sorted(registry.METHODS)))
            continue
        for opt in a.options:
            spec = method.option(opt.name)
            if spec is None:
                ch.error("SAP207", f"method '{a.method}' has no option '{opt.name}'", opt.loc,
                         did_you_mean(opt.name, [o.name for o in method.options]))
                continue
            problem = spec.validate(opt.value if spec.kind != "list" else list(opt.value)
                                    if isinstance(opt.value, tuple) else opt.value)
            if problem:
                ch.error("SAP207", f"method '{a.method}': {problem}", opt.loc)
        kinds: dict[int, str | None] = {}

        def kind_of(e: m.Expr, kinds: dict = kinds) -> str | None:
            if is_treatment(e):
                return "category"
            if id(e) not in kinds:
                kinds[id(e)] = ch.kind(e, None)
            return kinds[id(e)]

        roles, _ = resolve(a, method, kind_of)
        for role in method.roles:
            terms = roles.get(role.name, ())
            if role.required and not terms:
                ch.error("SAP218", f"method '{a.method}' needs a '{role.name}' "
                                   f"({role.doc or role.kind})", a.method_loc)
            for t in terms:
                k = kind_of(t)
                if role.kind == "numeric" and k not in ("numeric", "bool", None):
                    ch.error("SAP204", f"'{role.name}' of '{a.method}' must be numeric; "
                                       f"'{term_name(t)}' is {k}", t.loc or a.loc)
        unknown = set(roles) - {r.name for r in method.roles}
        for name in sorted(unknown):
            ch.error("SAP218", f"method '{a.method}' takes no '{name}' role", a.loc,
                     did_you_mean(name, [r.name for r in method.roles]))
        trt = plan.treatment
        arms = [arm.level for arm in trt.arms] if trt else []
        for c in a.contrasts:
            for lev in (c.left, c.right):
                if lev not in arms:
                    ch.error("SAP203", f"contrast names '{lev}', not an arm "
                                       f"({', '.join(arms)})", c.loc, did_you_mean(lev, arms))
        out[a.name] = roles
    return out
