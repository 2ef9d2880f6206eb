"""The layout of a shift analysis in a table, as CSR laboratory shift tables show it: each
parameter in bold, beneath it a row per baseline category (its subjects, ``n (%)``), and
beneath each of those a row per post-baseline category, every cell ``n (%)`` under the arm
headers carrying their N; footnotes state what "post-baseline" and "worst" mean and the
denominator.

Built from the ARD alone (the analysis' rows in the order the method wrote them: parameters
in display order, categories in the declared order, Missing last), so a document rebuilt
from the ARD is the same. Category codes (N, H) print as the plan's ``labels`` for the
category column give them (``labels ANRIND { "N" = "Normal" }``), else as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sap_engine.render.format import fmt_pattern
from sap_engine.render.table_model import Column, Row, Section

BASELINE = "baseline"
POST = "post-baseline"


def _cell(got: dict[str, float]) -> str:
    n, pct = got.get("n"), got.get("pct")
    if n is None:
        return "0"  # a cell the method did not write: no subject there in this column
    text = fmt_pattern("xx", n)
    if pct is not None and not (isinstance(pct, float) and math.isnan(pct)):
        text += f" ({fmt_pattern('xx.x', pct)})"
    return text


def _groups(row, treatment_col: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 1
    while f"group{i}" in row.index:
        name, level = row[f"group{i}"], row[f"group{i}_level"]
        if isinstance(name, str) and name != treatment_col:
            out[name] = str(level)
        i += 1
    return out


def shift_section(title: str, frame, cols: list[Column], treatment_col: str | None,
                  column_of: Callable, records: Callable, labels: dict[str, str],
                  parameter: str | None, at_visit: str | None, by_assessed: bool) -> Section:
    """One section: per parameter a bold row, per baseline category a row with its total,
    per post-baseline category a row beneath it."""
    keys = [c.key for c in cols]
    cells: dict[tuple, dict[str, dict[str, float]]] = {}
    outside = 0.0
    for row in records(frame):
        if row.stat_name == "n_outside_population":
            outside = row.stat or 0.0
            continue
        if row.stat_name not in ("n", "pct"):
            continue  # N is in the column header; n_assessed is not shown
        col = column_of(row, cols, treatment_col)
        if col is None:
            continue
        g = _groups(row, treatment_col)
        path = (g.get(parameter or "", ""), g.get(BASELINE), g.get(POST))
        cells.setdefault(path, {}).setdefault(col, {})[row.stat_name] = row.stat
    name = lambda code: labels.get(code, code)  # noqa: E731
    section = Section(title)
    params = list(dict.fromkeys(p for p, _, _ in cells))
    post_word = f"{at_visit}" if at_visit else "Worst post-baseline"
    for p in params:
        if parameter:
            section.rows.append(Row(p, [""] * len(keys), indent=1, bold=True))
        depth = 2 if parameter else 1
        for (pp, b, q), by_col in cells.items():
            if pp != p or b is None:
                continue
            values = [_cell(by_col.get(k, {})) for k in keys]
            if q is None:  # the baseline category's row: its subjects, no percentage
                section.rows.append(Row(f"Baseline {name(b)}",
                                        [v.split(" (")[0] for v in values], indent=depth))
            else:
                section.rows.append(Row(f"{post_word}: {name(q)}", values, indent=depth + 1))
    notes = ["Each subject is counted once per parameter, by its baseline category and its "
             + (f"category at {at_visit}" if at_visit else
                "worst category over the post-baseline records")
             + "; Missing: the subject has no such category."]
    if not at_visit:
        notes.append("Post-baseline: records with an analysis visit after the baseline "
                     "visit; records without an analysis visit (unscheduled) are not used.")
    notes.append("Cells: n (%) of the subjects " + (
        "with a baseline and a post-baseline category in the column." if by_assessed else
        "in the column's population N."))
    if outside:
        notes.append(f"{int(outside)} subject(s) with records outside the analysis "
                     "population are not counted.")
    section.note = " ".join(notes)
    return section
