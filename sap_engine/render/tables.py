"""Build display tables from the ARD and the plan's table specs (rendered elsewhere).

A built table is plain data (:mod:`sap_engine.render.table_model`): a header row, sections
of labelled rows of formatted cells, footnotes. One builder serves every output format.
This module decides a table's columns (arms, total, a grouping's levels, SMD, p-value) and
its sections: one per analysis (and stratum and variable), or the own layouts of incidence,
shift, listing and by-visit tables; the cells of a generic section are
:mod:`sap_engine.render.table_cells`'. Categorical counts give one row per level, "n (%)".
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from sap_engine import model as m
from sap_engine.render.ard_view import ArdView
from sap_engine.render.format import default_decimals
from sap_engine.render.table_cells import _cells, _combo, _row_groups, _section, _wanted_stats
from sap_engine.render.table_model import (
    P_COLUMN,
    BuiltTable,
    Column,
    Row,
    Section,
    _column_of,
    _records,
)

# The table model is imported from here by the writers and the other layouts too.
__all__ = ["P_COLUMN", "BuiltTable", "Column", "Row", "Section", "build_table", "columns_for",
           "population_counts", "refuse_mixed_columns", "variable_labels"]


def _grouping_levels(ard: ArdView, spec: m.Table, name: str) -> list[str]:
    """Levels of a grouping column (``columns PARCAT2``) among the table's analyses."""
    ids = dict.fromkeys(i for r in spec.rows for i in (r.analysis, *r.also))
    levels: list[str] = []
    for rows in (ard.family(i) for i in ids):
        for g in ard.group_columns():
            hit = rows[rows[g] == name][f"{g}_level"]
            levels += [str(v) for v in dict.fromkeys(hit) if str(v) not in levels]
    return levels


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


def _arm_labels(plan: m.Plan) -> dict[str, str]:
    return {a.level: a.display for a in plan.treatment.arms} if plan.treatment else {}


