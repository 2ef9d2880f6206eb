"""The standalone figure files: the drawing framed with its number, title, population line
and footnotes, as a figure in a submission is (the HTML document prints these around the
inline SVG itself, so the inline drawing stays bare).

The PNG: the drawing is rendered once to PNG and placed, pixel for pixel (no resampling), on
a taller canvas whose top carries the heading and whose bottom carries the footnotes, in the
document's serif font. The SVG and PDF: the same heading, at the same places, drawn on the
figure itself outside its area and saved with the box grown to hold it, so that the drawing
stays vector (:func:`framed_vector`).
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


@dataclass(frozen=True)
class _Frame:
    """The heading's lines and the room (inches) they take above and below the drawing."""

    head: list[str]
    sub: list[str]
    foot: list[str]
    top_in: float
    bottom_in: float


def _frame(heading: Heading) -> _Frame:
    head = [f"Figure {heading.number} {heading.title}"]
    head = textwrap.wrap(head[0], _WRAP - 20) or head
    sub = [heading.subtitle] if heading.subtitle else []
    foot = _wrapped(heading.footnotes)
    return _Frame(head, sub, foot, 0.2 + _LINE_IN * (len(head) + len(sub)),
                  0.15 + _LINE_IN * 0.9 * len(foot))


def _write_heading(fig, frame: _Frame, top: float, bottom: float, height: float) -> list:
    """The heading's text on ``fig``: lines from ``top`` down and the footnotes up from
    ``bottom`` (figure fractions), ``height`` inches being one figure height."""
    texts = []
    y = top - 0.12 / height
    for line in frame.head:
        texts.append(fig.text(0.03, y, line, va="top", fontsize=10, fontweight="bold"))
        y -= _LINE_IN / height
    for line in frame.sub:
        texts.append(fig.text(0.03, y, line, va="top", fontsize=9))
        y -= _LINE_IN / height
    if frame.foot:
        texts.append(fig.text(0.03, bottom + 0.08 / height, "\n".join(frame.foot),
                              va="bottom", fontsize=8, linespacing=1.3))
    return texts


def framed_png(plain_png: bytes, heading: Heading, path: str) -> None:
    """Write ``plain_png`` (the bare drawing) framed by ``heading`` to ``path``."""
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    img = imread(io.BytesIO(plain_png), format="png")
    h_px, w_px = img.shape[:2]
    frame = _frame(heading)
    width, plot_h = w_px / DPI, h_px / DPI
    height = plot_h + frame.top_in + frame.bottom_in
    fig = Figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_axes((0.0, frame.bottom_in / height, 1.0, plot_h / height))
    ax.imshow(img, interpolation="none")
    ax.set_axis_off()
    _write_heading(fig, frame, 1.0, 0.0, height)
    fig.savefig(path, format="png", dpi=DPI)


def framed_vector(fig, heading: Heading, path: str, fmt: str, metadata: dict) -> None:
    """Save ``fig`` (the drawn figure) as ``fmt`` (svg, pdf) to ``path`` with the same
    heading as :func:`framed_png`, the drawing staying vector: the heading is drawn on the
    figure outside its own area, and the saved box (``bbox_inches``) is the figure grown by
    that room above and below. The figure is left as it was (the texts are removed)."""
    from matplotlib.transforms import Bbox

    frame = _frame(heading)
    width, height = fig.get_size_inches()
    texts = _write_heading(fig, frame, 1.0 + frame.top_in / height,
                           -frame.bottom_in / height, height)
    try:
        box = Bbox.from_bounds(0.0, -frame.bottom_in, width,
                               height + frame.top_in + frame.bottom_in)
        fig.savefig(path, format=fmt, metadata=metadata, bbox_inches=box)
    finally:
        for text in texts:
            text.remove()


def write_files(fig, plain_png: bytes, svg: str, heading: Heading | None,
                png_path: str) -> None:
    """A drawn figure's PNG, SVG and PDF files (``png_path`` and the same stem): framed by
    ``heading`` when given (a submission's figure file stands alone), else bare.
    ``plain_png`` and ``svg`` are the bare drawing already rendered."""
    from pathlib import Path

    stem = png_path.removesuffix(".png")
    if heading is None:
        Path(png_path).write_bytes(plain_png)
        Path(stem + ".svg").write_text(svg, encoding="utf-8")
        fig.savefig(stem + ".pdf", format="pdf", metadata={"CreationDate": None})
        return
    framed_png(plain_png, heading, png_path)
    framed_vector(fig, heading, stem + ".svg", "svg", {"Date": None})
    framed_vector(fig, heading, stem + ".pdf", "pdf", {"CreationDate": None})


def _wrapped(notes: Sequence[str]) -> list[str]:
    out: list[str] = []
    for note in notes:
        out += textwrap.wrap(note, _WRAP) or [""]
    return out
