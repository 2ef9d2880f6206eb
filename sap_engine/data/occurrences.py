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
    # Membership by one hash lookup per record on plain objects: pandas' isin on Arrow
    # strings loops in Python (4 s for a million records).
    population = ids.to_numpy(dtype=object)
    subjects = rows[ev.key].to_numpy(dtype=object)
    where = pd.Index(population).get_indexer(subjects)
    inside = where >= 0
    outside = len(pd.unique(subjects[~inside]))
    hit = np.zeros(len(population), dtype=bool)
    hit[where[inside]] = True
    order = np.r_[where[inside], np.flatnonzero(~hit)]  # population position of each row
    n_records = int(inside.sum())
    data: dict[str, np.ndarray] = {}
    for column in dict.fromkeys(columns):
        values = np.full(len(order), None, dtype=object)
        values[:n_records] = rows[column].to_numpy(dtype=object)[inside]
        data[column] = values
    data[RECORD] = np.arange(len(order)) < n_records
    if treatment is not None:
        arms = ev.subjects[treatment].reindex(ids).astype(str).to_numpy(dtype=object)
        data[treatment] = arms[order]
    # Object columns as given: letting pandas infer its string dtype copies every value
    # (0.4 s a column for a million records), and the method reads them as objects.
    frame = pd.DataFrame({c: pd.Series(v, dtype=object if v.dtype == object else None,
                                       copy=False) for c, v in data.items()})
    frame.index = pd.Index(population[order], dtype=object, name=ev.key)
    frame.attrs["n_outside_population"] = outside
    return frame
