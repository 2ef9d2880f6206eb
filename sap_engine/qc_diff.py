"""QC comparison of two ARDs (``sap-run diff A B``): production against double programming.

Statistics are matched by the ARD key (analysis_id, each group and level, variable,
variable_level, stat_name; ``docs/ard.md``), not by row order, so two ARDs whose rows come in
another order compare equal. A statistic of A that B lacks is *missing*, one of B that A
lacks is *extra*, one in both whose value or text is not the same within the tolerance
*differs*. Only ``stat`` and ``stat_text`` are compared: labels, the method's name, the
population's id and the plan line describe a number and may legitimately differ between
two programs that computed the same one.

The tolerance rule, one number ``tol`` (default 1e-8)::

    |a - b| <= tol * max(1, |a|, |b|)

absolute for values of size up to 1 (p-values, proportions, correlations: a p-value of 1e-12
against 3e-12 is the same conclusion, and a relative rule would call them different), and
relative above it (means, variances, counts in the thousands: 1e-8 of the value, the
agreement two correct double-precision programs reach). It is symmetric in A and B, unlike
numpy's ``isclose`` (``atol + rtol * |b|``), so ``diff A B`` and ``diff B A`` agree. Two NaNs
are equal (the same "not computable" result); two infinities are equal when of the same
sign; a missing value (null) equals only a missing value: null against a number, or against
NaN, differs.

Bad input (exit code 2, nothing written): a file that cannot be read or is not an ARD
(SAP531, naming the file and the column), two ARDs with different key columns (SAP532), a
key that a file repeats (SAP533, naming the rows). An ARD whose rows no longer match the hash
its run recorded is compared, with a warning (SAP534).
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sap_engine import provenance
from sap_engine.ard import PREFIX, metadata
from sap_engine.errors import DataLocation, Diagnostic, OutputError

DEFAULT_TOL = 1e-8
KEY_HEAD = ("analysis_id",)
KEY_TAIL = ("variable", "variable_level", "stat_name")
_GROUP = re.compile(r"group([0-9]+)(_level)?")

Value = tuple[float | None, str | None]  # stat, stat_text


@dataclass(frozen=True)
class Ard:
    """One side of a comparison: its statistics by key, in file order."""

    path: Path
    key_columns: tuple[str, ...]
    values: dict[tuple, Value]
    meta: dict[str, str]  # the sap_engine. metadata ({} for an ARD another program wrote)
    notes: tuple[Diagnostic, ...]  # warnings (SAP534)


@dataclass(frozen=True)
class Difference:
    kind: str  # "missing" (in A only), "extra" (in B only) or "differs"
    key: tuple
    a: Value | None
    b: Value | None

    @property
    def gap(self) -> float | None:
        """|A - B| of two finite stats, else None."""
        if self.a is None or self.b is None or self.a[0] is None or self.b[0] is None:
            return None
        gap = abs(self.a[0] - self.b[0])
        return gap if math.isfinite(gap) else None


@dataclass(frozen=True)
class Comparison:
    a: Ard
    b: Ard
    tol: float
    differences: tuple[Difference, ...]
    in_both: int  # statistics whose key both files hold

    def count(self, kind: str) -> int:
        return sum(1 for d in self.differences if d.kind == kind)

    @property
    def identical(self) -> bool:
        return not self.differences


def _not_an_ard(path: Path, problem: str, column: str | None = None) -> OutputError:
    return OutputError(Diagnostic("SAP531", f"cannot compare this file: {problem}",
                                  data_location=DataLocation(str(path), column=column)))


def _key_columns(path: Path, table: pa.Table) -> tuple[str, ...]:
    """analysis_id, group1, group1_level, ..., variable, variable_level, stat_name: the
    groups numbered from 1 without a gap, each with its level; every key column a string,
    ``stat`` a float (``stat_text`` optional)."""
    names = table.column_names
    numbers = sorted({int(m.group(1)) for n in names if (m := _GROUP.fullmatch(n))})
    groups = [c for i in range(1, len(numbers) + 1) for c in (f"group{i}", f"group{i}_level")]
    for name in (*KEY_HEAD, *groups, *KEY_TAIL, "stat"):
        if name not in names:
            raise _not_an_ard(path, f"it has no column {name} (an ARD has the columns of "
                                    "docs/ard.md)", name)
    for name in (*KEY_HEAD, *groups, *KEY_TAIL, "stat_text"):
        if name in names and not _is_text(table.schema.field(name).type):
            raise _not_an_ard(path, f"its column {name} holds {table.schema.field(name).type}"
                                    ", not text", name)
    if not pa.types.is_floating(table.schema.field("stat").type) and \
            not pa.types.is_integer(table.schema.field("stat").type):
        raise _not_an_ard(path, f"its column stat holds {table.schema.field('stat').type}, "
                                "not numbers", "stat")
    return (*KEY_HEAD, *groups, *KEY_TAIL)


def _is_text(kind: pa.DataType) -> bool:
    """Text as any Arrow writer stores it: R's arrow writes factors as dictionaries."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or \
        pa.types.is_string_view(kind)


def load(path: str | Path) -> Ard:
    """Read an ARD for comparison (SAP531 if it is not one, SAP533 for a repeated key)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _not_an_ard(path, exc.strerror or type(exc).__name__) from None
    try:  # no reader threads: see sap_engine.ard.load (apache/arrow#34314)
        table = pq.read_table(io.BytesIO(data), use_threads=False, pre_buffer=False)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _not_an_ard(path, f"it is not a readable Parquet file ({exc})") from None
    keys = _key_columns(path, table)
    columns = [table.column(c).to_pylist() for c in keys]
    stats = [None if v is None else float(v) for v in table.column("stat").to_pylist()]
    texts = table.column("stat_text").to_pylist() if "stat_text" in table.column_names \
        else [None] * table.num_rows
    values: dict[tuple, Value] = {}
    first_row: dict[tuple, int] = {}
    for i, key in enumerate(zip(*columns)):
        if key in values:
            raise OutputError(Diagnostic(
                "SAP533", f"cannot compare this file: rows {first_row[key] + 1} and {i + 1} "
                          f"have the same key ({describe(keys, key)}); an ARD has one "
                          "statistic per key", data_location=DataLocation(str(path), i + 1)))
        values[key] = (stats[i], texts[i])
        first_row[key] = i
    meta = metadata(table)
    notes: tuple[Diagnostic, ...] = ()
    recorded = meta.get("rows_sha256")
    if recorded and recorded != provenance.rows_sha256(table):
        notes = (Diagnostic("SAP534", "the ARD's rows were changed after the run (their "
                                      f"SHA-256 is not the {PREFIX}rows_sha256 the run "
                                      "recorded); compared as they are now",
                            data_location=DataLocation(str(path)), severity="warning"),)
    return Ard(path, keys, values, meta, notes)


def groups_text(key_columns: tuple[str, ...], key: tuple) -> str:
    """A key's groups as a reader names them: ``TRT01P=Active, visit=16``."""
    named = dict(zip(key_columns, key))
    parts, i = [], 1
    while f"group{i}" in named:
        if named[f"group{i}"] is not None or named[f"group{i}_level"] is not None:
            parts.append(f"{named[f'group{i}']}={named[f'group{i}_level']}")
        i += 1
    return ", ".join(parts)


def describe(key_columns: tuple[str, ...], key: tuple) -> str:
    """A key as a reader names it: ``D1, TRT01P=Active, visit=16, chg_score, mean``."""
    named = dict(zip(key_columns, key))
    parts = [str(named["analysis_id"]), groups_text(key_columns, key)]
    parts += [str(named[c]) for c in ("variable", "variable_level") if named[c] is not None]
    parts.append(str(named["stat_name"]))
    return ", ".join(p for p in parts if p)


def same_number(a: float | None, b: float | None, tol: float) -> bool:
    """The tolerance rule of the module docstring."""
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def compare(a: Ard, b: Ard, tol: float = DEFAULT_TOL) -> Comparison:
    """Every statistic of A and B matched by key (SAP532 if their key columns differ)."""
    if a.key_columns != b.key_columns:
        only_a = [c for c in a.key_columns if c not in b.key_columns]
        only_b = [c for c in b.key_columns if c not in a.key_columns]
        raise OutputError(Diagnostic(
            "SAP532", f"the two ARDs have different key columns: "
                      f"{', '.join(only_a) or 'none'} only in {a.path}, "
                      f"{', '.join(only_b) or 'none'} only in {b.path}; they "
                      "group their statistics differently (another plan or another "
                      "program's layout), so no statistic can be matched",
            data_location=DataLocation(str(b.path), column=(only_a + only_b)[0])))
    found = []
    for key, va in a.values.items():
        vb = b.values.get(key)
        if vb is None:
            found.append(Difference("missing", key, va, None))
        elif not (same_number(va[0], vb[0], tol) and va[1] == vb[1]):
            found.append(Difference("differs", key, va, vb))
    found += [Difference("extra", key, None, vb) for key, vb in b.values.items()
              if key not in a.values]
    in_both = sum(1 for key in a.values if key in b.values)
    return Comparison(a, b, tol, tuple(found), in_both)
