"""Missing-data imputation of a parameter's values over the scheduled visits, for the
estimand's ``missing`` rule (see :mod:`sap_engine.data.parameters` for the conventions):
``locf`` carries the last non-missing value (baseline included) forward, ``bocf`` imputes
the baseline, ``wocf`` the worst value observed at or before the missing visit (baseline
included; ``worst highest`` or ``worst lowest``). Gaps are first made explicit: every unit
gets every scheduled visit. A text parameter's categories are carried as text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sap_engine.data.scope import unit_index
from sap_engine.model import Handling


def impute_missing(long: pd.Series, base: pd.Series, handling: Handling,
                   weeks: tuple[float, ...], unit_levels: int | list[int]) -> pd.Series:
    """``long`` (indexed by the unit's levels then the visit) with its gaps imputed."""
    units = long.index.droplevel(-1).unique()
    grid_weeks = sorted(set(weeks) or set(long.index.levels[-1]))
    arrays = [np.repeat(units.get_level_values(i).to_numpy(), len(grid_weeks))
              for i in range(units.nlevels)]
    arrays.append(np.tile(np.asarray(grid_weeks, dtype=float), len(units)))
    grid = pd.MultiIndex.from_arrays(arrays, names=long.index.names)
    long = long.reindex(long.index.union(grid))
    if handling.missing == "locf":
        return long.groupby(level=unit_levels).ffill()
    if handling.missing == "wocf":
        return _worst_observed_carried_forward(long, base, unit_levels,
                                               handling.worst or "highest")
    filled = base.reindex(unit_index(long.index)).to_numpy(
        dtype=object if long.dtype == object else float)
    return long.fillna(pd.Series(filled, index=long.index))


def _worst_observed_carried_forward(long: pd.Series, base: pd.Series,
                                    unit_levels: int | list[int], worst: str) -> pd.Series:
    """WOCF: a missing visit gets the worst value observed at or before it (baseline
    included), as LOCF with the running worst instead of the last value."""
    baseline = base.reindex(unit_index(long.index)).to_numpy(dtype=float)
    observed = long.to_numpy(dtype=float)
    # The baseline takes part in the running worst (np.fmax/fmin ignore a missing side);
    # cummax/cummin skip the gaps, and the long index is sorted by visit within a unit.
    seen = pd.Series(np.fmax(observed, baseline) if worst == "highest"
                     else np.fmin(observed, baseline), index=long.index)
    grouped = seen.groupby(level=unit_levels)
    running = grouped.cummax() if worst == "highest" else grouped.cummin()
    # A gap with no baseline either is NaN in ``seen``: it takes the worst before it.
    running = running.groupby(level=unit_levels).ffill()
    filled = np.where(np.isnan(observed), running.to_numpy(dtype=float), observed)
    return pd.Series(filled, index=long.index, name=long.name)
