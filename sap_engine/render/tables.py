"""Build display tables from the ARD and the plan's table specs (rendered elsewhere).

A built table is plain data: a header row, sections of labelled rows of formatted cells,
footnotes. One builder serves every output format (HTML, Markdown, later RTF).

Placement rules (as CSR tables set them out):
- a statistic grouped by an arm goes to that arm's column ("Total" to the total column);
- a contrast statistic (``variable_level`` "A - B") goes to the column of arm A;
- an SMD goes to a trailing "SMD" column;
- categorical counts give one row per level, "n (%)".
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from sap_engine import model as m
from sap_engine.render.ard_view import ArdView
from sap_engine.render.format import decimals_of, default_decimals, fmt_p, fmt_pattern
from sap_engine.render.show_items import (
    COMPOSITES,
    CONTRAST_ITEMS,
    P_VALUES,
    TABLE_TESTS,
    TEST_ITEMS,
    _x,
)


@dataclass
class Row:
    label: str
    cells: list[str]
    indent: int = 1
    bold: bool = False  # a heading row among data rows (an incidence table's SOC)


@dataclass
class Section:
    label: str
    rows: list[Row] = field(default_factory=list)
    note: str | None = None  # a footnote the table must carry for this section
    # The groups the section stands for beyond its columns ((("visit", "2"),)): a table
    # laid out by visit puts it under its visit.
    key: tuple[tuple[str, str], ...] = ()
    heading: str = ""  # the label without the key's text ("Glucose", not "Glucose: Week 2")


@dataclass
class BuiltTable:
    number: str
    title: str
    subtitle: str
    header: list[str]
    sections: list[Section]
    footnotes: list[str]
    anchor: str = ""
    methods: list[str] = field(default_factory=list)  # how its analyses were computed
    kind: str = "Table"  # the caption's word: "Listing" for a subject listing
    repeat_header: bool = False  # the column header again under each section (a listing)


P_COLUMN = "p-value"  # the trailing column of an incidence table's per-row tests


@dataclass(frozen=True)
class Column:
    key: str  # arm level, "Total", or "SMD"
    header: str
    n: int | None = None  # the header's N (the table population's count in the column)


def _grouping_levels(ard: ArdView, spec: m.Table, name: str) -> list[str]:
    """Levels of a grouping column (``columns PARCAT2``) among the table's analyses."""
    ids = dict.fromkeys(i for r in spec.rows for i in (r.analysis, *r.also))
    levels: list[str] = []
    for rows in (ard.family(i) for i in ids):
        for g in ard.group_columns():
            hit = rows[rows[g] == name][f"{g}_level"]
            levels += [str(v) for v in dict.fromkeys(hit) if str(v) not in levels]
    return levels


def _group_columns(frame) -> list[str]:
    out, i = [], 1
    while f"group{i}" in frame.columns:
        out.append(f"group{i}")
        i += 1
    return out


def _nice(level: str) -> str:
    return level.replace("_", " ").capitalize() if level.islower() else level


def columns_for(plan: m.Plan, spec: m.Table, population_n: dict[str, int],
                ard: ArdView | None = None) -> list[Column]:
    cols: list[Column] = []
    trt = plan.treatment
    for item in spec.columns:
        if item.name == "treatment" and trt:
            for arm in trt.arms:
                n = population_n.get(arm.level)
                if n == 0:
                    continue  # an arm the table's population leaves out
                cols.append(Column(arm.level, f"{arm.display} (N={n})" if n is not None
                                   else arm.display, n))
        elif item.name == "total":
            n = population_n.get("Total")
            cols.append(Column("Total", f"Total (N={n})" if n is not None else "Total", n))
        elif ard is not None:  # a grouping column of the data, e.g. the CDASI measure
            # A delta grid's levels are bare numbers: the header names the grouping.
            named = item.name.startswith("delta_")
            cols += [Column(f"{item.name}={lev}", f"{item.name.replace('_', ' ')} {lev}"
                            if named else _nice(lev))
                     for lev in _grouping_levels(ard, spec, item.name)]
    return cols


def population_counts(ard: ArdView, spec: m.Table) -> dict[str, int]:
    """The table's column denominators, read back from the ARD: its ``population_count``
    rows (analysis id ``table <number>``, stat ``N``, group an arm level or "Total")."""
    rows = ard.stat(f"table {spec.number}", "N")
    rows = rows[rows["method"] == "population_count"]
    return {str(r.group1_level): int(r.stat) for r in rows.itertuples()}


def refuse_mixed_columns(plan: m.Plan, spec: m.Table) -> None:
    """Columns are the arms (``treatment``, ``total``) or the levels of one grouping
    variable, never both: the layout has no arm-by-level columns, and a row's cell would
    go to the level's column whatever its arm (one arm's counts under unlabelled columns).
    """
    names = [c.name for c in spec.columns]
    arms = [c for c in spec.columns if c.name in ("treatment", "total")]
    others = [c for c in spec.columns if c.name not in ("treatment", "total")]
    if not others or (not arms and len(others) == 1):
        return
    # The checker refuses these layouts (SAP235); reaching this is an engine bug, and a
    # bug must not put one arm's counts under unlabelled columns.
    raise RuntimeError(f"table {spec.number}: 'columns {', '.join(names)}' cannot be laid out")


def build_table(plan: m.Plan, spec: m.Table, ard: ArdView, treatment_col: str | None,
                not_estimable: Collection[str] = ()) -> BuiltTable:
    from sap_engine.render.listing_table import build_listing, is_listing

    if is_listing(plan, spec):  # subjects as rows, the listed variables as columns
        return build_listing(plan, spec, ard, treatment_col)
    refuse_mixed_columns(plan, spec)
    pop_name = spec.population.name if spec.population else None
    pop_n = population_counts(ard, spec)
    cols = columns_for(plan, spec, pop_n, ard)
    wants_smd = any(s.name == "smd" for r in spec.rows for s in r.show)
    if wants_smd:
        cols.append(Column("SMD", "SMD"))
    if any(o.name == "test" and o.value != "none" for r in spec.rows
           if r.analysis in plan.analyses for o in plan.analyses[r.analysis].options):
        cols.append(Column(P_COLUMN, "p-value"))  # an incidence test per row (incidence)
    if not cols:
        cols = [Column("", "Value")]
    labels = plan.labels
    sections: list[Section] = []
    if spec.by_visit:  # each visit a section holding every `rows` block
        from sap_engine.render.visit_table import visit_sections

        sections = visit_sections(plan, spec, ard, cols, treatment_col, not_estimable)
    for rows_spec in spec.rows if not spec.by_visit else ():
        sections.extend(_sections(plan, rows_spec, ard, cols, treatment_col, labels,
                                  not_estimable))
    footnotes = list(spec.footnotes)
    footnotes += [n for n in dict.fromkeys(s.note for s in sections if s.note)
                  if n not in footnotes]
    pop = plan.populations.get(pop_name or "")
    subtitle = ""
    if pop:
        subtitle = (pop.label or pop.name) + (f" (N = {pop_n['Total']})"
                                              if "Total" in pop_n else "")
    return BuiltTable(spec.number, spec.title, subtitle, ["", *[c.header for c in cols]],
                      sections, footnotes, anchor="table-" + spec.number)


def _sections(plan, rows_spec: m.TableRows, ard: ArdView, cols, treatment_col,
              labels, not_estimable: Collection[str] = (), by_visit: bool = False
              ) -> list[Section]:
    """The sections of one `rows` statement; with ``by_visit`` (a table laid out by visit)
    one section per combination of groups, each with its ``key``, a binary result too."""
    import pandas as pd

    from sap_engine.render.visit_labels import VisitLabels

    visit_text = VisitLabels(plan, ard.visit_labels)

    ids = (rows_spec.analysis, *rows_spec.also)
    frames = [ard.family(i) for i in ids]
    main = frames[0]
    analysis = plan.analyses[rows_spec.analysis]
    title = rows_spec.label or analysis.label or _column_label(analysis, ard) or analysis.name
    if main.empty:
        why = "not estimable by the chosen method" if rows_spec.analysis in not_estimable \
            else "(no results: the analysis produced no rows)"
        return [Section(title, [Row(why, [""] * len(cols))])]
    if set(main.method) == {"incidence"}:  # SOC > PT rows: their own layout
        from sap_engine.render.incidence_table import incidence_section

        hierarchy = next((o.value for o in analysis.options if o.name == "hierarchy"), ())
        depth = len(hierarchy) if isinstance(hierarchy, (tuple, list)) else 1
        return [incidence_section(title, main, cols, treatment_col, _column_of, _records,
                                  nested=depth > 1, flat=depth == 0)]
    if set(main.method) == {"shift"}:  # parameter > baseline > post-baseline rows
        return [_shift_section(plan, analysis, title, main, cols, treatment_col)]
    strata = sorted(set(main.analysis_id), key=list(dict.fromkeys(main.analysis_id)).index)
    out = []
    for sid in strata:
        sub = main[main.analysis_id == sid]
        extra = [f[f.analysis_id == sid] if sid != rows_spec.analysis else f
                 for f in frames[1:]]
        label = title if sid == rows_spec.analysis else f"{title}: {_stratum_text(plan, sid)}"
        names = variable_labels(plan, ard.data_labels)
        for variable in dict.fromkeys(sub.variable):
            vsub = sub[sub.variable == variable]
            # One precision per variable (its data's decimals over every stratum, visit and
            # arm), so a by-visit table does not change decimals from visit to visit.
            every = pd.concat([main, *frames[1:]])
            decimals = default_decimals(every[(every.variable == variable) & every.stat_name
                                              .isin(["min", "max"])].stat.tolist())
            vlabel = label if sub.variable.nunique() == 1 else \
                f"{label}: {names.get(variable, variable)}"
            # A crosstab of the variable (`crosstab X by treatment`: variable "X x TRT01P")
            # supplies its test to the rows of X.
            vextra = [f[(f.variable == variable)
                        | f.variable.astype(str).str.startswith(f"{variable} x ")]
                      for f in extra]
            # A text parameter's labels name its baseline's categories too (baseline_X).
            value_labels = labels.get(variable) or labels.get(
                variable.split("_", 1)[1] if variable.startswith(("baseline_", "value_"))
                else "", {})
            # Only the rows of the statistics shown decide the layout: a Kaplan-Meier
            # analysis also has one row per event time, which a median table does not show.
            wanted = _wanted_stats(rows_spec.show)
            shown = vsub[vsub.stat_name.isin(wanted)] if wanted else vsub
            # Strata already named by the analysis id (`X[severity=(0,6]]`) are in the label.
            encoded = {part.split("=")[0] for part in sid[sid.index("[") + 1:-1].split(";")} \
                if "[" in sid else set()
            inner = [g for g in _row_groups(shown, cols, treatment_col) if g not in encoded]
            if inner and wanted:
                # Rows without the extra groups (a curve's n, events and median) win when
                # they hold every statistic shown; the per-time rows then stay in the ARD.
                plain = shown[[not _combo(r, inner) for r in _records(shown)]]
                if set(plain.stat_name) >= set(shown.stat_name):
                    shown, inner = plain, []
            if not inner and wanted:
                vsub = shown
            if not inner:
                out.append(_section(vlabel, rows_spec, vsub, vextra, cols, treatment_col,
                                    value_labels, _arm_labels(plan), decimals))
                continue
            # Groups that are neither columns nor the arm (a parameter family's members,
            # visits): one row each for a binary result, else one section each.
            row_combos = [_combo(r, inner) for r in _records(vsub)]
            # Only combinations holding a statistic shown get a section (a tipping-point
            # grid's cells are not sections of the table of its pooled results).
            held = {_combo(r, inner) for r in _records(shown)}
            combos = [c for c in dict.fromkeys(row_combos) if c in held]
            binary = set(vsub.variable_level.dropna()) <= {"Y", "N"} and \
                (vsub.stat_name == "pct").any() and not by_visit
            section = Section(vlabel)
            for combo in combos:
                mask = np.array([c == combo for c in row_combos])
                # A delta grid's levels are numbers: name them (tipping point tables).
                text = ", ".join(f"{g.replace('_', ' ')} {_nice(v)}" if g.startswith("delta_")
                                 else visit_text(v) if g == "visit" else _nice(v)
                                 for g, v in combo)
                if binary:
                    cells = _cells(vsub[mask & (vsub.variable_level == "Y")],
                                   m.ShowItem("n_pct"), cols, treatment_col, 0, level_filter="Y")
                    section.rows.append(Row(text, cells))
                else:
                    part = _section(f"{vlabel}: {text}", rows_spec, vsub[mask], vextra,
                                    cols, treatment_col, value_labels, _arm_labels(plan),
                                    decimals)
                    part.key, part.heading = combo, vlabel
                    out.append(part)
            if section.rows:
                out.append(section)
    return out


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


def _records(frame) -> list:
    """Rows as light records (itertuples, with an ``index`` of column names like a Series)."""
    names = list(frame.columns)
    # One conversion to an object matrix: itertuples extracts every column per call.
    return [_Record(names, tuple(values)) for values in frame.to_numpy(dtype=object)]


class _Record:
    """A read-only row: attribute and ``row[col]`` access, far cheaper than iterrows."""

    __slots__ = ("index", "_values")

    def __init__(self, names: list[str], values: tuple):
        self.index = names
        self._values = dict(zip(names, values))

    def __getitem__(self, name: str):
        return self._values[name]

    def __getattr__(self, name: str):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


def _combo(row, names: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for name in names:
        level = _group_level(row, name)
        if level is not None:
            out.append((name, str(level)))
    return tuple(out)


def _stratum_text(plan: m.Plan, analysis_id: str) -> str:
    """``A1s[severity=(6,14]]`` -> ``Baseline CDASI activity (6,14]`` (labels from the plan)."""
    parts = []
    for item in analysis_id[analysis_id.index("[") + 1:-1].split(";"):
        name, _, level = item.partition("=")
        stratum = plan.endpoints.get(name)
        parts.append(f"{stratum.label if stratum and stratum.label else name} {level}")
    return ", ".join(parts)


def variable_labels(plan: m.Plan, data_labels: dict[str, str] | None = None
                    ) -> dict[str, str]:
    """Display names of ARD variables: endpoint and parameter labels, derived ones named.

    Where the plan gives no label, the data file's label of the column (``data_labels``,
    the ARD's ``variable_labels``): for a column analysed as it is (``variable adsl.AGE``),
    a parameter that is a whole column (no ``where``, no ``by``: a column that holds many
    parameters, as AVAL, is labelled for none of them) and an endpoint that is a column."""
    given = data_labels or {}
    out: dict[str, str] = dict(given)
    for name, p in plan.parameters.items():
        whole = p.where is None and not p.by
        label = p.label or (given.get(p.source.name) if whole else None) or name
        out[name] = label
        out[f"baseline_{name}"] = label
        out[f"change_{name}"] = f"Change in {label}"
        out[f"percent_change_{name}"] = f"Percent change in {label}"
        out[f"value_{name}"] = label
    for name, e in plan.endpoints.items():
        column = e.expr.name if isinstance(e.expr, m.Col) else None
        out[name] = e.label or (given.get(column) if column else None) or name
    return out


def _column_label(analysis: m.Analysis, ard: ArdView) -> str | None:
    """The data file's label of an unlabelled analysis' one column (``variable adsl.AGE``)."""
    variables = analysis.variables
    if len(variables) == 1 and isinstance(variables[0], m.Col) and variables[0].dataset:
        return ard.data_labels.get(variables[0].name)
    return None


def _group_level(row, name: str) -> str | None:
    i = 1
    while f"group{i}" in row.index:
        if row[f"group{i}"] == name:
            return row[f"group{i}_level"]
        i += 1
    return None


def _shift_section(plan: m.Plan, analysis: m.Analysis, title: str, main, cols,
                   treatment_col: str | None) -> Section:
    from sap_engine.render.shift_table import shift_section

    opts = {o.name: o.value for o in analysis.options}
    value = str(opts.get("value", ""))
    labels = {**plan.labels.get(str(opts.get("baseline", "")), {}), **plan.labels.get(value, {})}
    at = None
    if analysis.visit is not None:
        word = plan.visits.label if plan.visits and plan.visits.label else "Visit"
        at = f"{word} {m._num(analysis.visit)}"
    parameter = str(opts["parameter"]) if opts.get("parameter") else None
    return shift_section(title, main, cols, treatment_col, _column_of, _records, labels,
                         parameter, at, opts.get("percent_of") == "assessed")


def _column_of(row, cols: list[Column], treatment_col: str | None) -> str | None:
    keys = [c.key for c in cols]
    for name in dict.fromkeys(k.split("=", 1)[0] for k in keys if "=" in k):
        got = _group_level(row, name)
        if got is not None:  # the row belongs to the column of its level, or to none
            return f"{name}={got}" if f"{name}={got}" in keys else None
    if row.stat_name == "smd":
        return "SMD" if "SMD" in keys else None
    level = _group_level(row, treatment_col) if treatment_col else None
    if level is not None:
        return level if level in keys else None
    vl = row.variable_level
    if isinstance(vl, str) and (" - " in vl or " vs " in vl):  # "A - B" or a hazard ratio
        left = vl.split(" - " if " - " in vl else " vs ")[0]
        return left if left in keys else (keys[0] if keys else None)
    return keys[0] if keys else None


def _arm_labels(plan: m.Plan) -> dict[str, str]:
    return {a.level: a.display for a in plan.treatment.arms} if plan.treatment else {}


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
        data = data[data.variable_level.isna()]
        tests = data[data.stat_name.isin(stats)]
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
