"""Kaplan-Meier figures: step curves with their confidence bands, censoring marks, and the
numbers at risk under the time axis, all read from the ARD rows of a ``kaplan_meier``
analysis (survival at every event time, ``censored`` counts at every censoring time).

Numbers at risk at a tick x are those still followed at x: n minus the events and the
censorings strictly before x (SAS PROC LIFETEST's ATRISK convention, R survminer's risk
table).
"""

from __future__ import annotations

from collections.abc import Callable


def _curves(frame, group_cols, series_key: Callable) -> dict:
    """{series: {"n": n, "points": {t: {stat: value}}, "censored": {t: count}}}."""
    out: dict = {}
    for row in frame.to_dict("records"):
        key = series_key(row, group_cols, "time")
        t = next((float(row[f"{g}_level"]) for g in group_cols if row[g] == "time"), None)
        curve = out.setdefault(key, {"n": None, "points": {}, "censored": {}})
        if t is None:
            if row["stat_name"] == "n":
                curve["n"] = row["stat"]
        elif row["stat_name"] == "censored":
            curve["censored"][t] = row["stat"]
        else:
            curve["points"].setdefault(t, {})[row["stat_name"]] = row["stat"]
    return {k: v for k, v in out.items() if v["points"] or v["censored"]}


def _at_risk(curve: dict, x: float) -> int | None:
    """Subjects at risk at ``x``: n - events before x - censored before x."""
    if curve["n"] is None:
        return None
    events_before = 0.0
    for t in sorted(curve["points"]):
        if t >= x:
            break
        events_before = curve["points"][t].get("events", events_before)
    censored_before = sum(c for t, c in curve["censored"].items() if t < x)
    return int(round(curve["n"] - events_before - censored_before))


def _step_value(times: list[float], surv: list[float], t: float) -> float:
    value = 1.0
    for ti, si in zip(times, surv):
        if ti > t:
            break
        value = si
    return value


def draw_km(ax, frame, labels, group_cols, series_key, colours, legend_title) -> int:
    """Draw the curves; returns the number of text rows drawn under the axis."""
    import numpy as np

    curves = _curves(frame, group_cols, series_key)
    names = []
    for i, (key, curve) in enumerate(curves.items()):
        points = curve["points"]
        times = [0.0, *sorted(points)]
        surv = [1.0, *[points[t].get("survival", np.nan) for t in times[1:]]]
        lo = [1.0, *[points[t].get("survival_ci_lower", np.nan) for t in times[1:]]]
        hi = [1.0, *[points[t].get("survival_ci_upper", np.nan) for t in times[1:]]]
        colour = colours[i % len(colours)]
        name = ", ".join(labels.get(p, p) for p in key)
        names.append(name)
        # The curve runs to the last follow-up, censored or not.
        end = max([*times, *curve["censored"]])
        ax.step([*times, end], [*surv, surv[-1]], where="post", color=colour, linewidth=1.5,
                label=name)
        ax.fill_between(times, lo, hi, step="post", color=colour, alpha=0.12, linewidth=0)
        if curve["censored"]:
            cts = sorted(curve["censored"])
            ax.plot(cts, [_step_value(times, surv, c) for c in cts], linestyle="none",
                    marker="+", markersize=6, color=colour, markeredgewidth=1.1)
    ax.set_ylim(0, 1.02)
    variable = frame["variable"].dropna().iloc[0] if "variable" in frame and \
        frame["variable"].notna().any() else None
    ax.set_xlabel(labels.get(variable, variable) if variable else "Time")
    ax.set_ylabel("Survival probability (95% CI)")
    ax.plot([], [], linestyle="none", marker="+", color="#333333", label="Censored")
    ax.legend(frameon=False, fontsize=8, title=legend_title(frame, labels) or None,
              title_fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _risk_table(ax, curves, names, colours)


def _risk_table(ax, curves: dict, names: list[str], colours) -> int:
    """'Number at risk' rows under the axis, one per curve, at the x ticks."""
    from matplotlib.transforms import blended_transform_factory

    if not curves or any(c["n"] is None for c in curves.values()):
        return 0
    lo, hi = ax.get_xlim()
    ticks = [x for x in ax.get_xticks() if lo <= x <= hi and x >= 0]
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    label_trans = ax.transAxes
    ax.text(-0.02, -0.2, "Number at risk", transform=label_trans, ha="right", va="center",
            fontsize=8, fontweight="bold")
    for i, (curve, name) in enumerate(zip(curves.values(), names)):
        y = -0.27 - 0.075 * i
        colour = colours[i % len(colours)]
        ax.text(-0.02, y, name, transform=label_trans, ha="right", va="center", fontsize=7.5,
                color=colour)
        for x in ticks:
            ax.text(x, y, str(_at_risk(curve, x)), transform=trans, ha="center",
                    va="center", fontsize=7.5, color=colour)
    return len(curves) + 2
