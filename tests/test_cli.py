"""The command line as a user meets it: exit codes, messages, atomic outputs."""

from __future__ import annotations

from conftest import MINI, ROOT, write_plan

import sap_engine

MINI_TEXT = (MINI / "mini.sap").read_text()


def test_version_and_help(sap_run):
    r = sap_run("--version")
    assert r.returncode == 0 and sap_engine.__version__ in r.stdout
    r = sap_run("--help")
    assert r.returncode == 0 and "check" in r.stdout and "fmt" in r.stdout


def test_check_ok(sap_run):
    r = sap_run("check", MINI / "mini.sap")
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout


def test_run_writes_outputs_and_says_where(sap_run, tmp_path):
    out = tmp_path / "results"
    r = sap_run("run", MINI / "mini.sap", "--out", out)
    assert r.returncode == 0, r.stderr
    for name in ("ard.parquet", "report.html", "report.md"):
        assert (out / name).is_file()
        assert str(out / name) in r.stdout


def test_default_output_folder(sap_run, tmp_path):
    plan = write_plan(tmp_path, MINI_TEXT, "study.sap")
    r = sap_run("run", plan, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "study" / "report.html").is_file()


def _assert_clean_error(r, *fragments):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, r.stderr


def test_syntax_error_has_location(sap_run, tmp_path):
    plan = write_plan(tmp_path, MINI_TEXT.replace("method descriptive", "method descriptive {", 1))
    r = sap_run("run", plan, "--out", tmp_path / "o")
    _assert_clean_error(r, "plan.sap:", "error[SAP101]")
    assert not (tmp_path / "o").exists()


def test_unknown_names_reported_together(sap_run, tmp_path):
    text = MINI_TEXT.replace('FASFL == "Y"', 'FASFL == "YES"').replace(
        "variable adsl.SEX", "variable adsl.SEXX")
    r = sap_run("check", write_plan(tmp_path, text))
    _assert_clean_error(r, "error[SAP203]", "did you mean 'Y'", "error[SAP201]",
                        "did you mean 'SEX'", "2 errors")


def test_missing_and_non_tabular_data(sap_run, tmp_path):
    text = MINI_TEXT.replace('"adsl.csv"', '"gone.parquet"').replace('"adeff.csv"', '"plan.sap"')
    r = sap_run("check", write_plan(tmp_path, text))
    _assert_clean_error(r, "error[SAP301]", "gone.parquet", "error[SAP302]",
                        "is not a data file the engine reads")


def test_non_numeric_analysis_variable_names_file_row_column(sap_run, tmp_path):
    text = MINI_TEXT.replace('"adeff.csv"', '"bad_numeric.csv"')
    r = sap_run("check", write_plan(tmp_path, text))
    _assert_clean_error(r, "error[SAP305]", "bad_numeric.csv, row 2, column AVAL", "'abc'")


def test_empty_population(sap_run, tmp_path):
    text = MINI_TEXT.replace("  population FAS\n  variable chg_score at week 16",
                             "  population FAS where adsl.AGE > 100\n"
                             "  variable chg_score at week 16")
    out = tmp_path / "o"
    r = sap_run("run", write_plan(tmp_path, text), "--out", out)
    _assert_clean_error(r, "error[SAP401]", "population 'FAS' is empty", "analysis D1")
    assert not out.exists(), "nothing may be written when a run fails"


def test_failed_run_keeps_previous_outputs(sap_run, tmp_path):
    out = tmp_path / "o"
    good = write_plan(tmp_path, MINI_TEXT)
    assert sap_run("run", good, "--out", out).returncode == 0
    before = (out / "ard.parquet").read_bytes()
    bad = write_plan(tmp_path, MINI_TEXT.replace("population FAS\n  variable chg_score",
                                                 "population FAS where adsl.AGE > 100\n"
                                                 "  variable chg_score"), "bad.sap")
    assert sap_run("run", bad, "--out", out).returncode == 2
    assert (out / "ard.parquet").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.")]


def test_keep_going_writes_successful_analyses(sap_run, tmp_path):
    text = MINI_TEXT.replace("  population FAS\n  variable chg_score at week 16",
                             "  population FAS where adsl.AGE > 100\n"
                             "  variable chg_score at week 16")
    out = tmp_path / "o"
    r = sap_run("run", write_plan(tmp_path, text), "--out", out, "--keep-going")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    html = (out / "report.html").read_text()
    assert "could not be computed" in html and "SAP401" in html


def test_fmt_check_and_rewrite(sap_run, tmp_path):
    messy = write_plan(tmp_path, MINI_TEXT.replace("  method descriptive\n",
                                                   "      method    descriptive\n", 1))
    r = sap_run("fmt", "--check", messy)
    assert r.returncode == 1 and "would reformat" in r.stdout
    assert sap_run("fmt", messy).returncode == 0
    assert messy.read_text() == MINI_TEXT
    assert sap_run("fmt", "--check", messy).returncode == 0


def test_debug_shows_traceback(sap_run, tmp_path):
    plan = write_plan(tmp_path, MINI_TEXT.replace("method descriptive", "method {", 1))
    r = sap_run("--debug", "check", plan)
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_missing_plan_file(sap_run):
    r = sap_run("check", ROOT / "plans" / "nope.sap")
    _assert_clean_error(r, "error[SAP001]", "nope.sap")


def test_model_that_cannot_be_estimated_names_the_arm(sap_run, tmp_path):
    # S04 is the only Active patient kept, and its week-8 score is missing: the Active arm
    # has no analysable value, so the ANCOVA cannot be estimated.
    text = MINI_TEXT.replace('document "Mini results"', '''analysis A8 "Week 8 ANCOVA" {
  population FAS where adsl.USUBJID in {"S04", "S05", "S06", "S07"}
  method ancova
  model chg_score ~ treatment + baseline(score)
  at week 8
}

document "Mini results"''')
    out = tmp_path / "o"
    r = sap_run("run", write_plan(tmp_path, text), "--out", out)
    _assert_clean_error(r, "analysis A8", "error[SAP436]", "Active")
    assert not out.exists()


def test_rank_deficient_design_names_the_aliased_term(sap_run, tmp_path):
    text = MINI_TEXT.replace('document "Mini results"', '''endpoint twice_base = 2 * baseline(score)

analysis AR "Aliased covariates" {
  population FAS
  method ancova
  model chg_score ~ treatment + baseline(score) + twice_base
  at week 16
}

document "Mini results"''')
    r = sap_run("run", write_plan(tmp_path, text), "--out", tmp_path / "o")
    _assert_clean_error(r, "analysis AR", "error[SAP423]", "twice_base")


def _prodrem(tmp_path, old: str, new: str):
    text = (ROOT / "plans" / "prodrem.sap").read_text()
    assert old in text
    text = text.replace(old, new).replace('"../data/proderm/', f'"{ROOT}/data/proderm/')
    text = text.replace('reproduce "prodrem.reproduction.json"', "")
    path = tmp_path / "prodrem.sap"
    path.write_text(text)
    return path


def test_body_area_absent_from_the_data(sap_run, tmp_path):
    plan = _prodrem(tmp_path, 'PARCAT1 in {"Gottron\'s hands", "Periungual", "Alopecia"}',
                    'PARCAT1 in {"Gottron\'s hands", "Periungual", "Alopecia", "Nose"}')
    _assert_clean_error(sap_run("check", plan), "error[SAP203]", 'no level "Nose"')


def test_visit_absent_from_the_schedule(sap_run, tmp_path):
    plan = _prodrem(tmp_path, "variable chg_cdasi_a at week 16", "variable chg_cdasi_a at week 17")
    _assert_clean_error(sap_run("check", plan), "error[SAP215]", "week 17")


def test_figure_of_a_failed_analysis_is_a_visible_note(sap_run, tmp_path):
    text = MINI_TEXT.replace("  population FAS\n  variable chg_score at week 16",
                             "  population FAS where adsl.AGE > 100\n"
                             "  variable chg_score at week 16").replace(
        'document "Mini results"', 'figure "1" "Change by arm" = D1 {\n  population FAS\n}\n\n'
        'document "Mini results"')
    out = tmp_path / "o"
    r = sap_run("run", write_plan(tmp_path, text), "--out", out, "--keep-going")
    assert r.returncode == 2
    html = (out / "report.html").read_text()
    assert "Figure 1 Change by arm" in html and "D1 produced no results" in html


def test_empty_stratum_is_a_visible_warning(sap_run, tmp_path):
    text = MINI_TEXT.replace('(15, inf) "high"', '(15, 100] "high", (100, inf) "extreme"')
    text = text.replace('document "Mini results"', '''table "9" "Change by baseline score" {
  population FAS
  columns treatment
  rows D1s "Change at week 16" show n, mean_sd
}

document "Mini results"''')
    out = tmp_path / "o"
    r = sap_run("run", write_plan(tmp_path, text), "--out", out)
    assert r.returncode == 0, r.stderr
    assert "warning[SAP405]: analysis D1s: stratum base_cat 'extreme' has no subjects" in r.stderr
    assert "plan.sap:53:1:" in r.stderr and "Traceback" not in r.stderr
    html = (out / "report.html").read_text()
    assert "Notes on the results" in html
    # Under the table of the analysis too, where a reader looks for the empty row.
    table9 = html[html.index('id="table-9"'):]
    assert "Note: Stratum base_cat &#39;extreme&#39; has no subjects" in table9


def test_stratum_empty_within_one_arm(sap_run, tmp_path):
    # Baselines: Active 20, 12, 30, 8; Control 25, 18, 15: only S03 (Active) is above 26.
    text = MINI_TEXT.replace('(15, inf) "high"', '(15, 26] "high", (26, inf) "extreme"')
    r = sap_run("run", write_plan(tmp_path, text), "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert "stratum base_cat 'extreme' has no subjects in TRT01P Control" in r.stderr
    assert "'high' has no subjects" not in r.stderr
