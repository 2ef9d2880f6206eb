"""Risk difference, odds ratio and relative risk of a 2 x 2 table (SAS PROC FREQ RISKDIFF,
OR and RELRISK), with their plan-facing methods.

Level rule (as SAS): the rows in table order are the two groups, the comparison is
row 1 versus row 2, and the "risk" is the proportion in the first column (SAS COLUMN=1);
the option ``event`` names another column level, ``row_levels`` reorders the rows.

- Risk difference p1 - p2; Wald CI p1 - p2 -/+ z sqrt(p1 q1 / n1 + p2 q2 / n2) (SAS default),
  or Newcombe's hybrid score CI (Newcombe 1998, method 10: Wilson limits of each proportion
  combined by square-and-add; SAS CL=NEWCOMBE).
- Odds ratio n11 n22 / (n12 n21); Woolf (Wald, logit) CI exp(log OR -/+ z sqrt(sum 1/n_ij)),
  SAS's default; ``ci = exact`` gives the exact conditional CI (SAS EXACT OR).
- Relative risk p1 / p2; Wald CI on the log scale, var = (1 - p1)/n11 + (1 - p2)/n21.

>>> e = risk_difference([[7, 27], [1, 33]])
>>> round(e.estimate, 4), round(e.ci_lower, 4), round(e.ci_upper, 4)
(0.1765, 0.0292, 0.3238)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods import registry as clauses  # the plan clauses feeding options
from sap_engine.methods.freq_exact import exact_odds_ratio_ci
from sap_engine.methods.freq_table import (
    Crosstab,
    as_counts,
    crosstab,
    need_2x2,
    role_column,
    z_quantile,
)
from sap_engine.methods.registry import Evidence, OptionSpec, RoleSpec, Stat, register

_T = "tests/methods/test_freq.py"


@dataclass(frozen=True)
class Effect:
    """An effect estimate with its standard error (None when not defined) and CI."""

    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    note: str | None = None


def _two_by_two(table) -> np.ndarray:
    t = as_counts(table)
    if t.shape != (2, 2):
        raise MethodError("SAP463", f"the effect measure needs a 2 x 2 table; this one is "
                                    f"{t.shape[0]} x {t.shape[1]}")
    if (t.sum(1) == 0).any():
        raise MethodError("SAP460", "each row (group) of the 2 x 2 table needs observations")
    return t.astype(float)


def _cells(t: np.ndarray) -> tuple[float, float, float, float]:
    return float(t[0, 0]), float(t[0, 1]), float(t[1, 0]), float(t[1, 1])


def wilson(x: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion x / n."""
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def risk_difference(table, ci: str = "wald", level: float = 0.95) -> Effect:
    """Risk difference (column 1 proportion, row 1 - row 2) with a Wald or Newcombe CI."""
    a, b, c, d_ = _cells(_two_by_two(table))
    n1, n2 = a + b, c + d_
    p1, p2 = a / n1, c / n2
    d = p1 - p2
    z = z_quantile(level)
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if ci == "newcombe":
        l1, u1 = wilson(a, n1, z)
        l2, u2 = wilson(c, n2, z)
        return Effect(d, se, d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2))
    return Effect(d, se, d - z * se, d + z * se)


def odds_ratio(table, ci: str = "wald", level: float = 0.95) -> Effect:
    """Odds ratio (row 1 vs row 2, odds of column 1) with the Woolf or exact CI."""
    t = _two_by_two(table)
    a, b, c, d = _cells(t)
    num, den = a * d, b * c
    estimate = num / den if den > 0 else None
    if ci == "exact":
        lower, upper = exact_odds_ratio_ci(t.astype(int), level)
        return Effect(estimate, None, lower, upper)
    if (t == 0).any():
        return Effect(estimate, None, None, None, note="a zero cell: the Woolf (Wald) CI is "
                                                       "not defined (use ci = exact)")
    se = math.sqrt(float((1.0 / t).sum()))
    half = z_quantile(level) * se
    woolf = num / den  # no zero cell here, so den > 0 and this is the estimate
    return Effect(woolf, se, woolf * math.exp(-half), woolf * math.exp(half))


def relative_risk(table, level: float = 0.95) -> Effect:
    """Relative risk p1 / p2 (column 1) with the Wald CI on the log scale."""
    a, b, c, d = _cells(_two_by_two(table))
    n1, n2 = a + b, c + d
    if a == 0 or c == 0:
        est = 0.0 if a == 0 and c > 0 else None
        return Effect(est, None, None, None, note="no events in a row: the Wald CI of the "
                                                  "relative risk is not defined")
    p1, p2 = a / n1, c / n2
    se = math.sqrt((1 - p1) / a + (1 - p2) / c)
    half = z_quantile(level) * se
    rr = p1 / p2
    return Effect(rr, se, rr * math.exp(-half), rr * math.exp(half))


# --- plan-facing methods ------------------------------------------------------------------

ROLES = (RoleSpec("row", "category", doc="the groups compared (table rows)"),
         RoleSpec("col", "category", doc="the outcome (table columns)"))

TABLE_OPTIONS = (
    OptionSpec("order", "choice", "internal", "level order: internal (SAS default ORDER=INTERNAL: "
               "numeric or code-point order), data (first appearance) or formatted (as text)",
               choices=("internal", "data", "formatted")),
    OptionSpec("row_levels", "list", (), "row levels in order (default: by `order`)",
               clause=clauses.ROW_LEVELS),
    OptionSpec("col_levels", "list", (), "column levels in order (default: by `order`)",
               clause=clauses.COL_LEVELS),
)

_EFFECT_OPTIONS = (
    *TABLE_OPTIONS,
    OptionSpec("event", "string", "", "the column level whose proportion is the risk (default: "
               "the first column, SAS COLUMN=1)"),
    OptionSpec("ci_level", "number", 0.95, "confidence level", minimum=0.5, maximum=0.999),
)

LEVEL_RULE = ("Rows in table order are the groups: the estimate is row 1 versus row 2 (set "
              "`row_levels` to choose); the risk is the proportion in the first column "
              "(SAS COLUMN=1) unless `event` names the column level.")


def table_from(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> Crosstab:
    """The row x col table an analysis asks for (levels ordered by the options)."""
    return crosstab(frame, role_column(roles, "row"), role_column(roles, "col"),
                    order=options.get("order", "internal"),
                    row_levels=tuple(options.get("row_levels") or ()),
                    col_levels=tuple(options.get("col_levels") or ()))


def _oriented(frame, roles, options) -> tuple[np.ndarray, str]:
    """The 2 x 2 counts with the event column first, and the comparison label."""
    t = table_from(frame, roles, options)
    need_2x2(t, "this effect measure")
    event = str(options.get("event") or "")
    counts = t.counts
    if event:
        if event not in t.col_levels:
            raise MethodError("SAP461", f"event level '{event}' is not a column level "
                                        f"{list(t.col_levels)}")
        if t.col_levels.index(event) == 1:
            counts = counts[:, ::-1]
    return counts, f"{t.row_levels[0]} vs {t.row_levels[1]}"


def _effect_stats(name: str, e: Effect, label: str) -> list[Stat]:
    out = [Stat(name, e.estimate, variable_level=label)]
    if e.se is not None and name == "risk_difference":
        out.append(Stat("se", e.se, variable_level=label, stat_label="ASE"))
    out += [Stat("ci_lower", e.ci_lower, variable_level=label),
            Stat("ci_upper", e.ci_upper, variable_level=label)]
    if e.note:
        out.append(Stat("note", None, variable_level=label, stat_text=e.note))
    return out


@register(
    "risk_difference", family="freq",
    label="Risk difference",
    summary="Difference of two proportions (row 1 - row 2) of a 2 x 2 table with a Wald or "
            "Newcombe hybrid-score CI (SAS RISKDIFF).",
    roles=ROLES,
    options=(*_EFFECT_OPTIONS,
             OptionSpec("ci", "choice", "wald", "CI method: wald (SAS default) or newcombe "
                        "(hybrid score, Newcombe 1998 method 10)", choices=("wald", "newcombe"))),
    conventions=(LEVEL_RULE,
                 "ASE sqrt(p1(1-p1)/n1 + p2(1-p2)/n2); Wald limits are not truncated to "
                 "[-1, 1]; Newcombe limits combine each row's Wilson interval."),
    evidence=(Evidence("Fagerland, Lydersen & Laake (2017) Perondi et al. 2004 table: Wald "
                       "0.1765 (0.0292, 0.3238), Newcombe (0.0189, 0.3404)", "5e-5",
                       f"{_T}::test_risk_difference_fagerland"),),
    stats=("risk_difference", "se", "ci_lower", "ci_upper", "note"),
)
def risk_difference_method(frame, roles: Mapping[str, Any],
                           options: Mapping[str, Any]) -> list[Stat]:
    counts, label = _oriented(frame, roles, options)
    e = risk_difference(counts, options.get("ci", "wald"), options.get("ci_level", 0.95))
    return _effect_stats("risk_difference", e, label)


@register(
    "odds_ratio", family="freq",
    label="Odds ratio",
    summary="Odds ratio of a 2 x 2 table (row 1 vs row 2) with the Woolf (Wald) CI, or the "
            "exact conditional CI (SAS OR, EXACT OR).",
    roles=ROLES,
    options=(*_EFFECT_OPTIONS,
             OptionSpec("ci", "choice", "wald", "CI method: wald (Woolf, SAS default) or exact "
                        "(conditional, SAS EXACT OR)", choices=("wald", "exact"))),
    conventions=(LEVEL_RULE,
                 "Estimate n11 n22 / (n12 n21) (the sample odds ratio, as SAS; R's "
                 "fisher.test reports the conditional MLE instead). A zero cell leaves the "
                 "Woolf CI undefined (reported as missing with a note)."),
    evidence=(Evidence("Woolf CI by hand (explicit arithmetic)", "1e-12",
                       f"{_T}::test_odds_ratio_woolf_by_hand"),
              Evidence("R fisher.test tea tasting CI lower limit 0.2117329; scipy "
                       "odds_ratio(kind='conditional') exact CI as second algorithm",
                       "1e-4 (R), 1e-6 (scipy)", f"{_T}::test_exact_odds_ratio_ci")),
    stats=("odds_ratio", "ci_lower", "ci_upper", "note"),
    nonfinite=("ci_upper",),  # the exact upper limit is infinite when n11 is its maximum
)
def odds_ratio_method(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    counts, label = _oriented(frame, roles, options)
    e = odds_ratio(counts, options.get("ci", "wald"), options.get("ci_level", 0.95))
    return _effect_stats("odds_ratio", e, label)


@register(
    "relative_risk", family="freq",
    label="Relative risk",
    summary="Relative risk (row 1 / row 2) of a 2 x 2 table with the Wald CI on the log scale "
            "(SAS RELRISK).",
    roles=ROLES,
    options=_EFFECT_OPTIONS,
    conventions=(LEVEL_RULE,
                 "CI exp(log RR -/+ z sqrt((1 - p1)/n11 + (1 - p2)/n21)) (Katz log interval)."),
    evidence=(Evidence("Fagerland, Lydersen & Laake (2017) Katz log CI 7.0000 (0.9096, "
                       "53.8695)", "5e-5", f"{_T}::test_relative_risk_fagerland"),),
    stats=("relative_risk", "ci_lower", "ci_upper", "note"),
)
def relative_risk_method(frame, roles: Mapping[str, Any],
                         options: Mapping[str, Any]) -> list[Stat]:
    counts, label = _oriented(frame, roles, options)
    return _effect_stats("relative_risk", relative_risk(counts, options.get("ci_level", 0.95)),
                         label)
