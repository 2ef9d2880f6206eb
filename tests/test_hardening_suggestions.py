"""Suggestions ("did you mean") are bounded: thousands of unknown names among thousands of
definitions made check quadratic (5,000 took 49 s here; the fuzz campaign's 'hang')."""

from __future__ import annotations

import difflib

import pytest
from conftest import MINI, write_plan

from sap_engine import errors
from sap_engine.api import check
from sap_engine.errors import SapError
from sap_engine.parse import parse_file


def test_suggestions_stop_when_their_budget_is_spent():
    errors.reset_suggestions(budget=10)
    try:
        assert errors.did_you_mean("FASFLG", ["FASFL", "SAFFL"]) == "FASFL"  # 2 spent
        assert errors.did_you_mean("FASFLG", [f"X{i}" for i in range(9)] + ["FASFL"]) is None
    finally:
        errors.reset_suggestions()


def test_a_plan_of_thousands_of_errors_compares_a_bounded_number_of_names(tmp_path,
                                                                       monkeypatch):
    compared = []
    real = difflib.get_close_matches

    def counting(word, possibilities, *args, **kwargs):
        compared.append(len(possibilities))
        return real(word, possibilities, *args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counting)
    text = (MINI / "mini.sap").read_text() + "".join(
        f"endpoint e{i} = nope{i}\n" for i in range(3000))
    with pytest.raises(SapError) as exc:
        check(parse_file(write_plan(tmp_path, text)))
    assert exc.value.count == 3000 and set(exc.value.codes) == {"SAP201"}
    assert sum(compared) <= errors.SUGGESTION_BUDGET  # 3000 x 3000 names without the budget
    # A later check has its own budget: its misspelling is still explained.
    text = (MINI / "mini.sap").read_text().replace('FASFL == "Y"', 'FASFLG == "Y"')
    with pytest.raises(SapError) as exc:
        check(parse_file(write_plan(tmp_path, text, "again.sap")))
    assert exc.value.diagnostics[0].suggestion == "FASFL"
