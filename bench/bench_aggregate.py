"""Record-to-subject aggregates (``aggregate``): the engine against a plain pandas groupby.

Run ``python bench/bench_aggregate.py [--write]``. A synthetic ADAE of 1,000,000 records for
10,000 subjects (severity MILD/MODERATE/SEVERE, 2 % blank). For each aggregate function, in
the same process and run:

- engine: ``aggregate_values`` with a fresh evaluator (the datasets already read): the
  occurrence set's filter, each record's subject among the subject dataset's, and the
  per-subject value for every subject (0 / "N" / the none level without records);
- pandas: the same values by hand: the filter, ``groupby(USUBJID)`` (size, or the max of the
  severity ranks), reindexed to the subject dataset with the no-record value filled in (the
  values are checked equal to the engine's before anything is timed).

Median wall time of repeated runs, and peak traced memory (tracemalloc) of one run each.
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
from sap_engine.data.aggregates import aggregate_values  # noqa: E402
from sap_engine.data.derive import Evaluator  # noqa: E402
from sap_engine.parse import parse_file  # noqa: E402

LEVELS = ["MILD", "MODERATE", "SEVERE"]
PLAN = """study B "bench" { sponsor "x" }
data {
  dataset adsl from "adsl.parquet" key USUBJID subjects
  dataset adae from "adae.parquet" key USUBJID, AESEQ
}
treatment TRT01P {
  arm A
  arm B
}
population SAF = adsl where SAFFL == "Y"
occurrence teae = adae where TRTEMFL == "Y"
aggregate any_teae = any(teae)
aggregate n_teae = count(teae)
aggregate worst_sev = worst(teae.AESEV, [MILD, MODERATE, SEVERE]) none "No TEAE"
"""


def synthetic(folder: Path, n_subjects: int = 10_000, n_events: int = 1_000_000) -> Path:
    rng = np.random.default_rng(20261207)
    ids = np.array([f"SUBJ-{i:05d}" for i in range(n_subjects)], dtype=object)
    adsl = pd.DataFrame({"USUBJID": ids, "TRT01P": rng.choice(["A", "B"], n_subjects),
                         "SAFFL": "Y"})
    # Skewed: some subjects have many events, about 5 % none.
    weights = rng.gamma(0.8, size=n_subjects) * (rng.random(n_subjects) > 0.05)
    who = rng.choice(n_subjects, n_events, p=weights / weights.sum())
    sev = np.array(LEVELS, dtype=object)[rng.choice(3, n_events, p=[0.6, 0.3, 0.1])]
    sev[rng.random(n_events) < 0.02] = None
    adae = pd.DataFrame({"USUBJID": ids[who], "AESEQ": np.arange(n_events), "AESEV": sev,
                         "TRTEMFL": np.where(rng.random(n_events) < 0.9, "Y", None)})
    adsl.to_parquet(folder / "adsl.parquet", index=False)
    adae.to_parquet(folder / "adae.parquet", index=False)
    (folder / "bench.sap").write_text(PLAN)
    return folder / "bench.sap"


def plain(adsl: pd.DataFrame, adae: pd.DataFrame, name: str) -> pd.Series:
    te = adae[adae.TRTEMFL == "Y"]
    ids = adsl.USUBJID
    if name == "any_teae":
        return pd.Series(np.where(ids.isin(te.USUBJID), "Y", "N"), index=ids, dtype=object)
    if name == "n_teae":
        return te.groupby("USUBJID").size().reindex(ids, fill_value=0).astype(float)
    rank = te.AESEV.map({v: i for i, v in enumerate(LEVELS)})
    top = rank.groupby(te.USUBJID).max().reindex(ids)
    out = top.map(lambda r: None if r != r else LEVELS[int(r)]).astype(object)
    out[~ids.isin(te.USUBJID).to_numpy()] = "No TEAE"
    return out


def main() -> None:
    lines = ["| aggregate | engine (median) | pandas groupby (median) | ratio "
             "| engine peak memory | pandas peak memory |", "|---|---|---|---|---|---|"]
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        checked = check(parse_file(synthetic(Path(tmp))))
        adsl = checked.datasets["adsl"].frame()
        adae = checked.datasets["adae"].frame()
        for name, what in (("any_teae", "any(teae)"), ("n_teae", "count(teae)"),
                           ("worst_sev", "worst(teae.AESEV, [...])")):
            def engine(name=name):
                return aggregate_values(Evaluator(checked), name)

            def reference(name=name):
                return plain(adsl, adae, name)

            def values(series: pd.Series) -> list:  # a missing value as None, NaN or not
                return [None if v is None or v != v else v for v in series.tolist()]

            assert values(engine()) == values(reference()), f"{name}: the values differ"
            t_engine = median_time(engine, repeats=5)
            t_plain = median_time(reference, repeats=5)
            ratio = t_engine / t_plain
            ratios.append(ratio)
            lines.append(f"| `{what}` | {fmt_s(t_engine)} | {fmt_s(t_plain)} | {ratio:.2f}x "
                         f"| {peak(engine) / 2**20:.0f} MiB | {peak(reference) / 2**20:.0f} MiB |")
    lines.append("")
    lines.append("Data: 1,000,000 ADAE records (900,000 treatment-emergent) of 10,000 subjects. "
                 "The engine's time includes the occurrence set's filter and the lookup of "
                 "each record's subject; `worst` also checks every value against the listed "
                 "levels (SAP274) and keeps the value text as the plan lists it. Peak memory "
                 "is tracemalloc's peak of one run.")
    publish("Record-to-subject aggregates", "python bench/bench_aggregate.py --write",
            "\n".join(lines))


if __name__ == "__main__":
    main()
