"""Input checks shared by the methods: an infinite value is never data.

A missing value (NaN, None) is dropped by a method and the rows used are counted in its
``n``. An infinite value (``inf``, ``-inf``, from the data or from an expression such as
``x / 0``) is different: dropping it with the missing values would silently shrink the
analysis, and keeping it gives an infinite mean or a correlation of exactly 1 with p = 0.
Every method refuses it (SAP471), naming the variable and the first subject that has it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sap_engine.errors import MethodError


def refuse_infinite(values: np.ndarray, names: Sequence[str], index=None,
                    role: str = "variable") -> None:
    """Raise SAP471 if ``values`` (one column, or one column per name) holds +-inf."""
    block = np.asarray(values, dtype=float)
    if block.ndim == 1:
        block = block[:, None]
    bad = np.isinf(block)
    if not bad.any():
        return
    row, col = (int(i) for i in np.argwhere(bad)[0])
    who = f"subject {index[row]}" if index is not None and len(index) > row else \
        f"row {row + 1}"
    raise MethodError("SAP471", f"{role} '{names[col]}' has the infinite value "
                                f"{block[row, col]:g} ({who}; {int(bad[:, col].sum())} in "
                                "all): an infinite value is not a missing value and cannot be "
                                "analysed; fix the data or the expression that produced it")


def refuse_infinite_columns(frame, columns: Sequence[str], role: str = "variable") -> None:
    """:func:`refuse_infinite` over the numeric ones of ``frame[columns]``."""
    import pandas as pd

    for name in dict.fromkeys(columns):
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            refuse_infinite(series.to_numpy(dtype=float, na_value=np.nan), [name],
                            frame.index, role)
