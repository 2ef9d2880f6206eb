"""Agreement of two ratings: simple and weighted kappa with their ASEs, CIs and tests, and the
SAS PROC FREQ AGREE layout (both kappas and Bowker's symmetry test).

Formulas (SAS/STAT PROC FREQ, "Tests and Measures of Agreement"; Fleiss, Cohen & Everitt
1969), with p the cell proportions, p_i. and p_.j the margins and n the total:

- simple kappa k = (Po - Pe) / (1 - Pe), Po = sum p_ii, Pe = sum p_i. p_.i;
  var = [A + B - C] / ((1 - Pe)^2 n), A = sum_i p_ii (1 - (p_i. + p_.i)(1 - k))^2,
  B = (1 - k)^2 sum_{i != j} p_ij (p_.i + p_j.)^2, C = (k - Pe (1 - k))^2;
- weighted kappa with weights w_ij, Po = sum w p, Pe = sum w p_i. p_.j,
  var = [sum p_ij (w_ij - (wbar_i. + wbar_.j)(1 - k))^2 - (k - Pe (1 - k))^2] / ((1 - Pe)^2 n),
  wbar_i. = sum_j p_.j w_ij, wbar_.j = sum_i p_i. w_ij;
- the ASE is the square root of var; the CI is k -/+ z ASE (this *non-null* ASE);
- the test of k = 0 uses its own null ASE (SAS "ASE under H0"):
  simple: var0 = [Pe + Pe^2 - sum p_i. p_.i (p_i. + p_.i)] / ((1 - Pe)^2 n);
  weighted: var0 = [sum p_i. p_.j (w_ij - (wbar_i. + wbar_.j))^2 - Pe^2] / ((1 - Pe)^2 n);
  Z = k / ASE0 with its two-sided normal p-value.

Weights: Cicchetti-Allison (SAS default) w_ij = 1 - |C_i - C_j| / (C_k - C_1), Fleiss-Cohen
w_ij = 1 - (C_i - C_j)^2 / (C_k - C_1)^2, C the table scores: the numeric values of a numeric
rating, else 1..k in table order (so the level order of a character rating matters: give it
with ``row_levels``/``col_levels``).

>>> r = kappa([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
>>> round(r.kappa, 4), round(r.ase, 4), round(r.ase0, 4)
(0.4842, 0.138, 0.1484)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.freq_effects import TABLE_OPTIONS
from sap_engine.methods.freq_table import Crosstab, as_counts, norm_sf, square_table, z_quantile
from sap_engine.methods.freq_tests import BOWKER_DF, bowker, chi_rows
from sap_engine.methods.registry import Evidence, OptionSpec, RoleSpec, Stat, register

_T = "tests/methods/test_agreement.py"
WEIGHTS = ("cicchetti_allison", "fleiss_cohen")


@dataclass(frozen=True)
class Kappa:
    """A kappa coefficient with its ASE, CI, null ASE and test of kappa = 0."""

    kappa: float
    ase: float
    ci_lower: float
    ci_upper: float
    ase0: float
    z: float
    p_value: float


def kappa_weights(scores, kind: str = "cicchetti_allison") -> np.ndarray:
    """Agreement weights from the category scores (SAS's two choices)."""
    c = np.asarray(scores, dtype=float)
    span = c.max() - c.min()
    if len(c) < 2 or span <= 0:
        raise MethodError("SAP482", "weighted kappa needs at least two distinct category "
                                    "scores")
    dist = np.abs(c[:, None] - c[None, :]) / span
    if kind == "fleiss_cohen":
        return 1.0 - dist ** 2
    if kind != "cicchetti_allison":
        raise MethodError("SAP482", f"weights must be one of {', '.join(WEIGHTS)}")
    return 1.0 - dist


def kappa(table, weights=None, level: float = 0.95) -> Kappa:
    """Simple kappa (``weights`` None) or weighted kappa (a k x k weight matrix)."""
    t = as_counts(table)
    k = t.shape[0]
    if t.shape[1] != k:
        raise MethodError("SAP480", f"kappa needs a square table; this one is {k} x "
                                    f"{t.shape[1]}")
    n = float(t.sum())
    if n == 0:
        raise MethodError("SAP460", "kappa needs observations")
    p = t / n
    pr, pc = p.sum(1), p.sum(0)
    w = np.eye(k) if weights is None else np.asarray(weights, dtype=float)
    po = float((w * p).sum())
    pe = float((w * np.outer(pr, pc)).sum())
    if pe >= 1.0 - 1e-12:
        raise MethodError("SAP481", "kappa is undefined: the expected agreement is 1 (all "
                                    "ratings in a single category)")
    kap = (po - pe) / (1 - pe)
    wr, wc = w @ pc, pr @ w  # wbar_i. and wbar_.j
    term = w - np.add.outer(wr, wc) * (1 - kap)
    var = ((p * term ** 2).sum() - (kap - pe * (1 - kap)) ** 2) / ((1 - pe) ** 2 * n)
    term0 = w - np.add.outer(wr, wc)
    var0 = ((np.outer(pr, pc) * term0 ** 2).sum() - pe ** 2) / ((1 - pe) ** 2 * n)
    ase, ase0 = math.sqrt(max(float(var), 0.0)), math.sqrt(max(float(var0), 0.0))
    half = z_quantile(level) * ase
    z = kap / ase0 if ase0 > 0 else math.nan
    return Kappa(kap, ase, kap - half, kap + half, ase0, z,
                 2 * norm_sf(abs(z)) if math.isfinite(z) else math.nan)


def _kappa_rows(name: str, res: Kappa) -> list[Stat]:
    lv = name
    return [Stat(name, res.kappa, variable_level=lv),
            Stat(f"{name}_ase", res.ase, variable_level=lv, stat_label="ASE"),
            Stat("ci_lower", res.ci_lower, variable_level=lv),
            Stat("ci_upper", res.ci_upper, variable_level=lv),
            Stat("ase_h0", res.ase0, variable_level=lv, stat_label="ASE under H0"),
            Stat("statistic", _defined(res.z), variable_level=lv, stat_label="Z"),
            Stat("p_value", _defined(res.p_value), variable_level=lv,
                 stat_label="Two-sided Pr > |Z|")]


def _defined(x: float) -> float | None:
    """No value (not NaN) for a test that does not exist (a null ASE of 0)."""
    return x if math.isfinite(x) else None


_ROLES = (RoleSpec("row", "category", doc="the first rating (table rows)"),
          RoleSpec("col", "category", doc="the second rating (table columns)"))
_OPTIONS = (
    *TABLE_OPTIONS,
    OptionSpec("zeros", "bool", False, "square the table over the union of both ratings' "
               "categories (SAS ZEROS); otherwise a category seen in one rating only is an error"),
    OptionSpec("ci_level", "number", 0.95, "confidence level (SAS ALPHA=0.05)", minimum=0.5,
               maximum=0.999),
)
_WEIGHT_OPTION = OptionSpec("weights", "choice", "cicchetti_allison", "weighted-kappa weights: "
                            "cicchetti_allison (linear, SAS default) or fleiss_cohen (quadratic)",
                            choices=WEIGHTS)
_CONVENTIONS = (
    "ASE = the non-null asymptotic SE of Fleiss, Cohen & Everitt (1969), used for the CI "
    "kappa -/+ z ASE; the test of kappa = 0 uses the separate ASE under H0 (`ase_h0`), "
    "Z = kappa / ASE0, two-sided p (SAS TEST KAPPA / WTKAP).",
    "The two ratings must have the same categories (square table, as SAS); `zeros = true` "
    "squares the table over the union of categories.",
)
_CA = ("Weights from the table scores: numeric values of a numeric rating, else 1..k in "
       "table order; Cicchetti-Allison 1 - |Ci - Cj| / (Ck - C1) (SAS default), Fleiss-Cohen "
       "1 - (Ci - Cj)^2 / (Ck - C1)^2.")
_SAS_EVIDENCE = Evidence("SAS PROC FREQ AGREE printout for [[0,4,1],[0,8,0],[0,1,5]]: kappa "
                         "0.4842, ASE 0.1380, CI (0.2137, 0.7547), ASE under H0 0.1484, Z "
                         "3.2626; weighted 0.4701, ASE 0.1457, CI (0.1845, 0.7558), ASE0 "
                         "0.1426, Z 3.2971", "5e-5", f"{_T}::test_kappa_sas_printout")


def _table_and_weights(frame, roles, options) -> tuple[Crosstab, np.ndarray]:
    t = square_table(frame, roles, options)
    return t, kappa_weights(t.col_scores, options.get("weights", "cicchetti_allison"))


@register(
    "kappa", family="agreement",
    label="Simple (Cohen's) kappa",
    summary="Simple (Cohen's) kappa of two ratings with its ASE, CI and test (SAS AGREE).",
    roles=_ROLES, options=_OPTIONS, conventions=_CONVENTIONS,
    evidence=(_SAS_EVIDENCE,
              Evidence("SAS Getting Started 'Agreement Study' (skin condition): kappa 0.3449, "
                       "95% CI (0.2030, 0.4868)", "5e-5", f"{_T}::test_kappa_skin_condition"),
              Evidence("Hand computation on a 2 x 2 table and a delta-method ASE by numerical "
                       "differentiation (second algorithm)", "1e-9",
                       f"{_T}::test_kappa_by_hand_and_delta_method")),
    stats=("n", "kappa", "kappa_ase", "ci_lower", "ci_upper", "ase_h0", "statistic", "p_value"),
)
def kappa_method(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    t = square_table(frame, roles, options)
    return [Stat("n", float(t.n)),
            *_kappa_rows("kappa", kappa(t.counts, None, options.get("ci_level", 0.95)))]


@register(
    "weighted_kappa", family="agreement",
    label="Weighted kappa",
    summary="Weighted kappa of two ordinal ratings (Cicchetti-Allison or Fleiss-Cohen "
            "weights) with its ASE, CI and test (SAS AGREE).",
    roles=_ROLES, options=(*_OPTIONS, _WEIGHT_OPTION), conventions=(*_CONVENTIONS, _CA),
    evidence=(_SAS_EVIDENCE,
              Evidence("Delta-method ASE of weighted kappa by numerical differentiation "
                       "(second algorithm)", "1e-9", f"{_T}::test_kappa_by_hand_and_delta_method")),
    stats=("n", "weighted_kappa", "weighted_kappa_ase", "ci_lower", "ci_upper", "ase_h0",
           "statistic", "p_value"),
)
def weighted_kappa_method(frame, roles: Mapping[str, Any],
                          options: Mapping[str, Any]) -> list[Stat]:
    t, w = _table_and_weights(frame, roles, options)
    return [Stat("n", float(t.n)), *_kappa_rows("weighted_kappa",
                                                 kappa(t.counts, w, options.get("ci_level",
                                                                                0.95)))]


@register(
    "agreement", family="agreement",
    label="Agreement statistics (Bowker's test, simple and weighted kappa)",
    summary="The SAS PROC FREQ AGREE layout: Bowker's test of symmetry, simple kappa and "
            "weighted kappa, each kappa with ASE, CI and test.",
    roles=_ROLES, options=(*_OPTIONS, _WEIGHT_OPTION, BOWKER_DF),
    conventions=(*_CONVENTIONS, _CA,
                 "Bowker rows carry `variable_level` bowker (for a 2 x 2 table Bowker's test "
                 "is McNemar's); kappa rows `kappa`, weighted kappa rows `weighted_kappa`."),
    evidence=(_SAS_EVIDENCE,
              Evidence("ProDERM Table 3 (4 x 4, N = 87): kappa, weighted kappa and Bowker "
                       "cross-checked with second algorithms", "1e-9",
                       f"{_T}::test_proderm_table3_agreement")),
    stats=("n", "bowker_chisq", "df", "p_value", "kappa", "kappa_ase", "weighted_kappa",
           "weighted_kappa_ase", "ci_lower", "ci_upper", "ase_h0", "statistic"),
)
def agreement_method(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    t, w = _table_and_weights(frame, roles, options)
    level = options.get("ci_level", 0.95)
    out = [Stat("n", float(t.n))]
    out += chi_rows("bowker_chisq", "bowker", bowker(t.counts, options.get("bowker_df", "all")),
                    "Test of Symmetry")
    out += _kappa_rows("kappa", kappa(t.counts, None, level))
    out += _kappa_rows("weighted_kappa", kappa(t.counts, w, level))
    return out
