"""Linear models: ANCOVA with LS means, contrasts and Type III tests; dose response.

The plan-facing methods ``ancova`` and ``dose_response`` are registered here; the numbers
come from plain functions of the ``linear_*`` modules, re-exported below:
- :mod:`~sap_engine.methods.linear_design`: ModelSpec, effect coding, aliasing checks;
- :mod:`~sap_engine.methods.linear_fit`: fit_linear, fit_linear_many, type3, coefficient,
  dose_response (pivoted-QR least squares);
- :mod:`~sap_engine.methods.linear_lsmeans`: lsmeans, lsmean_differences, adjust_p.

Conventions (SAS PROC GLM defaults unless an option says otherwise) are listed with each
method's registration and in ``docs/methods.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sap_engine.errors import MethodError
from sap_engine.methods import registry as clauses  # the plan clauses feeding options
from sap_engine.methods.linear_design import ModelSpec, level_label, sorted_levels
from sap_engine.methods.linear_fit import (
    CoefficientTest,
    LinearFit,
    TermTest,
    coefficient,
    dose_response,
    fit_linear,
    fit_linear_many,
    type3,
)
from sap_engine.methods.linear_lsmeans import (
    LSMean,
    LSMeanDifference,
    adjust_p,
    lsmean_differences,
    lsmeans,
)
from sap_engine.methods.registry import Evidence, OptionSpec, RoleSpec, Stat, register

__all__ = ["ModelSpec", "LinearFit", "TermTest", "CoefficientTest", "LSMean",
           "LSMeanDifference", "fit_linear", "fit_linear_many", "type3", "coefficient",
           "dose_response", "lsmeans", "lsmean_differences", "adjust_p", "ancova",
           "dose_response_method"]

_T = "tests/methods/test_linear.py"

_CI_OPTIONS = (
    OptionSpec("ci_level", "number", 0.95, "confidence level of the CIs", minimum=0.5,
               maximum=0.999),
    OptionSpec("quantile", "choice", "t", "critical value of the CIs: Student t with the "
               "residual df, or the standard normal (1.96 at 95%)", choices=("t", "normal")),
)

_ROLES = (
    RoleSpec("factors", "category", many=True, required=False,
             doc="other class variables (site, stratum)"),
    RoleSpec("covariates", "numeric", many=True, required=False, doc="continuous covariates"),
)


def _many(value) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _split_contrast(text: str, levels: Sequence[str]) -> tuple[str, str]:
    """'A - B' -> (A, B); a level may itself contain ' - ' or be quoted."""
    def clean(s: str) -> str:
        s = s.strip()
        return s[1:-1] if len(s) > 1 and s[0] == s[-1] and s[0] in "\"'" else s

    parts = text.split(" - ")
    if len(parts) < 2:
        raise MethodError("SAP437", f"contrast '{text}' must read 'A - B' (levels of the "
                                    "treatment separated by ' - ')")
    candidates = [(clean(" - ".join(parts[:i])), clean(" - ".join(parts[i:])))
                  for i in range(1, len(parts))]
    for a, b in candidates:
        if a in levels and b in levels:
            return a, b
    a, b = candidates[0]
    bad = a if a not in levels else b
    raise MethodError("SAP434", f"contrast '{text}': '{bad}' is not a treatment level in the "
                                f"data ({', '.join(levels)})")


def _pairs(options: Mapping[str, Any], levels: Sequence[str]) -> list[tuple[str, str]]:
    given = list(options.get("contrasts") or ())
    if given:
        return [_split_contrast(str(c), levels) for c in given]
    reference = str(options.get("reference") or "")
    if reference:
        if reference not in levels:
            raise MethodError("SAP434", f"reference '{reference}' is not a treatment level in "
                                        f"the data ({', '.join(levels)})")
        return [(lev, reference) for lev in levels if lev != reference]
    k = len(levels)
    return [(levels[j], levels[i]) for i in range(k) for j in range(i + 1, k)]


def _interactions(options, treatment: str,
                  variables: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """'treatment*SITE' -> (treatment column, 'SITE'); members must be model variables."""
    out = []
    for text in options.get("interactions") or ():
        parts = tuple(treatment if p.strip() == "treatment" else p.strip()
                      for p in str(text).split("*"))
        unknown = [p for p in parts if p not in variables]
        if unknown:
            raise MethodError("SAP421", f"interaction '{text}': '{unknown[0]}' is not a "
                                        f"variable of the model ({', '.join(variables)})")
        out.append(parts)
    return tuple(out)


def _treatment_levels(frame, treatment: str, variables: Sequence[str],
                      options: Mapping[str, Any]) -> list[str]:
    """Display order of the arms, with every arm checked to have analysable rows."""
    import pandas as pd

    values = frame[treatment]
    raw = values[~pd.isna(values)].tolist()
    labels = {level_label(v) for v in raw}
    listed = [str(x) for x in options.get("levels") or ()]
    levels = listed or sorted_levels(raw)
    extra = sorted(labels - set(levels))
    if extra:
        raise MethodError("SAP435", f"treatment '{treatment}' has level '{extra[0]}' that is "
                                    f"not in the listed levels ({', '.join(levels)}); select "
                                    "the arms with the population instead")
    complete = frame[list(variables)].notna().all(axis=1)
    present = {level_label(v) for v in frame.loc[complete, treatment].tolist()}
    empty = [lev for lev in levels if lev not in present]
    if empty:
        raise MethodError("SAP436", f"treatment arm '{empty[0]}' has no observations with "
                                    f"{', '.join(variables)} all present: the model cannot "
                                    "be estimated")
    return levels


@register(
    "ancova", family="linear",
    label="ANCOVA",
    summary="Analysis of covariance (fixed-effects linear model): LS means by treatment arm, "
            "differences of LS means with CIs and tests, and Type III F tests of every term.",
    roles=(RoleSpec("response", "numeric", doc="the analysed variable (e.g. change from "
                    "baseline)"),
           RoleSpec("treatment", "category", doc="the arms (defaults to the plan's treatment)"),
           *_ROLES),
    options=(
        OptionSpec("weights", "choice", "equal", "LS-mean weights of the other factors' levels: "
                   "equal (SAS default) or observed margins (SAS OM)", choices=("equal",
                                                                               "observed"),
                   clause=clauses.LSMEANS_WEIGHTS),
        *_CI_OPTIONS,
        OptionSpec("adjust", "choice", "none", "multiplicity adjustment of the contrasts' "
                   "p-values", choices=("none", "bonferroni", "holm", "sidak")),
        OptionSpec("reference", "string", "", "reference arm: default contrasts are every other "
                   "arm minus it", clause=clauses.TREATMENT_REFERENCE),
        OptionSpec("contrasts", "list", (), "contrasts as 'A - B' (default: every arm minus the "
                   "reference, else all pairs, later minus earlier arm)", clause=clauses.CONTRAST),
        OptionSpec("interactions", "list", (), "interaction terms as 'A*B' (treatment*factor, "
                   "treatment*covariate, factor*factor)", clause=clauses.MODEL_INTERACTIONS),
        OptionSpec("levels", "list", (), "treatment arms in display order (default: sorted)",
                   clause=clauses.TREATMENT_ARMS),
        OptionSpec("df_method", "choice", "residual", "degrees of freedom of tests and CIs",
                   choices=("residual",)),
    ),
    conventions=(
        "Least squares by pivoted QR; rows with any missing model variable are dropped "
        "(as SAS GLM) and not counted in `n`; an infinite value is refused (SAP471); class "
        "levels sorted (numbers by value) unless `levels` lists them.",
        "An exact fit (residual SD below 1e-12 of the response's RMS: a constant response, "
        "or a change from baseline at the baseline visit) is refused (SAP473): its t and F "
        "statistics would be infinite.",
        "LS means: covariates at their mean over the rows used; other factors with equal "
        "weights by default (SAS LSMEANS default); `weights = observed` gives SAS OM "
        "(weights proportional to the observed frequencies of the other factors' levels, "
        "from the rows whose independent variables are all present; emmeans "
        "`weights = \"proportional\"`).",
        "Type III tests: Wald F of each term's sum-to-zero coded columns, which is SAS GLM "
        "Type III for designs without empty cells (a design with an empty cell is rank "
        "deficient and is refused, naming the aliased term); a factor crossed with a "
        "covariate is tested at covariate = 0, as SAS does.",
        "Degrees of freedom: the residual df n - p for every test and CI (`df_method = "
        "residual`, the exact choice for a fixed-effects linear model).",
        "Contrasts: every arm minus `reference`, else all pairs in level order as later minus "
        "earlier arm (active - control when the control is listed first).",
        "p-values are t tests with the residual df; `quantile = normal` changes only the "
        "confidence limits (1.96 at 95%), as CDISC Table 14-3.02 did.",
        "`adjust`: Bonferroni, Holm (step-down) or Sidak over the contrasts of the analysis; "
        "`p_value` is then adjusted and `p_value_unadjusted` is also given; Bonferroni and "
        "Sidak also give simultaneous CIs (SAS ADJUST= with CL), Holm leaves CIs unadjusted.",
        "Model rows (variable_level `model`): `n` used, `sigma` = SAS Root MSE "
        "sqrt(RSS / df), `rmse` = sqrt(RSS / n) (the root mean squared residual printed in "
        "CDISC Table 14-3.02), `den_df` residual df.",
    ),
    evidence=(
        Evidence("CDISC Pilot 01 Table 14-3.01 (published): LS-mean differences, SEs, CIs, "
                 "p-values of ADAS-Cog(11) ANCOVA with site group and baseline, OM weights",
                 "displayed precision", f"{_T}::test_cdisc_adas_ancova_table_14_3_01"),
        Evidence("CDISC Pilot 01 Table 14-3.02 (published): glucose LS means, difference "
                 "with normal-quantile CI, p-value, RMSE", "displayed precision",
                 f"{_T}::test_cdisc_glucose_ancova_table_14_3_02"),
        Evidence("SAS/STAT PROC GLM documentation, 'Means versus LS-Means' unbalanced "
                 "two-way design: Type III F and LS means (equal weights)", "printed digits",
                 f"{_T}::test_sas_unbalanced_twoway_type3_and_lsmeans"),
        Evidence("SAS/STAT PROC GLM Example 'Unbalanced ANOVA for Two-Way Design with "
                 "Interaction' (58 of 72 rows used): Type III SS and F, MSE, R-square",
                 "printed digits", f"{_T}::test_sas_glm_drug_disease_type3"),
        Evidence("Hand computation of OM (observed-margin) LS means from cell means",
                 "1e-12", f"{_T}::test_observed_margins_hand_computation"),
        Evidence("NIST StRD certified values: Pontius (coefficients, SDs, residual SD), "
                 "Wampler1, Wampler2 (exact fits)", "1e-12 relative (Pontius), 1e-8 and "
                 "1e-11 (Wampler1, Wampler2 coefficients)", f"{_T}::test_nist_strd_certified"),
        Evidence("NIST StRD Longley certified coefficients, residual SD, R-squared",
                 "1e-10 relative", f"{_T}::test_nist_longley_certified"),
        Evidence("statsmodels OLS and anova_lm(typ=3) with Sum contrasts (second algorithm) "
                 "on a random design with interactions", "1e-9",
                 f"{_T}::test_statsmodels_type3_with_interactions"),
    ),
    stats=("lsmean", "lsmean_se", "lsmean_ci_lower", "lsmean_ci_upper", "df", "n", "diff",
           "diff_se", "diff_ci_lower", "diff_ci_upper", "statistic", "p_value",
           "p_value_unadjusted", "f_value", "num_df", "den_df", "rmse", "sigma"),
)
def ancova(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    response, treatment = roles["response"], roles["treatment"]
    covariates = _many(roles.get("covariates"))
    factors = (treatment, *[f for f in _many(roles.get("factors")) if f != treatment])
    variables = (response, *factors, *covariates)
    missing = [v for v in variables if v not in frame.columns]
    if missing:
        raise MethodError("SAP424", f"model variable '{missing[0]}' is not a column of the "
                                    "analysis data")
    levels = _treatment_levels(frame, treatment, variables, options)
    spec = ModelSpec(response, factors, covariates,
                     _interactions(options, treatment, (*factors, *covariates)))
    fit = _require_residual_variance(fit_linear(frame, spec, {treatment: levels}))
    weights, ci = options.get("weights", "equal"), options.get("ci_level", 0.95)
    quantile = options.get("quantile", "t")
    out: list[Stat] = []
    for lm in lsmeans(fit, treatment, weights, ci, quantile):
        g = ((treatment, lm.level),)
        out += [Stat("n", float(lm.n), groups=g, stat_label="n"),
                Stat("lsmean", lm.estimate, groups=g, stat_label="LS mean"),
                Stat("lsmean_se", lm.se, groups=g, stat_label="SE of LS mean"),
                Stat("lsmean_ci_lower", lm.ci_lower, groups=g, stat_label="LS mean CI lower"),
                Stat("lsmean_ci_upper", lm.ci_upper, groups=g, stat_label="LS mean CI upper"),
                Stat("df", float(lm.df), groups=g, stat_label="df")]
    adjust = options.get("adjust", "none")
    pairs = _pairs(options, levels)
    for d in lsmean_differences(fit, treatment, pairs, weights, ci, quantile, adjust):
        vl = d.label
        out += [Stat("diff", d.estimate, vl, "Difference in LS means"),
                Stat("diff_se", d.se, vl, "SE of difference"),
                Stat("diff_ci_lower", d.ci_lower, vl, "Difference CI lower"),
                Stat("diff_ci_upper", d.ci_upper, vl, "Difference CI upper"),
                Stat("df", float(d.df), vl, "df"),
                Stat("statistic", d.statistic, vl, "t"),
                Stat("p_value", d.p_value, vl, "p-value" if adjust == "none"
                     else f"p-value ({adjust}-adjusted)")]
        if adjust != "none":
            out.append(Stat("p_value_unadjusted", d.p_value_unadjusted, vl,
                            "p-value (unadjusted)"))
    for t in type3(fit):
        out += [Stat("f_value", t.f_value, t.term, "F"),
                Stat("num_df", float(t.num_df), t.term, "Numerator df"),
                Stat("den_df", float(t.den_df), t.term, "Denominator df"),
                Stat("p_value", t.p_value, t.term, "Type III p-value")]
    return out + _model_rows(fit)


def _require_residual_variance(fit: LinearFit) -> LinearFit:
    """Refuse an exact fit: with no residual variance every test statistic is infinite.

    (``fit_linear`` itself returns such fits: the NIST StRD Wampler problems are exact.)
    """
    if fit.exact_fit:
        raise MethodError("SAP473", f"the model fits '{fit.spec.response}' exactly (no "
                                    f"residual variance over the {fit.n} rows used): the "
                                    "response is constant, or an exact function of the model "
                                    "terms (a change from baseline at the baseline visit is 0 "
                                    "for everyone), so no test or CI exists")
    return fit


def _model_rows(fit: LinearFit) -> list[Stat]:
    return [Stat("n", float(fit.n), "model", "Observations used"),
            Stat("sigma", fit.sigma, "model", "Root MSE"),
            Stat("rmse", fit.rmse, "model", "Root mean squared residual"),
            Stat("den_df", float(fit.df_resid), "model", "Residual df")]


@register(
    "dose_response", family="linear",
    label="Linear dose-response test",
    summary="Linear dose-response test: the dose as a continuous term of a linear model "
            "with optional factors and covariates; estimate, SE, t test and CI of its slope.",
    roles=(RoleSpec("response", "numeric", doc="the analysed variable"),
           RoleSpec("dose", "numeric", doc="the dose (e.g. TRTPN) entered as a continuous term"),
           *_ROLES),
    options=_CI_OPTIONS,
    conventions=(
        "The dose enters the model linearly (one slope); the other terms are as in `ancova` "
        "(factors sum-to-zero coded, covariates as given); rows with any missing model "
        "variable are dropped.",
        "The slope's test is a t test with the residual df; `quantile = normal` changes "
        "only the confidence limits.",
    ),
    evidence=(
        Evidence("CDISC Pilot 01 Table 14-3.01 (published): dose-response p-value 0.245 "
                 "(CHG ~ TRTPN + SITEGR1 + BASE)", "displayed precision",
                 f"{_T}::test_cdisc_adas_dose_response"),
        Evidence("NIST StRD certified values (the same least-squares core)",
                 "1e-8 to 1e-12 relative", f"{_T}::test_nist_strd_certified"),
    ),
    stats=("estimate", "se", "df", "statistic", "p_value", "ci_lower", "ci_upper", "n"),
)
def dose_response_method(frame, roles: Mapping[str, Any],
                         options: Mapping[str, Any]) -> list[Stat]:
    response, dose = roles["response"], roles["dose"]
    factors = _many(roles.get("factors"))
    covariates = tuple(c for c in _many(roles.get("covariates")) if c != dose)
    spec = ModelSpec(response, factors, (dose, *covariates))
    fit = _require_residual_variance(fit_linear(frame, spec))
    c = coefficient(fit, dose, options.get("ci_level", 0.95), options.get("quantile", "t"))
    return [Stat("estimate", c.estimate, dose, "Slope"), Stat("se", c.se, dose, "SE"),
            Stat("df", float(c.df), dose, "df"), Stat("statistic", c.statistic, dose, "t"),
            Stat("p_value", c.p_value, dose, "p-value"),
            Stat("ci_lower", c.ci_lower, dose, "CI lower"),
            Stat("ci_upper", c.ci_upper, dose, "CI upper"),
            Stat("n", float(fit.n), "model", "Observations used")]
