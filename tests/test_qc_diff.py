"""``sap-run diff A B``: two ARDs compared by key (issue 11, point 7).

A is the mini fixture's ARD; B a copy edited with pandas in the test (a changed value, a
removed row, an added row), so the expected report is known without the engine. Tolerance
cases are computed by hand with binary-exact numbers (3 and 4 differ by exactly 1, which is
exactly 0.25 * 4), so the boundary is the rule's and not a rounding's.
"""

from __future__ import annotations

import math
import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import MINI

from sap_engine import qc_diff
from sap_engine.api import diff_ards, run_plan
from sap_engine.errors import OutputError

CHANGED = ("D1", "Active", "mean")  # analysis, arm, statistic
REMOVED = ("R1", "Control", "n")
ADDED = ("D1", "Active", "mode")


@pytest.fixture(scope="module")
def mini_ard(tmp_path_factory):
    out = tmp_path_factory.mktemp("mini") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", "1700000000")
        run_plan(MINI / "mini.sap", out, jobs=1)
    return out / "ard.parquet"


def _where(frame, key):
    analysis, arm, stat = key
    return (frame["analysis_id"] == analysis) & (frame["group1_level"] == arm) & \
        (frame["stat_name"] == stat) & frame["group2"].isna()


def _write(frame, schema, path):
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)
    return path


def _three_edits(source, path):
    """B: the mean of D1 Active + 0.001, R1's first Control n removed, a D1 'mode' added."""
    table = pq.read_table(source)
    frame = table.to_pandas()
    assert _where(frame, CHANGED).sum() == 1 and _where(frame, ADDED).sum() == 0
    removed = frame.index[_where(frame, REMOVED)]
    assert len(removed) >= 1
    frame.loc[_where(frame, CHANGED), "stat"] += 0.001
    added = frame[_where(frame, CHANGED)].assign(stat_name="mode", stat=-7.0)
    frame = pd.concat([frame.drop(index=removed[:1]), added], ignore_index=True)
    return _write(frame, table.schema, path)


def test_the_report_lists_exactly_the_three_edits(mini_ard, tmp_path):
    b = _three_edits(mini_ard, tmp_path / "b.parquet")
    result = diff_ards(mini_ard, b, out=tmp_path / "qc")
    found = [(d.kind, d.key[0], d.key[2], d.key[-1]) for d in result.comparison.differences]
    a_frame = pq.read_table(mini_ard).to_pandas()
    mean = a_frame.loc[_where(a_frame, CHANGED), "stat"].item()
    assert found == [("differs", "D1", "Active", "mean"), ("missing", "R1", "Control", "n"),
                     ("extra", "D1", "Active", "mode")]
    differs = result.comparison.differences[0]
    assert differs.a == (mean, None) and differs.b == (mean + 0.001, None)
    assert result.comparison.in_both == len(a_frame) - 1
    # The page lists the same three, one row each, and says they differ.
    page = (tmp_path / "qc" / "diff.html").read_text()
    assert re.findall(r'<tr class="(\w+)">', page) == ["differs", "missing", "extra"]
    assert "Result: the ARDs differ: 3 statistics." in page
    assert [p.name for p in result.files] == ["diff.html"]


def test_the_cli_prints_the_table_and_exits_1(sap_run, mini_ard, tmp_path):
    b = _three_edits(mini_ard, tmp_path / "b.parquet")
    r = sap_run("diff", mini_ard, b, "--out", tmp_path / "qc")
    assert r.returncode == 1, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith(
        ("differs", "missing", "extra"))]
    assert [(row[0], row[1 if row[0] == "differs" else 3]) for row in rows] == \
        [("differs", "D1"), ("missing", "R1"), ("extra", "D1")]
    assert rows[0][-1] == "0.001" and rows[2][-1] == "-7.0"  # |A - B|; B of the extra
    assert "result: the ARDs differ: 3 statistics" in r.stdout
    # B's rows are not the ones its run recorded: compared, with a warning.
    assert f"{b}: warning[SAP534]" in r.stderr
    assert (tmp_path / "qc" / "diff.html").is_file()


def test_identical_ards_exit_0_whatever_the_row_order(sap_run, mini_ard, tmp_path):
    table = pq.read_table(mini_ard)
    shuffled = table.to_pandas().sample(frac=1.0, random_state=1)
    b = _write(shuffled, table.schema, tmp_path / "b.parquet")
    r = sap_run("diff", mini_ard, b)
    assert r.returncode == 0, (r.stdout, r.stderr)
    n = table.num_rows
    assert f"{n} statistics in both: {n} equal within tolerance, 0 differ; 0 missing from " \
           "B, 0 extra in B" in r.stdout
    assert "result: the ARDs agree within tolerance" in r.stdout


# ---- the tolerance rule: |a - b| <= tol * max(1, |a|, |b|)


@pytest.mark.parametrize("a, b, tol, same", [
    (3.0, 4.0, 0.25, True),  # relative: 1 <= 0.25 * 4 (the boundary is inside)
    (3.0, 4.0000001, 0.25, False),  # 1.0000001 > 1.000000025
    (0.0, 0.25, 0.25, True),  # absolute below 1: 0.25 <= 0.25 * 1
    (0.0, 0.2500001, 0.25, False),
    (0.5, 0.5 + 2e-8, 1e-8, False),  # a p-value: absolute, 2e-8 > 1e-8
    (1e-12, 3e-12, 1e-8, True),  # tiny p-values: the same conclusion
    (1e6, 1e6 + 0.001, 1e-8, True),  # relative: 0.001 <= 0.01
    (1e6, 1e6 + 0.1, 1e-8, False),  # 0.1 > 0.01
    (-2.0, 2.0, 0.5, False),  # 4 > 0.5 * 2
    (-2.0, 2.0, 2.0, True),  # 4 <= 2 * 2
    (math.nan, math.nan, 0.0, True),
    (math.nan, 1.0, 1e9, False),
    (math.inf, math.inf, 0.0, True),
    (math.inf, -math.inf, 1e9, False),
    (math.inf, 1e308, 1e9, False),
    (None, None, 0.0, True),
    (None, 0.0, 1e9, False),
    (None, math.nan, 1e9, False),
    (5.0, 5.0, 0.0, True),
])
def test_tolerance_cases_computed_by_hand(a, b, tol, same):
    assert qc_diff.same_number(a, b, tol) is same
    assert qc_diff.same_number(b, a, tol) is same  # symmetric: diff A B = diff B A


def _set_stat(source, path, values: dict):
    """A copy whose rows ``i`` get ``values[i]`` as stat, NaN and null kept apart."""
    table = pq.read_table(source)
    stats = table.column("stat").to_pylist()
    for i, v in values.items():
        stats[i] = v
    return _write_table(table.set_column(table.column_names.index("stat"), "stat",
                                         pa.array(stats, pa.float64())), path)


def _write_table(table, path):
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("tol, code", [("0.25", 0), ("0.2499", 1)])
def test_the_cli_applies_the_tolerance_at_its_boundary(sap_run, mini_ard, tmp_path, tol,
                                                       code):
    a = _set_stat(mini_ard, tmp_path / "a.parquet", {2: 3.0})
    b = _set_stat(mini_ard, tmp_path / "b.parquet", {2: 4.0})
    r = sap_run("diff", a, b, "--tol", tol)
    assert r.returncode == code, (r.stdout, r.stderr)


def test_nan_equals_nan_and_null_differs_from_a_number(mini_ard, tmp_path):
    a = _set_stat(mini_ard, tmp_path / "a.parquet", {0: math.nan, 1: None, 2: None})
    b = _set_stat(mini_ard, tmp_path / "b.parquet", {0: math.nan, 1: 1.0, 2: math.nan})
    found = diff_ards(a, b).comparison.differences
    assert [(d.kind, d.a[0], d.b[0]) for d in found][:1] == [("differs", None, 1.0)]
    assert len(found) == 2 and found[1].a == (None, None) and math.isnan(found[1].b[0])


def test_a_changed_text_differs_and_text_columns_may_be_dictionaries(mini_ard, tmp_path):
    """An ARD another program wrote (R's arrow stores factors as dictionaries) compares the
    same; a stat_text of B that is not A's differs even where the stat is the same."""
    table = pq.read_table(mini_ard)
    texts = table.column("stat_text").to_pylist()
    texts[0] = "a note"
    b = table.set_column(table.column_names.index("stat_text"), "stat_text",
                         pa.array(texts, pa.string()).dictionary_encode())
    b = b.set_column(0, "analysis_id", b.column(0).dictionary_encode())
    found = diff_ards(mini_ard, _write_table(b, tmp_path / "b.parquet")).comparison
    assert [(d.kind, d.a[1], d.b[1]) for d in found.differences] == \
        [("differs", None, "a note")]
    assert found.in_both == table.num_rows


# ---- bad input: exit 2, the file and the place named, nothing written


def _assert_refused(r, code, *fragments):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert f"error[{code}]" in r.stderr, r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, r.stderr


def test_a_file_that_is_not_an_ard_is_sap531(sap_run, mini_ard, tmp_path):
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 not parquet")
    r = sap_run("diff", mini_ard, garbage, "--out", tmp_path / "qc")
    _assert_refused(r, "SAP531", f"{garbage}: error[SAP531]: cannot compare this file: it is "
                                 "not a readable Parquet file")
    assert not (tmp_path / "qc").exists()
    no_stat = _write_table(pq.read_table(mini_ard).drop_columns(["stat_name"]),
                           tmp_path / "no_stat.parquet")
    r = sap_run("diff", no_stat, mini_ard)
    _assert_refused(r, "SAP531", f"{no_stat}, column stat_name: error[SAP531]: cannot "
                                 "compare this file: it has no column stat_name")
    r = sap_run("diff", tmp_path / "absent.parquet", mini_ard)
    _assert_refused(r, "SAP531", "absent.parquet: error[SAP531]", "No such file")


def test_ards_with_other_key_columns_are_sap532(sap_run, mini_ard, tmp_path):
    table = pq.read_table(mini_ard)
    flat = _write_table(table.drop_columns(["group2", "group2_level"]),
                        tmp_path / "flat.parquet")
    r = sap_run("diff", mini_ard, flat)
    _assert_refused(r, "SAP532", f"{flat}, column group2: error[SAP532]: the two ARDs have "
                                 f"different key columns: group2, group2_level only in "
                                 f"{mini_ard}, none only in {flat}")


def test_a_repeated_key_is_sap533_with_its_rows(sap_run, mini_ard, tmp_path):
    table = pq.read_table(mini_ard)
    twice = _write_table(pa.concat_tables([table, table.slice(4, 1)]),
                         tmp_path / "twice.parquet")
    r = sap_run("diff", mini_ard, twice)
    _assert_refused(r, "SAP533", f"{twice}, row {table.num_rows + 1}: error[SAP533]: cannot "
                                 f"compare this file: rows 5 and {table.num_rows + 1} have "
                                 "the same key (D1, TRT01P=Active, chg_score, q1)")


def test_a_runs_folder_is_not_replaced_by_a_diff_sap535(mini_ard, tmp_path):
    run = mini_ard.parent
    before = sorted(p.name for p in run.iterdir())
    with pytest.raises(OutputError) as info:
        diff_ards(mini_ard, mini_ard, out=run)
    assert info.value.codes == ["SAP535"]
    assert sorted(p.name for p in run.iterdir()) == before
    # A folder an earlier diff wrote is replaced.
    diff_ards(mini_ard, mini_ard, out=tmp_path / "qc")
    diff_ards(mini_ard, mini_ard, out=tmp_path / "qc")
    assert sorted(p.name for p in (tmp_path / "qc").iterdir()) == [".sap-run", "diff.html"]


def test_a_negative_tolerance_is_a_usage_error(sap_run, mini_ard):
    r = sap_run("diff", mini_ard, mini_ard, "--tol", "-1")
    assert r.returncode == 2 and "--tol: expected a number of at least 0" in r.stderr


def test_the_page_is_byte_identical_with_source_date_epoch(mini_ard, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    b = _three_edits(mini_ard, tmp_path / "b.parquet")
    diff_ards(mini_ard, b, out=tmp_path / "one")
    diff_ards(mini_ard, b, out=tmp_path / "two")
    page = (tmp_path / "one" / "diff.html").read_bytes()
    assert page == (tmp_path / "two" / "diff.html").read_bytes()
    assert b"Compared 2023-11-14T22:13:20Z (UTC) by sap-engine " in page
