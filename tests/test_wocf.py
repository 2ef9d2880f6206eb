"""`missing wocf worst highest|lowest`: a missing visit gets the worst value observed at or
before it (baseline included). It used to parse and run as observed case, silently."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "mmrm"

ANALYSES = """
analysis W_{name} "score at week 16, {rule}" {{
  population FAS
  method descriptive
  variable score
  by treatment
  at week 16
  missing {rule}
}}
"""


def _run(tmp_path: Path, rules: dict[str, str]) -> subprocess.CompletedProcess:
    work = tmp_path / "study"
    shutil.copytree(FIXTURE, work)
    plan = (work / "mmrm.sap").read_text()
    added = "".join(ANALYSES.format(name=k, rule=v) for k, v in rules.items())
    plan = plan.replace('document "MMRM results"', added + '\ndocument "MMRM results"')
    (work / "mmrm.sap").write_text(plan)
    return subprocess.run([sys.executable, "-m", "sap_engine.cli", "run", "mmrm.sap", "--out",
                           "out"], cwd=work, capture_output=True, text=True)


def _hand_wocf(worst: str) -> pd.Series:
    """Week-16 value per subject: observed, else the worst of baseline and the visits
    before 16 that were observed (a plain loop, written from the definition)."""
    d = pd.read_csv(FIXTURE / "adeff.csv")
    out = {}
    for subject, rows in d.groupby("USUBJID"):
        values = dict(zip(rows.AVISITN, rows.AVAL))
        if 16 in values and not np.isnan(values[16]):
            out[subject] = values[16]
            continue
        seen = [v for w, v in values.items() if w <= 16 and not np.isnan(v)]
        out[subject] = (max if worst == "highest" else min)(seen) if seen else np.nan
    return pd.Series(out)


@pytest.mark.parametrize("worst", ["highest", "lowest"])
def test_wocf_imputes_the_worst_value_observed_so_far(tmp_path, worst):
    done = _run(tmp_path, {"wocf": f"wocf worst {worst}", "oc": "observed_case"})
    assert done.returncode == 0, done.stderr
    ard = pd.read_parquet(tmp_path / "study" / "out" / "ard.parquet")
    adsl = pd.read_csv(FIXTURE / "adsl.csv").set_index("USUBJID")
    hand = _hand_wocf(worst)
    for arm in ("Drug", "Placebo"):
        ids = adsl.index[(adsl.TRT01P == arm) & (adsl.FASFL == "Y")]
        expected = hand.reindex(ids).dropna()

        def stat(analysis, name, arm=arm):
            rows = ard[(ard.analysis_id == analysis) & (ard.group1_level == arm)
                       & (ard.stat_name == name)]
            return float(rows.stat.iloc[0])

        assert stat("W_wocf", "n") == len(expected)
        assert stat("W_wocf", "mean") == pytest.approx(expected.mean(), rel=1e-12)
        # Some week-16 values are missing in the fixture, so WOCF is not observed case.
        assert stat("W_wocf", "n") > stat("W_oc", "n")


def test_wocf_without_worst_is_refused_at_its_line(tmp_path):
    done = _run(tmp_path, {"bad": "wocf"})
    assert done.returncode == 2
    assert "SAP251" in done.stderr and "worst highest" in done.stderr
