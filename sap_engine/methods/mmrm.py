"""Mixed model for repeated measures (MMRM): REML, structured covariance across visits.

The plan-facing method ``mmrm``; the numbers come from :mod:`mmrm_design` (rows used and
design), :mod:`mmrm_cov` (covariance structures), :mod:`mmrm_fit` (the REML fit) and
:mod:`mmrm_df` (Satterthwaite and Kenward-Roger df). SAS equivalent of the default::

    proc mixed method=reml;
      class trt visit subject;
      model chg = trt visit trt*visit base base*visit / ddfm=satterthwaite;
      repeated visit / subject=subject type=un;
      lsmeans trt*visit / diff cl;
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sap_engine.errors import MethodError
from sap_engine.methods import registry as clauses
from sap_engine.methods.linear import _many, _pairs, _treatment_levels
from sap_engine.methods.linear_fit import critical_value, two_sided_p
from sap_engine.methods.mmrm_cov import STRUCTURES, structure
from sap_engine.methods.mmrm_design import VISIT, build_design
from sap_engine.methods.mmrm_df import contrast, information, kr_covariance
from sap_engine.methods.mmrm_fit import fit_reml
from sap_engine.methods.registry import (
    SUBJECT_VISIT,
    Evidence,
    OptionSpec,
    RoleSpec,
    Stat,
    register,
)
from sap_engine.model import _num

_T = "tests/methods/test_mmrm.py"
DF_METHODS = ("satterthwaite", "kenward_roger", "residual")


def _visit_list(values) -> list[float]:
    """The `visits` option as numbers (the visit values of the plan's `visits` block)."""
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise MethodError("SAP497", f"option visits: {v!r} is not a visit number (write "
                                        "the scheduled weeks, e.g. visits = [4, 8, 12])")
        out.append(float(v))
    return out


@register(
    "mmrm", family="mmrm",
    label="Mixed model for repeated measures (MMRM)",
    summary="Mixed model for repeated measures: REML fit of treatment, visit, "
            "treatment-by-visit and covariates with an unstructured (or structured) "
            "covariance across visits; LS means by arm and visit, differences vs the "
            "reference arm at every visit.",
    roles=(RoleSpec("response", "numeric", doc="the analysed variable at each visit (e.g. "
                    "change from baseline)"),
           RoleSpec("treatment", "category", doc="the arms (defaults to the plan's treatment)"),
           RoleSpec("factors", "category", many=True, required=False,
                    doc="other class variables (site, stratum), main effects"),
           RoleSpec("covariates", "numeric", many=True, required=False,
                    doc="continuous covariates (e.g. the baseline value)")),
    options=(
        OptionSpec("covariance", "choice", "unstructured", "residual covariance across "
                   "visits within a subject (SAS TYPE=UN, CS, AR(1), TOEP, CSH, ARH(1), TOEPH)",
                   choices=STRUCTURES),
        OptionSpec("df", "choice", "satterthwaite", "denominator degrees of freedom (SAS "
                   "DDFM=SATTERTHWAITE, KR, RESIDUAL)", choices=DF_METHODS),
        OptionSpec("covariate_by_visit", "bool", True, "add covariate*visit for each "
                   "covariate (a visit-specific baseline slope)"),
        OptionSpec("visits", "list", (), "the visits modelled (default: every scheduled visit "
                   "where the response varies)"),
        OptionSpec("ci_level", "number", 0.95, "confidence level of the CIs", minimum=0.5,
                   maximum=0.999),
        OptionSpec("reference", "string", "", "reference arm: the differences are every "
                   "other arm minus it", clause=clauses.TREATMENT_REFERENCE),
        OptionSpec("contrasts", "list", (), "contrasts as 'A - B' (default: every arm minus "
                   "the reference, else all pairs, later minus earlier arm)",
                   clause=clauses.CONTRAST),
        OptionSpec("levels", "list", (), "treatment arms in display order (default: sorted)",
                   clause=clauses.TREATMENT_ARMS),
    ),
    conventions=(
        "Model: response ~ treatment + visit + treatment*visit + factors + covariates + "
        "covariate*visit (`covariate_by_visit = false` drops the last), effect coded, "
        "fitted by REML (SAS PROC MIXED METHOD=REML with REPEATED visit / SUBJECT= TYPE=).",
        "Rows: one per subject and visit with the response present; a subject with a "
        "missing covariate or factor is left out (SAS drops each row with a missing model "
        "variable; a baseline covariate is missing at every row of its subject). Subjects "
        "with visits missing contribute their observed visits (likelihood-based, valid "
        "under MAR). A visit where the response is constant (a change from baseline at the "
        "baseline visit) is not modelled, unless `visits` lists it (then SAP495).",
        "Covariance parameters are reported in SAS's parametrisation and names (UN(i,j); CS "
        "and Residual; AR(1) and Residual; TOEP(2..t) and Residual; Var(i) with CSH, ARH(1) "
        "or Corr(k)); Satterthwaite and Kenward-Roger are computed in it.",
        "LS means at each visit: other factors with equal weights, covariates at their mean "
        "over the rows (subject-visits) used, as SAS LSMEANS (AT MEANS).",
        "df: SAS's own default for a REPEATED-only model is DDFM=BETWITHIN, which is not "
        "implemented; the default here is Satterthwaite (SAS DDFM=SATTERTHWAITE), computed "
        "with the inverse observed information (Hessian) of the REML likelihood; "
        "`kenward_roger` (SAS DDFM=KR) uses the inverse expected information, the adjusted "
        "covariance Phi_A of the fixed effects (SEs of LS means and differences), and KR's "
        "df; `residual` is N - p with the model-based SEs.",
        "Kenward-Roger's W (the covariance of the covariance parameters) is the inverse "
        "expected information, as in Kenward & Roger (1997); the R package mmrm uses the "
        "observed one (the two coincide for complete balanced data). The second-derivative "
        "terms R_kl are included (SAS's default KR, not KR(FIRSTORDER)); in SAS's "
        "parametrisation they vanish for UN, CS and TOEP.",
        "Tests are t tests with these df; CIs use the t quantile with the same df.",
        "Model rows (variable_level `model`): `n` subjects used, `n_obs` observations "
        "used, `m2ll` -2 REML log-likelihood (SAS '-2 Res Log Likelihood', constant "
        "(N - p) log(2 pi) included), `aic` = m2ll + 2 x covariance parameters (SAS AIC).",
    ),
    evidence=(
        Evidence("statsmodels MixedLM (REML, random intercept) vs covariance = cs: fixed "
                 "effects, SEs, variance components, -2 REML log-likelihood",
                 "1e-5 relative", f"{_T}::test_cs_reproduces_random_intercept_reml"),
        Evidence("Per-visit ANCOVA (statsmodels OLS) on complete balanced data vs "
                 "unstructured: treatment differences, SEs and df (n - p of the visit's "
                 "ANCOVA)", "1e-6 relative",
                 f"{_T}::test_unstructured_complete_data_equals_per_visit_ancova"),
        Evidence("Simulation, 3,000 subjects x 4 visits, known UN covariance and effects",
                 "4 standard errors", f"{_T}::test_recovers_known_parameters"),
        Evidence("Satterthwaite df by a second algorithm (finite differences of the "
                 "contrast variance and of the REML likelihood)", "1e-4 relative",
                 f"{_T}::test_satterthwaite_df_by_finite_differences"),
        Evidence("Kenward-Roger df on balanced CS data equal the between/within-subject "
                 "df; KR SEs >= model-based SEs", "1e-6 relative",
                 f"{_T}::test_kenward_roger_balanced_cs_df"),
    ),
    stats=("n", "lsmean", "lsmean_se", "lsmean_ci_lower", "lsmean_ci_upper", "df", "diff",
           "diff_se", "diff_ci_lower", "diff_ci_upper", "statistic", "p_value", "cov_parm",
           "n_obs", "m2ll", "aic"),
    unit=SUBJECT_VISIT, consumes=("visit",),
)
def mmrm(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    response, treatment = roles["response"], roles["treatment"]
    covariates = _many(roles.get("covariates"))
    factors = tuple(f for f in _many(roles.get("factors")) if f != treatment)
    present = frame[frame[response].notna()] if response in frame.columns else frame
    arms = _treatment_levels(present, treatment, (response, treatment, *factors,
                                                  *covariates), options)
    design = build_design(frame, response, treatment, factors, covariates, arms,
                          bool(options.get("covariate_by_visit", True)),
                          _visit_list(options.get("visits") or ()))
    fit = fit_reml(design.x, design.y, design.subject, design.visit,
                   structure(options.get("covariance", "unstructured"), len(design.visits)))
    method = options.get("df", "satterthwaite")
    info = information(fit, second_order=method == "kenward_roger") \
        if method != "residual" else None
    adjusted = kr_covariance(fit, info) if method == "kenward_roger" and info else None
    ci = float(options.get("ci_level", 0.95))
    out: list[Stat] = []
    for j, v in enumerate(design.visits):
        at = ((VISIT, _num(v)),)
        rows = {a: design.row(a, j) for a in arms}
        for a in arms:
            r = contrast(fit, rows[a], method, info, adjusted)
            half = critical_value(ci, r.df) * r.se
            g = (*at, (treatment, a))
            out += [Stat("n", float(design.n_by_arm_visit[(a, j)]), groups=g, stat_label="n"),
                    Stat("lsmean", r.estimate, groups=g, stat_label="LS mean"),
                    Stat("lsmean_se", r.se, groups=g, stat_label="SE of LS mean"),
                    Stat("lsmean_ci_lower", r.estimate - half, groups=g,
                         stat_label="LS mean CI lower"),
                    Stat("lsmean_ci_upper", r.estimate + half, groups=g,
                         stat_label="LS mean CI upper"),
                    Stat("df", r.df, groups=g, stat_label="df")]
        for a, b in _pairs(options, arms):
            d = contrast(fit, rows[a] - rows[b], method, info, adjusted)
            t = d.estimate / d.se
            half = critical_value(ci, d.df) * d.se
            vl = f"{a} - {b}"
            out += [Stat("diff", d.estimate, vl, "Difference in LS means", groups=at),
                    Stat("diff_se", d.se, vl, "SE of difference", groups=at),
                    Stat("diff_ci_lower", d.estimate - half, vl, "Difference CI lower",
                         groups=at),
                    Stat("diff_ci_upper", d.estimate + half, vl, "Difference CI upper",
                         groups=at),
                    Stat("df", d.df, vl, "df", groups=at),
                    Stat("statistic", t, vl, "t", groups=at),
                    Stat("p_value", two_sided_p(t, d.df), vl, "p-value", groups=at)]
    for name, value in zip(fit.structure.names, fit.phi, strict=True):
        out.append(Stat("cov_parm", float(value), name, "Covariance parameter"))
    return out + [Stat("n", float(fit.n_subjects), "model", "Subjects used"),
                  Stat("n_obs", float(fit.n_obs), "model", "Observations used"),
                  Stat("m2ll", fit.m2ll, "model", "-2 Res Log Likelihood"),
                  Stat("aic", fit.aic, "model", "AIC")]


