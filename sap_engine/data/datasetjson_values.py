"""Dataset-JSON values and Arrow columns, both ways: a column's ``dataType`` (and
``targetDataType``) decides how its JSON values become an Arrow array
(:func:`arrow_column`), and an Arrow field's type how its values are written
(:func:`json_type`, :func:`json_column`). The mapping is tabled in
:mod:`sap_engine.data.datasetjson`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# The spec's enumerations (Dataset-JSON v1.1, "Column Metadata").
DATA_TYPES = ("string", "integer", "decimal", "float", "double", "boolean", "datetime",
              "date", "time", "URI")
TARGET_TYPES = ("integer", "decimal")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    label: str
    data_type: str
    target: str | None = None

    @property
    def type_text(self) -> str:
        """The type a value must have, for messages ("date (ISO 8601)", "integer")."""
        if self.data_type in ("date", "datetime", "time"):
            return f"{self.data_type} (ISO 8601 text)"
        if self.data_type == "decimal":
            return "decimal (a number as text)"
        return self.data_type


def column_spec(raw: object) -> ColumnSpec:
    """A column's metadata; ValueError (what is wrong) if it lacks ``name`` or ``dataType``,
    KeyError (attribute, value, column name) for a type the spec does not define."""
    if not isinstance(raw, dict):
        raise ValueError("is not an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("has no 'name'")
    data_type = raw.get("dataType")
    if not isinstance(data_type, str):
        raise ValueError(f"({name}) has no 'dataType'")
    if data_type not in DATA_TYPES:
        raise KeyError("dataType", data_type, name)
    target = raw.get("targetDataType")
    if target is not None and target not in TARGET_TYPES:
        raise KeyError("targetDataType", target, name)
    label = raw.get("label")
    return ColumnSpec(name, label if isinstance(label, str) else "", data_type, target)


def arrow_column(spec: ColumnSpec, values: list) -> pa.Array:
    """The values of one column as an Arrow array of its type; ValueError (row, value) at
    the first value that is not of the column's type (rows numbered from 1)."""
    import pyarrow as pa

    convert, arrow_type = _converter(spec)
    # The common case in one pass each (a lab dataset holds millions of values): every
    # value already of its Python type, "" as null. The loop below finds the bad value.
    fast = _FAST.get(convert)
    if fast is not None:
        cleaned = [None if v == "" else v for v in values]
        if all(v is None or type(v) in fast for v in cleaned):
            return pa.array(cleaned, type=arrow_type)
    out: list = []
    for row, v in enumerate(values, start=1):
        if v is None or v == "":
            out.append(None)
            continue
        try:
            out.append(convert(v))
        except (TypeError, ValueError, OverflowError):
            raise ValueError(row, v) from None
    return pa.array(out, type=arrow_type)


def _converter(spec: ColumnSpec) -> tuple[Any, Any]:
    import pyarrow as pa

    kind = spec.data_type
    if kind in ("date", "datetime", "time") and spec.target == "integer":
        return {"date": (_date, pa.date32()), "datetime": (_datetime, pa.timestamp("us")),
                "time": (_time, pa.time64("us"))}[kind]
    if kind in ("string", "URI", "date", "datetime", "time"):
        return _text, pa.string()
    if kind == "integer":
        return _integer, pa.int64()
    if kind == "boolean":
        return _boolean, pa.bool_()
    if kind == "decimal" or spec.target == "decimal":
        return _decimal, pa.float64()
    return _number, pa.float64()  # float, double


def _text(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError(v)
    return v


def _integer(v: object) -> int:
    if isinstance(v, bool):
        raise TypeError(v)
    if isinstance(v, float) and v.is_integer():  # 3.0: an integer written as a number
        return int(v)
    if not isinstance(v, int):
        raise TypeError(v)
    return v


def _number(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(v)
    return float(v)


def _decimal(v: object) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if not isinstance(v, str):
        raise TypeError(v)
    # The spec: "." is the decimal separator, "," the thousands separator.
    number = float(v.replace(",", ""))
    if not math.isfinite(number):
        raise ValueError(v)
    return number


def _boolean(v: object) -> bool:
    if not isinstance(v, bool):
        raise TypeError(v)
    return v


def _date(v: object) -> date:
    return date.fromisoformat(_text(v))


def _datetime(v: object) -> datetime:
    text = _text(v)
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if parsed.tzinfo is not None:  # a time with its offset: as UTC, like SAS datetimes
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _time(v: object) -> time:
    return time.fromisoformat(_text(v))


# The converters whose values need no conversion: the exact Python types json gives them
# (bool is not int here: ``type(True) is bool``).
_FAST: dict[Any, frozenset[type]] = {_text: frozenset({str}), _integer: frozenset({int}),
                                     _number: frozenset({int, float}),
                                     _boolean: frozenset({bool})}


def json_type(field: pa.Field) -> tuple[str, str | None]:
    """(dataType, targetDataType) of an Arrow field; ValueError for a type Dataset-JSON
    cannot hold (a list, a struct, binary data)."""
    import pyarrow.types as t

    typ = field.type.value_type if t.is_dictionary(field.type) else field.type
    if t.is_boolean(typ):
        return "boolean", None
    if t.is_integer(typ):
        return "integer", None
    if t.is_floating(typ):
        return ("float" if typ.bit_width == 32 else "double"), None
    if t.is_decimal(typ):
        return "decimal", "decimal"
    if t.is_string(typ) or t.is_large_string(typ):
        return "string", None
    if t.is_date(typ):
        return "date", "integer"
    if t.is_timestamp(typ):
        return "datetime", "integer"
    if t.is_time(typ):
        return "time", "integer"
    if t.is_null(typ):
        return "string", None
    raise ValueError(f"column {field.name} of type {typ} cannot be written as Dataset-JSON")


def json_column(column: pa.ChunkedArray, field: pa.Field) -> list:
    """The values of a column as JSON values of its ``dataType``."""
    data_type, _ = json_type(field)
    values = column.to_pylist()
    if data_type in ("float", "double"):
        for v in values:
            if v is not None and math.isinf(v):
                raise ValueError(f"column {field.name} holds an infinite number, which "
                                 "JSON cannot write")
        return [None if v is None or math.isnan(v) else v for v in values]
    if data_type == "decimal":
        return [None if v is None else format(v, "f") for v in values]
    if data_type in ("date", "datetime", "time"):
        return [None if v is None else v.isoformat() for v in values]
    return values
