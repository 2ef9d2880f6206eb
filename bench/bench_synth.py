"""Benchmark: time to regenerate the synthetic ProDERM study (generate + write Parquet).

Run ``python bench/bench_synth.py [--repeat N]``; prints a Markdown table with the
median and range of N runs (default 5) after one warm-up run (imports, caches).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from sap_engine.synth.proderm import DEFAULT_SEED, generate, write


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
    args = parser.parse_args()
    times = bench(args.repeat)
    print(f"| step (seed {DEFAULT_SEED}, {args.repeat} runs) | median s | min s | max s |")
    print("|---|---:|---:|---:|")
    for step, ts in times.items():
        print(f"| {step} | {statistics.median(ts):.3f} | {min(ts):.3f} | {max(ts):.3f} |")


if __name__ == "__main__":
    main()
