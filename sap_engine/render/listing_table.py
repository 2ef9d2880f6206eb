"""The layout of a subject listing: one row per subject, one column per listed variable (not
per arm), cut into blocks of at most :data:`BLOCK` subjects, each block under the column
header again and, after the first, titled "(continued)", as paper listings repeat their
header on every page.

Built from the ARD alone (the listing's ``value`` rows, written in the listing's sort order,
one per subject and column: groups the subject key and ``column``), so a document rebuilt
from the ARD is the same. A number prints at the decimals of its column's data (at most 3),
a text as it is, an arm by its display label, a missing value blank.
"""

from __future__ import annotations

from sap_engine import model as m
from sap_engine.fmt import expr
from sap_engine.render.ard_view import ArdView
from sap_engine.render.format import default_decimals, fmt_pattern
from sap_engine.render.tables import BuiltTable, Row, Section, variable_labels

BLOCK = 40  # subjects per block: a landscape page of a paper listing
COLUMN = "column"  # the ARD group naming the listing column (methods/listing.py)


LISTINGS = ("listing", "record_listing")  # a row per subject; a row per record
RECORD = "record"  # the ARD group numbering a record listing's rows


def is_listing(plan: m.Plan, spec: m.Table) -> bool:
    """A table whose every row block is a listing analysis is laid out as a listing."""
    return bool(spec.rows) and all(
        plan.analyses[r.analysis].method in LISTINGS and not r.also for r in spec.rows
        if r.analysis in plan.analyses)


def _cells(frame) -> tuple[list[str], dict[str, dict[str, tuple]], str]:
    """The listing's columns in order, its cells by subject then column (stat, text), and
    the subject key's name, read from the groups of its ``value`` rows."""
    groups = [c for c in frame.columns if c.startswith("group") and not c.endswith("_level")]
    columns: list[str] = []
    cells: dict[str, dict[str, tuple]] = {}
    key = ""
    for rec in frame[frame.stat_name == "value"].to_dict("records"):
        named = {rec[g]: rec[f"{g}_level"] for g in groups if isinstance(rec[g], str)}
        column = str(named.pop(COLUMN))
        record = named.pop(RECORD, None)  # a record listing: several rows per subject
        key, subject = next(iter(named.items()))
        if record is not None:
            subject = f"{subject}#{record}"
        if column not in columns:
            columns.append(column)
        stat = rec["stat"] if rec["stat"] == rec["stat"] else None  # NaN: missing
        text = rec["stat_text"] if isinstance(rec["stat_text"], str) else None
        cells.setdefault(str(subject), {})[column] = (stat, text)
    return columns, cells, key


def _header(plan: m.Plan, analysis: m.Analysis, column: str, names: dict[str, str],
            treatment_col: str | None) -> str:
    if column == treatment_col:
        return "Treatment"
    label = names.get(column, column)
    if column.startswith("baseline_"):
        return f"{label}, baseline"
    visits = plan.visits
    at_visit = column in plan.parameters or column in plan.endpoints
    if at_visit and analysis.visit is not None:
        word = visits.label if visits is not None and visits.label else "Visit"
        return f"{label}, {word.lower()} {m._num(analysis.visit)}"
    return label


def _subtitle(plan: m.Plan, spec: m.Table, n_subjects: int, records: bool) -> str:
    """The population listed: the analysis' own (with its ``where``, which chose the
    subjects) when the table has one listing, else the table's; and how many are listed."""
    uses = [plan.analyses[r.analysis].population for r in spec.rows]
    use = uses[0] if len(uses) == 1 and uses[0] is not None else spec.population
    pop = plan.populations.get(use.name) if use else None
    listed = f"{n_subjects} {'records' if records else 'subjects'} listed"
    if use is None or pop is None:
        return listed
    where = f", where {expr(use.where)}" if use.where is not None else ""
    return f"{pop.label or pop.name}{where}: {listed}"


def _blank_repeats(block: list[Row], with_treatment: bool) -> list[Row]:
    """A subject's treatment and id printed on its first row of a block only, as a paper
    listing groups a subject's records (PROC REPORT's ORDER columns); every block (page)
    starts with them again."""
    out: list[Row] = []
    previous: tuple[str, str] | None = None
    for row in block:
        ident = (row.label, row.cells[0] if row.cells and with_treatment else "")
        if ident == previous:
            cells = ["", *row.cells[1:]] if with_treatment else row.cells
            out.append(Row("", cells, row.indent, row.bold))
        else:
            out.append(row)
        previous = ident
    return out


def build_listing(plan: m.Plan, spec: m.Table, ard: ArdView, treatment_col: str | None
                  ) -> BuiltTable:
    """The listing table: the first column the treatment (the row label), a row per subject
    in the ARD's order, sections of at most BLOCK rows with the header repeated."""
    names = variable_labels(plan, ard.data_labels)
    arms = {a.level: a.display for a in plan.treatment.arms} if plan.treatment else {}
    sections: list[Section] = []
    header: list[str] = []
    n_subjects = 0
    for rows_spec in spec.rows:
        analysis = plan.analyses[rows_spec.analysis]
        frame = ard.family(rows_spec.analysis)
        columns, cells, _ = _cells(frame)
        header = [_header(plan, analysis, c, names, treatment_col) for c in columns]
        decimals = {c: default_decimals([v[c][0] for v in cells.values()
                                         if c in v and v[c][0] is not None])
                    for c in columns}
        title = rows_spec.label or analysis.label or analysis.name
        rows: list[Row] = []
        for by_col in cells.values():
            values = []
            for c in columns:
                stat, text = by_col.get(c, (None, None))
                if text is not None:
                    values.append(arms.get(text, text) if c == treatment_col else text)
                elif stat is not None:
                    values.append(fmt_pattern("x" + ("." + "x" * decimals[c]
                                                     if decimals[c] else ""), stat))
                else:
                    values.append("")  # missing: blank, as listings print it
            rows.append(Row(values[0], values[1:]))
        n_subjects += len(rows)
        per_record = analysis.method == "record_listing"
        unit = "records" if per_record else "subjects"
        if not rows:
            sections.append(Section(title, [Row(f"(no {unit})", [""] * (len(columns) - 1))]))
        for start in range(0, len(rows), BLOCK):
            block = rows[start:start + BLOCK]
            if per_record:
                block = _blank_repeats(block, treatment_col is not None)
            label = title if start == 0 else f"{title} (continued)"
            sections.append(Section(f"{label}: {unit} {start + 1}-{start + len(block)} "
                                    f"of {len(rows)}", block))
    records = all(plan.analyses[r.analysis].method == "record_listing" for r in spec.rows)
    subtitle = _subtitle(plan, spec, n_subjects, records)
    footnotes = list(spec.footnotes)
    footnotes.append(("One row per record of the subjects of the analysis population"
                      if records else "One row per subject of the analysis population")
                     + "; a blank cell is a missing value.")
    return BuiltTable(spec.number, spec.title, subtitle, header or ["Treatment"], sections,
                      footnotes, anchor="listing-" + spec.number, kind="Listing",
                      repeat_header=True)
