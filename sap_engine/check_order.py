"""SAP255 (a warning): displays numbered out of their order in the document.

A reviewer reads Table 14.2.4 after 14.2.3 and before 14.3.1; a plan that writes 14.3.1
before 14.2.4 would produce a document whose numbering jumps back. The document keeps the
plan's order (an author may mean it), so this is a warning at check, not an error; numbers
compare as a reader counts them, part by part ("14.2.10" after "14.2.9", "3b" after "3a").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from sap_engine import model as m
from sap_engine.errors import Diagnostic, plan_diagnostic

_PART = re.compile(r"\d+|[^\d.\-]+")


def number_key(number: str) -> tuple:
    """'14.2.10' -> ((0, 14), (0, 2), (0, 10)); letters sort after digits of a part."""
    return tuple((0, int(p)) if p.isdigit() else (1, p.lower())
                 for p in _PART.findall(number))


def display_order_warnings(plan: m.Plan) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for kind, displays in (("table", plan.tables), ("figure", plan.figures)):
        out += _out_of_order(plan, kind, displays)
    return out


def _out_of_order(plan: m.Plan, kind: str, displays: Sequence[m.Table | m.Figure]
                  ) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    highest: m.Table | m.Figure | None = None
    for d in displays:
        if highest is not None and number_key(d.number) < number_key(highest.number):
            msg = (f"{kind} {d.number} comes after {kind} {highest.number} (line "
                   f"{highest.loc.line}) in the document: the numbering goes back; move it "
                   f"before {kind} {highest.number} or renumber it")
            diag = plan_diagnostic("SAP255", msg, d.loc, plan.path, plan.text,
                                   width=len(kind))
            out.append(replace(diag, severity="warning"))
        elif highest is None or number_key(d.number) > number_key(highest.number):
            highest = d
    return out
