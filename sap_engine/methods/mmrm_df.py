"""Denominator degrees of freedom of an MMRM contrast: Satterthwaite and Kenward-Roger.

All in SAS's covariance parameters ``phi`` (see :mod:`mmrm_cov`), with V_k = dV/dphi_k,
Phi = (X'V^-1 X)^-1, P the REML projection, and per pattern the moment tensors of
:mod:`mmrm_fit` (so nothing loops over subjects):

- ``P_k = X'V^-1 V_k V^-1 X``, ``Q_kl = X'V^-1 V_k V^-1 V_l V^-1 X``,
  ``R_kl = X'V^-1 V_kl V^-1 X`` (second derivatives; zero for UN, CS, TOEP);
- expected information of -2 log L_REML: ``tr(P V_k P V_l)``
  = tr(V^-1 V_k V^-1 V_l) - 2 tr(Phi Q_kl) + tr(Phi P_k Phi P_l);
- observed information (the Hessian of -2 log L_REML):
  ``tr(P V_kl) - tr(P V_k P V_l) + 2 y'P V_k P V_l P y - y'P V_kl P y``.

Satterthwaite (SAS DDFM=SATTERTHWAITE): for a contrast c with v = c'Phi c and g_k = dv/dphi_k
= -c'Phi P_k Phi c, ``df = 2 v^2 / (g' C g)`` with C = 2 H^-1, the inverse *observed*
information of log L_REML (what SAS uses with its default Newton-Raphson fit).

Kenward-Roger (SAS DDFM=KR; Kenward & Roger 1997, Biometrics 53:983): with W the inverse
*expected* information of log L_REML, the adjusted covariance
``Phi_A = Phi + 2 Phi Lambda Phi``, ``Lambda = sum_kl W_kl (Q_kl - P_k Phi P_l - R_kl / 4)``;
for one contrast (q = 1) the scale factor is exactly 1 and ``df = 2 / A``, ``A = sum_kl
W_kl s_k s_l``, ``s_k = c'Phi P_k Phi c / c'Phi c``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.mmrm_fit import Fit, residual_products


@dataclass(frozen=True)
class Information:
    """The inference quantities of a fit, in phi."""

    p_k: np.ndarray  # (k, p, p)
    q_kl: np.ndarray  # (k, k, p, p)
    r_kl: np.ndarray  # (k, k, p, p)
    expected: np.ndarray  # (k, k) expected information of -2 log L_REML
    observed: np.ndarray  # (k, k) Hessian of -2 log L_REML

    @property
    def cov_phi_observed(self) -> np.ndarray:
        return 2 * _inverse(self.observed)

    @property
    def cov_phi_expected(self) -> np.ndarray:
        return 2 * _inverse(self.expected)


def _inverse(h: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(h)
    except np.linalg.LinAlgError:
        raise MethodError("SAP493", "the information matrix of the covariance parameters is "
                                    "singular: the covariance structure is not identified by "
                                    "these data (too few subjects per visit); choose a simpler "
                                    "structure") from None


def information(fit: Fit, second_order: bool = True) -> Information:
    struct, phi, p = fit.structure, fit.phi, fit.p
    d1 = struct.d_sigma_phi(phi)  # (k, t, t)
    k = len(phi)
    d2 = struct.d2_sigma_phi(phi) if second_order else np.zeros((k, k, struct.t, struct.t))
    ainv, beta = fit.cov_beta, fit.beta
    p_k = np.zeros((k, p, p))
    q_kl = np.zeros((k, k, p, p))
    r_kl = np.zeros((k, k, p, p))
    tr_vv = np.zeros((k, k))  # tr(V^-1 V_k V^-1 V_l)
    tr_v2 = np.zeros((k, k))  # tr(V^-1 V_kl)
    ypy2 = np.zeros((k, k))  # y'P V_k P V_l P y, first part (a_k' V^-1 a_l)
    xa = np.zeros((k, p))  # X'V^-1 a_k
    ypy_kl = np.zeros((k, k))  # y'P V_kl P y
    for pat in fit.patterns:
        ix = np.ix_(pat.visits, pat.visits)
        w = np.linalg.inv(fit.sigma[ix])
        dv = d1[:, ix[0], ix[1]]  # (k, m, m)
        dv2 = d2[:, :, ix[0], ix[1]]
        wd = np.einsum("ab,kbc->kac", w, dv)  # W V_k
        z = np.einsum("kab,bc->kac", wd, w)  # W V_k W
        zz = np.einsum("kab,lbc->klac", wd, z)  # W V_k W V_l W
        z2 = np.einsum("ab,klbc,cd->klad", w, dv2, w)  # W V_kl W
        p_k += np.einsum("kab,abpq->kpq", z, pat.xx)
        q_kl += np.einsum("klab,abpq->klpq", zz, pat.xx)
        r_kl += np.einsum("klab,abpq->klpq", z2, pat.xx)
        tr_vv += pat.n * np.einsum("kab,lba->kl", wd, wd)
        tr_v2 += pat.n * np.einsum("ab,klba->kl", w, dv2)
        res = residual_products(pat, beta)
        xr = pat.xy - np.einsum("abpq,q->abp", pat.xx, beta)  # sum_i X_i (x) r_i
        ypy2 += np.einsum("klab,ba->kl", zz, res)
        xa += np.einsum("kab,abp->kp", z, xr)
        ypy_kl += np.einsum("klab,ba->kl", z2, res)
    q_kl = 0.5 * (q_kl + q_kl.transpose(1, 0, 3, 2))
    phi_p = np.einsum("pq,kqr->kpr", ainv, p_k)  # Phi P_k
    tr_pvpv = tr_vv - 2 * np.einsum("pq,klqp->kl", ainv, q_kl) \
        + np.einsum("kpq,lqp->kl", phi_p, phi_p)
    tr_pv2 = tr_v2 - np.einsum("pq,klqp->kl", ainv, r_kl)
    ypvpvpy = ypy2 - xa @ ainv @ xa.T
    observed = tr_pv2 - tr_pvpv + 2 * ypvpvpy - ypy_kl
    return Information(p_k, q_kl, r_kl, tr_pvpv, 0.5 * (observed + observed.T))


def kr_covariance(fit: Fit, info: Information) -> np.ndarray:
    """Kenward-Roger's adjusted covariance of the fixed effects, Phi_A."""
    w = info.cov_phi_expected
    phi = fit.cov_beta
    pp = np.einsum("kpq,qr,lrs->klps", info.p_k, phi, info.p_k)
    lam = np.einsum("kl,klpq->pq", w, info.q_kl - pp - 0.25 * info.r_kl)
    adj = phi + 2 * phi @ lam @ phi
    return 0.5 * (adj + adj.T)


@dataclass(frozen=True)
class ContrastDF:
    estimate: float
    se: float
    df: float


def contrast(fit: Fit, c: np.ndarray, method: str, info: Information | None = None,
             adjusted: np.ndarray | None = None) -> ContrastDF:
    """Estimate, SE and df of c'beta. ``method``: satterthwaite, kenward_roger, residual."""
    phi = fit.cov_beta
    v = float(c @ phi @ c)
    estimate = float(c @ fit.beta)
    if method == "residual":
        return ContrastDF(estimate, math.sqrt(v), float(fit.n_obs - fit.p))
    assert info is not None
    pc = phi @ c
    g = -np.einsum("p,kpq,q->k", pc, info.p_k, pc)
    if method == "satterthwaite":
        denom = float(g @ info.cov_phi_observed @ g)
        return ContrastDF(estimate, math.sqrt(v), _df(2 * v * v, denom))
    assert adjusted is not None
    denom = float(g @ info.cov_phi_expected @ g)
    return ContrastDF(estimate, math.sqrt(float(c @ adjusted @ c)), _df(2 * v * v, denom))


def _df(num: float, denom: float) -> float:
    """2 v^2 / (g' C g); C is positive definite at a REML maximum, so a non-positive
    denominator means the estimate is not one (a flat or saddle point): refused, never
    replaced by an arbitrary df."""
    if not denom > 0 or not math.isfinite(denom):
        raise MethodError("SAP496", "the degrees of freedom are not defined: the information "
                                    "of the covariance parameters is not positive definite "
                                    "at the estimate (a flat likelihood); choose a simpler "
                                    "covariance structure, or options df = residual")
    return num / denom
