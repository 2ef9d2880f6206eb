"""ARS methods and results from the ARD: one AnalysisMethod per registered method used
(its operations are the statistics it produced), one OperationResult per ARD row, with the
raw value at full precision and the value formatted as the document formats it.

Formatting follows the document's rules (render/tables.py): a display pattern the plan
gives a ``show`` item (``mean_sd "xx.x (xx.xx)"``), else the item's pattern built from the
data's decimals (mean and median one more than min/max, SD two more), p-values with 4
decimals and ``<0.0001``, counts whole, percentages to one decimal, and the plan's rounding
rule (SAS half away from zero unless ``rounding half_even``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from sap_engine import model as m
from sap_engine.ars_map import ident
from sap_engine.render.format import decimals_of, default_decimals, fmt_p, fmt_pattern
from sap_engine.render.show_items import COMPOSITES, _x

_RUN = re.compile(r"x+(?:\.x+)?")
P_VALUES = ("p_value", "p_value_unadjusted", "p_value_adjusted", "delta_p_value", "fisher_p")
# The groupings of an ARD row that are not groups: its variable and its variable_level.
VARIABLE, LEVEL = "ARD_variable", "ARD_variable_level"
COUNTS = ("N", "n", "n_missing", "events", "n_imputed", "df", "num_df", "reject")

# Labels of the ARD's statistic names (docs/ard.md) where the method gives none.
STAT_LABELS = {
    "N": "Subjects in the population", "n": "n", "n_missing": "Missing", "pct": "%",
    "mean": "Mean", "sd": "SD", "se": "SE", "median": "Median", "q1": "Q1", "q3": "Q3",
    "min": "Min", "max": "Max", "mean_ci_lower": "Lower 95% CI of mean",
    "mean_ci_upper": "Upper 95% CI of mean", "lsmean": "LS mean", "lsmean_se": "SE of LS mean",
    "lsmean_ci_lower": "Lower CI of LS mean", "lsmean_ci_upper": "Upper CI of LS mean",
    "diff": "Difference in LS means", "diff_se": "SE of difference",
    "diff_ci_lower": "Lower CI of difference", "diff_ci_upper": "Upper CI of difference",
    "df": "Degrees of freedom", "statistic": "Test statistic", "p_value": "p-value",
    "p_value_unadjusted": "Unadjusted p-value", "p_value_adjusted": "Adjusted p-value",
    "f_value": "F value", "num_df": "Numerator df", "den_df": "Denominator df",
    "rmse": "Root mean squared error", "estimate": "Estimate", "ci_lower": "Lower CI",
    "ci_upper": "Upper CI", "smd": "Standardized mean difference", "kappa": "Kappa",
    "kappa_ase": "ASE of kappa", "weighted_kappa": "Weighted kappa",
    "weighted_kappa_ase": "ASE of weighted kappa", "correlation": "Correlation",
    "odds_ratio": "Odds ratio", "risk_difference": "Risk difference",
    "relative_risk": "Relative risk", "hazard_ratio": "Hazard ratio", "chisq": "Chi-square",
    "fisher_p": "Fisher's exact p-value", "table_probability": "Table probability",
    "bowker_chisq": "Bowker's chi-square", "cmh_chisq": "CMH chi-square",
    "logrank_chisq": "Log-rank chi-square", "events": "Events",
    "median_ci_lower": "Lower CI of median", "median_ci_upper": "Upper CI of median",
    "survival": "Survival probability", "fmi": "Fraction of missing information",
    "n_imputed": "Imputed at the visit", "tipping_point": "Tipping point",
    "delta_diff": "Difference (delta-adjusted)", "delta_p_value": "p-value (delta-adjusted)",
}


def _default_tokens() -> dict[str, tuple[str, int]]:
    """stat -> (show item, index of its slot): the item a document shows it with when the
    plan names none; a single-statistic item first (``median`` rather than ``median_ci``)."""
    out: dict[str, tuple[str, int]] = {}
    for item, (_, stats, _p) in sorted(COMPOSITES.items(), key=lambda kv: len(kv[1][1])):
        for i, stat in enumerate(stats):
            out.setdefault(stat, (item, i))
    return out


DEFAULT_SLOTS = _default_tokens()


Shown = tuple[str | None, str | None, int]  # (pattern slot given, show item, slot index)


def shown_patterns(plan: m.Plan) -> dict[str, dict[str, Shown]]:
    """analysis id -> stat -> how the first table showing it formats it: the slot of the
    ``show`` item's pattern as the plan gives it, or the item and slot whose default
    pattern (from the data's decimals) the document uses."""
    out: dict[str, dict[str, Shown]] = {}
    for table in plan.tables:
        for rows in table.rows:
            for item in rows.show:
                slots: list[Shown]
                if item.name in COMPOSITES:
                    runs = _RUN.findall(item.pattern) if item.pattern else []
                    slots = [(runs[i] if i < len(runs) else None, item.name, i)
                             for i in range(len(COMPOSITES[item.name][1]))]
                    stats = COMPOSITES[item.name][1]
                else:  # an ARD statistic named as it is, or a test line (its own format)
                    slots, stats = [(item.pattern, None, 0)], (item.name,)
                for stat, slot in zip(stats, slots):
                    for aid in (rows.analysis, *rows.also):
                        out.setdefault(aid, {}).setdefault(stat, slot)
    return out


def formatted(stat: str, value: float | None, decimals: int, shown: Shown | None) -> str:
    """The value as the document prints it (see the module docstring)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    given, item, index = shown or (None, None, 0)
    if stat in P_VALUES:
        return fmt_p(value, decimals_of(given) if given else 4)
    if given:
        return fmt_pattern(given, value)
    if item is None:
        if stat in COUNTS:
            return fmt_pattern("xx", value)
        if stat == "pct":
            return fmt_pattern("xx.x", value)
        item, index = DEFAULT_SLOTS.get(stat, (None, 0))
    pattern_of = COMPOSITES[item][2] if item in COMPOSITES else None
    if pattern_of is not None:
        runs = _RUN.findall(pattern_of(decimals))
        if index < len(runs):
            return fmt_pattern(runs[index], value)
    return fmt_pattern(_x(decimals + 1), value)


def raw(value: float | None, text: Any) -> str:
    """The value at full precision: the shortest text that reads back as the float."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return str(text) if isinstance(text, str) else ""
    return m._num(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def methods(frame: pd.DataFrame, steps: dict[str, dict], used: Iterable[str]) -> list[dict]:
    """One AnalysisMethod per method: its operations the stat names its rows hold, in the
    order they first appear in the ARD, labelled by the method's label or the vocabulary."""
    out = []
    for method in dict.fromkeys(used):
        rows = frame[frame["method"] == method]
        label = next((s.get("label") for s in steps.values() if s.get("method") == method
                      and s.get("label")), None)
        if method == "population_count":
            label = "Subjects in a display's population (column header N)"
        ops = []
        for order, stat in enumerate(dict.fromkeys(rows["stat_name"]), 1):
            labels = rows.loc[rows["stat_name"] == stat, "stat_label"].dropna()
            ops.append({"id": ident("Mth", method, stat), "name": stat,
                        "label": str(labels.iloc[0]) if len(labels) else
                        STAT_LABELS.get(stat, stat), "order": order})
        entry: dict[str, Any] = {"id": ident("Mth", method), "name": label or method,
                                 "label": method, "operations": ops}
        out.append(entry)
    return out


def results(rows: pd.DataFrame, group_of, patterns: dict[str, Shown],
            multi_variable: bool) -> list[dict]:
    """One OperationResult per ARD row of one plan analysis. ``group_of(name, level)``
    gives the ResultGroup of a grouping level; the stratum of a repetition's id
    (``X[s=level]``), the variable (when the analysis has several) and ``variable_level``
    are groupings too, so that the results keep the ARD's key."""
    out = []
    decimals = {}
    keys = [(a, _text(v)) for a, v in zip(rows["analysis_id"], rows["variable"])]
    extremes = rows["stat_name"].isin(["min", "max"]).tolist()
    for key in dict.fromkeys(keys):
        decimals[key] = default_decimals(
            [v for k, x, v in zip(keys, extremes, rows["stat"].tolist()) if k == key and x])
    ncols = sum(1 for c in rows.columns if re.fullmatch(r"group\d+", c))
    for r in rows.itertuples(index=False):
        rec = r._asdict()
        groups = []
        for k in range(1, ncols + 1):
            name, level = rec[f"group{k}"], rec[f"group{k}_level"]
            if isinstance(name, str) and not pd.isna(level):
                groups.append(group_of(name, str(level)))
        aid = rec["analysis_id"]
        if "[" in aid:  # a repetition's stratum, unless the rows carry it as a group too
            for part in aid[aid.index("[") + 1:-1].split(";"):
                name, _, level = part.partition("=")
                got = group_of(name, level)
                if all(g["groupingId"] != got["groupingId"] for g in groups):
                    groups.append(got)
        if multi_variable:
            groups.append(group_of(VARIABLE, _text(rec["variable"])))
        if isinstance(rec["variable_level"], str):
            groups.append(group_of(LEVEL, rec["variable_level"]))
        stat = rec["stat_name"]
        value = None if pd.isna(rec["stat"]) else float(rec["stat"])
        result: dict[str, Any] = {"operationId": ident("Mth", rec["method"], stat)}
        if groups:
            result["resultGroups"] = groups
        result["rawValue"] = raw(value, rec["stat_text"])
        text = formatted(stat, value, decimals[(aid, _text(rec["variable"]))], patterns.get(stat))
        if not text and isinstance(rec["stat_text"], str):
            text = rec["stat_text"]
        result["formattedValue"] = text
        out.append(result)
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
