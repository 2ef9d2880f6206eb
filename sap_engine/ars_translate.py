"""An ARS ReportingEvent as plan text: what ``sap-run import-ars`` writes.

Each ARS analysis becomes a plan analysis when the engine can compute it, from its method
(classified by its operations and name), its analysis set, data subset and groupings:

- a summary of a continuous variable (n, mean, SD, ...) -> ``method descriptive`` of it;
- a summary of subjects by a grouping of predefined values (count and %) -> ``method
  descriptive`` of the grouping's variable, its groups as a ``labels`` block;
- an ANOVA comparison -> ``method ancova`` with ``model VAR ~ treatment`` (its Type III
  test of treatment); a chi-square or Fisher's exact comparison -> ``chisq`` or
  ``fisher_exact`` on ``crosstab VAR by TRT``;
- a summary of a findings dataset (ADVS) by parameter and visit -> a parameter family
  ``by PARAMCD`` and ``by treatment, visit``.

Anything else (counts of subjects with a record of an event dataset, groupings by the
data's own values such as AESOC, groups that merge values) is listed with the reason, on
stdout and as comments at the top of the plan. Every ARS output becomes a ``table`` of the
analyses it lists. The plan parses (checked here); checking it against data needs the
datasets' paths, which ARS does not give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sap_engine import ars_map
from sap_engine import model as m
from sap_engine.ars_outputs import tables
from sap_engine.fmt import quote
from sap_engine.parse import parse_text


@dataclass(frozen=True)
class Mapped:
    ars_id: str
    plan_id: str
    method: str  # the engine's method


@dataclass(frozen=True)
class Unsupported:
    ars_id: str
    name: str
    reason: str


@dataclass(frozen=True)
class Translation:
    text: str
    mapped: tuple[Mapped, ...]
    unsupported: tuple[Unsupported, ...]


class _SkipError(Exception):
    """An analysis the plan language cannot express; the message is the reason."""


def name_of(ars_id: str) -> str:
    """A plan name for an ARS id (letters, digits, ``_``; not starting with a digit)."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", ars_id)
    return text if re.match(r"[A-Za-z]", text) else "X" + text


def method_kind(method: dict[str, Any], used: set[str] | None = None) -> str | None:
    """What an AnalysisMethod computes, from its operations (those in ``used``, the ones an
    analysis' results refer to, when it has results) and its words."""
    ops = {str(o.get(k, "")).strip().lower() for o in method.get("operations", [])
           for k in ("label", "name") if not used or o.get("id") in used}
    words = " ".join(str(method.get(k, "")) for k in ("name", "label", "description")).lower()
    if ops & {"mean", "sd", "median", "standard deviation"}:
        return "continuous"
    if "%" in ops or any("percent" in o for o in ops):
        return "categorical"
    if "chi-square" in words or "chi square" in words:
        return "chisq"
    if "fisher" in words:
        return "fisher"
    if "anova" in words or "analysis of variance" in words:
        return "anova"
    if ops and all(o in ("n", "") or "count" in o for o in ops):
        return "count"
    return None


def _visit(value: str) -> float | None:
    """A visit value as a number of weeks: "Baseline" 0, "Week 2" 2 (the CDISC Pilot
    convention of AVISITN); None for anything else."""
    if value.strip().lower() == "baseline":
        return 0.0
    hit = re.fullmatch(r"\s*week\s+(\d+(?:\.\d+)?)\s*", value, re.IGNORECASE)
    return float(hit.group(1)) if hit else None


@dataclass
class _Plan:
    """The statements gathered while the analyses are translated."""

    datasets: dict[str, set[str]] = field(default_factory=dict)
    labels: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    populations: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    visits: set[float] = field(default_factory=set)
    analyses: list[str] = field(default_factory=list)
    shows: dict[str, str] = field(default_factory=dict)  # plan analysis -> show clause
    pops: dict[str, str] = field(default_factory=dict)  # plan analysis -> population


class _Translator:
    def __init__(self, event: dict[str, Any]):
        self.event = event
        self.sets = {s["id"]: s for s in event.get("analysisSets", [])}
        self.subsets = {s["id"]: s for s in event.get("dataSubsets", [])}
        self.groupings = {g["id"]: g for g in event.get("analysisGroupings", [])}
        self.methods = {m["id"]: m for m in event.get("methods", [])}
        self.plan = _Plan()
        self.treatment = self._treatment()

    def _simple_groups(self, grouping: dict[str, Any]) -> list[tuple[str, str]] | None:
        """(value, name) of each predefined group selecting one value of the grouping
        variable; None when a group merges values or has no simple condition."""
        out, merged = [], []
        for g in grouping.get("groups", []):
            cond = g.get("condition", {})
            if cond.get("variable") != grouping.get("groupingVariable"):
                return None
            if cond.get("comparator") == "IN":
                merged.append({str(v) for v in cond.get("value", [])})
            elif cond.get("comparator") != "EQ" or len(cond.get("value", [])) != 1:
                return None
            else:
                out.append((str(cond["value"][0]), str(g.get("name", cond["value"][0]))))
        # A group of all the other values is the total (as sap-run's export writes it):
        # the plan's `total` column, not a category.
        if any(values != {v for v, _ in out} for values in merged):
            return None
        return out or None

    def _treatment(self) -> dict[str, Any] | None:
        used: dict[str, int] = {}
        for a in self.event.get("analyses", []):
            for g in a.get("orderedGroupings", []):
                used[g["groupingId"]] = used.get(g["groupingId"], 0) + 1
        fits = [g for g in self.groupings.values() if str(g.get("groupingVariable", ""))
                .upper().startswith("TRT") and self._simple_groups(g)]
        return max(fits, key=lambda g: used.get(g["id"], 0), default=None)

    # ---- pieces ----------------------------------------------------------------------

    def population(self, analysis: dict[str, Any]) -> str:
        sid = analysis.get("analysisSetId")
        if sid is None:
            raise _SkipError("it names no analysis set")
        s = self.sets[sid]
        name = name_of(str(s.get("label") or sid))
        if name not in self.plan.populations:
            ds = sorted(ars_map.datasets_of(s)) or ["ADSL"]
            if ds != ["ADSL"]:
                raise _SkipError(f"its analysis set {sid} reads {', '.join(ds)}, not ADSL")
            where = ars_map.where_text(s, "adsl", self.subsets)
            self.plan.datasets.setdefault("adsl", set())
            self.plan.populations[name] = (
                f"population {name} {quote(str(s.get('name', name)))} = adsl"
                + (f" where {where}" if where else ""))
        return name

    def subset_parts(self, analysis: dict[str, Any]) -> dict[str, list[str]]:
        """The data subset's conditions by dataset (a top-level AND is split)."""
        sid = analysis.get("dataSubsetId")
        if sid is None:
            return {}
        holder = self.subsets[sid]
        compound = holder.get("compoundExpression", {})
        parts = compound.get("whereClauses", []) if compound.get("logicalOperator") == "AND" \
            else [holder]
        out: dict[str, list[str]] = {}
        for part in parts:
            if "subClauseId" in part:
                part = self.subsets[part["subClauseId"]]
            ds = ars_map.datasets_of(part)
            if len(ds) != 1:
                raise _SkipError(f"its data subset {sid} mixes datasets in one condition")
            own = next(iter(ds)).lower()
            text = ars_map.where_text(part, own, self.subsets)
            if text:
                out.setdefault(own, []).append(text)
        return out

    def by_treatment(self, analysis: dict[str, Any]) -> list[dict[str, Any]]:
        """The analysis' groupings other than the treatment's; Skip if it has no
        treatment grouping."""
        ids = [g["groupingId"] for g in analysis.get("orderedGroupings", [])]
        if self.treatment is None or self.treatment["id"] not in ids:
            raise _SkipError("it is not grouped by a treatment variable")
        return [self.groupings[i] for i in ids if i != self.treatment["id"]]

    def categorical_variable(self, grouping: dict[str, Any], own: str = "") -> str:
        if grouping.get("dataDriven") and own and \
                grouping.get("groupingVariable") in (None, own):
            return f"adsl.{own}"  # the levels of the analysed variable itself
        if grouping.get("dataDriven"):
            raise _SkipError(f"it is grouped by the data's own values of "
                        f"{grouping.get('groupingVariable')} (a data-driven grouping)")
        groups = self._simple_groups(grouping)
        var = str(grouping.get("groupingVariable", ""))
        if groups is None:
            raise _SkipError(f"a group of {grouping['id']} merges values of {var} (a plan "
                        "category is one value of a variable)")
        if str(grouping.get("groupingDataset", "ADSL")).upper() != "ADSL":
            raise _SkipError(f"its grouping {grouping['id']} is not of subject-level data")
        self.plan.labels.setdefault(var, groups)
        return f"adsl.{var}"

    # ---- one analysis ----------------------------------------------------------------

    def analysis(self, a: dict[str, Any]) -> tuple[str, str]:
        method = self.methods[a["methodId"]]
        kind = method_kind(method, {r.get("operationId") for r in a.get("results", [])})
        if kind is None:
            raise _SkipError(f"its method {a['methodId']} ({method.get('name')}) has no engine "
                        "equivalent")
        dataset = str(a.get("dataset", "")).upper()
        variable = str(a.get("variable", ""))
        if variable != variable.upper():  # ADaM names are upper case; sap-run's derived not
            raise _SkipError(f"its variable {variable} is derived, not a variable of "
                             f"{dataset or 'a dataset'} (the analysis' description says how)")
        pop = self.population(a)
        others = self.by_treatment(a)
        parts = self.subset_parts(a)
        adsl_where = parts.pop("adsl", [])
        name = name_of(a["id"])
        trt = self.treatment["groupingVariable"] if self.treatment else "TRT01P"
        if dataset != "ADSL":
            return self._findings(a, kind, name, pop, others, parts, adsl_where)
        if parts:
            raise _SkipError("its data subset selects rows of " + ", ".join(sorted(parts)))
        var = str(a.get("variable", ""))
        if kind == "continuous" and not others:
            body, engine = f"method descriptive\n  variable adsl.{var}", "descriptive"
            self.plan.shows[name] = "n, mean_sd, median, q1_q3, min_max"
        elif kind == "categorical" and len(others) == 1:
            body = f"method descriptive\n  variable {self.categorical_variable(others[0], var)}"
            engine = "descriptive"
        elif kind == "anova" and not others:
            body, engine = f"method ancova\n  model adsl.{var} ~ treatment", "ancova"
            self.plan.shows[name] = "p_value"
        elif kind in ("chisq", "fisher") and len(others) == 1:
            engine = "chisq" if kind == "chisq" else "fisher_exact"
            body = (f"method {engine}\n  crosstab {self.categorical_variable(others[0])} "
                    f"by adsl.{trt}")
            self.plan.shows[name] = "p_value" if kind == "chisq" else "fisher_p"
        elif kind == "count" and not others:
            raise _SkipError("a count of the analysis set by treatment is, in a plan, the column "
                        "header N of a table with that population (the imported tables "
                        "show it)")
        else:
            raise _SkipError(f"a {kind} method with the groupings "
                        + ", ".join(g["id"] for g in others) + " besides treatment")
        # A comparison has the arms in its model or table; a summary is per arm.
        by = "" if kind in ("anova", "chisq", "fisher") else "\n  by treatment"
        return self._emit(a, name, pop, adsl_where, body + by), engine

    def _findings(self, a, kind, name, pop, others, parts, adsl_where) -> tuple[str, str]:
        dataset = str(a.get("dataset", "")).lower()
        if kind != "continuous" or str(a.get("variable", "")) in ("USUBJID", ""):
            raise _SkipError(f"it counts subjects with a record of {dataset.upper()}: the plan "
                        "language summarizes a subject-level value, not the presence of "
                        "event records")
        if set(parts) - {dataset}:
            raise _SkipError("its data subset reads another dataset")
        family, visit = None, False
        for g in others:
            groups = self._simple_groups(g)
            var = str(g.get("groupingVariable", ""))
            if g.get("dataDriven") or groups is None:
                raise _SkipError(f"its grouping {g['id']} is not a list of single values")
            weeks = [_visit(v) for v, _ in groups]
            if var.upper().startswith("AVISIT"):
                odd = [v for (v, _), w in zip(groups, weeks) if w is None]
                if odd:
                    raise _SkipError(f"its visit grouping {g['id']} has visits that are not "
                                f"scheduled weeks ({', '.join(odd)}): a plan's visits are "
                                "the numbers of its AVISITN schedule")
                self.plan.visits.update(w for w in weeks if w is not None)
                visit = True
            elif family is None:
                family = var
                parts.setdefault(dataset, []).append(
                    f"{var} in {{{', '.join(quote(v) for v, _ in groups)}}}")
            else:
                raise _SkipError(f"it is grouped by {family} and {var} besides treatment")
        self.plan.datasets.setdefault(dataset, set()).update(
            ["USUBJID", *([family] if family else []), *(["AVISITN"] if visit else [])])
        where = " and ".join(parts.get(dataset, []))
        param = f"{name}_value"
        label = quote(str(a.get("name", name)))
        self.plan.parameters[param] = (
            f"parameter {param} {label} = {dataset}.{a.get('variable')}"
            + (f" where {where}" if where else "") + (f" by {family}" if family else ""))
        body = f"method descriptive\n  variable {param}\n  by treatment" + (
            ", visit" if visit else "")
        self.plan.shows[name] = "n, mean_sd, median, q1_q3, min_max"
        return self._emit(a, name, pop, adsl_where, body), "descriptive"

    def _emit(self, a: dict[str, Any], name: str, pop: str, adsl_where: list[str],
              body: str) -> str:
        self.plan.pops[name] = pop
        where = " and ".join(adsl_where)
        head = f"analysis {name} {quote(str(a.get('name', name)))} {{"
        population = f"population {pop}" + (f" where {where}" if where else "")
        return f"# ARS analysis {a['id']}\n{head}\n  {population}\n  {body}\n}}"


def translate(event: dict[str, Any], source: str) -> Translation:
    """The plan of ``event`` (a schema-valid ReportingEvent whose references resolve)."""
    t = _Translator(event)
    mapped, skipped = [], []
    for a in event.get("analyses", []):
        try:
            text, engine = t.analysis(a)
        except _SkipError as why:
            skipped.append(Unsupported(a["id"], str(a.get("name", "")), str(why)))
            continue
        t.plan.analyses.append(text)
        mapped.append(Mapped(a["id"], name_of(a["id"]), engine))
    text = _text(event, source, t, mapped, skipped)
    parse_text(text, f"<import of {source}>")  # an engine bug if it does not parse
    return Translation(text, tuple(mapped), tuple(skipped))


def _text(event, source, t: _Translator, mapped, skipped) -> str:
    p = t.plan
    out = [f"# Imported from {source} (CDISC ARS v1.0 ReportingEvent "
           f"{event.get('id', '')}: {event['name']}) by sap-run import-ars.",
           "# ARS names datasets, not files: each dataset below is read from NAME.parquet "
           "beside this plan, keyed by USUBJID, the analyses' grouping variable and AVISITN "
           "where they use visits; "
           "change the paths to your ADaM files before `sap-run check`.",
           f"# {len(mapped)} analyses imported; {len(skipped)} not imported (the plan "
           "language cannot express them):"]
    out += [f"#   {s.ars_id} \"{s.name}\": {s.reason}" for s in skipped]
    out += ["", f"study {name_of(str(event.get('id') or 'ARS'))} {quote(event['name'])} {{", "}",
            "", "data {"]
    p.datasets.setdefault("adsl", set())
    for ds, keys in p.datasets.items():
        key = ", ".join(["USUBJID", *sorted(keys - {"USUBJID"})])
        out.append(f"  dataset {ds} from {quote(ds + '.parquet')} key {key}"
                   + (" subjects" if ds == "adsl" else ""))
    out += ["}", ""]
    if t.treatment is not None:
        groups = t._simple_groups(t.treatment) or []
        out.append("# The reference arm is a guess (ARS does not name one): check it.")
        out.append(f"treatment {t.treatment['groupingVariable']} {{")
        first_placebo = next((v for v, _ in groups if "placebo" in v.lower()), None)
        for value, label in groups:
            out.append(f"  arm {quote(value)} {quote(label)}"
                       + (" reference" if value == first_placebo else ""))
        out += ["}", ""]
    for var, groups in p.labels.items():
        out += [f"labels {var} {{", *(f"  {quote(v)} = {quote(lab)}" for v, lab in groups),
                "}", ""]
    out += [*p.populations.values(), ""]
    if p.visits:
        weeks = ", ".join(m._num(w) for w in sorted(p.visits))
        out += ["# Visits: ARS groups by AVISIT text (\"Baseline\", \"Week 2\"); the plan by "
                "AVISITN, taken as the week number.",
                f"visits AVISITN {{\n  baseline 0\n  scheduled {weeks}\n}}", ""]
    out += [*p.parameters.values(), ""] if p.parameters else []
    for text in p.analyses:
        out += [text, ""]
    out += tables(event, {m.ars_id: m.plan_id for m in mapped}, p.shows, p.pops)
    return "\n".join(out).rstrip() + "\n"
