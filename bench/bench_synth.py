"""Benchmark: time to regenerate the synthetic ProDERM study (generate + write Parquet).

Run ``python bench/bench_synth.py [--repeat N] [--write]``; prints a Markdown table with the
median and range of N runs (default 5) after one warm-up run (imports, caches), and the cold
command a user runs (``python -m studies.proderm --out DIR``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from common import ROOT, fmt_s, median_command, publish

# The study generator lives in studies/ beside the engine, outside its wheel: import it
# from this checkout.
sys.path.insert(0, str(ROOT))
from studies.proderm.study import DEFAULT_SEED, generate, write  # noqa: E402


def bench(repeat: int) -> dict[str, list[float]]:
    """Wall-clock seconds of ``generate`` alone and of ``write`` (generate + files)."""
    times: dict[str, list[float]] = {"generate": [], "generate + write": []}
    with tempfile.TemporaryDirectory() as tmp:
        write(tmp, DEFAULT_SEED)  # warm-up
        for _ in range(repeat):
            t0 = time.perf_counter()
            generate(DEFAULT_SEED)
            t1 = time.perf_counter()
            write(tmp, DEFAULT_SEED)
            t2 = time.perf_counter()
            times["generate"].append(t1 - t0)
            times["generate + write"].append(t2 - t1)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    times = bench(args.repeat)
    lines = [f"| step (seed {DEFAULT_SEED}, {args.repeat} runs) | median | min | max |",
             "|---|---:|---:|---:|"]
    for step, ts in times.items():
        lines.append(f"| {step} (in process) | {fmt_s(statistics.median(ts))} | "
                     f"{fmt_s(min(ts))} | {fmt_s(max(ts))} |")
    with tempfile.TemporaryDirectory() as tmp:
        cold = median_command([sys.executable, "-m", "studies.proderm", "--out", tmp],
                              repeats=3)
    lines.append(f"| `python -m studies.proderm --out DIR` (cold process) | "
                 f"{fmt_s(cold)} | | |")
    publish("Synthetic ProDERM study", "python bench/bench_synth.py --write", "\n".join(lines))


if __name__ == "__main__":
    main()
