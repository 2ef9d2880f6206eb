"""The simulated 60-subject repeated-measures study of tests/fixtures/mmrm, built by hand
with pandas (one row per subject and scheduled visit), for the MMRM and MI tests to call
their methods directly on the rows the plan gives them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FIXTURE = Path(__file__).parent / "fixtures" / "mmrm"


def fixture_frame() -> pd.DataFrame:
    """The mmrm fixture by hand: one row per subject and scheduled visit, change from
    baseline (missing where the visit is), the baseline score and the site."""
    adsl = pd.read_csv(FIXTURE / "adsl.csv").set_index("USUBJID")
    adeff = pd.read_csv(FIXTURE / "adeff.csv")
    grid = pd.MultiIndex.from_product([adsl.index, [0, 4, 8, 12, 16]],
                                      names=["USUBJID", "AVISITN"])
    aval = adeff.set_index(["USUBJID", "AVISITN"])["AVAL"].reindex(grid)
    base = aval.xs(0, level="AVISITN")
    subjects = grid.get_level_values(0)
    return pd.DataFrame({"TRT01P": adsl.TRT01P.reindex(subjects).to_numpy(),
                         "SITE": adsl.SITE.reindex(subjects).to_numpy(),
                         "base": base.reindex(subjects).to_numpy(),
                         "chg": (aval - base.reindex(subjects).to_numpy()).to_numpy(),
                         "visit": grid.get_level_values(1).astype(float)},
                        index=pd.Index(subjects, name="USUBJID"))
