"""The reproduction appendix: every published figure beside the engine's value.

A plan's ``document`` block may name a reproduction map (``reproduce "file.json"``, relative
to the plan). The map points at a copy of the published figures (a JSON tree) and lists, for
each figure, where its value lies in the ARD and which tolerance applies::

    {"published": "../studies/proderm/published.json",
     "entries": [{"figure": "table1.bmi.IVIg.mean", "tolerance": "table1.tolerance.mean",
                  "lookup": {"analysis": "T1_bmi", "stat": "mean",
                             "groups": {"TRT01P": "IVIg"}}}, ...],
     "not_compared": [{"figure": "design.screened", "why": "no screening data"}]}

A lookup may instead be ``{"sum": [lookup, ...]}`` (a count over several categories) or
``{"min": [...]}`` with ``"kind": "at_least"`` (a published lower bound). A tolerance is a
number, a path into the published tree, or ``"p_value_side"`` (the engine's p-value must lie
on the same side of 0.05 and of 0.0001 as the published one). A figure without a tolerance is
shown for information and does not count. Values are compared at full precision.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from sap_engine.figure_path import split_figure_path
from sap_engine.render.ard_view import ArdView


@dataclass(frozen=True)
class Check:
    figure: str
    published: object
    engine: float | None
    difference: float | None
    tolerance: str
    within: bool | None  # None: shown for information, no tolerance applies
    note: str = ""


def _path(tree: dict, dotted: str):
    node = tree
    for part in split_figure_path(dotted):
        node = node[part] if isinstance(node, dict) else node[int(part)]
    return node


def _groups_of(rec: dict) -> dict[str, str]:
    out, i = {}, 1
    while f"group{i}" in rec:
        if rec[f"group{i}"] is not None:
            out[rec[f"group{i}"]] = str(rec[f"group{i}_level"])
        i += 1
    return out


def lookup(ard: ArdView, spec: dict) -> float | None:
    if "sum" in spec or "min" in spec:
        found = [lookup(ard, s) for s in spec["sum" if "sum" in spec else "min"]]
        values = [v for v in found if v is not None]
        if len(values) < len(found):
            return None
        return float(sum(values)) if "sum" in spec else float(min(values))
    wanted = {name: str(level) for name, level in spec.get("groups", {}).items()}
    # Exactly the groups asked for: a row with further groupings is another cell.
    hits = [r for r in ard.records(spec["analysis"], spec["stat"])
            if ("variable" not in spec or r["variable"] == spec["variable"])
            and r["variable_level"] == spec.get("level")
            and _groups_of(r) == wanted]
    if len(hits) != 1:
        return None
    return float(hits[0]["stat"])


def _p_side(published, engine: float) -> bool:
    if isinstance(published, str) and published.startswith("<"):
        bound = float(published[1:])
        return engine < bound
    p = float(published)
    return (p < 0.05) == (engine < 0.05) and (p < 0.0001) == (engine < 0.0001)


def compare(ard: ArdView, mapping: dict, published: dict) -> list[Check]:
    checks = []
    for entry in mapping["entries"]:
        figure = entry["figure"]
        value = _path(published, figure)
        engine = lookup(ard, entry["lookup"])
        tol_spec = entry.get("tolerance")
        if engine is None:
            checks.append(Check(figure, value, None, None, str(tol_spec or ""), False,
                                "not found in the ARD"))
            continue
        if tol_spec == "p_value_side":
            checks.append(Check(figure, value, engine, None, "same side of 0.05 and 0.0001",
                                _p_side(value, engine)))
            continue
        scale = entry.get("scale", 1.0)
        engine_scaled = engine * scale
        if entry.get("kind") == "at_least":
            checks.append(Check(figure, value, engine_scaled, engine_scaled - float(value),
                                f">= {value}", engine_scaled >= float(value)))
            continue
        difference = engine_scaled - float(value)
        if tol_spec is None:
            checks.append(Check(figure, value, engine_scaled, difference, "", None,
                                entry.get("note", "")))
            continue
        tol = float(_path(published, tol_spec) if isinstance(tol_spec, str) else tol_spec)
        within = abs(difference) <= tol + 1e-9 and not math.isnan(difference)
        checks.append(Check(figure, value, engine_scaled, difference, f"{tol:g}", within,
                            entry.get("note", "")))
    return checks


def load(plan_path: str, ref: str) -> tuple[dict, dict, str]:
    """(mapping, published tree, published file) for a plan's ``reproduce`` reference."""
    map_path = (Path(plan_path).resolve().parent / ref).resolve()
    mapping = json.loads(map_path.read_text())
    published_path = (map_path.parent / mapping["published"]).resolve()
    return mapping, json.loads(published_path.read_text()), str(published_path)
