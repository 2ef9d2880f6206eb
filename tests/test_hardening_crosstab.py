"""A cross-tabulation without the levels its method needs is found by ``check`` (issue 8,
point 20: SAP460 used to appear only at run)."""

from __future__ import annotations

import pytest
from conftest import MINI, write_plan

from sap_engine.api import check
from sap_engine.errors import SapError
from sap_engine.parse import parse_file

ONE_ARM = '''
population ACT "Active only" = adsl where TRT01P == "Active"
analysis C1 "Sex by arm" {
  population ACT
  method METHOD
  crosstab treatment by SEX
}
'''


@pytest.mark.parametrize("method, code, said", [
    ("chisq", "SAP460", "1 x 2"), ("fisher_exact", "SAP460", "1 x 2"),
    ("risk_difference", "SAP463", "2 x 2")])
def test_a_crosstab_of_one_arm_is_refused_at_check(tmp_path, method, code, said):
    text = (MINI / "mini.sap").read_text() + ONE_ARM.replace("METHOD", method)
    with pytest.raises(SapError) as exc:
        check(parse_file(write_plan(tmp_path, text)))
    (d,) = exc.value.diagnostics
    assert d.code == code and said in d.message and "analysis C1" in d.message
    assert d.source_line == 'analysis C1 "Sex by arm" {'


def test_a_crosstab_of_both_arms_checks(tmp_path):
    text = (MINI / "mini.sap").read_text() + ONE_ARM.replace("METHOD", "chisq").replace(
        "population ACT\n", "population FAS\n")
    assert check(parse_file(write_plan(tmp_path, text))).plan.analyses["C1"].method == "chisq"


def test_check_exits_2_before_anything_runs(tmp_path, sap_run):
    text = (MINI / "mini.sap").read_text() + ONE_ARM.replace("METHOD", "chisq")
    done = sap_run("check", write_plan(tmp_path, text))
    assert done.returncode == 2 and "error[SAP460]" in done.stderr
    assert "internal error" not in done.stderr
