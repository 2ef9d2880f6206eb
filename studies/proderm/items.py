"""CDASI item scores consistent with the CDASI-A/D totals (Table 2 at baseline).

Baseline, in three blocks per subject, each with exact column counts (Table 2):
1. erythema at the 15 areas: the subject's highest erythema ``h`` (published
   distribution, higher for higher CDASI-A), the erythema points ``E`` and the number
   of areas with erythema; which areas comes from a Ryser greedy fill (each column
   takes the rows with the largest remaining demand), which always succeeds when a
   0/1 matrix with these margins exists;
2. the other activity items carry the remaining ``CDASI-A - E`` points;
3. damage items carry CDASI-D (poikiloderma/calcinosis 0/1, hand damage 0-2).
After baseline each visit starts from the previous visit's items and moves single
points (removing from present items, adding preferably where the skin is already
involved) until the item sums equal that visit's totals.
"""

from __future__ import annotations

import numpy as np

from studies.proderm.instrument import (
    CAPS,
    DAMAGE,
    ERYTHEMA,
    GOTHDM,
    GOTHER,
    ITEMS,
    OTHER_ACTIVITY,
    baseline_presence_targets,
)
from studies.proderm.published import published

MAX_ATTEMPTS = 30
ERYTHEMA_SHARE = 0.69  # share of activity points carried by the 15 erythema items


def ryser_fill(rows: np.ndarray, cols: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 0/1 matrix with row sums ``rows`` and column sums ``cols`` (random tie-breaks)."""
    need = rows.astype(np.int64).copy()
    out = np.zeros((len(rows), len(cols)), dtype=np.int64)
    for j in rng.permutation(len(cols)):
        c = int(cols[j])
        key = need + 0.5 * rng.uniform(size=len(need))
        take = np.argsort(-key, kind="stable")[:c]
        if c and need[take].min() <= 0:
            raise ValueError("row/column sums are not realisable")
        out[take, j] = 1
        need[take] -= 1
    if need.any():
        raise ValueError("row/column sums are not realisable")
    return out


def _balance(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: int,
             rng: np.random.Generator) -> np.ndarray:
    """Move entries of ``x`` by +-1 within [lo, hi] until they sum to ``total``."""
    x = np.clip(x, lo, hi).astype(np.int64)
    while x.sum() != total:
        d = 1 if x.sum() < total else -1
        ok = np.flatnonzero(x < hi) if d > 0 else np.flatnonzero(x > lo)
        if len(ok) == 0:
            raise ValueError("cannot balance item counts")
        x[rng.choice(ok)] += d
    return x


def _spread(vals: np.ndarray, caps: np.ndarray, extra: int, rng: np.random.Generator) -> int:
    """Add ``extra`` points to ``vals`` (in place) within ``caps``; returns points left."""
    while extra > 0:
        room = np.flatnonzero(vals < caps)
        if len(room) == 0:
            return extra
        vals[rng.choice(room)] += 1
        extra -= 1
    return 0


def baseline_items(rng: np.random.Generator, a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``subjects x items`` integer scores at baseline with sums ``a`` and ``d``."""
    pub = published()["baseline_distribution"]["highest_erythema_score_percent"]
    n = len(a)
    target = np.array(baseline_presence_targets(n, published()["table2"]))
    x = np.zeros((n, len(ITEMS)), dtype=np.int64)
    a = a.astype(np.int64)
    # highest erythema: 0 exactly for CDASI-A = 0, then 1/2/3 by CDASI-A rank
    counts = [int(round(pub[k] * n / 100)) for k in ("0", "1", "2", "3")]
    order = np.argsort(a + rng.normal(0, 2, n) + 1e3 * (a > 0), kind="stable")
    h = np.empty(n, dtype=np.int64)
    h[order] = np.repeat(np.arange(4), counts)
    if np.any((h == 0) != (a == 0)) or np.any(h > a):
        raise ValueError("highest erythema incompatible with CDASI-A (0 count or h > total)")
    # 1. erythema points and areas
    e_pts = np.clip(np.rint(ERYTHEMA_SHARE * a), h, np.minimum(a, 15 * h))
    e_lo = np.where(a > 0, np.maximum(1, -(-e_pts // np.maximum(h, 1))), 0)
    e_hi = np.where(a > 0, np.minimum(15, e_pts - h + 1), 0)
    e_n = _balance(np.rint(e_pts / np.maximum((h + 2) / 2, 1)), e_lo, e_hi,
                   int(target[list(ERYTHEMA)].sum()), rng)
    pres = ryser_fill(e_n, target[list(ERYTHEMA)], rng)
    for i in np.flatnonzero(a > 0):
        cols = np.flatnonzero(pres[i])
        vals = np.ones(len(cols), dtype=np.int64)
        vals[rng.integers(len(cols))] = h[i]
        _spread(vals, np.full(len(cols), h[i]), int(e_pts[i] - vals.sum()), rng)
        x[i, np.array(ERYTHEMA)[cols]] = vals
    # 2. other activity items carry the rest
    rest = a - x[:, list(ERYTHEMA)].sum(axis=1)
    oth = np.array(OTHER_ACTIVITY)
    # enough items that the rest fits even if all are 0/1 items (erythema slack helps)
    ery_slack = e_n * h - e_pts
    o_lo = np.maximum(rest - ery_slack, 0)
    o_n = _balance(np.rint(rest / 1.35), o_lo, rest, int(target[oth].sum()), rng)
    pres = ryser_fill(o_n, target[oth], rng)
    papules = int(round(published()["table2"]["gottron_papules_on_hands"] * n / 100))
    g = int(np.flatnonzero(oth == GOTHER)[0])
    has_g = np.flatnonzero(pres[:, g] == 1)
    slack = rest[has_g] - o_n[has_g]
    pap = has_g[np.argsort(-(slack + rng.uniform(size=len(has_g))), kind="stable")[:papules]]
    for i in pap[rest[pap] - o_n[pap] < 1]:
        # a papule needs a second point: take it from an erythema item above 1 that
        # is not the only one at the subject's highest erythema
        ery = x[i, list(ERYTHEMA)]
        ok = np.flatnonzero((ery > 1) & ((ery < h[i]) | ((ery == h[i]).sum() > 1)))
        if len(ok) == 0:
            raise ValueError("not enough activity points for the Gottron's papules count")
        x[i, ERYTHEMA[int(rng.choice(ok))]] -= 1
        rest[i] += 1
    for i in np.flatnonzero(rest > 0):
        cols = np.flatnonzero(pres[i])
        vals = np.ones(len(cols), dtype=np.int64)
        caps = np.array([CAPS[oth[c]] for c in cols])
        is_g = oth[cols] == GOTHER
        if i in pap:
            vals[is_g] = 2
        else:
            caps[is_g] = 1  # erythema without papules
        left = _spread(vals, caps, int(rest[i] - vals.sum()), rng)
        x[i, oth[cols]] = vals
        if left:  # no room left in the present items: raise erythema within h
            ery = x[i, list(ERYTHEMA)]
            left = _spread(ery, np.where(ery > 0, h[i], 0), left, rng)
            x[i, list(ERYTHEMA)] = ery
        if left:
            raise ValueError(f"subject {i}: activity items cannot carry CDASI-A {a[i]}")
    _damage(rng, x, d.astype(np.int64), target)
    return x


def _damage(rng: np.random.Generator, x: np.ndarray, d: np.ndarray,
            target: np.ndarray) -> None:
    """Damage items: hand damage first (its points are what the 0/1 items leave)."""
    area_cols = np.array([c for c in DAMAGE if c != GOTHDM])
    hd_present = int(target[GOTHDM])
    hd_points = int(d.sum() - target[area_cols].sum())
    twos = hd_points - hd_present
    if not 0 <= twos <= hd_present:
        raise ValueError("hand-damage points out of range")
    cand = np.flatnonzero(d >= 1)
    w = d[cand] / d[cand].sum()
    hd = np.zeros(len(d), dtype=np.int64)
    chosen = rng.choice(cand, size=hd_present, replace=False, p=w)
    hd[chosen] = 1
    two_c = chosen[d[chosen] >= 2]
    hd[rng.choice(two_c, size=twos, replace=False)] = 2
    pres = ryser_fill(d - hd, target[area_cols], rng)
    x[:, area_cols] = pres
    x[:, GOTHDM] = hd


def walk(rng: np.random.Generator, prev: np.ndarray, total: int, cols: np.ndarray) -> np.ndarray:
    """Items of one block moved point by point from ``prev`` until they sum to ``total``."""
    v = prev[cols].copy()
    caps = np.array([CAPS[c] for c in cols])
    while v.sum() > total:
        present = np.flatnonzero(v > 0)
        v[rng.choice(present, p=v[present] / v[present].sum())] -= 1
    while v.sum() < total:
        room = np.flatnonzero(v < caps)
        w = np.where(v[room] > 0, 4.0, 1.0)
        v[rng.choice(room, p=w / w.sum())] += 1
    out = prev.copy()
    out[cols] = v
    return out


def item_matrix(rng: np.random.Generator, a_traj: np.ndarray, d_traj: np.ndarray) -> np.ndarray:
    """``subjects x visits x items`` scores (-1 where the block was not assessed).

    Activity items are missing where CDASI-A is missing (the one week-8 gap), damage
    items where CDASI-D is; a visit after a gap starts from the last assessed items.
    """
    n, v = a_traj.shape
    out = np.full((n, v, len(ITEMS)), -1, dtype=np.int64)
    # a random fill can paint itself into a corner (about 1 in 10): draw again, the
    # stream stays deterministic for a given seed
    for _ in range(MAX_ATTEMPTS):
        try:
            base = baseline_items(rng, a_traj[:, 0], d_traj[:, 0])
            break
        except ValueError:
            continue
    else:
        raise ValueError(f"no CDASI item fill found in {MAX_ATTEMPTS} attempts")
    act = np.array(ERYTHEMA + OTHER_ACTIVITY)
    dam = np.array(DAMAGE)
    for i in range(n):
        prev = base[i]
        out[i, 0] = prev
        for j in range(1, v):
            if np.isnan(a_traj[i, j]) and np.isnan(d_traj[i, j]):
                continue
            cur = prev
            if not np.isnan(a_traj[i, j]):
                cur = walk(rng, cur, int(a_traj[i, j]), act)
                out[i, j, act] = cur[act]
            if not np.isnan(d_traj[i, j]):
                cur = walk(rng, cur, int(d_traj[i, j]), dam)
                out[i, j, dam] = cur[dam]
            prev = cur
    return out
