"""Residual covariance structures of the MMRM: the visit-by-visit matrix of one subject.

Each structure has two parametrisations:
- ``theta``, unconstrained, that the optimiser moves in; every value gives a positive
  definite matrix (log-Cholesky for UN; log variances; correlations through ``tanh`` or a
  logistic map onto their admissible interval; Toeplitz correlations through their partial
  autocorrelations, the Durbin-Levinson recursion, so any theta is a valid Toeplitz matrix);
- ``phi``, the covariance parameters as SAS PROC MIXED prints them (``UN(2,1)``, ``CS`` and
  ``Residual``, ``AR(1)``, ``Var(1)``...), in which the estimates are reported and in
  which the Satterthwaite and Kenward-Roger computations are done (Kenward-Roger is not
  invariant to the parametrisation; SAS's is the one its numbers refer to).

Derivatives of the matrix with respect to either are taken by the *complex step*
(``Im f(x + i h) / h`` with h = 1e-30): every map here is complex-analytic (exp, tanh,
sqrt, products, the recursion), so the result is exact to rounding, with no step-size error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

STRUCTURES = ("unstructured", "cs", "ar1", "toeplitz", "csh", "arh1", "toeph")
_H = 1e-30  # complex step


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def _rho_cs(z, t: int):
    """Onto (-1/(t-1), 1): the correlations for which compound symmetry is definite."""
    low = -1.0 / (t - 1) if t > 1 else -1.0
    return low + (1.0 - low) * _logistic(z)


def _inv_rho_cs(rho: float, t: int) -> float:
    low = -1.0 / (t - 1) if t > 1 else -1.0
    u = min(max((rho - low) / (1.0 - low), 1e-6), 1 - 1e-6)
    return float(np.log(u / (1 - u)))


def _pacf_to_acf(pacf):
    """Durbin-Levinson: partial autocorrelations in (-1, 1) -> autocorrelations r_1..r_k."""
    k = len(pacf)
    r = []
    phi = []
    for j in range(k):
        a = pacf[j]
        if j == 0:
            phi = [a]
            r.append(a)
            continue
        rj = sum(phi[i] * r[j - 1 - i] for i in range(j)) + a * (
            1 - sum(phi[i] * r[i] for i in range(j)))
        phi = [phi[i] - a * phi[j - 1 - i] for i in range(j)] + [a]
        r.append(rj)
    return r


def _acf_to_pacf(r: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_pacf_to_acf` (for starting values)."""
    k = len(r)
    out = np.zeros(k)
    for j in range(1, k + 1):
        toe = np.array([[1.0 if a == b else r[abs(a - b) - 1] for b in range(j)]
                        for a in range(j)])
        sol = np.linalg.solve(toe, r[:j])
        out[j - 1] = sol[-1]
    return np.clip(out, -0.99, 0.99)


def _toeplitz_of(values, t: int):
    """The t x t matrix with values[|i-j|] (complex-safe)."""
    idx = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
    return np.asarray(values)[idx]


@dataclass(frozen=True)
class Structure:
    """One covariance structure for t visits."""

    name: str
    t: int
    names: tuple[str, ...]  # phi parameter names, SAS order
    theta_to_phi: Callable
    sigma_of_phi: Callable
    start: Callable  # moment estimate of the t x t covariance -> theta

    @property
    def k(self) -> int:
        return len(self.names)

    def sigma(self, theta: np.ndarray) -> np.ndarray:
        return np.real(self.sigma_of_phi(self.theta_to_phi(theta)))

    def d_sigma_theta(self, theta: np.ndarray) -> np.ndarray:
        """(k, t, t): the derivative of the matrix with respect to each theta."""
        return _complex_step(lambda x: self.sigma_of_phi(self.theta_to_phi(x)), theta)

    def d_sigma_phi(self, phi: np.ndarray) -> np.ndarray:
        return _complex_step(self.sigma_of_phi, phi)

    def d2_sigma_phi(self, phi: np.ndarray) -> np.ndarray:
        """(k, k, t, t) second derivatives: central differences of the exact first ones
        (zero, up to rounding, for the structures linear in phi: UN, CS, TOEP)."""
        k = len(phi)
        out = np.zeros((k, k, self.t, self.t))
        for j in range(k):
            h = 1e-5 * max(1.0, abs(phi[j]))
            up, down = phi.copy(), phi.copy()
            up[j] += h
            down[j] -= h
            out[:, j] = (self.d_sigma_phi(up) - self.d_sigma_phi(down)) / (2 * h)
        return 0.5 * (out + out.transpose(1, 0, 2, 3))


def _complex_step(f: Callable, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    out = []
    for j in range(len(x)):
        z = x.astype(complex)
        z[j] += 1j * _H
        out.append(np.imag(f(z)) / _H)
    return np.array(out)


def structure(name: str, t: int) -> Structure:
    """The structure ``name`` (one of :data:`STRUCTURES`) over ``t`` visits."""
    return _BUILDERS[name](t)


def _unstructured(t: int) -> Structure:
    rows, cols = np.tril_indices(t)
    names = tuple(f"UN({i + 1},{j + 1})" for i, j in zip(rows, cols, strict=True))

    def theta_to_phi(theta):
        chol = np.zeros((t, t), dtype=np.asarray(theta).dtype)
        chol[rows, cols] = theta
        d = np.arange(t)
        chol[d, d] = np.exp(chol[d, d])
        return (chol @ chol.T)[rows, cols]

    def sigma_of_phi(phi):
        s = np.zeros((t, t), dtype=np.asarray(phi).dtype)
        s[rows, cols] = phi
        s[cols, rows] = phi
        return s

    def start(s):
        chol = np.linalg.cholesky(s)
        chol[np.diag_indices(t)] = np.log(np.diag(chol))
        return chol[rows, cols]

    return Structure("unstructured", t, names, theta_to_phi, sigma_of_phi, start)


def _cs(t: int) -> Structure:
    def theta_to_phi(theta):
        total, rho = np.exp(theta[0]), _rho_cs(theta[1], t)
        return np.array([total * rho, total * (1 - rho)])

    def sigma_of_phi(phi):
        return phi[1] * np.eye(t) + phi[0] * np.ones((t, t))

    def start(s):
        total = float(np.mean(np.diag(s)))
        rho = float(np.mean(s[~np.eye(t, dtype=bool)])) / total if t > 1 else 0.0
        return np.array([np.log(total), _inv_rho_cs(rho, t)])

    return Structure("cs", t, ("CS", "Residual"), theta_to_phi, sigma_of_phi, start)


def _sds_rho(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sd = np.sqrt(np.diag(s))
    return sd, s / np.outer(sd, sd)


def _mean_lag_correlations(corr: np.ndarray) -> np.ndarray:
    t = len(corr)
    return np.array([np.mean(np.diag(corr, k)) for k in range(1, t)])


def _ar1(t: int, hetero: bool) -> Structure:
    name = "arh1" if hetero else "ar1"
    lags = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))

    def theta_to_phi(theta):
        rho = np.tanh(theta[-1])
        head = np.exp(theta[:-1])
        return np.concatenate([head, np.array([rho])]) if hetero else \
            np.array([rho, head[0]])

    def sigma_of_phi(phi):
        if hetero:
            sd, rho = np.sqrt(phi[:t]), phi[t]
            return np.outer(sd, sd) * rho ** lags
        return phi[1] * phi[0] ** lags

    def start(s):
        sd, corr = _sds_rho(s)
        rho = float(np.clip(_mean_lag_correlations(corr)[0], -0.9, 0.9)) if t > 1 else 0.0
        head = np.log(sd ** 2) if hetero else np.array([np.log(np.mean(sd ** 2))])
        return np.concatenate([head, [np.arctanh(rho)]])

    names = (*[f"Var({i + 1})" for i in range(t)], "ARH(1)") if hetero else \
        ("AR(1)", "Residual")
    return Structure(name, t, names, theta_to_phi, sigma_of_phi, start)


def _csh(t: int) -> Structure:
    def theta_to_phi(theta):
        return np.concatenate([np.exp(theta[:t]), np.array([_rho_cs(theta[t], t)])])

    def sigma_of_phi(phi):
        sd, rho = np.sqrt(phi[:t]), phi[t]
        return np.outer(sd, sd) * (rho + (1 - rho) * np.eye(t))

    def start(s):
        sd, corr = _sds_rho(s)
        rho = float(np.mean(corr[~np.eye(t, dtype=bool)])) if t > 1 else 0.0
        return np.concatenate([np.log(sd ** 2), [_inv_rho_cs(rho, t)]])

    names = (*[f"Var({i + 1})" for i in range(t)], "CSH")
    return Structure("csh", t, names, theta_to_phi, sigma_of_phi, start)


def _toeplitz(t: int, hetero: bool) -> Structure:
    name = "toeph" if hetero else "toeplitz"

    def theta_to_phi(theta):
        head = np.exp(theta[:t]) if hetero else np.exp(theta[:1])
        r = _pacf_to_acf(list(np.tanh(theta[len(head):])))
        if hetero:
            return np.concatenate([head, np.array(r, dtype=np.asarray(theta).dtype)])
        return np.array([*(head[0] * x for x in r), head[0]])

    def sigma_of_phi(phi):
        if hetero:
            sd = np.sqrt(phi[:t])
            corr = _toeplitz_of(np.concatenate([np.ones(1, dtype=np.asarray(phi).dtype),
                                                phi[t:]]), t)
            return np.outer(sd, sd) * corr
        return _toeplitz_of(np.concatenate([phi[-1:], phi[:-1]]), t)

    def start(s):
        sd, corr = _sds_rho(s)
        pacf = np.arctanh(_acf_to_pacf(np.clip(_mean_lag_correlations(corr), -0.9, 0.9)))
        head = np.log(sd ** 2) if hetero else np.array([np.log(np.mean(sd ** 2))])
        return np.concatenate([head, pacf])

    names = (*[f"Var({i + 1})" for i in range(t)],
             *[f"Corr({k + 1})" for k in range(t - 1)]) if hetero else \
        (*[f"TOEP({k + 1})" for k in range(1, t)], "Residual")
    return Structure(name, t, names, theta_to_phi, sigma_of_phi, start)


_BUILDERS: dict[str, Callable[[int], Structure]] = {
    "unstructured": _unstructured,
    "cs": _cs,
    "ar1": lambda t: _ar1(t, False),
    "arh1": lambda t: _ar1(t, True),
    "csh": _csh,
    "toeplitz": lambda t: _toeplitz(t, False),
    "toeph": lambda t: _toeplitz(t, True),
}
