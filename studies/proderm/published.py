"""The published ProDERM figures the generator is calibrated to (``published.json``).

The JSON is a verbatim copy of ``/work/shared/proderm/published.json`` kept beside the
generator (outside the engine wheel: it is one study's data, not the engine's); the test
suite checks that the copy is unchanged.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

ARMS = ("IVIg", "Placebo")
VISITS = (0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40)


@lru_cache(maxsize=1)
def published() -> dict[str, Any]:
    """The parsed ``published.json`` (cached; treat as read-only)."""
    text = Path(__file__).with_name("published.json").read_text("utf-8")
    return json.loads(text)


def arm_summary(section: dict[str, Any], arm: str) -> tuple[float, float, float, float, float]:
    """(mean, sd, median, min, max) of one arm of a Table 1 block."""
    d = section[arm]
    return d["mean"], d["sd"], d["median"], d["min"], d["max"]


def stat_target(mean: float, lsmean: float) -> float:
    """The raw mean change to aim for when the paper's mean and LS mean disagree.

    With two arms of nearly equal size and balanced baselines the ANCOVA LS means equal
    the raw means up to a small, opposite shift in the two arms, so both published
    values cannot be hit at once when they differ in the same direction (the paper's
    model evidently adjusted for more than the baseline). Aiming halfway keeps both
    within their tolerance.
    """
    return (mean + lsmean) / 2
