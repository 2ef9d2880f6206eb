"""REML fit of a linear model with a structured residual covariance across visits (MMRM).

Model: ``y_i = X_i beta + e_i``, ``e_i ~ N(0, Sigma[o_i, o_i])`` for subject i observed at
the visits ``o_i`` (a subject with visits missing contributes its observed ones: the
likelihood is valid under MAR). ``-2 log L_REML`` (SAS PROC MIXED's "-2 Res Log
Likelihood", constant included) is

    sum_i log|Sigma_i| + log|X'V^-1 X| + r'V^-1 r + (N - p) log(2 pi),

``r = y - X beta_hat`` at the GLS estimate.

Speed: subjects are grouped by missingness pattern, and each pattern's data are reduced
once to moment tensors (``sum_i X_i (x) X_i``, ``sum_i X_i (x) y_i``, ``sum_i y_i y_i'``), so
that the likelihood, its analytic gradient, the information matrices and the
Kenward-Roger terms cost O(patterns x visits^2 x p^2) per evaluation, whatever the number of
subjects; there is no per-subject Python loop. The gradient of -2 log L_REML is
``sum_P tr(dSigma_P (n_P W - W (Q_P + S_P) W))`` (W = Sigma_P^-1, Q_P the residual cross
products, S_P = sum_i X_i Phi X_i'), with dSigma from :mod:`mmrm_cov` (complex step);
the optimiser is BFGS over the unconstrained theta.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.mmrm_cov import Structure

_LOG2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Pattern:
    """The subjects observed at exactly the visits ``visits`` (indices), as moments."""

    visits: np.ndarray
    n: int
    xx: np.ndarray  # (m, m, p, p): sum_i X_i[a, :] (x) X_i[b, :]
    xy: np.ndarray  # (m, m, p): sum_i X_i[a, :] y_i[b]
    yy: np.ndarray  # (m, m): sum_i y_i y_i'


def patterns(x: np.ndarray, y: np.ndarray, subject: np.ndarray, visit: np.ndarray,
             t: int) -> tuple[Pattern, ...]:
    """Group the rows (one per subject and observed visit) by missingness pattern."""
    order = np.lexsort((visit, subject))
    x, y, subject, visit = x[order], y[order], subject[order], visit[order]
    starts = np.flatnonzero(np.r_[True, subject[1:] != subject[:-1]])
    counts = np.diff(np.r_[starts, len(subject)])
    # A pattern's key: the bit mask of the observed visits.
    mask = np.zeros(len(starts), dtype=np.int64)
    np.add.at(mask, np.repeat(np.arange(len(starts)), counts), 1 << visit.astype(np.int64))
    out = []
    for key in np.unique(mask):
        which = np.flatnonzero(mask == key)
        visits = np.array([v for v in range(t) if key >> v & 1])
        m = len(visits)
        rows = (starts[which][:, None] + np.arange(m)[None, :]).ravel()
        xp, yp = x[rows].reshape(len(which), m, -1), y[rows].reshape(len(which), m)
        out.append(Pattern(visits, len(which), np.einsum("nap,nbq->abpq", xp, xp),
                           np.einsum("nap,nb->abp", xp, yp), yp.T @ yp))
    return tuple(out)


@dataclass(frozen=True)
class Fit:
    structure: Structure
    theta: np.ndarray
    phi: np.ndarray  # covariance parameters, SAS names (structure.names)
    sigma: np.ndarray  # t x t
    beta: np.ndarray
    cov_beta: np.ndarray  # Phi = (X'V^-1 X)^-1 (unadjusted, model-based)
    m2ll: float  # -2 REML log-likelihood
    n_obs: int
    n_subjects: int
    p: int
    patterns: tuple[Pattern, ...]
    iterations: int

    @property
    def aic(self) -> float:
        """SAS's REML AIC: -2 Res Log Likelihood + 2 x (covariance parameters)."""
        return self.m2ll + 2 * self.structure.k


@dataclass(frozen=True)
class _Eval:
    m2ll: float
    grad_sigma: np.ndarray  # (t, t): d(-2 log L)/d Sigma entries (G of the docstring)
    beta: np.ndarray
    ainv: np.ndarray


def _evaluate(sigma: np.ndarray, pats: tuple[Pattern, ...], n_obs: int, p: int) -> _Eval:
    a = np.zeros((p, p))
    b = np.zeros(p)
    yvy = 0.0
    logdet = 0.0
    inverses = []
    for pat in pats:
        s = sigma[np.ix_(pat.visits, pat.visits)]
        chol = np.linalg.cholesky(s)
        w = np.linalg.inv(s)
        w = 0.5 * (w + w.T)
        inverses.append(w)
        logdet += 2 * pat.n * float(np.log(np.diag(chol)).sum())
        a += np.einsum("ab,abpq->pq", w, pat.xx)
        b += np.einsum("ab,abp->p", w, pat.xy)
        yvy += float(np.sum(w * pat.yy))
    chol_a = np.linalg.cholesky(a)
    ainv = np.linalg.inv(a)
    ainv = 0.5 * (ainv + ainv.T)
    beta = ainv @ b
    m2ll = logdet + 2 * float(np.log(np.diag(chol_a)).sum()) + (yvy - b @ beta) \
        + (n_obs - p) * _LOG2PI
    grad = np.zeros_like(sigma)
    for pat, w in zip(pats, inverses, strict=True):
        q = residual_products(pat, beta)
        s_p = np.einsum("abpq,pq->ab", pat.xx, ainv)
        g = pat.n * w - w @ (q + s_p) @ w
        grad[np.ix_(pat.visits, pat.visits)] += g
    return _Eval(m2ll, grad, beta, ainv)


def m2ll_gradient(struct: Structure, pats: tuple[Pattern, ...], n_obs: int, p: int,
                  theta: np.ndarray) -> np.ndarray:
    """d(-2 log L_REML)/d theta at ``theta`` (the analytic gradient the fit descends)."""
    ev = _evaluate(struct.sigma(theta), pats, n_obs, p)
    return np.real(np.einsum("kab,ab->k", struct.d_sigma_theta(theta), ev.grad_sigma))


def residual_products(pat: Pattern, beta: np.ndarray) -> np.ndarray:
    """sum_i r_i r_i' of the pattern at ``beta``."""
    xb = np.einsum("abp,p->ab", pat.xy, beta)
    return pat.yy - xb - xb.T + np.einsum("abpq,p,q->ab", pat.xx, beta, beta)


def fit_reml(x: np.ndarray, y: np.ndarray, subject: np.ndarray, visit: np.ndarray,
             struct: Structure, max_iter: int = 500) -> Fit:
    """REML estimates (BFGS on theta with the analytic gradient)."""
    from scipy.optimize import minimize

    t, (n_obs, p) = struct.t, x.shape
    pats = patterns(x, y, subject, visit, struct.t)
    theta0 = struct.start(_start_covariance(x, y, visit, t))
    scale = max(float(np.mean(y ** 2)), 1e-300)

    def objective(theta):
        try:
            sigma = struct.sigma(theta)
            ev = _evaluate(sigma, pats, n_obs, p)
        except np.linalg.LinAlgError:
            return math.inf, np.zeros_like(theta)
        d = struct.d_sigma_theta(theta)
        return ev.m2ll / scale, np.einsum("kab,ab->k", d, ev.grad_sigma) / scale

    # BFGS rather than L-BFGS-B: with k <= 30 parameters its dense update is cheap, and
    # it makes no BLAS calls of its own, which with two BLAS threads on a busy 2-core
    # machine made L-BFGS-B's compiled core several times slower (bench/bench_mmrm.py).
    res = minimize(objective, theta0, jac=True, method="BFGS",
                   options={"maxiter": max_iter, "gtol": 1e-9})
    grad_norm = float(np.max(np.abs(res.jac))) if res.jac is not None else math.inf
    if not np.isfinite(res.fun) or (not res.success and grad_norm > 1e-5):
        raise MethodError("SAP492", f"the REML fit did not converge ({struct.name} "
                                    f"covariance, {res.nit} iterations: {res.message}); try "
                                    "a simpler covariance structure (cs, ar1, toeplitz)")
    sigma = struct.sigma(res.x)
    ev = _evaluate(sigma, pats, n_obs, p)
    n_subjects = sum(pat.n for pat in pats)
    return Fit(struct, res.x, np.real(struct.theta_to_phi(res.x)), sigma, ev.beta, ev.ainv,
               ev.m2ll, n_obs, n_subjects, p, pats, int(res.nit))


def _start_covariance(x, y, visit, t) -> np.ndarray:
    """Per-visit variances of the OLS residuals and their pooled correlation 0.3."""
    # Normal equations by einsum (no BLAS call: a start value needs no more precision).
    beta = np.linalg.solve(np.einsum("ij,ik->jk", x, x), np.einsum("ij,i->j", x, y))
    r = y - x @ beta
    var = np.array([np.mean(r[visit == v] ** 2) if np.any(visit == v) else 1.0
                    for v in range(t)])
    var = np.where(var > 0, var, max(float(var.max()), 1e-8))
    sd = np.sqrt(var)
    corr = 0.3 + 0.7 * np.eye(t)
    return np.outer(sd, sd) * corr
