"""Rendering the full ProDERM document in each format: time and size of the output.

Run: python bench/bench_render.py [--write]

The plan is run once (ARD and figures); the document model is then built once from the ARD,
as ``sap-run render`` does, and each registered writer writes the whole document into
memory, timed alone (median of repeats, in this process, imports already done). The figure
files are timed apart: one figure saved as PNG, SVG and PDF.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from common import ROOT, fmt_s, median_time, publish

PLAN = ROOT / "plans" / "prodrem.sap"


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"


def main() -> None:
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")
    import pyarrow.parquet as pq

    from sap_engine.api import run_plan
    from sap_engine.parse import parse_file
    from sap_engine.render import writers
    from sap_engine.render.document import build_document
    from sap_engine.render.figures import draw

    out = Path(tempfile.mkdtemp(prefix="sap-bench-render-")) / "out"
    run_plan(PLAN, out, jobs=2)
    plan = parse_file(PLAN)
    table = pq.read_table(out / "ard.parquet")
    model_time = median_time(lambda: build_document(plan, table, None), repeats=5)
    model = build_document(plan, table, out, jobs=1)  # with the figures, drawn once
    document = writers.Document(model, plan, folder=out, ard=table)
    rows = ["| format | files | time (median of 5) | size |", "|---|---|---:|---:|"]
    for writer in writers.registered():
        def write(writer=writer) -> int:
            buffer = io.BytesIO()
            writer.write(document, buffer)
            total = len(buffer.getvalue())
            for _, part in writer.part_names(document):
                piece = io.BytesIO()
                part.write(piece)
                total += len(piece.getvalue())
            return total

        seconds = median_time(write, repeats=5)
        files = writer.file_name + (f" + {len(writer.part_names(document))} in "
                                    f"{writer.name}/" if writer.parts else "")
        rows.append(f"| {writer.name} | {files} | {fmt_s(seconds)} | {_size(write())} |")
    figures = out / "figures"
    for suffix in ("png", "svg", "pdf"):
        total = sum(p.stat().st_size for p in figures.glob(f"*.{suffix}"))
        rows.append(f"| figures ({suffix}) | {len(list(figures.glob(f'*.{suffix}')))} files "
                    f"| | {_size(total)} |")
    from sap_engine.render.ard_view import ArdView

    ard = ArdView(table.to_pandas())
    frame = ard.family(plan.figures[0].analysis)
    fig = draw(frame, {}, "value")
    saves = []
    for fmt in ("png", "svg", "pdf"):
        seconds = median_time(lambda fmt=fmt: fig.savefig(io.BytesIO(), format=fmt, dpi=120),
                              repeats=5)
        saves.append(f"{fmt.upper()} {fmt_s(seconds)}")
    markdown = "\n".join([
        "The whole ProDERM document (16 tables, 11 figures) written by each registered writer "
        "from one built document model, in memory. Building the model from the ARD (without "
        f"figures) takes {fmt_s(model_time)}; the figures are drawn once by the run.", "",
        *rows, "",
        f"Saving one figure (Figure {plan.figures[0].number}) once drawn: {', '.join(saves)}.",
        "",
        "What the RTF and DOCX formats add to a run: their write times above in the "
        "documents step (the DOCX's includes importing python-docx, ~0.15 s), and the PDF "
        "of each figure in the figure workers (the SVG file is the SVG the HTML inlines, "
        "already drawn).",
    ])
    publish("Rendering by format", "python bench/bench_render.py --write", markdown)


if __name__ == "__main__":
    main()
