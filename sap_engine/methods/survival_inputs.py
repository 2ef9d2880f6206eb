"""What the survival methods share: their time and event roles, their common options and
the event convention, and the reading of a frame into the rows they analyse.

Separate from the registered methods (:mod:`sap_engine.methods.survival`: Kaplan-Meier,
log-rank, Cox) because all three read their input the same way: rows complete in every
role's column, a non-negative numeric time (SAP475), the event role read as ADaM CNSR or
as an event flag (SAP476), group and strata labels in SAS order; the methods differ only
in what they compute from those rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods import registry as clauses  # the plan clauses feeding options
from sap_engine.methods.inputs import refuse_infinite_columns
from sap_engine.methods.linear_design import level_label, sorted_levels
from sap_engine.methods.registry import OptionSpec, RoleSpec

TIME_EVENT_ROLES = (
    RoleSpec("time", "numeric", doc="time to event or censoring (e.g. ADTTE AVAL)"),
    RoleSpec("event", "numeric", doc="censoring or event flag (ADTTE CNSR by default, see "
             "`event_from`)"),
)
GROUP_ROLE = RoleSpec("group", "category", required=False,
                      doc="the compared groups (defaults to the plan's treatment)")
STRATA_ROLE = RoleSpec("strata", "category", many=True, required=False,
                       doc="stratification factors")
EVENT_FROM = OptionSpec("event_from", "choice", "cnsr", "how to read the event role: ADaM CNSR "
                         "(0 = event, >0 = censored) or an event flag (1 = event, 0 = censored)",
                         choices=("cnsr", "event"))
LEVELS = OptionSpec("levels", "list", (), "group levels in display order (default: sorted)",
                     clause=clauses.TREATMENT_ARMS)
CI_LEVEL = OptionSpec("ci_level", "number", 0.95, "confidence level", minimum=0.5, maximum=0.999)
EVENT_CONVENTION = ("The event role is ADaM ADTTE CNSR by default (0 = event, a positive "
                     "integer = censored, as SAS `time AVAL*CNSR(1,2,...)`); `event_from = "
                     "event` reads a 1/0 event flag (R `Surv(time, status)`). Rows with a "
                     "missing time, event, group or stratum are excluded.")


def event_indicator(values: np.ndarray, event_from: str = "cnsr") -> np.ndarray:
    """1/0 event flags from a CNSR column (0 = event) or an event column (1 = event)."""
    v = np.asarray(values, dtype=float)
    if event_from == "cnsr":
        bad = v[(v < 0) | (v != np.floor(v))]
        if len(bad):
            raise MethodError("SAP476", f"censoring value {bad[0]:g} is not 0 (event) or a "
                                        "positive integer (censored), as ADaM CNSR is coded")
        return (v == 0).astype(int)
    bad = v[(v != 0) & (v != 1)]
    if len(bad):
        raise MethodError("SAP476", f"event value {bad[0]:g} is not 1 (event) or 0 "
                                    "(censored)")
    return (v == 1).astype(int)


def many_columns(value) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def time_event_rows(frame, roles: Mapping[str, Any], options: Mapping[str, Any],
             extra: Sequence[str] = ()):
    """(rows used, time, event): rows complete in every role's column, validated."""
    import pandas as pd

    cols = [roles["time"], roles["event"], *many_columns(roles.get("group")),
            *many_columns(roles.get("strata")), *extra]
    refuse_infinite_columns(frame, cols)
    used = frame[list(dict.fromkeys(cols))].dropna()
    if used.empty:
        raise MethodError("SAP477", "no rows with time, event and the other variables all "
                                    "present")
    t_col = used[roles["time"]]
    if not pd.api.types.is_numeric_dtype(t_col) or pd.api.types.is_bool_dtype(t_col):
        raise MethodError("SAP475", f"time variable '{roles['time']}' is not numeric")
    time = t_col.to_numpy(dtype=float)
    if np.any(time < 0):
        raise MethodError("SAP475", f"time variable '{roles['time']}' has a negative value "
                                    f"({time[time < 0][0]:g})")
    e_col = used[roles["event"]]
    if not pd.api.types.is_numeric_dtype(e_col):
        raise MethodError("SAP476", f"event variable '{roles['event']}' is not numeric")
    event = event_indicator(e_col.to_numpy(dtype=float), options.get("event_from", "cnsr"))
    return used, time, event


def row_labels(series) -> np.ndarray:
    return np.array([level_label(v) for v in series.tolist()], dtype=object)


def ordered_levels(series, listed: Sequence[Any] = ()) -> tuple[np.ndarray, list[str]]:
    """(label of each row, levels): listed levels that occur, in the listed order, then any
    others in SAS order (numbers by value)."""
    labels = row_labels(series)
    present = sorted_levels(series.tolist())
    first = [str(x) for x in listed if str(x) in present]
    return labels, first + [lev for lev in present if lev not in first]
