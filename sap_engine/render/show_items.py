"""What a table's ``show`` items mean: the statistics each one shows and how they print.

- ``COMPOSITES``: item -> (row label, ARD statistic names, pattern from the data's decimals).
- ``TEST_ITEMS``: one-line test results in the SAS PROC FREQ layout.
- ``CONTRAST_ITEMS``: items that repeat once per comparator when an analysis has several.
"""

from __future__ import annotations

import math

from sap_engine.render.format import fmt_p, fmt_pattern

# show item -> (label, stat names, pattern built from base decimals d)
COMPOSITES = {
    "n": ("n", ("n",), lambda d: "xx"),
    "n_missing": ("Missing", ("n_missing",), lambda d: "xx"),
    "mean_sd": ("Mean (SD)", ("mean", "sd"), lambda d: f"{_x(d + 1)} ({_x(d + 2)})"),
    "mean_se": ("Mean (SE)", ("mean", "se"), lambda d: f"{_x(d + 1)} ({_x(d + 2)})"),
    "mean": ("Mean", ("mean",), lambda d: _x(d + 1)),
    "sd": ("SD", ("sd",), lambda d: _x(d + 2)),
    "median": ("Median", ("median",), lambda d: _x(d + 1)),
    "sum": ("Total", ("sum",), lambda d: _x(d)),
    "min_max": ("Min, Max", ("min", "max"), lambda d: f"{_x(d)}, {_x(d)}"),
    "q1_q3": ("Q1, Q3", ("q1", "q3"), lambda d: f"{_x(d + 1)}, {_x(d + 1)}"),
    # The CI of a mean to the mean's own precision (one decimal more than the data).
    "mean_ci": ("95% CI of mean", ("mean_ci_lower", "mean_ci_upper"),
                lambda d: f"({_x(d + 1)}, {_x(d + 1)})"),
    "n_pct": ("n (%)", ("n", "pct"), lambda d: "xx (xx.x)"),
    "lsmean_se": ("LS mean (SE)", ("lsmean", "lsmean_se"), lambda d: "xx.x (xx.xx)"),
    "lsmean_ci": ("95% CI of LS mean", ("lsmean_ci_lower", "lsmean_ci_upper"),
                  lambda d: "(xx.x, xx.x)"),
    "diff_se": ("Difference in LS means (SE)", ("diff", "diff_se"), lambda d: "xx.x (xx.xx)"),
    "diff_ci": ("95% CI of difference", ("diff_ci_lower", "diff_ci_upper"),
                lambda d: "(xx.x, xx.x)"),
    "p_value": ("p-value", ("p_value",), None),
    # The two-sided p-value of Fisher's exact test of a crosstab (Pr <= P): one value for
    # the whole table, printed in the last column as a test between the arms.
    "fisher_p": ("Fisher's exact test p-value", ("fisher_p",), None),
    # The p-value of the Pearson chi-square test of a crosstab (method chisq), the same way.
    "chisq_p": ("Chi-square test p-value", ("p_value",), None),
    "smd": ("SMD", ("smd",), lambda d: "x.xx"),
    "estimate_ci": ("Estimate (95% CI)", ("estimate", "ci_lower", "ci_upper"),
                    lambda d: "xx.xx (xx.xx, xx.xx)"),
    "events": ("Events", ("events",), lambda d: "xx"),
    "median_ci": ("Median (95% CI)", ("median", "median_ci_lower", "median_ci_upper"),
                  lambda d: "xx.x (xx.x, xx.x)"),
    "q1_q3_km": ("25th, 75th percentile", ("q1", "q3"), lambda d: "xx.x, xx.x"),
    "hr_ci": ("Hazard ratio (95% CI)", ("hazard_ratio", "ci_lower", "ci_upper"),
              lambda d: "x.xx (x.xx, x.xx)"),
    "lsmean_ci_est": ("LS mean (95% CI)", ("lsmean", "lsmean_ci_lower", "lsmean_ci_upper"),
                      lambda d: "xx.xx (xx.xx, xx.xx)"),
    # Model-level results shown by name in a plan (`show rmse`): reader labels, never the
    # ARD's stat name.
    "rmse": ("Root mean squared error", ("rmse",), lambda d: "xx.xx"),
    "sigma": ("Root MSE", ("sigma",), lambda d: "xx.xx"),
    "statistic": ("Test statistic", ("statistic",), lambda d: "xx.xx"),
    "df": ("Degrees of freedom", ("df",), lambda d: "xx.x"),
    "n_obs": ("Observations used", ("n_obs",), lambda d: "xx"),
    "aic": ("AIC", ("aic",), lambda d: "xx.x"),
    "m2ll": ("-2 Res Log Likelihood", ("m2ll",), lambda d: "xx.x"),
    "m": ("Imputations", ("m",), lambda d: "xx"),
    # Multiple imputation (mi_ancova): subjects imputed at the analysis visit, the fraction
    # of missing information, and the delta-adjusted (tipping-point) grid.
    "n_imputed": ("Imputed at the visit, n", ("n_imputed",), lambda d: "xx"),
    "fmi": ("Fraction of missing information", ("fmi",), lambda d: "x.xxx"),
    "tipping_point": ("Tipping point (delta)", ("tipping_point",), lambda d: "xx.x"),
    "delta_diff": ("Difference in LS means", ("delta_diff",), lambda d: "xx.x"),
    "delta_p_value": ("p-value", ("delta_p_value",), None),
    "diff_ci_est": ("Difference in LS means (95% CI)", ("diff", "diff_ci_lower",
                                                         "diff_ci_upper"),
                    lambda d: "xx.xx (xx.xx, xx.xx)"),
}

# Test results shown as one line each, as SAS PROC FREQ prints them (AGREE layout):
# item -> (label, variable_level of the ARD rows, formatter of {stat: value}).
TEST_ITEMS = {
    "fisher": ("Fisher's exact test", None, lambda v: (
        f"table probability {_sig(v.get('table_probability'))}; "
        f"{_p_text(v.get('fisher_p'))}")),
    "bowker": ("Bowker's test of symmetry", "bowker", lambda v: (
        f"S = {fmt_pattern('xx.xxxx', v.get('bowker_chisq'))}, DF = "
        f"{fmt_pattern('xx', v.get('df'))}, {_p_text(v.get('p_value'))}")),
    "kappa": ("Simple kappa (ASE) [95% CI]", "kappa", lambda v: fmt_pattern(
        "x.xxxx (x.xxxx) [x.xxxx, x.xxxx]", v.get("kappa"), v.get("kappa_ase"),
        v.get("ci_lower"), v.get("ci_upper"))),
    "weighted_kappa": ("Weighted kappa (ASE) [95% CI]", "weighted_kappa", lambda v: fmt_pattern(
        "x.xxxx (x.xxxx) [x.xxxx, x.xxxx]", v.get("weighted_kappa"),
        v.get("weighted_kappa_ase"), v.get("ci_lower"), v.get("ci_upper"))),
}


def _p_text(value: float | None) -> str:
    """'p = 0.0261' or 'p < 0.0001': one form in every test line."""
    text = fmt_p(value)
    if not text:
        return "p = NE"
    return f"p {text[0]} {text[1:]}" if text[0] in "<>" else f"p = {text}"


def _sig(value: float | None) -> str:
    """A small probability in scientific notation (SAS prints e.g. 3.206E-15)."""
    if value is None or math.isnan(value):
        return ""
    return f"{value:.4g}" if value >= 1e-4 else f"{value:.3E}"


# p-values printed as p-values (4 decimals, <0.0001), not as numbers of the data's precision.
P_VALUES = (("p_value",), ("delta_p_value",), ("fisher_p",))
# Whole-table test results: one value, in the table's last column (beside the highest dose
# or the total, where CSR tables print a test between the arms).
# item -> (stat_name, variable_level of its ARD row: None for the whole-table value).
TABLE_TESTS = {"fisher_p": ("fisher_p", None), "chisq_p": ("p_value", "pearson")}

# Items that show a contrast: with several comparators they repeat once per comparator.
CONTRAST_ITEMS = ("diff_se", "diff_ci", "diff_ci_est", "p_value", "fmi", "tipping_point",
                  "delta_diff", "delta_p_value")


def _x(decimals: int) -> str:
    return "xx" + ("." + "x" * decimals if decimals > 0 else "")
