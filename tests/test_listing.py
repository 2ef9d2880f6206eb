"""Subject listings (method ``listing``, render/listing_table.py).

The reference is a pandas selection of the raw data done here: for Listing 16.2.1 of the
shipped ProDERM plan (the switchers), the subjects of ADSL with FASFL and SWITCHFL "Y", their
switch week and their CDASI activity (ADEFF, PARAMCD CDASIA) at week 0 and week 16, sorted by
arm, switch week and subject id with pandas; the engine's ARD must list the same subjects in
the same order with the same values. A hand-made study of 45 subjects checks the pagination
(blocks of 40, header repeated, "(continued)"), missing values (sorted last, printed blank,
null in the ARD) and the codes SAP613 (sort by an unlisted column), SAP614 (more subjects than
max_subjects) and SAP615 (a ``by`` on a listing).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from conftest import ROOT

from sap_engine import ard
from sap_engine.api import run_plan

PRODERM = ROOT / "data" / "proderm"


def _block(text: str, start: str) -> str:
    """A statement of the shipped plan, from its first line to its closing brace."""
    i = text.index(start)
    return text[i:text.index("\n}\n", i) + 3]


def _cells(f: pd.DataFrame, analysis: str) -> list[dict]:
    """The listing's rows from the ARD, in ARD order: {column: stat or stat_text}."""
    rows: dict[str, dict] = {}
    for r in f[(f.analysis_id == analysis) & (f.stat_name == "value")].itertuples():
        subject, column = r.group1_level, r.group2_level
        assert r.group2 == "column"
        value = r.stat_text if isinstance(r.stat_text, str) else \
            (None if pd.isna(r.stat) else r.stat)
        rows.setdefault(subject, {r.group1: subject})[column] = value
    return list(rows.values())


@pytest.fixture(scope="module")
def switchers(tmp_path_factory):
    """Only the declarations Listing 16.2.1 needs, and its analysis and table taken from
    plans/prodrem.sap as shipped."""
    shipped = (ROOT / "plans" / "prodrem.sap").read_text()
    folder = tmp_path_factory.mktemp("switch")
    text = f"""study P "p" {{ sponsor "x" }}
data {{
  dataset adsl from "{PRODERM / 'adsl.parquet'}" key USUBJID subjects
  dataset adeff from "{PRODERM / 'adeff.parquet'}" key USUBJID, PARAMCD, AVISITN
}}
treatment TRT01P {{
  arm IVIg "IVIg 2.0 g/kg"
  arm Placebo "Placebo" reference
}}
population FAS "Full analysis set" = adsl where FASFL == "Y"
visits AVISITN {{
  baseline 0
  scheduled 0 to 40 by 4
  label "Week"
}}
parameter cdasi_a "CDASI activity score" = adeff.AVAL where PARAMCD == "CDASIA"
{_block(shipped, 'analysis L_switch')}
{_block(shipped, 'table "16.2.1"')}"""
    (folder / "plan.sap").write_text(text)
    run_plan(folder / "plan.sap", folder / "out", jobs=1)
    return ard.read(folder / "out" / "ard.parquet"), folder / "out"


def test_switchers_listing_equals_a_pandas_selection(switchers):
    f, _ = switchers
    adsl = pd.read_parquet(PRODERM / "adsl.parquet")
    adeff = pd.read_parquet(PRODERM / "adeff.parquet")
    sel = adsl[(adsl.FASFL == "Y") & (adsl.SWITCHFL == "Y")][["TRT01P", "USUBJID", "SWITCHWK"]]
    cdasi = adeff[adeff.PARAMCD == "CDASIA"]
    for visit, name in ((0, "baseline_cdasi_a"), (16, "cdasi_a")):
        at = cdasi[cdasi.AVISITN == visit].set_index("USUBJID").AVAL.rename(name)
        sel = sel.join(at, on="USUBJID")
    sel = sel.sort_values(["TRT01P", "SWITCHWK", "USUBJID"], na_position="last")
    expected = [{k: (None if pd.isna(v) else v) for k, v in r.items()}
                for r in sel.to_dict("records")]
    got = _cells(f, "L_switch")
    assert len(expected) == 5  # the five placebo patients who switched
    assert [r["USUBJID"] for r in got] == [r["USUBJID"] for r in expected]
    assert got == expected
    # Every cell is an ARD row, and nothing else of the analysis is.
    rows = f[f.analysis_id == "L_switch"]
    assert len(rows) == 5 * 5 and set(rows.stat_name) == {"value"}


def test_switchers_listing_in_the_document(switchers):
    _, out = switchers
    md = (out / "report.md").read_text()
    assert "## Listing 16.2.1 Patients who switched arm" in md
    header = "| Treatment | USUBJID | SWITCHWK | CDASI activity score, baseline | " \
             "CDASI activity score, week 16 |"
    assert header in md
    assert 'Full analysis set, where adsl.SWITCHFL == "Y": 5 subjects listed' in md
    html = (out / "report.html").read_text()
    assert "Listing 16.2.1 Patients who switched arm" in html


# ---- a hand-made study: pagination, missing values, errors --------------------------------
N = 45


def _adsl() -> pd.DataFrame:
    """45 subjects; SCORE missing for every 7th, GRADE (text) missing for every 10th."""
    rows = []
    for i in range(1, N + 1):
        rows.append({"USUBJID": f"S{i:03d}", "ARM": "A" if i % 2 else "B",
                     "SCORE": None if i % 7 == 0 else float((i * 13) % 9) + 0.5,
                     "GRADE": None if i % 10 == 0 else ["x", "y", "z"][i % 3],
                     "ITTFL": "Y"})
    return pd.DataFrame(rows)


HAND = """study H "hand" { sponsor "x" }
data {
  dataset adsl from "adsl.csv" key USUBJID subjects
}
treatment ARM {
  arm A "Arm A" reference
  arm B "Arm B"
}
population ITT "All" = adsl where ITTFL == "Y"
analysis L "All subjects" {
  population ITT
  method listing
  variable adsl.SCORE, adsl.GRADE
  options sort = [SCORE, GRADE]
}
table "16.1" "All subjects" {
  population ITT
  rows L
}
"""


def _write(folder, text: str) -> None:
    _adsl().to_csv(folder / "adsl.csv", index=False)
    (folder / "plan.sap").write_text(text)


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hand")
    _write(folder, HAND)
    run_plan(folder / "plan.sap", folder / "out", jobs=1)
    return ard.read(folder / "out" / "ard.parquet"), folder / "out"


def test_missing_values_sort_last_and_are_null_in_the_ard(hand):
    f, _ = hand
    raw = _adsl()
    expected = raw.sort_values(["SCORE", "GRADE", "USUBJID"], na_position="last")
    got = _cells(f, "L")
    assert [r["USUBJID"] for r in got] == list(expected.USUBJID)
    last = got[-(N // 7):]  # the subjects without a SCORE come last
    assert all(r["SCORE"] is None for r in last)
    assert all(r["SCORE"] is not None for r in got[:-(N // 7)])
    # Within a tie on SCORE, a missing GRADE after the others.
    for r, e in zip(got, expected.to_dict("records")):
        assert r["GRADE"] == (None if pd.isna(e["GRADE"]) else e["GRADE"])
        assert r["ARM"] == e["ARM"]
    missing = f[(f.analysis_id == "L") & (f.group2_level == "SCORE") & f.stat.isna()]
    assert len(missing) == N // 7 and missing.stat_text.isna().all()


def test_blocks_of_40_with_the_header_repeated(hand):
    _, out = hand
    md = (out / "report.md").read_text()
    assert "| **All subjects: subjects 1-40 of 45** |" in md
    assert "| **All subjects (continued): subjects 41-45 of 45** |" in md
    # The header once as the table's, once again under the continued block.
    assert md.count("| Treatment | USUBJID | SCORE | GRADE |") == 1
    assert md.count("| **Treatment** | **USUBJID** | **SCORE** | **GRADE** |") == 1
    first, second = md.split("(continued)")
    rows = lambda s: re.findall(r"^\| &nbsp;&nbsp;Arm [AB] \| S\d{3} ", s, re.M)  # noqa: E731
    assert len(rows(first)) == 40 and len(rows(second)) == 5
    # A missing value prints blank: the last subject (sorted last) has no SCORE.
    assert re.search(r"^\| &nbsp;&nbsp;Arm [AB] \| S\d{3} \|  \|", second, re.M)
    html = (out / "report.html").read_text()
    assert html.count("<th>SCORE</th>") == 2  # thead and the continued block


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_sap613_sort_by_a_column_that_is_not_listed(sap_run, tmp_path):
    text = HAND.replace("sort = [SCORE, GRADE]", "sort = [SCORE, AGE]")
    _write(tmp_path, text)
    got = sap_run("check", tmp_path / "plan.sap", cwd=tmp_path)
    assert got.returncode == 2, got.stderr
    assert "SAP613" in got.stderr and "sort column 'AGE' is not a listed column" in got.stderr
    assert f"plan.sap:{_line_of(text, 'sort = ')}:" in got.stderr
    assert "Traceback" not in got.stderr


def test_sap615_a_listing_split_by(sap_run, tmp_path):
    text = HAND.replace("  method listing\n", "  method listing\n  by treatment\n")
    _write(tmp_path, text)
    got = sap_run("check", tmp_path / "plan.sap", cwd=tmp_path)
    assert got.returncode == 2 and "SAP615" in got.stderr
    assert f"plan.sap:{_line_of(text, 'by treatment')}:" in got.stderr


def test_sap614_more_subjects_than_max_subjects(sap_run, tmp_path):
    text = HAND.replace("sort = [SCORE, GRADE]", "sort = [SCORE, GRADE], max_subjects = 10")
    _write(tmp_path, text)
    got = sap_run("run", tmp_path / "plan.sap", "--out", tmp_path / "out", cwd=tmp_path)
    assert got.returncode == 2, got.stderr
    assert "SAP614" in got.stderr and "45 subjects" in got.stderr
    assert not (tmp_path / "out" / "ard.parquet").exists()  # nothing half written
