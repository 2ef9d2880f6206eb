"""The categorical (freq) family: tests of two-way and stratified tables, as SAS PROC FREQ.

Methods registered here: ``chisq``, ``fisher_exact``, ``cmh``, ``mcnemar``, ``bowker``;
the effect measures (``risk_difference``, ``odds_ratio``, ``relative_risk``) live in
:mod:`sap_engine.methods.freq_effects` and ``logistic`` in
:mod:`sap_engine.methods.freq_logistic`; importing this module registers them all.

Every method builds its table from the roles ``row`` and ``col`` (``crosstab R by C``) with
the level order of :mod:`sap_engine.methods.freq_table` (SAS ORDER=INTERNAL by default), and
reports ``n``, the number of complete cases in the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sap_engine.methods import freq_effects, freq_logistic  # noqa: F401  (registration)
from sap_engine.methods.freq_effects import ROLES, TABLE_OPTIONS, table_from
from sap_engine.methods.freq_exact import fisher_exact as fisher_exact_test
from sap_engine.methods.freq_table import (
    need_2x2,
    need_levels,
    role_column,
    square_table,
    stratified,
    z_quantile,
)
from sap_engine.methods.freq_tests import (
    BOWKER_DF,
    bowker,
    chi_rows,
    chisq_tests,
    cmh,
    mantel_haenszel,
    mcnemar,
)
from sap_engine.methods.registry import Evidence, OptionSpec, RoleSpec, Stat, register

_T = "tests/methods/test_freq.py"


@register(
    "chisq", family="freq",
    label="Chi-square tests of independence",
    summary="Chi-square tests of independence of a two-way table: Pearson, likelihood ratio, "
            "continuity-adjusted (2 x 2) and Mantel-Haenszel (SAS TABLES / CHISQ).",
    roles=ROLES,
    options=TABLE_OPTIONS,
    conventions=(
        "Statistics use the non-empty rows and columns; df = (R - 1)(C - 1); the continuity-"
        "adjusted chi-square (2 x 2 only) uses max(0, |n - e| - 0.5), as SAS (R's "
        "chisq.test default for 2 x 2 tables is this corrected value).",
        "Mantel-Haenszel chi-square (n - 1) r^2 with table scores (numeric values, else "
        "ranks).",
        "As SAS, a note warns when more than 20 % of the cells have an expected count "
        "below 5.",
    ),
    evidence=(
        Evidence("SAS PROC FREQ chi-square 12.1804 for the bronchitis 2 x 2 table (PHUSE "
                 "CAMIS R/SAS comparison)", "5e-5", f"{_T}::test_chisq_published"),
        Evidence("Fagerland et al. (2017) Pearson 2.000, LR 2.093, continuity-corrected 0.500 "
                 "for [[3,1],[1,3]]; Pearson 17.562 for a 3 x 2 table; Agresti (2007) party x "
                 "gender X2 = 30.07, G2 = 30.02", "5e-4", f"{_T}::test_chisq_published"),
    ),
    stats=("n", "chisq", "df", "p_value", "note"),
)
def chisq(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    t = table_from(frame, roles, options)
    need_levels(t, "the chi-square test")
    res = chisq_tests(t.counts, t.row_scores, t.col_scores)
    out = [Stat("n", float(res.n))]
    out += chi_rows("chisq", "pearson", res.pearson, "Chi-Square")
    out += chi_rows("chisq", "likelihood_ratio", res.likelihood_ratio,
                    "Likelihood Ratio Chi-Square")
    if res.continuity_adjusted is not None:
        out += chi_rows("chisq", "continuity_adjusted", res.continuity_adjusted,
                        "Continuity Adj. Chi-Square")
    out += chi_rows("chisq", "mantel_haenszel", res.mantel_haenszel,
                    "Mantel-Haenszel Chi-Square")
    if res.low_expected > 0.2:
        out.append(Stat("note", None, stat_text=f"{100 * res.low_expected:.0f}% of the cells "
                        "have expected counts less than 5; chi-square may not be a valid "
                        "test"))
    return out


@register(
    "fisher_exact", family="freq",
    label="Fisher's exact test",
    summary="Fisher's exact test of a 2 x 2 or r x c table: the observed table's probability "
            "and the two-sided p-value (SAS FISHER / EXACT FISHER).",
    roles=ROLES,
    options=TABLE_OPTIONS,
    conventions=(
        "Two-sided p = sum of the probabilities of the tables (margins fixed) whose "
        "probability is <= the observed table's, with a relative tolerance of 1e-7 "
        "(ties in exact arithmetic are kept; same tolerance as R's fisher.test).",
        "2 x 2 tables also give SAS's one-sided p-values for the (1,1) cell "
        "(`variable_level` left: Pr <= F, right: Pr >= F).",
        "Exact network enumeration (no Monte Carlo): column by column with merged partial "
        "probabilities and a sorted last stage; tables too large to enumerate are refused "
        "(SAP464).",
    ),
    evidence=(
        Evidence("R fisher.test documentation: Job satisfaction 4 x 4 p = 0.7827, MP6 5 x 7 "
                 "(Mehta & Patel) p = 0.03929, tea tasting p = 0.4857 (one-sided 0.2429), "
                 "Convictions p = 0.0005367", "displayed digits",
                 f"{_T}::test_fisher_published_values"),
        Evidence("Full enumeration of every table with the margins (second algorithm, exact "
                 "rational arithmetic) on small r x c tables", "1e-9 relative",
                 f"{_T}::test_fisher_matches_full_enumeration"),
    ),
    stats=("n", "table_probability", "fisher_p"),
)
def fisher_exact(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    t = table_from(frame, roles, options)
    need_levels(t, "Fisher's exact test")
    res = fisher_exact_test(t.counts)
    out = [Stat("n", float(t.n)),
           Stat("table_probability", res.table_probability, stat_label="Table Probability (P)"),
           Stat("fisher_p", res.p_value, stat_label="Pr <= P")]
    if t.shape == (2, 2):
        out += [Stat("fisher_p", res.p_left, variable_level="left", stat_label="Left-sided "
                     "Pr <= F"),
                Stat("fisher_p", res.p_right, variable_level="right", stat_label="Right-sided "
                     "Pr >= F")]
    return out


@register(
    "cmh", family="freq",
    label="Cochran-Mantel-Haenszel statistics",
    summary="Cochran-Mantel-Haenszel statistics of row x col tables over strata (nonzero "
            "correlation, row mean scores differ, general association); for 2 x 2 x K also the "
            "Mantel-Haenszel common odds ratio with its RBG CI and the Breslow-Day test.",
    roles=(*ROLES, RoleSpec("strata", "category", doc="the stratification variable")),
    options=(*TABLE_OPTIONS,
             OptionSpec("ci_level", "number", 0.95, "confidence level of the common odds ratio",
                        minimum=0.5, maximum=0.999)),
    conventions=(
        "SAS table scores: numeric values of a numeric variable, else ranks 1..k in table "
        "order (so the level order matters for the correlation and row mean score "
        "statistics).",
        "No continuity correction (SAS; R's mantelhaen.test corrects 2 x 2 x K by default). "
        "Strata with fewer than 2 subjects carry no variance and are skipped.",
        "Common odds ratio: row 1 vs row 2, odds of column 1; CI by Robins, Breslow & "
        "Greenland. Breslow-Day at the MH estimate (SAS default), Tarone's adjustment as "
        "`variable_level` breslow_day_tarone (SAS BDT).",
    ),
    evidence=(
        Evidence("SAS PROC FREQ CMH output on the CDISC pilot ADCIBC (PHUSE CAMIS): e.g. "
                 "AVAL x AGEGR1 by TRTP 2.738160852 / 4.407010917 / 5.730538193", "1e-6",
                 f"{_T}::test_cmh_sas_cdisc_pilot"),
        Evidence("R mantelhaen.test: Satisfaction M^2 = 10.2 (df 9, p 0.3345); Rabbits common "
                 "OR 7 (1.026713, 47.725133); Fagerland et al. 2 x 2 x 2: CMH 24.920, MH "
                 "4.5239, Breslow-Day (Tarone) 5.175", "displayed digits",
                 f"{_T}::test_cmh_published"),
    ),
    stats=("n", "cmh_chisq", "df", "p_value", "odds_ratio", "ci_lower", "ci_upper",
           "breslow_day_chisq"),
)
def cmh_method(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    parts = stratified(frame, role_column(roles, "row"), role_column(roles, "col"),
                       role_column(roles, "strata"),
                       order=options.get("order", "internal"),
                       row_levels=tuple(options.get("row_levels") or ()),
                       col_levels=tuple(options.get("col_levels") or ()))
    tables = [t for _, t in parts]
    first = tables[0]
    res = cmh([t.counts for t in tables], first.row_scores, first.col_scores)
    out = [Stat("n", float(sum(t.n for t in tables)))]
    out += chi_rows("cmh_chisq", "nonzero_correlation", res.nonzero_correlation,
                    "Nonzero Correlation")
    out += chi_rows("cmh_chisq", "row_mean_scores", res.row_mean_scores,
                    "Row Mean Scores Differ")
    out += chi_rows("cmh_chisq", "general_association", res.general_association,
                    "General Association")
    if first.shape == (2, 2):
        common = mantel_haenszel([t.counts for t in tables],
                                 z_quantile(options.get("ci_level", 0.95)))
        label = "mantel_haenszel"
        out += [Stat("odds_ratio", common.odds_ratio, variable_level=label),
                Stat("ci_lower", common.ci_lower, variable_level=label),
                Stat("ci_upper", common.ci_upper, variable_level=label)]
        # Breslow-Day tests that the odds ratio is the same in every stratum: with fewer
        # than two strata it compares nothing (df 0, a NaN p-value), and SAS omits it.
        if common.breslow_day.df >= 1:
            out += chi_rows("breslow_day_chisq", "breslow_day", common.breslow_day)
            out += chi_rows("breslow_day_chisq", "breslow_day_tarone",
                            common.breslow_day_tarone)
    return out


_PAIRED = (RoleSpec("row", "category", doc="the first rating or measurement"),
           RoleSpec("col", "category", doc="the second rating or measurement"))


@register(
    "mcnemar", family="freq",
    label="McNemar's test",
    summary="McNemar's test of a paired 2 x 2 table (SAS AGREE for 2 x 2 tables).",
    roles=_PAIRED,
    options=(*TABLE_OPTIONS,
             OptionSpec("correct", "bool", False, "continuity correction (R's mcnemar.test "
                        "default; SAS has none)")),
    conventions=("Q = (n12 - n21)^2 / (n12 + n21), 1 df, without continuity correction "
                 "(SAS); `correct = true` gives R's default (|n12 - n21| - 1)^2 / (n12 + "
                 "n21).",),
    evidence=(Evidence("R mcnemar.test Performance example: 16.818 (corrected, p 4.115e-05) "
                       "and 17.356 (uncorrected, p 3.099e-05)", "5e-4",
                       f"{_T}::test_mcnemar_r_example"),),
    stats=("n", "chisq", "df", "p_value"),
)
def mcnemar_method(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    t = table_from(frame, roles, options)
    need_2x2(t, "McNemar's test")
    res = mcnemar(t.counts, bool(options.get("correct", False)))
    return [Stat("n", float(t.n)), *chi_rows("chisq", "mcnemar", res, "McNemar's Test")]


@register(
    "bowker", family="freq",
    label="Bowker's test of symmetry",
    summary="Bowker's test of symmetry of a square k x k table of paired ratings.",
    roles=_PAIRED,
    options=(*TABLE_OPTIONS, BOWKER_DF,
             OptionSpec("zeros", "bool", False, "square the table over the union of the row and "
                        "column levels (SAS ZEROS)")),
    conventions=("Q = sum_{i<j} (n_ij - n_ji)^2 / (n_ij + n_ji); pairs with no counts add 0; "
                 "df k(k-1)/2 (SAS; `bowker_df = nonzero` drops the empty pairs).",
                 "The rows and columns must have the same levels (see `agreement`).",),
    evidence=(Evidence("Fagerland et al. (2017) Peterson et al. 2007 4 x 4: T0 = 26.250, df 6, "
                       "P = 0.000200", "5e-4", f"{_T}::test_bowker_fagerland"),),
    stats=("n", "bowker_chisq", "df", "p_value"),
)
def bowker_method(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    t = square_table(frame, roles, options)
    res = bowker(t.counts, options.get("bowker_df", "all"))
    return [Stat("n", float(t.n)), *chi_rows("bowker_chisq", "bowker", res,
                                             "Test of Symmetry")]
