"""Multiple imputation: the plan-facing method ``mi_ancova``.

An ANCOVA of the response at one visit (the analysis' ``at week N``), after its missing
values have been multiply imputed under MAR or a reference-based assumption
(:mod:`mi_draws`), pooled by Rubin's rules with Barnard-Rubin df (:mod:`mi_pool`), with an
optional delta-adjusted tipping-point grid. SAS equivalent of the MAR default::

    proc mi seed=S nimpute=M; class trt; monotone reg;   (or MCMC/MNAR statements)
    proc glm; class trt; model chg = trt base; lsmeans trt / diff cl;  by _imputation_;
    proc mianalyze; modeleffects diff; stderr se; edf = n - p;

The frame has one row per subject and scheduled visit (unit ``subject x visit``); the
wide data of :mod:`mi_draws` are built in :mod:`mi_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods import registry as clauses
from sap_engine.methods.linear import _many, _pairs
from sap_engine.methods.mi_data import build_wide
from sap_engine.methods.mi_draws import DRAWS, STRATEGIES, impute
from sap_engine.methods.mi_pool import ancova_many, delta_columns, rubin, tipping_points
from sap_engine.methods.mmrm_cov import STRUCTURES, structure
from sap_engine.methods.registry import (
    SUBJECT_VISIT,
    Evidence,
    OptionSpec,
    RoleSpec,
    Stat,
    register,
)
from sap_engine.model import _num

_T = "tests/methods/test_mi.py"


@register(
    "mi_ancova", family="mi",
    label="ANCOVA after multiple imputation (Rubin's rules)",
    summary="ANCOVA of the response at the analysis visit after multiple imputation of the "
            "missing values (MAR, jump to reference, copy reference, copy increments in "
            "reference), pooled by Rubin's rules with Barnard-Rubin df; optional delta "
            "adjustment and tipping-point grid.",
    roles=(RoleSpec("response", "numeric", doc="the analysed variable at each visit (e.g. "
                    "change from baseline)"),
           RoleSpec("treatment", "category", doc="the arms (defaults to the plan's treatment)"),
           RoleSpec("factors", "category", many=True, required=False,
                    doc="other class variables (stratum), per subject"),
           RoleSpec("covariates", "numeric", many=True, required=False,
                    doc="continuous covariates per subject (e.g. the baseline value)")),
    options=(
        OptionSpec("visit", "number", None, "the analysis visit (set by `at week N` or the "
                   "estimand's visit)", clause=clauses.ANALYSIS_VISIT),
        OptionSpec("imputation", "choice", "mar", "missing-data assumption of the imputation "
                   "model (rbmi: MAR, JR, CR, CIR)", choices=STRATEGIES),
        OptionSpec("draws", "choice", "mmrm", "how the imputation model's parameters are "
                   "drawn: the MMRM posterior (any pattern) or sequential regression by "
                   "visit (monotone MAR, SAS PROC MI MONOTONE REG)", choices=DRAWS),
        OptionSpec("m", "integer", 100, "number of imputations", minimum=2, maximum=100000),
        OptionSpec("seed", "integer", 20260101, "random seed (each imputation draws from "
                   "its own stream derived from it)", minimum=0, maximum=2 ** 63 - 1),
        OptionSpec("covariance", "choice", "unstructured", "covariance structure of the "
                   "imputation MMRM", choices=STRUCTURES),
        OptionSpec("visits", "list", (), "visits of the imputation model (default: the "
                   "scheduled visits up to the analysis visit where the response varies)"),
        OptionSpec("delta", "list", (), "tipping point: values added to the imputed "
                   "analysis-visit values of every non-reference arm (a grid)"),
        OptionSpec("delta_reference", "list", (), "tipping point: values added to the "
                   "imputed values of the reference arm (default: 0 only)"),
        OptionSpec("alpha", "number", 0.05, "significance level of the tipping point",
                   minimum=0.0001, maximum=0.5),
        OptionSpec("ci_level", "number", 0.95, "confidence level of the CIs", minimum=0.5,
                   maximum=0.999),
        OptionSpec("reference", "string", "", "reference arm (of the contrasts and of the "
                   "reference-based imputations)", clause=clauses.TREATMENT_REFERENCE),
        OptionSpec("contrasts", "list", (), "contrasts as 'A - B' (default: every arm minus "
                   "the reference)", clause=clauses.CONTRAST),
        OptionSpec("levels", "list", (), "treatment arms in display order (default: sorted)",
                   clause=clauses.TREATMENT_ARMS),
    ),
    conventions=(
        "Imputation model (draws = mmrm): response ~ treatment + visit + treatment*visit + "
        "factors + covariates + covariate*visit with the chosen covariance across the "
        "modelled visits (default: the scheduled visits up to the analysis visit where the "
        "response varies), fitted by REML; the covariance parameters are drawn from the "
        "Laplace approximation of their marginal posterior (the REML likelihood), then the "
        "fixed effects from their exact conditional posterior (flat priors).",
        "draws = regression: sequential Bayesian regression by visit on treatment, factors, "
        "covariates and the earlier visits (SAS PROC MI MONOTONE REG); monotone patterns "
        "only (SAP602), MAR only (SAP604).",
        "Reference-based imputation follows rbmi: the post-dropout visits (after the last "
        "observed one) take the reference arm's mean (J2R), the reference mean at every "
        "visit (CR), or the own arm's mean at the last observed visit plus the reference's "
        "increments (CIR); intermittent gaps are imputed under MAR; the covariance is the "
        "common one.",
        "Analysis: ANCOVA response ~ treatment + factors + covariates at the analysis visit, "
        "LS means with equal weights and covariates at their mean over the subjects used; "
        "all M imputations solved by one QR (mi_pool).",
        "Pooling: Rubin's rules; df Barnard-Rubin (1999) with complete-data df n - p (as "
        "SAS PROC MIANALYZE EDF=, rbmi, mice); fmi = (r + 2/(df+3))/(1 + r).",
        "Subjects: every subject of the population with its treatment, factors and "
        "covariates present, imputed when the analysis visit is missing; subjects without "
        "a covariate are left out, as the ANCOVA does.",
        "Seed: imputation m draws from SeedSequence(seed).spawn(M)[m]: results are "
        "identical run to run and with any number of worker processes, and the first M "
        "imputations do not change when M grows.",
        "Tipping point (delta): delta_a is added to the imputed values of arm a at the "
        "analysis visit after imputation (rbmi's convention); for each reference-arm "
        "delta, `tipping_point` is the non-reference delta of smallest |delta| in the grid "
        "at which p >= alpha (the delta closest to 0 when p >= alpha there already; none "
        "when p < alpha over the whole grid).",
    ),
    evidence=(
        Evidence("Rubin's rules and Barnard-Rubin df on a hand-worked example (exact "
                 "rational arithmetic)", "1e-13",
                 "tests/methods/test_mi_pool.py::test_rubin_hand_worked_example"),
        Evidence("MI under MCAR converges to the complete-data ANCOVA estimate as M grows",
                 "4 Monte Carlo SEs", f"{_T}::test_mcar_converges_to_complete_data"),
        Evidence("Reference-based imputation means vs their analytic conditional-mean "
                 "formulas (J2R, CR, CIR) with known parameters", "1e-10",
                 f"{_T}::test_reference_based_conditional_means"),
        Evidence("Sequential regression vs the MMRM draws on monotone MAR data (two "
                 "algorithms, the same posterior predictive)", "4 Monte Carlo SEs",
                 f"{_T}::test_regression_and_mmrm_draws_agree"),
        Evidence("Coverage of nominal 95% CIs under MAR dropout: 300 simulated trials in the "
                 "test suite; the larger study is bench/mi_coverage.py (docs/mi-validation.md)",
                 "90-99% (300 trials: simulation SE 1.3%)",
                 f"{_T}::test_coverage_of_nominal_95_percent_intervals"),
    ),
    stats=("n", "n_imputed", "lsmean", "lsmean_se", "lsmean_ci_lower", "lsmean_ci_upper",
           "df", "diff", "diff_se", "diff_ci_lower", "diff_ci_upper", "statistic", "p_value",
           "fmi", "riv", "var_within", "var_between", "m", "tipping_point", "alpha",
           "delta_diff", "delta_p_value"),
    nonfinite=("riv", "fmi"),
    unit=SUBJECT_VISIT, consumes=("visit",), groups=("delta_active", "delta_reference"),
)
def mi_ancova(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    from threadpoolctl import threadpool_limits

    # Many small BLAS calls: one thread each is faster than two contending ones, and the
    # executor already spreads analyses over processes.
    with threadpool_limits(limits=1):
        return _mi_ancova(frame, roles, options)


def _mi_ancova(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    wide = build_wide(frame, roles["response"], roles["treatment"],
                      tuple(f for f in _many(roles.get("factors")) if f != roles["treatment"]),
                      _many(roles.get("covariates")), options)
    data = wide.data
    arms = wide.arms
    m, seed = int(options.get("m", 100)), int(options.get("seed", 20260101))
    struct = structure(options.get("covariance", "unstructured"), wide.t)
    filled = impute(data, options.get("draws", "mmrm"), options.get("imputation", "mar"),
                    struct, seed, m)
    y = filled[:, wide.visit_index, :]
    imputed = ~data.observed[:, wide.visit_index]
    pairs = _pairs(options, arms)
    big_l = np.vstack([wide.lsmean_rows, *[wide.lsmean_rows[arms.index(a)]
                                           - wide.lsmean_rows[arms.index(b)]
                                           for a, b in pairs]])
    ci = float(options.get("ci_level", 0.95))
    fits = ancova_many(data.z, y, big_l)
    pooled = rubin(fits.estimate, fits.variance, fits.df_resid)
    lo, hi = pooled.ci(ci)
    tr = roles["treatment"]
    at = (("visit", _num(wide.visit)),)
    out: list[Stat] = []
    for i, a in enumerate(arms):
        g = (*at, (tr, a))
        in_arm = data.arm == i
        out += [Stat("n", float(in_arm.sum()), groups=g, stat_label="n"),
                Stat("n_imputed", float((imputed & in_arm).sum()), groups=g,
                     stat_label="n imputed"),
                Stat("lsmean", float(pooled.estimate[i]), groups=g, stat_label="LS mean"),
                Stat("lsmean_se", float(pooled.se[i]), groups=g, stat_label="SE of LS mean"),
                Stat("lsmean_ci_lower", float(lo[i]), groups=g, stat_label="LS mean CI lower"),
                Stat("lsmean_ci_upper", float(hi[i]), groups=g, stat_label="LS mean CI upper"),
                Stat("df", float(pooled.df[i]), groups=g, stat_label="df")]
    for j, (a, b) in enumerate(pairs, start=len(arms)):
        vl = f"{a} - {b}"
        out += [Stat("diff", float(pooled.estimate[j]), vl, "Difference in LS means", groups=at),
                Stat("diff_se", float(pooled.se[j]), vl, "SE of difference", groups=at),
                Stat("diff_ci_lower", float(lo[j]), vl, "Difference CI lower", groups=at),
                Stat("diff_ci_upper", float(hi[j]), vl, "Difference CI upper", groups=at),
                Stat("df", float(pooled.df[j]), vl, "df (Barnard-Rubin)", groups=at),
                Stat("statistic", float(pooled.statistic[j]), vl, "t", groups=at),
                Stat("p_value", float(pooled.p_value[j]), vl, "p-value", groups=at),
                Stat("fmi", float(pooled.fmi[j]), vl, "Fraction of missing information",
                     groups=at),
                Stat("riv", float(pooled.riv[j]), vl, "Relative increase in variance",
                     groups=at),
                Stat("var_within", float(pooled.var_within[j]), vl, "Within-imputation "
                     "variance", groups=at),
                Stat("var_between", float(pooled.var_between[j]), vl, "Between-imputation "
                     "variance", groups=at)]
    out.append(Stat("m", float(m), "model", "Imputations", groups=at))
    return out + _tipping(options, wide, y, imputed, big_l[len(arms):], pairs, at)


def _tipping(options: Mapping[str, Any], wide, y: np.ndarray, imputed: np.ndarray,
             diff_rows: np.ndarray, pairs, at) -> list[Stat]:
    """The delta grid: diff and p-value of every contrast in every cell, and the tipping
    point of each reference-arm delta."""
    active = _deltas(options, "delta")
    if not active:
        return []
    ref_values = _deltas(options, "delta_reference") or [0.0]
    ref = wide.data.reference
    cells = []
    for dr in ref_values:
        for da in active:
            cells.append([dr if i == ref else da for i in range(len(wide.arms))])
    m = y.shape[1]
    cols = delta_columns(y, np.broadcast_to(imputed[:, None], y.shape), wide.data.arm, cells)
    fits = ancova_many(wide.data.z, cols, diff_rows)
    g_count = len(cells)
    pooled = rubin(fits.estimate.reshape(len(diff_rows), g_count, m),
                   fits.variance.reshape(len(diff_rows), g_count, m), fits.df_resid)
    alpha = float(options.get("alpha", 0.05))
    out: list[Stat] = [Stat("alpha", alpha, "model", "Significance level of the tipping point",
                            groups=at)]
    for j, (a, b) in enumerate(pairs):
        vl = f"{a} - {b}"
        for g, cell in enumerate(cells):
            grid = (*at, ("delta_active", _num(next(c for i, c in enumerate(cell)
                                                    if i != ref))),
                    ("delta_reference", _num(cell[ref])))
            out += [Stat("delta_diff", float(pooled.estimate[j, g]), vl,
                         "Difference in LS means (delta-adjusted)", groups=grid),
                    Stat("delta_p_value", float(pooled.p_value[j, g]), vl,
                         "p-value (delta-adjusted)", groups=grid)]
        for r_i, dr in enumerate(ref_values):
            block = pooled.p_value[j, r_i * len(active):(r_i + 1) * len(active)]
            # Not significant already at the delta closest to 0: the tipping point is that
            # delta (the table then says the comparison tipped without any active delta).
            first = int(np.argmin(np.abs(active)))
            point = active[first] if block[first] >= alpha else \
                tipping_points(active, block, alpha)
            out.append(Stat("tipping_point", point, vl, "Tipping point (delta)",
                            groups=(*at, ("delta_reference", _num(dr)))))
    return out


def _deltas(options: Mapping[str, Any], name: str) -> list[float]:
    values = list(options.get(name) or ())
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise MethodError("SAP605", f"options {name}: {v!r} is not a number (write the "
                                        f"grid as numbers, e.g. {name} = [0, 1, 2])")
    if len(set(values)) != len(values):
        raise MethodError("SAP605", f"options {name} lists a value twice")
    return [float(v) for v in values]
