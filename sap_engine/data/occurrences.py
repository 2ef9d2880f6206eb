"""Occurrence sets on the data: the event records an ``occurrence`` statement selects, and
the analysis frame of unit ``occurrence`` (see :data:`sap_engine.methods.registry.OCCURRENCE`).

The row filter of an occurrence set is evaluated like a parameter's
(:meth:`~sap_engine.data.parameters.ParameterValues.row_eval`: the dataset's own columns, then
the subject dataset's by the subject key; a null comparison keeps no row). The frame holds
one row per record of the population's subjects and one row per population subject without
any record, so that a method counting subjects has the denominators; records of subjects
outside the population are counted (``attrs["n_outside_population"]``) and left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sap_engine.data.derive import Evaluator

RECORD = "record"  # the frame column telling a record (True) from a subject's padding row


def occurrence_rows(ev: Evaluator, name: str) -> pd.DataFrame:
    """The dataset rows of occurrence set ``name`` after its filter; computed once."""
    key = ("occurrence", name)
    if key not in ev._rows:
        occ = ev.plan.occurrences[name]
        frame = ev.checked.datasets[occ.dataset].frame()
        if occ.where is not None:
            keep = ev.row_eval(occ.where, frame, occ.dataset).fillna(0).astype(bool)
            frame = frame[keep.to_numpy()]
        ev._rows[key] = frame
    return ev._rows[key]


def occurrence_frame(ev: Evaluator, name: str, ids: pd.Index, columns: list[str],
                     treatment: str | None) -> pd.DataFrame:
    """Records of ``name`` for the subjects ``ids`` (the columns asked, the treatment from
    the subject dataset), then one row per subject of ``ids`` without a record."""
    rows = occurrence_rows(ev, name)
    subjects = rows[ev.key]
    inside = subjects.isin(ids).to_numpy()
    outside = int(subjects[~inside].nunique())
    records = rows.loc[inside, list(dict.fromkeys(columns))]
    records.index = pd.Index(subjects[inside].to_numpy(), name=ev.key)
    without = ids[~ids.isin(subjects[inside])]
    padding = pd.DataFrame({c: pd.Series(np.full(len(without), None, dtype=object))
                            for c in records.columns})
    padding.index = pd.Index(without.to_numpy(), name=ev.key)
    records = records.astype(object) if len(padding) else records
    frame = pd.concat([records, padding]) if len(padding) else records.copy()
    frame[RECORD] = np.r_[np.ones(len(records), dtype=bool), np.zeros(len(padding), dtype=bool)]
    if treatment is not None:
        frame[treatment] = ev.subjects[treatment].reindex(frame.index).astype(str).to_numpy()
    frame.attrs["n_outside_population"] = outside
    return frame
