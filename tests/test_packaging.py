"""The engine wheel ships the engine only: no study generator and no published figures.

The ProDERM generator and its ``published.json`` live in ``studies/`` (one study's data,
not the engine's); the wheel is built from ``sap_engine/`` plus the grammar and templates.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import ROOT

import sap_engine


def test_no_study_generator_inside_the_engine() -> None:
    assert importlib.util.find_spec("sap_engine.synth") is None
    package = Path(sap_engine.__file__).parent
    assert not list(package.rglob("published.json"))


def test_wheel_is_built_from_the_engine_package_only() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["sap_engine"]
    assert set(wheel["force-include"].values()) == {"sap_engine/grammar", "sap_engine/templates"}


def test_generator_is_importable_from_the_checkout() -> None:
    spec = importlib.util.find_spec("studies.proderm.study")
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).is_relative_to(ROOT / "studies")
