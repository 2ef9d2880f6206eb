"""Descriptive statistics and standardized mean differences.

Conventions (SAS PROC MEANS / UNIVARIATE defaults unless the plan says otherwise):
- SD with divisor n - 1; SE = SD / sqrt(n); CI of the mean t-based with n - 1 df.
- Quartiles by SAS QNTLDEF=5 (empirical distribution with averaging; R ``type = 2``);
  ``quantiles = "r7"`` gives R's default / numpy's linear interpolation instead.
- Categorical percentages use the group's population count as denominator (the N in the
  column header, as CSR tables do); ``denominator = "nonmissing"`` uses the non-missing n.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods import registry as clauses  # the plan clauses feeding options
from sap_engine.methods.inputs import refuse_infinite_columns
from sap_engine.methods.registry import Evidence, OptionSpec, RoleSpec, Stat, register

_T = "tests/methods/test_descriptive.py"


def quantile(sorted_values: np.ndarray, p: float, definition: str = "sas5") -> float:
    """Quantile of sorted data: SAS QNTLDEF=5 (default) or R type 7."""
    n = len(sorted_values)
    if n == 0:
        return math.nan
    if definition == "r7":
        return float(np.quantile(sorted_values, p, method="linear"))
    np_ = n * p
    j = math.floor(np_ + 1e-12)
    if abs(np_ - j) < 1e-9:  # n*p integral: average the two neighbours
        if j == 0:
            return float(sorted_values[0])
        if j >= n:
            return float(sorted_values[-1])
        return float((sorted_values[j - 1] + sorted_values[j]) / 2)
    return float(sorted_values[min(j, n - 1)])


def t_quantile(level: float, df: float) -> float:
    # scipy.special, not scipy.stats: the same quantile (stdtrit is what t.ppf calls) for a
    # third of the import time.
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.5 + level / 2))


def numeric_summary(values: np.ndarray, ci_level: float = 0.95,
                    quantiles: str = "sas5") -> dict[str, float]:
    """n, n_missing, mean, sd, se, median, q1, q3, min, max, sum and the CI of the mean."""
    values = np.asarray(values, dtype=float)
    ok = values[~np.isnan(values)]
    n = len(ok)
    out = {"n": float(n), "n_missing": float(len(values) - n)}
    if n == 0:
        return out
    s = np.sort(ok)
    mean = float(np.mean(ok))
    out.update(mean=mean, median=quantile(s, 0.5, quantiles), q1=quantile(s, 0.25, quantiles),
               q3=quantile(s, 0.75, quantiles), min=float(s[0]), max=float(s[-1]),
               sum=float(np.sum(ok)))
    if n > 1:
        sd = float(np.std(ok, ddof=1))
        se = sd / math.sqrt(n)
        half = t_quantile(ci_level, n - 1) * se
        out.update(sd=sd, se=se, mean_ci_lower=mean - half, mean_ci_upper=mean + half)
    return out


@register(
    "descriptive", family="descriptive",
    label="Descriptive statistics",
    summary="Summary statistics of a numeric variable, or counts and percentages of a "
            "categorical one.",
    roles=(RoleSpec("variable", "any", doc="the variable to summarise"),),
    options=(
        OptionSpec("ci_level", "number", 0.95, "confidence level of the CI of the mean",
                   minimum=0.5, maximum=0.999),
        OptionSpec("quantiles", "choice", "sas5", "quartile definition: SAS QNTLDEF=5 or R type 7",
                   choices=("sas5", "r7")),
        OptionSpec("denominator", "choice", "population",
                   "percentages of the group's population N or of its non-missing n",
                   choices=("population", "nonmissing")),
        OptionSpec("levels", "list", (), "categorical levels in display order (default: sorted)",
                   clause=clauses.VARIABLE_LEVELS),
    ),
    conventions=(
        "SD has divisor n - 1; the CI of the mean is t-based with n - 1 df (SAS PROC MEANS CLM).",
        "Quartiles: SAS QNTLDEF=5 by default (= R quantile type 2); `quantiles = r7` for R's "
        "default.",
        "Percentages: denominator is the group's population N (the column header N) by "
        "default; levels with zero count are shown when listed in `levels`.",
    ),
    evidence=(
        Evidence("CDISC Pilot 01 Table 14-3.01 baseline and change summaries (published)",
                 "displayed precision", f"{_T}::test_cdisc_adas_summaries"),
        Evidence("Hand computation of SAS QNTLDEF=5 quartiles on n = 7, 8", "exact",
                 f"{_T}::test_quartiles_sas_definition_5"),
        Evidence("Hand computation of the SUM of non-missing values", "exact",
                 f"{_T}::test_sum_skips_missing_values"),
    ),
    stats=("N", "n", "n_missing", "pct", "mean", "sd", "se", "median", "q1", "q3", "min", "max",
           "sum", "mean_ci_lower", "mean_ci_upper"),
)
def descriptive(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    col = roles["variable"]
    series = frame[col]
    refuse_infinite_columns(frame, [col])
    if _is_numeric(series):
        summary = numeric_summary(series.to_numpy(dtype=float, na_value=np.nan),
                                  options.get("ci_level", 0.95), options.get("quantiles", "sas5"))
        return [Stat(k, v) for k, v in summary.items()]
    return _categorical(series, options)


def _is_numeric(series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _categorical(series, options: Mapping[str, Any]) -> list[Stat]:
    values = series.dropna().astype(str)
    counts = values.value_counts()
    levels = list(options.get("levels") or ()) or sorted(counts.index)
    big_n = len(series)
    denominator = big_n if options.get("denominator", "population") == "population" \
        else len(values)
    out = [Stat("N", float(big_n)), Stat("n_missing", float(big_n - len(values)))]
    for level in levels:
        n = float(counts.get(level, 0))
        pct = 100.0 * n / denominator if denominator else None  # no denominator: no %
        out += [Stat("n", n, variable_level=level), Stat("pct", pct, variable_level=level)]
    return out


def cohens_d(active: np.ndarray, reference: np.ndarray) -> float:
    """(mean_active - mean_reference) / pooled SD (pooled with n - 1 weights)."""
    a, r = active[~np.isnan(active)], reference[~np.isnan(reference)]
    if len(a) < 2 or len(r) < 2:
        raise MethodError("SAP410", "SMD needs at least two values in each arm")
    pooled = math.sqrt(((len(a) - 1) * np.var(a, ddof=1) + (len(r) - 1) * np.var(r, ddof=1))
                       / (len(a) + len(r) - 2))
    if pooled == 0:
        raise MethodError("SAP411", "SMD undefined: the variable has no spread in either arm")
    return float((np.mean(a) - np.mean(r)) / pooled)


def binary_smd(p_active: float, p_reference: float) -> float:
    """SMD of a proportion: (p1 - p0) / sqrt((p1(1-p1) + p0(1-p0)) / 2) (Austin 2009)."""
    spread = math.sqrt((p_active * (1 - p_active) + p_reference * (1 - p_reference)) / 2)
    if spread == 0:
        raise MethodError("SAP411", "SMD undefined: the proportion is 0 or 1 in both arms")
    return (p_active - p_reference) / spread


@register(
    "smd", family="descriptive",
    label="Standardized mean difference",
    summary="Standardized mean difference between two arms: Cohen's d for a numeric "
            "variable, the Austin (2009) SMD for a binary one.",
    roles=(RoleSpec("variable", "any", doc="numeric or binary variable"),
           RoleSpec("treatment", "category", doc="the arms (defaults to the plan's treatment)")),
    options=(
        OptionSpec("reference", "string", "", "the reference arm (default: the plan's reference)",
                   clause=clauses.TREATMENT_REFERENCE),
        OptionSpec("levels", "list", (), "arm order; the first non-reference arm is compared",
                   clause=clauses.TREATMENT_ARMS),
        OptionSpec("event", "string", "Y", "the level counted as the event for a binary variable"),
    ),
    conventions=(
        "Cohen's d = (mean active - mean reference) / pooled SD, the pooled variance weighting "
        "each arm by n - 1 (as the ProDERM paper states its SMD).",
        "Binary variables: (p1 - p0) / sqrt((p1(1 - p1) + p0(1 - p0)) / 2) (Austin 2009).",
    ),
    evidence=(
        Evidence("ProDERM Table 1 SMDs recomputed from the published means and SDs (hand "
                 "computation)", "1e-3", f"{_T}::test_cohens_d_from_published_summaries"),
        Evidence("Austin (2009) binary SMD, hand computation", "1e-12",
                 f"{_T}::test_binary_smd_hand"),
    ),
    stats=("smd",),
)
def smd(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    arm_col, col = roles["treatment"], roles["variable"]
    present = set(frame[arm_col].dropna().astype(str))
    listed = [str(x) for x in options.get("levels") or ()] or sorted(present)
    levels = [lev for lev in listed if lev in present]
    reference = options.get("reference") or listed[-1]
    others = [lev for lev in levels if lev != reference]
    if reference not in levels or not others:
        # A population of one arm (or none of the reference arm) has nothing to compare.
        shown = ", ".join(f"'{lev}'" for lev in levels) or "none"
        missing = f"no subject of the reference arm '{reference}'" \
            if reference not in levels else "no second arm"
        raise MethodError("SAP484", f"SMD compares two arms, but the analysis population has "
                                    f"{missing} (arms present: {shown}); use a population "
                                    "with both arms")
    active = others[0]
    arms = frame[arm_col].astype(str)
    series = frame[col]
    refuse_infinite_columns(frame, [col])
    if _is_numeric(series) and series.dropna().nunique() > 2 or _is_numeric(series) and \
            not set(series.dropna().unique()) <= {0, 1}:
        values = series.to_numpy(dtype=float, na_value=np.nan)
        d = cohens_d(values[(arms == active).to_numpy()], values[(arms == reference).to_numpy()])
    else:
        event = str(options.get("event", "Y"))
        flags = series.dropna().astype(str) if not _is_numeric(series) else \
            series.dropna().astype(int).astype(str).replace({"1": event})
        p = {}
        for lev in (active, reference):
            in_arm = flags[arms.loc[flags.index] == lev]
            if in_arm.empty:  # every value of the arm missing: no proportion
                raise MethodError("SAP410", f"SMD needs values in each arm; '{col}' is missing "
                                            f"for every subject of '{lev}'")
            p[lev] = float((in_arm == event).mean())
        d = binary_smd(p[active], p[reference])
    return [Stat("smd", d, variable_level=f"{active} - {reference}")]
