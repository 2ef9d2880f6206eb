"""Heat maps of the figures: a correlation matrix with the coefficients in its cells, and a
multiple-imputation tipping-point grid (the p-value over the two arms' deltas, the estimate
in each cell, the tipping point of each reference-arm delta framed). Drawn on the axes
:func:`sap_engine.render.figures.draw` prepares.
"""

from __future__ import annotations

from sap_engine import model as m
from sap_engine.render.table_model import _group_columns


def heatmap(fig, ax, frame, labels) -> None:
    import numpy as np

    rows = frame[frame.stat_name == "correlation"]
    pairs = [str(v).split("|") for v in rows.variable_level]
    names = list(dict.fromkeys(p[0] for p in pairs))
    index = {n: i for i, n in enumerate(names)}
    mat = np.full((len(names), len(names)), np.nan)
    for (a, b), r in zip(pairs, rows.stat):
        if a in index and b in index:
            mat[index[a], index[b]] = r
    im = ax.imshow(mat, cmap="RdBu_r", vmin=-1, vmax=1)
    ticks = [labels.get(n, n).replace("Change from baseline in ", "Change in ") for n in names]
    ax.set_xticks(range(len(names)), ticks, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), ticks, fontsize=8)
    for i in range(len(names)):
        for j in range(len(names)):
            if not np.isnan(mat[i, j]):
                ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if abs(mat[i, j]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="correlation")


def _grid_level(frame, name: str):
    """The level of group ``name`` in each row (None where the row lacks that group)."""
    out = [None] * len(frame)
    for g in _group_columns(frame):
        for k, (gn, lv) in enumerate(zip(frame[g], frame[f"{g}_level"])):
            if gn == name:
                out[k] = lv
    return out


def tipping_map(fig, ax, frame, labels) -> None:
    """p-values over the delta grid (first contrast), significant cells hatched apart,
    the tipping point of each reference-arm delta marked with a black frame."""
    import numpy as np
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Rectangle

    frame = frame.assign(dact=_grid_level(frame, "delta_active"),
                         dref=_grid_level(frame, "delta_reference"))
    contrast = sorted(set(frame.loc[frame.stat_name == "tipping_point", "variable_level"]))[0]
    cells = frame[frame.dact.notna() & (frame.variable_level == contrast)]
    act = sorted({float(v) for v in cells.dact})
    ref = sorted({float(v) for v in cells.dref})
    p = np.full((len(ref), len(act)), np.nan)
    est = np.full_like(p, np.nan)
    for r in cells.itertuples():
        i, j = ref.index(float(r.dref)), act.index(float(r.dact))
        (p if r.stat_name == "delta_p_value" else est)[i, j] = r.stat
    level = frame.loc[frame.stat_name == "alpha", "stat"]
    alpha = float(level.iloc[0]) if len(level) else 0.05
    bounds = [0, 0.001, 0.01, alpha, 0.1, 0.2, 1.0]
    cmap = ListedColormap(["#08306b", "#2171b5", "#6baed6", "#fdd49e", "#fc8d59", "#d7301f"])
    im = ax.imshow(p, cmap=cmap, norm=BoundaryNorm(bounds, cmap.N), origin="lower",
                   aspect="auto")
    ax.set_xticks(range(len(act)), [m._num(v) for v in act], fontsize=8)
    ax.set_yticks(range(len(ref)), [m._num(v) for v in ref], fontsize=8)
    ax.set_xlabel("Delta added to imputed values, active arm")
    ax.set_ylabel("Delta added to imputed values, reference arm")
    if len(act) * len(ref) <= 144:
        for i in range(len(ref)):
            for j in range(len(act)):
                if not np.isnan(est[i, j]):
                    ax.text(j, i, f"{est[i, j]:.1f}", ha="center", va="center", fontsize=7,
                            color="white" if p[i, j] < 0.01 else "black")
    tips = frame[(frame.stat_name == "tipping_point") & (frame.variable_level == contrast)]
    for r in tips.itertuples():
        if r.stat is None or not np.isfinite(r.stat) or r.dref is None:
            continue
        i, j = ref.index(float(r.dref)), act.index(float(r.stat))
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2.2, ec="black"))
    ax.set_title(f"{contrast}: p-value by delta (framed: tipping point, first delta with "
                 f"p >= {m._num(alpha)})", fontsize=9)
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="p-value", ticks=bounds)
    bar.set_ticklabels([f"{b:g}" for b in bounds])
