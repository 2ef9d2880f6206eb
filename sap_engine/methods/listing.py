"""Subject listings: the listed variables of every subject of the analysis population, one
row per subject, sorted, each value kept in the ARD so every printed cell is traceable.

The frame (unit subject) holds the population's subjects (the population's ``where``
already chose them), indexed by the subject key, with the treatment column and one column
per listed variable (a subject-level column, a parameter or endpoint at the analysis'
``at week N`` visit, a ``baseline(...)``). The listing's columns are the treatment first,
then the subject id, then the variables in the plan's order.

ARD: one row per cell, stat_name ``value``, grouped by the subject (the subject key and its
id) and the listing column (group ``column``). A numeric value is in ``stat`` (``stat_text``
null); a text value in ``stat_text`` (``stat`` null); a missing value has both null. The rows
are written in the listing's sort order, which is the display order (as an incidence
table's rows are), so the document rebuilt from the ARD lists the same subjects in the same
order.

Sort (option ``sort``): ascending by each named column in turn, numbers numerically and text
by code point (SAS's ASCII order); the subject id is always the last key, so ties are broken
the same way on every run. A missing value sorts *last* (pandas' ``na_position``), where SAS
PROC SORT puts a missing number first: a reader of a listing looks for the subjects with
values, and one convention for numbers and text is easier to state (see the conventions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported when a method runs, not when check loads the registry
    import pandas as pd

from sap_engine.errors import MethodError
from sap_engine.methods.inputs import refuse_infinite_columns
from sap_engine.methods.registry import Evidence, OptionSpec, RoleSpec, Stat, register

COLUMN = "column"  # the ARD group naming a listing column
VALUE = "value"  # the ARD stat_name of a listed cell
SUBJECT_KEY = "USUBJID"  # the subject key's name when the frame's index has none


def listing_columns(frame: pd.DataFrame, roles: Mapping[str, Any]) -> list[str]:
    """The listed columns in display order: treatment, subject id, then the variables
    (a variable naming the subject key or the treatment again is not listed twice)."""
    key = str(frame.index.name or SUBJECT_KEY)
    trt = roles.get("treatment")
    variables = roles.get("variables") or ()
    if isinstance(variables, str):
        variables = (variables,)
    cols = [str(trt)] if trt else []
    cols.append(key)
    cols += [str(v) for v in variables if str(v) not in cols]
    return cols


def sort_keys(names: list[str], columns: list[str], key: str) -> list[str]:
    """The columns sorted by: those named (each must be listed, SAP613), then the subject id
    so ties are always broken the same way."""
    for name in names:
        if name not in columns:
            raise MethodError("SAP613", f"sort column '{name}' is not a listed column "
                                        f"({', '.join(columns)})")
    return list(dict.fromkeys([*names, key]))


def _is_number(series: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def run_listing(frame: pd.DataFrame, roles: Mapping[str, Any], options: Mapping[str, Any]
                ) -> list[Stat]:

    columns = listing_columns(frame, roles)
    key = columns[1] if roles.get("treatment") else columns[0]
    table = frame.reset_index()
    if key not in table.columns:  # an index without a name: reset_index calls it "index"
        table = table.rename(columns={table.columns[0]: key})
    table = table.loc[:, ~table.columns.duplicated()]
    refuse_infinite_columns(table, [c for c in columns if c != key])
    limit = options.get("max_subjects")
    if limit is not None and len(table) > limit:
        # A listing of thousands of subjects is an extract, not a display: its ARD would
        # hold subjects x columns rows. Refused rather than truncated silently.
        raise MethodError("SAP614", f"the listing has {len(table)} subjects, more than "
                                    f"max_subjects = {int(limit)}; narrow the population "
                                    "or raise max_subjects")
    by = sort_keys([str(s) for s in options.get("sort") or ()], columns, key)
    # A stable sort (mergesort) with missing values last, numbers by value, text by code
    # point; the subject id, the last key, breaks every tie.
    table = table.sort_values(by=by, kind="mergesort", na_position="last")
    numeric = {c: _is_number(table[c]) for c in columns}
    out: list[Stat] = []
    for row in table.itertuples(index=False):
        values = dict(zip(table.columns, row))
        subject = str(values[key])
        for c in columns:
            v = values[c]
            out.append(cell(v, c, numeric[c], ((key, subject), (COLUMN, c))))
    return out


def cell(value: Any, column: str, numeric: bool, groups: tuple[tuple[str, str], ...]) -> Stat:
    """One listed cell: a number in ``stat``, a text in ``stat_text``, both null if missing
    (the subject listing and the record listing write their cells alike)."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return Stat(VALUE, None, stat_label=column, groups=groups)
    if numeric:
        return Stat(VALUE, float(value), stat_label=column, groups=groups)
    return Stat(VALUE, None, stat_label=column, stat_text=str(value), groups=groups)


register(
    "listing",
    family="listing",
    label="Subject listing",
    summary="The listed variables of each subject of the analysis population, one row per "
            "subject (the treatment first, then the subject id), sorted.",
    roles=(RoleSpec("variables", "any", many=True,
                    doc="the listed columns: subject-level columns, parameters or endpoints "
                        "(at the analysis' `at week N` visit), baseline(...)"),
           RoleSpec("treatment", "category", required=False,
                    doc="the first column (the plan's treatment)")),
    options=(
        OptionSpec("sort", "list", None, "the listed columns sorted by, ascending, in turn "
                   "(e.g. [TRT01P, USUBJID]; default: treatment, then subject id); a "
                   "variable is named as in the ARD (baseline(x) as baseline_x)"),
        OptionSpec("max_subjects", "integer", 1000, "refuse a listing of more subjects "
                   "(its ARD has one row per subject and column)", minimum=1),
    ),
    conventions=(
        "One row per subject of the analysis population (its `where` filters the subjects); "
        "a variable at a visit is the value at the analysis' `at week N` visit.",
        "Sort ascending by each `sort` column, numbers by value and text by code point; the "
        "subject id is always the last key (ties broken by subject id).",
        "Missing values sort last (SAS sorts a missing number first): one rule for numbers "
        "and text, the subjects with values first; a missing value prints blank.",
        "ARD: one row per cell, stat_name value, groups the subject and the column; stat holds "
        "a number, stat_text a text, both null for a missing value.",
    ),
    evidence=(Evidence("a pandas selection and sort of the raw ProDERM parquet files done in "
                       "the test (switchers of Listing 16.2.1)", "exact",
                       "tests/test_listing.py::test_switchers_listing_equals_a_pandas_"
                       "selection"),),
    stats=(VALUE,),
)(run_listing)
