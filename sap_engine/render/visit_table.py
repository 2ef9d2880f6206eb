"""A table laid out by visit (``table ... { by visit }``): the layout of a lab summary.

CSR tables of laboratory values by visit set out each visit as a group, and under it the
value and the change from baseline, each with n, mean (SD), median and min-max per arm:

    |                         | Placebo (N=86) | Xan High (N=84) |
    | **Baseline**            |                |                 |
    |   Glucose (mmol/L)      |                |                 |
    |     n                   | 86             | 84              |
    | **Week 2**              |                |                 |
    |   Glucose (mmol/L)      |                |                 |
    |     n                   | 83             | 78              |
    |   Change from baseline  |                |                 |
    |     n                   | 83             | 78              |

Each ``rows`` statement is one block under each visit, headed by its label, in the order
the table lists them; a visit where an analysis has no result (the change from baseline,
split ``by visit after baseline``, at the baseline visit) simply has no block of it. The
sections are those :func:`tables._sections` builds for each visit of each analysis,
regrouped: the cells and their formats are the ordinary table's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from sap_engine import model as m
from sap_engine.render.ard_view import ArdView
from sap_engine.render.tables import Column, Row, Section, _sections
from sap_engine.render.visit_labels import VisitLabels


def _visit_order(level: str) -> float:
    try:
        return float(level)
    except ValueError:
        return float("inf")


def visit_sections(plan: m.Plan, spec: m.Table, ard: ArdView, cols: list[Column],
                   treatment_col: str | None, not_estimable: Collection[str] = ()
                   ) -> list[Section]:
    """One section per visit, in visit order, each holding a block per ``rows``."""
    visit_text = VisitLabels(plan, ard.visit_labels)
    blocks: dict[str, list[tuple[str, Section]]] = {}
    loose: list[Section] = []  # an analysis without results: said once, after the visits
    for rows_spec in spec.rows:
        for part in _sections(plan, rows_spec, ard, cols, treatment_col, plan.labels,
                              not_estimable, by_visit=True):
            key = dict(part.key)
            visit = key.pop("visit", None)
            if visit is None:
                loose.append(part)
                continue
            title = part.heading or part.label
            others = ", ".join(v for v in key.values())  # a family member, a stratum
            blocks.setdefault(visit, []).append(
                (f"{title}: {others}" if others else title, part))
    out: list[Section] = []
    for visit in sorted(blocks, key=_visit_order):
        section = Section(visit_text(visit), key=(("visit", visit),))
        notes = []
        for title, part in blocks[visit]:
            section.rows.append(Row(title, [""] * len(cols), indent=1, bold=True))
            section.rows.extend(replace(r, indent=r.indent + 1) for r in part.rows)
            if part.note:
                notes.append(part.note)
        section.note = "; ".join(dict.fromkeys(notes)) or None
        out.append(section)
    return out + loose

