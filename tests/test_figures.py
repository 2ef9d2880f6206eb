"""Figures show the ARD's numbers, and all of their text fits on the page.

The reference for what a figure must show is the ARD written by the same run: every plotted
mean and CI limit, responder percentage and heat-map cell is read back from the matplotlib
artists and compared with the ARD row it stands for. Layout is checked by measuring every
text's rendered extent against the figure's edges (a label cut by the edge is a defect a
reader sees at once).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

from sap_engine import ard
from sap_engine.api import check_plan, run_plan
from sap_engine.render import figures
from sap_engine.render.ard_view import ArdView
from sap_engine.render.tables import variable_labels


@pytest.fixture(scope="module")
def prodrem(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures") / "out"
    run_plan(ROOT / "plans" / "prodrem.sap", out, jobs=1)
    plan = check_plan(ROOT / "plans" / "prodrem.sap").plan
    labels = variable_labels(plan)
    labels.update({a.level: a.display for a in plan.treatment.arms})
    return plan, ArdView(ard.read(out / "ard.parquet")), labels


def _draw(prodrem, number: str):
    plan, view, labels = prodrem
    spec = next(f for f in plan.figures if f.number == number)
    rows = view.family(spec.analysis)
    ylabel = figures.value_label(plan, spec, rows, labels)
    return figures.draw(rows, labels, ylabel), rows, labels


def _ard_value(rows, group_level: str, week: float, stat: str, level: str | None = None):
    sel = rows[(rows.group1_level == group_level) & (rows.group2 == "visit")
               & (rows.group2_level.astype(float) == week) & (rows.stat_name == stat)]
    if level is not None:
        sel = sel[sel.variable_level == level]
    assert len(sel) == 1, (group_level, week, stat)
    return float(sel.stat.iloc[0])


def _series(ax):
    """{legend label: [(x, y, (lo, hi) or None)]} from the error-bar containers."""
    out = {}
    for container in ax.containers:
        line, _caps, bars = container.lines
        xs, ys = line.get_xdata(), line.get_ydata()
        spans = [None] * len(xs)
        if bars:
            spans = [(seg[0][1], seg[1][1]) for seg in bars[0].get_segments()]
        out[container.get_label()] = list(zip(xs, ys, spans))
    return out


def test_mean_figure_plots_the_ard_means_and_cis(prodrem):
    fig, rows, labels = _draw(prodrem, "2a")
    series = _series(fig.axes[0])
    assert set(series) == {labels["IVIg"], labels["Placebo"]}
    for arm in ("IVIg", "Placebo"):
        points = series[labels[arm]]
        assert len(points) == 11  # weeks 0 to 40 by 4
        for x, y, (lo, hi) in points:
            week = round(x / 4) * 4  # the arms are drawn slightly apart around each week
            assert abs(x - week) < 0.5
            assert y == pytest.approx(_ard_value(rows, arm, week, "mean"), abs=1e-12)
            assert lo == pytest.approx(_ard_value(rows, arm, week, "mean_ci_lower"), abs=1e-12)
            assert hi == pytest.approx(_ard_value(rows, arm, week, "mean_ci_upper"), abs=1e-12)


def test_responder_figure_plots_the_ard_percentages(prodrem):
    fig, rows, labels = _draw(prodrem, "3b")
    series = _series(fig.axes[0])
    for arm in ("IVIg", "Placebo"):
        for x, y, _ in series[labels[arm]]:
            week = round(x / 4) * 4
            assert y == pytest.approx(_ard_value(rows, arm, week, "pct", level="Y"), abs=1e-12)
    # 0-100 % with headroom, so points at 0 and 100 % are not cut by the frame.
    assert fig.axes[0].get_ylim() == (-3, 104)
    assert list(fig.axes[0].get_yticks()) == [0, 20, 40, 60, 80, 100]


def test_heat_map_cells_are_the_ard_correlations(prodrem):
    fig, rows, _ = _draw(prodrem, "5")
    ax = fig.axes[0]
    matrix = ax.images[0].get_array()
    corr = rows[rows.stat_name == "correlation"]
    names = list(dict.fromkeys(v.split("|")[0] for v in corr.variable_level))
    assert matrix.shape == (len(names), len(names))
    for pair, r in zip(corr.variable_level, corr.stat):
        a, b = pair.split("|")
        assert matrix[names.index(a), names.index(b)] == pytest.approx(r, abs=1e-12)
    # Each cell's printed coefficient is the ARD value to two decimals.
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in ax.texts}
    assert len(cells) == len(names) ** 2
    for (i, j), text in cells.items():
        assert float(text) == pytest.approx(matrix[i, j], abs=0.005 + 1e-12)
    assert np.allclose(matrix, matrix.T)


def _tick_labels(axis):
    """The tick labels drawn: matplotlib also keeps labels for ticks outside the view."""
    lo, hi = sorted(axis.get_view_interval())
    return [tick.label1 for tick in axis.get_major_ticks()
            if lo - 1e-9 <= tick.get_loc() <= hi + 1e-9]


def _texts(fig):
    ax = fig.axes[0]
    texts = [ax.xaxis.label, ax.yaxis.label, *_tick_labels(ax.xaxis), *_tick_labels(ax.yaxis)]
    legend = ax.get_legend()
    if legend is not None:
        texts += legend.get_texts()
    for extra in fig.axes[1:]:  # the heat map's colour bar
        texts += [extra.yaxis.label, *_tick_labels(extra.yaxis)]
    return [t for t in texts if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("number", ["2a", "2b", "2c", "3a", "3b", "3b2", "3c", "4a", "4b", "5"])
def test_every_text_fits_inside_the_figure(prodrem, number):
    fig, _, _ = _draw(prodrem, number)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    page = fig.bbox
    for text in _texts(fig):
        box = text.get_window_extent(renderer)
        inside = (box.x0 >= page.x0 - 0.5 and box.y0 >= page.y0 - 0.5
                  and box.x1 <= page.x1 + 0.5 and box.y1 <= page.y1 + 0.5)
        assert inside, f"figure {number}: {text.get_text()!r} is cut by the figure's edge"


def test_long_axis_labels_are_wrapped_not_cut():
    label = figures._fit_axis_label(
        "Cutaneous disease activity VAS (MDAAT), cm, mean (95% CI)")
    assert label.count("\n") == 1
    assert label.replace("\n", " ") == \
        "Cutaneous disease activity VAS (MDAAT), cm, mean (95% CI)"
    assert figures._fit_axis_label("short") == "short"


def test_correlation_figure_states_the_n_of_its_pairs(prodrem):
    plan, view, _ = prodrem
    rows = view.family("F5")
    pair_n = rows[rows.stat_name == "n"].stat
    assert figures._pair_counts(rows) == [
        f"Patients with both values of a pair: N = {int(pair_n.min())} to {int(pair_n.max())}."]
    same = rows.assign(stat=rows.stat.where(rows.stat_name != "n", 12.0))
    assert figures._pair_counts(same) == ["Patients with both values of a pair: N = 12."]
    assert figures._pair_counts(view.family("F2a")) == []
