"""The layout of an incidence analysis in a table, as reviewers know it from CSR safety
tables: the "any event" row, each system organ class in bold with its preferred terms
indented beneath, ``n (%)`` cells under arm headers carrying their N, the difference from
the reference arm with its 95% CI beneath a row where the analysis asked for it, and
footnotes that state the counting rule, the "Uncoded" terms and the subjects left out.
An analysis with ``hierarchy = []`` is one row of an overview table (Any TEAE, any serious
TEAE, ...), labelled by the table's ``rows`` label.

Built from the ARD alone (the analysis' rows, in the order the method wrote them: that
order is the display order, by frequency or alphabetically), so a document rebuilt from the
ARD is the same. The SOC > PT nesting is read from the row's groups (one group per level of
the hierarchy), never parsed from a label.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sap_engine.render.format import fmt_p, fmt_pattern
from sap_engine.render.table_model import P_COLUMN, Column, Row, Section

COUNTING_RULE = "A subject is counted once per SOC and once per PT."
UNCODED = "Uncoded"


def _cell(got: dict[str, float]) -> str:
    n, pct, events = got.get("n"), got.get("pct"), got.get("events")
    if n is None:
        return ""
    # A zero count prints as "0 (0.0)", as every other n (%) cell of the document does.
    text = fmt_pattern("xx", n)
    if pct is not None and not (isinstance(pct, float) and math.isnan(pct)):
        text += f" ({fmt_pattern('xx.x', pct)})"
    if events is not None and not (isinstance(events, float) and math.isnan(events)):
        text += f" [{fmt_pattern('xx', events)}]"
    return text


def _difference(got: dict[str, float]) -> str:
    """A risk difference cell: "d.d (l.l, u.u)" in percentage points."""
    d, lo, hi = (got.get(k) for k in ("risk_diff", "risk_diff_lcl", "risk_diff_ucl"))
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (d, lo, hi)):
        return "NE" if got else ""  # a comparison the ARD holds but could not estimate
    return f"{fmt_pattern('xx.x', d)} ({fmt_pattern('xx.x', lo)}, {fmt_pattern('xx.x', hi)})"


def _path(row, treatment_col: str | None) -> tuple[tuple[str, str], ...]:
    path: list[tuple[str, str]] = []
    i = 1
    while f"group{i}" in row.index:
        name, level = row[f"group{i}"], row[f"group{i}_level"]
        if isinstance(name, str) and name != treatment_col:
            path.append((name, str(level)))
        i += 1
    return tuple(path)


def incidence_section(title: str, frame, cols: list[Column], treatment_col: str | None,
                      column_of: Callable, records: Callable, nested: bool = True,
                      flat: bool = False) -> Section:
    """One section: a row per hierarchy path (the overall row first), a row per worst grade
    beneath each when the analysis counted severity, and with ``risk_difference`` a row
    "Difference vs REF (95% CI)" beneath each, every comparison in its arm's column.

    ``flat`` (``hierarchy = []``): a section without a heading whose one row is labelled by
    the title, so that an overview table lists several occurrence sets one row each."""
    keys = [c.key for c in cols]
    cells: dict[tuple, dict[str, dict[str, float]]] = {}
    diffs: dict[tuple, dict[str, dict[str, float]]] = {}
    reference = ""
    outside = 0.0
    events = False
    tests: dict[tuple, float | None] = {}
    for row in records(frame):
        if row.stat_name == "n_outside_population":
            outside = row.stat or 0.0
            continue
        if row.stat_name == "p_value":  # a row's test across the arms: the p-value column
            tests[_path(row, treatment_col)] = row.stat
            continue
        col = column_of(row, cols, treatment_col)
        if row.stat_name in ("risk_diff", "risk_diff_lcl", "risk_diff_ucl"):
            # variable_level is "ARM - REF"; the arm is the row's treatment group.
            if col is not None:
                reference = str(row.variable_level).split(" - ", 1)[-1]
                diffs.setdefault(_path(row, treatment_col), {}) \
                    .setdefault(col, {})[row.stat_name] = row.stat
            continue
        if row.stat_name not in ("n", "pct", "events"):
            continue  # N is in the column header
        path = _path(row, treatment_col)
        grade = row.variable_level if isinstance(row.variable_level, str) else None
        if col is None:
            continue
        events = events or row.stat_name == "events"
        cells.setdefault((path, grade), {}).setdefault(col, {})[row.stat_name] = row.stat
    section = Section("" if flat else title)
    uncoded = False

    def difference_row(path: tuple, indent: int) -> None:
        if path in diffs:
            section.rows.append(Row(f"Difference vs {reference} (95% CI)",
                                    [_difference(diffs[path].get(k, {})) for k in keys],
                                    indent=indent))

    def p_cell(path: tuple, grade: str | None) -> dict[str, dict[str, float]]:
        if grade is not None or path not in tests or P_COLUMN not in keys:
            return {}
        p = tests[path]
        return {P_COLUMN: {"p": p if p is not None else math.nan}}

    for (path, grade), by_col in cells.items():
        by_col = {**by_col, **p_cell(path, grade)}
        values = [_cell(by_col.get(k, {})) if k != P_COLUMN else
                  (fmt_p(by_col[k]["p"]) if k in by_col else "") for k in keys]
        if grade is not None:
            section.rows.append(Row(grade.capitalize(), values, indent=len(path) + 2))
            continue
        if not path:
            section.rows.append(Row(title if flat else "Subjects with at least one event",
                                    values, indent=1))
            difference_row(path, 2)
            continue
        uncoded = uncoded or path[-1][1] == UNCODED
        # The SOC in bold at the first indent; a PT one step in.
        section.rows.append(Row(path[-1][1], values, indent=len(path),
                                bold=len(path) == 1 and nested))
        difference_row(path, len(path) + 1)
    notes = [COUNTING_RULE if nested else
             "A subject is counted once per row, whatever its number of events." if flat else
             "A subject is counted once per term, whatever its number of events."]
    notes.append("Cells: n (%) of the subjects in the column's population N"
                 + (", [number of events]" if events else "") + ".")
    if tests:
        notes.append("p-value: Fisher's exact test of the subjects with vs without the event "
                     "across the arms (two-sided; no adjustment for multiplicity).")
    if diffs:
        notes.append(f"Difference vs {reference}: the arm's percentage minus the reference's, "
                     "in percentage points, with a Wald 95% CI (no continuity correction).")
    if uncoded:
        notes.append(f"Events without a coded term are counted under '{UNCODED}'.")
    if outside:
        notes.append(f"{int(outside)} subject(s) with events outside the analysis population "
                     "are not counted.")
    section.note = " ".join(notes)
    return section

