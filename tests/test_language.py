"""Golden-file tests of the plan language: parse, format and check.

- ``golden/format/NAME.sap`` is formatted and compared with ``NAME.expected.sap``; formatting
  the expected file again must change nothing, and both must parse to the same plan.
- ``golden/errors/NAME.sap`` is parsed and checked; the diagnostics (paths shown relative to
  the repository) must equal ``NAME.expected``.
Every plan in ``plans/`` must also be canonically formatted and round-trip.
Set SAP_UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change (then review
the diff: a golden file is a reviewed output).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ROOT

from sap_engine.api import check
from sap_engine.errors import SapError
from sap_engine.fmt import format_plan
from sap_engine.parse import parse_file, parse_text

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("SAP_UPDATE_GOLDEN") == "1"


def _cases(folder: str) -> list[Path]:
    return sorted(p for p in (GOLDEN / folder).glob("*.sap")
                  if not p.name.endswith(".expected.sap"))


@pytest.mark.parametrize("path", _cases("format"), ids=lambda p: p.stem)
def test_format_golden(path: Path):
    plan = parse_file(path)
    text = format_plan(plan)
    expected_path = path.with_name(path.stem + ".expected.sap")
    if UPDATE:
        expected_path.write_text(text)
    assert text == expected_path.read_text()
    again = parse_text(text)
    assert again.statements == plan.statements
    assert format_plan(again) == text


@pytest.mark.parametrize("path", sorted((ROOT / "plans").glob("*.sap")), ids=lambda p: p.stem)
def test_shipped_plans_are_canonical(path: Path):
    plan = parse_file(path)
    text = format_plan(plan)
    assert parse_text(text).statements == plan.statements
    assert format_plan(parse_text(text)) == text
    assert text == path.read_text(), f"run: sap-run fmt {path.relative_to(ROOT)}"


def _diagnostics(path: Path) -> str:
    try:
        check(parse_file(path.relative_to(ROOT)))
    except SapError as exc:
        return exc.render().replace(str(ROOT), "<root>") + "\n"
    return "ok\n"


@pytest.mark.parametrize("path", _cases("errors"), ids=lambda p: p.stem)
def test_error_golden(path: Path, monkeypatch):
    monkeypatch.chdir(ROOT)
    got = _diagnostics(path)
    expected_path = path.with_suffix(".expected")
    if UPDATE:
        expected_path.write_text(got)
    assert got == expected_path.read_text()


def test_every_error_has_code_location_and_caret(monkeypatch):
    monkeypatch.chdir(ROOT)
    for path in _cases("errors"):
        text = _diagnostics(path)
        first = text.splitlines()[0]
        assert ": error[SAP" in first, path
        if not path.stem.startswith("data_"):
            assert first.startswith(str(path.relative_to(ROOT)) + ":"), first
            assert "^" in text


def test_comments_survive_formatting():
    text = '# head\npopulation FAS = adsl where FASFL == "Y"  # trailing\n\n# tail\n'
    out = format_plan(parse_text(text))
    assert "# head" in out and "# trailing" in out and "# tail" in out


def test_expression_precedence_round_trips():
    src = 'endpoint e = (change(p) + 1) / 2 - -3 < 4 and not (x in {"a", "b"} or y != 2)\n'
    plan = parse_text(src)
    assert parse_text(format_plan(plan)).statements == plan.statements


def test_every_error_code_is_documented():
    import re

    documented = (ROOT / "docs" / "errors.md").read_text()
    codes = set()
    for path in (ROOT / "sap_engine").rglob("*.py"):
        codes |= set(re.findall(r'"(SAP\d{3})"', path.read_text()))
    # Method errors (SAP402-SAP499) are documented as one range.
    missing = sorted(c for c in codes if c not in documented and not "SAP402" <= c <= "SAP499")
    assert not missing, f"add to docs/errors.md: {missing}"
