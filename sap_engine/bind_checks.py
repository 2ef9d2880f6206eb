"""The checks binding makes of an analysis' roles and contrasts, where they are written: a
required role left empty or a role the method does not take (SAP218), a non-numeric term in
a numeric role (SAP204), a condition read as an ADaM CNSR event (SAP250), and a contrast
naming an arm the treatment does not have (SAP203). Called by
:func:`sap_engine.bind.bind_plan`.
"""

from __future__ import annotations

from sap_engine import model as m

# bind imports this module inside bind_plan, never at its top: no import cycle.
from sap_engine.bind import KindOf, Reporter, term_name
from sap_engine.bind_options import ResolvedOption
from sap_engine.errors import did_you_mean
from sap_engine.methods import registry


def check_roles(a: m.Analysis, method: registry.Method, roles: dict[str, tuple[m.Expr, ...]],
                 kind_of: KindOf, ch: Reporter) -> bool:
    ok = True
    for role in method.roles:
        terms = roles.get(role.name, ())
        if role.required and not terms:
            ch.error("SAP218", f"method '{a.method}' needs a '{role.name}' "
                               f"({role.doc or role.kind})", a.method_loc)
            ok = False
        for t in terms:
            k = kind_of(t)
            if role.kind == "numeric" and k not in ("numeric", "bool", None):
                ch.error("SAP204", f"'{role.name}' of '{a.method}' must be numeric; "
                                   f"'{term_name(t)}' is {k}", t.loc or a.loc)
                ok = False
    unknown = set(roles) - {r.name for r in method.roles}
    for name in sorted(unknown):
        ch.error("SAP218", f"method '{a.method}' takes no '{name}' role", a.loc,
                 did_you_mean(name, [r.name for r in method.roles]))
        ok = False
    return ok


def check_event_coding(a: m.Analysis, roles: dict[str, tuple[m.Expr, ...]],
                        options: tuple[ResolvedOption, ...], kind_of: KindOf,
                        ch: Reporter) -> bool:
    """A condition as the event of a time-to-event method is 1 when it holds; read as an
    ADaM CNSR (the default ``event_from = cnsr``, 0 = event) every event would count as
    censored and every censoring as an event. The plan must say which it means."""
    from sap_engine.fmt import expr

    reading = next((o.value for o in options if o.name == "event_from"), None)
    for t in roles.get("event", ()):
        if reading == "cnsr" and kind_of(t) == "bool":
            ch.error("SAP250", f"event '{expr(t)}' of '{a.method}' is a condition (1 when "
                               "it holds), but event_from = cnsr reads 1 as censored: write "
                               "'options event_from = event' if it marks the event, or name "
                               "the CNSR column", t.loc if t.loc.line else a.loc)
            return False
    return True


def check_contrasts(plan: m.Plan, a: m.Analysis, ch: Reporter) -> bool:
    trt = plan.treatment
    arms = [arm.level for arm in trt.arms] if trt else []
    ok = True
    for c in a.contrasts:
        for lev in (c.left, c.right):
            if lev not in arms:
                ch.error("SAP203", f"contrast names '{lev}', not an arm "
                                   f"({', '.join(arms)})", c.loc, did_you_mean(lev, arms))
                ok = False
    return ok
