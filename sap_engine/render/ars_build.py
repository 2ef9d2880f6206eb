"""The CDISC ARS v1.0 ReportingEvent of a run (``ars.json``), from the plan and the ARD.

Like the documents, it is built from the ARD (rows and ``steps`` metadata) and the plan
alone, so ``sap-run render ARD PLAN`` writes the same bytes. The mapping (docs/ars.md):
populations -> AnalysisSet; parameter selections, an analysis' ``population X where``
and its visit -> DataSubset; treatment arms, strata, visits and the ARD's other groups ->
GroupingFactor; registered methods -> AnalysisMethod (operations: their statistics);
analyses -> Analysis (results: one OperationResult per ARD row); tables and figures ->
Output with one OutputDisplay; the displays in plan order -> the main list of contents.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from sap_engine import ars_map as amap
from sap_engine import model as m
from sap_engine.ars_map import ident
from sap_engine.render import ars_results
from sap_engine.render.ars_contents import contents, outputs
from sap_engine.render.visit_labels import VisitLabels

VARIABLE, LEVEL = ars_results.VARIABLE, ars_results.LEVEL


class _Groupings:
    """Every GroupingFactor of the event; ``group(name, level)`` is a ResultGroup."""

    def __init__(self, plan: m.Plan, frame: pd.DataFrame,
                 visit_labels: dict[str, str] | None = None):
        self.factors: dict[str, dict[str, Any]] = {}
        self.groups: dict[tuple[str, str], str] = {}
        subjects = next((s.name for s in plan.sources if s.subjects), None)
        trt = plan.treatment
        if trt:
            col = trt.column.name
            levels = [a.level for a in trt.arms]
            groups = [self._group(col, a.level, a.display, {"condition": {
                "dataset": amap.dataset_name(subjects or ""), "variable": col,
                "comparator": "EQ", "value": [a.level]}}) for a in trt.arms]
            groups.append(self._group(col, "Total", "Total", {"condition": {
                "dataset": amap.dataset_name(subjects or ""), "variable": col,
                "comparator": "IN", "value": levels}}))
            self._factor(col, "Treatment", groups, dataset=subjects, variable=col)
        if plan.visits:
            vcol = plan.visits.column.name
            label = plan.visits.label or "Visit"
            # The visits' own labels where the plan or the data give them ("Baseline",
            # "End of Treatment"); else the prefix and the number, as always.
            named = VisitLabels(plan, visit_labels)
            text = named if named.labelled() else (lambda v: f"{label} {v}")
            groups = [self._group("visit", m._num(w), text(m._num(w)), {"condition": {
                "variable": vcol, "comparator": "EQ", "value": [m._num(w)]}})
                for w in plan.visits.weeks]
            self._factor("visit", f"{label} ({vcol})", groups, variable=vcol)
        for name, e in plan.endpoints.items():
            if e.kind == "stratum" and isinstance(e.expr, m.Cut):
                self._stratum(name, e, subjects)
        names = [frame[c].dropna().unique().tolist() for c in frame.columns
                 if c.startswith("group") and not c.endswith("_level")]
        strata_in_ids = [p.split("=")[0] for aid in frame["analysis_id"].unique() if "[" in aid
                         for p in aid[aid.index("[") + 1:-1].split(";")]
        for name in dict.fromkeys([*(n for ns in names for n in ns), *strata_in_ids]):
            if name not in self.factors:
                self._factor(name, name, [], variable=name)  # data-driven
        self._factor(VARIABLE, "Analysed variable (an analysis of several variables)", [])
        self._factor(LEVEL, "Category level, treatment comparison or model term (the ARD's "
                            "variable_level)", [])

    def _group(self, grouping: str, level: str, name: str, where: dict | None) -> dict:
        gid = ident("AnlsGrouping", grouping, level)
        taken = set(self.groups.values())
        if gid in taken:  # "TIS < 20" and "TIS >= 20" read alike as ids
            gid = next(f"{gid}_{i}" for i in range(2, len(taken) + 3) if f"{gid}_{i}" not in taken)
        self.groups[(grouping, level)] = gid
        return {"id": gid, "name": name, "label": level, "level": 1, "order": 0,
                **(where or {})}

    def _factor(self, name: str, label: str, groups: list[dict], dataset: str | None = None,
                variable: str | None = None) -> None:
        for i, g in enumerate(groups, 1):
            g["order"] = i
        factor: dict[str, Any] = {"id": ident("AnlsGrouping", name), "name": label,
                                  "dataDriven": not groups}
        if dataset:
            factor["groupingDataset"] = amap.dataset_name(dataset)
        if variable:
            factor["groupingVariable"] = variable
        if groups:
            factor["groups"] = groups
        self.factors[name] = factor

    def _stratum(self, name: str, e: m.Endpoint, subjects: str | None) -> None:
        assert isinstance(e.expr, m.Cut)
        col = e.expr.operand
        variable = col.name if isinstance(col, m.Col) and col.dataset else name
        groups = []
        for iv in e.expr.intervals:
            bounds = []
            for bound, closed, ops in ((iv.lower, iv.lower_closed, ("GE", "GT")),
                                       (iv.upper, iv.upper_closed, ("LE", "LT"))):
                if bound not in (float("inf"), -float("inf")):
                    bounds.append({"condition": {
                        "dataset": amap.dataset_name(subjects or ""), "variable": variable,
                        "comparator": ops[0] if closed else ops[1],
                        "value": [m._num(bound)]}})
            group = self._group(name, iv.display, iv.display,
                                amap.and_clauses(bounds) if bounds else None)
            group["label"] = iv.text
            # The ARD writes a level as the executor names it, "(0,6]" for "(0, 6]".
            self.groups[(name, iv.display.replace(" ", ""))] = group["id"]
            groups.append(group)
        self._factor(name, e.label or name, groups, dataset=subjects, variable=variable)
        self.factors[name]["description"] = f"Plan: stratum {name} = {amap.expression_text(e.expr)}"

    def group(self, name: str, level: str) -> dict[str, str]:
        gid = self.groups.get((name, level)) or self.groups.get((name, level.replace(" ", "")))
        out = {"groupingId": ident("AnlsGrouping", name)}
        out.update({"groupId": gid} if gid else {"groupValue": level})
        return out


def build(plan: m.Plan, frame: pd.DataFrame, meta: dict[str, str]) -> dict[str, Any]:
    steps = json.loads(meta.get("steps", "{}"))
    groupings = _Groupings(plan, frame, json.loads(meta.get("visit_labels", "{}")))
    subsets = _Subsets(plan)
    patterns = ars_results.shown_patterns(plan)
    analyses, used = [], []
    for a in plan.analyses.values():
        rows = frame[(frame["analysis_id"] == a.name)
                     | frame["analysis_id"].str.startswith(a.name + "[")]
        method = _method(plan, a, rows)
        used.append(method)
        analyses.append(_analysis(plan, a, rows, method, groupings, subsets, patterns))
    for kind, specs in (("table", plan.tables), ("figure", plan.figures)):
        for spec in specs:
            rows = frame[frame["analysis_id"] == f"{kind} {spec.number}"]
            if len(rows):
                used.append("population_count")
                analyses.append(_denominators(kind, spec, rows, groupings, subsets))
    study = plan.study
    event: dict[str, Any] = {
        "id": ident("RE", study.name if study else "plan"),
        "name": (plan.document.title if plan.document else None)
        or (study.title if study else "Results"),
        "description": f"Analyses of the plan {meta.get('plan_path', plan.path)} (SHA-256 "
                       f"{meta.get('plan_sha256', '')}), run by sap-engine "
                       f"{meta.get('engine_version', '')}. " + _provenance_text(meta),
        "version": 1,
        "mainListOfContents": contents(plan, analyses),
        "terminologyExtensions": amap.TERMINOLOGY,
        "analysisSets": _analysis_sets(plan),
        "dataSubsets": subsets.all(),
        "analysisGroupings": list(groupings.factors.values()),
        "methods": ars_results.methods(frame, steps, used),
        "analyses": analyses,
        "outputs": outputs(plan),
    }
    return event


def _provenance_text(meta) -> str:
    """The provenance block every output carries (inputs' SHA-256, versions, seeds, the
    rows' SHA-256, time of the run), as one sentence of the ReportingEvent's description."""
    from sap_engine.provenance import Provenance

    try:
        lines = Provenance.of(meta).lines
    except ValueError:  # a damaged entry: the ARD loader refuses those before this
        return ""
    return "Provenance: " + "; ".join(f"{k}: {v}" for k, v in lines if v) + "."


def _method(plan: m.Plan, a: m.Analysis, rows: pd.DataFrame) -> str:
    if len(rows):
        return str(rows["method"].iloc[0])
    while a.method is None and a.base in plan.analyses:
        a = plan.analyses[a.base]
    return a.method or "unknown"


def _resolve(plan: m.Plan, a: m.Analysis) -> tuple[m.Analysis, m.PopulationUse | None,
                                                    float | None]:
    """The analysis a repetition repeats, and the population and visit it takes (its own,
    else its estimand's)."""
    base = a
    while base.base in plan.analyses and base.method is None:
        base = plan.analyses[base.base]
    est = plan.estimands.get(base.estimand or "")
    pop = a.population or base.population or (est.population if est else None)
    visit = base.visit if base.visit is not None else (est.visit if est else None)
    return base, pop, visit


def _analysis_sets(plan: m.Plan) -> list[dict]:
    out = []
    for i, p in enumerate(plan.populations.values(), 1):
        text = f"population {p.name} = {p.dataset}" + (
            f" where {amap.expression_text(p.where)}" if p.where else "")
        entry = {"id": ident("AnalysisSet", p.name), "name": p.label or p.name,
                 "label": p.name, "description": f"Plan: {text}", "level": 1, "order": i}
        if p.where is not None:  # without one: every subject of the dataset
            entry.update(amap.clause(p.where, p.dataset) or {})
        out.append(entry)
    return out


class _Subsets:
    """DataSubsets: one per parameter (its row selection), and one per analysis that
    restricts its population or reads a single visit."""

    def __init__(self, plan: m.Plan):
        self.plan = plan
        self.entries: dict[str, dict] = {}
        for p in plan.parameters.values():
            desc = f"Plan: parameter {p.name} = {p.source.text}" + (
                f" where {amap.expression_text(p.where)}" if p.where else "")
            sid = ident("Dss", p.name)
            entry: dict[str, Any] = {"id": sid, "name": p.label or p.name,
                                     "description": desc, "level": 1,
                                     "order": len(self.entries) + 1}
            if p.where is not None:
                entry.update(amap.clause(p.where, p.source.dataset or "") or {})
            self.entries[sid] = entry

    def all(self) -> list[dict]:
        return list(self.entries.values())

    def parameters(self, exprs: list[m.Expr]) -> list[tuple[m.Parameter, bool]]:
        """The parameters the expressions read, each with whether its value alone is read
        (not through baseline(), change() or percent_change())."""
        found: dict[str, bool] = {}
        # Without recursion, each endpoint once per mode: an expression may nest a hundred
        # levels and endpoints may share endpoints (walking each use again is exponential).
        stack: list[tuple[object, bool]] = [(e, False) for e in reversed(exprs)]
        seen: set[tuple[str, bool]] = set()
        while stack:
            node, through = stack.pop()
            if isinstance(node, m.Call):
                inner = through or node.function != "value"
                stack.extend((arg, inner) for arg in reversed(node.args))
            elif isinstance(node, m.Col) and node.dataset is None:
                if node.name in self.plan.parameters:
                    found[node.name] = found.get(node.name, True) and not through
                elif node.name in self.plan.endpoints and (node.name, through) not in seen:
                    seen.add((node.name, through))
                    stack.append((self.plan.endpoints[node.name].expr, through))
            else:
                stack.extend((child, through) for child in reversed(m.children(node)))
        return [(self.plan.parameters[n], plain) for n, plain in found.items()]

    def for_analysis(self, name: str, pop: m.PopulationUse | None, exprs: list[m.Expr],
                     visit: float | None) -> tuple[str | None, list[str]]:
        """The analysis' DataSubset id (None when it reads all rows) and what the subset
        cannot state (written into the analysis' description)."""
        parts: list[dict] = []
        notes: list[str] = []
        population = self.plan.populations.get(pop.name) if pop else None
        if pop is not None and pop.where is not None and population is not None:
            got = amap.clause(pop.where, population.dataset)
            if got is None:
                notes.append(f"population restricted by {amap.expression_text(pop.where)}")
            else:
                parts.append(got)
        params = self.parameters(exprs)
        refs = [{"subClauseId": ident("Dss", p.name)} for p, _ in params]
        if len(refs) > 1:
            parts.append({"compoundExpression": {"logicalOperator": "OR", "whereClauses": [
                {"level": 2, "order": i, **r} for i, r in enumerate(refs, 1)]}})
        elif refs:
            parts.append(refs[0])
        visits = self.plan.visits
        if visit is not None and visits is not None and params:
            if all(plain for _, plain in params):
                parts.append({"condition": {"dataset": amap.dataset_name(
                    params[0][0].source.dataset or ""), "variable": visits.column.name,
                    "comparator": "EQ", "value": [m._num(visit)]}})
            else:
                notes.append(f"at {visits.label or 'visit'} {m._num(visit)}, with the "
                             "baseline visit's values for baseline()")
        if not parts:
            return None, notes
        if len(parts) == 1 and "subClauseId" in parts[0]:
            return parts[0]["subClauseId"], notes
        sid = ident("Dss", name)
        while sid in self.entries:  # an analysis named like a parameter
            sid += "_rows"
        entry = {"id": sid, "name": f"Rows analysed by {name}", "level": 1,
                 "order": len(self.entries) + 1, **amap.and_clauses(parts)}
        self.entries[sid] = entry
        return sid, notes


def _exprs(a: m.Analysis, plan: m.Plan) -> list[m.Expr]:
    out: list[m.Expr] = [e for e in (a.response, a.terms, *a.variables) if e is not None]
    out += list(a.crosstab or ()) + [r.expr for r in a.roles]
    est = plan.estimands.get(a.estimand or "")
    if est and est.variable is not None:
        out.append(est.variable)
    return out


def _dataset(plan: m.Plan, exprs: list[m.Expr]) -> str | None:
    """The dataset the analysed expressions read first (through parameters and endpoints,
    each endpoint once); the subject dataset when they read none."""
    stack: list[object] = list(reversed(exprs))
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, m.Col) and node.dataset:
            return node.dataset
        if isinstance(node, m.Col) and node.name in plan.parameters:
            return plan.parameters[node.name].source.dataset
        if isinstance(node, m.Col) and node.name in plan.endpoints:
            if node.name not in seen:
                seen.add(node.name)
                stack.append(plan.endpoints[node.name].expr)
        else:
            stack.extend(reversed(m.children(node)))
    return next((s.name for s in plan.sources if s.subjects), None)


def _analysis(plan: m.Plan, a: m.Analysis, rows: pd.DataFrame, method: str,
              groupings: _Groupings, subsets: _Subsets, patterns: dict) -> dict:
    base, pop, visit = _resolve(plan, a)
    exprs = _exprs(base, plan)
    subset, notes = subsets.for_analysis(a.name, pop, exprs, visit)
    variables = list(dict.fromkeys(rows["variable"].dropna().astype(str)))
    desc = [f"Plan line {a.loc.line}" + (f", for estimand {base.estimand}"
                                         if base.estimand else "")
            + (f", repeats {a.base} by " + ", ".join(b.name for b in a.by) if a.base else "")]
    desc += notes
    entry: dict[str, Any] = {"id": ident(a.name), "name": a.label or a.name, "label": a.name,
                             "description": "; ".join(desc) + ".",
                             "reason": amap.REASON, "purpose": amap.PURPOSE,
                             "methodId": ident("Mth", method)}
    dataset = _dataset(plan, exprs)
    if dataset:
        entry["dataset"] = amap.dataset_name(dataset)
    if len(variables) == 1:
        param = plan.parameters.get(variables[0])
        entry["variable"] = param.source.name if param else variables[0]
    if pop is not None:
        entry["analysisSetId"] = ident("AnalysisSet", pop.name)
    if subset:
        entry["dataSubsetId"] = subset
    results = ars_results.results(rows, groupings.group, patterns.get(a.name, {}),
                                  len(variables) > 1)
    order = [b.name for b in (*base.by, *a.by) if b.name != "total"]
    plan_groups = [groupings.group(plan.treatment.column.name if n == "treatment" and
                                   plan.treatment else n, "")["groupingId"] for n in order]
    seen = [g["groupingId"] for r in results for g in r.get("resultGroups", ())]
    known = {f["id"] for f in groupings.factors.values()}
    ids = [g for g in dict.fromkeys([*plan_groups, *seen]) if g in known]
    if ids:
        entry["orderedGroupings"] = [{"order": i, "groupingId": g, "resultsByGroup": True}
                                     for i, g in enumerate(ids, 1)]
    entry["results"] = results
    return entry


def _denominators(kind: str, spec: m.Table | m.Figure, rows: pd.DataFrame,
                  groupings: _Groupings, subsets: _Subsets) -> dict:
    name = ident("Denominators", kind, spec.number)
    pop = spec.population
    subset, notes = subsets.for_analysis(name, pop, [], None)
    entry: dict[str, Any] = {
        "id": name, "name": f"Subjects per column of {kind} {spec.number}",
        "description": "The column header N of the display" + "".join(
            f"; {n}" for n in notes) + ".",
        "reason": amap.REASON, "purpose": amap.PURPOSE,
        "methodId": ident("Mth", "population_count")}
    if pop is not None:
        entry["analysisSetId"] = ident("AnalysisSet", pop.name)
    if subset:
        entry["dataSubsetId"] = subset
    results = ars_results.results(rows, groupings.group, {}, False)
    ids = list(dict.fromkeys(g["groupingId"] for r in results for g in r.get("resultGroups", ())))
    if ids:
        entry["orderedGroupings"] = [{"order": i, "groupingId": g, "resultsByGroup": True}
                                     for i, g in enumerate(ids, 1)]
    entry["results"] = results
    return entry
