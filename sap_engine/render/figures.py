"""Figures drawn from the ARD with matplotlib: SVG for the HTML document; PNG, SVG and PDF
files beside (``figures/figure-<number>.*``).

The kind of figure follows from the statistics of the analysis it shows:
- means with ``visit`` groups: mean and 95% CI over visits, one line per arm (or stratum);
- percentages (``pct``) with ``visit`` groups: percentage of the first level (responders)
  over visits, one line per group;
- means without visits: point estimates with 95% CIs per group;
- a ``correlation`` matrix: a heat map with the coefficients written in the cells;
- a tipping-point grid (``tipping_point`` rows of a multiple-imputation analysis): a heat map
  of the p-value over the two arms' deltas, the estimate written in each cell, the cells
  where the result stays significant outlined apart, and the tipping point marked.
A figure whose analysis produced no rows is not silently dropped: the document shows a note.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path

from sap_engine import model as m
from sap_engine import workers
from sap_engine.render.ard_view import ArdView
from sap_engine.render.figure_frame import DPI, Heading, write_files
from sap_engine.render.figure_heatmaps import heatmap, tipping_map
from sap_engine.render.visit_labels import visit_ticks

# A palette that stays distinguishable in greyscale print and for colour-blind readers.
COLOURS = ("#1b5e9e", "#c0392b", "#2e8b57", "#8e44ad", "#d68910", "#555555")
MARKERS = ("o", "s", "^", "D", "v", "P")


@dataclass
class BuiltFigure:
    number: str
    title: str
    subtitle: str
    svg: str
    png: str  # file name relative to the output folder
    footnotes: list[str]
    anchor: str
    note: str = ""
    methods: list[str] = field(default_factory=list)  # how its analysis was computed
    # The bare drawing as PNG bytes (no heading: the RTF and DOCX print the number, title
    # and footnotes as text around it); the PNG file is framed to stand alone.
    drawing: bytes = field(default=b"", repr=False)

    @property
    def files(self) -> tuple[str, ...]:
        """The figure's files relative to the output folder: PNG, SVG and PDF (none for a
        figure whose analysis produced no rows)."""
        if not self.png:
            return ()
        stem = self.png.removesuffix(".png")
        return (self.png, f"{stem}.svg", f"{stem}.pdf")


def _groups(frame) -> list[str]:
    names = []
    i = 1
    while f"group{i}" in frame.columns:
        names.append(f"group{i}")
        i += 1
    return names


def _series_key(row, group_cols, skip: str) -> tuple[str, ...]:
    parts = []
    for g in group_cols:
        name, level = row[g], row[f"{g}_level"]
        if isinstance(name, str) and name != skip and isinstance(level, str):
            parts.append(level)
    return tuple(parts) or ("All",)


def _long(frame, stats: tuple[str, ...], level: str | None = None):
    """{series: {x: {stat: value}}} keyed by the non-visit groups, x the visit."""
    group_cols = _groups(frame)
    # x is None for rows without a visit (point estimates per group)
    out: dict[tuple, dict[float | None, dict[str, float]]] = {}
    rows = frame[frame.stat_name.isin(stats)]
    if level is not None:
        rows = rows[rows.variable_level == level]
    for row in rows.to_dict("records"):
        x: float | None = None
        for g in group_cols:
            if row[g] == "visit":
                x = float(row[f"{g}_level"])
        series = _series_key(row, group_cols, "visit")
        aid = row["analysis_id"]
        if aid.endswith("]") and "[" in aid:
            series = (aid[aid.index("[") + 1:-1], *series)
        out.setdefault(series, {}).setdefault(x, {})[row["stat_name"]] = row["stat"]
    return out


def draw(frame, labels: dict[str, str], ylabel: str):
    """A matplotlib Figure for the analysis rows in ``frame`` (see the module docstring)."""
    # The object-oriented Figure, not pyplot: no global figure registry or GUI backend
    # selection to import (pyplot alone costs about half a second cold).
    from matplotlib.figure import Figure

    names = set(frame.stat_name)
    size = (7.5, 6.2) if "tipping_point" in names else (7.5, 5.4) if "correlation" in names \
        else (7.0, 5.0) if "survival" in names else (7.0, 4.2)
    fig = Figure(figsize=size, dpi=100)
    ax = fig.subplots()
    risk_rows = 0
    if "tipping_point" in names:
        tipping_map(fig, ax, frame, labels)
    elif "correlation" in names:
        heatmap(fig, ax, frame, labels)
    elif "survival" in names:
        risk_rows = _survival(ax, frame, labels)
    elif "mean" in names:
        data = _long(frame, ("mean", "mean_ci_lower", "mean_ci_upper"))
        _lines(ax, data, labels, "mean", ("mean_ci_lower", "mean_ci_upper"),
               _legend_title(frame, labels))
        ax.set_ylabel(_fit_axis_label(f"{ylabel}, mean (95% CI)"))
    elif "pct" in names:
        level = "Y" if "Y" in set(frame.variable_level) else sorted(
            set(frame.variable_level.dropna()))[0]
        data = _long(frame, ("pct",), level)
        _lines(ax, data, labels, "pct", None, _legend_title(frame, labels))
        ax.set_ylabel(_fit_axis_label(f"{ylabel}, % of patients"))
        # Headroom beyond 0 and 100 %, so points there are drawn whole, not cut by the frame.
        ax.set_ylim(-3, 104)
        ax.set_yticks(range(0, 101, 20))
    # Fixed margins instead of tight_layout: tight_layout draws the figure once more just to
    # measure it, a third of the cost of a figure here.
    if "tipping_point" in names:
        fig.subplots_adjust(left=0.14, right=0.95, bottom=0.12, top=0.9)
    elif "correlation" in names:
        fig.subplots_adjust(left=0.34, right=0.9, bottom=0.27, top=0.97)
    elif "survival" in names:  # room for the numbers at risk under the axis
        fig.subplots_adjust(left=0.2, right=0.98, bottom=0.12 + 0.045 * risk_rows,
                            top=0.96)
    else:
        two_lines = "\n" in ax.get_ylabel()
        fig.subplots_adjust(left=0.15 if two_lines else 0.11, right=0.98, bottom=0.13, top=0.96)
    return fig


# Characters of 10-point text that fit along the y axis of a 4.2-inch-high figure.
_Y_LABEL_CHARS = 42


def _fit_axis_label(text: str) -> str:
    """Wrap a long axis label on two lines instead of letting the figure edge cut it."""
    return textwrap.fill(text, _Y_LABEL_CHARS)


def _legend_title(frame, labels: dict[str, str]) -> str:
    """What the lines are: the names of the groups that make the series (the arms, a
    stratum), read as their labels."""
    names = []
    for g in _groups(frame):
        for name in frame[g].dropna().unique():
            if isinstance(name, str) and name not in ("visit", "time") and name not in names:
                names.append(name)
    return ", ".join(labels.get(n, n) for n in names)


def _lines(ax, data, labels, stat: str, band: tuple[str, str] | None,
           title: str = "") -> None:
    xs_all = sorted({x for s in data.values() for x in s if x is not None})
    categorical = not xs_all
    n = len(data)
    for i, (series, points) in enumerate(data.items()):
        keys = sorted(points, key=lambda v: (v is None, v if v is not None else 0))
        if categorical:
            xs = [i] * len(keys)
        else:
            # Offset the arms a little so overlapping error bars stay readable.
            xs = [k + (i - (n - 1) / 2) * 0.35 for k in keys]
        ys = [points[k].get(stat) for k in keys]
        err = None
        if band:
            err = [[y - points[k].get(band[0], y) for k, y in zip(keys, ys)],
                   [points[k].get(band[1], y) - y for k, y in zip(keys, ys)]]
        label = ", ".join(labels.get(p, p) for p in series)
        ax.errorbar(xs, ys, yerr=err, label=label, color=COLOURS[i % len(COLOURS)],
                    marker=MARKERS[i % len(MARKERS)], capsize=3, linewidth=1.4,
                    linestyle="none" if categorical else "-", markersize=5)
    if categorical:
        ax.set_xticks(range(n), [", ".join(labels.get(p, p) for p in s) for s in data])
        ax.set_xlim(-0.6, n - 0.4)
    else:
        # A visit's label where the plan or the data name the visits ("End of Treatment"),
        # else its number under the axis title "Week"; the visits stay at their times.
        ticks = [labels.get(f"visit {x:g}", f"{x:g}") for x in xs_all]
        named = any(t != f"{x:g}" for t, x in zip(ticks, xs_all))
        if named:
            ax.set_xticks(xs_all, ticks, rotation=30, ha="right", fontsize=8)
        else:
            ax.set_xticks(xs_all, ticks)
        ax.set_xlabel("Visit" if named else "Week")
        ax.legend(frameon=False, fontsize=8, title=title or None, title_fontsize=8)
    ax.axhline(0, color="#999999", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def _survival(ax, frame, labels) -> int:
    """Kaplan-Meier curves as steps with censoring marked (+), CIs as light bands, and the
    numbers at risk under the time axis (see figure_km)."""
    from sap_engine.render.figure_km import draw_km

    return draw_km(ax, frame, labels, _groups(frame), _series_key, COLOURS, _legend_title)


def render_one(rows, labels: dict[str, str], ylabel: str, png_path: str,
               heading: Heading | None = None) -> tuple[str, bytes]:
    """Draw one figure: write its PNG, SVG and PDF files (framed by ``heading``, when
    given, as a figure in a submission stands alone), return its bare SVG without the XML
    prolog (inlined in the HTML, which prints the heading itself) and its bare PNG (the
    drawing the RTF and DOCX embed under titles of their own).

    All are byte-reproducible: the SVG's element ids are hashes salted with the figure's
    file name (matplotlib salts them with a random UUID by default), so they are the same on
    every run and differ between the figures of one document; the SVG and the PDF carry no
    date (the document has its time of production) and the PNG no time either."""
    import matplotlib

    # Plan text ("$5 to $10", "$\\foo$") is text, not TeX: without parse_math a '$' in a
    # label would be mathtext, and a malformed one would make the figure fail to draw.
    # The document's serif face (Times-like where installed, else DejaVu Serif).
    with matplotlib.rc_context({"text.parse_math": False,
                                "svg.hashsalt": f"sap-engine {Path(png_path).name}",
                                "font.family": "serif",
                                "font.serif": ["Times New Roman", "Liberation Serif",
                                               "DejaVu Serif"]}):
        fig = draw(rows, labels, ylabel)
        plain = io.BytesIO()
        fig.savefig(plain, format="png", dpi=DPI)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
        svg = buffer.getvalue()
        write_files(fig, plain.getvalue(), svg, heading, png_path)
    return svg[svg.index("<svg"):], plain.getvalue()


def preload() -> None:
    """Import the plotting modules now (about half a second cold), e.g. while workers run
    the analyses, so that figure workers forked later inherit them."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.backends.backend_pdf  # noqa: F401
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    from matplotlib import font_manager

    # The font list and the default font file are read on first use: once, here.
    font_manager.get_font(font_manager.findfont(font_manager.FontProperties()))


class PendingFigures:
    """Figures being drawn (by workers, or already here); ``result()`` waits for them."""

    def __init__(self, built: list, pending: list, pool) -> None:
        self._built, self._pending, self._pool = built, pending, pool

    def result(self) -> list[BuiltFigure]:
        try:
            drawn = iter(workers.results(self._pending))  # (svg, bare png) per figure
        finally:
            if self._pool is not None:
                self._pool.shutdown()
        out = []
        for b in self._built:
            if not b.note:
                svg, drawing = next(drawn)
                b = replace(b, svg=svg, drawing=drawing)
            out.append(b)
        return out


def start_figures(plan: m.Plan, ard: ArdView, out_dir: Path, labels: dict[str, str],
                  jobs: int = 1) -> PendingFigures:
    """Start drawing every figure of the plan: PNG files under ``out_dir/figures``, SVG
    text for the document. With ``jobs`` > 1 forked workers draw them."""
    built, tasks = [], []
    fig_dir = out_dir / "figures"
    if plan.treatment:  # a legend titled by the arms' variable reads "Treatment"
        labels = {plan.treatment.column.name: "Treatment", **labels}
    labels = {**labels, **visit_ticks(plan, ard.visit_labels)}
    for spec in plan.figures:
        anchor = "figure-" + spec.number
        rows = ard.family(spec.analysis)
        png = f"figures/figure-{spec.number}.png"
        pop_rows = ard.rows(f"figure {spec.number}")
        total = pop_rows[pop_rows.group1_level == "Total"].stat
        pop = plan.populations.get(spec.population.name) if spec.population else None
        subtitle = ((pop.label or pop.name) + (f" (N = {int(total.iloc[0])})"
                                               if len(total) else "")) if pop else ""
        if rows.empty:
            built.append(BuiltFigure(spec.number, spec.title, subtitle, "", "",
                                     list(spec.footnotes), anchor,
                                     note=f"Analysis {spec.analysis} produced no results."))
            continue
        fig_dir.mkdir(exist_ok=True)
        notes = [*spec.footnotes, *_pair_counts(rows)]
        tasks.append((rows, labels, value_label(plan, spec, rows, labels), str(out_dir / png),
                      Heading(spec.number, spec.title, subtitle, tuple(notes))))
        built.append(BuiltFigure(spec.number, spec.title, subtitle, "", png, notes, anchor))
    jobs = min(jobs, len(tasks))
    if jobs > 1:
        preload()  # before forking, so that the workers inherit the modules
    pool = workers.pool(jobs, {})
    return PendingFigures(built, workers.submit_all(pool, _render_task, tasks), pool)


def _pair_counts(rows) -> list[str]:
    """A correlation matrix's N per pair (the title gives the population's N, which
    pairwise-complete coefficients do not use)."""
    if "correlation" not in set(rows.stat_name):
        return []
    pairs = rows[(rows.stat_name == "n")
                 & rows.variable_level.str.contains("|", regex=False, na=False)]
    if pairs.empty:
        return []
    low, high = int(pairs.stat.min()), int(pairs.stat.max())
    counts = f"N = {low}" if low == high else f"N = {low} to {high}"
    return [f"Patients with both values of a pair: {counts}."]


def value_label(plan: m.Plan, spec: m.Figure, rows, labels: dict[str, str]) -> str:
    """What the figure's values are: the variable's label, else the analysis label."""
    variable = rows.variable.iloc[0]
    return labels.get(variable, plan.analyses[spec.analysis].label or variable)


def _render_task(task: tuple) -> tuple[str, bytes]:
    return render_one(*task)
