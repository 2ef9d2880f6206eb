"""The fuzz harness: plan-aware mutators, an isolated runner and the outcome catalogue.

Shared by the bounded test in the suite (``tests/test_fuzz.py``) and the long campaign
(``bench/fuzz_campaign.py``); docs/robustness.md describes the method.

- **Cases** and **mutators**: tests/fuzz_mutators.py (a case is its seed and index; the
  mutators know a plan's shape, and some what the mutated plan must give).
- **The runner** forks one child per case from a parent that has already imported the
  engine (a case costs a fork and a check, not an interpreter start). The child runs under
  an address-space limit, an output-file-size limit and a watchdog that dumps its stack;
  the parent kills it at a hard deadline. stdout and stderr go to files.
- **The catalogue** (``classify``): exit 0 (warnings allowed), or exit 2 with at least one
  located ``error[SAPnnn]`` (plan file:line:col or a data file), the quoted source line
  being the plan's own line. Anything else (exit 3, a traceback, a Python warning, a hang,
  memory exhaustion, a crash, an unlocated error, huge output, a broken oracle) is a
  failure with a *signature* that groups cases failing in the same place.
"""

from __future__ import annotations

import faulthandler
import io
import os
import re
import resource
import shutil
import signal
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from fuzz_mutators import (
    CONTROLS,
    MUTATORS,
    ROOT,
    SEED_PLANS,
    Case,
    Mutation,
    NotApplicable,
    PlanText,
    make_case,
)

__all__ = ["CONTROLS", "MUTATORS", "ROOT", "SEED_PLANS", "Case", "Mutation", "NotApplicable",
           "PlanText", "make_case", "make_tree", "warm_up", "run_cases", "classify", "Outcome",
           "Verdict", "plan_lines", "case_plan_path"]

# The files the seed plans read, copied into a private tree so a case can neither see nor
# damage the working copy; the layout is kept, so the plans' relative paths resolve as they
# do in the repository.
TREE = ("plans", "data/proderm", "tests/fixtures/mini", "studies/proderm/published.json")

CHECK_TIMEOUT = 30.0  # seconds; a check of a shipped plan takes well under one
RUN_TIMEOUT = 120.0
# Address space a check, and a run, may add to what the forked child inherits (the engine and
# its libraries; inside a long test session the parent may have grown well past 1 GiB): a plan
# that makes the engine grow without bound fails fast.
CHECK_MEMORY_LIMIT = 3 << 29
MEMORY_LIMIT = 5 << 29
OUTPUT_LIMIT = 64 << 20  # bytes per output file: more is "unbounded output"
HUGE_OUTPUT = 1 << 20  # stderr above this is a finding (issue 8 point 11)
HUGE_MEMORY = 3 << 29  # resident memory above 1.5 GiB is a finding (a check needs < 0.4 GiB)


# ---- the isolated runner -----------------------------------------------------------------

def make_tree(dest: Path) -> Path:
    """A private copy of the files the seed plans read, in the repository's layout."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel in TREE:
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def case_plan_path(case: Case) -> str:
    """The mutated plan's path, relative to the tree: beside its seed plan."""
    seed = Path(SEED_PLANS[case.plan])
    return str(seed.with_name(f"fuzz_{case.seed}_{case.index}.sap"))


def warm_up(run: bool = False) -> None:
    """Import in the parent what a case needs, so each child starts with it loaded."""
    import sap_engine

    if Path(sap_engine.__file__).resolve().parents[1] != ROOT:  # fuzz this copy, no other
        raise RuntimeError(f"sap_engine imported from {sap_engine.__file__}, not {ROOT}")
    import sap_engine.api  # noqa: F401
    import sap_engine.check  # noqa: F401
    import sap_engine.cli  # noqa: F401
    import sap_engine.data.sources  # noqa: F401
    from sap_engine.parse import parser

    parser()
    if run:
        os.environ.setdefault("MPLBACKEND", "Agg")
        import sap_engine.execute  # noqa: F401
        import sap_engine.render.document  # noqa: F401
        import sap_engine.render.figures as figures

        figures.preload()


@dataclass
class Outcome:
    """What one command of one case did."""

    command: str
    rc: int | None  # None: killed (see ``killed``)
    stdout: str
    stderr: str
    killed: str = ""  # "timeout", "SIGSEGV", ...
    hang_stack: str = ""  # the watchdog's stack dump of a case that hung
    exception: str = ""  # the traceback of an exception that reached the CLI's catch-all
    stderr_bytes: int = 0
    seconds: float = 0.0
    max_rss: int = 0  # bytes, of the whole case


_DEFAULT_WARNINGS = [("default", DeprecationWarning, "__main__"),
                     ("ignore", DeprecationWarning, None),
                     ("ignore", PendingDeprecationWarning, None),
                     ("ignore", ImportWarning, None), ("ignore", ResourceWarning, None)]


def _address_space() -> int:
    """This process's virtual memory size in bytes (Linux /proc; 0 where unknown)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _child(case_dir: Path, tree: Path, commands: list[list[str]], timeouts: list[float]) -> None:
    """In the forked child: limits, redirections, the CLI; never returns."""
    rc = 70
    try:
        os.setsid()  # its own process group: the parent can kill it and anything it starts
        inherited = _address_space()
        resource.setrlimit(resource.RLIMIT_AS, (inherited + CHECK_MEMORY_LIMIT,
                                                inherited + MEMORY_LIMIT))
        resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_LIMIT, OUTPUT_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        os.chdir(tree)
        # Interpreter defaults, not the test runner's filters: a warning a user would see on
        # stderr is seen here too.
        warnings.resetwarnings()
        for action, category, module in _DEFAULT_WARNINGS:
            warnings.filterwarnings(action, category=category, module=module or "")
        from sap_engine import cli
        from sap_engine.errors import SapError

        for n, (argv, timeout) in enumerate(zip(commands, timeouts)):
            if argv[0] == "run":
                resource.setrlimit(resource.RLIMIT_AS, (inherited + MEMORY_LIMIT,
                                                        inherited + MEMORY_LIMIT))
            out = os.open(case_dir / f"{n}.stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            err = os.open(case_dir / f"{n}.stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, 1)
            os.dup2(err, 2)
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                          errors="backslashreplace", line_buffering=False)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                          errors="backslashreplace", line_buffering=True)
            hang = open(case_dir / f"{n}.hang", "w")  # noqa: SIM115 (kept open for the dump)
            faulthandler.dump_traceback_later(timeout, exit=True, file=hang)
            exc_file = case_dir / f"{n}.exception"
            _record_exceptions(cli, SapError, exc_file)
            rc = cli.main(argv)
            faulthandler.cancel_dump_traceback_later()
            sys.stdout.flush()
            sys.stderr.flush()
            (case_dir / f"{n}.rc").write_text(str(rc))
            if rc != 0:
                break
    except SystemExit as exc:  # argparse
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # the harness itself: report it as a crash of the case
        try:
            (case_dir / "harness.txt").write_text(traceback.format_exc())
        except BaseException:
            pass
        rc = 71
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(rc if isinstance(rc, int) else 70)


def _record_exceptions(cli, sap_error, path: Path) -> None:
    """Wrap the CLI's commands so an exception that is not a SapError leaves its traceback
    in ``path`` (the CLI then turns it into "internal error", exit 3, as for a user)."""
    for name in ("_cmd_check", "_cmd_run"):
        original = getattr(cli, name)
        original = getattr(original, "__wrapped__", original)

        def wrapped(args, _original=original):
            try:
                return _original(args)
            except sap_error:
                raise
            except BaseException as exc:
                try:  # the innermost engine frame first: a deep recursion fills the rest
                    if isinstance(exc, MemoryError):  # free what the frames hold first
                        traceback.clear_frames(exc.__traceback__)
                    frames = traceback.extract_tb(exc.__traceback__)
                    engine = [f for f in frames if "sap_engine" in f.filename] or frames
                    text = traceback.format_exc()
                    path.write_text(f'{ENGINE_FRAME} File "{engine[-1].filename}", line '
                                    f"{engine[-1].lineno}, in {engine[-1].name}\n"
                                    + (text if len(text) < 20000 else
                                       text[:8000] + "\n...\n" + text[-8000:]))
                except BaseException:
                    pass
                raise

        wrapped.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(cli, name, wrapped)


def _read(path: Path, limit: int = HUGE_OUTPUT * 2) -> tuple[str, int]:
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            data = f.read(limit)
    except FileNotFoundError:
        return "", 0
    return data.decode("utf-8", errors="replace"), size


@dataclass
class _Running:
    case: Case
    pid: int
    case_dir: Path
    commands: list[list[str]]
    deadline: float
    started: float


def run_cases(cases, tree: Path, work: Path, jobs: int = 1, check_timeout: float = CHECK_TIMEOUT,
              run_timeout: float = RUN_TIMEOUT):
    """Run every case in a forked child, at most ``jobs`` at a time; yield (case, outcomes).

    Results come in completion order. The case folder (plan file aside) is removed after
    its outcomes are read; the mutated plan file is removed too."""
    cases = iter(cases)
    running: dict[int, _Running] = {}
    try:
        yield from _run_loop(cases, running, tree, work, jobs, check_timeout, run_timeout)
    finally:  # closed early (a time budget, an interrupt): no child outlives the parent
        for pid, r in running.items():
            _kill(pid)
            os.waitpid(pid, 0)
            shutil.rmtree(r.case_dir, ignore_errors=True)
            (tree / case_plan_path(r.case)).unlink(missing_ok=True)


def _run_loop(cases, running, tree, work, jobs, check_timeout, run_timeout):
    exhausted = False
    while True:
        while not exhausted and len(running) < jobs:
            case = next(cases, None)
            if case is None:
                exhausted = True
                break
            running_case = _start(case, tree, work, check_timeout, run_timeout)
            running[running_case.pid] = running_case
        if not running:
            return
        finished = None
        for pid, r in list(running.items()):
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                finished = (r, status, usage.ru_maxrss * 1024)
                break
            if time.monotonic() > r.deadline:
                _kill(pid)
                _, status, usage = os.wait4(pid, 0)
                finished = (r, -1, usage.ru_maxrss * 1024)
                break
        if finished is None:
            time.sleep(0.002)
            continue
        r, status, max_rss = finished
        del running[r.pid]
        outcomes = _collect(r, status, max_rss)
        shutil.rmtree(r.case_dir, ignore_errors=True)
        (tree / case_plan_path(r.case)).unlink(missing_ok=True)
        yield r.case, outcomes


def _start(case: Case, tree: Path, work: Path, check_timeout: float,
           run_timeout: float) -> _Running:
    plan = case_plan_path(case)
    (tree / plan).write_bytes(case.content)
    case_dir = work / f"case_{case.seed}_{case.index}"
    shutil.rmtree(case_dir, ignore_errors=True)
    case_dir.mkdir(parents=True)
    commands = [["check", plan]]
    timeouts = [check_timeout]
    if case.run:
        commands.append(["run", plan, "--jobs", "1", "--out", str(case_dir / "out")])
        timeouts.append(run_timeout)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(case_dir, tree, commands, timeouts)
    started = time.monotonic()
    return _Running(case, pid, case_dir, commands, started + sum(timeouts) + 15, started)


def _kill(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def _collect(r: _Running, status: int, max_rss: int) -> list[Outcome]:
    outcomes = []
    elapsed = time.monotonic() - r.started
    for n, argv in enumerate(r.commands):
        stdout, _ = _read(r.case_dir / f"{n}.stdout")
        stderr, size = _read(r.case_dir / f"{n}.stderr")
        rc_file = r.case_dir / f"{n}.rc"
        hang, _ = _read(r.case_dir / f"{n}.hang")
        exception, _ = _read(r.case_dir / f"{n}.exception")
        if rc_file.exists():
            rc: int | None = int(rc_file.read_text())
            killed = ""
        elif not (r.case_dir / f"{n}.stderr").exists():
            break  # never started: an earlier command failed
        else:
            rc, killed = _status(status)
            if hang:
                killed = "timeout"
            harness, _ = _read(r.case_dir / "harness.txt")
            if harness:
                exception = exception or harness
        outcomes.append(Outcome(argv[0], rc, stdout, stderr, killed, hang, exception, size,
                                elapsed, max_rss))
        if rc_file.exists() and rc != 0:
            break
    return outcomes


def _status(status: int) -> tuple[int | None, str]:
    if status == -1:
        return None, "timeout"
    if os.WIFSIGNALED(status):
        return None, signal.Signals(os.WTERMSIG(status)).name
    return os.WEXITSTATUS(status), ""


# ---- the catalogue -------------------------------------------------------------------------

_DIAG = re.compile(r"^(?P<head>.*?)(?P<sev>error|warning)\[(?P<code>SAP\d{3})\]: (?P<msg>.*)$",
                   re.M)
_PLAN_LOC = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): $")
_TRACEBACK = "Traceback (most recent call last)"
_PY_WARNING = re.compile(r"^\S.*:\d+: (?P<cat>[A-Z]\w*Warning): (?P<msg>.*)$", re.M)
ENGINE_FRAME = "innermost engine frame:"
# tracebacks say 'line N, in f'; faulthandler's dumps 'line N in f', most recent call first
_ENGINE_FRAME = re.compile(r'File "(?P<file>[^"]*sap_engine/[^"]*)", line (?P<line>\d+),? '
                           r"in (?P<func>\S+)")
_ANY_FRAME = re.compile(r'File "(?P<file>[^"]*)", line (?P<line>\d+),? in (?P<func>\S+)')


@dataclass
class Verdict:
    """The catalogued outcome of a case ("ok", "error") or a failure and its signature."""

    outcome: str  # ok | error | a failure kind
    signature: str  # equal for cases that fail in the same place; the outcome when not failed
    codes: list[str]  # the error codes reported (check, then run)
    detail: str = ""
    notes: list[str] = field(default_factory=list)  # informational findings (not failures)

    @property
    def failed(self) -> bool:
        return self.outcome not in ("ok", "error")


def plan_lines(content: bytes) -> list[str] | None:
    """The plan's lines as the engine reads them (UTF-8, universal newlines), or None."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _frame(trace: str) -> str:
    """``module.py:function`` of the innermost engine frame of a traceback or stack dump."""
    first = trace.startswith(ENGINE_FRAME) or "most recent call first" in trace
    for pattern in (_ENGINE_FRAME, _ANY_FRAME):
        frames = pattern.findall(trace)
        if frames:
            file, _, func = frames[0] if first else frames[-1]
            module = file.split("sap_engine/")[-1] if "sap_engine/" in file else Path(file).name
            return f"{module}:{func}"
    return "?"


def _exception_type(trace: str, stderr: str) -> str:
    m = re.search(r"internal error: (\w+)", stderr)
    if m:
        return m.group(1)
    lines = [ln for ln in trace.strip().split("\n") if ln and not ln.startswith(" ")]
    return lines[-1].split(":")[0] if lines else "?"


def check_diagnostics(stderr: str, plan_path: str, lines: list[str] | None) -> tuple[list[str],
                                                                                     list[str]]:
    """(codes of the errors, problems with them): an error without a location, a plan
    location outside the plan, a quoted source line that is not the plan's line."""
    codes, problems = [], []
    text_lines = stderr.split("\n")  # "\n" only: a quoted line may hold \f, \v or U+2028
    index = {}
    pos = 0
    for i, ln in enumerate(text_lines):
        index[pos] = i
        pos += len(ln) + 1
    for m in _DIAG.finditer(stderr):
        if m.group("sev") != "error":
            continue
        code, head = m.group("code"), m.group("head")
        codes.append(code)
        if not head.strip():
            problems.append(f"unlocated:{code}")
            continue
        loc = _PLAN_LOC.match(head)
        if not loc or lines is None or Path(loc.group("file")).name != Path(plan_path).name:
            continue  # a data location, or another file
        line = int(loc.group("line"))
        if not 1 <= line <= len(lines) + 1:
            problems.append(f"location-outside-plan:{code}")
            continue
        i = index.get(m.start())
        quoted = text_lines[i + 1] if i is not None and i + 1 < len(text_lines) else ""
        if not quoted.startswith("  | "):
            continue
        want = lines[line - 1] if line <= len(lines) else ""
        if not _same_source_line(quoted[4:], want):
            problems.append(f"wrong-source-line:{code}")
    return codes, problems


def classify(case: Case, outcomes: list[Outcome], plan_path: str) -> Verdict:
    """The verdict on one case (see the module docstring for the catalogue)."""
    lines = plan_lines(case.content)
    codes: list[str] = []
    notes: list[str] = []
    check = outcomes[0] if outcomes else None
    for out in outcomes:
        where = out.command
        if out.killed == "timeout":
            return Verdict("hang", f"hang:{where}@{_frame(out.hang_stack)}", codes,
                           out.hang_stack[-2000:])
        if out.killed:
            return Verdict("crash", f"crash:{where}:{out.killed}", codes, out.stderr[-2000:])
        if out.stderr_bytes > HUGE_OUTPUT:
            return Verdict("huge-output", f"huge-output:{where}", codes,
                           f"{out.stderr_bytes} bytes of stderr")
        # the peak memory is the whole case's: it belongs to the last command run
        if ("MemoryError" in out.stderr or "MemoryError" in out.exception
                or (out is outcomes[-1] and out.max_rss > HUGE_MEMORY)):
            return Verdict("memory", f"memory:{where}@{_frame(out.exception)}", codes,
                           out.exception[-2000:])
        if out.rc == 3 or out.exception:
            kind = _exception_type(out.exception, out.stderr)
            return Verdict("exit3", f"exit3:{where}:{kind}@{_frame(out.exception)}", codes,
                           (out.exception or out.stderr)[-3000:])
        if _TRACEBACK in out.stderr:
            return Verdict("traceback", f"traceback:{where}@{_frame(out.stderr)}", codes,
                           out.stderr[-3000:])
        w = _PY_WARNING.search(out.stderr)
        if w:
            msg = re.sub(r"\d+", "N", w.group("msg"))[:60]
            return Verdict("python-warning", f"python-warning:{where}:{w.group('cat')}:{msg}",
                           codes, out.stderr[-2000:])
        if out.rc not in (0, 2):
            return Verdict("bad-exit", f"exit{out.rc}:{where}", codes, out.stderr[-2000:])
        found, problems = check_diagnostics(out.stderr, plan_path, lines)
        codes += found
        errors = [m for m in _DIAG.finditer(out.stderr) if m.group("sev") == "error"]
        if out.rc == 2 and not any(m.group("head").strip() for m in errors):
            return Verdict("unlocated", f"unlocated:{where}:{','.join(found) or 'no-code'}",
                           codes, out.stderr[-2000:])
        for problem in problems:
            kind = problem.split(":")[0]
            if kind == "unlocated":
                notes.append(f"{problem} ({where})")
            else:
                return Verdict(kind, f"{problem}:{_control_class(case)}", codes,
                               out.stderr[-2000:])
    if check is None:
        return Verdict("harness", "harness:no-outcome", codes)
    if len(outcomes) > 1 and check.rc == 0 and outcomes[1].rc == 2:
        run_codes = sorted({c for c in codes})
        notes.append(f"run-only-error:{','.join(run_codes)}")
    final = outcomes[-1]
    outcome = "ok" if final.rc == 0 else "error"
    oracle = case.expect
    if oracle and oracle.expect == "error" and check.rc == 0:
        return Verdict("accepted-invalid", f"accepted-invalid:{oracle.name}", codes,
                       f"{oracle.detail} (issue 8 point {oracle.point})", notes)
    if oracle and oracle.expect == "ok" and check.rc != 0:
        return Verdict("rejected-valid", f"rejected-valid:{oracle.name}:{','.join(codes)}",
                       codes, check.stderr[-2000:], notes)
    return Verdict(outcome, outcome, codes, "", notes)


def _same_source_line(quoted: str, want: str) -> bool:
    """The quoted line is the plan's line, or (a long line) a window of it cut at "..."."""
    quoted, want = quoted.rstrip().lstrip("\ufeff"), want.rstrip().lstrip("\ufeff")
    if quoted == want:
        return True
    inner = quoted.removeprefix("...").removesuffix("...")
    return inner != quoted and len(inner) > 0 and inner in want


def _control_class(case: Case) -> str:
    """The unusual characters a plan holds (for a wrong-source-line signature)."""
    text = case.content.decode("utf-8", errors="replace")
    found = sorted({repr(c) for c in CONTROLS if c in text and c not in "\t"})
    return "+".join(found) or "plain"
