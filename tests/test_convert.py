"""``sap-run convert SOURCE TARGET``: any data file a plan reads written as CDISC
Dataset-JSON v1.1 (JSON or NDJSON) or Parquet, labels kept; a target it cannot write is
SAP325, data Dataset-JSON cannot hold SAP326, and nothing is left behind either way.
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
from conftest import MINI

from sap_engine.cli import main
from sap_engine.data.datasetjson import read_dataset_json
from sap_engine.data.sas import field_labels


def _xpt(tmp_path):
    frame = pd.read_csv(MINI / "adsl.csv")
    path = tmp_path / "adsl.xpt"
    pyreadstat.write_xport(frame, str(path), column_labels={"AGE": "Age (years)"})
    return path, frame


def test_xpt_to_dataset_json_and_ndjson_keeps_values_and_labels(capsys, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    source, frame = _xpt(tmp_path)
    for suffix in (".json", ".ndjson"):
        target = tmp_path / f"adsl{suffix}"
        assert main(["convert", str(source), str(target), "--key", "USUBJID",
                     "--label", "Subject-Level Analysis Dataset"]) == 0
        assert f"written as {target}" in capsys.readouterr().out
        first = json.loads(target.read_text().splitlines()[0]) if suffix == ".ndjson" \
            else json.loads(target.read_text())
        assert first["name"] == "ADSL" and first["label"] == "Subject-Level Analysis Dataset"
        assert first["datasetJSONCreationDateTime"] == "2023-11-14T22:13:20"  # the epoch
        assert first["columns"][0]["keySequence"] == 1
        table = read_dataset_json(target)
        assert field_labels(table.schema) == {"AGE": "Age (years)"}
        # The CSV's values, read by pandas: numbers as SAS doubles, blanks missing.
        assert table.column("AGE").to_pylist() == frame["AGE"].astype(float).tolist()
        assert table.column("USUBJID").to_pylist() == frame["USUBJID"].tolist()
        assert table.column("SWITCHWK").null_count == frame["SWITCHWK"].isna().sum()
    assert not list(tmp_path.glob(".*.tmp"))


def test_to_parquet_keeps_labels_as_field_metadata(capsys, tmp_path):
    source, _ = _xpt(tmp_path)
    assert main(["convert", str(source), str(tmp_path / "adsl.parquet")]) == 0
    schema = pq.read_schema(tmp_path / "adsl.parquet")
    assert schema.field("AGE").metadata == {b"label": b"Age (years)"}


def test_a_target_it_cannot_write_is_sap325_and_nothing_is_written(capsys, tmp_path):
    source, _ = _xpt(tmp_path)
    assert main(["convert", str(source), str(tmp_path / "adsl.xpt7")]) == 2
    assert "error[SAP325]: cannot convert to adsl.xpt7" in capsys.readouterr().err
    assert main(["convert", str(source), str(tmp_path / "none" / "adsl.json")]) == 2
    assert "error[SAP325]: cannot write" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adsl.xpt"]


def test_data_dataset_json_cannot_hold_is_sap326_and_nothing_is_written(capsys, tmp_path):
    source = tmp_path / "lists.parquet"
    pq.write_table(pa.table({"USUBJID": ["S1"], "X": [[1, 2]]}), source)
    assert main(["convert", str(source), str(tmp_path / "lists.json")]) == 2
    err = capsys.readouterr().err
    assert "error[SAP326]: cannot write lists.parquet as Dataset-JSON: column X" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lists.parquet"]


def test_a_bad_source_is_its_reader_error_at_the_file(capsys, tmp_path):
    source = tmp_path / "adsl.ndjson"
    source.write_text('{"datasetJSONVersion": "1.1.0", "columns": [{"name": "A", '
                      '"dataType": "integer"}]}\n[1]\n[2, 3]\n')
    assert main(["convert", str(source), str(tmp_path / "out.json")]) == 2
    err = capsys.readouterr().err
    assert f"{source}, row 2: error[SAP321]" in err
    assert "row 2 (line 3) has 2 values for 1 columns" in err
    assert not (tmp_path / "out.json").exists()
