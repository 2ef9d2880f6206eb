"""The Python API behind ``sap-run``: a notebook user calls the same functions.

>>> from sap_engine.api import check_plan
>>> checked = check_plan("tests/fixtures/mini/mini.sap")
>>> sorted(checked.plan.analyses)[:3]
['D1', 'D1_obs', 'D1s']
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sap_engine import model as m
from sap_engine.check import CheckedPlan, check_names
from sap_engine.errors import AnalysisError, Diagnostic, OutputError
from sap_engine.parse import parse_file

if TYPE_CHECKING:
    from sap_engine.qc_diff import Comparison


@dataclass
class RunResult:
    out_dir: Path
    files: list[Path]
    n_rows: int
    failures: list
    notes: list = field(default_factory=list)  # warnings (Diagnostic, severity "warning")


def check_plan(path: str | Path, data_root: str | Path | None = None,
               analyses: bool = True) -> CheckedPlan:
    """Parse and check a plan against its data; raise SapError listing every problem.
    Data files must lie below ``data_root`` (default: the working directory or the plan's
    folder). ``analyses=False`` leaves the problems of single analyses to the executor."""
    return check(parse_file(path), data_root, analyses)


def check(plan: m.Plan, data_root: str | Path | None = None,
          analyses: bool = True) -> CheckedPlan:
    """Check a parsed plan: the checker (names, kinds, levels against the data's schema),
    then, once every name resolves, the preflights of the data and of the compiled analyses
    (keys, non-finite values, empty populations, parameters, cross-tabulations: see
    ``data.preflight`` and ``analysis_preflight``). With ``analyses`` false the problems of
    single analyses are left to the executor. Each stage imports only earlier ones, so this
    orchestration lives here, after them all."""
    checked = check_names(plan, data_root)
    # Imported once the names check: the preflights load pandas, which a plan refused for
    # its names never needs.
    from sap_engine.analysis_preflight import preflight
    from sap_engine.compile import compile_plan

    return preflight(checked, compile_plan(checked), analyses)


def explain_plan(path: str | Path, data_root: str | Path | None = None) -> str:
    """Check and compile a plan; its steps as text, with their bound roles and resolved
    options (``sap-run explain``; see :mod:`sap_engine.explain`)."""
    from sap_engine.compile import compile_plan
    from sap_engine.explain import explain_steps

    checked = check_plan(path, data_root)
    text = explain_steps(compile_plan(checked), str(path))
    # The analyses that get no step are named, not silently missing from the list.
    for name in checked.not_estimable:
        text += f"\nnot run: {name} (not estimable by the chosen method, SAP254)\n"
    return text


def execute_plan(checked: CheckedPlan, jobs: int = 1, while_waiting=None, steps=None):
    """Compile (unless ``steps`` are given) and execute a checked plan: the ARD rows and
    any analysis failures.

    ``jobs`` > 1 spreads the analyses over that many worker processes; the rows are the
    same, in the same order, as with one job."""
    from sap_engine.execute import execute

    return execute(checked, steps=steps, jobs=jobs, while_waiting=while_waiting)


def run_plan(path: str | Path, out: str | Path | None = None, keep_going: bool = False,
             command: list[str] | None = None, jobs: int | None = None,
             data_root: str | Path | None = None) -> RunResult:
    """Check, execute, write the ARD and render the documents into ``out``.

    Outputs are built in a staging folder beside ``out`` and moved into place only when
    everything succeeded, so a failed run never leaves half-written results (with
    ``keep_going`` the successful analyses are written and the failures noted in them).
    ``out`` must be new, empty, or a folder an earlier run wrote; anything else is refused
    and left untouched (see :mod:`sap_engine.outputs`). ``jobs`` worker processes execute
    the analyses and draw the figures (default: one per available core; 1 runs everything
    in this process). Data files must lie below ``data_root`` (see :func:`check_plan`).
    With ``SOURCE_DATE_EPOCH`` set, the outputs are byte-reproducible.
    """
    from sap_engine import ard, outputs, workers
    from sap_engine.compile import compile_plan
    from sap_engine.provenance import seeds_of
    from sap_engine.render import document
    from sap_engine.render.figures import preload

    jobs = workers.default_jobs() if jobs is None else max(1, jobs)
    created = ard.creation_time()  # a malformed SOURCE_DATE_EPOCH fails before any work
    out_dir = Path(out) if out else Path("out") / Path(path).stem
    # Refuse an unusable folder now, not after minutes of computing; recover first what a
    # killed run left, even when this run then fails its checks.
    target = outputs.prepare(out_dir)
    # With keep_going an analysis the data cannot support fails alone, in the executor.
    checked = check_plan(path, data_root, analyses=not keep_going)
    steps = compile_plan(checked)
    # While the workers compute, this process loads the plotting library the figures need.
    results = execute_plan(checked, jobs, while_waiting=preload if checked.plan.figures
                           else None, steps=steps)
    if results.failures and not keep_going:
        raise AnalysisError(results.failures)
    # The document is made from the ARD alone: what it shows besides the rows goes into
    # the ARD's metadata, and `sap-run render` rebuilds the same document from the file.
    meta = {**ard.provenance(checked.plan.path, checked.plan.text, checked.datasets,
                             seeds=seeds_of(steps), command=command, created=created),
            **ard.outcome_metadata(results.failures, results.notes, steps)}
    # Only when a data file has labels: the ARD of a plan on unlabelled data is unchanged.
    labels = ard.variable_labels(checked.plan, checked.datasets)
    if labels:
        meta["variable_labels"] = json.dumps(labels, sort_keys=True)
    # Only with `label from`: the visits' labels as the data give them (checked: SAP266).
    if checked.plan.visits is not None and checked.plan.visits.label_from is not None:
        from sap_engine.data.visit_labels import read_visit_labels

        visit_labels, _ = read_visit_labels(checked.plan, checked.datasets)
        meta["visit_labels"] = json.dumps(visit_labels, sort_keys=True)
    table = ard.to_table(results.rows, meta)

    def produce(staging: Path) -> list[Path]:
        ard.write(table, staging / "ard.parquet")
        return [staging / "ard.parquet",
                *document.render_documents(checked.plan, table, staging, jobs=jobs)]

    files = _write_outputs(target, out_dir, produce)
    return RunResult(out_dir, files, table.num_rows, results.failures, results.notes)


def _write_outputs(target, out_dir: Path, produce: Callable[[Path], list[Path]]) -> list[Path]:
    """Write the outputs into a staging folder with ``produce`` and move it into place
    (see :mod:`sap_engine.outputs`); the paths of the files as they are then."""
    from sap_engine import outputs

    try:
        staging = outputs.new_staging(target)
    except OSError as exc:
        raise OutputError(_output_problem(out_dir, exc)) from None
    try:
        files = produce(staging)
        outputs.commit(staging, target, files)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(_output_problem(out_dir, exc)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out_dir / f.relative_to(staging) for f in files]


def _output_problem(out_dir: Path, exc: OSError) -> Diagnostic:
    return Diagnostic("SAP501", f"cannot write outputs to {out_dir}: {exc.strerror or exc}")


# ---- render: the documents again, from an ARD and its plan


@dataclass
class RenderResult:
    out_dir: Path
    files: list[Path]
    n_rows: int
    recorded_failures: list[Diagnostic]  # the run's, as the ARD records them
    recorded_warnings: list[Diagnostic]
    notes: list[Diagnostic] = field(default_factory=list)  # warnings of the render itself


def render_plan(ard_path: str | Path, plan_path: str | Path, out: str | Path | None = None,
                jobs: int | None = None) -> RenderResult:
    """Rebuild the documents of a run from its ARD file and its plan, without the data.

    The plan must be the one the ARD was produced from (its SHA-256 is recorded): another
    is refused (SAP509), since the document would set one plan's titles and footnotes over
    another's numbers. An unreadable file, or one that is not an sap-engine ARD, is SAP510;
    an ARD of another engine version is rendered with a warning (SAP511). ``out`` (default
    ``out/<plan name>``) gets a copy of the ARD and the documents, written atomically like
    :func:`run_plan`; it may be the ARD's own folder. The documents are byte-identical to
    the run's (the template and any reproduction map are read again, as they are now).
    """
    from sap_engine import ard, outputs, workers
    from sap_engine.render import document

    jobs = workers.default_jobs() if jobs is None else max(1, jobs)
    out_dir = Path(out) if out else Path("out") / Path(plan_path).stem
    target = outputs.prepare(out_dir)
    stored = ard.load(ard_path)  # read whole before the target is replaced: it may be in it
    plan = parse_file(plan_path)
    notes = ard.plan_matches(stored, plan)

    def produce(staging: Path) -> list[Path]:
        (staging / "ard.parquet").write_bytes(stored.data)
        try:
            written = document.render_documents(plan, stored.table, staging, jobs=jobs)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ard.rows_do_not_fit(ard_path, exc) from exc
        return [staging / "ard.parquet", *written]

    files = _write_outputs(target, out_dir, produce)
    return RenderResult(out_dir, files, stored.table.num_rows, stored.failures,
                        stored.warnings, notes)


CONVERT_SUFFIXES = (".json", ".ndjson", ".parquet")


def convert_data(source: str | Path, target: str | Path, name: str | None = None,
                 label: str = "", keys: tuple[str, ...] = ()) -> Path:
    """Read a data file of any format a plan reads (CSV, Parquet, SAS XPORT, SAS7BDAT,
    Dataset-JSON) and write it as Dataset-JSON v1.1 (``.json``, ``.ndjson``) or Parquet,
    variable labels kept (``sap-run convert``). ``name`` is the Dataset-JSON dataset name
    (default: the file's name in capitals), ``label`` its description, ``keys`` its key
    columns; its creation time is SOURCE_DATE_EPOCH when set. The file appears whole or
    not at all (written beside, then renamed)."""
    import os

    from sap_engine.ard import creation_time
    from sap_engine.data.sources import Dataset
    from sap_engine.errors import DataError

    src, dst = Path(source), Path(target)
    if dst.suffix.lower() not in CONVERT_SUFFIXES:
        raise OutputError(Diagnostic("SAP325", f"cannot convert to {dst.name}: write a "
                                               ".json, .ndjson or .parquet file"))
    dataset = Dataset(m.Source(src.stem, "file", str(src)), src.resolve(), str(src))
    try:
        table = dataset.table()
    except DataError as exc:  # located at the file itself: there is no plan line
        raise DataError([replace(d, location=None) for d in exc.diagnostics]) from None
    missing = [k for k in keys if k not in table.column_names]
    if missing:
        raise DataError(Diagnostic("SAP309", f"{src.name} has no key column "
                                             f"{', '.join(missing)}"))
    tmp = dst.with_name(f".{dst.name}.tmp")
    try:
        if dst.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        else:
            from sap_engine.data.datasetjson import write_dataset_json

            # SOURCE_DATE_EPOCH, when set, makes the file byte-reproducible (as the ARD).
            write_dataset_json(table, tmp, name=name or src.stem.upper(), label=label,
                               keys=keys, created=creation_time(),
                               ndjson=dst.suffix.lower() == ".ndjson")
        os.replace(tmp, dst)
    except ValueError as exc:  # a column Dataset-JSON cannot hold
        tmp.unlink(missing_ok=True)
        raise OutputError(Diagnostic("SAP326", f"cannot write {src.name} as Dataset-JSON: "
                                               f"{exc}")) from None
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(Diagnostic("SAP325", f"cannot write {dst}: "
                                               f"{exc.strerror or type(exc).__name__}")) \
            from None
    return dst
# ---- diff: two ARDs compared statistic by statistic (QC, double programming)


@dataclass
class DiffResult:
    comparison: Comparison
    files: list[Path]  # [OUT/diff.html] with ``out``, else []
    notes: list[Diagnostic] = field(default_factory=list)  # warnings (SAP534)


def diff_ards(a_path: str | Path, b_path: str | Path, tol: float = 1e-8,
              out: str | Path | None = None) -> DiffResult:
    """Compare two ARDs by key (see :mod:`sap_engine.qc_diff` for the tolerance rule);
    with ``out``, write ``out/diff.html`` atomically. ``out`` may be new, empty, or a
    folder an earlier diff wrote; never a run's results folder (SAP535), which the diff's
    one page would replace. Bad input is OutputError SAP531-SAP533, nothing written."""
    from sap_engine import ard, outputs, qc_diff, qc_report

    created = ard.creation_time()  # the page's "Compared" time (SOURCE_DATE_EPOCH)
    target = None
    if out is not None:
        target = outputs.prepare(out)
        marker = outputs.read_marker(target.path) if target.mode == "replace" else None
        if marker is not None and sorted(marker["files"]) != ["diff.html"]:
            raise OutputError(Diagnostic(
                "SAP535", f"output folder {out} holds the results of a run, not of a diff: "
                          "the diff would replace them; name another folder (nothing was "
                          "changed)"))
    a, b = qc_diff.load(a_path), qc_diff.load(b_path)
    comparison = qc_diff.compare(a, b, tol)
    files: list[Path] = []
    if target is not None and out is not None:
        page = qc_report.html(comparison, created)

        def produce(staging: Path) -> list[Path]:
            (staging / "diff.html").write_bytes(page)
            return [staging / "diff.html"]

        files = _write_outputs(target, Path(out), produce)
    return DiffResult(comparison, files, [*a.notes, *b.notes])
