"""``sap-run``: the command line, a thin shell over :mod:`sap_engine.api`.

Exit codes: 0 success; 1 ``fmt --check`` found a file to reformat, or ``diff`` found the
two ARDs to differ; 2 a plan, data or
analysis error (printed as ``file:line:col: error[CODE]: message``, at most the first 50
with a count of the rest, never a traceback unless ``--debug``); 3 only for a bug in the
engine ("internal error"). argparse (standard library) keeps a cold ``sap-run check`` fast:
the heavy modules (pandas, scipy) are imported only by ``run``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from sap_engine import __version__
from sap_engine.errors import Diagnostic, SapError, render_diagnostics

EXIT_CODES = """exit codes:
  0  success (diff: the ARDs agree within the tolerance)
  1  fmt --check: a file would be reformatted; diff: the ARDs differ
  2  an error in the plan, its data, an analysis or an input file (code SAPnnn, located)
  3  an internal error: a bug in sap-engine (rerun with --debug and report it)"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sap-run",
        description="Check, run, render and format statistical analysis plans (.sap files).",
        epilog="Example: sap-run run plans/prodrem.sap   (outputs in out/prodrem/)\n\n"
               + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"sap-run {__version__}")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    c = sub.add_parser("check", help="check a plan against its data without running it")
    c.add_argument("plan", type=Path)
    _data_root_option(c)
    r = sub.add_parser("run", help="run a plan: ARD (Parquet) and results documents")
    r.add_argument("plan", type=Path)
    _data_root_option(r)
    r.add_argument("--out", type=Path, default=None,
                   help="output folder (default: out/<plan name>)")
    r.add_argument("--jobs", "-j", type=_positive_int, default=None, metavar="N",
                   help="worker processes for analyses and figures (default: one per "
                        "available core; 1 runs everything in one process). The results "
                        "do not depend on it.")
    r.add_argument("--keep-going", action="store_true",
                   help="write the results of the analyses that succeeded even when others "
                        "failed (the failures are listed in the document; exit code 2)")
    e = sub.add_parser("explain", help="check a plan and print its compiled steps: roles, "
                                       "options and where each came from")
    e.add_argument("plan", type=Path)
    _data_root_option(e)
    d = _render_parser(sub)
    q = _diff_parser(sub)
    f = sub.add_parser("fmt", help="rewrite a plan in the canonical layout")
    f.add_argument("plan", type=Path, nargs="+")
    f.add_argument("--check", action="store_true",
                   help="only report files that would change (exit 1 if any)")
    v = _convert_parser(sub)
    i = _import_parser(sub)
    for command in (c, r, e, d, q, f, v, i):
        # `sap-run run --debug` as well as `sap-run --debug run` (the internal-error hint
        # says "rerun with --debug"); SUPPRESS keeps a --debug given before the command.
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show Python tracebacks on errors")
    return p


def _render_parser(sub) -> argparse.ArgumentParser:
    d = sub.add_parser("render", help="rebuild the documents of a run from its ARD and plan "
                                      "(no data needed)")
    d.add_argument("ard", type=Path, help="the ard.parquet a run wrote")
    d.add_argument("plan", type=Path, help="the plan the ARD was produced from")
    d.add_argument("--out", type=Path, default=None,
                   help="output folder (default: out/<plan name>); it gets the ARD and the "
                        "documents")
    d.add_argument("--jobs", "-j", type=_positive_int, default=None, metavar="N",
                   help="worker processes for the figures (default: one per available core)")
    return d


def _convert_parser(sub) -> argparse.ArgumentParser:
    v = sub.add_parser("convert", help="write a data file (CSV, Parquet, SAS XPORT, SAS7BDAT, "
                                       "Dataset-JSON) as CDISC Dataset-JSON v1.1 or Parquet")
    v.add_argument("source", type=Path, help="the data file to read")
    v.add_argument("target", type=Path, help="the file to write: .json, .ndjson (Dataset-JSON) "
                                             "or .parquet")
    v.add_argument("--name", default=None, help="the dataset's name (default: the source "
                                                "file's name in capitals)")
    v.add_argument("--label", default="", help="the dataset's label (description)")
    v.add_argument("--key", default="", metavar="COLS",
                   help="its key columns, comma-separated (Dataset-JSON keySequence)")
    return v
def _diff_parser(sub) -> argparse.ArgumentParser:
    q = sub.add_parser("diff", help="compare two ARDs statistic by statistic (QC, double "
                                    "programming); exit 1 if they differ")
    q.add_argument("a", type=Path, metavar="A", help="the reference ARD (production)")
    q.add_argument("b", type=Path, metavar="B", help="the ARD compared with it (QC)")
    q.add_argument("--tol", type=_tolerance, default=1e-8, metavar="TOL",
                   help="values agree when |A - B| <= TOL * max(1, |A|, |B|) (default 1e-8)")
    q.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="folder for diff.html, the comparison as a page (written whole)")
    return q


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {text!r}")
    return value


def _import_parser(sub) -> argparse.ArgumentParser:
    i = sub.add_parser("import-ars", help="write a plan from a CDISC ARS v1.0 ReportingEvent "
                                          "(JSON); lists the analyses it cannot express")
    i.add_argument("file", type=Path, help="the ARS ReportingEvent (.json)")
    i.add_argument("--out", type=Path, default=None, metavar="PLAN.sap",
                   help="the plan to write (default: <file name>.sap here; never overwritten)")
    return i


def _data_root_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", type=Path, default=None, metavar="DIR",
                   help="folder the plan's data files must lie in (default: the current "
                        "folder or the plan's folder, with their sub-folders)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _cmd_check(args) -> int:
    from sap_engine.api import check_plan

    checked = check_plan(args.plan, args.data_root)
    plan = checked.plan
    print(f"{args.plan}: ok ({len(plan.analyses)} analyses, {len(plan.tables)} tables, "
          f"{len(checked.datasets)} datasets)")
    if checked.not_estimable:  # warnings: the plan checks, but these analyses will not run
        print(render_diagnostics(list(checked.not_estimable.values())), file=sys.stderr)
    if checked.warnings:
        print(render_diagnostics(checked.warnings), file=sys.stderr)
    return 0


def _cmd_run(args) -> int:
    from sap_engine.api import run_plan

    start = time.perf_counter()
    result = run_plan(args.plan, args.out, keep_going=args.keep_going, command=sys.argv,
                      jobs=args.jobs, data_root=args.data_root)
    elapsed = time.perf_counter() - start
    print(f"{args.plan}: {result.n_rows} results in {elapsed:.2f} s")
    for path in result.files:
        print(f"  {path}")
    if result.notes:
        print(render_diagnostics(result.notes), file=sys.stderr)
    if result.failures:
        print(render_diagnostics(result.failures), file=sys.stderr)
        return 2
    return 0


def _cmd_explain(args) -> int:
    from sap_engine.api import explain_plan

    sys.stdout.write(explain_plan(args.plan, args.data_root))
    return 0


def _cmd_render(args) -> int:
    from sap_engine.api import render_plan

    result = render_plan(args.ard, args.plan, args.out, jobs=args.jobs)
    print(f"{args.ard}: {result.n_rows} results rendered")
    for path in result.files:
        print(f"  {path}")
    if result.notes:
        print(render_diagnostics(result.notes), file=sys.stderr)
    recorded = [(len(result.recorded_failures), "analysis that could not be computed",
                 "analyses that could not be computed"),
                (len(result.recorded_warnings), "warning", "warnings")]
    for n, one, many in recorded:
        if n:
            print(f"note: the ARD records {n} {one if n == 1 else many}; the document lists "
                  f"{'it' if n == 1 else 'them'}", file=sys.stderr)
    return 0


def _cmd_convert(args) -> int:
    from sap_engine.api import convert_data

    keys = tuple(k.strip() for k in args.key.split(",") if k.strip())
    path = convert_data(args.source, args.target, args.name, args.label, keys)
    print(f"{args.source}: written as {path}")
    return 0
def _cmd_diff(args) -> int:
    from sap_engine.api import diff_ards
    from sap_engine.qc_report import text

    result = diff_ards(args.a, args.b, args.tol, args.out)
    if result.notes:
        print(render_diagnostics(result.notes), file=sys.stderr)
    sys.stdout.write(text(result.comparison))
    for path in result.files:
        print(f"  {path}")
    return 0 if result.comparison.identical else 1


def _cmd_import_ars(args) -> int:
    from sap_engine.ars_import import import_file

    result = import_file(args.file, args.out)
    t = result.translation
    print(f"{args.file}: {len(t.mapped)} analyses imported into {result.path}; "
          f"{len(t.unsupported)} not imported")
    for s in t.unsupported:
        print(f"  not imported: {s.ars_id} \"{s.name}\": {s.reason}")
    if not result.schema_checked:
        print("note: the ARS JSON Schema was not checked (jsonschema is not installed: "
              "pip install jsonschema)", file=sys.stderr)
    return 0


def _cmd_fmt(args) -> int:
    from sap_engine.fmt import format_plan
    from sap_engine.parse import parse_file, parse_text

    # Every plan is parsed and formatted before any is written: a plan with an error among
    # several leaves all of them as they were ("nothing was written" holds).
    changes = []
    for path in args.plan:
        plan = parse_file(path)
        text = format_plan(plan)
        if parse_text(text, str(path)).statements != plan.statements:  # never lose meaning
            raise RuntimeError(f"formatter changed the meaning of {path}")
        if text != plan.text:
            changes.append((path, text))
    for path, text in changes:
        if args.check:
            print(f"would reformat {path}")
        else:
            _write_plan(path, text)
            print(f"reformatted {path}")
    if args.check:
        return 1 if changes else 0
    return 0


def _write_plan(path: Path, text: str) -> None:
    """Replace a plan by its formatted text through a temporary file (never half-written)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        reason = (exc.strerror or type(exc).__name__).lower()
        raise SapError(Diagnostic(
            "SAP006", f"cannot write the formatted plan: {path} ({reason})")) from None


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    handler = {"check": _cmd_check, "run": _cmd_run, "explain": _cmd_explain,
               "render": _cmd_render, "convert": _cmd_convert, "diff": _cmd_diff,
               "import-ars": _cmd_import_ars,
               "fmt": _cmd_fmt}[args.command]
    try:
        return handler(args)
    except SapError as exc:
        if args.debug:
            raise
        print(exc.render(), file=sys.stderr)
        n = exc.count
        print(f"{n} error{'s' if n != 1 else ''}; nothing was written", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head`: not an error of ours
        sys.stderr.close()
        return 0
    except Exception as exc:  # an engine bug: say so plainly, point at --debug
        if args.debug:
            raise
        print(f"sap-run: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in sap-engine; rerun with --debug for the traceback and report "
              "it.", file=sys.stderr)
        return 3


def run() -> None:
    """The ``sap-run`` command: :func:`main`, then an immediate exit with its code.

    The interpreter's own shutdown is skipped (``os._exit``, after flushing the output):
    with its thread pools still winding down, pyarrow can abort the process there
    ("terminate called without an active exception", apache/arrow#34314), turning a
    finished run's exit code 0 or 2 into a SIGABRT. Everything the command writes is
    closed, and its worker pools shut down, before ``main`` returns.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
