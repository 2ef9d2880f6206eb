"""The standalone figure files: the drawing framed with its number, title, population line
and footnotes, as a figure in a submission is (the HTML document prints these around the
inline SVG itself, so the inline drawing stays bare).

The drawing is rendered once to PNG and placed, pixel for pixel (no resampling), on a
taller canvas whose top carries the heading and whose bottom carries the footnotes, in the
document's serif font.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

DPI = 120
_LINE_IN = 0.19  # inches per line of 9-point text
_WRAP = 105  # characters per footnote line at the figures' width


@dataclass(frozen=True)
class Heading:
    number: str
    title: str
    subtitle: str
    footnotes: tuple[str, ...]


def framed_png(plain_png: bytes, heading: Heading, path: str) -> None:
    """Write ``plain_png`` (the bare drawing) framed by ``heading`` to ``path``."""
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    img = imread(io.BytesIO(plain_png), format="png")
    h_px, w_px = img.shape[:2]
    head = [f"Figure {heading.number} {heading.title}"]
    head = textwrap.wrap(head[0], _WRAP - 20) or head
    sub = [heading.subtitle] if heading.subtitle else []
    foot = _wrapped(heading.footnotes)
    top_in = 0.2 + _LINE_IN * (len(head) + len(sub))
    bottom_in = 0.15 + _LINE_IN * 0.9 * len(foot)
    width, plot_h = w_px / DPI, h_px / DPI
    height = plot_h + top_in + bottom_in
    fig = Figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_axes((0.0, bottom_in / height, 1.0, plot_h / height))
    ax.imshow(img, interpolation="none")
    ax.set_axis_off()
    y = 1 - 0.12 / height
    for line in head:
        fig.text(0.03, y, line, va="top", fontsize=10, fontweight="bold")
        y -= _LINE_IN / height
    for line in sub:
        fig.text(0.03, y, line, va="top", fontsize=9)
        y -= _LINE_IN / height
    if foot:
        fig.text(0.03, 0.08 / height, "\n".join(foot), va="bottom", fontsize=8,
                 linespacing=1.3)
    fig.savefig(path, format="png", dpi=DPI)


def _wrapped(notes: Sequence[str]) -> list[str]:
    out: list[str] = []
    for note in notes:
        out += textwrap.wrap(note, _WRAP) or [""]
    return out
