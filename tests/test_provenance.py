"""Provenance (issue 11, point 6): every document states the plan's and each data file's
SHA-256, the engine, dependency and Python versions, the seed of each analysis that draws
random numbers, the hash of the ARD's rows and the run time; with SOURCE_DATE_EPOCH two runs
write the same bytes; a render refuses an ARD whose rows were edited (SAP530).

References are independent of the engine: hashlib over the files, importlib.metadata and
platform for the versions, the seeds as the plan text states them, a canonical row text
written out by hand from the specification in docs/ard.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
from importlib import metadata

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import MINI, ROOT

from sap_engine import provenance
from sap_engine.api import render_plan, run_plan

EPOCH = "1700000000"
MI = ROOT / "tests" / "fixtures" / "mmrm" / "mi.sap"
_ROW = re.compile(r"<tr><th>([^<]*)</th><td>([^<]*)</td></tr>")


@pytest.fixture(scope="module")
def mi_runs(tmp_path_factory):
    """The MI plan (two analyses with a seed) run twice with SOURCE_DATE_EPOCH set."""
    base = tmp_path_factory.mktemp("mi")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        for name in ("one", "two"):
            run_plan(MI, base / name, command=["sap-run", "run", str(MI)], jobs=1)
    return base / "one", base / "two"


@pytest.fixture(scope="module")
def mini_ard(tmp_path_factory):
    out = tmp_path_factory.mktemp("mini") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        run_plan(MINI / "mini.sap", out, jobs=1)
    return out / "ard.parquet"


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- byte-reproducible with SOURCE_DATE_EPOCH (extends test_hardening_outputs' item 18)


def test_two_runs_of_a_plan_with_seeds_are_byte_identical(mi_runs):
    one, two = map(_files, mi_runs)
    assert {"ard.parquet", "report.html", "report.md", "figures/figure-1.png"} <= set(one)
    assert set(one) == set(two)
    assert [name for name in one if one[name] != two[name]] == []


def test_a_render_of_the_run_is_byte_identical_with_its_provenance(mi_runs, tmp_path):
    run = mi_runs[0]
    render_plan(run / "ard.parquet", MI, tmp_path / "again", jobs=1)
    for name in ("report.html", "report.md"):
        assert (tmp_path / "again" / name).read_bytes() == (run / name).read_bytes()


# ---- what the documents and the ARD state


def _expected_block(run) -> dict[str, str]:
    """The provenance block computed from the inputs, without the engine."""
    plan_text = MI.read_bytes()
    data = {name: hashlib.sha256((MI.parent / f"{name}.csv").read_bytes()).hexdigest()
            for name in ("adeff", "adsl")}
    seeds = dict(re.findall(r'analysis (\w+) "[^"]*" \{[^}]*?seed = (\d+)',
                            plan_text.decode()))
    assert seeds == {"MI_MAR": "4242", "MI_J2R": "4242"}  # the plan as it is written
    table = pq.read_table(run / "ard.parquet")
    deps = ", ".join(f"{d} {metadata.version(d)}" for d in
                     sorted(("lark", "numpy", "pandas", "scipy", "statsmodels", "pyarrow",
                             "jinja2")))
    return {"Plan": str(MI), "Plan SHA-256": hashlib.sha256(plan_text).hexdigest(),
            **{f"Data {n} SHA-256": h for n, h in data.items()},
            "Engine": f"sap-engine {metadata.version('sap-engine')}",
            "Dependencies": deps, "Python": platform.python_version(),
            "Seeds": ", ".join(f"{a} {s}" for a, s in seeds.items()),
            "ARD rows SHA-256": provenance.rows_sha256(table),
            "Produced (UTC)": "2023-11-14T22:13:20Z"}


def test_the_documents_state_the_whole_provenance_block(mi_runs):
    run = mi_runs[0]
    expected = _expected_block(run)
    md = (run / "report.md").read_text()
    shown_md = dict(re.findall(r"^- ([^:\n]+): `([^`]*)`$", md, re.M))
    assert shown_md == expected
    html = (run / "report.html").read_text()
    title_page = html[html.index('<section class="titlepage"'):html.index("</section>")]
    assert dict(_ROW.findall(title_page)) == {"Phase": "2", **expected}


def _rtf_text(raw: str) -> str:
    """A paragraph's RTF text as plain text: the escapes of the specification undone."""
    text = re.sub(r"\\u(-?\d+)\?", lambda u: chr(int(u.group(1)) % 65536), raw)
    return re.sub(r"\\([\\{}])", r"\1", text)


def _block_after(paragraphs: list[str], heading: str) -> dict[str, str]:
    """The "label: value" paragraphs after ``heading``, up to the next empty one."""
    start = paragraphs.index(heading) + 1
    end = paragraphs.index("", start)
    return dict(p.split(": ", 1) for p in paragraphs[start:end])


def test_the_rtf_cover_and_the_docx_title_page_state_the_whole_provenance_block(mi_runs):
    """The RTF TLFs and the Word document print the same block as the HTML and Markdown:
    checked against hashlib, importlib.metadata and the plan's seeds."""
    import docx

    run = mi_runs[0]
    expected = _expected_block(run)
    rtf = (run / "report.rtf").read_text(encoding="ascii")
    cover = rtf[:rtf.index("\\sect\\sectd")]  # the cover is the first section
    paragraphs = [_rtf_text(p) for p in
                  re.findall(r"\{\\pard\\plain[^ ]* (.*?)\\par\}", cover)]
    assert _block_after(paragraphs, "Provenance") == expected
    title_page = []
    for paragraph in docx.Document(str(run / "report.docx")).paragraphs:
        title_page.append(paragraph.text)
        if paragraph.text == "Displays":  # the list of displays follows the block
            break
    assert _block_after(title_page, "Provenance") == expected


def test_the_ard_metadata_holds_the_seeds_and_the_rows_hash(mi_runs):
    run = mi_runs[0]
    table = pq.read_table(run / "ard.parquet")
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert json.loads(meta["sap_engine.seeds"]) == {"MI_MAR": 4242, "MI_J2R": 4242}
    assert meta["sap_engine.rows_sha256"] == _expected_block(run)["ARD rows SHA-256"]
    assert meta["sap_engine.command_line"] == f"sap-run run {MI}"
    assert json.loads(meta["sap_engine.dependency_versions"])["numpy"] == \
        metadata.version("numpy")


def test_a_plan_without_random_numbers_says_so(mini_ard):
    md = (mini_ard.parent / "report.md").read_text()
    assert "- Seeds: `none (no analysis draws random numbers)`" in md


def test_provenance_of_metadata_is_what_other_writers_print():
    meta = {"plan_path": "p.sap", "plan_sha256": "a" * 64, "data_sha256": '{"adsl": "b"}',
            "data_paths": '{"adsl": "adsl.csv"}', "engine_version": "9.9",
            "dependency_versions": '{"numpy": "2.0"}', "python_version": "3.11.7",
            "seeds": "[]", "created_utc": "2020-01-01T00:00:00Z", "command_line": "x",
            "rows_sha256": "c" * 64}
    p = provenance.Provenance.of(meta)
    assert p.seeds == {}  # an ARD of before the seeds were recorded: the empty list
    assert p.lines == (("Plan", "p.sap"), ("Plan SHA-256", "a" * 64),
                       ("Data adsl SHA-256", "b"), ("Engine", "sap-engine 9.9"),
                       ("Dependencies", "numpy 2.0"), ("Python", "3.11.7"),
                       ("Seeds", "none (no analysis draws random numbers)"),
                       ("ARD rows SHA-256", "c" * 64),
                       ("Produced (UTC)", "2020-01-01T00:00:00Z"))
    with pytest.raises(ValueError):
        provenance.Provenance.of({**meta, "seeds": "{broken"})


# ---- the hash of the rows


def test_the_canonical_row_text_is_the_documented_one():
    """docs/ard.md: column names, then each row, as compact JSON arrays with a newline;
    floats as the 16 hex digits of their IEEE 754 big-endian bytes, every NaN as the quiet
    NaN 7ff8000000000000, null as null, text unescaped UTF-8."""
    table = pa.table({"analysis_id": ["A1", "B", "\u00b5", "C", "D"],
                      "stat": [1.0, 0.1, -0.0, -math.nan, None],
                      "stat_text": [None, "t", 'x"y', None, None],
                      "plan_line": pa.array([7, 8, None, 1, 2], pa.int32())})
    # Written by hand: 1.0 = 0x3FF0..., 0.1 = 0x3FB999999999999A, -0.0 = the sign bit.
    text = ('["analysis_id","stat","stat_text","plan_line"]\n'
            '["A1","3ff0000000000000",null,7]\n'
            '["B","3fb999999999999a","t",8]\n'
            '["\u00b5","8000000000000000","x\\"y",null]\n'
            '["C","7ff8000000000000",null,1]\n'
            '["D",null,null,2]\n')
    assert provenance.rows_sha256(table) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_one_ulp_changes_the_rows_hash(mini_ard):
    table = pq.read_table(mini_ard)
    recorded = table.schema.metadata[b"sap_engine.rows_sha256"].decode()
    assert provenance.rows_sha256(table) == recorded
    stats = table.column("stat").to_pylist()
    stats[3] = math.nextafter(stats[3], math.inf)
    edited = table.set_column(table.column_names.index("stat"), "stat",
                              pa.array(stats, pa.float64()))
    assert provenance.rows_sha256(edited) != recorded


def _assert_refused(r, code, *fragments):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert f"error[{code}]" in r.stderr, r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, r.stderr


def _edited(source, path, edit):
    table = pq.read_table(source)
    frame = edit(table.to_pandas())
    edited = pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False)
    pq.write_table(edited.replace_schema_metadata(table.schema.metadata), path)
    return path


def _other_mean(frame):
    frame.loc[frame["stat_name"] == "mean", "stat"] += 0.5  # other numbers, still valid
    return frame


@pytest.mark.parametrize("edit", [
    _other_mean,
    lambda f: f.drop(index=f.index[f["stat_name"] == "max"][:1]),
    lambda f: f.assign(stat_label=f["stat_label"].where(f["stat_name"] != "n", "Count")),
], ids=["value", "row-removed", "label"])
def test_a_render_of_an_edited_ard_is_refused_with_sap530(sap_run, tmp_path, mini_ard, edit):
    path = _edited(mini_ard, tmp_path / "ard.parquet", edit)
    r = sap_run("render", path, MINI / "mini.sap", "--out", tmp_path / "o")
    _assert_refused(r, "SAP530", f"{path}: error[SAP530]: the ARD's rows were changed after "
                                 "the run", "sap_engine.rows_sha256", "nothing was written")
    assert not (tmp_path / "o").exists()


def test_an_ard_without_the_rows_hash_is_refused_as_older(sap_run, tmp_path, mini_ard):
    table = pq.read_table(mini_ard)
    meta = {k: v for k, v in table.schema.metadata.items() if k != b"sap_engine.rows_sha256"}
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / "ard.parquet")
    r = sap_run("render", tmp_path / "ard.parquet", MINI / "mini.sap", "--out", tmp_path / "o")
    _assert_refused(r, "SAP510", "(sap_engine.rows_sha256); an sap-engine older")
