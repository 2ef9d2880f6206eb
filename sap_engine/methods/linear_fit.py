"""Least-squares fits of fixed-effects linear models, Type III tests and single coefficients.

Numerics: the design (see :mod:`sap_engine.methods.linear_design`) is scaled to unit-length
columns and factored by a column-pivoted Householder QR (LAPACK ``geqp3`` via SciPy); the
coefficients solve ``R b = Q'y`` and the unscaled covariance is ``R^-1 R^-T``, never the
normal equations ``(X'X)^-1 X'y``, which square the condition number (the NIST StRD Wampler
and Longley problems lose most of their digits that way).

Missing values: a row with any missing model variable (response, factor or covariate) is
dropped, as SAS GLM does; the fit records the rows used (``n``) and dropped. An infinite
value is not missing: it is refused (SAP471) rather than dropped with the missing ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.inputs import refuse_infinite
from sap_engine.methods.linear_design import (
    ModelSpec,
    Term,
    build_columns,
    check_rank,
    effect_codes,
    level_label,
    sorted_levels,
    term_layout,
)


@dataclass(frozen=True)
class LinearFit:
    """A fitted linear model (effect-coded parametrisation; see linear_design)."""

    spec: ModelSpec
    levels: Mapping[str, tuple[str, ...]]  # factor -> level labels in model order
    terms: tuple[Term, ...]
    column_names: tuple[str, ...]
    coef: np.ndarray
    cov_unscaled: np.ndarray  # (X'X)^-1, from R^-1 R^-T
    sigma: float  # SAS "Root MSE": sqrt(RSS / df_resid)
    df_resid: int
    n: int  # rows used
    n_dropped: int  # rows dropped for a missing model variable
    rss: float
    r_squared: float
    covariate_means: Mapping[str, float]  # over the rows used
    codes: Mapping[str, np.ndarray]  # factor -> level index of each row used
    # factor -> level index of each row whose *independent* variables are all present
    # (SAS computes observed margins from these rows, response missing or not).
    margin_codes: Mapping[str, np.ndarray]
    # Uncentred sum of squares of the response over the rows used: the scale against
    # which a residual sum of squares counts as zero (an exact fit, see ``exact_fit``).
    y_sumsq: float = math.nan

    @property
    def exact_fit(self) -> bool:
        """True when the residuals vanish (residual SD below 1e-12 of the response's RMS).

        Then sigma is 0 (or rounding noise) and every t and F statistic is infinite or
        arbitrary: a constant response, such as a change from baseline at the baseline
        visit, or a response that is an exact function of the model's terms.
        """
        return not self.rss > 1e-24 * self.y_sumsq

    @property
    def cov(self) -> np.ndarray:
        """Covariance matrix of the coefficients, sigma^2 (X'X)^-1."""
        return self.sigma ** 2 * self.cov_unscaled

    @property
    def rmse(self) -> float:
        """Root mean squared residual sqrt(RSS / n) (``sigma`` divides by the residual df)."""
        return math.sqrt(self.rss / self.n)

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    def column(self, name: str) -> int:
        """Index of a design column by name (a covariate's name is its column's name)."""
        try:
            return self.column_names.index(name)
        except ValueError:
            raise MethodError("SAP430", f"model has no coefficient '{name}' (columns: "
                                        f"{', '.join(self.column_names)})") from None


@dataclass(frozen=True)
class TermTest:
    """A Type III F test of one model term."""

    term: str
    num_df: int
    den_df: int
    f_value: float
    p_value: float


@dataclass(frozen=True)
class CoefficientTest:
    """Estimate, SE, t (or z) test and CI of one coefficient."""

    term: str
    estimate: float
    se: float
    df: int
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float


def critical_value(ci_level: float, df: float, quantile: str = "t") -> float:
    """Two-sided critical value: Student t with ``df`` or standard normal."""
    # scipy.special directly: the same functions scipy.stats wraps, without its overhead.
    from scipy.special import ndtri, stdtrit

    upper = 0.5 + ci_level / 2
    return float(ndtri(upper) if quantile == "normal" else stdtrit(df, upper))


def two_sided_p(statistic: float, df: float) -> float:
    """Two-sided p-value of a t statistic with ``df`` degrees of freedom.

    Tests are always t-based with the residual df (exact for the normal linear model);
    ``quantile='normal'`` changes confidence limits only, as in CDISC Table 14-3.02, whose
    difference CI used 1.96 while its p-value (0.822) is the t-test's (z would give 0.821).
    """
    from scipy.special import stdtr

    return float(2 * stdtr(df, -abs(statistic)))


def fit_linear(frame, spec: ModelSpec,
               levels: Mapping[str, Sequence[str]] | None = None) -> LinearFit:
    """Fit ``spec`` to the rows of ``frame`` with no missing model variable.

    ``levels`` gives the level order of some factors (every listed level must have rows);
    other factors take their sorted distinct values (numbers by value), as SAS does.

    >>> import pandas as pd
    >>> d = pd.DataFrame({"y": [1.0, 2, 4, 5], "g": ["a", "a", "b", "b"]})
    >>> round(fit_linear(d, ModelSpec("y", factors=("g",))).sigma, 6)
    0.707107
    """
    return fit_linear_many(frame, spec, [spec.response], levels)[spec.response]


def fit_linear_many(frame, spec: ModelSpec, responses: Sequence[str],
                    levels: Mapping[str, Sequence[str]] | None = None) -> dict[str, LinearFit]:
    """Fit every response in ``responses`` to the factors and covariates of ``spec``.

    Responses with the same rows used (the same missing pattern) share one design and one
    QR factorization, solved for all of them at once; each distinct missing pattern gets its
    own design. ``spec.response`` is ignored. Returns {response: fit} in the given order.
    """
    ModelSpec("", spec.factors, spec.covariates, spec.interactions).validate()  # the terms
    labels, numeric, covs, independent_ok = _independent_part(frame, spec)
    responses = list(dict.fromkeys(responses))
    ys = _numeric_columns(frame, responses, "response")
    groups: dict[bytes, list[str]] = {}
    for r in responses:
        if r in spec.factors or r in spec.covariates:
            raise MethodError("SAP420", f"response '{r}' is also a term of the model")
        used = independent_ok & np.isfinite(ys[r])
        groups.setdefault(used.tobytes(), []).append(r)
    fits: dict[str, LinearFit] = {}
    for names in groups.values():
        used = independent_ok & np.isfinite(ys[names[0]])
        y = np.column_stack([ys[r][used] for r in names])
        for r, fit in zip(names, _fit_rows(spec, labels, numeric, covs, independent_ok, used,
                                           y, names, levels or {})):
            fits[r] = fit
    return {r: fits[r] for r in responses}


def design_matrix(frame, spec: ModelSpec, levels: Mapping[str, Sequence[str]] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[str, ...]]]:
    """The design of ``spec`` over the rows of ``frame`` whose factors and covariates are all
    present: (X, the mask of those rows, the factor levels in model order). The columns are
    those :func:`fit_linear` fits (same coding, order and rank check), so a response given
    for these rows later (an imputed one) is fitted exactly as the ANCOVA would fit it."""
    ModelSpec("", spec.factors, spec.covariates, spec.interactions).validate()
    labels, numeric, covs, ok = _independent_part(frame, spec)
    if not ok.any():
        raise MethodError("SAP428", "no rows with all model variables present "
                                    f"({', '.join((*spec.factors, *spec.covariates))})")
    resolved = _resolve_levels(spec, labels, numeric, ok, levels or {})
    codes = {f: _codes(labels[f], resolved[f])[ok] for f in spec.factors}
    terms, column_names = term_layout(spec, resolved)
    x = build_columns(spec,
                      {f: effect_codes(len(resolved[f]))[codes[f]] for f in spec.factors},
                      {c: covs[c][ok] for c in spec.covariates})
    check_rank(x, terms, column_names)
    return x, ok, {f: tuple(v) for f, v in resolved.items()}


def _independent_part(frame, spec: ModelSpec):
    """Factor labels (None when missing), covariate arrays, and complete-row mask."""
    import pandas as pd

    missing = [v for v in (*spec.factors, *spec.covariates) if v not in frame.columns]
    if missing:
        raise MethodError("SAP424", f"model variable '{missing[0]}' is not a column of the "
                                    "analysis data")
    n = len(frame)
    ok = np.ones(n, dtype=bool)
    labels, numeric = {}, {}
    for f in spec.factors:
        series = frame[f]
        present = ~pd.isna(series).to_numpy(dtype=bool)
        labels[f] = _labels(series.to_numpy()[present], present)
        # SAS orders numeric class values by value and character ones as text ("10" < "9").
        numeric[f] = pd.api.types.is_numeric_dtype(series) and \
            not pd.api.types.is_bool_dtype(series)
        ok &= present
    covs = _numeric_columns(frame, spec.covariates, "covariate")
    for values in covs.values():
        ok &= np.isfinite(values)
    return labels, numeric, covs, ok


def _labels(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Level labels per row (None where missing), labelling each distinct value once."""
    out = np.full(len(present), None, dtype=object)
    try:
        distinct, inverse = np.unique(values, return_inverse=True)
    except TypeError:  # values of mixed types: no common order, label row by row
        out[present] = [level_label(v) for v in values]
        return out
    out[present] = np.array([level_label(v) for v in distinct], dtype=object)[inverse]
    return out


def _codes(labels: np.ndarray, levels: tuple[str, ...]) -> np.ndarray:
    """Level index of each label (-1 for a label that is not a level, or missing)."""
    import pandas as pd

    return np.asarray(pd.Categorical(labels, categories=list(levels)).codes, dtype=int)


def _numeric_columns(frame, columns: Sequence[str], role: str) -> dict[str, np.ndarray]:
    """Float arrays (NaN for missing) of numeric columns, read as one block."""
    import pandas as pd

    columns = list(columns)
    dtypes = frame.dtypes  # a Series built per access: fetch it once
    for column in columns:
        if column not in frame.columns:
            raise MethodError("SAP424", f"model variable '{column}' is not a column of the "
                                        "analysis data")
        dtype = dtypes[column]
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            example = frame[column].dropna().astype(str).iloc[:1].tolist()
            raise MethodError("SAP425", f"{role} '{column}' must be numeric (it has values "
                                        f"such as {example})")
    if not columns:
        return {}
    block = frame[columns].to_numpy(dtype=float, na_value=np.nan)
    refuse_infinite(block, columns, frame.index, role)
    return {c: block[:, j] for j, c in enumerate(columns)}


def _resolve_levels(spec: ModelSpec, labels, numeric, used,
                    given) -> dict[str, tuple[str, ...]]:
    out = {}
    for f in spec.factors:
        present = labels[f][used]
        if f in given and given[f]:
            order = tuple(str(x) for x in given[f])
            extra = sorted(set(present) - set(order))
            if extra:
                raise MethodError("SAP426", f"factor '{f}' has value '{extra[0]}' not among "
                                            f"its listed levels ({', '.join(order)})")
            empty = [lev for lev in order if lev not in set(present)]
            if empty:
                raise MethodError("SAP427", f"level '{empty[0]}' of '{f}' has no observations "
                                            "with all model variables present")
        else:
            order = tuple(sorted_levels(present, numeric[f]))
        out[f] = order
    return out


def _fit_rows(spec, labels, numeric, covs, independent_ok, used, y, names,
              given) -> list[LinearFit]:
    """Fit the responses ``names`` (columns of ``y``) on the rows ``used``."""
    from scipy.linalg import lapack, qr

    n = int(used.sum())
    if n == 0:
        raise MethodError("SAP428", f"no rows with all model variables present "
                                    f"({', '.join((names[0], *spec.factors, *spec.covariates))})")
    levels = _resolve_levels(spec, labels, numeric, used, given)
    all_codes = {f: _codes(labels[f], levels[f]) for f in spec.factors}
    codes = {f: all_codes[f][used] for f in spec.factors}
    margin = independent_ok.copy()
    for f in spec.factors:  # a row whose level is not in the model carries no margin weight
        margin &= all_codes[f] >= 0
    margin_codes = {f: all_codes[f][margin] for f in spec.factors}
    terms, column_names = term_layout(spec, levels)
    x = build_columns(spec,
                      {f: effect_codes(len(levels[f]))[codes[f]] for f in spec.factors},
                      {c: covs[c][used] for c in spec.covariates})
    check_rank(x, terms, column_names)
    norms = np.linalg.norm(x, axis=0)
    q, r, piv = qr(x / norms, mode="economic", pivoting=True)
    p = x.shape[1]
    coef = np.empty((p, y.shape[1]))
    # LAPACK trtrs directly: scipy's solve_triangular wrapper costs milliseconds here.
    coef[piv], _ = lapack.dtrtrs(r, q.T @ y, lower=0)
    coef /= norms[:, None]
    r_inv, _ = lapack.dtrtri(r, lower=0)  # R^-1 (LAPACK trtri; R is nonsingular here)
    cov = np.empty((p, p))
    cov[np.ix_(piv, piv)] = r_inv @ r_inv.T
    cov /= np.outer(norms, norms)
    resid = y - x @ coef
    rss = np.einsum("ij,ij->j", resid, resid)
    centred = y - y.mean(axis=0)
    tss = np.einsum("ij,ij->j", centred, centred)
    df = n - p
    means = {c: float(covs[c][used].mean()) for c in spec.covariates}
    fits = []
    for j, name in enumerate(names):
        fits.append(LinearFit(
            spec=ModelSpec(name, spec.factors, spec.covariates, spec.interactions),
            levels=levels, terms=terms, column_names=column_names, coef=coef[:, j].copy(),
            cov_unscaled=cov, sigma=math.sqrt(rss[j] / df), df_resid=df, n=n,
            n_dropped=int(len(used) - n), rss=float(rss[j]),
            r_squared=float(1 - rss[j] / tss[j]) if tss[j] > 0 else math.nan,
            covariate_means=means, codes=codes, margin_codes=margin_codes,
            y_sumsq=float(y[:, j] @ y[:, j])))
    return fits


def type3(fit: LinearFit) -> tuple[TermTest, ...]:
    """Type III F test of every model term (terms with no column, a one-level factor, omitted).

    F = b_T' [Cov(b)_TT]^-1 b_T / df_T over the term's effect-coded columns. With sum-to-zero
    coding and no empty cells, this Wald test is the test of SAS GLM's Type III estimable
    function for the term (equal-weight hypotheses over the other factors' levels; a factor
    crossed with a covariate is tested at covariate = 0, as SAS does).
    """
    from scipy.special import fdtrc

    out = []
    for term in fit.terms:
        if term.df == 0:
            continue
        sl = slice(term.start, term.stop)
        b = fit.coef[sl]
        c = fit.cov_unscaled[sl, sl]
        # Cholesky solve of the (positive definite, full-rank fit) covariance block.
        chol = np.linalg.cholesky(c)
        z = np.linalg.solve(chol, b)
        f_value = float(z @ z) / term.df / fit.sigma ** 2 if fit.sigma > 0 else math.inf
        out.append(TermTest(term.name, term.df, fit.df_resid, f_value,
                            float(fdtrc(term.df, fit.df_resid, f_value))))
    return tuple(out)


def coefficient(fit: LinearFit, name: str, ci_level: float = 0.95,
                quantile: str = "t") -> CoefficientTest:
    """Estimate, SE, t test and CI (t or ``quantile='normal'`` limits) of coefficient ``name``."""
    j = fit.column(name)
    est, se = float(fit.coef[j]), float(fit.se[j])
    stat = est / se if se > 0 else math.copysign(math.inf, est)
    half = critical_value(ci_level, fit.df_resid, quantile) * se
    return CoefficientTest(name, est, se, fit.df_resid, stat,
                           two_sided_p(stat, fit.df_resid), est - half, est + half)


def dose_response(frame, response: str, dose: str, factors: Sequence[str] = (),
                  covariates: Sequence[str] = (), ci_level: float = 0.95,
                  quantile: str = "t") -> CoefficientTest:
    """Linear dose-response test: the dose enters as a continuous term; test its slope.

    (CDISC Pilot 01 Table 14-3.01: CHG ~ TRTPN + SITEGR1 + BASE, p-value of TRTPN.)
    """
    spec = ModelSpec(response, tuple(factors), (dose, *[c for c in covariates if c != dose]))
    return coefficient(fit_linear(frame, spec), dose, ci_level, quantile)
