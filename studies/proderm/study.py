"""The calibrated synthetic ProDERM study: generation order and the public entry points.

``generate(seed)`` returns the three ADaM-style tables; ``write(out, seed)`` writes them
as Parquet. Everything is drawn from one ``numpy.random.Generator`` seeded with
``seed`` in a fixed order, so a seed gives bit-identical files (no dict/set-order or
hash dependence: all keys are iterated in declared order).

Order of construction (each step fixes what the next must respect):
1. subjects, demographics and baseline scores (Table 1, baseline facts; ``baseline``);
2. week-16 CDASI-A (classes, then cell means/SDs) and CDASI-D, the switches (``week16``);
3. attendance and the week-40 values (``visits``);
4. week-16 TIS with Table 3 (``secondary.tis``), then the MMT-8, extramuscular and VAS
   changes conditional on TIS and CDASI-A (Figure 5; ``figure5``);
5. trajectories over all visits, MITAX, the missing week-8 value;
6. CDASI items consistent with the totals (Table 2; ``items``);
7. screen failures and infusions (patient flow and exposure; ``exposure``).

Example:
    >>> study = generate()
    >>> study.adsl.num_rows, study.adeff.num_rows > 6000
    (126, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studies.proderm import baseline, exposure, figure5, items, secondary, visits, week16
from studies.proderm.tables import (
    STRATA,
    adcdasi_table,
    adeff_table,
    adex_table,
    adsl_table,
    write_parquet,
)

DEFAULT_SEED = 20231102
# scale of the off-diagonal latent correlations behind the TIS ordering and the CDASI-A
# change (1.0: Figure 5 as published, converted to the Pearson scale)
LATENT_SHRINK = 1.0
FILES = ("adsl.parquet", "adeff.parquet", "adcdasi.parquet", "adex.parquet")


@dataclass(frozen=True)
class Study:
    """The generated datasets (pyarrow Tables) and the seed they came from."""

    seed: int
    adsl: Any
    adeff: Any
    adcdasi: Any
    adex: Any

    def tables(self) -> dict[str, Any]:
        """File name -> table, in output order."""
        return dict(zip(FILES, (self.adsl, self.adeff, self.adcdasi, self.adex), strict=True))


def simulate(seed: int = DEFAULT_SEED) -> tuple:
    """Subject arrays, per-parameter ``subjects x visits`` matrices, CDASI items, the screen
    failures and the infusions."""
    rng = np.random.default_rng(seed)
    s = baseline.subjects(rng)
    baseline.body_size(rng, s)
    baseline.baseline_scores(rng, s)
    n = len(s["arm"])
    # randomisation stratum: CDASI-A at screening (<= 14 mild), close to baseline
    screening = s["cdasia"] + np.rint(rng.normal(0, 2.5, n))
    s["stratar"] = np.where(screening <= 14, STRATA[0], STRATA[1]).astype(object)
    s["lat"] = secondary.latent(rng, n, LATENT_SHRINK)
    s["resp"] = -s["lat"][:, 2]
    week16.week16_values(rng, s)
    visits.attendance(rng, s)
    visits.week40_targets(rng, s)
    tis = secondary.tis(rng, s)
    figure5.week16_block(rng, s)
    traj = {
        "CDASIA": visits.trajectory(rng, s, s["cdasia"], s["cdasia16"], s["cdasia40"],
                                    0, 100, 1.0, 1.5, 0.3),
        "CDASID": visits.damage_trajectory(rng, s),
        "CUTVAS": visits.trajectory(rng, s, s["cutvas"], s["cutvas16"], s["cutvas40"],
                                    0, 10, 0.1, 0.35, 0.3),
        "EXTGLOB": secondary.extglob(rng, s),
        "TIS": tis,
        "MMT8": secondary.mmt8(rng, s),
        "MITAXC": secondary.mitax(rng, s),
    }
    visits.keep_late_response(s, traj["CDASIA"])
    # the one missing week-8 CDASI-A value (an IVIg patient still in the study)
    cand = np.flatnonzero((s["arm"] == "IVIg") & (s["lastwk"] >= 16) & (s["cdasia"] > 0))
    traj["CDASIA"][int(rng.choice(cand)), 2] = np.nan
    item_scores = items.item_matrix(rng, traj["CDASIA"], traj["CDASID"])
    # Drawn last, so that the efficacy data above do not depend on them.
    fails = exposure.screen_failures(rng, s)
    return s, traj, item_scores, fails, exposure.infusions(rng, s)


def generate(seed: int = DEFAULT_SEED) -> Study:
    """Generate the study for ``seed`` (default :data:`DEFAULT_SEED`)."""
    s, traj, item_scores, fails, infusions = simulate(seed)
    return Study(seed=seed, adsl=adsl_table(s, fails), adeff=adeff_table(s, traj),
                 adcdasi=adcdasi_table(s, item_scores), adex=adex_table(s, infusions))


def write(out: str | Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Generate and write the study's Parquet files into ``out``; returns their paths."""
    out = Path(out)
    paths = []
    for name, table in generate(seed).tables().items():
        write_parquet(table, out / name)
        paths.append(out / name)
    return paths
