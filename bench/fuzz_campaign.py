"""The long fuzz campaign: many mutated plans, a machine-readable summary, minimal reproducers.

    python bench/fuzz_campaign.py --cases 10000 --seed 1 [--jobs 2] [--out /tmp/sap-fuzz]

Same mutators, runner and catalogue as the bounded test in the suite (tests/fuzz_harness.py,
tests/test_fuzz.py); docs/robustness.md describes the method and records the findings.
Writes ``OUT/summary.json`` (counts per outcome, per error code and per mutator, every
distinct failure signature with its count and examples) and, per signature, a folder
``OUT/findings/NN-<signature>/`` with the first mutated plan, a minimised plan that still
fails the same way (statements, then lines, removed while the signature holds; a broken
oracle keeps the plan as mutated, its mutation being the reproducer) and how a fresh
``sap-run check`` process exits on it. Any case is reproduced from its seed and index:
``--only INDEX``. OUT defaults to a folder under /tmp, outside the repository.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this copy of the engine, and the harness

import fuzz_harness as fh  # noqa: E402

ORACLE_KINDS = ("accepted-invalid", "rejected-valid")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID`: summarise what has run
    out = Path(args.out) if args.out else Path(tempfile.gettempdir()) / f"sap-fuzz-seed{args.seed}"
    out.mkdir(parents=True, exist_ok=True)
    tree = fh.make_tree(out / "tree")
    work = out / "work"
    _record_engine()
    fh.warm_up(run=args.run_fraction > 0)
    indices = [args.only] if args.only is not None else range(args.start,
                                                               args.start + args.cases)
    cases = (fh.make_case(args.seed, i, run_fraction=args.run_fraction) for i in indices)
    started = time.time()
    tally = Tally()
    runner = fh.run_cases(cases, tree, work, jobs=args.jobs, check_timeout=args.timeout,
                          run_timeout=args.run_timeout)
    try:
        for n, (case, outcomes) in enumerate(runner, 1):
            verdict = fh.classify(case, outcomes, fh.case_plan_path(case))
            tally.add(case, outcomes, verdict)
            if args.only is not None:
                _show(case, outcomes, verdict)
            if n % 500 == 0:
                print(f"{n} cases, {time.time() - started:.0f} s, "
                      f"{sum(tally.signatures.values())} failures in {len(tally.signatures)} "
                      "signatures", file=sys.stderr, flush=True)
                _write(out, _summary(tally, args, time.time() - started, []))
            if args.max_minutes and time.time() - started > args.max_minutes * 60:
                print(f"time budget reached after {n} cases", file=sys.stderr)
                break
    except KeyboardInterrupt:
        print("interrupted: summarising the cases run so far", file=sys.stderr)
    finally:
        runner.close()
    seconds = time.time() - started
    findings = _findings(tally, tree, work, out, args) if args.only is None else []
    summary = _summary(tally, args, seconds, findings)
    _write(out, summary)
    print(json.dumps({k: summary[k] for k in ("cases", "seconds", "outcomes", "failures")},
                     indent=1))
    for f in findings:
        print(f"{f['count']:6d}  {f['signature']}\n        {f['example']}")
    print(f"summary: {out / 'summary.json'}")
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _write(out: Path, summary: dict) -> None:
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1) + "\n")
    tmp.replace(out / "summary.json")


# The engine the campaign imported, recorded when it starts (the parent imports the engine
# once; a commit made while it runs does not change what it tests).
_ENGINE: dict = {}


def _record_engine() -> None:
    _ENGINE.update({
        "engine_commit": _git("rev-parse", "HEAD"),
        "engine_dirty": bool(_git("status", "--porcelain", "--", "sap_engine", "grammar"))})


def _summary(tally: Tally, args, seconds: float, findings: list[dict]) -> dict:
    return {
        "seed": args.seed,
        "cases": tally.cases,
        "first_index": args.start,
        "run_fraction": args.run_fraction,
        "jobs": args.jobs,
        "seconds": round(seconds, 1),
        **_ENGINE,
        "outcomes": dict(tally.outcomes.most_common()),
        "failures": sum(tally.signatures.values()),
        "error_codes": dict(sorted(tally.codes.items())),
        "notes": dict(tally.notes.most_common()),
        "mutators": {name: dict(c.most_common()) for name, c in sorted(tally.mutators.items())},
        "runs": tally.runs,
        "slowest": [{"seconds": round(s, 2), "case": [c.seed, c.index], "plan": c.plan,
                     "outcome": o, "mutations": c.describe()[:200]}
                    for s, c, o in sorted(tally.slowest, key=lambda x: -x[0])],
        "signatures": findings or [{"signature": sig, "count": count}
                                   for sig, count in tally.signatures.most_common()],
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--start", type=int, default=0, help="first case index")
    p.add_argument("--only", type=int, default=None, help="run this one case and show it")
    p.add_argument("--jobs", type=int, default=2, help="cases at once (default 2)")
    p.add_argument("--run-fraction", type=float, default=0.03,
                   help="fraction of cases also run (default 0.03)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per check")
    p.add_argument("--run-timeout", type=float, default=90.0, help="seconds per run")
    p.add_argument("--out", default=None, help="results folder (default /tmp/sap-fuzz-seedS)")
    p.add_argument("--max-minutes", type=float, default=0,
                   help="stop starting cases after this long (0: no limit)")
    p.add_argument("--no-minimise", action="store_true")
    p.add_argument("--minimise-seconds", type=float, default=90.0,
                   help="time budget to minimise one signature")
    return p


class Tally:
    def __init__(self) -> None:
        self.cases = 0
        self.runs = 0
        self.outcomes: collections.Counter = collections.Counter()
        self.codes: collections.Counter = collections.Counter()
        self.notes: collections.Counter = collections.Counter()
        self.mutators: dict[str, collections.Counter] = collections.defaultdict(
            collections.Counter)
        self.signatures: collections.Counter = collections.Counter()
        self.examples: dict[str, list[fh.Case]] = collections.defaultdict(list)
        self.verdicts: dict[str, fh.Verdict] = {}
        self.by_mutator: dict[str, collections.Counter] = collections.defaultdict(
            collections.Counter)
        self.slowest: list[tuple[float, fh.Case, str]] = []

    def add(self, case: fh.Case, outcomes: list[fh.Outcome], verdict: fh.Verdict) -> None:
        self.cases += 1
        self.runs += len(outcomes) > 1
        self.outcomes[verdict.outcome] += 1
        for code in set(verdict.codes):
            self.codes[code] += 1
        for note in verdict.notes:
            self.notes[note] += 1
        for m in case.mutations:
            self.mutators[m.name][verdict.outcome] += 1
        seconds = outcomes[0].seconds if outcomes else 0.0
        self.slowest.append((seconds, replace(case, content=b""), verdict.outcome))
        self.slowest = sorted(self.slowest, key=lambda x: -x[0])[:15]
        if verdict.failed:
            sig = verdict.signature
            self.signatures[sig] += 1
            self.by_mutator[sig].update(m.name for m in case.mutations)
            if len(self.examples[sig]) < 5:
                self.examples[sig].append(case)
                self.verdicts.setdefault(sig, verdict)


def _findings(tally: Tally, tree: Path, work: Path, out: Path, args) -> list[dict]:
    folder = out / "findings"
    found = []
    for n, (sig, count) in enumerate(tally.signatures.most_common(), 1):
        examples = tally.examples[sig]
        case = min(examples, key=lambda c: (len(c.mutations), len(c.content)))
        place = folder / f"{n:02d}-{_slug(sig)}"
        place.mkdir(parents=True, exist_ok=True)
        (place / "mutated.sap").write_bytes(case.content)
        minimal = case.content
        if not args.no_minimise and not sig.startswith(ORACLE_KINDS):
            minimal = _minimise(case, sig, tree, work, args)
        (place / "minimal.sap").write_bytes(minimal)
        confirm = _confirm(case, minimal, tree)
        verdict = tally.verdicts[sig]
        (place / "verdict.txt").write_text(
            f"{sig}\ncase: seed {case.seed} index {case.index} ({case.plan})\n"
            f"mutations: {case.describe()}\n\n{verdict.detail}\n")
        found.append({
            "signature": sig,
            "outcome": verdict.outcome,
            "count": count,
            "mutators": dict(tally.by_mutator[sig].most_common()),
            "example": f"{case.plan}: {case.describe()}",
            "cases": [[c.seed, c.index] for c in examples],
            "detail": verdict.detail[-600:],
            "folder": str(place),
            "minimal_lines": len(minimal.split(b"\n")),
            "fresh_process": confirm,
        })
    return found


def _minimise(case: fh.Case, sig: str, tree: Path, work: Path, args) -> bytes:
    """Remove statements, then lines, while the case still fails with ``sig``."""
    deadline = time.monotonic() + args.minimise_seconds
    timeout = min(args.timeout, 10.0)

    def fails(content: bytes) -> bool:
        if time.monotonic() > deadline:
            return False
        trial = replace(case, content=content, index=case.index + 10_000_000)
        for c, outcomes in fh.run_cases([trial], tree, work, check_timeout=timeout,
                                        run_timeout=args.run_timeout):
            return fh.classify(c, outcomes, fh.case_plan_path(c)).signature == sig
        return False

    content = case.content
    lines = fh.plan_lines(content)
    if lines is None:  # not UTF-8: keep the bytes
        return content
    text = "\n".join(lines)
    plan = fh.PlanText(text)
    spans = list(plan.statements)
    # statements, in halves then singly (ddmin-like, coarse to fine)
    chunk = max(1, len(spans) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        i = 0
        while i < len(spans):
            keep = spans[:i] + spans[i + chunk:]
            candidate = _join(plan.lines, keep, spans)
            if fails(candidate.encode("utf-8")):
                spans = keep
            else:
                i += chunk
        chunk //= 2
    current = _join(plan.lines, spans, spans).split("\n")
    i = 0
    while i < len(current) and time.monotonic() < deadline:
        candidate = current[:i] + current[i + 1:]
        if fails("\n".join(candidate).encode("utf-8")):
            current = candidate
        else:
            i += 1
    result = "\n".join(current).encode("utf-8")
    return result if fails(result) or time.monotonic() > deadline else content


def _join(lines: list[str], keep: list[tuple[int, int]], spans) -> str:
    """The plan's text with only the statements ``keep`` (lines before the first kept)."""
    out = []
    for first, last in keep:
        out.extend(lines[first:last + 1])
    return "\n".join(out) + "\n"


def _confirm(case: fh.Case, content: bytes, tree: Path) -> dict:
    """How a fresh ``python -m sap_engine.cli check`` exits on the reproducer (limited)."""
    path = tree / Path(fh.SEED_PLANS[case.plan]).with_name(f"repro_{case.index}.sap")
    path.write_bytes(content)

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (fh.MEMORY_LIMIT, fh.MEMORY_LIMIT))

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        proc = subprocess.run([sys.executable, "-m", "sap_engine.cli", "check",
                               str(path.relative_to(tree))], cwd=tree, env=env,
                              capture_output=True, timeout=30, preexec_fn=limits)
        err = proc.stderr.decode("utf-8", "replace").strip().split("\n")
        return {"rc": proc.returncode, "stderr_first": err[0][:300], "stderr_last": err[-1][:300]}
    except subprocess.TimeoutExpired:
        return {"rc": None, "stderr_first": "timeout after 30 s", "stderr_last": ""}
    finally:
        path.unlink(missing_ok=True)


def _show(case: fh.Case, outcomes: list[fh.Outcome], verdict: fh.Verdict) -> None:
    print(f"case {case.seed}/{case.index} {case.plan}: {case.describe()}")
    for o in outcomes:
        print(f"--- {o.command}: rc {o.rc} {o.killed} {o.seconds:.2f} s, "
              f"max RSS {o.max_rss >> 20} MiB\n{o.stdout[:2000]}{o.stderr[:4000]}")
        if o.exception or o.hang_stack:
            print((o.exception or o.hang_stack)[-4000:])
    print(f"=> {verdict.outcome}: {verdict.signature} {verdict.notes}")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:80]


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


if __name__ == "__main__":
    sys.exit(main())
