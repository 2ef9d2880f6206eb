"""Subjects, demographics and baseline scores of the synthetic ProDERM study (Table 1).

Every Table 1 figure is built exactly: counts by construction, and for each
continuous score a per-arm sorted sample with the published mean, SD, median,
minimum and maximum (:func:`studies.proderm.fit.shaped_sample`), then handed to the
subjects in the order of a latent severity so that the scores correlate as they do in
a real cohort. Bins fixed in advance carry the other published baseline facts
(CDASI-A = 0 / > 6 / > 14 counts and the stratum sizes the week-16 analyses imply,
CDASI-D = 0 count, cutaneous VAS <= 0.2 counts, MITAX category counts).

The subject table is a ``dict`` of equal-length numpy arrays (index = subject
number in generation order); ``proderm.py`` turns it into ADSL.
"""

from __future__ import annotations

import numpy as np

from studies.proderm.fit import Bin, shaped_sample
from studies.proderm.published import ARMS, arm_summary, published

N_ARM = {"IVIg": 47, "Placebo": 48}

# Baseline CDASI-A bins per arm: 0, (0,6], (6,14], >14. Derived from the published
# totals (0: 4, >6: 78, >14: 51) and the week-16 stratum sizes (IVIg 6/13/25,
# Placebo 5/13/26, i.e. 88 analysed of 91 with CDASI-A > 0): the 4 first-period
# drop-outs are one IVIg zero, one IVIg (0,6], one Placebo (0,6], one Placebo (6,14].
CDASIA_BINS = {"IVIg": (2, 7, 13, 25), "Placebo": (2, 6, 14, 26)}
# First-period drop-outs by (arm, CDASI-A bin index).
EARLY_DROPOUTS = {"IVIg": (0, 1), "Placebo": (1, 2)}
# CDASI-D zeros / ones per arm: 37 zeros in all; Placebo median 1, IVIg median 2.
CDASID_BINS = {"IVIg": (16, 5), "Placebo": (21, 4)}
# Cutaneous VAS <= 0.2 (published: 2 / 3), (0.2, 3], > 3. The (0.2,3] sizes are those
# the published stratum means imply (weights of the two strata in the arm means).
CUTVAS_BINS = {"IVIg": (2, 10, 35), "Placebo": (3, 14, 31)}
# MITAX cutaneous category at baseline (all 95): A 40, B 48, C 1, D/E 6 (6 taken as D).
MITAX_COUNTS = {"A": 40, "B": 48, "C": 1, "D": 6}
RACES = ("WHITE", "BLACK OR AFRICAN AMERICAN", "ASIAN", "OTHER")
RACE_KEYS = ("White", "Black or African American", "Asian", "Other")


def _exact_labels(rng: np.random.Generator, counts: dict[str, int]) -> np.ndarray:
    """A random permutation of labels with exact counts (insertion order of ``counts``)."""
    labels = np.concatenate([np.full(c, k, dtype=object) for k, c in counts.items()])
    return labels[rng.permutation(len(labels))]


def _rank_assign(values_sorted: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Give the i-th smallest value to the subject with the i-th smallest key."""
    out = np.empty(len(key), dtype=float)
    out[np.argsort(key, kind="stable")] = values_sorted
    return out


def subjects(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Arms, demographics and identifiers of the 95 randomised subjects."""
    t1 = published()["table1"]
    arm = np.array(["IVIg"] * N_ARM["IVIg"] + ["Placebo"] * N_ARM["Placebo"], dtype=object)
    arm = arm[rng.permutation(len(arm))]
    n = len(arm)
    sex = np.empty(n, dtype=object)
    race = np.empty(n, dtype=object)
    for a in ARMS:
        idx = np.flatnonzero(arm == a)
        sex[idx] = _exact_labels(rng, {"F": t1["sex"]["Female"][a], "M": t1["sex"]["Male"][a]})
        race[idx] = _exact_labels(
            rng, {code: t1["race"][key][a] for code, key in zip(RACES, RACE_KEYS, strict=True)})
    age = np.clip(np.rint(rng.normal(53, 12.5, n)), 18, 79).astype(np.int64)
    # 36 centres, each with at least one subject; site ids are 3-digit numbers.
    site_ids = np.sort(rng.choice(np.arange(101, 990), size=36, replace=False))
    site_of = np.concatenate([np.arange(36), rng.integers(0, 36, n - 36)])
    site_of = site_of[rng.permutation(n)]
    siteid = np.array([f"{site_ids[i]:03d}" for i in site_of], dtype=object)
    usubjid = np.empty(n, dtype=object)
    for sid in np.unique(siteid):
        for j, i in enumerate(np.flatnonzero(siteid == sid)):
            usubjid[i] = f"PRODERM-{sid}-{j + 1:03d}"
    return {"arm": arm, "sex": sex, "race": race, "age": age, "siteid": siteid,
            "usubjid": usubjid}


def body_size(rng: np.random.Generator, s: dict[str, np.ndarray]) -> None:
    """BMI per arm exactly as Table 1; height by sex; weight so that W/H^2 rounds to BMI."""
    t1 = published()["table1"]
    n = len(s["arm"])
    bmi = np.empty(n)
    for a in ARMS:
        idx = np.flatnonzero(s["arm"] == a)
        mean, sd, med, lo, hi = arm_summary(t1["bmi"], a)
        vals = shaped_sample(rng, len(idx), mean, sd, med, lo, hi, 0.1,
                             medians=(med, med))
        bmi[idx] = vals[rng.permutation(len(idx))]
    height = np.where(s["sex"] == "F", rng.normal(164, 6.5, n), rng.normal(177.5, 7, n))
    height = np.round(np.clip(height, 145, 200), 0)
    weight = np.round(bmi * (height / 100) ** 2, 1)
    s["bmi"] = np.round(bmi, 1)
    s["height"] = height
    s["weight"] = weight


def _severity_sample(rng: np.random.Generator, key: str, a: str, n: int, bins: list[Bin],
                     step: float, medians: tuple[float, float] | None = None) -> np.ndarray:
    mean, sd, med, lo, hi = arm_summary(published()["table1"][key], a)
    return shaped_sample(rng, n, mean, sd, med, lo, hi, step, bins=bins, medians=medians)


def baseline_scores(rng: np.random.Generator, s: dict[str, np.ndarray]) -> None:
    """CDASI-A/D, cutaneous VAS, extramuscular global, MITAX, MMT-8 at week 0; drop-outs."""
    n = len(s["arm"])
    s["severity"] = rng.normal(size=n)
    for name in ("cdasia", "cdasid", "cutvas", "extglob", "mmt8"):
        s[name] = np.zeros(n)
    s["early_drop"] = np.zeros(n, bool)
    for a in ARMS:
        idx = np.flatnonzero(s["arm"] == a)
        m = len(idx)
        z0, b1, b2, b3 = CDASIA_BINS[a]
        amed = (16.0, 16.0) if m % 2 == 0 else None
        vals = _severity_sample(rng, "cdasi_activity", a, m,
                                [Bin(z0, 0, 0), Bin(b1, 1, 6), Bin(b2, 7, 14), Bin(b3, 15, 100)],
                                1.0, amed)
        a_vals = _rank_assign(vals, s["severity"][idx])
        s["cdasia"][idx] = a_vals
        # first-period drop-outs: one subject from each listed CDASI-A bin
        edges = np.digitize(a_vals, [0.5, 6.5, 14.5])
        for b in EARLY_DROPOUTS[a]:
            cand = idx[edges == b]
            s["early_drop"][cand[rng.integers(len(cand))]] = True
        # CDASI-D: weakly related to activity (damage accumulates with disease duration)
        z, o = CDASID_BINS[a]
        dmed = (1.0, 1.0) if a == "Placebo" else None
        dvals = _severity_sample(rng, "cdasi_damage", a, m,
                                 [Bin(z, 0, 0), Bin(o, 1, 1), Bin(m - z - o, 2, 32)], 1.0, dmed)
        s["cdasid"][idx] = _rank_assign(dvals, 0.3 * s["severity"][idx] + rng.normal(size=m))
        # cutaneous VAS: zeros of CDASI-A take the lowest values; the drop-outs with
        # CDASI-A > 0 are kept out of the low strata (their bins are fixed above).
        lo_n, mid_n, hi_n = CUTVAS_BINS[a]
        vmed = (4.2, 4.5) if a == "Placebo" else None
        vvals = _severity_sample(rng, "cutaneous_vas", a, m,
                                 [Bin(lo_n, 0, 0.2), Bin(mid_n, 0.3, 3.0), Bin(hi_n, 3.1, 10)],
                                 0.1, vmed)
        key = np.argsort(np.argsort(a_vals + rng.normal(0, 6, m))).astype(float)
        key[a_vals == 0] = -1e3
        forced = s["early_drop"][idx] & (a_vals > 0)
        # anywhere in the top bin: a key above lo_n + mid_n ranks sorts past the low bins
        key[forced] = lo_n + mid_n + 1 + rng.uniform(0, hi_n - 2, int(forced.sum()))
        s["cutvas"][idx] = _rank_assign(vvals, key)
        # extramuscular global: moderately related to cutaneous VAS
        emed = (4.0, 4.0) if m % 2 == 0 else None
        mean, sd, med, lo, hi = arm_summary(published()["table1"]["extramuscular_global"], a)
        evals = shaped_sample(rng, m, mean, sd, med, lo, hi, 0.1, medians=emed)
        vz = (s["cutvas"][idx] - s["cutvas"][idx].mean()) / s["cutvas"][idx].std()
        s["extglob"][idx] = _rank_assign(evals, 0.6 * vz + 0.8 * rng.normal(size=m))
    s["cdasia"] = np.rint(s["cdasia"])
    s["cdasid"] = np.rint(s["cdasid"])
    s["cutvas"] = np.round(s["cutvas"], 1)
    s["extglob"] = np.round(s["extglob"], 1)
    # MMT-8 (0-150): mostly mild weakness, a few severe
    s["mmt8"] = np.clip(np.rint(150 - rng.gamma(2.0, 11.0, n)), 60, 150)
    _mitax_baseline(rng, s)


def _mitax_baseline(rng: np.random.Generator, s: dict[str, np.ndarray]) -> None:
    """MITAX cutaneous category (1 = A most active ... 5 = E) with the published counts.

    The least active six (D) are the subjects with the lowest CDASI-A (all four zeros
    among them), the most active forty (A) the highest, with some noise.
    """
    key = s["cdasia"] + rng.normal(0, 5, len(s["cdasia"]))
    key[s["cdasia"] == 0] = -1e3
    order = np.argsort(-key, kind="stable")  # most active first
    cat = np.empty(len(key))
    pos = 0
    for value, c in zip((1, 2, 3, 4), MITAX_COUNTS.values(), strict=True):
        cat[order[pos:pos + c]] = value
        pos += c
    s["mitax"] = cat
