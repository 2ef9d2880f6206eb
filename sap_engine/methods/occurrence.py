"""What the methods of unit occurrence (``incidence``, ``shift``) read alike from their frame:
each row's subject and each subject's arm, and the subjects left out of the population.

The frame (see :data:`~sap_engine.methods.registry.OCCURRENCE`) is indexed by subject, one
row per record plus one per subject without any, with the treatment column; the executor
counts the occurrence set's subjects outside the population in
``frame.attrs["n_outside_population"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sap_engine.methods.registry import Stat

if TYPE_CHECKING:  # pandas is imported when a method runs, not when check loads the registry
    import pandas as pd


def subject_arms(frame: pd.DataFrame, treatment: str, arms: list[str]
                 ) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """Each row's subject position, the subjects, and each subject's arm position in
    ``arms`` (-1: a subject of no analysed arm)."""
    import pandas as pd

    subj, subjects = pd.factorize(frame.index)
    arm_row = pd.Categorical(frame[treatment].astype(object), categories=arms).codes
    arm_of = np.full(len(subjects), -1, dtype=np.int64)
    arm_of[subj] = arm_row
    return subj, subjects, arm_of


def outside_population(frame: pd.DataFrame) -> Stat:
    """The subjects with records who are not in the analysis population: reported, not
    counted."""
    return Stat("n_outside_population", float(frame.attrs.get("n_outside_population", 0)),
                stat_label="Subjects with records outside the analysis population "
                           "(not counted)")
