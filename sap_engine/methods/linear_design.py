"""Design matrices of fixed-effects linear models: class levels, effect coding, aliasing.

A model is a response, class variables (factors), continuous covariates and interaction
terms. The design is built with *effect (sum-to-zero) coding*: a factor with levels
``L1..Lk`` gets ``k - 1`` columns, column ``j`` being 1 for ``Lj``, -1 for ``Lk`` and 0
otherwise; an interaction's columns are the products of its members' columns (a covariate
contributes its raw, uncentred values). This parametrisation is full rank whenever the model
is estimable, and the Wald test of a term's columns is then SAS GLM's Type III test
(see :func:`sap_engine.methods.linear_fit.type3`).

Rank deficiency is detected on the design with every column scaled to unit length (so the
test does not depend on the units of a covariate) by a column-pivoted Householder QR: a
pivot ``|R_kk| < RANK_TOL`` means the remaining columns lie, to that relative precision,
in the span of the columns already chosen (the same relative criterion as R's ``lm``,
``tol = 1e-7``). The aliased term is then named in model order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError

# Relative pivot tolerance on the unit-length-column design (R lm's default tol).
RANK_TOL = 1e-7


@dataclass(frozen=True)
class ModelSpec:
    """A fixed-effects linear model: ``response ~ factors + covariates + interactions``.

    >>> ModelSpec("CHG", factors=("TRT", "SITE"), covariates=("BASE",)).variables
    ('CHG', 'TRT', 'SITE', 'BASE')
    """

    response: str
    factors: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()
    interactions: tuple[tuple[str, ...], ...] = ()

    @property
    def variables(self) -> tuple[str, ...]:
        """Every column the model reads, response first."""
        return (self.response, *self.factors, *self.covariates)

    @property
    def terms(self) -> tuple[tuple[str, ...], ...]:
        """Model terms in SAS order: main effects (factors, covariates), then interactions."""
        return tuple((v,) for v in (*self.factors, *self.covariates)) + self.interactions

    def validate(self) -> None:
        """Raise MethodError for a spec that names a variable twice or an unknown member."""
        main = (*self.factors, *self.covariates)
        if len(set(main)) != len(main) or self.response in main:
            raise MethodError("SAP420", f"model names a variable twice: {self.response} ~ "
                                        f"{' + '.join(main)}")
        for term in self.interactions:
            unknown = [v for v in term if v not in main]
            if unknown or len(term) < 2 or len(set(term)) != len(term):
                raise MethodError("SAP421", f"interaction '{'*'.join(term)}' must combine two "
                                            "or more distinct main-effect variables of the "
                                            f"model (not: {', '.join(unknown) or 'repeated'})")


def term_name(term: Sequence[str]) -> str:
    """``('TRT', 'SITE')`` -> ``'TRT*SITE'`` (SAS effect notation)."""
    return "*".join(term)


@dataclass(frozen=True)
class Term:
    """One model term and the design columns ``start:stop`` that carry it."""

    name: str
    variables: tuple[str, ...]
    start: int
    stop: int

    @property
    def df(self) -> int:
        return self.stop - self.start


def level_label(value) -> str:
    """Display label of a class value: integral floats print without '.0' (54.0 -> '54')."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


def sorted_levels(values, numeric: bool | None = None) -> list[str]:
    """Distinct labels in SAS's default order: numeric values by value, text as text.

    ``numeric=None`` decides from the values (numbers, or labels that all parse as numbers).
    """
    distinct = list(dict.fromkeys(values))
    if numeric is None:
        numeric = all(isinstance(v, (int, float, np.number)) for v in distinct)
    try:
        distinct.sort(key=float if numeric else str)
    except (TypeError, ValueError):
        distinct.sort(key=str)
    return list(dict.fromkeys(level_label(v) for v in distinct))


def effect_codes(k: int) -> np.ndarray:
    """The k x (k-1) sum-to-zero coding matrix (row i codes level i)."""
    codes = np.zeros((k, max(k - 1, 0)))
    if k > 1:
        codes[: k - 1] = np.eye(k - 1)
        codes[k - 1] = -1.0
    return codes


def build_columns(spec: ModelSpec, factor_rows: Mapping[str, np.ndarray],
                  covariate_values: Mapping[str, np.ndarray]) -> np.ndarray:
    """Design rows from per-row factor code vectors and covariate values.

    ``factor_rows[f]`` is an ``m x (k_f - 1)`` array (for data rows: the effect-code rows of
    the observed levels; for an LS-mean: any average of code rows); ``covariate_values[c]``
    has length m. Because every column is a product of one entry per member variable, the
    design row is multilinear in these inputs, which is what lets LS-means average code
    vectors instead of enumerating a grid of cells.
    """
    m = len(next(iter(covariate_values.values()))) if covariate_values else \
        len(next(iter(factor_rows.values()))) if factor_rows else 1
    blocks = [np.ones((m, 1))]
    for term in spec.terms:
        block = np.ones((m, 1))
        for v in term:
            part = factor_rows[v] if v in factor_rows else covariate_values[v][:, None]
            # Row-wise Kronecker product: every column of block times every column of part.
            block = (block[:, :, None] * part[:, None, :]).reshape(m, -1)
        blocks.append(block)
    return np.hstack(blocks)


def term_layout(spec: ModelSpec, levels: Mapping[str, Sequence[str]]
                ) -> tuple[tuple[Term, ...], tuple[str, ...]]:
    """The terms with their column ranges, and one readable name per design column."""
    names = ["Intercept"]
    terms = []
    for term in spec.terms:
        parts = [[f"{v}[{lev}]" for lev in levels[v][:-1]] if v in levels else [v]
                 for v in term]
        cols = [""]
        for part in parts:
            cols = [f"{a}:{b}" if a else b for a in cols for b in part]
        terms.append(Term(term_name(term), tuple(term), len(names), len(names) + len(cols)))
        names.extend(cols)
    return tuple(terms), tuple(names)


def check_rank(x: np.ndarray, terms: Sequence[Term], names: Sequence[str]) -> None:
    """Raise MethodError naming the aliased term when ``x`` is rank deficient."""
    from scipy.linalg import qr

    n, p = x.shape
    if n <= p:
        raise MethodError("SAP422", f"too few observations for the model: {n} rows used for "
                                    f"{p} parameters (no residual degrees of freedom)")
    norms = np.linalg.norm(x, axis=0)
    scaled = x / np.where(norms > 0, norms, 1.0)
    r = qr(scaled, mode="r", pivoting=True)[0]
    diag = np.abs(np.diag(r))
    if np.all(norms > 0) and diag.min() >= RANK_TOL * diag.max():
        return
    raise MethodError("SAP423", _aliasing_message(scaled, norms, terms, names))


def _aliasing_message(scaled: np.ndarray, norms: np.ndarray, terms: Sequence[Term],
                      names: Sequence[str]) -> str:
    """The first column (in model order) lying in the span of the columns before it."""
    owner = ["Intercept"] + [t.name for t in terms for _ in range(t.df)]
    kept: list[int] = []
    for j in range(scaled.shape[1]):
        if norms[j] == 0:
            return (f"design is rank deficient: term {owner[j]} ({names[j]}) has no variation "
                    "in the rows used")
        if kept:
            basis = scaled[:, kept]
            coef, *_ = np.linalg.lstsq(basis, scaled[:, j], rcond=None)
            resid = np.linalg.norm(scaled[:, j] - basis @ coef)
            if resid < RANK_TOL * 10:
                big = np.abs(coef) > 1e-6 * np.abs(coef).max()
                partners = list(dict.fromkeys(owner[kept[i]] for i in np.flatnonzero(big)))
                what = (f"term {owner[j]}" if owner[j] == names[j]
                        else f"term {owner[j]} ({names[j]})")
                return (f"design is rank deficient: {what} is aliased with "
                        f"{', '.join(partners)}: drop a term or a level without rows")
        kept.append(j)
    return "design is rank deficient (numerically collinear columns)"
