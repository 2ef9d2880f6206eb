"""ADSL and ADEFF as Arrow tables, and deterministic Parquet writing.

Parquet bytes are reproducible: tables are built from plain arrays with an explicit
schema (no pandas metadata), written in one row group with a fixed writer
configuration; pyarrow adds no timestamp, so the same data gives the same SHA-256.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studies.proderm.published import VISITS

STUDYID = "PRODERM"
# PARAMCD -> PARAM, in output order
PARAMS = {
    "CDASIA": "CDASI Activity Score",
    "CDASID": "CDASI Damage Score",
    "CUTVAS": "MDAAT Cutaneous Disease Activity VAS (cm)",
    "EXTGLOB": "MDAAT Extramuscular Global Assessment VAS (cm)",
    "TIS": "Total Improvement Score",
    "MMT8": "Manual Muscle Testing MMT-8 Total Score",
    "MITAXC": "MITAX Cutaneous Category (1=A most active ... 5=E)",
}
MITAX_LETTERS = {1.0: "A", 2.0: "B", 3.0: "C", 4.0: "D", 5.0: "E"}
STRATA = ("MILD", "MODERATE-SEVERE")


def visit_label(week: int) -> str:
    return "Baseline" if week == 0 else f"Week {week}"


def _yn(flags: np.ndarray) -> list[str]:
    return ["Y" if f else "N" for f in flags]


def adsl_table(s: dict[str, np.ndarray], fails: dict[str, np.ndarray] | None = None) -> Any:
    """One row per screened subject, sorted by USUBJID: the randomised subjects, and the
    screen failures (``fails``; RANDFL = FASFL = "N", no arm, no efficacy data)."""
    import pyarrow as pa

    fails = fails or {"usubjid": np.array([], dtype=object)}
    n_rand, n_fail = len(s["usubjid"]), len(fails["usubjid"])
    ids = np.concatenate([s["usubjid"], fails["usubjid"]]).astype(str)
    order = np.argsort(ids, kind="stable")
    rand = order < n_rand

    def column(key: str, fill, dtype=object) -> np.ndarray:
        part = fails.get(key, np.full(n_fail, fill, dtype=dtype))
        return np.concatenate([s[key].astype(dtype), np.asarray(part, dtype=dtype)])[order]

    def text(key: str) -> Any:
        return pa.array(list(column(key, None)), pa.string())

    sw = column("switchwk", np.nan, float)
    arm = column("arm", None)
    cols = {
        "STUDYID": pa.array([STUDYID] * len(order), pa.string()),
        "USUBJID": text("usubjid"),
        "SITEID": text("siteid"),
        "AGE": pa.array(column("age", 0, np.int64), pa.int64()),
        "SEX": text("sex"),
        "RACE": text("race"),
        "HEIGHT": pa.array(column("height", np.nan, float), pa.float64(), mask=~rand),
        "WEIGHT": pa.array(column("weight", np.nan, float), pa.float64(), mask=~rand),
        "BMI": pa.array(column("bmi", np.nan, float), pa.float64(), mask=~rand),
        "TRT01P": pa.array(list(arm), pa.string()),
        "TRT01PN": pa.array(np.where(arm == "IVIg", 1, 2).astype(np.int64), pa.int64(),
                            mask=~rand),
        "STRATAR": text("stratar"),
        "RANDFL": pa.array(_yn(rand), pa.string()),
        "FASFL": pa.array(_yn(rand), pa.string()),
        "SWITCHFL": pa.array([f if r else None for f, r in zip(_yn(~np.isnan(sw)), rand)],
                             pa.string()),
        "SWITCHWK": pa.array(sw, pa.float64(), mask=np.isnan(sw)),
        "EXTFL": pa.array([f if r else None for f, r in
                           zip(_yn(column("extfl", False, bool)), rand)], pa.string()),
        "COMPLFL": pa.array([f if r else None for f, r in
                             zip(_yn(column("complfl", False, bool)), rand)], pa.string()),
        "LASTWK": pa.array(column("lastwk", 0, np.int64), pa.int64(), mask=~rand),
    }
    return pa.table(cols)


def adex_table(s: dict[str, np.ndarray], infusions: list[tuple]) -> Any:
    """Exposure BDS: one row per infusion given (``INFUS``, AVAL = IVIg dose in g/kg, 0 for
    placebo; EXTRT the product), then per-subject summaries without a visit: ``NIVIG``
    IVIg infusion cycles, ``NPBO`` placebo infusions, ``MDOSE`` mean IVIg dose per IVIg
    infusion (g/kg; missing without IVIg)."""
    import pyarrow as pa

    params = {"INFUS": "Infusion: IVIg dose (g/kg)", "NIVIG": "Number of IVIg infusion cycles",
              "NPBO": "Number of placebo infusions",
              "MDOSE": "Mean IVIg dose per infusion (g/kg)"}
    by_subject: dict[int, list[tuple]] = {}
    for i, week, product, dose in infusions:
        by_subject.setdefault(i, []).append((week, product, dose))
    rows: dict[str, list] = {k: [] for k in ("USUBJID", "TRTP", "PARAMCD", "PARAM", "EXTRT",
                                             "AVISIT", "AVISITN", "AVAL")}

    def add(i, code, extrt, week, value):
        for key, v in zip(rows, (s["usubjid"][i], s["arm"][i], code, params[code], extrt,
                                 None if week is None else visit_label(week), week, value)):
            rows[key].append(v)

    for i in np.argsort(s["usubjid"].astype(str), kind="stable"):
        given = by_subject.get(int(i), [])
        for week, product, dose in given:
            add(i, "INFUS", product, week, dose)
        ivig = [dose for _, product, dose in given if product == "IVIG"]
        add(i, "NIVIG", "IVIG", None, float(len(ivig)))
        add(i, "NPBO", "PLACEBO", None, float(len(given) - len(ivig)))
        add(i, "MDOSE", "IVIG", None, float(np.mean(ivig)) if ivig else None)
    n = len(rows["USUBJID"])
    types = {"AVISITN": pa.int64(), "AVAL": pa.float64()}
    cols = {"STUDYID": pa.array([STUDYID] * n, pa.string())}
    for k, v in rows.items():
        cols[k] = pa.array(v, types.get(k, pa.string()))
    return pa.table(cols)


def adeff_table(s: dict[str, np.ndarray], traj: dict[str, np.ndarray]) -> Any:
    """BDS rows: subject x parameter x attended visit (TIS from week 4)."""
    import pyarrow as pa

    rows: dict[str, list] = {k: [] for k in (
        "USUBJID", "TRTP", "PARAMCD", "PARAM", "AVISIT", "AVISITN", "AVAL", "AVALC", "BASE",
        "CHG", "PCHG", "ABLFL")}
    for i in np.argsort(s["usubjid"].astype(str), kind="stable"):
        for code, label in PARAMS.items():
            m = traj[code][i]
            base = None if code == "TIS" else float(m[0])
            for j, w in enumerate(VISITS):
                if w > s["lastwk"][i] or (code == "TIS" and w == 0):
                    continue
                aval = None if np.isnan(m[j]) else float(m[j])
                chg = pchg = None
                if base is not None and aval is not None:
                    chg = round(aval - base, 10)
                    if code != "MITAXC" and base != 0:
                        pchg = 100.0 * chg / base
                rows["USUBJID"].append(s["usubjid"][i])
                rows["TRTP"].append(s["arm"][i])
                rows["PARAMCD"].append(code)
                rows["PARAM"].append(label)
                rows["AVISIT"].append(visit_label(w))
                rows["AVISITN"].append(w)
                rows["AVAL"].append(aval)
                rows["AVALC"].append(MITAX_LETTERS[aval] if code == "MITAXC" and aval else None)
                rows["BASE"].append(base)
                rows["CHG"].append(chg)
                rows["PCHG"].append(pchg)
                rows["ABLFL"].append("Y" if w == 0 else None)
    n = len(rows["USUBJID"])
    types = {"AVISITN": pa.int64(), "AVAL": pa.float64(), "BASE": pa.float64(),
             "CHG": pa.float64(), "PCHG": pa.float64()}
    cols = {"STUDYID": pa.array([STUDYID] * n, pa.string())}
    for k, v in rows.items():
        cols[k] = pa.array(v, types.get(k, pa.string()))
    return pa.table(cols)


def write_parquet(table: Any, path: Path) -> None:
    """Write ``table`` with a fixed writer configuration (bit-identical reruns)."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", compression_level=9, version="2.6",
                   use_dictionary=True, write_statistics=True, row_group_size=1 << 20,
                   data_page_version="1.0", store_schema=True)


def adcdasi_table(s: dict[str, np.ndarray], items: np.ndarray) -> Any:
    """CDASI items BDS: subject x assessed visit x item (``items`` from item_matrix)."""
    import pyarrow as pa

    from studies.proderm.instrument import ITEMS

    order = np.argsort(s["usubjid"].astype(str), kind="stable")
    sub, vis, itm = np.nonzero(items[order] >= 0)
    vals = items[order][sub, vis, itm]
    subj = order[sub]
    weeks = np.asarray(VISITS)[vis]
    codes = np.array([it.paramcd for it in ITEMS], dtype=object)
    params = np.array([it.param for it in ITEMS], dtype=object)
    cat1 = np.array([it.parcat1 for it in ITEMS], dtype=object)
    cat2 = np.array([it.parcat2 for it in ITEMS], dtype=object)
    cat3 = np.array(["ACTIVITY" if it.activity else "DAMAGE" for it in ITEMS], dtype=object)
    labels = np.array([visit_label(w) for w in VISITS], dtype=object)
    cols = {
        "STUDYID": pa.array([STUDYID] * len(vals), pa.string()),
        "USUBJID": pa.array(list(s["usubjid"][subj]), pa.string()),
        "TRTP": pa.array(list(s["arm"][subj]), pa.string()),
        "PARAMCD": pa.array(list(codes[itm]), pa.string()),
        "PARAM": pa.array(list(params[itm]), pa.string()),
        "PARCAT1": pa.array(list(cat1[itm]), pa.string()),
        "PARCAT2": pa.array(list(cat2[itm]), pa.string()),
        "PARCAT3": pa.array(list(cat3[itm]), pa.string()),
        "AVISIT": pa.array(list(labels[vis]), pa.string()),
        "AVISITN": pa.array(weeks.astype(np.int64), pa.int64()),
        "AVAL": pa.array(vals.astype(float), pa.float64()),
    }
    return pa.table(cols)
