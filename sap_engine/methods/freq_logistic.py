"""Binary logistic regression by Newton-Raphson (= Fisher scoring for the logit link), as SAS
PROC LOGISTIC: maximum likelihood estimates, Wald chi-square tests and odds ratios with Wald
confidence limits.

Each iteration solves the weighted least-squares problem of IRLS through a QR factorization
of sqrt(W) X (never forming X'WX), and the covariance of the estimates is R^-1 R^-T from the
final factorization. Iteration stops when SAS's relative gradient criterion
g' H^-1 g / (|log L| + 1e-6) falls below 1e-8 *and* the estimates have settled (1e-10).

Before fitting, complete or quasi-complete separation is detected exactly (Albert & Anderson
1984): the data are separated when some beta != 0 has (2y - 1) x'beta >= 0 for every
observation, a linear programme. The maximum likelihood estimates then do not exist; SAS
prints a warning and the last iteration, here the analysis fails with SAP469 naming it.

>>> import numpy as np
>>> x = np.column_stack([np.ones(6), [1., 2, 3, 4, 5, 6]])
>>> fit = logistic_fit(x, np.array([0., 1, 0, 1, 0, 1]), ("Intercept", "x"))
>>> round(float(fit.coef[1]), 6)
0.361321
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods import registry as clauses  # the plan clauses feeding options
from sap_engine.methods.freq_table import chi2_sf, label, ordered_levels, z_quantile
from sap_engine.methods.inputs import refuse_infinite_columns
from sap_engine.methods.registry import Evidence, OptionSpec, RoleSpec, Stat, register

_T = "tests/methods/test_freq.py"


@dataclass(frozen=True)
class LogisticFit:
    """Maximum likelihood fit: per parameter estimate, SE, Wald chi-square and p-value."""

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    wald_chisq: np.ndarray
    p_value: np.ndarray
    neg2_log_likelihood: float
    iterations: int

    def odds_ratio(self, j: int, level: float = 0.95) -> tuple[float, float, float]:
        """exp(beta_j) with its Wald limits exp(beta_j -/+ z SE_j)."""
        half = z_quantile(level) * float(self.se[j])
        b = float(self.coef[j])
        return math.exp(b), math.exp(b - half), math.exp(b + half)


def separation(x: np.ndarray, y: np.ndarray) -> str | None:
    """'complete', 'quasi-complete' or None (overlap: the MLE exists). X of full rank."""
    from scipy.optimize import linprog

    s = 2.0 * y - 1.0
    scale = np.abs(x).max(0)
    a = (s[:, None] * x) / np.where(scale > 0, scale, 1.0)
    p = x.shape[1]
    # Maximise sum_i s_i x_i'b subject to s_i x_i'b >= 0 and |b| <= 1: > 0 iff separated.
    res = linprog(-a.sum(0), A_ub=-a, b_ub=np.zeros(len(a)), bounds=[(-1, 1)] * p,
                  method="highs")
    if res.status != 0 or -res.fun <= 1e-7 * len(a):
        return None
    # Complete when a strictly positive margin t is possible for every observation.
    cost = np.zeros(p + 1)
    cost[-1] = -1.0
    res2 = linprog(cost, A_ub=np.column_stack([-a, np.ones(len(a))]), b_ub=np.zeros(len(a)),
                   bounds=[(-1, 1)] * p + [(None, 1)], method="highs")
    return "complete" if res2.status == 0 and -res2.fun > 1e-9 else "quasi-complete"


def logistic_fit(x: np.ndarray, y: np.ndarray, names: tuple[str, ...],
                 max_iter: int = 50) -> LogisticFit:
    """Fit logit P(y = 1) = X beta (X includes the intercept column)."""
    n, p = x.shape
    if np.linalg.matrix_rank(x) < p:
        raise MethodError("SAP470", "the logistic model is not of full rank: "
                                    f"{_aliased(x, names)} is a combination of the other terms")
    kind = separation(x, y)
    if kind:
        raise MethodError("SAP469", f"{kind} separation of the data points: the maximum "
                                    "likelihood estimates do not exist (SAS warns and shows "
                                    "the last iteration); remove or combine the separating "
                                    "terms")
    beta = np.zeros(p)
    beta[0] = math.log(y.mean() / (1 - y.mean()))  # the intercept-only fit as a start
    iterations = 0
    while True:
        iterations += 1
        eta = x @ beta
        mu = 1.0 / (1.0 + np.exp(-eta))
        sw = np.sqrt(np.clip(mu * (1 - mu), 1e-300, None))
        q, r = np.linalg.qr(sw[:, None] * x)
        step = np.linalg.solve(r, q.T @ ((y - mu) / sw))  # IRLS step, no X'WX formed
        loglik = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        criterion = float((x.T @ (y - mu)) @ step) / (abs(loglik) + 1e-6)  # SAS GCONV
        beta = beta + step
        if criterion < 1e-8 and np.max(np.abs(step) / (1 + np.abs(beta))) < 1e-10:
            break
        if iterations == max_iter:
            raise MethodError("SAP470", f"logistic regression did not converge in "
                                        f"{max_iter} iterations")
    eta = x @ beta
    mu = 1.0 / (1.0 + np.exp(-eta))
    _, r = np.linalg.qr(np.sqrt(mu * (1 - mu))[:, None] * x)
    r_inv = np.linalg.inv(r)
    se = np.sqrt(np.sum(r_inv ** 2, axis=1))
    wald = (beta / se) ** 2
    loglik = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    return LogisticFit(tuple(names), beta, se, wald, np.array([chi2_sf(v, 1) for v in wald]),
                       -2.0 * loglik, iterations)


def _aliased(x: np.ndarray, names: tuple[str, ...]) -> str:
    from scipy.linalg import qr

    _, r, piv = qr(x, mode="economic", pivoting=True)
    rank = int(np.sum(np.abs(np.diag(r)) > 1e-10 * abs(r[0, 0])))
    return ", ".join(f"'{names[j]}'" for j in piv[rank:])


# --- design matrix and the plan-facing method -------------------------------------------

def _tuple(value) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def design(frame, roles: Mapping[str, Any], options: Mapping[str, Any]):
    """(X, y, parameter names, odds-ratio labels by parameter index, n, events)."""
    response = roles["response"]
    response = response[0] if isinstance(response, (tuple, list)) else response
    factors = _tuple(roles.get("treatment")) + _tuple(roles.get("factors"))
    covariates = _tuple(roles.get("covariates"))
    cols = [response, *factors, *covariates]
    refuse_infinite_columns(frame, cols)
    data = frame[list(dict.fromkeys(cols))].dropna()
    if len(data) == 0:
        raise MethodError("SAP466", "no complete observations for the logistic model")
    levels, labels, _ = ordered_levels(data[response])
    if len(levels) != 2:
        raise MethodError("SAP468", f"the response '{response}' must have exactly 2 levels; "
                                    f"it has {labels}")
    event = str(options.get("event") or labels[0])
    if event not in labels:
        raise MethodError("SAP468", f"event level '{event}' is not a level of '{response}' "
                                    f"{labels}")
    y = np.array([label(v) == event for v in data[response].tolist()], dtype=float)
    columns, names, or_labels = [np.ones(len(data))], ["Intercept"], {}
    treatment = _tuple(roles.get("treatment"))
    for f in factors:
        lev, lab, _ = ordered_levels(data[f])
        ref = lab[-1]  # SAS REF=LAST
        wanted = str(options.get("reference") or "")
        if f in treatment and wanted:
            if wanted not in lab:
                raise MethodError("SAP468", f"reference level '{wanted}' is not a level of "
                                            f"'{f}' {lab}")
            ref = wanted
        text = [label(v) for v in data[f].tolist()]
        for lb in lab:
            if lb != ref:
                or_labels[len(names)] = f"{f} {lb} vs {ref}"
                names.append(f"{f} {lb}")
                columns.append(np.array([t == lb for t in text], dtype=float))
    for c in covariates:
        or_labels[len(names)] = c
        names.append(c)
        columns.append(data[c].to_numpy(dtype=float))
    return np.column_stack(columns), y, tuple(names), or_labels, len(data), int(y.sum())


@register(
    "logistic", family="freq",
    label="Binary logistic regression",
    summary="Binary logistic regression (maximum likelihood): estimates, SEs, Wald chi-square "
            "tests and odds ratios with Wald CIs (SAS PROC LOGISTIC).",
    roles=(RoleSpec("response", "category", doc="the binary outcome"),
           RoleSpec("treatment", "category", required=False, doc="the arms (a class term)"),
           RoleSpec("factors", "category", many=True, required=False, doc="class terms"),
           RoleSpec("covariates", "numeric", many=True, required=False, doc="continuous terms")),
    options=(
        OptionSpec("event", "string", "", "the response level whose probability is modelled "
                   "(default: the first level in sorted order, as SAS; name it explicitly)"),
        OptionSpec("reference", "string", "", "reference arm of the treatment (defaults to the "
                   "plan's reference arm); other class terms use their last level (SAS REF=LAST)",
                   clause=clauses.TREATMENT_REFERENCE),
        OptionSpec("ci_level", "number", 0.95, "confidence level of the odds ratios", minimum=0.5,
                   maximum=0.999),
    ),
    conventions=(
        "Class terms are reference-coded (SAS PARAM=REF, last level the reference unless "
        "`reference`); odds ratios of a class term are level vs reference, of a covariate "
        "per unit: the same as SAS's Odds Ratio Estimates table (whose values do not depend "
        "on PARAM=).",
        "Wald chi-square (estimate / SE)^2 with 1 df; odds-ratio limits exp(beta -/+ z SE). "
        "Observations with a missing model variable are dropped.",
        "Complete or quasi-complete separation is detected exactly (linear programme) and "
        "fails the analysis (SAP469): the estimates would not exist.",
    ),
    evidence=(
        Evidence("Dobson & Barnett, Introduction to GLMs: beetle mortality (Bliss 1935) "
                 "logit fit -60.72 (SE 5.18), 34.27 (SE 2.91)", "5e-3",
                 f"{_T}::test_logistic_beetles"),
        Evidence("statsmodels Logit (second algorithm) on the SAS Neuralgia data with class "
                 "and continuous terms", "1e-6", f"{_T}::test_logistic_matches_statsmodels"),
    ),
    stats=("n", "estimate", "se", "chisq", "df", "p_value", "odds_ratio", "ci_lower",
           "ci_upper"),
)
def logistic(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    x, y, names, or_labels, n, events = design(frame, roles, options)
    if events in (0, n):
        raise MethodError("SAP468", "the response has only one level among the complete "
                                    "observations")
    fit = logistic_fit(x, y, names)
    level = options.get("ci_level", 0.95)
    out = [Stat("n", float(n)), Stat("n", float(events), variable_level="events")]
    for j, name in enumerate(names):
        out += [Stat("estimate", float(fit.coef[j]), variable_level=name),
                Stat("se", float(fit.se[j]), variable_level=name),
                Stat("chisq", float(fit.wald_chisq[j]), variable_level=name,
                     stat_label="Wald Chi-Square"),
                Stat("df", 1.0, variable_level=name),
                Stat("p_value", float(fit.p_value[j]), variable_level=name)]
    for j, text in or_labels.items():
        est, lo, hi = fit.odds_ratio(j, level)
        out += [Stat("odds_ratio", est, variable_level=text),
                Stat("ci_lower", lo, variable_level=text),
                Stat("ci_upper", hi, variable_level=text)]
    return out
