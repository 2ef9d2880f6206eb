"""A built table as plain data, and where an ARD row goes in it.

A built table is a header row, sections of labelled rows of formatted cells, and footnotes:
what every writer (HTML, Markdown, RTF, DOCX) renders, whichever layout built it (the
generic builder of :mod:`sap_engine.render.tables`, or the incidence, shift, listing and
by-visit layouts). The placement of an ARD row in a column (:func:`_column_of`) is shared by
those layouts, so an arm's statistics land in the arm's column whatever the table.

Placement rules (as CSR tables set them out):
- a statistic grouped by an arm goes to that arm's column ("Total" to the total column);
- a statistic grouped by a level of the table's grouping columns goes to that level's;
- a contrast statistic (``variable_level`` "A - B") goes to the column of arm A;
- an SMD goes to a trailing "SMD" column.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


def _group_columns(frame) -> list[str]:
    out, i = [], 1
    while f"group{i}" in frame.columns:
        out.append(f"group{i}")
        i += 1
    return out


def _group_level(row, name: str) -> str | None:
    i = 1
    while f"group{i}" in row.index:
        if row[f"group{i}"] == name:
            return row[f"group{i}_level"]
        i += 1
    return None


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
