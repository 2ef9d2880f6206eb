"""LS means (population marginal means) of a factor and their differences.

An LS mean of level ``i`` of factor A is ``L b`` with ``L`` the design row of a "typical"
subject at A = i:
- covariates at their mean over the rows used (SAS's default, for both weightings);
- ``weights="equal"`` (SAS LSMEANS default): every other factor's effect-code vector averaged
  with equal weight over its levels (interactions between other factors: over the balanced
  grid of their cells);
- ``weights="observed"`` (SAS ``OM``, emmeans ``weights = "proportional"``): design rows
  averaged over the rows whose independent variables are all present, with A set to ``i``
  and the covariates at their mean, so each other factor (and each combination of them)
  enters with its observed frequency.
Because every design column is a product of one entry per member variable, averaging code
vectors gives exactly the average of predictions over the corresponding grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from sap_engine.errors import MethodError
from sap_engine.methods.linear_design import build_columns, effect_codes
from sap_engine.methods.linear_fit import LinearFit, critical_value, two_sided_p

WEIGHTS = ("equal", "observed")
ADJUSTMENTS = ("none", "bonferroni", "holm", "sidak")


@dataclass(frozen=True)
class LSMean:
    """The LS mean of one level, with its SE, df and confidence interval."""

    level: str
    estimate: float
    se: float
    df: int
    ci_lower: float
    ci_upper: float
    n: int  # rows used at this level


@dataclass(frozen=True)
class LSMeanDifference:
    """``level - reference`` in LS means, tested against 0."""

    label: str  # "A - B"
    level: str
    reference: str
    estimate: float
    se: float
    df: int
    statistic: float
    p_value: float  # adjusted when an adjustment was asked for
    p_value_unadjusted: float
    ci_lower: float  # simultaneous for bonferroni / sidak
    ci_upper: float


def lsmean_matrix(fit: LinearFit, factor: str, weights: str = "equal") -> np.ndarray:
    """The L matrix: one row of coefficients per level of ``factor``."""
    if factor not in fit.spec.factors:
        raise MethodError("SAP431", f"'{factor}' is not a factor of the model (factors: "
                                    f"{', '.join(fit.spec.factors) or 'none'})")
    if weights not in WEIGHTS:
        raise MethodError("SAP432", f"LS-mean weights must be one of {', '.join(WEIGHTS)}")
    spec = fit.spec
    codes = {f: effect_codes(len(fit.levels[f])) for f in spec.factors}
    others = [f for f in spec.factors if f != factor]
    m = len(fit.margin_codes[factor]) if weights == "observed" and others else 1
    covariates = {c: np.full(m, fit.covariate_means[c]) for c in spec.covariates}
    if m == 1:
        fixed = {f: codes[f].mean(axis=0)[None, :] for f in others}
    else:
        fixed = {f: codes[f][fit.margin_codes[f]] for f in others}
    rows = []
    for i in range(len(fit.levels[factor])):
        target = np.repeat(codes[factor][i][None, :], m, axis=0)
        rows.append(build_columns(spec, {**fixed, factor: target}, covariates).mean(axis=0))
    return np.vstack(rows)


def lsmeans(fit: LinearFit, factor: str, weights: str = "equal", ci_level: float = 0.95,
            quantile: str = "t") -> tuple[LSMean, ...]:
    """LS mean, SE, df (residual) and CI of every level of ``factor``, in level order.

    One factor only: the LS means are the arm means.

    >>> import pandas as pd
    >>> from sap_engine.methods.linear_fit import ModelSpec, fit_linear
    >>> d = pd.DataFrame({"y": [1.0, 2, 4, 6], "g": ["a", "a", "b", "b"]})
    >>> fit = fit_linear(d, ModelSpec("y", ("g",)))
    >>> [(m.level, round(m.estimate, 12), m.n) for m in lsmeans(fit, "g")]
    [('a', 1.5, 2), ('b', 5.0, 2)]
    """
    big_l = lsmean_matrix(fit, factor, weights)
    est = big_l @ fit.coef
    se = np.sqrt(np.einsum("ij,jk,ik->i", big_l, fit.cov, big_l))
    half = critical_value(ci_level, fit.df_resid, quantile) * se
    counts = np.bincount(fit.codes[factor], minlength=len(fit.levels[factor]))
    return tuple(LSMean(lev, float(est[i]), float(se[i]), fit.df_resid,
                        float(est[i] - half[i]), float(est[i] + half[i]), int(counts[i]))
                 for i, lev in enumerate(fit.levels[factor]))


def adjust_p(p: ArrayLike, method: str = "none") -> np.ndarray:
    """Multiplicity-adjusted p-values over one family (Bonferroni, Holm step-down, Sidak).

    >>> adjust_p([0.01, 0.04, 0.03], "holm").round(4).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    k = len(p)
    if method == "none" or k <= 1:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, k * p)
    if method == "sidak":
        # 1 - (1 - p)^k without cancellation: the naive form is 0 for p below 1e-17.
        return -np.expm1(k * np.log1p(-p))
    if method == "holm":
        order = np.argsort(p, kind="stable")
        stepped = np.maximum.accumulate((k - np.arange(k)) * p[order])
        out = np.empty(k)
        out[order] = np.minimum(1.0, stepped)
        return out
    raise MethodError("SAP433", f"unknown adjustment '{method}' (one of "
                                f"{', '.join(ADJUSTMENTS)})")


def _simultaneous_level(ci_level: float, k: int, method: str) -> float:
    """Per-comparison confidence level giving simultaneous coverage (SAS ADJUST= CL)."""
    if method == "bonferroni":
        return 1 - (1 - ci_level) / k
    if method == "sidak":
        return ci_level ** (1 / k)
    return ci_level  # none; holm has no simultaneous interval: limits stay unadjusted


def lsmean_differences(fit: LinearFit, factor: str, pairs: Sequence[tuple[str, str]],
                       weights: str = "equal", ci_level: float = 0.95, quantile: str = "t",
                       adjust: str = "none") -> tuple[LSMeanDifference, ...]:
    """Differences ``A - B`` of LS means for each (A, B) in ``pairs``.

    The family for ``adjust`` is the pairs given. Bonferroni and Sidak also widen the CIs to
    simultaneous ones (as SAS LSMEANS ADJUST= does with CL); Holm adjusts p-values only.
    """
    if adjust not in ADJUSTMENTS:
        raise MethodError("SAP433", f"unknown adjustment '{adjust}' (one of "
                                    f"{', '.join(ADJUSTMENTS)})")
    big_l = lsmean_matrix(fit, factor, weights)
    if not pairs:
        return ()
    index = {lev: i for i, lev in enumerate(fit.levels[factor])}
    for a, b in pairs:
        for lev in (a, b):
            if lev not in index:
                raise MethodError("SAP434", f"contrast level '{lev}' is not a level of "
                                            f"'{factor}' in the data ({', '.join(index)})")
    rows = np.array([big_l[index[a]] - big_l[index[b]] for a, b in pairs])
    est = rows @ fit.coef
    se = np.sqrt(np.einsum("ij,jk,ik->i", rows, fit.cov, rows))
    df = fit.df_resid
    stats = [e / s if s > 0 else math.copysign(math.inf, e) for e, s in zip(est, se)]
    raw = [two_sided_p(t, df) for t in stats]
    adjusted = adjust_p(raw, adjust)
    level = _simultaneous_level(ci_level, len(pairs), adjust)
    half = critical_value(level, df, quantile) * se
    return tuple(LSMeanDifference(f"{a} - {b}", a, b, float(est[i]), float(se[i]), df,
                                  float(stats[i]), float(adjusted[i]), float(raw[i]),
                                  float(est[i] - half[i]), float(est[i] + half[i]))
                 for i, (a, b) in enumerate(pairs))
