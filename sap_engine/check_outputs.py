"""Checks of what a plan's outputs need: display numbers, table columns, the reproduction map.

Each of these used to pass ``check`` and fail at ``run`` (an internal error, or SAP501
"cannot write outputs" with no location), or to render a wrong table. They are checked here
with the plan location instead: a figure number becomes a file name
(``figures/figure-N.png``); a table's columns must be a layout the table builder places
(``render/tables.py``); the document's reproduction map must be readable JSON of the shape
``render/reproduction.py`` reads, pointing at readable published figures.

Codes: SAP222, SAP234-SAP237 (see docs/errors.md).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sap_engine import model as m
from sap_engine.errors import source_lines
from sap_engine.figure_path import split_figure_path

if TYPE_CHECKING:
    from sap_engine.check import _Checker

# Characters that cannot be in a file name on some system, and control characters.
_UNSAFE = set('/\\:*?"<>|') | {chr(i) for i in range(32)} | {"\x7f"}
MAX_MAP_PROBLEMS = 5  # entry problems shown of a broken reproduction map, then a count


def check_numbers(ch: _Checker) -> None:
    """SAP234: a table or figure number that is not safe in a file name."""
    displays: list[m.Table | m.Figure] = [*ch.plan.tables, *ch.plan.figures]
    for d in displays:
        bad = sorted({c for c in d.number if c in _UNSAFE})
        if bad or ".." in d.number or not d.number.strip():
            what = "table" if isinstance(d, m.Table) else "figure"
            shown = ", ".join(repr(c) for c in bad) if bad else \
                "'..'" if ".." in d.number else "nothing but spaces"
            ch.error("SAP234", f"{what} number {d.number!r} contains {shown}: numbers become "
                               "file names; use letters, digits, '.', '-' and '_'", d.loc)
    files: dict[str, m.Figure] = {}
    for f in ch.plan.figures:
        other = files.setdefault(f.number.casefold(), f)
        if other is not f and other.number != f.number:  # the same number is SAP225
            ch.error("SAP234", f"figure number '{f.number}' differs from '{other.number}' "
                               f"(line {other.loc.line}) only in case: their files would be "
                               "one on a case-insensitive file system", f.loc)


# ---- table columns


def check_columns(ch: _Checker, table: m.Table) -> None:
    """SAP235: the column layouts the table builder supports are the arms and/or the total
    (``columns treatment, total``), or one grouping alone (a stratum or a parameter
    family's ``by`` column) over analyses that are not also split by arm."""
    plan = ch.plan
    strata = [n for n, e in plan.endpoints.items() if e.kind == "stratum"]
    family_keys = [k for p in plan.parameters.values() for k in p.by]
    seen: set[str] = set()
    groupings = []
    for item in table.columns:
        loc = item.loc if item.loc.line else table.loc
        if item.name in seen:
            ch.error("SAP235", f"'columns {item.name}' is given twice", loc)
            continue
        seen.add(item.name)
        if item.name in ("treatment", "total"):
            continue
        if item.name not in strata and item.name not in family_keys and \
                not _method_groups(plan, table, item.name):
            from sap_engine.errors import did_you_mean

            ch.error("SAP235", f"'columns {item.name}': a table's columns are 'treatment', "
                               "'total', a stratum, a parameter family's 'by' column or a "
                               "grouping the analyses' method produces (delta_reference)",
                     loc, did_you_mean(item.name, ["treatment", "total", *strata]))
            continue
        groupings.append(item)
    if not groupings:
        return
    first = groupings[0]
    if len(table.columns) > 1:
        ch.error("SAP235", f"'columns {first.name}' cannot be combined with other columns: "
                           "the table would put several groups' values in one cell; use "
                           f"'columns {first.name}' alone (or one table per arm)",
                 first.loc if first.loc.line else table.loc)
        return
    for rows in table.rows:
        a = plan.analyses.get(rows.analysis)
        if a is None:
            continue  # SAP209
        by = _by_names(plan, a)
        if by & {"treatment", "total"}:
            ch.error("SAP235", f"'columns {first.name}' shows one value per {first.name} "
                               f"level, but analysis '{rows.analysis}' is also split by "
                               "treatment: the arms' values would share a cell", rows.loc)
        elif first.name not in by and first.name not in _family_keys(plan, a) and \
                first.name not in _groups_of(plan, a):
            ch.error("SAP235", f"'columns {first.name}': analysis '{rows.analysis}' is not "
                               f"split by {first.name}, so its rows would be empty", rows.loc)


def _family_keys(plan: m.Plan, a: m.Analysis) -> set[str]:
    """The ``by`` columns of the parameter families an analysis reads (through endpoints)."""
    from sap_engine.bind import analysis_chain

    base = analysis_chain(plan, a)
    stack: list[object] = [base.response, base.terms, *base.variables, *(base.crosstab or ()),
                           *(r.expr for r in base.roles)]
    keys: set[str] = set()
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, m.Col) and node.dataset is None and node.name not in seen:
            seen.add(node.name)
            if node.name in plan.parameters:
                keys |= set(plan.parameters[node.name].by)
            elif node.name in plan.endpoints:
                stack.append(plan.endpoints[node.name].expr)
        stack.extend(m.children(node))
    return keys


def _groups_of(plan: m.Plan, a: m.Analysis) -> tuple[str, ...]:
    """The groupings the method of ``a`` (or of the analysis it repeats) produces itself."""
    from sap_engine.bind import analysis_chain
    from sap_engine.methods import registry

    method = registry.get(analysis_chain(plan, a).method or "")
    return method.groups if method is not None else ()


def _method_groups(plan: m.Plan, table: m.Table, name: str) -> bool:
    """Whether the method of some row's analysis produces the grouping ``name``."""
    return any(name in _groups_of(plan, a) for a in
               (plan.analyses.get(r.analysis) for r in table.rows) if a is not None)


def _by_names(plan: m.Plan, a: m.Analysis) -> set[str]:
    names, seen = set(), set()
    while a is not None and a.name not in seen:
        seen.add(a.name)
        names |= {b.name for b in a.by}
        a = plan.analyses.get(a.base) if a.base else None  # type: ignore[assignment]
    return names


# ---- the reproduction map


def reproduce_loc(plan: m.Plan, doc: m.Document) -> m.Loc:
    """The ``reproduce "..."`` line of the document block (the model keeps the block's)."""
    lines = source_lines(plan.text)  # numbered as the parser numbers them
    last = doc.loc.end_line or doc.loc.line
    for number in range(doc.loc.line, min(last, len(lines)) + 1):
        text = lines[number - 1]
        start = text.find("reproduce")
        if start >= 0 and text[:start].strip() in ("", "{") and \
                doc.reproduce and doc.reproduce in text:
            return m.Loc(number, start + 1, number, len(text.rstrip()) + 1)
    return doc.loc


def _read_json(path: Path, what: str) -> tuple[Any, str | None, str]:
    """(content, problem, code) of a JSON file: SAP222 missing/unreadable, SAP236 bad JSON."""
    if path.is_dir():
        return None, f"{what} is a folder, not a JSON file: {path}", "SAP222"
    if not path.is_file():
        return None, f"{what} not found: {path}", "SAP222"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read {what} {path}: {exc.__class__.__name__}", "SAP222"
    try:
        return json.loads(text), None, ""
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = f"line {exc.lineno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) \
            else "nested too deeply"
        return None, f"{what} {path.name} is not valid JSON ({detail})", "SAP236"


def check_reproduction(ch: _Checker) -> None:
    """SAP222 a missing or unreadable map or published file; SAP236 a map or published
    file that is not JSON of the expected shape; SAP237 an entry whose figure (or
    tolerance) is not in the published figures."""
    plan, doc = ch.plan, ch.plan.document
    if doc is None or not doc.reproduce:
        return
    loc = reproduce_loc(plan, doc)
    map_path = (Path(plan.path).resolve().parent / doc.reproduce).resolve()
    mapping, problem, code = _read_json(map_path, "reproduction map")
    if problem:
        ch.error(code, problem, loc)
        return
    shape = _map_shape(mapping)
    if shape:
        ch.error("SAP236", f"reproduction map {map_path.name}: {shape}", loc)
        return
    published_path = (map_path.parent / mapping["published"]).resolve()
    published, problem, code = _read_json(published_path, "published figures")
    if problem:
        ch.error(code, f"{problem} (named by {map_path.name})", loc)
        return
    problems = [p for i, e in enumerate(mapping["entries"])
                for p in _entry_problems(i, e, published)]
    for text, code in problems[:MAX_MAP_PROBLEMS]:
        ch.error(code, f"reproduction map {map_path.name}: {text}", loc)
    if len(problems) > MAX_MAP_PROBLEMS:
        ch.error("SAP236", f"reproduction map {map_path.name}: "
                           f"{len(problems) - MAX_MAP_PROBLEMS} further entry problems", loc)


def _map_shape(mapping: Any) -> str | None:
    if not isinstance(mapping, dict):
        return "expected a JSON object with 'published' and 'entries'"
    if not isinstance(mapping.get("published"), str) or not mapping["published"]:
        return "'published' must name the published figures' JSON file"
    if not isinstance(mapping.get("entries"), list):
        return "'entries' must be a list"
    not_compared = mapping.get("not_compared", [])
    if not isinstance(not_compared, list) or not all(
            isinstance(n, dict) and isinstance(n.get("figure"), str) for n in not_compared):
        return "'not_compared' must be a list of {\"figure\": ..., \"why\": ...}"
    return None


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _as_figure(x: Any, p_value: bool) -> bool:
    """A published value the comparison can read: a number, or text holding one (and for
    a p-value a bound such as "<0.001")."""
    if _number(x):
        return True
    if isinstance(x, str):
        text = x[1:] if p_value and x.startswith("<") else x
        try:
            return math.isfinite(float(text))
        except ValueError:
            return False
    return False


def _find(tree: Any, dotted: str) -> tuple[bool, Any]:
    node = tree
    for part in split_figure_path(dotted):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and \
                -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _entry_problems(i: int, entry: Any, published: Any) -> list[tuple[str, str]]:
    where = f"entry {i + 1}"
    if not isinstance(entry, dict) or not isinstance(entry.get("figure"), str):
        return [(f"{where} needs a \"figure\" (a path into the published figures)",
                 "SAP236")]
    figure = entry["figure"]
    where = f"entry {i + 1} ({figure})"
    out: list[tuple[str, str]] = []
    lookup = _lookup_problem(entry.get("lookup"))
    if lookup:
        out.append((f"{where}: {lookup}", "SAP236"))
    tol = entry.get("tolerance")
    for key in ("scale",):
        if key in entry and not _number(entry[key]):
            out.append((f"{where}: '{key}' must be a number", "SAP236"))
    if tol is not None and tol != "p_value_side" and not isinstance(tol, str) \
            and not _number(tol):
        out.append((f"{where}: 'tolerance' must be a number, \"p_value_side\" or a path "
                    "into the published figures", "SAP236"))
    found, value = _find(published, figure)
    if not found:
        out.append((f"{where}: no figure '{figure}' in the published figures", "SAP237"))
    elif not _as_figure(value, tol == "p_value_side"):
        out.append((f"{where}: the published figure is {json.dumps(value)[:40]}, not a "
                    "number", "SAP236"))
    if isinstance(tol, str) and tol != "p_value_side":
        found, value = _find(published, tol)
        if not found:
            out.append((f"{where}: no tolerance '{tol}' in the published figures", "SAP237"))
        elif not _as_figure(value, False):
            out.append((f"{where}: tolerance '{tol}' is not a number", "SAP236"))
    return out


def _lookup_problem(spec: Any, depth: int = 0) -> str | None:
    """What is wrong with an ARD lookup (``analysis``/``stat``, or ``sum``/``min`` of
    lookups), or None."""
    if not isinstance(spec, dict):
        return "'lookup' must be an object"
    for combine in ("sum", "min"):
        if combine in spec:
            parts = spec[combine]
            if not isinstance(parts, list) or not parts or depth > 20:
                return f"'{combine}' must be a non-empty list of lookups"
            return next((p for p in (_lookup_problem(s, depth + 1) for s in parts) if p),
                        None)
    if not isinstance(spec.get("analysis"), str) or not isinstance(spec.get("stat"), str):
        return "a lookup needs \"analysis\" and \"stat\" (text)"
    if not isinstance(spec.get("groups", {}), dict):
        return "'groups' must be an object (group variable: level)"
    if "variable" in spec and not isinstance(spec["variable"], str):
        return "'variable' must be text"
    return None
