"""Worker processes change how fast a plan runs, never what it computes.

The same plan run with one job (everything in this process) and with two (analyses and
figures in forked workers) must give the same ARD, value for value and row for row, the same
failures, and the same figure files.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from conftest import MINI, ROOT, write_plan

from sap_engine import ard, workers
from sap_engine.api import run_plan
from sap_engine.errors import AnalysisError

pytestmark = pytest.mark.skipif(not workers.can_fork(), reason="needs fork (Linux)")


def _runs(plan, tmp_path, **kwargs):
    out = {}
    for jobs in (1, 2):
        result = run_plan(plan, tmp_path / f"jobs{jobs}", jobs=jobs, **kwargs)
        out[jobs] = (result, ard.read(tmp_path / f"jobs{jobs}" / "ard.parquet"))
    return out


def test_prodrem_same_ard_with_one_and_two_jobs(tmp_path):
    runs = _runs(ROOT / "plans" / "prodrem.sap", tmp_path)
    (_, ard1), (_, ard2) = runs[1], runs[2]
    assert len(ard1) > 3000
    pd.testing.assert_frame_equal(ard1, ard2, check_exact=True)
    figures = sorted(p.name for p in (tmp_path / "jobs1" / "figures").iterdir())
    # figures 2a-c, 3a, 3b, 3b2, 3c, 4a, 4b, 5, 6 (tipping point), each as PNG, SVG and PDF
    assert len(figures) == 33 and len([f for f in figures if f.endswith(".png")]) == 11
    assert figures == sorted(p.name for p in (tmp_path / "jobs2" / "figures").iterdir())
    assert all((tmp_path / "jobs2" / "figures" / f).stat().st_size > 1000 for f in figures)
    html = (tmp_path / "jobs2" / "report.html").read_text()
    assert html.count("<svg") >= 10


def test_failures_reported_alike_from_workers(tmp_path):
    text = (MINI / "mini.sap").read_text().replace(
        "  population FAS\n  variable chg_score at week 16",
        "  population FAS where adsl.AGE > 100\n  variable chg_score at week 16")
    plan = write_plan(tmp_path, text)
    runs = _runs(plan, tmp_path, keep_going=True)
    (one, ard1), (two, ard2) = runs[1], runs[2]
    assert [d.render() for d in one.failures] == [d.render() for d in two.failures]
    assert one.failures and "SAP401" in one.failures[0].render()
    pd.testing.assert_frame_equal(ard1, ard2, check_exact=True)
    with pytest.raises(AnalysisError) as exc:
        run_plan(plan, tmp_path / "strict", jobs=2)
    assert "SAP401" in str(exc.value) or "SAP401" in "".join(
        d.render() for d in exc.value.diagnostics)
    assert not (tmp_path / "strict").exists()


def test_forking_after_numerical_libraries_start_threads_is_quiet():
    # pyarrow and numpy start native threads; from Python 3.12 on, fork() warns about any
    # thread. Those threads re-initialise in the child, so the warning must not reach users.
    import numpy as np
    import pyarrow as pa

    pa.array(np.arange(1000.0))
    pool = workers.pool(2, {})
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pending = workers.submit_all(pool, abs, [-1, -2, 3])
        assert workers.results(pending) == [1, 2, 3]
        assert [str(w.message) for w in caught if "fork" in str(w.message)] == []
    finally:
        pool.shutdown()
