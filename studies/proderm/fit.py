"""Numeric building blocks of the calibrated generators: samples with exact summaries.

A published table gives, per arm, a mean, an SD, a median, a minimum and a maximum,
and sometimes counts in bins. :func:`shaped_sample` builds a sorted sample on a value
grid (integers, tenths) that reproduces all of them; :func:`fit_moments` is the
engine underneath: a greedy search that moves single values (or pairs of values in
opposite directions, which changes the SD but not the mean) one grid step at a time,
inside per-element bounds, until mean and SD are as close to their targets as the
grid allows. Bounds encode everything else (the median element is frozen, elements
below it may not pass it, elements stay in their bin), so the search cannot break
what was set exactly.

Example:
    >>> import numpy as np
    >>> x = shaped_sample(np.random.default_rng(1), 20, mean=10, sd=3, median=10,
    ...                   lo=4, hi=17, step=1)
    >>> round(float(x.mean()), 1), round(float(x.std(ddof=1)), 1), float(np.median(x))
    (10.0, 3.0, 10.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Student t 97.5 % quantiles are needed at generation time without importing scipy
# (import cost); the test suite checks them against scipy.stats.t.ppf.


@dataclass(frozen=True)
class Bin:
    """``count`` sorted values inside ``[lo, hi]`` (both ends inclusive, on the grid)."""

    count: int
    lo: float
    hi: float


@dataclass(frozen=True)
class Level:
    """A second SD target for :func:`fit_moments`: the fitted values are changes, and the
    levels ``offset + value`` pooled with the fixed ``others`` should have SD ``sd``."""

    offset: np.ndarray
    others: np.ndarray
    sd: float


def fit_moments(
    values: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    step: float,
    mean: float,
    sd: float,
    frozen: np.ndarray | None = None,
    max_iter: int = 20000,
    level: Level | None = None,
) -> np.ndarray:
    """Move ``values`` on the ``step`` grid, within bounds, towards the target mean and SD.

    Works in integer units of ``step`` so that the result is exactly on the grid.
    Each iteration takes the best single move (one element +-1 unit) or pair move
    (one element +1, another -1); it stops when no move lowers the loss
    ``(mean error / step)^2 * n + (sd error / step)^2``, plus ``(level sd error / step)^2``
    when a :class:`Level` target is given (changes whose levels must also have an SD).
    Deterministic: ties go to the lowest index.
    """
    k = np.rint(np.asarray(values, dtype=float) / step).astype(np.int64)
    lo = np.ceil(np.asarray(lower, dtype=float) / step - 1e-9).astype(np.int64)
    hi = np.floor(np.asarray(upper, dtype=float) / step + 1e-9).astype(np.int64)
    k = np.clip(k, lo, hi)
    n = len(k)
    if n < 2:
        return k * step
    free = np.ones(n, bool) if frozen is None else ~np.asarray(frozen, bool)
    tm, ts = mean / step, sd / step
    # The level target, in grid units: levels o + k pooled with fixed values e.
    o = np.zeros(n) if level is None else np.rint(np.asarray(level.offset, float) / step)
    e = np.zeros(0) if level is None else np.rint(np.asarray(level.others, float) / step)
    n_lev, c_lev = n + len(e), float(o.sum() + e.sum())
    tl = None if level is None else level.sd / step

    def loss(s1, s2, t2) -> np.ndarray:
        m = np.asarray(s1, float) / n
        var = np.maximum((np.asarray(s2, float) - np.asarray(s1, float) ** 2 / n) / (n - 1), 0)
        out = (m - tm) ** 2 * n + (np.sqrt(var) - ts) ** 2
        if tl is not None:
            t1 = c_lev + np.asarray(s1, float)
            v_lev = np.maximum((np.asarray(t2, float) - t1**2 / n_lev) / (n_lev - 1), 0)
            out = out + (np.sqrt(v_lev) - tl) ** 2
        return out

    s1, s2 = float(k.sum()), float((k.astype(float) ** 2).sum())
    t2 = float(((o + k) ** 2).sum() + (e**2).sum())
    cur = float(loss(s1, s2, t2))
    for _ in range(max_iter):
        kf = k.astype(float)
        lv = o + kf  # the levels
        up = free & (k < hi)
        dn = free & (k > lo)
        l_up = np.where(up, loss(s1 + 1, s2 + 2 * kf + 1, t2 + 2 * lv + 1), np.inf)
        l_dn = np.where(dn, loss(s1 - 1, s2 - 2 * kf + 1, t2 - 2 * lv + 1), np.inf)
        # pair: i up, j down: s1 unchanged, s2 += 2(k_i - k_j) + 2 (the n x n level sums
        # only when there is a level target)
        t2_pair = t2 + 2 * (lv[:, None] - lv[None, :]) + 2 if tl is not None else t2
        pair = np.where(up[:, None] & dn[None, :],
                        loss(s1, s2 + 2 * (kf[:, None] - kf[None, :]) + 2, t2_pair), np.inf)
        np.fill_diagonal(pair, np.inf)
        best = [float(l_up.min()), float(l_dn.min()), float(pair.min())]
        which = int(np.argmin(best))
        if best[which] >= cur - 1e-12:
            break
        if which == 0:
            i = int(np.argmin(l_up))
            s1, s2, t2 = s1 + 1, s2 + 2 * kf[i] + 1, t2 + 2 * lv[i] + 1
            k[i] += 1
        elif which == 1:
            i = int(np.argmin(l_dn))
            s1, s2, t2 = s1 - 1, s2 - 2 * kf[i] + 1, t2 - 2 * lv[i] + 1
            k[i] -= 1
        else:
            i, j = divmod(int(np.argmin(pair)), n)
            s2 = s2 + 2 * (kf[i] - kf[j]) + 2
            t2 = t2 + 2 * (lv[i] - lv[j]) + 2
            k[i] += 1
            k[j] -= 1
        cur = best[which]
    return np.round(k * step, 10)


def _power_quantiles(u: np.ndarray, lo: float, med: float, hi: float,
                     a: float, b: float) -> np.ndarray:
    """A two-piece power map of ranks u in (0, 1) onto [lo, hi] through the median."""
    below = med - (med - lo) * np.clip((0.5 - u) / 0.5, 0, 1) ** a
    above = med + (hi - med) * np.clip((u - 0.5) / 0.5, 0, 1) ** b
    return np.where(u < 0.5, below, above)


def shaped_sample(
    rng: np.random.Generator,
    n: int,
    mean: float,
    sd: float,
    median: float,
    lo: float,
    hi: float,
    step: float,
    bins: list[Bin] | None = None,
    medians: tuple[float, float] | None = None,
) -> np.ndarray:
    """A sorted sample of ``n`` grid values with the given mean, SD, median, min and max.

    ``bins`` (optional, in increasing order, counts summing to ``n``) fix how many
    values fall in each interval. For even ``n`` the two middle values are ``medians``
    when given (else both equal ``median``). The shape comes from a two-piece power map
    of jittered ranks (seeded), chosen on a small grid to be close before the exact fit.
    """
    u = (np.arange(n) + 0.5) / n
    u = np.sort(np.clip(0.6 * u + 0.4 * np.sort(rng.uniform(size=n)), 1e-6, 1 - 1e-6))
    best, best_err = None, np.inf
    for a in (0.5, 0.7, 1.0, 1.4, 2.0, 3.0):
        for b in (0.5, 0.7, 1.0, 1.4, 2.0, 3.0, 4.0):
            x = _power_quantiles(u, lo, median, hi, a, b)
            err = (x.mean() - mean) ** 2 + (x.std(ddof=1) - sd) ** 2
            if err < best_err:
                best, best_err = x, err
    x = np.sort(np.asarray(best))
    lower = np.full(n, lo, float)
    upper = np.full(n, hi, float)
    frozen = np.zeros(n, bool)
    if bins is not None:
        pos = 0
        for bin_ in bins:
            lower[pos:pos + bin_.count] = np.maximum(lower[pos:pos + bin_.count], bin_.lo)
            upper[pos:pos + bin_.count] = np.minimum(upper[pos:pos + bin_.count], bin_.hi)
            pos += bin_.count
        if pos != n:
            raise ValueError(f"bin counts sum to {pos}, not {n}")
    # median: freeze the middle element(s), keep the others on their side
    if n % 2:
        mid = n // 2
        m_lo = m_hi = median
        x[mid] = median
        frozen[mid] = True
        upper[:mid] = np.minimum(upper[:mid], median)
        lower[mid + 1:] = np.maximum(lower[mid + 1:], median)
    else:
        m_lo, m_hi = medians if medians is not None else (median, median)
        a_, b_ = n // 2 - 1, n // 2
        x[a_], x[b_] = m_lo, m_hi
        frozen[[a_, b_]] = True
        upper[:a_] = np.minimum(upper[:a_], m_lo)
        lower[b_ + 1:] = np.maximum(lower[b_ + 1:], m_hi)
    x[0], x[-1] = lo, hi
    frozen[0] = frozen[-1] = True
    x = np.clip(x, lower, upper)
    out = fit_moments(x, lower, upper, step, mean, sd, frozen)
    return np.sort(out)


def sd_from_ci(lower: float, upper: float, n: int, t975: float) -> float:
    """The sample SD implied by a t-based 95 % CI of a mean: hw * sqrt(n) / t."""
    return (upper - lower) / 2 * np.sqrt(n) / t975


# t(0.975, df) for df = 1..10 (scipy.stats.t.ppf); beyond, the Cornish-Fisher series
_T975_SMALL = (12.706204736174694, 4.302652729749462, 3.1824463052837078, 2.7764451051977934,
               2.5705818356363146, 2.4469118511449786, 2.364624251592784, 2.306004135204166,
               2.262157162798205, 2.228138851986274)


def t975(df: int) -> float:
    """Student t 0.975 quantile for ``df`` >= 1 (table to 10, series beyond: |err| < 2e-5)."""
    if df <= 10:
        return _T975_SMALL[df - 1]
    z = 1.959963984540054
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return float(z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4)
