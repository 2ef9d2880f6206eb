"""Every error code in docs/errors.md has an example that triggers it, and it is tested.

An example is either a golden error file (``tests/golden/errors/NAME.sap`` whose
``NAME.expected`` shows the code; tests/test_language.py checks those) or, where a golden
file cannot show it (the plan file itself, a problem only running finds, a warning, the
output folder), a test named in ``TRIGGERED_BY`` whose source names the code. The run-time
examples of this file are such tests. To add a code: add its row to docs/errors.md and a
golden file, or a test and a line in ``TRIGGERED_BY``.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from sap_engine.api import check_plan, run_plan
from sap_engine.errors import SapError

GOLDEN = ROOT / "tests" / "golden" / "errors"
# A documented code: a table row "| SAPnnn |" (or "| SAPnnn (warning) |"). The method range
# "SAP402-SAP499" is one row; its codes are examples of the methods' own tests.
_ROW = re.compile(r"^\| (SAP\d{3})(?: \(warning\))? \|", re.M)
_RANGE = re.compile(r"^\| (SAP\d{3})-(SAP\d{3}) \|", re.M)
_SHOWN = re.compile(r"(?:error|warning)\[(SAP\d{3})\]")

HERE = "tests/test_error_catalogue.py"
# code -> the test that triggers it, where no golden error file can.
TRIGGERED_BY = {
    "SAP001": f"{HERE}::test_sap001_plan_not_found",
    "SAP002": f"{HERE}::test_sap002_plan_not_utf8",
    "SAP219": f"{HERE}::test_sap219_visit_dependent_value_without_a_visit",
    "SAP220": f"{HERE}::test_sap220_function_in_a_row_filter",
    "SAP221": f"{HERE}::test_sap221_change_of_a_parameter_without_visits",
    "SAP304": f"{HERE}::test_sap304_two_values_for_one_subject_and_visit",
    "SAP401": f"{HERE}::test_sap401_empty_population",
    "SAP320": "tests/test_inputs_errors.py::test_json_that_is_not_dataset_json_is_sap320",
    "SAP321": "tests/test_inputs_errors.py::"
              "test_row_with_too_few_values_is_sap321_naming_file_and_row",
    "SAP322": "tests/test_inputs_errors.py::test_unknown_data_type_is_sap322_naming_the_column",
    "SAP323": "tests/test_inputs_errors.py::test_value_not_of_its_column_type_is_sap323",
    "SAP324": "tests/test_inputs_errors.py::test_records_count_that_is_not_the_rows_is_sap324",
    "SAP325": "tests/test_convert.py::"
              "test_a_target_it_cannot_write_is_sap325_and_nothing_is_written",
    "SAP326": "tests/test_convert.py::"
              "test_data_dataset_json_cannot_hold_is_sap326_and_nothing_is_written",
    "SAP405": f"{HERE}::test_sap405_stratum_level_without_subjects",
    "SAP501": f"{HERE}::test_sap501_outputs_cannot_be_written",
    "SAP520": "tests/test_ars_import.py::test_sap520_a_file_that_is_not_json",
    "SAP521": "tests/test_ars_import.py::test_sap521_a_file_that_fails_the_schema",
    "SAP522": "tests/test_ars_import.py::"
              "test_sap522_a_reference_to_no_entry_also_without_jsonschema",
    "SAP523": "tests/test_ars_import.py::test_sap523_an_existing_plan_is_not_overwritten",
    "SAP003": "tests/test_hardening_parser.py::test_a_plan_path_that_is_a_folder_is_a_plan_error",
    "SAP004": "tests/test_hardening_parser.py::test_an_unreadable_plan_is_a_plan_error",
    "SAP005": "tests/test_hardening_parser.py::test_a_50_mb_plan_is_refused_before_it_is_read",
    "SAP006": "tests/test_hardening_parser.py::test_fmt_that_cannot_write_is_a_plan_error",
    "SAP254": "tests/test_estimands.py::test_sap254_principal_stratum_is_not_estimable",
    "SAP471": "tests/methods/test_hardening_methods.py::"
              "test_infinite_input_is_refused_naming_variable_and_subject",
    "SAP472": "tests/methods/test_hardening_methods.py::"
              "test_executor_refuses_an_undeclared_non_finite_statistic",
    "SAP473": "tests/methods/test_hardening_methods.py::"
              "test_ancova_of_a_constant_response_is_refused",
    "SAP474": "tests/test_hardening_tables.py::"
              "test_by_visit_ancova_reports_the_baseline_visit_as_not_estimable",
    "SAP484": "tests/test_hardening_leftovers.py::"
              "test_smd_on_a_population_of_one_arm_is_a_located_error",
    "SAP485": "tests/test_hardening_leftovers.py::"
              "test_cox_without_a_second_arm_is_refused_not_fitted_without_treatment",
    # The contract tests register a toy per-visit method of their own (independent of mmrm).
    "SAP486": "tests/test_contract.py::test_a_per_visit_method_needs_a_visit_schedule",
    "SAP487": "tests/test_contract.py::test_a_per_visit_method_takes_no_visit_of_its_own",
    "SAP488": "tests/test_contract.py::"
              "test_a_subject_visit_method_that_does_not_consume_the_visit_is_not_split",
    "SAP490": "tests/methods/test_mmrm.py::test_arm_without_observation_at_a_visit_is_refused",
    "SAP491": "tests/methods/test_mmrm.py::test_singular_design_is_refused",
    "SAP492": "tests/methods/test_mmrm.py::test_non_convergent_fit_is_refused",
    "SAP493": "tests/methods/test_mmrm.py::test_a_singular_information_matrix_is_refused",
    "SAP494": "tests/methods/test_mmrm.py::test_no_visit_in_the_options_list_is_refused",
    "SAP495": "tests/methods/test_mmrm.py::test_constant_visit_is_not_modelled",
    "SAP496": "tests/methods/test_mmrm.py::test_undefined_df_are_refused",
    "SAP497": "tests/methods/test_mmrm.py::test_visits_option_takes_numbers",
    "SAP255": "tests/test_document_quality.py::"
              "test_tables_out_of_document_order_are_warning_sap255",
    "SAP601": "tests/methods/test_mi.py::test_a_flat_likelihood_is_refused",
    "SAP602": "tests/methods/test_mi.py::test_intermittent_missingness_needs_mmrm_draws",
    "SAP603": "tests/methods/test_mi.py::test_a_singular_regression_is_refused",
    "SAP604": "tests/methods/test_mi.py::test_regression_draws_refuse_reference_based_imputation",
    "SAP605": "tests/methods/test_mi.py::test_bad_options_are_refused",
    "SAP606": "tests/methods/test_mi.py::test_bad_options_are_refused",
    "SAP607": "tests/methods/test_mi.py::test_bad_options_are_refused",
    "SAP608": "tests/methods/test_mi.py::test_a_covariate_that_varies_by_visit_is_refused",
    "SAP609": "tests/methods/test_mi.py::test_an_arm_without_values_at_a_visit_is_refused",
    "SAP610": "tests/methods/test_mi.py::test_bad_options_are_refused",
    "SAP502": "tests/test_hardening_outputs.py::"
              "test_out_naming_an_existing_file_is_refused_and_the_file_kept",
    "SAP503": "tests/test_hardening_outputs.py::"
              "test_out_naming_a_folder_the_engine_did_not_write_is_refused",
    "SAP504": "tests/test_hardening_outputs.py::"
              "test_a_folder_the_engine_wrote_is_replaced_unless_files_were_added",
    "SAP505": "tests/test_hardening_outputs.py::test_out_dot_in_an_empty_folder_writes_there",
    "SAP506": "tests/test_hardening_outputs.py::test_a_malformed_source_date_epoch_is_an_error",
    "SAP507": "tests/test_hardening_outputs.py::"
              "test_a_user_template_failing_at_run_is_a_located_sap507",
    "SAP508": "tests/test_hardening_outputs.py::"
              "test_a_malformed_reproduction_map_is_a_located_error_at_run",
    "SAP509": "tests/test_render_from_ard.py::test_a_changed_plan_is_refused_with_sap509",
    "SAP510": "tests/test_render_from_ard.py::"
              "test_a_file_that_is_not_an_sap_engine_ard_is_sap510",
    "SAP511": "tests/test_render_from_ard.py::"
              "test_an_ard_of_another_engine_version_renders_with_warning_sap511",
    "SAP530": "tests/test_provenance.py::"
              "test_a_render_of_an_edited_ard_is_refused_with_sap530",
    "SAP531": "tests/test_qc_diff.py::test_a_file_that_is_not_an_ard_is_sap531",
    "SAP532": "tests/test_qc_diff.py::test_ards_with_other_key_columns_are_sap532",
    "SAP533": "tests/test_qc_diff.py::test_a_repeated_key_is_sap533_with_its_rows",
    "SAP534": "tests/test_qc_diff.py::test_the_cli_prints_the_table_and_exits_1",
    "SAP535": "tests/test_qc_diff.py::test_a_runs_folder_is_not_replaced_by_a_diff_sap535",
    "SAP256": "tests/test_incidence.py::test_sap256_occurrence_dataset_without_the_subject_key",
    "SAP257": "tests/test_incidence.py::"
              "test_sap257_unknown_occurrence_set_located_at_the_option_with_did_you_mean",
    "SAP258": "tests/test_incidence.py::test_sap258_hierarchy_column_not_in_the_dataset",
    "SAP259": "tests/test_incidence.py::test_sap259_contradicting_options_and_by_are_refused",
    "SAP611": "tests/test_incidence.py::test_sap611_at_run_is_located_at_the_analysis",
    "SAP280": "tests/test_shift.py::test_sap280_sap282_checker_errors_are_located",
    "SAP281": "tests/test_shift.py::test_sap280_sap282_checker_errors_are_located",
    "SAP282": "tests/test_shift.py::test_sap280_sap282_checker_errors_are_located",
    "SAP283": "tests/test_record_listing.py::test_sap283_sap284_checker_errors_are_located",
    "SAP284": "tests/test_record_listing.py::test_sap283_sap284_checker_errors_are_located",
    "SAP627": "tests/test_record_listing.py::test_sap627_too_many_records_nothing_half_written",
    "SAP625": "tests/test_shift.py::test_sap625_at_run_nothing_half_written",
    "SAP626": "tests/test_shift.py::test_sap625_unknown_category_and_sap626_two_baselines",
    "SAP612": "tests/test_incidence.py::"
              "test_sap611_a_severity_outside_its_levels_and_sap612_no_reference",
    "SAP613": "tests/test_listing.py::test_sap613_sort_by_a_column_that_is_not_listed",
    "SAP614": "tests/test_listing.py::test_sap614_more_subjects_than_max_subjects",
    "SAP615": "tests/test_listing.py::test_sap615_a_listing_split_by",
}


def documented_codes() -> set[str]:
    return set(_ROW.findall((ROOT / "docs" / "errors.md").read_text(encoding="utf-8")))


def documented_ranges() -> list[tuple[str, str]]:
    return _RANGE.findall((ROOT / "docs" / "errors.md").read_text(encoding="utf-8"))


def golden_codes() -> dict[str, list[str]]:
    """code -> the golden error files whose expected output shows it."""
    found: dict[str, list[str]] = {}
    for path in sorted(GOLDEN.glob("*.expected")):
        if not path.with_suffix(".sap").exists():
            continue
        for code in set(_SHOWN.findall(path.read_text(encoding="utf-8"))):
            found.setdefault(code, []).append(path.stem)
    return found


def test_every_documented_code_has_an_example():
    shown = golden_codes()
    missing = sorted(c for c in documented_codes() if c not in shown and c not in TRIGGERED_BY)
    assert not missing, (
        f"documented error codes without an example: {missing}; add a golden error file "
        "(tests/golden/errors/NAME.sap + NAME.expected) or a test and a TRIGGERED_BY entry")


def test_every_documented_range_has_an_example():
    """A range row (the method errors) needs at least one tested code in it."""
    tested = set(golden_codes()) | set(TRIGGERED_BY) | _codes_named_in_tests()
    for low, high in documented_ranges():
        assert any(low <= c <= high for c in tested), f"no example of {low}-{high}"


def _codes_named_in_tests() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path.name != Path(HERE).name:
            codes |= set(re.findall(r"SAP\d{3}", path.read_text(encoding="utf-8")))
    return codes


def test_golden_examples_show_documented_codes():
    documented = documented_codes()
    ranges = documented_ranges()
    unknown = sorted(c for c in golden_codes() if c not in documented
                     and not any(lo <= c <= hi for lo, hi in ranges))
    assert not unknown, f"golden files show codes docs/errors.md does not list: {unknown}"


@pytest.mark.parametrize("code", sorted(TRIGGERED_BY))
def test_mapped_test_exists_and_names_its_code(code):
    file, name = TRIGGERED_BY[code].split("::")
    tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
    functions = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert name in functions, f"{TRIGGERED_BY[code]} does not exist"
    assert code in ast.get_source_segment((ROOT / file).read_text(encoding="utf-8"),
                                          functions[name]), f"{name} does not name {code}"


# ---- examples that no golden error file can show ------------------------------------------

_DATA = """data {
  dataset adsl from "adsl.csv" key USUBJID subjects
  dataset adeff from "adeff.csv" key USUBJID, PARAMCD, AVISITN
}
treatment TRT01P {
  arm Active
  arm Control reference
}
visits AVISITN {
  baseline 0
  scheduled 0, 8, 16
}
population FAS = adsl where FASFL == "Y"
parameter score "Score" = adeff.AVAL where PARAMCD == "SCORE"
"""


def _study(tmp_path: Path, plan: str, adeff: str | None = None) -> Path:
    """The mini study's data in ``tmp_path`` with ``plan`` beside them."""
    mini = ROOT / "tests" / "fixtures" / "mini"
    shutil.copy(mini / "adsl.csv", tmp_path / "adsl.csv")
    (tmp_path / "adeff.csv").write_text(adeff if adeff is not None else
                                        (mini / "adeff.csv").read_text(encoding="utf-8"))
    path = tmp_path / "plan.sap"
    path.write_text(_DATA + plan, encoding="utf-8")
    return path


def _codes(path: Path, out: Path | None = None) -> list[str]:
    """The codes that checking and then running ``path`` report (errors and warnings)."""
    try:
        check_plan(path)
        result = run_plan(path, out or path.parent / "out", jobs=1)
    except SapError as exc:
        return exc.codes
    return [d.code for d in result.notes + result.failures]


def test_sap001_plan_not_found(tmp_path):
    with pytest.raises(SapError) as exc:
        check_plan(tmp_path / "nope.sap")
    assert exc.value.codes == ["SAP001"]


def test_sap002_plan_not_utf8(tmp_path):
    path = tmp_path / "latin1.sap"
    path.write_bytes('study S "Études" { phase 2 }\n'.encode("latin-1"))
    with pytest.raises(SapError) as exc:
        check_plan(path)
    assert exc.value.codes == ["SAP002"]
    # Located at the first undecodable byte (line 1, column 10: the 'É'), the line quoted.
    (d,) = exc.value.diagnostics
    assert (d.location.line, d.location.column) == (1, 10) and "0xc9" in d.message
    assert d.source_line == 'study S "\ufffdtudes" { phase 2 }'


def test_sap219_visit_dependent_value_without_a_visit(tmp_path):
    path = _study(tmp_path, """analysis D1 "Change" {
  population FAS
  method descriptive
  variable change(score)
  by treatment
}
""")
    assert "SAP219" in _codes(path)


def test_sap220_function_in_a_row_filter(tmp_path):
    path = _study(tmp_path, """parameter big "Big scores" = adeff.AVAL where abs(AVAL) > 10
analysis D1 "Big" {
  population FAS
  method descriptive
  variable big
  at week 16
  by treatment
}
""")
    assert "SAP220" in _codes(path)


def test_sap221_change_of_a_parameter_without_visits(tmp_path):
    path = _study(tmp_path, """parameter age "Age" = adsl.AGE
analysis D1 "Change in age" {
  population FAS
  method descriptive
  variable change(age)
  at week 16
  by treatment
}
""")
    assert "SAP221" in _codes(path)


def test_sap304_two_values_for_one_subject_and_visit(tmp_path):
    mini = (ROOT / "tests" / "fixtures" / "mini" / "adeff.csv").read_text(encoding="utf-8")
    lines = mini.splitlines()
    # a second row for the first subject and visit under another PARAMCD: the dataset key
    # stays unique, the parameter without a PARAMCD filter has two values there
    extra = lines[1].replace(",SCORE,", ",OTHER,")
    path = _study(tmp_path, """parameter any "Any value" = adeff.AVAL
analysis D1 "Any" {
  population FAS
  method descriptive
  variable any
  at week 0
  by treatment
}
""", adeff="\n".join(lines + [extra]) + "\n")
    assert "SAP304" in _codes(path)


def test_sap401_empty_population(tmp_path):
    path = _study(tmp_path, """population NOBODY = adsl where AGE > 1000
analysis S1 "Sex" {
  population NOBODY
  method descriptive
  variable adsl.SEX
  by treatment
}
""")
    assert "SAP401" in _codes(path)


def test_sap405_stratum_level_without_subjects(tmp_path):
    path = _study(tmp_path, """stratum agecat "Age" = adsl.AGE cut (0, 200] "any", (200, inf) "none"
analysis S1 "Sex by age" {
  population FAS
  method descriptive
  variable adsl.SEX
  by treatment, agecat
}
""")
    assert "SAP405" in _codes(path)


def test_sap501_outputs_cannot_be_written(tmp_path):
    path = _study(tmp_path, """analysis S1 "Sex" {
  population FAS
  method descriptive
  variable adsl.SEX
  by treatment
}
""")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    assert "SAP501" in _codes(path, out=blocker / "out")
