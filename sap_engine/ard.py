"""The analysis results dataset (ARD): one long table, one row per statistic.

Columns and vocabulary follow ``docs/ard.md``. Values are never rounded here. The key
(analysis_id, groups, variable, variable_level, stat_name) is unique; :func:`to_table`
refuses a duplicate, since two numbers under one key would make a display ambiguous.
File metadata records what produced the numbers (:mod:`sap_engine.provenance`): the plan
and data hashes, the engine and dependency versions, seeds, the UTC time, the command line
and a hash of the rows themselves (a render refuses rows edited since, SAP530); and what a
document needs besides the rows (:func:`outcome_metadata`): the failures, the warnings and
each step's resolved options, so that ``sap-run render ARD PLAN`` rebuilds the documents from
the ARD file and the plan alone (:func:`load` reads it back, refusing a file that is not
one).

Reproducible output: with ``SOURCE_DATE_EPOCH`` set (the reproducible-builds convention,
seconds since 1970 UTC), ``created_utc`` is that time instead of the clock's, so two runs of
the same command on the same plan and data write byte-identical files. Everything else in
the metadata is a function of the inputs, the installed versions and the command line as
typed (paths as given, so another ``--out`` or plan path gives another ``command_line`` and
``plan_path``); ``--jobs`` is left out of the recorded command line, since the results do
not depend on it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

import sap_engine
from sap_engine import provenance as prov
from sap_engine.errors import DataLocation, Diagnostic, OutputError
from sap_engine.fmt import expr
from sap_engine.location import Loc

if TYPE_CHECKING:
    from sap_engine import model as m
    from sap_engine.compile import Step

BASE_COLUMNS = ("analysis_id", "analysis_label", "method", "population")
TAIL_COLUMNS = ("variable", "variable_level", "stat_name", "stat_label", "stat", "stat_text",
                "plan_line")
DEPENDENCIES = prov.DEPENDENCIES
PREFIX = "sap_engine."  # of every metadata key


def schema(n_groups: int) -> pa.Schema:
    fields = [pa.field(c, pa.string(), nullable=c not in ("analysis_id", "method"))
              for c in BASE_COLUMNS]
    for i in range(1, n_groups + 1):
        fields += [pa.field(f"group{i}", pa.string()), pa.field(f"group{i}_level", pa.string())]
    fields += [pa.field("variable", pa.string()), pa.field("variable_level", pa.string()),
               pa.field("stat_name", pa.string(), nullable=False),
               pa.field("stat_label", pa.string()), pa.field("stat", pa.float64()),
               pa.field("stat_text", pa.string()), pa.field("plan_line", pa.int32())]
    return pa.schema(fields)


class DuplicateKeyError(ValueError):
    pass


def key_of(row: dict) -> tuple:
    return (row["analysis_id"], tuple(row["groups"]), row["variable"], row["variable_level"],
            row["stat_name"])


def to_table(rows: list[dict], meta: dict[str, str] | None = None) -> pa.Table:
    seen: set[tuple] = set()
    for row in rows:
        key = key_of(row)
        if key in seen:
            raise DuplicateKeyError(f"duplicate ARD key {key}")
        seen.add(key)
    n_groups = max((len(r["groups"]) for r in rows), default=0)
    columns: dict[str, list] = {name: [] for name in schema(n_groups).names}
    for r in rows:
        for c in BASE_COLUMNS:
            columns[c].append(r[c])
        for i in range(n_groups):
            g = r["groups"][i] if i < len(r["groups"]) else (None, None)
            columns[f"group{i + 1}"].append(g[0])
            columns[f"group{i + 1}_level"].append(None if g[1] is None else str(g[1]))
        for c in TAIL_COLUMNS:
            v = r.get(c)
            if c == "stat" and v is not None:
                v = float(v)
            columns[c].append(v)
    table = pa.table(columns, schema=schema(n_groups))
    if meta:
        # The hash of the rows themselves: a render refuses rows edited since (SAP530).
        meta = {**meta, "rows_sha256": prov.rows_sha256(table)}
        table = table.replace_schema_metadata({f"{PREFIX}{k}": v for k, v in meta.items()})
    return table


def creation_time() -> datetime:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (OutputError SAP506 if it is malformed)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        return datetime.now(timezone.utc)
    if not re.fullmatch(r"[0-9]{1,12}", epoch.strip()):
        raise OutputError(Diagnostic(
            "SAP506", f"SOURCE_DATE_EPOCH must be a whole number of seconds since "
                      f"1970-01-01 UTC, not {epoch!r}"))
    return datetime.fromtimestamp(int(epoch), timezone.utc)


def recorded_command(command: list[str]) -> str:
    """The command line as recorded: ``--jobs N`` / ``-j N`` left out (results do not
    depend on it, and the ARD must not either)."""
    kept: list[str] = []
    skip = False
    for arg in command:
        if skip:
            skip = False
        elif arg in ("--jobs", "-j"):
            skip = True
        elif not (arg.startswith("--jobs=") or re.fullmatch(r"-j[0-9]+", arg)):
            kept.append(arg)
    return " ".join(kept)


def provenance(plan_path: str, plan_text: str, datasets: dict,
               seeds: dict[str, int] | None = None, command: list[str] | None = None,
               created: datetime | None = None) -> dict[str, str]:
    """The provenance metadata of a run (see :mod:`sap_engine.provenance`): ``seeds`` maps
    an analysis id to its seed (:func:`sap_engine.provenance.seeds_of` of the steps)."""
    return prov.collect(plan_path, plan_text, datasets, seeds or {},
                        recorded_command(command if command is not None else sys.argv),
                        created or creation_time())


def variable_labels(plan: m.Plan, datasets: dict) -> dict[str, str]:
    """Column -> label, as the data files give them (SAS and Dataset-JSON files, Parquet
    field metadata), for the columns the plan reads: the document shows them where the plan
    gives no label of its own (``variable adsl.AGE`` shown as "Age"). A column read from two
    datasets takes the label of its first mention. Empty when no file has labels."""
    from sap_engine import model as m

    labels = {name: ds.labels() for name, ds in datasets.items()}
    subject_first = sorted(labels, key=lambda n: not datasets[n].source.subjects)
    out: dict[str, str] = {}
    for node in m.walk(plan.statements):
        if not isinstance(node, m.Col) or node.name in out:
            continue
        found = [labels[node.dataset]] if node.dataset in labels else \
            [labels[n] for n in subject_first] if node.dataset is None else []
        for given in found:
            if node.name in given:
                out[node.name] = given[node.name]
                break
    return out


def write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")


def read(path: str | Path):
    """The ARD as a pandas DataFrame (with its metadata in ``.attrs['sap_engine']``)."""
    table = pq.read_table(path)
    frame = table.to_pandas()
    frame.attrs["sap_engine"] = metadata(table)
    return frame


# ---- what a document needs besides the rows, and reading it back

# Keys the renderer needs: an ARD without them cannot be rendered (an older engine wrote it).
PROVENANCE_KEYS = ("plan_path", "plan_sha256", "data_sha256", "engine_version",
                   "dependency_versions", "created_utc", "rows_sha256")
OUTCOME_KEYS = ("failures", "warnings", "steps")


def resolved_options(steps: Iterable[Step]) -> dict[str, dict]:
    """Each step's method and resolved options, by analysis id (JSON-serialisable): the
    method's name (``method``) and how a reader knows it (``label``, the registry's: a
    document rebuilt from the ARD names it without the registry), the population
    (``population``: its id, with the analysis' ``where`` as the plan writes it), the
    options' values (``options``) and where each came from (``sources``: ``given`` in the
    plan's options, ``default`` of the method, or ``clause: <clause>`` for a value a plan
    clause implied, e.g. ``clause: lsmeans weights``).

    The one source of the ``steps`` metadata: the options as bound (``Step.options``).
    """
    from sap_engine.methods import registry

    def label(name: str) -> str:
        method = registry.get(name)
        return method.label if method is not None else name

    return {s.id: {"method": s.method, "label": label(s.method),
                   "population": _population_text(s.population),
                   "options": {o.name: _jsonable(o.value) for o in s.options},
                   "sources": {o.name: f"clause: {o.clause}" if o.source == "clause"
                               and o.clause else o.source for o in s.options}}
            for s in steps}


def _population_text(use: m.PopulationUse) -> str:
    return use.name + (f" where {expr(use.where)}" if use.where is not None else "")


def _jsonable(value: object) -> object:
    """An option value as JSON holds it: tuples as lists, a non-finite number or anything
    that is not plain data as its text (JSON has no infinity)."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def outcome_metadata(failures: list[Diagnostic], warnings: list[Diagnostic],
                     steps: Iterable[Step]) -> dict[str, str]:
    """The metadata a document is rebuilt from besides the rows: the analyses that could
    not be computed (``--keep-going``), the warnings, and each step's resolved options."""
    return {"failures": json.dumps([dataclasses.asdict(d) for d in failures]),
            "warnings": json.dumps([dataclasses.asdict(d) for d in warnings]),
            "steps": json.dumps(resolved_options(steps))}


def metadata(table: pa.Table) -> dict[str, str]:
    """The ``sap_engine.`` metadata of an ARD table, without the prefix."""
    return {k.decode()[len(PREFIX):]: v.decode() for k, v in (table.schema.metadata or {}).items()
            if k.startswith(PREFIX.encode())}


def diagnostics(meta: dict[str, str], key: str) -> list[Diagnostic]:
    """The failures or warnings recorded under ``key`` (see :func:`outcome_metadata`)."""
    found = []
    for d in json.loads(meta[key]):
        loc, data_loc = d.pop("location"), d.pop("data_location")
        found.append(Diagnostic(**d, location=Loc(**loc) if loc else None,
                                data_location=DataLocation(**data_loc) if data_loc else None))
    return found


@dataclass(frozen=True)
class StoredArd:
    """An ARD file read back for rendering: its bytes, table and decoded metadata."""

    path: Path
    data: bytes  # the file as read: the render's output folder gets this very file
    table: pa.Table
    meta: dict[str, str]
    failures: list[Diagnostic]
    warnings: list[Diagnostic]
    steps: dict[str, dict]


def _unusable(path: str | Path, problem: str) -> OutputError:
    return OutputError(Diagnostic("SAP510", f"cannot render from this file: {problem}",
                                  data_location=DataLocation(str(path))))


def load(path: str | Path) -> StoredArd:
    """Read an ARD that ``sap-run run`` wrote; OutputError SAP510 if the file cannot be
    read, is not Parquet, or is not an sap-engine ARD that can be rendered (its columns,
    its metadata)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise _unusable(path, exc.strerror or type(exc).__name__) from None
    try:
        # No reader threads: a small file, and Arrow's thread pools torn down at exit abort
        # the process now and then ("terminate called", apache/arrow#34314) after an error.
        table = pq.read_table(io.BytesIO(data), use_threads=False, pre_buffer=False)
    except (pa.ArrowException, OSError, ValueError) as exc:  # not Parquet, or damaged
        raise _unusable(path, f"it is not a readable Parquet file ({exc})") from None
    meta = metadata(table)
    if "plan_sha256" not in meta:
        raise _unusable(path, "it is not an ARD written by sap-engine (it has no "
                              f"{PREFIX}plan_sha256 metadata)")
    missing = [k for k in (*PROVENANCE_KEYS, *OUTCOME_KEYS) if k not in meta]
    if missing:
        raise _unusable(path, "it lacks the metadata a document is made from "
                              f"({', '.join(PREFIX + k for k in missing)}); an sap-engine "
                              "older than this one wrote it: run the plan again")
    _check_columns(path, table)
    _check_keys(path, table)
    _check_rows_hash(path, table, meta["rows_sha256"])
    try:
        failures, warnings = diagnostics(meta, "failures"), diagnostics(meta, "warnings")
        steps = json.loads(meta["steps"])
        prov.Provenance.of(meta)  # its JSON entries decode (ValueError if not)
        if not isinstance(steps, dict):
            raise ValueError("steps")
        labels = json.loads(meta.get("variable_labels", "{}"))
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise ValueError("variable_labels")
        visits = json.loads(meta.get("visit_labels", "{}"))
        if not isinstance(visits, dict) or not all(isinstance(v, str) for v in visits.values()):
            raise ValueError("visit_labels")
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise _unusable(path, f"its metadata is damaged ({type(exc).__name__}: {exc})") from None
    return StoredArd(Path(path), data, table, meta, failures, warnings, steps)


def _check_columns(path: str | Path, table: pa.Table) -> None:
    """The columns of :func:`schema`, with their types (a renderer reads them blindly)."""
    n_groups = sum(1 for name in table.column_names if re.fullmatch(r"group[0-9]+", name))
    expected = schema(n_groups)
    got = {f.name: f.type for f in table.schema}
    wrong = [f.name for f in expected if got.get(f.name) != f.type]
    extra = [name for name in got if name not in expected.names]
    if wrong or extra:
        shown = ", ".join(wrong + extra)
        raise _unusable(path, f"its columns are not those of an sap-engine ARD ({shown})")


def _check_keys(path: str | Path, table: pa.Table) -> None:
    """The key is unique, as :func:`to_table` made it (two numbers under one key would
    make a display ambiguous)."""
    keys = [c for c in table.column_names if c not in ("analysis_label", "method",
                                                       "population", "stat_label", "stat",
                                                       "stat_text", "plan_line")]
    frame = table.select(keys).to_pandas()
    duplicated = frame.duplicated()
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise _unusable(path, f"{int(duplicated.sum())} of its rows repeat a key (analysis "
                              f"{row['analysis_id']}, {row['stat_name']}): the file was "
                              "changed after the run")


def _check_rows_hash(path: str | Path, table: pa.Table, recorded: str) -> None:
    """The rows are the run's: their hash is the one the run recorded (OutputError SAP530).
    Without it, rows edited into other valid numbers would be rendered as the run's."""
    actual = prov.rows_sha256(table)
    if actual != recorded:
        raise OutputError(Diagnostic(
            "SAP530", f"the ARD's rows were changed after the run: their SHA-256 is "
                      f"{actual[:16]}..., the run recorded {recorded[:16]}... "
                      f"({PREFIX}rows_sha256); render the ARD the run wrote, or run the "
                      "plan again", data_location=DataLocation(str(path))))


def rows_do_not_fit(path: str | Path, exc: Exception) -> OutputError:
    """SAP510 for rows the renderer cannot lay out, though the plan is the ARD's own: the
    same renderer laid them out at the run, so the rows were changed since."""
    return _unusable(path, f"its rows do not fit the plan's displays ({type(exc).__name__}: "
                           f"{exc}): the file was changed after the run (if it was not, "
                           "this is a bug in sap-engine: rerun with --debug and report it)")


def plan_matches(stored: StoredArd, plan: m.Plan) -> list[Diagnostic]:
    """Refuse to render an ARD with a plan other than the one it was produced from
    (OutputError SAP509): the document would set this plan's titles, labels and footnotes
    over another plan's numbers. The warnings of a render that may still go ahead: an ARD
    written by another engine version (SAP511; the numbers are as that version computed
    them, the layout is this version's)."""
    recorded = stored.meta["plan_sha256"]
    actual = hashlib.sha256(plan.text.encode("utf-8")).hexdigest()
    where = DataLocation(str(stored.path))
    if actual != recorded:
        raise OutputError(Diagnostic(
            "SAP509", f"this plan is not the one the ARD was produced from: the ARD records "
                      f"plan {stored.meta['plan_path']} with SHA-256 {recorded[:16]}..., this "
                      f"plan's is {actual[:16]}...; render with the plan the ARD was run from, "
                      "or run this plan", Loc(1, 1, file=plan.path), data_location=where))
    engine = stored.meta["engine_version"]
    if engine != sap_engine.__version__:
        return [Diagnostic("SAP511", f"the ARD was written by sap-engine {engine}, and is "
                                     f"rendered by {sap_engine.__version__}: the numbers are "
                                     f"{engine}'s, the layout may differ from its documents",
                           data_location=where, severity="warning")]
    return []
