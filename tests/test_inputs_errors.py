"""Bad data inputs (issue 11, "Bad input"): a damaged XPT, SAS7BDAT, Parquet or JSON file,
a Dataset-JSON row whose values do not match its columns, an unknown ``dataType``, a value
not of its column's type, a ``records`` count that is not the number of rows, a Dataset-JSON
1.0 file. Each is an error naming the file and the place, found by ``sap-run check`` (exit
2, no traceback); ``sap-run run`` stops at the same error and writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_inputs import SPEC_FILE, convert_mini

from sap_engine.cli import main


def check_and_run(capsys, plan: Path, *fragments: str) -> str:
    """``check`` and ``run`` both fail with ``fragments`` in the message; no output."""
    out = plan.parent / "out"
    for args in (["check", str(plan)], ["run", str(plan), "--out", str(out), "--jobs", "1"]):
        code = main(args)
        err = capsys.readouterr().err
        assert code == 2, err
        assert "Traceback" not in err and "internal error" not in err, err
        for fragment in fragments:
            assert fragment in err, err
    assert not out.exists()
    return err


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # garbage where the header is
        path.write_bytes(b"not a data file " * 40 + data[640:])


@pytest.mark.parametrize("fmt", ("xpt5", "xpt8", "sas7bdat"))
@pytest.mark.parametrize("how", ("truncated", "garbage"))
def test_damaged_sas_file_is_sap302_naming_the_file(capsys, tmp_path, fmt, how):
    plan = convert_mini(tmp_path / "study", fmt)
    suffix = "xpt" if fmt.startswith("xpt") else "sas7bdat"
    _damage(tmp_path / "study" / f"adeff.{suffix}", how)
    err = check_and_run(capsys, plan, "error[SAP302]", "dataset 'adeff'",
                        f"cannot read adeff.{suffix}", str(tmp_path / "study" / "adeff."))
    assert "mini.sap:8:3" in err  # at the dataset's line in the plan


def test_damaged_parquet_is_sap302(capsys, tmp_path):
    plan = convert_mini(tmp_path / "study", "json")
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq
    from conftest import MINI

    pq.write_table(pcsv.read_csv(MINI / "adsl.csv"), tmp_path / "study" / "adsl.parquet")
    _damage(tmp_path / "study" / "adsl.parquet", "truncated")
    plan.write_text(plan.read_text().replace('"adsl.json"', '"adsl.parquet"'))
    check_and_run(capsys, plan, "error[SAP302]", "cannot read adsl.parquet")


def _json_plan(tmp_path: Path, fmt: str = "json") -> tuple[Path, Path]:
    plan = convert_mini(tmp_path / "study", fmt)
    return plan, tmp_path / "study" / f"adeff.{fmt}"


def test_json_that_does_not_parse_is_sap320_at_its_line(capsys, tmp_path):
    plan, data = _json_plan(tmp_path)
    text = json.dumps(json.loads(data.read_text()), indent=1)
    lines = text.splitlines()
    assert lines[1].endswith(",")
    lines[1] = lines[1].rstrip(",")  # a missing comma at the end of line 2
    data.write_text("\n".join(lines))
    check_and_run(capsys, plan, "error[SAP320]", "adeff.json is not valid JSON",
                  "at line 3, column 2")


def test_json_that_is_not_dataset_json_is_sap320(capsys, tmp_path):
    plan, data = _json_plan(tmp_path)
    data.write_text(json.dumps({"name": "ADEFF", "rows": []}))
    check_and_run(capsys, plan, "error[SAP320]", "adeff.json is not Dataset-JSON",
                  "no 'columns' array")


def test_dataset_json_1_0_is_sap320(capsys, tmp_path):
    plan, data = _json_plan(tmp_path)
    data.write_text(json.dumps({"creationDateTime": "2023-01-01T00:00:00",
                                "datasetJSONVersion": "1.0.0", "clinicalData": {}}))
    check_and_run(capsys, plan, "error[SAP320]", "version 1.0; only version 1.1 is read")


@pytest.mark.parametrize("fmt", ("json", "ndjson"))
def test_row_with_too_few_values_is_sap321_naming_file_and_row(capsys, tmp_path, fmt):
    plan, data = _json_plan(tmp_path, fmt)
    if fmt == "json":
        document = json.loads(data.read_text())
        document["rows"][2] = document["rows"][2][:-1]
        data.write_text(json.dumps(document))
        where = "row 3 has 4 values for 5 columns"
    else:
        lines = data.read_text().splitlines()
        lines[3] = json.dumps(json.loads(lines[3])[:-1])
        data.write_text("\n".join(lines) + "\n")
        where = "row 3 (line 4) has 4 values for 5 columns"
    check_and_run(capsys, plan, "error[SAP321]", f"adeff.{fmt}: {where}",
                  f"adeff.{fmt}, row 3)")


def test_unknown_data_type_is_sap322_naming_the_column(capsys, tmp_path):
    plan, data = _json_plan(tmp_path)
    document = json.loads(data.read_text())
    document["columns"][3]["dataType"] = "number"
    data.write_text(json.dumps(document))
    check_and_run(capsys, plan, "error[SAP322]", "column 4 (AVAL) has the dataType "
                  '"number", which Dataset-JSON v1.1 does not define', "column AVAL)")


def test_value_not_of_its_column_type_is_sap323(capsys, tmp_path):
    plan, data = _json_plan(tmp_path)
    document = json.loads(data.read_text())
    document["rows"][1][3] = "abc"  # AVAL is an integer column
    data.write_text(json.dumps(document))
    check_and_run(capsys, plan, "error[SAP323]", 'row 2, column AVAL: "abc" is not a '
                  "integer value", "adeff.json, row 2, column AVAL)")


def test_records_count_that_is_not_the_rows_is_sap324(capsys, tmp_path):
    plan, data = _json_plan(tmp_path)
    document = json.loads(data.read_text())
    document["rows"] = document["rows"][:-3]
    data.write_text(json.dumps(document))
    check_and_run(capsys, plan, "error[SAP324]", "'records' says 24 but the file has 21 rows")


def test_reader_errors_on_the_spec_file(tmp_path):
    """The spec's own example with one value of the wrong kind: located at row and column."""
    from sap_engine.data.datasetjson import read_dataset_json
    from sap_engine.errors import DataError

    bad = json.loads(json.dumps(SPEC_FILE))
    bad["rows"][0][4] = "Y"  # ADaM's flag text in a boolean column
    path = tmp_path / "adsl.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(DataError) as info:
        read_dataset_json(path)
    (d,) = info.value.diagnostics
    assert (d.code, d.data_location.row, d.data_location.column) == ("SAP323", 1, "SAFFL")
