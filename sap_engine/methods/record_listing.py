"""Record listings: every record of an occurrence set for the population's subjects, one row
per record (an adverse-event listing, a subject's laboratory values across visits), sorted.

The frame (unit :data:`~sap_engine.methods.registry.OCCURRENCE`) holds the occurrence set's
records of the population's subjects and one row per subject without any (``record``
False), indexed by subject, with the treatment column and the listed columns. Only records
are listed: a subject without a record has no row (the subject listing, method ``listing``,
lists every subject).

ARD: one row per cell, stat_name ``value``, grouped by the subject (the subject key and its
id), the record (group ``record``: its position in the listing, 1, 2, ...) and the listing
column (group ``column``); a number in ``stat``, a text in ``stat_text``, both null for a
missing value; written in the listing's sort order, which is the display order.

Sort (option ``sort``): ascending by each named column in turn, the treatment in the plan's
arm order, numbers by value, text by code point, missing values last; then the subject id;
records that tie on every key keep their order in the dataset (a stable sort), so an ADAE
sorted by AESEQ lists a subject's events in that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported when a method runs, not when check loads the registry
    import pandas as pd

from sap_engine.errors import MethodError
from sap_engine.methods.inputs import refuse_infinite_columns
from sap_engine.methods.listing import COLUMN, SUBJECT_KEY, VALUE, _is_number, cell
from sap_engine.methods.registry import (
    OCCURRENCE,
    TREATMENT_ARMS,
    Evidence,
    OptionSpec,
    RoleSpec,
    Stat,
    register,
)

RECORD = "record"  # the ARD group numbering the listed records


def run_record_listing(frame: pd.DataFrame, roles: Mapping[str, Any],
                       options: Mapping[str, Any]) -> list[Stat]:
    import pandas as pd

    trt = str(roles["treatment"]) if roles.get("treatment") else None
    key = frame.index.name or SUBJECT_KEY
    listed = [str(c) for c in options["columns"]]
    table = frame[frame["record"].to_numpy(dtype=bool)].reset_index()
    table = table.rename(columns={table.columns[0]: key})
    columns = list(dict.fromkeys([*([trt] if trt else []), key, *listed]))
    table = table.loc[:, ~table.columns.duplicated()]
    refuse_infinite_columns(table, [c for c in listed if c != key])
    limit = options.get("max_records")
    if limit is not None and len(table) > limit:
        raise MethodError("SAP627", f"the listing has {len(table)} records, more than "
                                    f"max_records = {int(limit)}; narrow the occurrence set "
                                    "or the population, or raise max_records")
    by = [str(s) for s in options.get("sort") or ()]
    unknown = [s for s in by if s not in columns]
    if unknown:
        raise MethodError("SAP284", f"sort column '{unknown[0]}' is not a listed column "
                                    f"({', '.join(columns)})")
    by = list(dict.fromkeys([*(by or ([trt] if trt else [])), key]))
    keyed = table.copy()
    if trt and options.get("arms"):
        # The arms sort in the plan's order, not alphabetically.
        keyed[trt] = pd.Categorical(keyed[trt], categories=[str(a) for a in options["arms"]],
                                    ordered=True)
    order = keyed.sort_values(by=by, kind="mergesort", na_position="last").index
    table = table.loc[order]
    numeric = {c: _is_number(pd.Series(table[c].tolist())) if c in listed else False
               for c in columns}
    out: list[Stat] = []
    for i, row in enumerate(table[columns].itertuples(index=False), 1):
        values = dict(zip(columns, row))
        subject = str(values[key])
        out += [cell(values[c], c, numeric[c], ((key, subject), (RECORD, str(i)), (COLUMN, c)))
                for c in columns]
    return out


register(
    "record_listing",
    family="record_listing",
    label="Record listing",
    summary="Every record of an occurrence set for the population's subjects (adverse "
            "events, laboratory values across visits), one row per record, sorted.",
    unit=OCCURRENCE,
    roles=(RoleSpec("treatment", "category", required=False,
                    doc="the first column (the plan's treatment)"),),
    options=(
        OptionSpec("events", "string", None, "the occurrence set listed (an 'occurrence' "
                   "statement of the plan); required"),
        OptionSpec("columns", "list", None, "the listed columns of the occurrence set's "
                   "dataset, in order (after the treatment and the subject id); required"),
        OptionSpec("sort", "list", None, "the listed columns sorted by, ascending, in turn "
                   "(default: treatment, then subject id; ties keep the dataset's order)"),
        OptionSpec("max_records", "integer", 5000, "refuse a listing of more records (its "
                   "ARD has one row per record and column)", minimum=1),
        OptionSpec("arms", "list", None, "the arms in order (set from the treatment)",
                   clause=TREATMENT_ARMS),
    ),
    conventions=(
        "One row per record of the occurrence set (its filter chose them) of a subject of "
        "the analysis population; subjects without a record are not listed.",
        "Sort ascending by each `sort` column (the treatment in the plan's arm order, "
        "numbers by value, text by code point, missing values last), then the subject id; "
        "records tying on every key keep the dataset's order (stable sort).",
        "ARD: one row per cell, stat_name value, groups the subject, the record (its "
        "position in the listing) and the column.",
    ),
    evidence=(Evidence("a pandas selection, merge and sort of the raw CDISC Pilot 01 ADAE "
                       "and ADSL done in the test (serious TEAEs)", "exact",
                       "tests/test_record_listing.py::"
                       "test_serious_teae_listing_equals_a_pandas_selection"),),
    stats=(VALUE,),
)(run_record_listing)
