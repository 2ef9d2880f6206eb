"""Provenance: what produced an ARD's numbers, recorded once and stated by every output.

A run records its provenance in the ARD's Parquet metadata (:func:`collect`, and
:func:`rows_sha256` for the hash of the rows themselves); every output made from the ARD
(HTML, Markdown, and any writer added later: RTF, DOCX, ARS JSON) reads it back with
:meth:`Provenance.of` and prints :attr:`Provenance.lines`, the same labelled block, so that
no format states less than another. Nothing here reads the clock except through
``SOURCE_DATE_EPOCH`` (:func:`sap_engine.ard.creation_time`): with it set, two runs record
the same bytes.

The rows' hash (``rows_sha256``) is a SHA-256 over a canonical text of the rows, not over the
Parquet bytes (which depend on the writer's version and compression): ``sap-run render``
recomputes it and refuses an ARD whose numbers were edited after the run (SAP530), even
into other valid numbers. The canonical text is specified in ``docs/ard.md`` so that
another program (R, SAS) can check it.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata as importlib_metadata
from typing import TYPE_CHECKING

import pyarrow as pa

import sap_engine

if TYPE_CHECKING:
    from sap_engine.compile import Step

# The libraries whose versions can change a number or a document: recorded in every ARD.
DEPENDENCIES = ("lark", "numpy", "pandas", "scipy", "statsmodels", "pyarrow", "jinja2")
SEED_OPTION = "seed"  # the option name of every method that draws random numbers
_NAN = "7ff8000000000000"  # every NaN hashes as the one quiet NaN (payloads are not data)


@dataclass(frozen=True)
class Provenance:
    """What produced an ARD (its ``sap_engine.`` metadata, decoded).

    ``data_sha256``/``data_paths``: dataset name -> SHA-256 / path of its file;
    ``dependency_versions``: library -> version; ``seeds``: analysis id -> the seed of each
    analysis that draws random numbers (its ``seed`` option, given or default);
    ``rows_sha256``: the hash of the ARD's rows (empty for an ARD written before it was
    recorded)."""

    plan_path: str
    plan_sha256: str
    data_sha256: Mapping[str, str]
    data_paths: Mapping[str, str]
    engine_version: str
    dependency_versions: Mapping[str, str]
    python_version: str
    seeds: Mapping[str, int]
    created_utc: str
    command_line: str
    rows_sha256: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)  # unknown keys, kept for tools

    @classmethod
    def of(cls, meta: Mapping[str, str]) -> Provenance:
        """From an ARD's metadata (:func:`sap_engine.ard.metadata`); ValueError if a JSON
        entry is damaged. Keys an older ARD lacks read as empty."""
        def obj(key: str) -> dict:
            value = json.loads(meta.get(key) or "{}")
            if isinstance(value, list) and key == "seeds":  # the old, always empty list
                value = {}
            if not isinstance(value, dict):
                raise ValueError(f"{key} is not a JSON object")
            return value

        return cls(plan_path=meta.get("plan_path", ""), plan_sha256=meta.get("plan_sha256", ""),
                   data_sha256=obj("data_sha256"), data_paths=obj("data_paths"),
                   engine_version=meta.get("engine_version", ""),
                   dependency_versions=obj("dependency_versions"),
                   python_version=meta.get("python_version", ""), seeds=obj("seeds"),
                   created_utc=meta.get("created_utc", ""),
                   command_line=meta.get("command_line", ""),
                   rows_sha256=meta.get("rows_sha256", ""))

    @property
    def lines(self) -> tuple[tuple[str, str], ...]:
        """The provenance block every output prints, as (label, value) pairs in order."""
        out = [("Plan", self.plan_path), ("Plan SHA-256", self.plan_sha256)]
        out += [(f"Data {name} SHA-256", digest) for name, digest in self.data_sha256.items()]
        out += [("Engine", f"sap-engine {self.engine_version}"),
                ("Dependencies", ", ".join(f"{k} {v}" for k, v in
                                           sorted(self.dependency_versions.items()))),
                ("Python", self.python_version),
                ("Seeds", ", ".join(f"{a} {s}" for a, s in self.seeds.items())
                 or "none (no analysis draws random numbers)"),
                ("ARD rows SHA-256", self.rows_sha256 or "not recorded"),
                ("Produced (UTC)", self.created_utc)]
        return tuple(out)


def versions() -> dict[str, str]:
    """The installed version of each of :data:`DEPENDENCIES`."""
    found = {}
    for dep in DEPENDENCIES:
        try:
            found[dep] = importlib_metadata.version(dep)
        except importlib_metadata.PackageNotFoundError:
            found[dep] = "not installed"
    return found


def seeds_of(steps: Iterable[Step]) -> dict[str, int]:
    """Analysis id -> seed, for every step with a ``seed`` option, in step order."""
    return {s.id: int(o.value) for s in steps for o in s.options
            if o.name == SEED_OPTION and isinstance(o.value, (int, float))}


def collect(plan_path: str, plan_text: str, datasets: Mapping, seeds: Mapping[str, int],
            command: str, created: datetime) -> dict[str, str]:
    """The provenance metadata of a run (without ``rows_sha256``, which
    :func:`sap_engine.ard.to_table` adds once the rows are a table)."""
    return {
        "plan_path": str(plan_path),
        "plan_sha256": hashlib.sha256(plan_text.encode("utf-8")).hexdigest(),
        "data_sha256": json.dumps({name: ds.sha256() for name, ds in datasets.items()},
                                  sort_keys=True),
        "data_paths": json.dumps({name: str(ds.path) for name, ds in datasets.items()},
                                 sort_keys=True),
        "engine_version": sap_engine.__version__,
        "dependency_versions": json.dumps(versions(), sort_keys=True),
        "python_version": sys.version.split()[0],
        "seeds": json.dumps(dict(seeds)),
        "created_utc": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command_line": command,
    }


# ---- the hash of the rows


def _canonical(value: object) -> object:
    """A value as the canonical row text holds it: a float as the 16 hex digits of its
    IEEE 754 binary64 big-endian bytes (exact, and the same in any language)."""
    if isinstance(value, float):
        return _NAN if math.isnan(value) else struct.pack(">d", value).hex()
    return value


def canonical_lines(table: pa.Table) -> Iterable[bytes]:
    """The canonical text of the rows, line by line (see ``docs/ard.md``): the column names,
    then each row, as compact JSON arrays (UTF-8, no ASCII escapes), each ending in a
    newline; floats as :func:`_canonical` writes them."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    yield (encoder.encode(table.column_names) + "\n").encode("utf-8")
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    for row in zip(*columns):
        yield (encoder.encode([_canonical(v) for v in row]) + "\n").encode("utf-8")


def rows_sha256(table: pa.Table) -> str:
    """SHA-256 (hex) of the canonical text of ``table``'s rows (metadata excluded)."""
    digest = hashlib.sha256()
    for line in canonical_lines(table):
        digest.update(line)
    return digest.hexdigest()
