"""Simulated repeated-measures trials for the multiple-imputation benchmark and coverage study.

Two arms (0 = reference/placebo, 1 = active), a baseline score, ``t`` post-baseline visits,
the response ``chg`` (change from baseline) multivariate normal with an unstructured
covariance common to the arms::

    chg_ij = mu[arm_i, j] + gamma_j (base_i - 20) + e_ij,   e_i ~ N(0, SIGMA[:t, :t])

Monotone dropout, missing at random: visit 1 is always observed; a subject still in the
study at visit j >= 2 drops out there (and stays out) with probability
expit(a + b (chg_i,j-1 - c)), which depends only on the last observed value.

Under ``j2r=True`` the active arm's values from the dropout visit on follow the reference
arm's mean (the jump-to-reference joint model of Carpenter, Roger & Kenward 2013, the model
rbmi's and sap_engine's J2R imputations draw from): each subject's residual vector e is
drawn once, the dropout visit d is decided on the own-arm values (which are the observed
ones), and the full-data values are then mu_J2R(d) + gamma (base - 20) + e with mu_J2R(d)
the own-arm mean before d and the reference mean from d on. Hence the full-data mean of the
active arm at the last visit is pi mu[1, T] + (1 - pi) mu[0, T], pi = P(completer | active),
and the J2R estimand is pi (mu[1, T] - mu[0, T]) (:func:`j2r_truth`).

The imputation and analysis designs are built by hand with sap_engine's effect coding, as
``sap_engine.methods.mi_data`` builds them from a plan's frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sap_engine.methods.linear_design import ModelSpec, build_columns, effect_codes
from sap_engine.methods.mi_draws import Wide

SD = np.array([4.0, 4.5, 5.0, 5.5, 6.0])
# A genuinely unstructured correlation: compound symmetry plus AR(1), non-stationary SDs.
_R = np.array([[1.0 if i == j else 0.35 + 0.5 * 0.7 ** abs(i - j) for j in range(5)]
               for i in range(5)])
SIGMA = _R * np.outer(SD, SD)
MU = np.array([[-1.0, -2.0, -3.0, -3.5, -4.0],    # reference (placebo)
               [-1.5, -3.0, -4.5, -5.5, -6.5]])   # active
GAMMA = np.array([-0.10, -0.15, -0.20, -0.25, -0.30])
BASE_MEAN, BASE_SD = 20.0, 5.0
DROP_SLOPE, DROP_CENTRE = 0.3, -3.0


@dataclass(frozen=True)
class Trial:
    chg: np.ndarray  # (n, t), NaN after dropout
    full: np.ndarray  # (n, t), the complete data (what would have been observed)
    arm: np.ndarray  # (n,) 0 = reference, 1 = active
    base: np.ndarray  # (n,)


def simulate(n: int, t: int, rng: np.random.Generator, intercept: float,
             j2r: bool = False) -> Trial:
    """One trial of ``n`` subjects (half per arm) and ``t`` visits; see the module docstring.
    ``intercept`` (a) sets the dropout rate."""
    arm = np.repeat([0, 1], [n - n // 2, n // 2])
    base = rng.normal(BASE_MEAN, BASE_SD, n)
    e = rng.multivariate_normal(np.zeros(t), SIGMA[:t, :t], n)
    shift = GAMMA[:t] * (base - BASE_MEAN)[:, None]
    own = MU[arm, :t] + shift + e
    u = rng.random((n, t))
    dropout = dropout_visit(own, u, intercept)
    full = own
    if j2r:
        post = (np.arange(t)[None, :] >= dropout[:, None]) & (arm == 1)[:, None]
        full = np.where(post, MU[0, :t] + shift + e, own)
    chg = np.where(np.arange(t)[None, :] < dropout[:, None], full, np.nan)
    return Trial(chg, full, arm, base)


def dropout_visit(own: np.ndarray, u: np.ndarray, intercept: float) -> np.ndarray:
    """The first unobserved visit of every subject (t for completers), from uniforms ``u``."""
    n, t = own.shape
    dropout = np.full(n, t)
    for j in range(1, t):
        h = 1 / (1 + np.exp(-(intercept + DROP_SLOPE * (own[:, j - 1] - DROP_CENTRE))))
        newly = (dropout == t) & (u[:, j] < h)
        dropout[newly] = j
    return dropout


def completer_rate(t: int, intercept: float, arm: int, n: int = 4_000_000,
                   seed: int = 99) -> float:
    """P(completer) in ``arm`` under the dropout model, by simulation of ``n`` subjects."""
    rng = np.random.default_rng(seed)
    base = rng.normal(BASE_MEAN, BASE_SD, n)
    chol = np.linalg.cholesky(SIGMA[:t, :t])
    own = (MU[arm, :t] + GAMMA[:t] * (base - BASE_MEAN)[:, None]
           + rng.standard_normal((n, t)) @ chol.T)
    return float(np.mean(dropout_visit(own, rng.random((n, t)), intercept) == t))


def j2r_truth(t: int, intercept: float) -> tuple[float, float]:
    """The J2R estimand at visit t and its Monte Carlo SE (from P(completer | active))."""
    n = 4_000_000
    pi = completer_rate(t, intercept, 1, n)
    delta = MU[1, t - 1] - MU[0, t - 1]
    return pi * delta, abs(delta) * np.sqrt(pi * (1 - pi) / n)


def designs(arm: np.ndarray, base: np.ndarray, t: int):
    """(x_arm (2, n, t, p), z (n, 3), L (3, 3)): the imputation MMRM's design per arm
    (treatment*visit + base*visit), the ANCOVA's design (treatment + base) and the rows of
    the two LS means (base at its mean) and their difference active - reference."""
    n = len(arm)
    tc = effect_codes(2)
    mspec = ModelSpec("y", ("trt", "visit"), ("base",), (("trt", "visit"), ("base", "visit")))
    rows = {"visit": np.tile(effect_codes(t), (n, 1))}
    x_arm = np.stack([build_columns(mspec, {**rows, "trt": np.repeat(tc[[a]], n * t, axis=0)},
                                    {"base": np.repeat(base, t)}).reshape(n, t, -1)
                      for a in range(2)])
    aspec = ModelSpec("y", ("trt",), ("base",))
    z = build_columns(aspec, {"trt": tc[arm]}, {"base": base})
    big_l = np.vstack([build_columns(aspec, {"trt": tc[[a]]}, {"base": np.array([base.mean()])})
                       for a in range(2)])
    return x_arm, z, np.vstack([big_l, big_l[1] - big_l[0]])


def wide(trial: Trial, reference: int = 0) -> tuple[Wide, np.ndarray]:
    """The ``Wide`` data of a trial and its L matrix."""
    x_arm, z, big_l = designs(trial.arm, trial.base, trial.chg.shape[1])
    return Wide(trial.chg, trial.arm, x_arm, z, reference), big_l
