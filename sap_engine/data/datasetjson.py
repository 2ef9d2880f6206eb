"""CDISC Dataset-JSON v1.1: reading (``.json`` and its NDJSON form ``.ndjson``) into Arrow
tables, and writing Arrow tables as Dataset-JSON (:func:`write_dataset_json`).

The specification (CDISC Dataset-JSON v1.1, 2024-12-05): a JSON object with the dataset's
attributes (``datasetJSONCreationDateTime``, ``datasetJSONVersion``, ``itemGroupOID``,
``records``, ``name``, ``label``), its ``columns`` (each with ``itemOID``, ``name``,
``label``, ``dataType`` and optionally ``targetDataType``, ``length``, ``displayFormat``,
``keySequence``) and its ``rows``, one array of values per record in the order of the
columns. In NDJSON the first line is that object without ``rows``, and each further line
is one row.

How each ``dataType`` is read (the spec's "Supported Column Data Type Combinations"):

==========================  ==============  =======================================
dataType                    JSON value      Arrow type
==========================  ==============  =======================================
string, URI                 string          string
integer                     integer         int64
float, double               number          float64
decimal                     string          float64 (``targetDataType`` decimal)
boolean                     true/false      bool
date, datetime, time        string          string (ISO 8601 text, partial dates kept)
date, datetime, time        string          date32, timestamp, time64 when
                                            ``targetDataType`` is integer (ADaM)
==========================  ==============  =======================================

``null`` is a missing value and so, as in every other format the engine reads, is an empty
string. Each column's ``label`` is kept as the field metadata ``label``. Problems are
errors naming the file and the place: not Dataset-JSON (SAP320, with the JSON line and
column), a row whose number of values is not the number of columns (SAP321), an unknown
``dataType`` (SAP322), a value that is not of its column's type (SAP323), a ``records``
count that is not the number of rows (SAP324).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sap_engine.data.datasetjson_values import (
    DATA_TYPES,
    TARGET_TYPES,
    arrow_column,
    column_spec,
    json_column,
    json_type,
)
from sap_engine.data.sas import LABEL
from sap_engine.errors import DataError, DataLocation, Diagnostic

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DATA_TYPES", "TARGET_TYPES", "read_dataset_json", "write_dataset_json"]


def _fail(code: str, path: Path, message: str, row: int | None = None,
          column: str | None = None) -> DataError:
    # "adeff.json is not valid JSON", "adeff.json: row 3 has 4 values for 5 columns"
    sep = " " if message.startswith(("is ", "has ")) else ": "
    return DataError(Diagnostic(code, f"{path.name}{sep}{message}",
                                data_location=DataLocation(str(path), row, column)))


def _loads(path: Path, text: str, line_offset: int = 0) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail("SAP320", path, f"is not valid JSON: {exc.msg} at line "
                                    f"{exc.lineno + line_offset}, column {exc.colno}") from None


def read_dataset_json(path: Path) -> pa.Table:
    """The Dataset-JSON file at ``path`` (``.ndjson``: the NDJSON form) as an Arrow table."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail("SAP320", path, f"is not UTF-8 text (byte offset {exc.start}); "
                                    "Dataset-JSON is UTF-8") from None
    if path.suffix.lower() == ".ndjson":
        meta, rows, first_line = _ndjson(path, text)
    else:
        meta = _loads(path, text)
        if not isinstance(meta, dict):
            raise _fail("SAP320", path, "is not Dataset-JSON: the file is not a JSON object")
        rows, first_line = meta.get("rows", []), None
        if not isinstance(rows, list):
            raise _fail("SAP320", path, "is not Dataset-JSON: 'rows' is not an array")
    specs = _columns(path, meta)
    records = meta.get("records")
    if isinstance(records, int) and not isinstance(records, bool) and records != len(rows):
        raise _fail("SAP324", path, f"'records' says {records} but the file has "
                                    f"{len(rows)} rows (a truncated or edited file?)")
    width = len(specs)
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, list):
            raise _fail("SAP321", path, f"row {i}{_line(first_line, i)} is not an array of "
                                        "values", row=i)
        if len(row) != width:
            raise _fail("SAP321", path, f"row {i}{_line(first_line, i)} has {len(row)} "
                                        f"values for {width} columns", row=i)
    import pyarrow as pa

    arrays, fields = [], []
    for j, spec in enumerate(specs):
        try:
            array = arrow_column(spec, [row[j] for row in rows])
        except ValueError as exc:  # (row index, value) of the first bad value
            bad_row, value = exc.args
            raise _fail("SAP323", path, f"row {bad_row}{_line(first_line, bad_row)}, column "
                                        f"{spec.name}: {json.dumps(value)} is not a "
                                        f"{spec.type_text} value", row=bad_row,
                        column=spec.name) from None
        arrays.append(array)
        fields.append(pa.field(spec.name, array.type, metadata={LABEL: spec.label.encode()}
                               if spec.label else None))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _line(first_line: int | None, row: int) -> str:
    """For NDJSON, the file line of a row (line 1 is the metadata)."""
    return "" if first_line is None else f" (line {first_line + row})"


def _ndjson(path: Path, text: str) -> tuple[dict, list, int]:
    lines = text.split("\n")
    # A blank last line (the file ends with a newline) holds no row.
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise _fail("SAP320", path, "is empty (NDJSON Dataset-JSON starts with a line of "
                                    "metadata)")
    meta = _loads(path, lines[0])
    if not isinstance(meta, dict):
        raise _fail("SAP320", path, "is not Dataset-JSON: its first line is not the "
                                    "metadata object")
    rows = [_loads(path, line, line_offset=n) for n, line in enumerate(lines[1:], start=1)]
    return meta, rows, 1


def _columns(path: Path, meta: dict) -> list:
    if "clinicalData" in meta or "referenceData" in meta:
        raise _fail("SAP320", path, "is Dataset-JSON version 1.0; only version 1.1 is read "
                                    "(CDISC's converter turns a 1.0 file into 1.1)")
    version = meta.get("datasetJSONVersion")
    if version is not None and not str(version).startswith("1.1"):
        raise _fail("SAP320", path, f"has datasetJSONVersion {json.dumps(version)}; only "
                                    "version 1.1 is read")
    columns = meta.get("columns")
    if not isinstance(columns, list):
        raise _fail("SAP320", path, "is not Dataset-JSON: it has no 'columns' array")
    specs, seen = [], set()
    for i, raw in enumerate(columns, start=1):
        try:
            spec = column_spec(raw)
        except KeyError as exc:  # an unknown dataType or targetDataType
            attribute, value, name = exc.args
            allowed = DATA_TYPES if attribute == "dataType" else TARGET_TYPES
            raise _fail("SAP322", path, f"column {i} ({name}) has the {attribute} "
                                        f"{json.dumps(value)}, which Dataset-JSON v1.1 does "
                                        f"not define (one of {', '.join(allowed)})",
                        column=name) from None
        except ValueError as exc:
            raise _fail("SAP320", path, f"is not Dataset-JSON: column {i} {exc.args[0]}") \
                from None
        if spec.name in seen:
            raise _fail("SAP320", path, f"has two columns named {spec.name}",
                        column=spec.name)
        seen.add(spec.name)
        specs.append(spec)
    return specs


def write_dataset_json(table: pa.Table, path: str | Path, *, name: str, label: str = "",
                       keys: tuple[str, ...] = (), study_oid: str | None = None,
                       created: datetime | None = None, ndjson: bool | None = None) -> Path:
    """Write ``table`` as Dataset-JSON v1.1 (NDJSON when ``ndjson``, by default when
    ``path`` ends in ``.ndjson``).

    ``name`` is the dataset's name (``ADSL``), ``label`` its description, ``keys`` its key
    columns (``keySequence``); each column's label is its field metadata ``label``.
    Integers are written as ``integer``, floating-point numbers as ``double``, decimals as
    ``decimal`` strings, text as ``string``, Arrow dates, timestamps and times as ISO 8601
    ``date``/``datetime``/``time`` with ``targetDataType`` integer (the ADaM convention).
    ``created`` (default: now, UTC) is the file's ``datasetJSONCreationDateTime``.
    """
    path = Path(path)
    when = (created or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S")
    columns = []
    for f in table.schema:
        data_type, target = json_type(f)
        label_of = (f.metadata or {}).get(LABEL, b"").decode("utf-8")
        column: dict[str, Any] = {"itemOID": f"IT.{name}.{f.name}", "name": f.name,
                                  "label": label_of, "dataType": data_type}
        if target:
            column["targetDataType"] = target
        if f.name in keys:
            column["keySequence"] = keys.index(f.name) + 1
        columns.append(column)
    meta: dict[str, Any] = {"datasetJSONCreationDateTime": when, "datasetJSONVersion": "1.1.0",
                            "sourceSystem": {"name": "sap-engine", "version": _version()}}
    if study_oid:
        meta["studyOID"] = study_oid
    meta.update({"itemGroupOID": f"IG.{name}", "records": table.num_rows, "name": name,
                 "label": label, "columns": columns})
    values = [json_column(table.column(i), f) for i, f in enumerate(table.schema)]
    rows = [list(r) for r in zip(*values)] if values else []
    if path.suffix.lower() == ".ndjson" if ndjson is None else ndjson:
        text = "\n".join([json.dumps(meta, ensure_ascii=False),
                          *(json.dumps(r, ensure_ascii=False) for r in rows)]) + "\n"
    else:
        text = json.dumps({**meta, "rows": rows}, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return path


def _version() -> str:
    import sap_engine

    return sap_engine.__version__
