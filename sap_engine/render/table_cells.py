"""The cells of the generic table layout: the rows of one analysis' section, each show item
formatted per column (``n (%)``, ``mean (SD)``, an LS mean with its CI, a test line), the
categorical levels one row each, and the denominators a section carries itself.

Split from :mod:`sap_engine.render.tables`, which decides the sections and columns; the
formats (``xx.x (xx.xx)``) and the show items' composition are in
:mod:`sap_engine.render.format` and :mod:`sap_engine.render.show_items`.
"""

from __future__ import annotations

import math

from sap_engine import model as m
from sap_engine.render.format import decimals_of, default_decimals, fmt_p, fmt_pattern
from sap_engine.render.show_items import (
    COMPOSITES,
    CONTRAST_ITEMS,
    P_VALUES,
    TABLE_TESTS,
    TEST_ITEMS,
    _x,
)
from sap_engine.render.table_model import (
    Column,
    Row,
    Section,
    _column_of,
    _group_columns,
    _group_level,
    _records,
)


def _wanted_stats(show) -> set[str]:
    out: set[str] = set()
    for item in show:
        if item.name in TEST_ITEMS:
            return set()  # test lines read their own rows
        out |= set(COMPOSITES.get(item.name, (None, (item.name,), None))[1])
        if item.name == "n_pct":
            out |= {"n", "pct"}
    return out


def _row_groups(frame, cols: list[Column], treatment_col: str | None) -> list[str]:
    """Group names in ``frame`` that no column of the table takes."""
    taken = {c.key.split("=")[0] for c in cols if "=" in c.key} | {treatment_col}
    names = []
    for g in _group_columns(frame):
        for name in frame[g].dropna().unique():
            if name not in taken and name not in names:
                names.append(name)
    return names


def _combo(row, names: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for name in names:
        level = _group_level(row, name)
        if level is not None:
            out.append((name, str(level)))
    return tuple(out)


def _section(label, rows_spec, sub, extra, cols, treatment_col, value_labels,
             arm_labels=None, decimals: int | None = None) -> Section:
    import pandas as pd

    data = pd.concat([sub, *extra]) if extra else sub
    show = list(rows_spec.show or _default_show(sub))
    if decimals is None:
        decimals = default_decimals(data[data.stat_name.isin(["min", "max"])].stat.tolist())
    section = Section(label)
    categorical = (sub.stat_name == "pct").any()
    contrasts = [v for v in dict.fromkeys(sub.variable_level.dropna()) if " - " in str(v)]
    comparators = list(dict.fromkeys(v.split(" - ", 1)[1] for v in contrasts))
    if len(comparators) > 1:
        # As CSR tables do: the comparisons against each comparator form a block.
        plain = [i for i in show if i.name not in CONTRAST_ITEMS]
        against = [i for i in show if i.name in CONTRAST_ITEMS]
        for item in plain:
            section.rows.append(Row(_item_label(item), _cells(data, item, cols, treatment_col,
                                                             decimals)))
        is_contrast = data.variable_level.astype(str).str.contains(" - ", regex=False)
        for comp in comparators:
            keep = ~is_contrast | data.variable_level.astype(str).str.endswith(" - " + comp)
            shown = (arm_labels or {}).get(comp, comp)
            for item in against:
                section.rows.append(Row(f"{_item_label(item)}, vs {shown}",
                                        _cells(data[keep], item, cols, treatment_col,
                                               decimals)))
        return section
    if categorical:
        _own_denominators(section, sub, cols, treatment_col)
    for item in show:
        if categorical and item.name in ("n_pct", "n"):
            levels = list(dict.fromkeys(sub[sub.stat_name == "pct"].variable_level))
            for level in levels:
                cells = _cells(data[(data.variable_level == level) | (data.stat_name == "smd")],
                               item, cols, treatment_col, decimals, level_filter=level)
                section.rows.append(Row(value_labels.get(level, level), cells))
            continue
        section.rows.append(Row(_item_label(item), _cells(data, item, cols, treatment_col,
                                                         decimals)))
    return section


def _own_denominators(section: Section, sub, cols: list[Column],
                      treatment_col: str | None) -> None:
    """Show an analysis' own N per column when it is not the column header's N.

    Percentages are of the analysis group's N (its population in that arm, or its
    non-missing n with ``denominator = nonmissing``); a table whose population differs
    from the analysis' (``population ITT`` over an analysis of ``adae where TRTEMFL ==
    "Y"``) would otherwise print 40 (61.5) under "N=86", with 65 the real denominator.
    Then a first row gives each column's denominator (read back from n and %) and a
    footnote says so.
    """
    own: dict[str, float] = {}
    denominators: dict[str, float] = {}
    for row in _records(sub):
        if treatment_col is None or _group_level(row, treatment_col) is None:
            continue
        col = _column_of(row, cols, treatment_col)
        if col is None:
            continue
        if row.stat_name == "N" and not isinstance(row.variable_level, str):
            own[col] = row.stat
    for level in dict.fromkeys(sub[sub.stat_name == "pct"].variable_level):
        cells: dict[str, dict[str, float]] = {}
        for row in _records(sub[sub.variable_level == level]):
            col = _column_of(row, cols, treatment_col)
            if col is not None and row.stat_name in ("n", "pct"):
                cells.setdefault(col, {})[row.stat_name] = row.stat
        for col, got in cells.items():
            n, pct = got.get("n"), got.get("pct")
            if n and pct and col not in denominators:
                denominators[col] = round(100.0 * n / pct)
    if not any(c.n is not None and c.key in own and own[c.key] != c.n for c in cols):
        return  # the analysis population is the table's in every column
    shown = {**own, **denominators}
    # N: the analysis population's subjects; n: those with a value (denominator nonmissing).
    name = "N" if all(shown[k] == own[k] for k in shown if k in own) else "n"
    section.rows.append(Row(name, [fmt_pattern("xx", shown[c.key]) if c.key in shown else ""
                                   for c in cols]))
    whose = "the analysis population" if name == "N" else \
        "the analysis population's subjects with a value"
    section.note = (f"{section.label}: percentages are of the {name} in its first row "
                    f"({whose}), not of the column header N (the table population).")


def _item_label(item: m.ShowItem) -> str:
    if item.name in TEST_ITEMS:
        return TEST_ITEMS[item.name][0]
    if item.name in COMPOSITES:
        return COMPOSITES[item.name][0]
    # A statistic without a reader label of its own: never print the raw stat name.
    return item.name.replace("_", " ").capitalize()


def _default_show(sub) -> tuple[m.ShowItem, ...]:
    names = set(sub.stat_name)
    if "pct" in names:
        return (m.ShowItem("n_pct"),)
    if "lsmean" in names:
        return tuple(m.ShowItem(n) for n in ("lsmean_se", "lsmean_ci", "diff_se", "diff_ci",
                                             "p_value"))
    if "mean" in names:
        return tuple(m.ShowItem(n) for n in ("n", "mean_sd", "median", "min_max"))
    return tuple(m.ShowItem(n) for n in dict.fromkeys(sub.stat_name))


def _test_cells(data, item: m.ShowItem, cols) -> list[str]:
    _, level, formatter = TEST_ITEMS[item.name]
    rows = data[data.variable_level == level] if level else data[data.variable_level.isna()]
    values = {r.stat_name: r.stat for r in _records(rows)}
    cells = [""] * len(cols)
    if values and cols:
        cells[-1] = formatter(values)
    return cells


def _cells(data, item: m.ShowItem, cols, treatment_col, decimals, level_filter=None) -> list[str]:
    if item.name in TEST_ITEMS:
        return _test_cells(data, item, cols)
    label, stats, pattern_of = COMPOSITES.get(item.name, (item.name, (item.name,), None))
    if item.name == "n_pct" or (level_filter is not None and item.name == "n"):
        stats = ("n", "pct") if item.name == "n_pct" else ("n",)
    keys = [c.key for c in cols]
    values: dict[str, dict[str, float]] = {}
    if item.name in TABLE_TESTS:  # the whole table's test (not a one-sided variant)
        stat, level = TABLE_TESTS[item.name]
        data = data[data.variable_level.isna() if level is None else
                    data.variable_level == level]
        tests = data[data.stat_name == stat]
        if len(tests) == 1 and keys:
            values[keys[-1]] = {stats[0]: float(tests.stat.iloc[0])}
        data = data.iloc[0:0]
    for row in _records(data[data.stat_name.isin(stats)]):
        if row.stat_name != "smd" and level_filter is None and isinstance(
                row.variable_level, str) and " - " not in row.variable_level and \
                " vs " not in row.variable_level and \
                row.stat_name not in ("n",):
            continue  # a per-term statistic (Type III) is not a cell of this row
        if row.stat_name == "n" and isinstance(row.variable_level, str) and \
                level_filter is None:
            continue
        col = _column_of(row, cols, treatment_col)
        if col is not None:
            values.setdefault(col, {})[row.stat_name] = row.stat
    if not values and keys:
        # A single model-level test (a dose-response trend) goes to the last column, where
        # CSR tables print it, beside the highest dose.
        lone = data[data.stat_name.isin(stats)]
        if len(lone) == len(set(lone.stat_name)) and len(lone):
            values[keys[-1]] = dict(zip(lone.stat_name, lone.stat))
    cells = []
    for key in keys:
        got = values.get(key, {})
        if not got:
            cells.append("")
            continue
        if stats in P_VALUES:
            places = decimals_of(item.pattern) if item.pattern else 4
            cells.append(fmt_p(got.get(stats[0]), places))
            continue
        pattern = item.pattern or (pattern_of(decimals) if pattern_of else _x(decimals + 1))
        if all(v is None or (isinstance(v, float) and math.isnan(v)) for v in got.values()):
            cells.append("NE")  # computed but not estimable (a median never reached)
            continue
        if stats == ("n", "pct"):
            n, pct = got.get("n"), got.get("pct")
            cells.append(fmt_pattern("xx", n) + ("" if pct is None or math.isnan(pct)
                                                 else f" ({fmt_pattern('xx.x', pct)})"))
            continue
        cells.append(fmt_pattern(pattern, *[got.get(s) for s in stats]))
    return cells
