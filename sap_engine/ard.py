"""The analysis results dataset (ARD): one long table, one row per statistic.

Columns and vocabulary follow ``docs/ard.md``. Values are never rounded here. The key
(analysis_id, groups, variable, variable_level, stat_name) is unique; :func:`to_table`
refuses a duplicate, since two numbers under one key would make a display ambiguous.
File metadata records what produced the numbers: the plan and data hashes, the engine and
dependency versions, seeds, the UTC time and the command line.

Reproducible output: with ``SOURCE_DATE_EPOCH`` set (the reproducible-builds convention,
seconds since 1970 UTC), ``created_utc`` is that time instead of the clock's, so two runs of
the same command on the same plan and data write byte-identical files. Everything else in
the metadata is a function of the inputs, the installed versions and the command line as
typed (paths as given, so another ``--out`` or plan path gives another ``command_line`` and
``plan_path``); ``--jobs`` is left out of the recorded command line, since the results do
not depend on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import sap_engine

BASE_COLUMNS = ("analysis_id", "analysis_label", "method", "population")
TAIL_COLUMNS = ("variable", "variable_level", "stat_name", "stat_label", "stat", "stat_text",
                "plan_line")
DEPENDENCIES = ("lark", "numpy", "pandas", "scipy", "statsmodels", "pyarrow", "jinja2")


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
        table = table.replace_schema_metadata({f"sap_engine.{k}": v for k, v in meta.items()})
    return table


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def creation_time() -> datetime:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (OutputError SAP506 if it is malformed)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        return datetime.now(timezone.utc)
    if not re.fullmatch(r"[0-9]{1,12}", epoch.strip()):
        from sap_engine.errors import Diagnostic, OutputError

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


def provenance(plan_path: str, plan_text: str, datasets: dict, seeds: list[int] | None = None,
               command: list[str] | None = None,
               created: datetime | None = None) -> dict[str, str]:
    versions = {}
    for dep in DEPENDENCIES:
        try:
            versions[dep] = importlib_metadata.version(dep)
        except importlib_metadata.PackageNotFoundError:
            versions[dep] = "not installed"
    return {
        "plan_path": str(plan_path),
        "plan_sha256": hashlib.sha256(plan_text.encode("utf-8")).hexdigest(),
        "data_sha256": json.dumps({name: ds.sha256() for name, ds in datasets.items()},
                                  sort_keys=True),
        "data_paths": json.dumps({name: str(ds.path) for name, ds in datasets.items()},
                                 sort_keys=True),
        "engine_version": sap_engine.__version__,
        "dependency_versions": json.dumps(versions, sort_keys=True),
        "python_version": sys.version.split()[0],
        "seeds": json.dumps(seeds or []),
        "created_utc": (created or creation_time()).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command_line": recorded_command(command if command is not None else sys.argv),
    }


def write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")


def read(path: str | Path):
    """The ARD as a pandas DataFrame (with its metadata in ``.attrs['sap_engine']``)."""
    table = pq.read_table(path)
    frame = table.to_pandas()
    frame.attrs["sap_engine"] = {k.decode()[len("sap_engine."):]: v.decode()
                                 for k, v in (table.schema.metadata or {}).items()
                                 if k.startswith(b"sap_engine.")}
    return frame
