"""Build the results document from the ARD and write it in every registered format.

Renderers read only the ARD (its rows, and its metadata: provenance, failures, warnings and
resolved options) and the plan's display specs (tables, figures, document), so a document
can be rebuilt from an ARD file and the plan alone (``sap-run render``). The formats are the
writers of :mod:`sap_engine.render.writers` (HTML and Markdown built in); escaping is in
:mod:`sap_engine.render.environment`, the sandbox of user templates in
:mod:`sap_engine.template_sandbox`. How each analysis was computed (the Method line of each
display, the appendix "Analysis options") is stated from the ``steps`` metadata by
:mod:`sap_engine.render.options`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa

from sap_engine import ard as ard_file
from sap_engine import model as m
from sap_engine import template_sandbox
from sap_engine.errors import OutputError, plan_diagnostic
from sap_engine.provenance import Provenance
from sap_engine.render import options as resolved
from sap_engine.render import writers
from sap_engine.render.ard_view import ArdView
from sap_engine.render.estimands import NOT_ESTIMABLE, BuiltEstimand, build_estimands
from sap_engine.render.format import ROUNDING
from sap_engine.render.options import AnalysisOptions, method_lines
from sap_engine.render.tables import BuiltTable, build_table

NOT_ESTIMABLE_CODE = "SAP254"  # the warning of an analysis that was not run (check_estimands)


@dataclass
class DocumentModel:
    title: str
    study: dict
    provenance: Provenance  # templates print provenance.lines (every format the same)
    tables: list[BuiltTable]
    figures: list
    failures: list[str]
    warnings: list[str]
    notes: list[str]
    analyses: list[dict]  # id, label, method, line, options (as resolved)
    reproduction: dict | None = None
    # Each step's method and resolved options by analysis id (the ARD's ``steps``).
    steps: dict[str, dict] = field(default_factory=dict)
    # The appendix "Analysis options": every analysis with all its options and sources.
    analysis_options: list[AnalysisOptions] = field(default_factory=list)
    # The section "Estimands": each estimand's attributes as a table (render/estimands.py).
    estimands: list[BuiltEstimand] = field(default_factory=list)


def build_document(plan: m.Plan, table: pa.Table, out_dir: Path | None = None,
                   jobs: int = 1) -> DocumentModel:
    """Everything a template needs, computed from the ARD table (rows and metadata) and
    the plan's display specs."""
    meta = ard_file.metadata(table)
    ard = ArdView(table.to_pandas(), json.loads(meta.get("variable_labels", "{}")),
                  json.loads(meta.get("visit_labels", "{}")))
    failures = ard_file.diagnostics(meta, "failures")
    notes_of_run = ard_file.diagnostics(meta, "warnings")
    steps = json.loads(meta["steps"])
    trt_col = plan.treatment.column.name if plan.treatment else None
    pending_figures = None
    if plan.figures and out_dir is not None:
        from sap_engine.render.figures import start_figures
        from sap_engine.render.tables import variable_labels

        labels = variable_labels(plan, ard.data_labels)
        if plan.treatment:
            labels.update({a.level: a.display for a in plan.treatment.arms})
        # Figures are drawn by workers (with jobs > 1) while the tables are built here.
        pending_figures = start_figures(plan, ard, out_dir, labels, jobs)
    # The analyses not run because they are not estimable, as the ARD records them: their
    # rows and figures say so, and never show a number.
    not_run = {d.analysis for d in notes_of_run
               if d.code == NOT_ESTIMABLE_CODE and d.analysis is not None}
    tables = [build_table(plan, spec, ard, trt_col, not_estimable=not_run)
              for spec in plan.tables if _included(plan, spec.number)]
    # Warnings about an analysis (an empty stratum) also go under every display of it.
    warned: dict[str, list[str]] = {}
    for d in notes_of_run:
        text = d.message.split(": ", 1)[-1]
        warned.setdefault(d.analysis or "", []).append(f"Note: {text[0].upper()}{text[1:]}.")
    for spec, built in zip([t for t in plan.tables if _included(plan, t.number)], tables):
        for rows_spec in spec.rows:
            for aid in (rows_spec.analysis, *rows_spec.also):
                built.footnotes.extend(n for n in warned.get(aid, ())
                                       if n not in built.footnotes)
        built.methods = method_lines(steps, (i for r in spec.rows
                                             for i in (r.analysis, *r.also)))
    study = plan.study
    study_info = {"name": study.name if study else "", "title": study.title if study else "",
                  "attributes": [(k, v if not isinstance(v, float) or not v.is_integer()
                                  else int(v)) for k, v in (study.attributes if study else ())]}
    provenance = Provenance.of(meta)
    analyses = [{"id": a.name, "label": a.label or "", "method": a.method or
                 f"= {a.base} by {', '.join(b.name for b in a.by)}", "line": a.loc.line,
                 "options": steps.get(a.name, {}).get("options", {})}
                for a in plan.analyses.values()]
    notes = ["All p-values are two-sided and exploratory; no adjustment for multiplicity "
             "was made unless a table says otherwise.",
             _rounding_note(plan)]
    reproduction = _reproduction(plan, ard) if plan.document and plan.document.reproduce \
        else None
    from markupsafe import Markup

    # The SVG is markup drawn by matplotlib (which escapes the text in it): a template,
    # even a sandboxed one, prints it as it is.
    figures = [replace(f, svg=Markup(f.svg)) for f in
               (pending_figures.result() if pending_figures is not None else [])]
    for fig_spec, fig in zip(plan.figures, figures):
        if fig_spec.analysis in not_run:
            fig.note = f"Analysis {fig_spec.analysis} is {NOT_ESTIMABLE} (see Estimands)."
        fig.footnotes.extend(warned.get(fig_spec.analysis, ()))
        fig.methods = method_lines(steps, [fig_spec.analysis])
    return DocumentModel(
        reproduction=reproduction,
        title=plan.document.title if plan.document else (study.title if study else "Results"),
        study=study_info, provenance=provenance, tables=tables, figures=figures,
        failures=[d.render() for d in failures],
        warnings=[d.render() for d in notes_of_run], notes=notes,
        analyses=analyses, steps=steps,
        analysis_options=resolved.analysis_options(steps),
        estimands=build_estimands(plan, not_run))


def _reproduction(plan: m.Plan, ard: ArdView) -> dict:
    """The reproduction appendix; a map that cannot be used is OutputError SAP508 at the
    plan's ``reproduce`` clause (a crash would be an internal error)."""
    from sap_engine.render.reproduction import compare, load

    assert plan.document is not None and plan.document.reproduce is not None
    ref = plan.document.reproduce
    try:
        mapping, published, source = load(plan.path, ref)
        checks = compare(ard, mapping, published)
        counted = [c for c in checks if c.within is not None]
        return {
            "source": mapping.get("title", source), "checks": checks,
            "within": sum(1 for c in counted if c.within), "counted": len(counted),
            "not_compared": mapping.get("not_compared", []),
        }
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        problem = (exc.strerror if isinstance(exc, OSError) and exc.strerror else
                   f"no entry {exc}" if isinstance(exc, KeyError) else str(exc))
        raise OutputError(plan_diagnostic(
            "SAP508", f"reproduction map \"{ref}\" cannot be used: {problem} "
                      f"({type(exc).__name__}; see sap_engine/render/reproduction.py for its "
                      "format)", template_sandbox.document_clause(plan, "reproduce", ref),
            plan.path, plan.text)) from None


def _included(plan: m.Plan, number: str) -> bool:
    doc = plan.document
    return doc is None or "all" in doc.include or number in doc.include


def render_documents(plan: m.Plan, table: pa.Table, out_dir: Path,
                     jobs: int = 1) -> list[Path]:
    """Write the document in every registered format (``report.html``, ``report.md``, ...,
    with any per-display files of a format: ``rtf/t-14-2-1.rtf``) and its figures into
    ``out_dir``, from the ARD ``table`` and the plan; return the paths.
    """
    chosen = writers.registered()
    for writer in chosen:
        if writer.prepare is not None:
            writer.prepare(plan)
    plan_doc = plan.document
    token = ROUNDING.set(plan_doc.rounding if plan_doc else "half_away_from_zero")
    try:
        model = build_document(plan, table, out_dir, jobs)
    finally:
        ROUNDING.reset(token)
    document = writers.Document(model, plan, folder=out_dir, ard=table)
    written = []
    for writer in chosen:
        path = out_dir / writer.file_name
        with open(path, "wb") as out:
            writer.write(document, out)
        written.append(path)
        for name, part in writer.part_names(document):  # one file per display (RTF)
            path = out_dir / name
            path.parent.mkdir(exist_ok=True)
            with open(path, "wb") as out:
                part.write(out)
            written.append(path)
    written += [out_dir / name for f in model.figures for name in f.files]
    return written


def _rounding_note(plan: m.Plan) -> str:
    """The document's rounding rule as the plan states it (default: SAS ROUND)."""
    rule = plan.document.rounding if plan.document else "half_away_from_zero"
    how = "half to even (IEEE)" if rule == "half_even" else "half away from zero (SAS ROUND)"
    return f"Values are rounded {how} for display; the ARD holds full precision."
