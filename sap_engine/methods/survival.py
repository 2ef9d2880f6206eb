"""Time-to-event methods: Kaplan-Meier, log-rank (and Wilcoxon) tests, Cox regression.

The plan-facing methods ``kaplan_meier``, ``logrank`` and ``cox`` are registered here; the
numbers come from the plain functions of
- :mod:`~sap_engine.methods.survival_km`: kaplan_meier, confidence_limits, survival_at,
  quantile, rank_test (SAS PROC LIFETEST conventions);
- :mod:`~sap_engine.methods.survival_cox`: cox_ph, partial_likelihood, hazard_ratio_limits
  (SAS PROC PHREG conventions);
and the roles, options and input rows the three share from
:mod:`~sap_engine.methods.survival_inputs`.

Every method takes ``time`` and ``event`` roles. ``event_from = cnsr`` (the default) reads the
event column as ADaM ADTTE's CNSR (0 = event, a positive integer = censored);
``event_from = event`` reads it as an event flag (1 = event, 0 = censored). Rows with a missing
time, event, group or stratum are left out, as SAS does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods import registry as clauses  # the plan clauses feeding options
from sap_engine.methods.registry import Evidence, OptionSpec, RoleSpec, Stat, register
from sap_engine.methods.survival_cox import (
    TIES,
    CoxFit,
    check_aliasing,
    cox_ph,
    cox_stats,
    hazard_ratio_limits,
    partial_likelihood,
)
from sap_engine.methods.survival_inputs import (
    CI_LEVEL,
    EVENT_CONVENTION,
    EVENT_FROM,
    GROUP_ROLE,
    LEVELS,
    STRATA_ROLE,
    TIME_EVENT_ROLES,
    event_indicator,
    many_columns,
    ordered_levels,
    row_labels,
    time_event_rows,
)
from sap_engine.methods.survival_km import (
    CONFTYPES,
    RANK_TESTS,
    KaplanMeier,
    RankTest,
    SurvivalAt,
    SurvivalQuantile,
    confidence_limits,
    kaplan_meier,
    quantile,
    rank_test,
    survival_at,
)

__all__ = ["KaplanMeier", "SurvivalAt", "SurvivalQuantile", "RankTest", "CoxFit",
           "kaplan_meier", "confidence_limits", "survival_at", "quantile", "rank_test",
           "cox_ph", "partial_likelihood", "hazard_ratio_limits", "event_indicator",
           "kaplan_meier_method", "logrank", "cox"]

_T = "tests/methods/test_survival.py"


def _time_label(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.10g}"


@register(
    "kaplan_meier", family="survival",
    label="Kaplan-Meier estimates",
    summary="Kaplan-Meier survival estimates with Greenwood SEs and confidence limits, median "
            "and quartiles with Brookmeyer-Crowley limits, numbers at risk and events "
            "(SAS PROC LIFETEST).",
    roles=(*TIME_EVENT_ROLES, GROUP_ROLE, STRATA_ROLE),
    options=(
        EVENT_FROM,
        OptionSpec("conftype", "choice", "loglog", "transformation of the confidence limits "
                   "(SAS CONFTYPE=; R survfit conf.type)", choices=CONFTYPES),
        CI_LEVEL,
        OptionSpec("timepoints", "list", (), "times at which to report the survival estimate "
                   "(default: every event time)"),
        LEVELS,
    ),
    conventions=(
        EVENT_CONVENTION,
        "One curve per group level (and per stratum combination); product-limit estimate with "
        "Greenwood's SE of S(t).",
        "Confidence limits on the `conftype` scale: loglog by default (SAS PROC LIFETEST "
        "CONFTYPE=LOGLOG); R survfit's default is `log`; linear and log limits are clipped to "
        "[0, 1]; where S = 0 only the linear limits exist.",
        "Median and quartiles: the first event time with S(t) < 1 - p, the midpoint of two "
        "event times when S equals 1 - p exactly between them (SAS, R); Brookmeyer-Crowley "
        "limits from the same `conftype` test inverted over the event times (SAS): lower = "
        "first event time in the set, upper = the event time following its last one, missing "
        "(not estimable) when the set reaches the last event time. R survfit reads the upper "
        "limit where the upper band crosses 1 - p and so reports NA when the band stops at "
        "S = 0, where the rule above gives that last event time.",
        "Survival at `timepoints`: the step function's value at t (events at t included), "
        "with `n_risk` the subjects with follow-up >= t and `events` the events up to t; not "
        "estimable past the last follow-up time unless S has reached 0. Without `timepoints`, "
        "every event time is reported, and every censoring time with the number censored "
        "there (`censored`).",
    ),
    evidence=(
        Evidence("R survival: summary(survfit(Surv(time, status) ~ x, aml)) (published) "
                 "survival, std.err and log-type limits; medians 31 and 23 with lower limits "
                 "18 and 8", "printed digits", f"{_T}::test_aml_km_matches_r_survfit"),
        Evidence("SAS/STAT PROC LIFETEST documentation (Kaplan-Meier details): 95% limits of "
                 "the 25th percentile, ALL group of the BMT data, for each CONFTYPE (linear "
                 "107-276, loglog 86-230, log 107-332, asinsqrt 104-276, logit 104-230)",
                 "exact (event times)", f"{_T}::test_sas_bmt_quartile_limits_every_conftype"),
        Evidence("statsmodels SurvfuncRight (survival, Greenwood SE, quantile limits) as a "
                 "second algorithm", "1e-10", f"{_T}::test_km_statsmodels_second_algorithm"),
        Evidence("Hand computation of the KM step function, numbers at risk and the flat "
                 "median midpoint rule", "exact", f"{_T}::test_km_hand_computation"),
    ),
    stats=("n", "events", "median", "median_ci_lower", "median_ci_upper", "q1", "q1_ci_lower",
           "q1_ci_upper", "q3", "q3_ci_lower", "q3_ci_upper", "survival", "survival_se",
           "survival_ci_lower", "survival_ci_upper", "n_risk", "censored"),
)
def kaplan_meier_method(frame, roles: Mapping[str, Any],
                        options: Mapping[str, Any]) -> list[Stat]:
    used, time, event = time_event_rows(frame, roles, options)
    conftype = options.get("conftype", "loglog")
    level = float(options.get("ci_level", 0.95))
    keys = [*many_columns(roles.get("group")), *many_columns(roles.get("strata"))]
    labels, orders = {}, {}
    for k in keys:
        labels[k], orders[k] = ordered_levels(used[k], options.get("levels", ())
                                       if k == roles.get("group") else ())
    combos: list[tuple[tuple[str, str], ...]] = [()]
    for k in keys:
        combos = [c + ((k, lev),) for c in combos for lev in orders[k]]
    out: list[Stat] = []
    for combo in combos:
        rows = np.ones(len(time), dtype=bool)
        for k, lev in combo:
            rows &= labels[k] == lev
        if not rows.any():
            continue
        out += _curve_stats(kaplan_meier(time[rows], event[rows]), combo, conftype, level,
                            options.get("timepoints") or ())
    return out


def _curve_stats(km: KaplanMeier, groups: tuple[tuple[str, str], ...], conftype: str,
                 level: float, timepoints: Sequence[Any]) -> list[Stat]:
    out = [Stat("n", float(km.n), groups=groups), Stat("events", float(km.events), groups=groups)]
    for name, p in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
        q = quantile(km, p, conftype, level)
        out += [Stat(name, q.estimate, groups=groups),
                Stat(f"{name}_ci_lower", q.lower, groups=groups),
                Stat(f"{name}_ci_upper", q.upper, groups=groups)]
    try:
        times = [float(t) for t in timepoints] if timepoints else km.times.tolist()
    except (TypeError, ValueError):
        raise MethodError("SAP479", "option 'timepoints' must list numbers") from None
    for t in times:
        at = survival_at(km, t, conftype, level)
        g = groups + (("time", _time_label(t)),)
        out += [Stat("survival", at.survival, groups=g), Stat("survival_se", at.se, groups=g),
                Stat("survival_ci_lower", at.lower, groups=g),
                Stat("survival_ci_upper", at.upper, groups=g),
                Stat("n_risk", float(at.n_risk), groups=g),
                Stat("events", float(at.events), groups=g)]
    if not timepoints:
        # The whole curve: the censoring times too, so that a figure can mark them and
        # count the subjects at risk at any time (n - events before - censored before).
        censored = km.follow_up[km.event_flags == 0]
        for t, count in zip(*np.unique(censored, return_counts=True), strict=True):
            out.append(Stat("censored", float(count),
                            groups=groups + (("time", _time_label(float(t))),)))
    return out


@register(
    "logrank", family="survival",
    label="Test of equal survival",
    summary="Log-rank test (or Wilcoxon/Gehan, Tarone-Ware) of equal survival across groups, "
            "optionally stratified (SAS PROC LIFETEST STRATA / GROUP=).",
    roles=(*TIME_EVENT_ROLES, RoleSpec("group", "category", doc="the compared groups "
                                       "(defaults to the plan's treatment)"), STRATA_ROLE),
    options=(
        EVENT_FROM,
        OptionSpec("test", "choice", "logrank", "weights of the rank test: log-rank (1), Wilcoxon "
                   "(Gehan-Breslow: number at risk) or Tarone-Ware (its square root)",
                   choices=RANK_TESTS),
        LEVELS,
    ),
    conventions=(
        EVENT_CONVENTION,
        "Chi-square U' V^- U on rank(V) df (k - 1 for k groups) with the hypergeometric "
        "covariance, as SAS PROC LIFETEST and R survdiff; `test = wilcoxon` is SAS's Wilcoxon "
        "(Gehan-Breslow weights = number at risk), `tarone` weights by its square root.",
        "Strata: scores and covariances are computed within each stratum and summed (SAS "
        "STRATA strata / GROUP=group; R survdiff + strata()).",
        "ARD rows carry the test name as variable_level; the chi-square is `logrank_chisq` "
        "for every weighting; observed `events` and `expected_events` per group.",
    ),
    evidence=(
        Evidence("R survival: survdiff(Surv(time, status) ~ x, aml) (published): chisq 3.4 "
                 "on 1 df, observed 7 / 11, expected 10.69 / 7.31", "printed digits",
                 f"{_T}::test_aml_logrank_matches_r_survdiff"),
        Evidence("SAS/STAT PROC LIFETEST documentation, BMT data (3 disease groups): Log-Rank "
                 "13.8037, Wilcoxon 16.2407 on 2 df", "4 decimals",
                 f"{_T}::test_sas_bmt_rank_tests"),
        Evidence("R survdiff / survMisc values for AML-Low vs AML-High (BMT) unstratified, "
                 "Gehan-Breslow, Tarone-Ware and with 5 strata: 13.44556, 15.38787, 14.98382, "
                 "11.97799", "1e-5", f"{_T}::test_r_survdiff_bmt_weights_and_strata"),
    ),
    stats=("logrank_chisq", "df", "p_value", "events", "expected_events"),
)
def logrank(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    if not roles.get("group"):
        raise MethodError("SAP493", "the log-rank test needs a 'group' role")
    used, time, event = time_event_rows(frame, roles, options)
    group_col = roles["group"]
    group, order = ordered_levels(used[group_col], options.get("levels", ()))
    strata_cols = many_columns(roles.get("strata"))
    strata = None
    if strata_cols:
        parts = [row_labels(used[c]) for c in strata_cols]
        strata = np.array(["\x1f".join(row) for row in zip(*parts, strict=True)])
    # Order the groups for display: rank_test numbers them in order of appearance.
    rank = {lev: i for i, lev in enumerate(order)}
    sort = np.argsort([rank[g] for g in group], kind="mergesort")
    test = options.get("test", "logrank")
    result = rank_test(time[sort], event[sort], group[sort],
                       None if strata is None else strata[sort], test)
    out = [Stat("logrank_chisq", result.chisq, variable_level=test),
           Stat("df", float(result.df), variable_level=test),
           Stat("p_value", result.p_value, variable_level=test)]
    for lev, o, e in zip(result.groups, result.observed, result.expected, strict=True):
        g = ((group_col, lev),)
        out += [Stat("events", o, variable_level=test, groups=g),
                Stat("expected_events", e, variable_level=test, groups=g)]
    return out


@register(
    "cox", family="survival",
    label="Cox proportional hazards regression",
    summary="Cox proportional hazards regression: hazard ratios with Wald limits and tests, "
            "likelihood-ratio, score and Wald global tests (SAS PROC PHREG).",
    roles=(*TIME_EVENT_ROLES, GROUP_ROLE,
           RoleSpec("factors", "category", many=True, required=False,
                    doc="other class variables"),
           RoleSpec("covariates", "numeric", many=True, required=False,
                    doc="continuous covariates"),
           RoleSpec("strata", "category", many=True, required=False,
                    doc="strata with their own baseline hazard (SAS STRATA statement)")),
    options=(
        EVENT_FROM,
        OptionSpec("ties", "choice", "breslow", "tied event times: Breslow (SAS PHREG default) or "
                   "Efron (R coxph default)", choices=TIES),
        CI_LEVEL,
        OptionSpec("reference", "string", "", "reference group level (default: the plan's "
                   "reference arm, else the last level, SAS REF=LAST)",
                   clause=clauses.TREATMENT_REFERENCE),
        LEVELS,
    ),
    conventions=(
        EVENT_CONVENTION,
        "Ties: Breslow by default (SAS PROC PHREG TIES=BRESLOW); R coxph's default is Efron "
        "(`ties = efron`). Newton-Raphson from 0 with step halving.",
        "Class variables use reference coding (SAS PARAM=REF): the group against `reference` "
        "(default the plan's reference arm, else the last level as SAS REF=LAST), other "
        "factors against their last level; parameters read `B vs A` (group) and "
        "`factor B vs A`.",
        "Per parameter: estimate (log hazard ratio), SE from the observed information, Wald "
        "chi-square `statistic` (SAS prints chi-square, R z = its signed square root) and "
        "p-value, hazard ratio with Wald limits exp(b -/+ z se).",
        "Global tests of beta = 0 (variable_level `Likelihood Ratio`, `Score`, `Wald`) with "
        "`df`; a class effect with more than one parameter also gets its joint Wald test "
        "(SAS Type 3) under its name.",
        "Refused: no events, fewer events than parameters, collinear covariates, or a "
        "diverging estimate (monotone likelihood, e.g. a group without events).",
    ),
    evidence=(
        Evidence("R survival: coxph(Surv(time, status) ~ x, aml) (Efron, published): coef "
                 "0.9155, se 0.5119, HR 2.498 (0.9159, 6.813), LR 3.38, Wald 3.2, score 3.42",
                 "printed digits", f"{_T}::test_aml_cox_efron_matches_r_coxph"),
        Evidence("SAS/STAT PROC PHREG documentation, Getting Started (Rats data, Breslow "
                 "ties): hazard ratio for Group 0.551", "printed digits",
                 f"{_T}::test_sas_rats_cox_breslow_hazard_ratio"),
        Evidence("statsmodels PHReg (ties breslow and efron, strata, several covariates) as a "
                 "second algorithm", "1e-8", f"{_T}::test_cox_statsmodels_second_algorithm"),
        Evidence("Breslow score test of one binary covariate without ties equals the log-rank "
                 "chi-square (identity)", "1e-10", f"{_T}::test_cox_score_equals_logrank"),
    ),
    stats=("estimate", "se", "hazard_ratio", "ci_lower", "ci_upper", "statistic", "df",
           "p_value", "n", "events"),
)
def cox(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    group_col = roles.get("group") or None
    factors, covariates = many_columns(roles.get("factors")), many_columns(roles.get("covariates"))
    used, time, event = time_event_rows(frame, roles, options, (*factors, *covariates))
    columns: list[np.ndarray] = []
    names: list[str] = []
    effects: list[tuple[str, list[int]]] = []
    if group_col:
        listed = [str(x) for x in options.get("levels", ())]
        labels, levels = ordered_levels(used[group_col], listed)
        if len(levels) < 2 and len(listed) > 1:
            # Leaving the group out would fit another model than the plan's, silently.
            lacking = [lev for lev in listed if lev not in levels]
            raise MethodError("SAP485", f"the hazard ratio of '{group_col}' needs two of its "
                                        f"levels, but {', '.join(map(repr, lacking))} "
                                        "has no rows with time, event and every model term "
                                        "present")
        if len(levels) > 1:  # one arm (a by-arm analysis): no group parameter
            ref = str(options.get("reference") or "") or levels[-1]
            _class_columns(labels, levels, ref, group_col, "{level} vs {ref}", columns, names,
                           effects)
    for col in factors:
        labels, levels = ordered_levels(used[col])
        _class_columns(labels, levels, levels[-1], col, "{col} {level} vs {ref}", columns,
                       names, effects)
    for col in covariates:
        columns.append(used[col].to_numpy(dtype=float))
        names.append(col)
    x = np.column_stack(columns) if columns else np.empty((len(time), 0))
    check_aliasing(x, names)
    strata = None
    if many_columns(roles.get("strata")):
        parts = [row_labels(used[c]) for c in many_columns(roles.get("strata"))]
        strata = np.array(["\x1f".join(row) for row in zip(*parts, strict=True)])
    fit = cox_ph(time, event, x, names, strata, options.get("ties", "breslow"))
    return cox_stats(fit, effects, float(options.get("ci_level", 0.95)))


def _class_columns(labels: np.ndarray, levels: list[str], ref: str, col: str, pattern: str,
                   columns: list, names: list, effects: list) -> None:
    if ref not in levels:
        raise MethodError("SAP478", f"reference '{ref}' is not a level of '{col}' in the data "
                                    f"({', '.join(levels)})")
    start = len(names)
    for level in levels:
        if level != ref:
            columns.append((labels == level).astype(float))
            names.append(pattern.format(col=col, level=level, ref=ref))
    effects.append((col, list(range(start, len(names)))))
