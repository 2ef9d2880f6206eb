"""Kaplan-Meier estimation and weighted log-rank tests, as SAS PROC LIFETEST computes them.

- Product-limit estimate at each distinct event time, Greenwood standard error
  sigma(S) = S sqrt(sum d / (n (n - d))).
- Pointwise confidence limits on a transformed scale g (SAS CONFTYPE=): ``loglog`` (SAS default,
  g = log(-log S)), ``log`` (R survfit's default), ``linear``, ``asinsqrt``, ``logit``; the
  linear and log limits are clipped to [0, 1].
- Quantiles: q_p = min{t : S(t) < 1 - p}, the midpoint of t_j and t_j+1 when S equals 1 - p
  exactly on [t_j, t_j+1); Brookmeyer-Crowley confidence limits by inverting the g-transformed
  test |g(S(t)) - g(1 - p)| <= z |g'(S(t))| sigma(S(t)) over the event times (SAS): the lower
  limit is the first event time in that set, the upper limit the event time that follows the
  last one (missing when the set reaches the last event time).
- Rank tests of equal survival across groups, optionally stratified (summing the score vectors
  and their covariance matrices over strata): log-rank (weight 1), Wilcoxon (Gehan-Breslow,
  weight n at risk) and Tarone-Ware (weight sqrt(n)); the hypergeometric covariance;
  chi-square U' V^- U on rank(V) df (SAS STRATA / TEST=, GROUP=).

>>> km = kaplan_meier(np.array([1.0, 2, 2, 3, 4]), np.array([1, 1, 0, 1, 0]))
>>> km.times.tolist(), km.survival.round(4).tolist()
([1.0, 2.0, 3.0], [0.8, 0.6, 0.3])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError

CONFTYPES = ("loglog", "log", "linear", "asinsqrt", "logit")
RANK_TESTS = ("logrank", "wilcoxon", "tarone")


@dataclass(frozen=True)
class KaplanMeier:
    """A product-limit curve: arrays over the distinct event times, plus the raw follow-up."""

    times: np.ndarray
    n_risk: np.ndarray
    n_events: np.ndarray
    survival: np.ndarray
    se: np.ndarray  # Greenwood SE of S(t)
    follow_up: np.ndarray  # every subject's time, sorted
    event_flags: np.ndarray  # 1/0, aligned with follow_up

    @property
    def n(self) -> int:
        return len(self.follow_up)

    @property
    def events(self) -> int:
        return int(self.event_flags.sum())


@dataclass(frozen=True)
class SurvivalAt:
    """The curve read at one time: S, its SE and limits, subjects at risk, events so far."""

    time: float
    survival: float | None
    se: float | None
    lower: float | None
    upper: float | None
    n_risk: int
    events: int


@dataclass(frozen=True)
class SurvivalQuantile:
    """The 100p-th percentile of survival time with Brookmeyer-Crowley limits (None: n.e.)."""

    p: float
    estimate: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class RankTest:
    """A k-sample rank test: chi-square on df, and the per-group observed/expected events."""

    test: str
    chisq: float
    df: int
    p_value: float
    groups: tuple[str, ...]
    observed: tuple[float, ...]
    expected: tuple[float, ...]


def _z(level: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(0.5 + level / 2))


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> KaplanMeier:
    """Product-limit estimate and Greenwood SE from follow-up times and 1/0 event flags."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=int)
    if not len(time):
        raise MethodError("SAP477", "no subjects: the survival curve cannot be estimated")
    order = np.argsort(time, kind="mergesort")
    time, event = time[order], event[order]
    event_times, n_events = np.unique(time[event == 1], return_counts=True)
    # At risk at t: follow-up >= t (times are sorted).
    n_risk = len(time) - np.searchsorted(time, event_times, side="left")
    survival = np.cumprod(1.0 - n_events / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = n_events / (n_risk * (n_risk - n_events))
        greenwood = np.cumsum(terms)
        # Once S reaches 0 (everyone at risk died) the SE is 0, as SAS prints it.
        se = np.where(survival > 0, survival * np.sqrt(greenwood), 0.0)
    return KaplanMeier(event_times, n_risk.astype(int), n_events, survival, se, time, event)


def _check_conftype(conftype: str) -> None:
    if conftype not in CONFTYPES:
        raise MethodError("SAP496", f"unknown conftype '{conftype}' (one of "
                                    f"{', '.join(CONFTYPES)})")


def _transform(conftype: str):
    """(g, |g'|) of a CONFTYPE, both vectorised; g' is used in absolute value."""
    _check_conftype(conftype)
    if conftype == "loglog":
        return (lambda s: np.log(-np.log(s)), lambda s: 1.0 / np.abs(s * np.log(s)))
    if conftype == "log":
        return (np.log, lambda s: 1.0 / s)
    if conftype == "linear":
        return (lambda s: s, lambda s: np.ones_like(s))
    if conftype == "asinsqrt":
        return (lambda s: np.arcsin(np.sqrt(s)), lambda s: 0.5 / np.sqrt(s * (1.0 - s)))
    return (lambda s: np.log(s / (1.0 - s)), lambda s: 1.0 / (s * (1.0 - s)))  # logit


def confidence_limits(survival: np.ndarray, se: np.ndarray, conftype: str = "loglog",
                      level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise limits of S(t) (SAS CONFTYPE=); NaN where the transform is undefined.

    S = 1 (no event yet) gives [1, 1]; S = 0 gives [0, 0] for ``linear`` and NaN otherwise.
    """
    _check_conftype(conftype)
    s = np.asarray(survival, dtype=float)
    sd = np.asarray(se, dtype=float)
    z = _z(level)
    inner = (s > 0) & (s < 1)
    si = np.where(inner, s, 0.5)  # a neutral value off the interior keeps numpy quiet
    if conftype == "linear":
        lower, upper = s - z * sd, s + z * sd
    elif conftype == "log":
        lower, upper = s * np.exp(-z * sd / si), s * np.exp(z * sd / si)
    elif conftype == "loglog":
        k = np.exp(z * sd / (si * np.abs(np.log(si))))
        lower, upper = si ** k, si ** (1.0 / k)
    elif conftype == "asinsqrt":
        half = 0.5 * z * sd / np.sqrt(si * (1.0 - si))
        centre = np.arcsin(np.sqrt(si))
        lower = np.sin(np.maximum(0.0, centre - half)) ** 2
        upper = np.sin(np.minimum(math.pi / 2, centre + half)) ** 2
    else:  # logit
        w = z * sd / (si * (1.0 - si))
        lower, upper = si / (si + (1.0 - si) * np.exp(w)), si / (si + (1.0 - si) * np.exp(-w))
    lower, upper = np.clip(lower, 0.0, 1.0), np.clip(upper, 0.0, 1.0)
    if conftype != "linear":
        lower = np.where(inner | (s == 1), lower, np.nan)
        upper = np.where(inner | (s == 1), upper, np.nan)
    lower = np.where(s == 1, 1.0, lower)
    upper = np.where(s == 1, 1.0, upper)
    return lower, upper


def survival_at(km: KaplanMeier, t: float, conftype: str = "loglog",
                level: float = 0.95) -> SurvivalAt:
    """S(t) of the step function (right-continuous); None beyond the last follow-up time."""
    at_risk = int(km.n - np.searchsorted(km.follow_up, t, side="left"))
    events = int(km.event_flags[km.follow_up <= t].sum())
    k = int(np.searchsorted(km.times, t, side="right"))  # event times <= t
    s, se = (1.0, 0.0) if k == 0 else (float(km.survival[k - 1]), float(km.se[k - 1]))
    if t > km.follow_up[-1] and s > 0:  # the curve is not estimated past the last follow-up
        return SurvivalAt(float(t), None, None, None, None, at_risk, events)
    lo, up = confidence_limits(np.array([s]), np.array([se]), conftype, level)
    return SurvivalAt(float(t), s, se, _num(lo[0]), _num(up[0]), at_risk, events)


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def quantile(km: KaplanMeier, p: float, conftype: str = "loglog",
             level: float = 0.95) -> SurvivalQuantile:
    """The 100p-th percentile of survival time with Brookmeyer-Crowley limits (SAS)."""
    target = 1.0 - p
    s, times = km.survival, km.times
    tol = 1e-12
    estimate = None
    below = np.flatnonzero(s < target - tol)
    if len(below):
        j = int(below[0])
        estimate = float(times[j])
        flat = np.flatnonzero(np.abs(s - target) <= tol)
        if len(flat) and flat[0] < j:  # S == 1 - p exactly on [t_f, t_j): midpoint (SAS, R)
            estimate = (float(times[flat[0]]) + float(times[j])) / 2.0
    g, gprime = _transform(conftype)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = (g(s) - g(np.array(target))) / (gprime(s) * km.se)
    inside = np.flatnonzero(np.abs(np.nan_to_num(statistic, nan=np.inf)) <= _z(level))
    if not len(inside):
        return SurvivalQuantile(p, estimate, None, None)
    lower = float(times[inside[0]])
    last = int(inside[-1])
    upper = float(times[last + 1]) if last + 1 < len(times) else None
    return SurvivalQuantile(p, estimate, lower, upper)


def rank_test(time: np.ndarray, event: np.ndarray, group: np.ndarray,
              strata: np.ndarray | None = None, test: str = "logrank") -> RankTest:
    """k-sample (optionally stratified) weighted log-rank test of equal survival."""
    if test not in RANK_TESTS:
        raise MethodError("SAP497", f"unknown test '{test}' (one of {', '.join(RANK_TESTS)})")
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=int)
    group = np.asarray(group).astype(str)
    strata = np.zeros(len(time), dtype=int) if strata is None else np.asarray(strata)
    labels = tuple(dict.fromkeys(group.tolist()))
    if len(labels) < 2:
        raise MethodError("SAP493", "a test of equal survival needs at least two groups, "
                                    f"found {len(labels)}")
    k = len(labels)
    u = np.zeros(k)
    v = np.zeros((k, k))
    observed, expected = np.zeros(k), np.zeros(k)
    for stratum in dict.fromkeys(strata.tolist()):
        rows = strata == stratum
        t, d, g = time[rows], event[rows], group[rows]
        member = np.array([g == lab for lab in labels], dtype=float)  # k x n
        for tt in np.unique(t[d == 1]):
            at_risk = t >= tt
            died = (t == tt) & (d == 1)
            n_k = member[:, at_risk].sum(axis=1)
            d_k = member[:, died].sum(axis=1)
            n, dd = n_k.sum(), d_k.sum()
            w = {"logrank": 1.0, "wilcoxon": n, "tarone": math.sqrt(n)}[test]
            e_k = n_k * dd / n
            observed += d_k
            expected += e_k
            u += w * (d_k - e_k)
            if n > 1:
                factor = w * w * dd * (n - dd) / (n - 1)
                v += factor * (np.diag(n_k / n) - np.outer(n_k, n_k) / (n * n))
    # The k scores sum to zero: drop the last and invert the rest (a generalised inverse
    # handles a group that is empty in every risk set).
    vr = v[:-1, :-1]
    df = int(np.linalg.matrix_rank(vr)) if vr.size else 0
    if df == 0:
        raise MethodError("SAP494", "no events where the groups overlap: the test of equal "
                                    "survival is undefined")
    chisq = float(u[:-1] @ np.linalg.pinv(vr) @ u[:-1])
    from scipy.special import chdtrc

    return RankTest(test, chisq, df, float(chdtrc(df, chisq)), labels,
                    tuple(observed.tolist()), tuple(expected.tolist()))
