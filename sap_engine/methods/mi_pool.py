"""Analyse M imputed data sets at once and pool them: the ANCOVA of every imputation from one
factorisation, Rubin's rules with Barnard-Rubin degrees of freedom, delta adjustment.

ANCOVA over M imputations is not M model fits: after imputation the response is complete,
so every imputation has the same rows and the same design X; one pivoted QR of X solves all
M responses (columns of Y) at once, and a delta grid of G cells adds G x M columns to the
same solve. The design is the ANCOVA's own (:func:`linear_fit.design_matrix`: effect
coding, level order, rank check), so an imputed analysis and the primary ANCOVA agree on the
data they share.

Rubin's rules (Rubin 1987; Little & Rubin 2002, section 5.4), for M estimates q_j with
variances u_j::

    q = mean(q_j)    W = mean(u_j)    B = var(q_j) (divisor M - 1)
    T = W + (1 + 1/M) B                total variance, SE = sqrt(T)
    r = (1 + 1/M) B / W                relative increase in variance
    lambda = (1 + 1/M) B / T           proportion of the variance due to missingness
    nu_m = (M - 1) / lambda^2          Rubin's (1987) df
    nu_obs = (nu_com + 1) / (nu_com + 3) nu_com (1 - lambda)
    nu = 1 / (1 / nu_m + 1 / nu_obs)   Barnard & Rubin (1999), the df used (as rbmi, mice,
                                       SAS PROC MIANALYZE EDF=nu_com)
    fmi = (r + 2 / (nu + 3)) / (1 + r) fraction of missing information (mice's definition,
                                       with nu the Barnard-Rubin df)

with nu_com the complete-data df (n - p of the ANCOVA). When B = 0 (nothing imputed) lambda =
0, nu_m is infinite and nu = nu_obs. The t statistic is q / SE with nu df; CIs use t(nu).

Delta adjustment (tipping point): delta_a is added to every imputed value of the analysed
visit in arm a, after imputation (it does not feed later visits' imputations; rbmi's delta
convention). Observed values are never shifted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError


@dataclass(frozen=True)
class Pooled:
    """Rubin's rules over the last axis; every field has the input's leading shape."""

    estimate: np.ndarray
    var_within: np.ndarray
    var_between: np.ndarray
    var_total: np.ndarray
    riv: np.ndarray  # relative increase in variance r
    lam: np.ndarray  # lambda, the proportion of the total variance due to missingness
    df: np.ndarray  # Barnard-Rubin
    fmi: np.ndarray
    m: int

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(self.var_total)

    @property
    def statistic(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.estimate / self.se

    @property
    def p_value(self) -> np.ndarray:
        from scipy.special import stdtr  # scipy only when a method runs (check stays light)

        return 2 * stdtr(self.df, -np.abs(self.statistic))

    def ci(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        from scipy.special import stdtrit

        half = stdtrit(self.df, 0.5 + level / 2) * self.se
        return self.estimate - half, self.estimate + half


def rubin(estimates: np.ndarray, variances: np.ndarray, df_complete: float) -> Pooled:
    """Pool ``estimates`` and their ``variances`` (last axis: the M imputations)."""
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = q.shape[-1]
    if m < 2:
        raise MethodError("SAP498", f"Rubin's rules need at least 2 imputations (got {m})")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(u)) and np.all(u >= 0)):
        raise MethodError("SAP498", "an imputed analysis gave a non-finite estimate or "
                                    "variance: the pooled result would be meaningless")
    qbar = q.mean(axis=-1)
    w = u.mean(axis=-1)
    b = q.var(axis=-1, ddof=1)
    t = w + (1 + 1 / m) * b
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = np.where(w > 0, (1 + 1 / m) * b / w, np.inf)
        lam = np.where(t > 0, (1 + 1 / m) * b / t, 0.0)
        nu_m = np.where(lam > 0, (m - 1) / lam ** 2, np.inf)
        nu_com = float(df_complete)
        nu_obs = (nu_com + 1) / (nu_com + 3) * nu_com * (1 - lam)
        df = 1 / (1 / nu_m + 1 / nu_obs)
        fmi = (riv + 2 / (df + 3)) / (1 + riv)
    return Pooled(qbar, w, b, t, riv, lam, df, fmi, m)


@dataclass(frozen=True)
class ManyFits:
    """Linear functions of the ANCOVA coefficients, for every response column."""

    estimate: np.ndarray  # (rows of L, K)
    variance: np.ndarray  # (rows of L, K)
    df_resid: int


def ancova_many(x: np.ndarray, y: np.ndarray, big_l: np.ndarray) -> ManyFits:
    """Estimates ``L b_k`` and their variances sigma_k^2 L (X'X)^-1 L' for every column y_k.

    One pivoted QR of ``x`` (columns scaled to unit norm first, as :mod:`linear_fit` does)
    serves every column of ``y``."""
    from scipy.linalg import lapack, qr

    n, p = x.shape
    df = n - p
    if df < 1:
        raise MethodError("SAP499", f"the imputed ANCOVA has {n} subjects for {p} "
                                    "coefficients: no residual degrees of freedom")
    norms = np.linalg.norm(x, axis=0)
    q, r, piv = qr(x / norms, mode="economic", pivoting=True)
    coef = np.empty((p, y.shape[1]))
    coef[piv], _ = lapack.dtrtrs(r, q.T @ y, lower=0)
    coef /= norms[:, None]
    r_inv, _ = lapack.dtrtri(r, lower=0)
    cov = np.empty((p, p))
    cov[np.ix_(piv, piv)] = r_inv @ r_inv.T
    cov /= np.outer(norms, norms)
    resid = y - x @ coef
    sigma2 = np.einsum("ij,ij->j", resid, resid) / df
    quad = np.einsum("ij,jk,ik->i", big_l, cov, big_l)
    return ManyFits(big_l @ coef, quad[:, None] * sigma2[None, :], df)


def delta_columns(y: np.ndarray, imputed: np.ndarray, arm: np.ndarray,
                  cells: Sequence[Sequence[float]]) -> np.ndarray:
    """The responses of every delta cell: ``y`` (n, M) with ``cell[a]`` added to the imputed
    values of arm ``a``; returns (n, G * M), cell-major (cell g is columns g*M .. g*M+M-1).

    ``imputed`` (n, M) marks the imputed values; ``arm`` (n,) the arm index of each row."""
    n, m = y.shape
    out = np.empty((n, len(cells) * m))
    for g, cell in enumerate(cells):
        shift = np.asarray(cell, dtype=float)[arm][:, None]
        out[:, g * m:(g + 1) * m] = y + shift * imputed
    return out


def tipping_points(values: Sequence[float], p_values: np.ndarray, alpha: float) -> float | None:
    """The delta of ``values`` with the smallest absolute value at which the result is no
    longer significant (p >= alpha), provided it is significant at the delta closest to 0;
    None when significance never changes over the grid."""
    order = np.argsort(np.abs(np.asarray(values, dtype=float)), kind="stable")
    if p_values[order[0]] >= alpha:
        return None
    lost = [i for i in order if p_values[i] >= alpha]
    return float(values[lost[0]]) if lost else None
