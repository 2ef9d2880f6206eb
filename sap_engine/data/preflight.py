"""The data preflight: what the plan and its data already show, found by ``check``.

``check`` runs it once every name of the plan resolves, so that ``run`` does not discover
after minutes (or not at all) what the data showed from the start. Two passes:

1. The plan and the schemas only. Key columns exist (SAP309, at the key in the plan); every
   dataset a population or parameter reads has the subject key (SAP312); a value that needs
   a visit has one (SAP219); ``baseline()``/``change()`` (SAP221) and ``max_over_visits()``
   or a family's ``max()`` (SAP317) are not applied to a parameter without visits.
2. The data, with pandas and the executor's own :class:`Evaluator` (so check and run cannot
   disagree on what a filter selects). Keys are unique (SAP310) and subjects identified
   (SAP311); no numeric column the plan reads holds an infinite number (SAP313); every
   parameter has rows (SAP315), one value per subject and visit (SAP304) and finite values;
   every population in use has subjects (SAP401); a parameter analysed at one visit has data
   there (SAP316) unless imputation supplies it; and the analyses whose expressions can
   leave the finite numbers (``/``, ``*``, ``log``, ``sqrt``, ``exp``) are evaluated (SAP314).

It costs the import of pandas (~0.3 s beyond pyarrow here) and one evaluation of every
population and parameter, which ``run`` repeats; analyses are not run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import fields, is_dataclass, replace

from sap_engine import model as m
from sap_engine.check import CheckedPlan
from sap_engine.data.sources import subject_key
from sap_engine.errors import (
    AnalysisError,
    DataError,
    DataLocation,
    Diagnostic,
    Location,
    PlanCheckError,
)

AT_VISIT = ("value", "change", "percent_change")  # a parameter's value at one visit
FAMILY = ("max", "min", "sum")  # over a family's members, at one visit
OVER_VISITS = ("max_over_visits", "min_over_visits")
RISKY = ("log", "sqrt", "exp")  # with "/" and "*": values can leave the finite numbers


def preflight(checked: CheckedPlan, analyses: bool = True) -> CheckedPlan:
    """Return ``checked`` or raise a SapError listing every problem found.

    With ``analyses`` false (``run --keep-going``) only what no analysis can survive is
    checked (files, keys, infinite numbers): a problem of one analysis is then left to the
    executor, which reports it with the analysis and runs the others."""
    pf = _Preflight(checked)
    pf.key_columns()
    pf.raise_problems()
    pf.key_pass()
    pf.infinite_columns()
    pf.raise_problems()
    if analyses:
        pf.visit_pass()
        pf.data_pass()
        pf.raise_problems()
    return checked


class _Preflight:
    def __init__(self, checked: CheckedPlan):
        self.checked = checked
        self.plan = checked.plan
        self.lines = self.plan.text.splitlines()
        self.problems: list[Diagnostic] = []
        self.sources = {s.name: s for s in self.plan.sources}
        self.key = subject_key(self.sources[checked.subjects])
        self.visit_col = self.plan.visits.column.name if self.plan.visits else "AVISITN"
        from sap_engine.compile import compile_plan

        self.steps = compile_plan(checked)

    # ---- reporting
    def error(self, code: str, message: str, loc: m.Loc,
              data_location: DataLocation | None = None, width: int | None = None) -> None:
        line = loc.line or 1
        end = loc.end_column if loc.end_line == loc.line and loc.end_column else None
        if width:
            end = (loc.column or 1) + width
        self.add(Diagnostic(code, message, Location(self.plan.path, line, loc.column or 1, end),
                            data_location=data_location))

    def add(self, d: Diagnostic) -> None:
        if d.location and d.source_line is None and 0 < d.location.line <= len(self.lines):
            d = replace(d, source_line=self.lines[d.location.line - 1])
        if d not in self.problems:
            self.problems.append(d)

    def raise_problems(self) -> None:
        if not self.problems:
            return
        problems = sorted(self.problems, key=lambda d: (
            d.location.line if d.location else 0, d.location.column if d.location else 0))
        codes = {d.code for d in problems}
        if all(c.startswith("SAP4") for c in codes):  # analyses that cannot be computed
            raise AnalysisError(problems)
        if all(c.startswith("SAP3") for c in codes):
            raise DataError(problems)
        raise PlanCheckError(problems)

    # ---- visits: which values need one, and which parameters have none
    def visit_pass(self) -> None:
        from sap_engine.data.derive import Evaluator

        self.ev = Evaluator(self.checked)
        self.guarded(self.visit_functions)
        self.guarded(self.visits_needed)

    def visits_needed(self) -> None:
        """A value measured at visits, asked for where there is no visit (SAP219)."""
        for step in self.steps:
            if step.visit is None and "visit" not in step.by:
                for term, loc in self.step_terms(step):
                    needs = self.needs_visit(term)
                    if needs is not None:
                        self.error("SAP219", f"'{_text(term)}' needs a visit ({_text(needs)} "
                                             "is measured at visits): add 'at week N' or "
                                             "'by visit' to the analysis", loc)
        for use in self.population_uses():
            needs = self.needs_visit(use.where) if use.where is not None else None
            if needs is not None:
                self.error("SAP219", f"population filter '{_text(use.where)}' needs a visit "
                                     f"({_text(needs)} is measured at visits): use a value "
                                     "that has none, such as baseline()", needs.loc)

    # ---- keys: declared columns exist, then identify rows (the subject dataset: subjects)
    def key_columns(self) -> None:
        for src in self.plan.sources:
            columns = self.checked.datasets[src.name].columns
            for key, loc in zip(src.keys, self.key_locations(src)):
                if key not in columns:
                    self.error("SAP309", f"dataset '{src.name}' has no key column '{key}'",
                               loc, width=len(key))
            if src.name == self.checked.subjects and not src.keys and self.key not in columns:
                self.error("SAP309", f"subject dataset '{src.name}' declares no key and has no "
                                     f"column '{self.key}': add 'key COLUMN'", src.loc)
        used = {p.dataset for p in self.plan.populations.values()}
        used |= {str(p.source.dataset) for p in self.plan.parameters.values()}
        for name in sorted(used - {self.checked.subjects}):
            ds = self.checked.datasets.get(name)
            if ds is not None and self.key not in ds.columns:
                self.error("SAP312", f"dataset '{name}' has no column '{self.key}', the "
                                     f"subject key of '{self.checked.subjects}' that links "
                                     "its rows to the subjects", self.sources[name].loc,
                           DataLocation(str(ds.path)), width=len("dataset ") + len(name))

    def key_locations(self, src: m.Source) -> list[m.Loc]:
        """Where each key name is written (the dataset statement when not found)."""
        first, last = src.loc.line, src.loc.end_line or src.loc.line
        if not first or last > len(self.lines):
            return [src.loc] * len(src.keys)
        text = "\n".join(self.lines[first - 1:last])
        found = list(re.finditer(r"\bkey\s+([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)", text))
        if not found:
            return [src.loc] * len(src.keys)
        group = found[-1]
        out = []
        for name in src.keys:
            hit = re.search(rf"\b{re.escape(name)}\b", text[group.start(1):group.end(1)])
            if hit is None:
                out.append(src.loc)
                continue
            offset = group.start(1) + hit.start()
            line = first + text.count("\n", 0, offset)
            column = offset - (text.rfind("\n", 0, offset) + 1) + 1
            out.append(m.Loc(line, column, line, column + len(name)))
        return out

    def visits_of(self, name: str) -> str:
        """'subject', 'visit' or 'none' (no rows): the executor's rule (``derive``)."""
        return self.ev.visits_of(name)

    def visit_functions(self) -> None:
        """Functions of visits applied to a parameter without visits, wherever written."""
        for node in _nodes(self.plan.statements):
            if not (isinstance(node, m.Call) and node.args and isinstance(node.args[0], m.Col)):
                continue
            name = node.args[0].name
            if name not in self.plan.parameters or self.visits_of(name) != "subject":
                continue
            fn = node.function
            if fn in ("change", "percent_change") or (
                    fn == "baseline" and self.plan.parameters[name].baseline_column is None):
                self.error("SAP221", self.ev.no_visits_text(name, fn), node.loc)
            elif fn in OVER_VISITS + FAMILY:
                self.error("SAP317", self.ev.no_visits_text(name, fn), node.loc)

    def needs_visit(self, e: m.Expr) -> m.Expr | None:
        """The first part of ``e`` whose value depends on the visit (through endpoints)."""
        for node, _ in self.at_visit(e):
            return node
        return None

    def at_visit(self, e: m.Expr) -> Iterator[tuple[m.Expr, str]]:
        """(node, parameter) for every visit-dependent parameter value in ``e``."""
        plan, seen = self.plan, set()
        stack: list = [e]
        while stack:
            node = stack.pop()
            if isinstance(node, tuple):
                stack.extend(reversed(node))
                continue
            if isinstance(node, m.Col) and node.dataset is None:
                if node.name in plan.parameters:
                    if self.visits_of(node.name) == "visit":
                        yield node, node.name
                elif node.name in plan.endpoints and node.name not in seen:
                    seen.add(node.name)
                    stack.append(plan.endpoints[node.name].expr)
                continue
            if isinstance(node, m.Call) and node.args and isinstance(node.args[0], m.Col) \
                    and node.args[0].name in plan.parameters:
                name = node.args[0].name
                if node.function in AT_VISIT + FAMILY and self.visits_of(name) == "visit":
                    yield node, name
                if node.function in AT_VISIT + FAMILY + OVER_VISITS + ("baseline",):
                    continue
            stack.extend(reversed(list(_children(node))))

    def step_terms(self, step) -> list[tuple[m.Expr, m.Loc]]:
        """The expressions a step evaluates at its visit, with where to point at them."""
        a = self.plan.analyses[step.id]
        out = [(t, t.loc if t.loc.line else a.loc) for _, terms in step.roles for t in terms
               if not (isinstance(t, m.Col) and t.dataset is None and t.name == "treatment")]
        for name in step.by:
            if name in self.plan.endpoints:
                item = next((b for b in self.by_items(a) if b.name == name), None)
                out.append((m.Col(name), item.loc if item and item.loc.line else a.loc))
        return out

    def by_items(self, a: m.Analysis) -> tuple[m.ByItem, ...]:
        base = self.plan.analyses.get(a.base or "")
        return a.by + (base.by if base else ())

    def displays(self) -> list[m.Table | m.Figure]:
        return [*self.plan.tables, *self.plan.figures]

    def population_uses(self) -> list[m.PopulationUse]:
        uses = [s.population for s in self.steps if s.population is not None]
        uses += [d.population for d in self.displays() if d.population is not None]
        return list(dict.fromkeys(uses))

    def key_pass(self) -> None:
        for src in self.plan.sources:
            ds = self.checked.datasets[src.name]
            subjects = src.name == self.checked.subjects
            keys = [self.key] if subjects else list(src.keys)
            if not keys:
                continue
            frame = ds.frame()
            where = self.key_locations(src)[0] if src.keys else src.loc
            ids = frame[self.key]
            # An empty text field is read as "" (not null): no subject either.
            blank = (ids.isna() | (ids.astype(str).str.strip() == "")).to_numpy()
            if subjects and blank.any():
                row = int(blank.nonzero()[0][0]) + 1
                self.error("SAP311", f"subject dataset '{src.name}' has a row without a "
                                     f"subject ('{self.key}' is empty)", where,
                           DataLocation(str(ds.path), row, self.key))
            later = frame.duplicated(keys, keep="first").to_numpy()
            if not later.any():
                continue
            row = int(later.nonzero()[0][0])
            values = frame.iloc[row][keys]
            twin = _first_equal(frame[keys], values)
            shown = ", ".join(f"{k} {_shown(values[k])}" for k in keys)
            if subjects:
                text = (f"subject dataset '{src.name}' has two rows for subject "
                        f"{_shown(values[self.key])} (rows {twin + 1} and {row + 1}): it "
                        "needs one row per subject")
            else:
                text = (f"dataset '{src.name}': rows {twin + 1} and {row + 1} have the same "
                        f"key ({shown}); declare the columns that identify a row")
            self.error("SAP310", text, where, DataLocation(str(ds.path), row + 1))

    def data_pass(self) -> None:
        ev = self.ev
        for name, p in self.plan.parameters.items():
            self.guarded(lambda name=name, p=p: self.parameter(ev, name, p))
        for name in dict.fromkeys(use.name for use in self.population_uses()):
            self.guarded(lambda name=name: self.population(ev, name))
        empty: dict[tuple, list[str]] = {}  # a narrowed population -> analyses it empties
        for step in self.steps:
            use = step.population
            if use is not None and use.where is not None:
                if self.guarded(lambda use=use, step=step: self.empty(ev, use, step.handling)):
                    empty.setdefault((use.loc.line, use.loc.column, use), []).append(step.id)
            if step.visit is not None and "visit" not in step.by:
                self.guarded(lambda step=step: self.visit_values(ev, step))
        for d in self.displays():
            shown = d.population
            if shown is not None and shown.where is not None:
                if self.guarded(lambda use=shown: self.empty(ev, use)):
                    empty.setdefault((shown.loc.line, shown.loc.column, shown), [])
        for (_, _, use), ids in empty.items():
            who = f"analysis {ids[0]}" + (f" (and {', '.join(ids[1:])})" if ids[1:] else "") \
                + ": " if ids else ""
            self.error("SAP401", f"{who}population '{use.name}' is empty after its 'where' "
                                 f"filter ({_text(use.where)})", use.loc)
        if not self.problems:
            for step in self.steps:
                if self.risky(step):
                    self.guarded(lambda step=step: self.frame(ev, step), step)

    def guarded(self, work, step=None):
        """Run ``work``; the data errors it raises are problems of the plan."""
        try:
            return work()
        except DataError as exc:
            for d in exc.diagnostics:
                if d.location is None and step is not None:
                    d = replace(d, message=f"analysis {step.id}: {d.message}",
                                location=Location(self.plan.path, step.loc.line or 1,
                                                  step.loc.column or 1))
                self.add(d)

    def parameter(self, ev, name: str, p: m.Parameter) -> None:
        rows = ev.parameter_rows(name)
        if rows.empty:
            ds = self.checked.datasets[str(p.source.dataset)]
            frame = ds.frame()
            hint = ""
            for col in _nodes(p.where) if p.where is not None else ():
                if isinstance(col, m.Col) and col.name in frame.columns:
                    missing = int(frame[col.name].isna().sum())
                    if missing:
                        hint = (f"; '{col.name}' is missing in {missing} of {len(frame)} rows, "
                                "and a comparison with a missing value is never true")
                        break
            self.error("SAP315", f"parameter '{name}' has no rows: its 'where' selects none "
                                 f"of the {len(frame)} rows of '{ds.name}'{hint}",
                       p.where.loc if p.where is not None else p.loc,
                       DataLocation(str(ds.path)))
            return
        ev.prepare(name)  # one value per subject and visit, finite values

    def population(self, ev, name: str) -> None:
        """A population in use has subjects."""
        pop = self.plan.populations[name]
        if len(ev.population(m.PopulationUse(name))) == 0:
            ds = self.checked.datasets[pop.dataset]
            self.error("SAP401", f"population '{name}' is empty: its filter selects none of "
                                 f"the {len(ds.frame())} rows of '{pop.dataset}'",
                       pop.where.loc if pop.where is not None else pop.loc)

    def empty(self, ev, use: m.PopulationUse, handling=None) -> bool:
        """A population narrowed where it is used (``population FAS where ...``) has no
        subject left (with the analysis' handling of intercurrent events and missing data);
        an empty population itself is reported at its definition."""
        from sap_engine.data.derive import Handling

        if len(ev.population(m.PopulationUse(use.name))) == 0:
            return False
        return len(ev.population(use, handling or Handling())) == 0

    def visit_values(self, ev, step) -> None:
        """A parameter analysed at one visit has a value there, after the analysis' handling
        of intercurrent events and missing data (LOCF fills scheduled visits)."""
        for term, _ in self.step_terms(step):
            for node, name in self.at_visit(term):
                family = isinstance(node, m.Call) and node.function in FAMILY
                if bool(self.plan.parameters[name].by) != family:
                    continue  # a family's members are analysed one by one, each may lack it
                if float(step.visit) not in ev.visits_present(
                        name, None if family else step.handling):
                    self.error("SAP316", ev.no_value_at(name, step.visit), self.visit_loc(step))

    def visit_loc(self, step) -> m.Loc:
        from sap_engine.roles import analysis_chain

        base = analysis_chain(self.plan, self.plan.analyses[step.id])
        if base.visit is not None:
            return base.visit_loc if base.visit_loc.line else base.loc
        est = self.plan.estimands.get(base.estimand or "")
        if est is not None:
            return est.visit_loc if est.visit_loc.line else est.loc
        return base.loc

    def risky(self, step) -> bool:
        roots = [t for t, _ in self.step_terms(step)]
        if step.population is not None and step.population.where is not None:
            roots.append(step.population.where)
        seen: set[str] = set()
        while roots:
            for node in _nodes(roots.pop()):
                if isinstance(node, m.BinOp) and node.op in ("/", "*") or \
                        isinstance(node, m.Call) and node.function in RISKY:
                    return True
                if isinstance(node, m.Col) and node.dataset is None and \
                        node.name in self.plan.endpoints and node.name not in seen:
                    seen.add(node.name)
                    roots.append(self.plan.endpoints[node.name].expr)
        return False

    def frame(self, ev, step) -> None:
        from sap_engine.execute import analysis_frame

        analysis_frame(step, ev)

    def infinite_columns(self) -> None:
        """No numeric column the plan reads directly holds +/-inf (a NaN is missing). A
        parameter's own column is checked on the rows it selects (see ``derive``)."""
        import numpy as np

        seen: set[tuple[str, str]] = set()
        for col, context in self.column_uses():
            target = self.column_of(col, context)
            if target is None or target in seen:
                continue
            seen.add(target)
            ds = self.checked.datasets[target[0]]
            if ds.columns.get(target[1]) != "numeric":
                continue
            values = ds.frame()[target[1]].to_numpy(dtype=float, na_value=np.nan)
            infinite = np.isinf(values)
            if infinite.any():
                row = int(infinite.nonzero()[0][0])
                self.error("SAP313", f"column '{target[1]}' of '{target[0]}' holds "
                                     f"{values[row]:g} (an infinite number is not data; a "
                                     "missing value must be empty)", col.loc,
                           DataLocation(str(ds.path), row + 1, target[1]))

    def column_uses(self) -> Iterator[tuple[m.Col, str | None]]:
        """Every column reference with the dataset it is resolved in first."""
        plan = self.plan
        roots: list[object]
        context: str | None
        for statement in plan.statements:
            if isinstance(statement, m.Population):
                roots, context = [statement.where], statement.dataset
            elif isinstance(statement, m.Parameter):
                roots, context = [statement.where], statement.source.dataset
            elif isinstance(statement, m.Intercurrent):
                roots, context = [statement.condition, statement.time], self.checked.subjects
            elif isinstance(statement, (m.Endpoint, m.Estimand, m.Analysis, m.Table, m.Figure)):
                roots, context = [statement], None
            else:
                continue
            for node in _nodes(tuple(r for r in roots if r is not None)):
                if isinstance(node, m.Col):
                    yield node, context

    def column_of(self, col: m.Col, context: str | None) -> tuple[str, str] | None:
        cols = self.checked.datasets
        if col.dataset:
            return (col.dataset, col.name) if col.dataset in cols and \
                col.name in cols[col.dataset].columns else None
        if context and context in cols and col.name in cols[context].columns:
            return context, col.name
        if col.name in self.plan.parameters or col.name in self.plan.endpoints:
            return None
        if col.name in cols[self.checked.subjects].columns:
            return self.checked.subjects, col.name
        return None


def _nodes(root: object) -> Iterator[object]:
    """Every dataclass node below ``root`` (statements, expressions), depth first and in
    source order, without recursion (a plan may nest hundreds of terms)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(reversed(node))
            continue
        if not is_dataclass(node) or isinstance(node, (type, m.Loc)):
            continue
        yield node
        stack.extend(reversed(list(_children(node))))


def _children(node: object) -> Iterator[object]:
    if not is_dataclass(node) or isinstance(node, type):
        return
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, tuple) or (is_dataclass(value) and not isinstance(value, m.Loc)):
            yield value


def _text(e: object) -> str:
    from sap_engine.fmt import expr

    return expr(e)  # type: ignore[arg-type]


def _first_equal(frame, values) -> int:
    """Position of the first row of ``frame`` equal to ``values`` (missing equals missing)."""
    import numpy as np

    same = np.ones(len(frame), dtype=bool)
    for name in frame.columns:
        v = values[name]
        same &= (frame[name].isna() if _missing(v) else frame[name] == v).to_numpy()
    return int(same.nonzero()[0][0])


def _missing(v: object) -> bool:
    try:
        return bool(v != v) or v is None  # NaN, None, pd.NA
    except TypeError:
        return True


def _shown(v: object) -> str:
    if _missing(v):
        return "(missing)"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
