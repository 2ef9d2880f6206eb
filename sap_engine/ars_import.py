"""``sap-run import-ars FILE.json [--out PLAN.sap]``: a CDISC ARS v1.0 ReportingEvent as
a plan (the mapping is :mod:`sap_engine.ars_translate`; docs/ars.md states its coverage).

The file is read and checked before anything is written: a file that cannot be read or is
not JSON is SAP520 (at its line and column), one that fails the ARS JSON Schema SAP521 (at
the JSON pointer of the error), a reference to an id the file does not define SAP522, and
a plan that cannot be written SAP523. The plan is written through a temporary file and
moved into place, so an error leaves nothing behind.

The schema check needs ``jsonschema``. It is not a dependency of the engine: import-ars is
an occasional authoring step, and jsonschema (with its compiled ``rpds-py``) would be
installed for every run of every plan otherwise. Without it the import says so and checks
what it reads itself (the structure the translation needs, and every reference), so a
malformed file is still a located error, never a traceback; ``pip install jsonschema`` (the
``test`` extra has it) adds the full schema check.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sap_engine import ars_map
from sap_engine.ars_translate import Translation, translate
from sap_engine.errors import DataLocation, Diagnostic, SapError, source_lines
from sap_engine.location import Loc


@dataclass(frozen=True)
class ImportResult:
    path: Path  # the plan written
    translation: Translation
    schema_checked: bool


def _error(code: str, message: str, path: Path, pointer: str | None = None,
           loc: Loc | None = None, line: str | None = None) -> SapError:
    place = f"{path} at {pointer}" if pointer is not None else str(path)
    where = DataLocation(place) if loc is None else None
    return SapError(Diagnostic(code, message, location=loc, data_location=where,
                               source_line=line))


def load(path: Path) -> tuple[dict[str, Any], bool]:
    """The ReportingEvent of ``path``, and whether the JSON Schema was checked."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
            "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else type(exc).__name__
        raise _error("SAP520", f"cannot read the ARS file: {reason}", path) from None
    try:
        event = json.loads(text)
    except RecursionError:  # a hostile file: JSON nested thousands of levels
        raise _error("SAP520", "the ARS file nests too deeply to be read", path) from None
    except json.JSONDecodeError as exc:
        lines = source_lines(text)
        quoted = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else None
        raise _error("SAP520", f"the ARS file is not JSON: {exc.msg}", path,
                     loc=Loc(exc.lineno, exc.colno, exc.lineno, exc.colno + 1,
                             file=str(path)), line=quoted) from None
    try:
        checked = _schema_check(event, path)
        _structure_check(event, path)
    except RecursionError:
        raise _error("SAP522", "the ARS file nests too deeply to be read", path, "/") from None
    return event, checked


def _pointer(parts) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _schema_check(event: Any, path: Path) -> bool:
    try:
        import jsonschema
    except ImportError:
        return False
    validator = jsonschema.Draft7Validator(ars_map.schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(event))
    if error is not None:
        message = error.message if len(error.message) < 300 else error.message[:297] + "..."
        raise _error("SAP521", f"the file fails the ARS v1.0 JSON Schema: {message}", path,
                     _pointer(error.absolute_path))
    return True


def _structure_check(event: Any, path: Path) -> None:
    """What the translation reads, and the references between ids (which the schema does
    not check): each a located SAP522."""
    if not isinstance(event, dict) or not isinstance(event.get("name"), str):
        raise _error("SAP522", "not an ARS ReportingEvent (an object with a name)", path, "/")
    kinds = {"analysisSets": "id", "dataSubsets": "id", "analysisGroupings": "id",
             "methods": "id", "analyses": "id", "outputs": "id"}
    ids: dict[str, set[str]] = {}
    for key, field in kinds.items():
        items = event.get(key, [])
        if not isinstance(items, list) or not all(
                isinstance(i, dict) and isinstance(i.get(field), str) for i in items):
            raise _error("SAP522", f"{key} must be a list of objects with an id", path,
                         _pointer([key]))
        ids[key] = {i[field] for i in items}
    refs = {"methodId": "methods", "analysisSetId": "analysisSets",
            "dataSubsetId": "dataSubsets"}
    if not isinstance(event.get("mainListOfContents", {}), dict):
        raise _error("SAP522", "mainListOfContents must be an object", path,
                     _pointer(["mainListOfContents"]))
    for n, analysis in enumerate(event.get("analyses", [])):
        if not isinstance(analysis.get("methodId"), str):
            raise _error("SAP522", "an analysis needs a methodId", path,
                         _pointer(["analyses", n]))
        for field, key in refs.items():
            if field in analysis and analysis[field] not in ids[key]:
                raise _error("SAP522", f"{field} {analysis[field]!r} names no entry of {key}",
                             path, _pointer(["analyses", n, field]))
        for k, g in enumerate(analysis.get("orderedGroupings", [])):
            if not isinstance(g, dict) or g.get("groupingId") not in ids["analysisGroupings"]:
                raise _error("SAP522", "groupingId names no entry of analysisGroupings",
                             path, _pointer(["analyses", n, "orderedGroupings", k]))
    for n, output in enumerate(event.get("outputs", [])):
        shown = output.get("displays", [])
        if not isinstance(shown, list) or not all(
                isinstance(d, dict) and isinstance(d.get("display"), dict) for d in shown):
            raise _error("SAP522", "displays must be a list of ordered displays", path,
                         _pointer(["outputs", n, "displays"]))
    for n, method in enumerate(event.get("methods", [])):
        if not isinstance(method.get("operations", []), list):
            raise _error("SAP522", "operations must be a list", path,
                         _pointer(["methods", n, "operations"]))


def import_file(path: Path, out: Path | None = None) -> ImportResult:
    """Read, translate and write; ``out`` defaults to ``<file stem>.sap`` in the working
    directory. An existing file is not overwritten (SAP523)."""
    event, checked = load(path)
    target = out if out is not None else Path(path.stem + ".sap")
    try:
        translation = translate(event, path.name)
    except RecursionError:  # where clauses nested beyond any display's need
        raise _error("SAP522", "the ARS file's where clauses nest too deeply", path,
                     "/") from None
    if target.exists() or target.is_symlink():
        raise _error("SAP523", f"cannot write the plan {target}: it exists (remove it or "
                               "name another --out)", target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(translation.text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        reason = (exc.strerror or type(exc).__name__).lower()
        raise _error("SAP523", f"cannot write the plan {target} ({reason})", target) from None
    return ImportResult(target, translation, checked)
