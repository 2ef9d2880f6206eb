"""Cox proportional hazards regression by Newton-Raphson, as SAS PROC PHREG fits it.

- Partial likelihood with tied event times handled by Breslow's approximation (SAS PHREG
  default, TIES=BRESLOW) or Efron's (R coxph's default, TIES=EFRON); strata multiply their
  own partial likelihoods (SAS STRATA statement, R ``strata()``).
- Newton-Raphson from beta = 0 with step halving, converged when the relative gradient
  U' I^-1 U / (|l| + 1e-6) is below 1e-8 (SAS's default GCONV criterion) and the last step
  is negligible (so the digits do not depend on the stopping rule).
- Standard errors from the inverse observed information at the estimate; Wald chi-square
  (b / se)^2 per parameter; hazard ratio exp(b) with Wald limits exp(b -/+ z se).
- Global tests of beta = 0: likelihood ratio 2 (l(b) - l(0)), score U(0)' I(0)^-1 U(0) and
  Wald b' I(b) b, each on p df (SAS "Testing Global Null Hypothesis: BETA=0").

>>> fit = cox_ph(np.array([1.0, 2, 3, 4, 5, 6]), np.array([1, 1, 1, 0, 1, 1]),
...              np.array([[1.0], [0], [1], [0], [0], [1]]))
>>> round(float(fit.estimate[0]), 4), fit.events
(0.1008, 5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.registry import Stat

TIES = ("breslow", "efron")


@dataclass(frozen=True)
class CoxFit:
    """Estimates, covariance and the three global tests of a fitted Cox model."""

    names: tuple[str, ...]
    estimate: np.ndarray
    covariance: np.ndarray
    loglik: float
    loglik_null: float
    lr_chisq: float
    score_chisq: float
    wald_chisq: float
    iterations: int
    n: int
    events: int
    ties: str

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))

    @property
    def df(self) -> int:
        return len(self.names)

    def wald_test(self, columns: Sequence[int]) -> tuple[float, int, float]:
        """Joint Wald chi-square, df and p of the listed coefficients (SAS Type 3 test)."""
        idx = list(columns)
        b = self.estimate[idx]
        chisq = float(b @ np.linalg.solve(self.covariance[np.ix_(idx, idx)], b))
        return chisq, len(idx), chisq_p(chisq, len(idx))


def chisq_p(chisq: float, df: int) -> float:
    from scipy.special import chdtrc

    return float(chdtrc(df, chisq))


@dataclass(frozen=True)
class _Stratum:
    """One stratum sorted by time: the first row of each event time's risk set and its events."""

    rows: np.ndarray  # indices into the full data, sorted by time
    first: np.ndarray  # per distinct event time: position (in rows) where its risk set starts
    deaths: np.ndarray  # per distinct event time: number of events
    event_pos: np.ndarray  # positions (in rows) of the event rows, grouped by event time
    bounds: np.ndarray  # start of each event time's group within event_pos


def _strata(time: np.ndarray, event: np.ndarray, strata: np.ndarray) -> list[_Stratum]:
    out = []
    for label in dict.fromkeys(strata.tolist()):
        rows = np.flatnonzero(strata == label)
        rows = rows[np.argsort(time[rows], kind="mergesort")]
        t, e = time[rows], event[rows]
        event_pos = np.flatnonzero(e == 1)
        if not len(event_pos):
            continue  # a stratum without events adds nothing to the partial likelihood
        event_times, bounds, deaths = np.unique(t[event_pos], return_index=True,
                                                return_counts=True)
        first = np.searchsorted(t, event_times, side="left")
        out.append(_Stratum(rows, first, deaths, event_pos, bounds))
    return out


def partial_likelihood(beta: np.ndarray, x: np.ndarray, strata: list[_Stratum],
                       ties: str = "breslow") -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, its gradient and the observed information at ``beta``."""
    p = x.shape[1]
    loglik, grad, info = 0.0, np.zeros(p), np.zeros((p, p))
    for s in strata:
        xs = x[s.rows]
        eta = xs @ beta
        shift = float(eta.max())  # exp(eta - shift) cannot overflow; added back in log S0
        r = np.exp(eta - shift)
        rx = r[:, None] * xs
        rxx = rx[:, :, None] * xs[:, None, :]
        # Risk-set sums: reverse cumulative sums over rows sorted by time.
        s0 = np.cumsum(r[::-1])[::-1][s.first]
        s1 = np.cumsum(rx[::-1], axis=0)[::-1][s.first]
        s2 = np.cumsum(rxx[::-1], axis=0)[::-1][s.first]
        loglik += float(eta[s.event_pos].sum())
        grad += xs[s.event_pos].sum(axis=0)
        if ties == "breslow":
            loglik -= float(np.sum(s.deaths * (np.log(s0) + shift)))
            mean = s1 / s0[:, None]
            grad -= (s.deaths[:, None] * mean).sum(axis=0)
            info += np.einsum("t,tij->ij", s.deaths, s2 / s0[:, None, None]
                              - mean[:, :, None] * mean[:, None, :])
            continue
        # Efron: the j-th of d tied deaths sees the risk set minus j/d of the tied rows.
        a0 = np.add.reduceat(r[s.event_pos], s.bounds)
        a1 = np.add.reduceat(rx[s.event_pos], s.bounds, axis=0)
        a2 = np.add.reduceat(rxx[s.event_pos], s.bounds, axis=0)
        for j in range(int(s.deaths.max())):
            live = s.deaths > j
            f = (j / s.deaths[live])
            d0 = s0[live] - f * a0[live]
            d1 = s1[live] - f[:, None] * a1[live]
            d2 = s2[live] - f[:, None, None] * a2[live]
            loglik -= float(np.sum(np.log(d0) + shift))
            mean = d1 / d0[:, None]
            grad -= mean.sum(axis=0)
            info += (d2 / d0[:, None, None] - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
    return loglik, grad, info


def _solve(info: np.ndarray, vector: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(info, vector)
    except np.linalg.LinAlgError:
        raise MethodError("SAP498", "the information matrix is singular: a covariate is "
                                    "constant or collinear with others among the rows with "
                                    "events") from None


def cox_ph(time: np.ndarray, event: np.ndarray, x: np.ndarray,
           names: Sequence[str] | None = None, strata: np.ndarray | None = None,
           ties: str = "breslow", max_iter: int = 50) -> CoxFit:
    """Fit a Cox model: ``x`` is the n x p design (no intercept), ``event`` 1/0 flags."""
    if ties not in TIES:
        raise MethodError("SAP495", f"unknown ties method '{ties}' (one of {', '.join(TIES)})")
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=int)
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n, p = x.shape
    names = tuple(names) if names is not None else tuple(f"x{j + 1}" for j in range(p))
    events = int(event.sum())
    if p == 0:
        raise MethodError("SAP490", "a Cox model needs at least one covariate or group")
    if events == 0:
        raise MethodError("SAP491", "no events: the Cox model cannot be estimated")
    if events < p:
        raise MethodError("SAP492", f"{events} event(s) for {p} parameters: too few events "
                                    "to estimate the Cox model")
    labels = np.zeros(n, dtype=int) if strata is None else np.asarray(strata)
    blocks = _strata(time, event, labels)
    beta = np.zeros(p)
    loglik, grad, info = partial_likelihood(beta, x, blocks, ties)
    loglik0 = loglik
    score = float(grad @ _solve(info, grad))
    iterations = 0
    while True:
        iterations += 1
        if iterations > max_iter:
            raise MethodError("SAP499", f"the Cox model did not converge in {max_iter} "
                                        "iterations")
        step = _solve(info, grad)
        for _ in range(30):  # step halving keeps every iterate an ascent step
            new = beta + step
            new_ll, new_grad, new_info = partial_likelihood(new, x, blocks, ties)
            if new_ll >= loglik - 1e-12 * abs(loglik):
                break
            step = step / 2
        gain = new_ll - loglik
        beta, loglik, grad, info = new, new_ll, new_grad, new_info
        # SAS stops at a relative gradient of 1e-8; Newton converges quadratically, so
        # iterating to a negligible step costs an iteration or two and removes any
        # dependence of the digits on the stopping rule. A likelihood that has stopped
        # rising while the step has not vanished is diverging (checked below).
        small_step = float(np.max(np.abs(step))) < 1e-10 * (1.0 + float(np.max(np.abs(beta))))
        if float(grad @ _solve(info, grad)) / (abs(loglik) + 1e-6) < 1e-8 and (
                small_step or gain < 1e-12 * (1.0 + abs(loglik))):
            _check_finite(beta, step, names)
            break
    covariance = np.linalg.inv(info)
    wald = float(beta @ info @ beta)
    return CoxFit(names, beta, covariance, loglik, loglik0, 2.0 * (loglik - loglik0), score,
                  wald, iterations, n, events, ties)


def _check_finite(beta: np.ndarray, step: np.ndarray, names: Sequence[str]) -> None:
    """Refuse a diverging estimate: the likelihood has flattened out but Newton still moves
    the coefficient (monotone likelihood, e.g. a group without events)."""
    for j, name in enumerate(names):
        if abs(step[j]) > 1e-4 * (1.0 + abs(beta[j])):
            raise MethodError("SAP499", f"the estimate for '{name}' diverges (monotone "
                                        "likelihood, e.g. a group without events): the "
                                        "hazard ratio is not estimable")


def hazard_ratio_limits(estimate: float, se: float, level: float = 0.95) -> tuple[float, float]:
    """Wald limits of exp(b): exp(b -/+ z se)."""
    from scipy.special import ndtri

    z = float(ndtri(0.5 + level / 2))
    return math.exp(estimate - z * se), math.exp(estimate + z * se)


def check_aliasing(x: np.ndarray, names: list[str]) -> None:
    """Name the first column that is constant or a combination of the ones before it."""
    centred = x - x.mean(axis=0) if x.size else x
    for j in range(x.shape[1]):
        if np.linalg.matrix_rank(centred[:, : j + 1]) <= j:
            raise MethodError("SAP498", f"'{names[j]}' is constant or collinear with the "
                                        "other model terms: its hazard ratio is not estimable")


def cox_stats(fit: CoxFit, effects: Sequence[tuple[str, Sequence[int]]],
              level: float = 0.95) -> list[Stat]:
    """ARD rows of a fit: per parameter, the three global tests, joint tests of effects."""
    out = [Stat("n", float(fit.n)), Stat("events", float(fit.events))]
    for j, name in enumerate(fit.names):
        b, se = float(fit.estimate[j]), float(fit.se[j])
        lower, upper = hazard_ratio_limits(b, se, level)
        wald = (b / se) ** 2
        out += [Stat("estimate", b, variable_level=name), Stat("se", se, variable_level=name),
                Stat("hazard_ratio", float(np.exp(b)), variable_level=name),
                Stat("ci_lower", lower, variable_level=name),
                Stat("ci_upper", upper, variable_level=name),
                Stat("statistic", wald, variable_level=name, stat_label="Wald chi-square"),
                Stat("p_value", chisq_p(wald, 1), variable_level=name)]
    for label, chisq in (("Likelihood Ratio", fit.lr_chisq), ("Score", fit.score_chisq),
                         ("Wald", fit.wald_chisq)):
        out += [Stat("statistic", chisq, variable_level=label),
                Stat("df", float(fit.df), variable_level=label),
                Stat("p_value", chisq_p(chisq, fit.df), variable_level=label)]
    for effect, idx in effects:
        if len(idx) > 1:
            chisq, df, p = fit.wald_test(idx)
            out += [Stat("statistic", chisq, variable_level=effect, stat_label="Type 3 Wald"),
                    Stat("df", float(df), variable_level=effect),
                    Stat("p_value", p, variable_level=effect)]
    return out
