"""Command line: ``python -m studies.proderm --out DIR [--seed N]`` (from the repository root)."""

from __future__ import annotations

import argparse
import sys

from studies.proderm.study import DEFAULT_SEED, write


def main(argv: list[str] | None = None) -> int:
    """Regenerate the synthetic ProDERM study; prints the files written."""
    parser = argparse.ArgumentParser(prog="python -m studies.proderm",
                                     description="Generate the calibrated synthetic ProDERM "
                                                 "study.")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    for path in write(args.out, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
