"""``sap-run render ARD PLAN``: the documents rebuilt from the ARD file and the plan alone.

A render of a run's ARD gives the run's report.html, report.md, report.rtf (and the RTF of
each display) and report.docx byte for byte (with
SOURCE_DATE_EPOCH set), with the failures of a ``--keep-going`` run and the warnings, and
without the data; another plan (SAP509) or a file that is not an sap-engine ARD (SAP510) is
a clear error with exit code 2; an ARD of another engine version renders with a warning
(SAP511).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import MINI, write_plan

from sap_engine import ard, outputs, provenance
from sap_engine.api import render_plan, run_plan
from sap_engine.bind_options import ResolvedOption
from sap_engine.errors import Diagnostic, OutputError
from sap_engine.location import Loc
from sap_engine.model import PopulationUse

MINI_TEXT = (MINI / "mini.sap").read_text()
# An analysis without subjects: fails at run (SAP401), kept going; its figure shows a note.
FAILING = MINI_TEXT.replace(
    "  population FAS\n  variable chg_score at week 16",
    "  population FAS where adsl.AGE > 100\n  variable chg_score at week 16").replace(
    'document "Mini results"', 'figure "1" "Change by arm" = D1 {\n  population FAS\n}\n\n'
    'document "Mini results"')
# A stratum level without subjects: a warning (SAP405) at the top and under table 9.
WARNING = MINI_TEXT.replace('(15, inf) "high"', '(15, 100] "high", (100, inf) "extreme"').replace(
    'document "Mini results"', 'table "9" "Change by baseline score" {\n  population FAS\n'
    '  columns treatment\n  rows D1s "Change at week 16" show n, mean_sd\n}\n\n'
    'document "Mini results"')
DOCUMENTS = ("report.html", "report.md", "report.rtf", "rtf/t-1.rtf", "report.docx")


@pytest.fixture(autouse=True)
def _reproducible(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


def _same_documents(a, b) -> None:
    for name in DOCUMENTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_a_render_of_the_mini_run_is_byte_identical_to_the_run(tmp_path):
    run = run_plan(MINI / "mini.sap", tmp_path / "run", jobs=1)
    rendered = render_plan(tmp_path / "run" / "ard.parquet", MINI / "mini.sap",
                           tmp_path / "again", jobs=1)
    _same_documents(tmp_path / "run", tmp_path / "again")
    # The render's folder is a whole run folder: the very ARD beside its documents.
    assert (tmp_path / "again" / "ard.parquet").read_bytes() == \
        (tmp_path / "run" / "ard.parquet").read_bytes()
    assert [p.name for p in rendered.files] == [p.name for p in run.files]
    assert rendered.n_rows == run.n_rows and rendered.notes == []


def test_a_keep_going_run_with_a_failure_renders_the_same_without_the_data(tmp_path):
    plan = write_plan(tmp_path, FAILING)
    run = run_plan(plan, tmp_path / "run", keep_going=True, jobs=1)
    assert [d.code for d in run.failures] == ["SAP401"] * 3  # D1 and the two based on it
    for data in tmp_path.glob("*.csv"):  # the data are gone: the render cannot read them
        data.unlink()
    rendered = render_plan(tmp_path / "run" / "ard.parquet", plan, tmp_path / "again", jobs=1)
    _same_documents(tmp_path / "run", tmp_path / "again")
    html = (tmp_path / "again" / "report.html").read_text()
    assert "Analyses that could not be computed" in html and "error[SAP401]" in html
    assert "D1 produced no results" in html
    assert (tmp_path / "again" / "figures" / "figure-1.png").is_file() is \
        (tmp_path / "run" / "figures" / "figure-1.png").is_file()
    assert [d.render() for d in rendered.recorded_failures] == \
        [d.render() for d in run.failures]


def test_a_run_with_warnings_renders_the_same_notes(tmp_path):
    plan = write_plan(tmp_path, WARNING)
    run = run_plan(plan, tmp_path / "run", jobs=1)
    assert [d.code for d in run.notes] == ["SAP405"]
    rendered = render_plan(tmp_path / "run" / "ard.parquet", plan, tmp_path / "again", jobs=1)
    _same_documents(tmp_path / "run", tmp_path / "again")
    md = (tmp_path / "again" / "report.md").read_text()
    table9 = md[md.index("## Table 9"):]
    assert "Note: Stratum base_cat 'extreme' has no subjects" in table9
    assert [d.code for d in rendered.recorded_warnings] == ["SAP405"]


def test_the_cli_renders_into_the_runs_own_folder(sap_run, tmp_path):
    out = tmp_path / "o"
    assert sap_run("run", MINI / "mini.sap", "--out", out, "--jobs", "1").returncode == 0
    before = {name: (out / name).read_bytes() for name in (*DOCUMENTS, "ard.parquet")}
    r = sap_run("render", out / "ard.parquet", MINI / "mini.sap", "--out", out)
    assert r.returncode == 0, r.stderr
    assert f"{out / 'report.html'}" in r.stdout and r.stderr == ""
    assert {name: (out / name).read_bytes() for name in before} == before
    assert outputs.read_marker(out) is not None


def test_the_header_n_is_read_from_the_ard_rows(tmp_path):
    """The column headers' N are the ARD's ``population_count`` rows, not recomputed."""
    run_plan(MINI / "mini.sap", tmp_path / "run", jobs=1)
    table = pq.read_table(tmp_path / "run" / "ard.parquet")
    frame = table.to_pandas()
    counts = (frame["analysis_id"] == "table 1") & (frame["method"] == "population_count")
    assert set(frame.loc[counts, "group1_level"]) == {"Active", "Control", "Total"}
    frame.loc[counts & (frame["group1_level"] == "Active"), "stat"] = 123.0
    # Edited as someone would who also recorded the new rows' hash (else SAP530 refuses it).
    pq.write_table(_rehashed(pa.Table.from_pandas(frame, schema=table.schema,
                                                  preserve_index=False)),
                   tmp_path / "edited.parquet")
    render_plan(tmp_path / "edited.parquet", MINI / "mini.sap", tmp_path / "again", jobs=1)
    md = (tmp_path / "again" / "report.md").read_text()
    table1 = md[md.index("## Table 1 "):md.index("\n## ", md.index("## Table 1 ") + 1)]
    assert "(N=123)" in table1
    assert "(N=123)" not in (tmp_path / "run" / "report.md").read_text()


# ---- what the ARD's metadata holds


def test_failures_warnings_and_steps_are_in_the_ard_metadata(tmp_path):
    plan = write_plan(tmp_path, FAILING)
    run_plan(plan, tmp_path / "run", keep_going=True, jobs=1)
    meta = ard.read(tmp_path / "run" / "ard.parquet").attrs["sap_engine"]
    failures = json.loads(meta["failures"])
    assert [f["code"] for f in failures] == ["SAP401"] * 3
    assert failures[0]["location"]["file"] == str(plan) and failures[0]["source_line"]
    assert json.loads(meta["warnings"]) == []
    steps = json.loads(meta["steps"])
    assert steps["D1"]["method"] == "descriptive" and steps["SMD1"]["method"] == "smd"
    assert steps["D1"]["options"]["ci_level"] == 0.95
    assert list(steps) == ["D1", "D1s", "D1_obs", "S1", "R1", "SMD1"]


def test_a_diagnostic_survives_the_metadata_round_trip():
    d = Diagnostic("SAP405", "analysis X: stratum s 'a' has no subjects",
                   Loc(3, 5, 3, 9, file="p.sap"), source_line="  by s", severity="warning",
                   analysis="X", suggestion="b")
    meta = ard.outcome_metadata([], [d], [])
    assert ard.diagnostics(meta, "warnings") == [d]
    assert ard.diagnostics(meta, "failures") == []


def test_option_values_that_json_cannot_hold_are_recorded_as_text():
    class _Step:
        id, method, population = "A", "m", PopulationUse("FAS")
        options = (ResolvedOption("levels", ("Y", "N"), "clause", "labels order"),
                   ResolvedOption("limit", float("inf"), "given"),
                   ResolvedOption("x", object, "default"))

    recorded = ard.resolved_options([_Step()])["A"]
    assert recorded["sources"] == {"levels": "clause: labels order", "limit": "given",
                                   "x": "default"}
    options = recorded["options"]
    assert options["levels"] == ["Y", "N"] and options["limit"] == "inf"
    assert options["x"] == str(object)
    json.dumps(options, allow_nan=False)


def test_templates_see_each_analysis_resolved_options(tmp_path):
    (tmp_path / "mine.html").write_text(
        "{% for a in doc.analyses %}{{ a.id }} {{ a.options.get('ci_level') }}\n{% endfor %}"
        "{{ doc.steps.D1.method }}\n")
    plan = write_plan(tmp_path, MINI_TEXT.replace('template "results.html"',
                                                  'template "mine.html"'))
    run_plan(plan, tmp_path / "run", jobs=1)
    html = (tmp_path / "run" / "report.html").read_text()
    assert html == "D1 0.95\nD1s 0.95\nD1_obs 0.95\nS1 0.95\nR1 0.95\nSMD1 None\ndescriptive"


# ---- refused: another plan, a file that is not an sap-engine ARD


def _assert_refused(r, code: str, *fragments: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert f"error[{code}]" in r.stderr, r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, r.stderr


@pytest.fixture(scope="module")
def mini_ard(tmp_path_factory):
    out = tmp_path_factory.mktemp("mini") / "run"
    run_plan(MINI / "mini.sap", out, jobs=1)
    return out / "ard.parquet"


def test_a_changed_plan_is_refused_with_sap509(sap_run, tmp_path, mini_ard):
    plan = write_plan(tmp_path, MINI_TEXT.replace('"Change at week 16"', '"Change, week 16"', 1))
    r = sap_run("render", mini_ard, plan, "--out", tmp_path / "o")
    _assert_refused(r, "SAP509", f"{plan}:1:1:", "not the one the ARD was produced from",
                    f"({mini_ard})", "nothing was written")
    assert not (tmp_path / "o").exists()


def _rewritten(source, path, meta=None, drop=(), table=None):
    table = table if table is not None else pq.read_table(source)
    kept = {k: v for k, v in (table.schema.metadata or {}).items()
            if k.decode().removeprefix("sap_engine.") not in drop}
    kept.update({f"sap_engine.{k}".encode(): v.encode() for k, v in (meta or {}).items()})
    pq.write_table(table.replace_schema_metadata(kept), path)
    return path


def _rehashed(table):
    """``table`` with the hash of its (edited) rows recorded, as a run would have."""
    meta = dict(table.schema.metadata or {})
    meta[b"sap_engine.rows_sha256"] = provenance.rows_sha256(table).encode()
    return table.replace_schema_metadata(meta)


def _without_counts(table):
    """The ARD with its column-header N emptied, and the rows' hash recorded again: rows
    the renderer cannot lay out (edited by someone who knew to update the hash)."""
    frame = table.to_pandas()
    frame.loc[frame["stat_name"] == "N", "stat"] = None
    return _rehashed(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False))


@pytest.mark.parametrize("make, fragment", [
    (lambda src, p: p.write_bytes(b"PAR1 this is not parquet"), "not a readable Parquet"),
    (lambda src, p: p.write_bytes(src.read_bytes()[:-100]), "not a readable Parquet"),
    (lambda src, p: pq.write_table(pa.table({"x": [1, 2]}), p), "not an ARD written by"),
    (lambda src, p: _rewritten(src, p, drop=("failures", "steps")),
     "sap_engine.failures, sap_engine.steps); an sap-engine older"),
    (lambda src, p: _rewritten(src, p, {"warnings": "[{\"code\": 1}]"}), "metadata is damaged"),
    (lambda src, p: _rewritten(src, p, {"steps": "{not json"}), "metadata is damaged"),
    (lambda src, p: _rewritten(src, p, {"variable_labels": '{"AGE": 1}'}),
     "metadata is damaged (ValueError: variable_labels)"),
    (lambda src, p: _rewritten(src, p, table=pq.read_table(src).drop_columns(["stat"])),
     "columns are not those of an sap-engine ARD (stat)"),
    (lambda src, p: None, "No such file"),
    (lambda src, p: _rewritten(src, p, table=pa.concat_tables([pq.read_table(src)] * 2)),
     "of its rows repeat a key (analysis D1, n): the file was changed after the run"),
    (lambda src, p: _rewritten(src, p, table=_without_counts(pq.read_table(src))),
     "its rows do not fit the plan's displays (ValueError: cannot convert float NaN"),
], ids=["garbage", "truncated", "foreign", "old", "bad-diagnostic", "bad-json", "bad-labels",
        "columns",
        "missing", "duplicated", "edited"])
def test_a_file_that_is_not_an_sap_engine_ard_is_sap510(sap_run, tmp_path, mini_ard, make,
                                                         fragment):
    path = tmp_path / "ard.parquet"
    make(mini_ard, path)
    r = sap_run("render", path, MINI / "mini.sap", "--out", tmp_path / "o")
    _assert_refused(r, "SAP510", f"{path}: error[SAP510]: cannot render from this file",
                    fragment)
    assert not (tmp_path / "o").exists()


def test_an_ard_of_another_engine_version_renders_with_warning_sap511(sap_run, tmp_path,
                                                                        mini_ard):
    path = _rewritten(mini_ard, tmp_path / "ard.parquet", {"engine_version": "0.0.1"})
    r = sap_run("render", path, MINI / "mini.sap", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert f"{path}: warning[SAP511]: the ARD was written by sap-engine 0.0.1" in r.stderr
    # The document states the version that computed the numbers.
    assert "sap-engine 0.0.1" in (tmp_path / "o" / "report.md").read_text()


def test_render_refuses_a_folder_it_did_not_write_and_leaves_it(tmp_path, mini_ard):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError) as info:
        render_plan(mini_ard, MINI / "mini.sap", folder, jobs=1)
    assert info.value.codes == ["SAP503"]
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_a_render_that_fails_leaves_no_outputs(tmp_path, mini_ard, monkeypatch):
    from sap_engine.render import document

    def broken(*args, **kwargs):
        raise OutputError(Diagnostic("SAP507", "a writer failed"))

    monkeypatch.setattr(document, "render_documents", broken)
    with pytest.raises(OutputError):
        render_plan(mini_ard, MINI / "mini.sap", tmp_path / "o", jobs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_cli_says_what_the_ard_records(sap_run, tmp_path):
    plan = write_plan(tmp_path, FAILING)
    assert sap_run("run", plan, "--out", tmp_path / "run", "--keep-going").returncode == 2
    r = sap_run("render", tmp_path / "run" / "ard.parquet", plan, "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert "note: the ARD records 3 analyses that could not be computed" in r.stderr
