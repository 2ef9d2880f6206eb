"""The Python API behind ``sap-run``: a notebook user calls the same functions.

>>> from sap_engine.api import check_plan
>>> checked = check_plan("tests/fixtures/mini/mini.sap")
>>> sorted(checked.plan.analyses)[:3]
['D1', 'D1_obs', 'D1s']
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sap_engine import model as m
from sap_engine.check import CheckedPlan, check_names
from sap_engine.errors import AnalysisError, Diagnostic, OutputError
from sap_engine.parse import parse_file


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

    return explain_steps(compile_plan(check_plan(path, data_root)), str(path))


def execute_plan(checked: CheckedPlan, jobs: int = 1, while_waiting=None):
    """Compile and execute a checked plan: the ARD rows and any analysis failures.

    ``jobs`` > 1 spreads the analyses over that many worker processes; the rows are the
    same, in the same order, as with one job."""
    from sap_engine.execute import execute

    return execute(checked, jobs=jobs, while_waiting=while_waiting)


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
    from sap_engine.render.document import render_documents
    from sap_engine.render.figures import preload

    jobs = workers.default_jobs() if jobs is None else max(1, jobs)
    created = ard.creation_time()  # a malformed SOURCE_DATE_EPOCH fails before any work
    out_dir = Path(out) if out else Path("out") / Path(path).stem
    # Refuse an unusable folder now, not after minutes of computing; recover first what a
    # killed run left, even when this run then fails its checks.
    target = outputs.prepare(out_dir)
    # With keep_going an analysis the data cannot support fails alone, in the executor.
    checked = check_plan(path, data_root, analyses=not keep_going)
    # While the workers compute, this process loads the plotting library the figures need.
    results = execute_plan(checked, jobs, while_waiting=preload if checked.plan.figures
                           else None)
    if results.failures and not keep_going:
        raise AnalysisError(results.failures)
    meta = ard.provenance(checked.plan.path, checked.plan.text, checked.datasets,
                          command=command, created=created)
    table = ard.to_table(results.rows, meta)
    try:
        staging = outputs.new_staging(target)
    except OSError as exc:
        raise OutputError(_output_problem(out_dir, exc)) from None
    try:
        ard.write(table, staging / "ard.parquet")
        files = [staging / "ard.parquet"]
        files += render_documents(checked, table, results, staging, jobs=jobs)
        outputs.commit(staging, target, files)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(_output_problem(out_dir, exc)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RunResult(out_dir, [out_dir / f.relative_to(staging) for f in files], table.num_rows,
                     results.failures, results.notes)


def _output_problem(out_dir: Path, exc: OSError) -> Diagnostic:
    return Diagnostic("SAP501", f"cannot write outputs to {out_dir}: {exc.strerror or exc}")
