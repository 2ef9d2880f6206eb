"""Extramuscular global VAS, TIS, MMT-8 and MITAX trajectories.

The week-16 values come from ``figure5.py`` (TIS here, with Table 3); this module
builds the trajectories and the MITAX categories with the published improvement
percentages. The paper prints no per-arm summaries for the extramuscular
global change, TIS or MMT-8, so their arm means are plausible values, stated below.
"""

from __future__ import annotations

import numpy as np

from studies.proderm.classes import tis_classes, tis_values
from studies.proderm.published import ARMS, VISITS, published
from studies.proderm.visits import trajectory
from studies.proderm.week16 import fit_cell

# Week-16 change targets (mean, SD) where the paper gives none (assumed, plausible).
EXTGLOB16 = {"IVIg": (-1.8, 1.9), "Placebo": (-0.6, 1.6)}
MMT8_16 = {"IVIg": (7.0, 9.0), "Placebo": (2.0, 7.0)}
TIS_ARM_SHIFT = 0.6  # IVIg patients improve more on the core-set measures
TIS_A_WEIGHT = 0.1  # weight of the CDASI-A change in the TIS ordering
TIS_STEP = 2.5  # TIS is a sum of core-set item points in steps of 2.5


def latent(rng: np.random.Generator, n: int, shrink: float) -> np.ndarray:
    """Normal scores with the Figure 5 correlations (Spearman -> Pearson, shrunk).

    ``shrink`` scales the off-diagonal correlations: the arm effect adds correlation
    to the pooled data, so the within-arm latent correlation must be a little weaker.
    """
    r = np.asarray(published()["spearman_week16"]["r"], float)
    pearson = 2 * np.sin(np.pi * r / 6)
    c = np.eye(5) + shrink * (pearson - np.eye(5))
    w, v = np.linalg.eigh(c)
    c = (v * np.maximum(w, 1e-6)) @ v.T
    d = np.sqrt(np.diag(c))
    c = c / d[:, None] / d[None, :]
    return rng.normal(size=(n, 5)) @ np.linalg.cholesky(c).T


def arm_changes(s: dict[str, np.ndarray], z: np.ndarray, base: np.ndarray,
                targets: dict[str, tuple[float, float]], lo: float, hi: float,
                step: float) -> np.ndarray:
    """Week-16 changes per arm with the target (mean, SD), ordered by ``z``."""
    chg = np.zeros(len(base))
    for arm in ARMS:
        idx = np.flatnonzero((s["arm"] == arm) & ~s["early_drop"])
        m, sd = targets[arm]
        chg[idx] = fit_cell(base[idx], z[idx], m, sd, lo, hi, step)
    return chg


def extglob(rng: np.random.Generator, s: dict[str, np.ndarray]) -> np.ndarray:
    """Extramuscular global VAS trajectories (0-10, one decimal) through ``extglob16``."""
    base = s["extglob"]
    v40 = np.clip(np.round(base - 2.0 - 1.2 * s["z40"], 1), 0, 10)
    return trajectory(rng, s, base, s["extglob16"], v40, 0, 10, 0.1, 0.3, 0.25)


def mmt8(rng: np.random.Generator, s: dict[str, np.ndarray]) -> np.ndarray:
    """MMT-8 trajectories (0-150, integer; higher is stronger) through ``mmt816``."""
    base = s["mmt8"]
    v40 = np.clip(np.rint(base + 9 + 6 * s["z40"]), 0, 150)
    return trajectory(rng, s, base, s["mmt816"], v40, 0, 150, 1.0, 1.5, -0.05)


def tis(rng: np.random.Generator, s: dict[str, np.ndarray]) -> np.ndarray:
    """TIS trajectories (post-baseline only; 0-100 in steps of 2.5) with Table 3 exact.

    Week-16 (analysis) TIS classes follow the published cross-table against the CDASI-A
    class; one Placebo patient of the CDASI-A analysis set (class None, not switched)
    has no week-16 TIS, which makes Table 3's N = 87 of 88. Switchers (confirmed
    deterioration) are in the lowest TIS class.
    """
    n = len(s["arm"])
    table = np.asarray(published()["table3_counts"]["counts"], dtype=np.int64)
    # within a CDASI-A class, larger CDASI-A falls go with higher TIS (Figure 5: -0.68)
    key = s["lat"][:, 0] + TIS_ARM_SHIFT * (s["arm"] == "IVIg")
    present = ~s["early_drop"]
    chg_a = (s["cdasia16"] - s["cdasia"])[present]
    key[present] -= TIS_A_WEIGHT * (chg_a - chg_a.mean()) / chg_a.std()
    switched = ~np.isnan(s["switchwk"])
    key = np.where(switched, -1e6 + key, key)
    cand = np.flatnonzero((s["arm"] == "Placebo") & (s["a_cls"] == 0) & ~switched)
    missing = int(rng.choice(cand))
    in_t3 = (s["a_cls"] >= 0)
    in_t3[missing] = False
    t_cls = np.full(n, -1, dtype=np.int64)
    t_cls[in_t3] = tis_classes(s["a_cls"][in_t3], key[in_t3], table)
    # everyone else present at week 16 (CDASI-A 0 at baseline, the missing one): by key
    other = ~s["early_drop"] & ~in_t3
    t_cls[other] = np.where(key[other] > 0.5, 1, 0)
    present = ~s["early_drop"]
    t16 = np.full(n, np.nan)
    t16[present] = tis_values(rng, t_cls[present], key[present])
    s["tis16"], s["t_cls"] = t16, t_cls
    t40 = np.clip(np.round((55 + 20 * s["z40"]) / TIS_STEP) * TIS_STEP, 0, 100)
    traj = trajectory(rng, s, np.zeros(n), np.nan_to_num(t16), t40, 0, 100, TIS_STEP, 4.0, -0.8)
    traj[:, 0] = np.nan  # TIS is defined only after baseline
    traj[missing, VISITS.index(16)] = np.nan
    s["tis_missing16"] = np.asarray(missing)  # a 0-d array: the state dict holds arrays
    return traj


def _improvers(pct: float, idx: np.ndarray, cdasia: np.ndarray) -> int:
    """Number of improvers closest to ``pct`` for both plausible denominators.

    A plan may count all patients assessed or only those with CDASI-A > 0 at baseline
    (the four without activity are MITAX D and cannot improve): the count minimises
    the larger of the two percentage errors.
    """
    n_all, n_act = len(idx), int((cdasia[idx] > 0).sum())
    errs = [max(abs(100 * k / n_all - pct), abs(100 * k / n_act - pct)) for k in range(n_act + 1)]
    return int(np.argmin(errs))


def mitax(rng: np.random.Generator, s: dict[str, np.ndarray]) -> np.ndarray:
    """MITAX cutaneous category trajectories (1 = A most active ... 5 = E).

    A patient improves (one category, rarely two) from the visit where the latent
    response first crosses a threshold; the week-16 and week-40 improvement shares per
    arm are the published percentages among subjects who can improve.
    """
    pub = published()["mitax_improved_one_category_percent"]
    n = len(s["arm"])
    base = s["mitax"]
    score = -s["lat"][:, 2] + 0.5 * rng.normal(size=n)
    score = np.where(base < 4, score, -1e9)  # D cannot improve to E (E = never active)
    imp16 = np.zeros(n, bool)
    imp40 = np.zeros(n, bool)
    for arm in ARMS:
        at16 = np.flatnonzero((s["arm"] == arm) & ~s["early_drop"])
        k = _improvers(pub["week16"][arm], at16, s["cdasia"])
        imp16[at16[np.argsort(-score[at16], kind="stable")[:k]]] = True
        at40 = np.flatnonzero((s["arm"] == arm) & s["complfl"])
        k = _improvers(pub["week40"][arm], at40, s["cdasia"])
        key = score[at40] + 0.6 * s["z40"][at40] + 2.0 * imp16[at40]
        imp40[at40[np.argsort(-key, kind="stable")[:k]]] = True
    start16 = np.where(score > 1.0, 4, np.where(score > 0.3, 8, 12))
    traj = np.full((n, len(VISITS)), np.nan)
    for j, w in enumerate(VISITS):
        att = s["lastwk"] >= w
        if w <= 16:
            better = imp16 & (w >= start16) & (w > 0)
        else:
            better = np.where(w >= 28, imp40, imp16 | (imp40 & (w >= 24)))
        traj[att, j] = np.minimum(base[att] + better[att], 4)
    return traj
