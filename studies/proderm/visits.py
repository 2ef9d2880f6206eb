"""Attendance and longitudinal trajectories (weeks 0-40) of the synthetic ProDERM study.

Each score is a matrix ``subjects x 11 visits`` (NaN where the visit was not attended).
A trajectory is pinned at three points that carry published figures: the baseline,
the week-16 analysis value (for a switcher: the value at the switch visit) and the
week-40 value of completers; the visits in between follow a smooth approach curve plus
rounding noise. After a switch a patient improves on IVIg, and every patient on the
open-label Extension moves towards the week-40 value.
"""

from __future__ import annotations

import numpy as np

from studies.proderm.fit import Level, fit_moments, sd_from_ci, t975
from studies.proderm.published import ARMS, VISITS, published

# share of the week-16 change reached at weeks 4, 8, 12 (infusions every 4 weeks)
FIRST = {4: 0.45, 8: 0.75, 12: 0.92}
# share of the week-16 -> week-40 change reached during the Extension
EXTENSION = {20: 0.35, 24: 0.6, 28: 0.8, 32: 0.9, 36: 0.96, 40: 1.0}
COMPLETERS = {"IVIg": 34, "Placebo": 35}
NONRESPONSE_BASE_WEIGHT = {"IVIg": 0.5, "Placebo": 2.0}


def attendance(rng: np.random.Generator, s: dict[str, np.ndarray]) -> None:
    """LASTWK, EXTFL and COMPLFL: 4 first-period drop-outs, 69 completers of 91 entered."""
    n = len(s["arm"])
    last = np.full(n, 40, dtype=np.int64)
    early = np.flatnonzero(s["early_drop"])
    last[early] = rng.choice((4, 8, 12), size=len(early))
    pub = published()["week40"]
    for arm in ARMS:
        entered = np.flatnonzero((s["arm"] == arm) & ~s["early_drop"])
        k = len(entered) - COMPLETERS[arm]
        # discontinuation is a little more likely without a skin response
        w = np.exp(-0.5 * s["resp"][entered])
        drop = rng.choice(entered, size=k, replace=False, p=w / w.sum())
        # the published week-40 mean CDASI-A and mean change imply the completers'
        # baseline mean: swap drop-outs and completers until it is met
        level = pub["cdasi_activity_mean"][arm]["mean"]
        change = pub["cdasi_activity_change"][arm]["mean"]
        drop = _match_completers(s["cdasia"], entered, drop, level, change)
        last[drop] = rng.choice((16, 20, 24, 28, 32, 36), size=k)
    s["lastwk"] = last
    s["extfl"] = ~s["early_drop"]
    s["complfl"] = last == 40


def _match_completers(base: np.ndarray, entered: np.ndarray, drop: np.ndarray, level: float,
                      change: float) -> np.ndarray:
    """Best single swaps (drop-out <-> completer) towards the implied baseline sum."""
    drop = np.array(sorted(drop))
    comp = np.array(sorted(set(entered.tolist()) - set(drop.tolist())))

    def gap(c: np.ndarray) -> float:
        return abs(base[c].sum() - (level * len(c) - change * int((base[c] > 0).sum())))

    cur = gap(comp)
    while cur > 1.0:
        best = (cur, -1, -1)
        for i, d in enumerate(drop):
            for j in range(len(comp)):
                trial = comp.copy()
                trial[j] = d
                g = gap(trial)
                if g < best[0] - 1e-9:
                    best = (g, i, j)
        if best[1] < 0:
            break
        cur, i, j = best
        drop[i], comp[j] = comp[j], drop[i]
    return drop


def week40_targets(rng: np.random.Generator, s: dict[str, np.ndarray]) -> None:
    """Week-40 values of CDASI-A/D and cutaneous VAS (all subjects; observed if completed).

    Completers get values with the published week-40 summaries (CDASI-A change mean/CI,
    CDASI-D and VAS means/SDs). At least 75 % of completers with CDASI-A > 0 have a
    reduction > 35 % (the paper: >= 70 % responders after week 28).
    """
    pub = published()["week40"]
    n = len(s["arm"])
    z40 = 0.6 * s["resp"] + 0.8 * rng.normal(size=n)  # Extension response, positive = better
    base_a, base_d, base_v = s["cdasia"], s["cdasid"], s["cutvas"]
    a40 = np.maximum(np.rint(base_a * (0.45 - 0.2 * z40)), 0)
    d40 = np.clip(base_d - np.rint(np.maximum(z40, 0)), 0, None)
    v40 = np.clip(np.round(base_v * 0.45 - 0.8 * z40, 1), 0, 10)
    for arm in ARMS:
        comp = (s["arm"] == arm) & s["complfl"]
        idx = np.flatnonzero(comp & (base_a > 0))
        blk = pub["cdasi_activity_change"][arm]
        ci_lo, ci_hi = blk["ci95"]
        sd = sd_from_ci(ci_lo, ci_hi, len(idx), t975(len(idx) - 1))
        b = base_a[idx]
        # non-responders lean to high baselines: the published week-40 SDs of the level
        # (10.1, 12.6) exceed what proportional improvement alone would give
        key = z40[idx] - NONRESPONSE_BASE_WEIGHT[arm] * (b - b.mean()) / b.std()
        responder = np.argsort(np.argsort(-key)) < int(np.ceil(0.78 * len(idx)))
        # integer changes: reduction > 35 % <=> change <= -(floor(0.35 b) + 1)
        cut = (35 * b.astype(np.int64)) // 100
        upper = np.where(responder, -(cut + 1), 100 - b)
        lower = np.where(responder, -b, -cut)
        init = np.clip(a40[idx] - b, lower, upper)
        # the same changes must also give the published SD of the week-40 level, over all
        # completers (those with baseline 0 keep their values)
        others = a40[np.flatnonzero(comp & (base_a == 0))]
        level = Level(b, others, pub["cdasi_activity_mean"][arm]["sd"])
        a40[idx] = b + fit_moments(init, lower, upper, 1.0, blk["mean"], sd, level=level)
        # CDASI-D level: zero damage stays zero
        idx = np.flatnonzero(comp)
        b = base_d[idx]
        blk = pub["cdasi_damage_mean"][arm]
        d40[idx] = fit_moments(np.minimum(d40[idx], b), np.zeros(len(idx)),
                               np.where(b == 0, 0, b + 1), 1.0, blk["mean"], blk["sd"], b == 0)
        blk = pub["cutaneous_vas_mean"][arm]
        v40[idx] = fit_moments(v40[idx], np.zeros(len(idx)), np.full(len(idx), 10.0), 0.1,
                               blk["mean"], blk["sd"])
    s["cdasia40"], s["cdasid40"], s["cutvas40"] = a40, d40, np.round(v40, 1)
    s["z40"] = z40


def trajectory(rng: np.random.Generator, s: dict[str, np.ndarray], base: np.ndarray,
               v16: np.ndarray, v40: np.ndarray, lo: float, hi: float, step: float,
               noise: float, switch_gain: float) -> np.ndarray:
    """A ``subjects x visits`` matrix through base, the week-16 and the week-40 values.

    ``switch_gain`` is the fraction of the switch-visit value a switcher has lost by
    week 16 on IVIg (4 weeks per infusion, so later switchers gain less).
    """
    n = len(base)
    out = np.full((n, len(VISITS)), np.nan)
    sw = s["switchwk"]
    # drop-outs before week 16 have no week-16 value: their path heads nowhere
    v16 = np.where(np.isnan(v16), base, v16)
    for i in range(n):
        last = s["lastwk"][i]
        obs16 = v16[i]
        for j, w in enumerate(VISITS):
            if w > last:
                break
            if w == 0:
                val = base[i]
            elif not np.isnan(sw[i]) and w <= 16:
                if w <= sw[i]:
                    val = base[i] + (v16[i] - base[i]) * w / sw[i]
                    val = val if w == sw[i] else val + rng.normal(0, noise)
                else:
                    val = v16[i] * (1 - switch_gain * (w - sw[i]) / 12)
                if w == 16:
                    obs16 = v16[i] * (1 - switch_gain * (16 - sw[i]) / 12)
            elif w < 16:
                val = base[i] + (v16[i] - base[i]) * FIRST[w] + rng.normal(0, noise)
            elif w == 16:
                val = v16[i]
            elif w == 40:
                val = v40[i]
            else:
                val = obs16 + (v40[i] - obs16) * EXTENSION[w] + rng.normal(0, noise)
            out[i, j] = val
    # the pinned values are already on the grid; the rest is rounded and clipped
    # (+ 0.0 turns a rounded -0.0 into 0.0)
    return np.clip(np.round(np.round(out / step) * step, 10), lo, hi) + 0.0


def damage_trajectory(rng: np.random.Generator, s: dict[str, np.ndarray]) -> np.ndarray:
    """CDASI-D: stepwise; zero damage stays zero except two transient Placebo rises to 2."""
    traj = trajectory(rng, s, s["cdasid"], s["cdasid16"], s["cdasid40"], 0, 32, 1.0, 0.0, 0.0)
    zero = np.flatnonzero((s["cdasid"] == 0) & (s["arm"] == "Placebo") & (s["lastwk"] >= 32))
    for i in rng.choice(zero, size=2, replace=False):
        j = int(rng.choice((5, 6, 7)))  # week 20, 24 or 28, back to 0 at the next visit
        traj[i, j] = 2.0
    return traj


def keep_late_response(s: dict[str, np.ndarray], traj: np.ndarray) -> None:
    """From week 32 a week-40 responder (> 35 % CDASI-A reduction) stays one.

    The paper reports >= 70 % responders after week 28 in both arms; rounding noise on
    the approach to the week-40 value must not undo that.
    """
    base = s["cdasia"]
    bound = base - ((35 * base.astype(np.int64)) // 100 + 1)  # highest responding value
    resp40 = (base > 0) & (s["cdasia40"] <= bound)
    for w in (32, 36):
        j = VISITS.index(w)
        col = traj[:, j]
        traj[:, j] = np.where(resp40 & ~np.isnan(col), np.minimum(col, bound), col)
