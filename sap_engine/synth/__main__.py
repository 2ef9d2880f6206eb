"""Command line: ``python -m sap_engine.synth proderm --out DIR [--seed N]``."""

from __future__ import annotations

import argparse
import sys

from sap_engine.synth.proderm import DEFAULT_SEED, write


def main(argv: list[str] | None = None) -> int:
    """Regenerate a synthetic study; prints the files written."""
    parser = argparse.ArgumentParser(prog="python -m sap_engine.synth",
                                     description="Generate a calibrated synthetic study.")
    parser.add_argument("study", choices=["proderm"], help="which study to generate")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    for path in write(args.out, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
