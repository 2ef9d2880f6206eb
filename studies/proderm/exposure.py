"""Screening and IVIg exposure of the synthetic ProDERM study (the paper's patient flow).

- **Screening**: 126 screened = the 95 randomised subjects and 31 screen failures. The
  screen failures are in ADSL with ``RANDFL = FASFL = "N"`` and no arm (an ADSL of every
  screened subject, a common sponsor convention), with an age, sex, race and a site.
- **Infusions** every 4 weeks at every attended visit: weeks 0-12 in the First Period (the
  randomised arm; IVIg from the switch visit on after a switch, since the switch is decided
  before that visit's dose) and weeks 16-36 in the Extension (IVIg for everyone who entered
  it). That schedule gives 685 IVIg infusions; 21 of them, drawn among weeks 4-36, were
  missed, which gives the published 664 IVIg infusion cycles.
- **Dose** 2.0 g/kg. From week 28 a stable patient could go down to 1.0 g/kg: a quarter of
  the patients infused at week 28 did, for the rest of the Extension. The published median
  dose (2.0 g/kg) is read here as the median over patients of their mean IVIg dose per
  infusion.

Everything is drawn after the efficacy data, so adding exposure left those bit-identical.
"""

from __future__ import annotations

import numpy as np

from studies.proderm.published import published

FIRST_PERIOD = (0, 4, 8, 12)
EXTENSION = (16, 20, 24, 28, 32, 36)
REDUCTION_WEEK = 28
REDUCED_SHARE = 0.25


def screen_failures(rng: np.random.Generator, s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Identifiers and demographics of the screen failures (sites of the study)."""
    design = published()["design"]
    n = design["screened"] - design["randomised"]["total"]
    sites = np.unique(s["siteid"])
    siteid = np.sort(rng.choice(sites, size=n))
    taken = {sid: int(np.sum(s["siteid"] == sid)) for sid in sites}
    usubjid = np.empty(n, dtype=object)
    for i, sid in enumerate(siteid):
        taken[sid] += 1
        usubjid[i] = f"PRODERM-{sid}-{taken[sid]:03d}"
    sex = np.where(rng.random(n) < 0.75, "F", "M").astype(object)
    race = rng.choice(np.array(["WHITE", "BLACK OR AFRICAN AMERICAN", "ASIAN"], dtype=object),
                      size=n, p=[0.9, 0.06, 0.04])
    age = np.clip(np.rint(rng.normal(53, 12.5, n)), 18, 79).astype(np.int64)
    return {"usubjid": usubjid, "siteid": siteid, "sex": sex, "race": race, "age": age}


def infusions(rng: np.random.Generator, s: dict[str, np.ndarray]) -> list[tuple]:
    """(subject index, week, product, dose g/kg) of every infusion given, by subject and week."""
    target = published()["design"]["infusion_cycles"]
    planned = []
    for i in range(len(s["arm"])):
        for week in (*FIRST_PERIOD, *EXTENSION):
            if week > s["lastwk"][i] or (week in EXTENSION and not s["extfl"][i]):
                continue
            switched = not np.isnan(s["switchwk"][i]) and week >= s["switchwk"][i]
            ivig = week in EXTENSION or s["arm"][i] == "IVIg" or switched
            planned.append((i, week, "IVIG" if ivig else "PLACEBO"))
    missable = [k for k, (_, week, product) in enumerate(planned)
                if product == "IVIG" and week >= 4]
    n_ivig = sum(1 for p in planned if p[2] == "IVIG")
    missed = set(rng.choice(missable, size=n_ivig - target, replace=False).tolist())
    given = [p for k, p in enumerate(planned) if k not in missed]
    at_reduction = sorted({i for i, week, _ in given if week == REDUCTION_WEEK})
    n_reduced = round(REDUCED_SHARE * len(at_reduction))
    reduced = set(rng.choice(at_reduction, size=n_reduced, replace=False).tolist())
    out = []
    for i, week, product in given:
        dose = 0.0 if product == "PLACEBO" else (
            1.0 if i in reduced and week >= REDUCTION_WEEK else 2.0)
        out.append((i, week, product, dose))
    return out
