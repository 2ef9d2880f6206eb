"""Multiple imputation of a repeated continuous response: posterior draws and imputations.

The data are wide: ``y`` (n subjects x t visits, NaN where missing). Two ways to draw the
imputation model's parameters, then each subject's missing values from their conditional
distribution given the subject's observed values:

``mmrm`` (any missingness pattern; MAR and the reference-based strategies). The MMRM of
:mod:`mmrm_fit` (treatment*visit, covariates*visit, a structured covariance Sigma) is fitted
once by REML. Under a flat prior on beta the marginal posterior of the covariance
parameters theta is proportional to the REML likelihood (Harville 1974), so theta is drawn
from its normal (Laplace) approximation N(theta_hat, 2 H^-1), H the Hessian of -2 log L_REML
in the unconstrained theta of :mod:`mmrm_cov` (log-Cholesky for UN: every draw is a valid
covariance), and then beta | Sigma exactly: N(beta_GLS(Sigma), (X'V^-1 X)^-1). rbmi's
``method_bayes`` draws the same posterior by MCMC and ``method_approxbayes`` approximates it
by bootstrap refits; this approximation costs one fit instead of M.

``regression`` (monotone missingness, MAR only): sequential Bayesian linear regression by
visit, SAS PROC MI ``MONOTONE REG`` (Rubin 1987, p. 167): at visit j the response is
regressed on the subject-level design (intercept, treatment, factors, covariates) and the
earlier visits among the subjects observed at j; sigma^2* = RSS / chi2(n_j - q),
beta* = beta_hat + sigma* R^-1 z, and the missing values are x beta* + sigma* z, visit by
visit (earlier imputed values feed later visits).

Strategies (the mean vector of the conditional distribution, rbmi's conventions; d is the
first visit after a subject's last observed visit, the dropout; visits before d that are
missing are intermittent and always imputed under MAR):
- ``mar``: the subject's own arm at every visit;
- ``jump_to_reference`` (J2R): own arm before d, the reference arm from d on;
- ``copy_reference`` (CR): the reference arm at every visit, observed ones included (the
  observed values are then conditioned on the reference mean, rbmi's choice);
- ``copy_increments_reference`` (CIR): own arm before d, then the own-arm mean at d - 1
  plus the reference arm's increments from d - 1 (mu_own[d-1] + mu_ref[j] - mu_ref[d-1]);
  a subject without any observed visit gets the reference mean (CIR = J2R there).
The covariance is the MMRM's one, common to the arms.

Random numbers: every imputation m has its own stream, ``SeedSequence(seed).spawn(M)[m]``,
from which it draws in a fixed order (theta, beta, then the missing cells subject by
subject, visit by visit); imputation m is therefore the same whatever M is, however the
work is split, and run to run. Everything else is vectorised over the M imputations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.mmrm_cov import Structure
from sap_engine.methods.mmrm_fit import Fit, fit_reml, m2ll_gradient

STRATEGIES = ("mar", "jump_to_reference", "copy_reference", "copy_increments_reference")
DRAWS = ("mmrm", "regression")


@dataclass(frozen=True)
class Wide:
    """One analysis' data, one row per subject."""

    y: np.ndarray  # (n, t) response, NaN where missing
    arm: np.ndarray  # (n,) arm index
    x_arm: np.ndarray  # (A, n, t, p) MMRM design row of subject i at visit j in arm a
    z: np.ndarray  # (n, r) subject-level design (intercept, treatment, factors, covariates)
    reference: int  # index of the reference arm

    @property
    def observed(self) -> np.ndarray:
        return np.isfinite(self.y)


def streams(seed: int, m: int) -> list[np.random.Generator]:
    """One independent generator per imputation (see the module docstring)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(m)]


def last_observed(observed: np.ndarray) -> np.ndarray:
    """Index of each subject's last observed visit (-1 when none)."""
    t = observed.shape[1]
    idx = np.where(observed, np.arange(t)[None, :], -1)
    return idx.max(axis=1)


# ---- the MMRM route --------------------------------------------------------------------

def fit_mmrm(data: Wide, struct: Structure) -> Fit:
    """REML fit of the MMRM to the observed cells (each subject in its own arm)."""
    obs = data.observed
    subject, visit = np.nonzero(obs)
    x = data.x_arm[data.arm[subject], subject, visit]
    return fit_reml(x, data.y[subject, visit], subject, visit, struct)


def theta_covariance(fit: Fit) -> np.ndarray:
    """2 H^-1: the Laplace approximation of the posterior covariance of theta (H the Hessian
    of -2 log L_REML, by central differences of the analytic gradient)."""
    struct, theta = fit.structure, fit.theta
    k = len(theta)
    h = np.empty((k, k))
    # Forward differences of the analytic gradient (k + 1 evaluations): the posterior
    # covariance needs a few significant digits, not the df's precision.
    at = m2ll_gradient(struct, fit.patterns, fit.n_obs, fit.p, theta)
    for j in range(k):
        step = 1e-5 * max(1.0, abs(theta[j]))
        up = theta.copy()
        up[j] += step
        h[:, j] = (m2ll_gradient(struct, fit.patterns, fit.n_obs, fit.p, up) - at) / step
    h = 0.5 * (h + h.T)
    try:
        cov = 2 * np.linalg.inv(h)
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise MethodError("SAP601", "the imputation model's likelihood is flat in its "
                                    "covariance parameters (the Hessian is not positive "
                                    "definite), so its posterior cannot be approximated; "
                                    "choose a simpler covariance structure") from None
    return cov


def parameter_draws(fit: Fit, normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Sigma (M, t, t), beta (M, p)) from the first k + p standard normals of each row."""
    struct, k, p = fit.structure, len(fit.theta), fit.p
    chol = np.linalg.cholesky(theta_covariance(fit))
    thetas = fit.theta[None, :] + normals[:, :k] @ chol.T
    sigmas = _sigmas(struct, thetas)
    m = len(thetas)
    a = np.zeros((m, p, p))
    b = np.zeros((m, p))
    for pat in fit.patterns:
        o = pat.visits
        w = np.linalg.inv(sigmas[:, o][:, :, o]).reshape(m, -1)
        a += (w @ pat.xx.reshape(len(o) ** 2, p * p)).reshape(m, p, p)
        b += w @ pat.xy.reshape(len(o) ** 2, p)
    a_inv = np.linalg.inv(a)
    a_inv = 0.5 * (a_inv + a_inv.transpose(0, 2, 1))
    beta_hat = np.einsum("mpq,mq->mp", a_inv, b)
    beta = beta_hat + np.einsum("mpq,mq->mp", np.linalg.cholesky(a_inv), normals[:, k:k + p])
    return sigmas, beta


def _sigmas(struct: Structure, thetas: np.ndarray) -> np.ndarray:
    """Sigma(theta) for every draw: batched for UN (Sigma = L L', L lower triangular with
    theta in row order and a log diagonal, as mmrm_cov's log-Cholesky), else one by one."""
    t = struct.t
    if struct.name != "unstructured":
        return np.stack([struct.sigma(th) for th in thetas])
    rows, cols = np.tril_indices(t)
    chol = np.zeros((len(thetas), t, t))
    chol[:, rows, cols] = thetas
    d = np.arange(t)
    chol[:, d, d] = np.exp(chol[:, d, d])
    return chol @ chol.transpose(0, 2, 1)


def strategy_means(data: Wide, beta: np.ndarray, strategy: str) -> np.ndarray:
    """The mean vector of every subject under ``strategy``: (n, t, M)."""
    n_arms, n, t, p = data.x_arm.shape
    mu = (data.x_arm.reshape(-1, p) @ beta.T).reshape(n_arms, n, t, -1)
    rows = np.arange(n)
    own = mu[data.arm, rows]
    ref = mu[data.reference]
    if strategy == "mar":
        return own
    if strategy == "copy_reference":
        return ref.copy()
    last = last_observed(data.observed)
    post = np.arange(t)[None, :] > last[:, None]
    if strategy == "jump_to_reference":
        return np.where(post[:, :, None], ref, own)
    if strategy == "copy_increments_reference":
        anchor = np.maximum(last, 0)
        shift = own[rows, anchor] - ref[rows, anchor]  # (n, M)
        shift = np.where((last >= 0)[:, None], shift, 0.0)
        return np.where(post[:, :, None], ref + shift[:, None, :], own)
    raise ValueError(strategy)


def conditional_draws(y: np.ndarray, mu: np.ndarray, sigmas: np.ndarray,
                      cell_normals: np.ndarray) -> np.ndarray:
    """Fill every missing cell of ``y`` (n, t) with a draw from its conditional normal given
    the subject's observed cells, for each imputation: returns (n, t, M).

    ``cell_normals`` (cells, M): one standard normal per missing cell (subject-major, visit
    order) and imputation."""
    n, t = y.shape
    m = sigmas.shape[0]
    obs = np.isfinite(y)
    out = np.repeat(np.nan_to_num(y)[:, :, None], m, axis=2)
    cell = np.full((n, t), -1)
    cell[~obs] = np.arange(int((~obs).sum()))
    keys = obs @ (1 << np.arange(t))
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        o, q = np.flatnonzero(obs[rows[0]]), np.flatnonzero(~obs[rows[0]])
        if len(q) == 0:
            continue
        s_qq = sigmas[:, q][:, :, q]
        mean = mu[rows][:, q, :]
        if len(o):
            s_oo, s_oq = sigmas[:, o][:, :, o], sigmas[:, o][:, :, q]
            k_t = np.linalg.solve(s_oo, s_oq)  # (M, o, q): Sigma_oo^-1 Sigma_oq
            s_qq = s_qq - np.einsum("moq,mor->mqr", s_oq, k_t)
            resid = y[rows][:, o][:, :, None] - mu[rows][:, o, :]
            mean = mean + np.einsum("moq,nom->nqm", k_t, resid)
        chol = np.linalg.cholesky(0.5 * (s_qq + s_qq.transpose(0, 2, 1)))
        z = cell_normals[cell[np.ix_(rows, q)]]  # (n_P, q, M)
        out[np.ix_(rows, q)] = mean + np.einsum("mqr,nrm->nqm", chol, z)
    return out


def impute_mmrm(data: Wide, struct: Structure, strategy: str,
                gens: list[np.random.Generator]) -> np.ndarray:
    """M imputations by the MMRM route: (n, t, M)."""
    fit = fit_mmrm(data, struct)
    k, p = len(fit.theta), fit.p
    n_cells = int((~data.observed).sum())
    normals = np.stack([g.standard_normal(k + p + n_cells) for g in gens])
    sigmas, beta = parameter_draws(fit, normals)
    # Only subjects with a missing visit need means and draws (their cells are the only
    # ones the normals number, so the subset keeps every cell's normal).
    need = ~data.observed.all(axis=1)
    out = np.repeat(data.y[:, :, None], len(gens), axis=2)
    if need.any():
        sub = Wide(data.y[need], data.arm[need], data.x_arm[:, need], data.z[need],
                   data.reference)
        mu = strategy_means(sub, beta, strategy)
        out[need] = conditional_draws(sub.y, mu, sigmas, normals[:, k + p:].T)
    return out


# ---- the sequential regression route ---------------------------------------------------

def require_monotone(observed: np.ndarray) -> None:
    """SAP602 unless every subject's observed visits are a leading run (no gaps)."""
    last = last_observed(observed)
    gaps = observed.sum(axis=1) != last + 1
    if gaps.any():
        raise MethodError("SAP602", f"{int(gaps.sum())} subject(s) have a missing visit "
                                    "followed by an observed one (intermittent "
                                    "missingness): sequential regression needs a monotone "
                                    "pattern; use options draws = mmrm")


def impute_regression(data: Wide, gens: list[np.random.Generator]) -> np.ndarray:
    """M imputations by monotone sequential Bayesian regression (MAR): (n, t, M)."""
    y, z = data.y, data.z
    obs = data.observed
    require_monotone(obs)
    n, t = y.shape
    m = len(gens)
    out = np.repeat(np.nan_to_num(y)[:, :, None], m, axis=2)
    for j in range(t):
        seen, miss = obs[:, j], ~obs[:, j]
        if not miss.any():
            continue
        x_obs = np.hstack([z[seen], y[seen, :j]])
        n_j, q = x_obs.shape
        if n_j <= q:
            raise MethodError("SAP603", f"visit {j + 1} of the imputation model has "
                                        f"{n_j} observed subjects for {q} regression "
                                        "coefficients")
        qm, r = np.linalg.qr(x_obs)
        if np.min(np.abs(np.diag(r))) < 1e-10 * np.max(np.abs(np.diag(r))):
            raise MethodError("SAP603", f"the regression of visit {j + 1} on the earlier "
                                        "visits and the covariates is singular")
        beta_hat = np.linalg.solve(r, qm.T @ y[seen, j])
        resid = y[seen, j] - x_obs @ beta_hat
        rss = float(resid @ resid)
        n_miss = int(miss.sum())
        chi2 = np.empty(m)
        zb = np.empty((m, q))
        ze = np.empty((m, n_miss))
        for i, g in enumerate(gens):
            chi2[i] = g.chisquare(n_j - q)
            zb[i] = g.standard_normal(q)
            ze[i] = g.standard_normal(n_miss)
        sigma = np.sqrt(rss / chi2)  # (M,)
        beta = beta_hat[None, :] + sigma[:, None] * np.linalg.solve(r, zb.T).T  # (M, q)
        pred = z[miss] @ beta[:, :z.shape[1]].T  # (n_miss, M)
        if j:
            pred += np.einsum("nkm,mk->nm", out[miss, :j, :], beta[:, z.shape[1]:])
        out[miss, j, :] = pred + sigma[None, :] * ze.T
    return out


def impute(data: Wide, draws: str, strategy: str, struct: Structure, seed: int,
           m: int) -> np.ndarray:
    """M imputations of ``data`` (n, t, M); see the module docstring."""
    gens = streams(seed, m)
    if draws == "regression":
        if strategy != "mar":
            raise MethodError("SAP604", f"imputation {strategy} needs the MMRM draws (options "
                                        "draws = mmrm): sequential regression imputes under "
                                        "MAR only")
        return impute_regression(data, gens)
    return impute_mmrm(data, struct, strategy, gens)
