"""Cold CLI and in-process execution of plans/prodrem.sap.

Run: python bench/bench_cli.py [--write]

Compared side by side with the obvious alternatives: a bare Python start, the import of
statsmodels.formula.api that a hand-written analysis script pays before its first fit, and
an in-process hand-written pandas + statsmodels script computing the same three ANCOVAs.
"""

from __future__ import annotations

import sys

from common import ROOT, fmt_s, median_command, median_time, publish

PLAN = "plans/prodrem.sap"


def _statsmodels_script() -> None:
    import pandas as pd
    import statsmodels.formula.api as smf

    adsl = pd.read_parquet(ROOT / "data/proderm/adsl.parquet")
    adeff = pd.read_parquet(ROOT / "data/proderm/adeff.parquet")
    for code, exclude in (("CDASIA", lambda b: b > 0), ("CDASID", lambda b: b >= 0),
                          ("CUTVAS", lambda b: b > 0.2)):
        p = adeff[adeff.PARAMCD == code].merge(adsl[["USUBJID", "TRT01P", "SWITCHWK"]])
        pre = p[p.SWITCHWK.isna() | (p.AVISITN <= p.SWITCHWK)].dropna(subset=["AVAL"])
        last = pre[pre.AVISITN <= 16].sort_values("AVISITN").groupby("USUBJID").last()
        wk16 = p[p.AVISITN == 16].set_index("USUBJID")
        value = wk16.AVAL.where(wk16.SWITCHWK.isna(), last.AVAL.reindex(wk16.index))
        frame = pd.DataFrame({"chg": value - wk16.BASE, "base": wk16.BASE,
                              "trt": wk16.TRT01P}).dropna()
        frame = frame[exclude(frame.base)]
        fit = smf.ols("chg ~ C(trt, Treatment('Placebo')) + base", frame).fit()
        fit.t_test("C(trt, Treatment('Placebo'))[T.IVIg] = 0")


def main() -> None:
    py = sys.executable
    repeats = 5
    cold = {
        "python -c pass": median_command([py, "-c", "pass"], repeats),
        "python -c 'import statsmodels.formula.api'": median_command(
            [py, "-c", "import statsmodels.formula.api"], repeats),
        f"sap-run check {PLAN}": median_command([py, "-m", "sap_engine.cli", "check", PLAN],
                                                 repeats),
        f"sap-run run {PLAN}": median_command(
            [py, "-m", "sap_engine.cli", "run", PLAN, "--out", "/tmp/sap-bench-out"], repeats),
        f"sap-run run --jobs 1 {PLAN}": median_command(
            [py, "-m", "sap_engine.cli", "run", "--jobs", "1", PLAN, "--out",
             "/tmp/sap-bench-out"], repeats),
    }
    from sap_engine.api import check_plan, execute_plan, run_plan
    from sap_engine.compile import compile_plan
    from sap_engine.execute import execute

    checked = check_plan(ROOT / PLAN)
    # The first-pass plan (issue 2): Table 1 and the week-16 ANCOVAs with the switch rule.
    core = [s for s in compile_plan(checked) if s.id.startswith(("T1_", "D_", "A_", "R35"))]
    in_process = {
        "check (parse + check, warm)": median_time(lambda: check_plan(ROOT / PLAN), repeats),
        f"execute: Table 1 + week-16 ANCOVAs ({len(core)} analyses, warm)": median_time(
            lambda: execute(checked, core), repeats),
        "execute (all analyses, warm, 1 job)": median_time(lambda: execute_plan(checked),
                                                           repeats),
        "execute (all analyses, warm, 2 jobs)": median_time(
            lambda: execute_plan(checked, jobs=2), repeats),
        "whole run with figures and documents (warm, 1 job)": median_time(
            lambda: run_plan(ROOT / PLAN, "/tmp/sap-bench-out", jobs=1), repeats),
        "whole run with figures and documents (warm, 2 jobs)": median_time(
            lambda: run_plan(ROOT / PLAN, "/tmp/sap-bench-out", jobs=2), repeats),
        "hand-written pandas + statsmodels, 3 ANCOVAs only": median_time(_statsmodels_script,
                                                                          repeats),
    }
    base = cold["python -c pass"]
    lines = ["| cold command (fresh process) | median | vs `python -c pass` |", "|---|---|---|"]
    lines += [f"| `{k}` | {fmt_s(v)} | {v / base:.1f}x |" for k, v in cold.items()]
    lines += ["", "| in-process | median |", "|---|---|"]
    lines += [f"| {k} | {fmt_s(v)} |" for k, v in in_process.items()]
    ratio = in_process["execute (all analyses, warm, 1 job)"] / in_process[
        "hand-written pandas + statsmodels, 3 ANCOVAs only"]
    lines += ["", f"Executing the whole plan takes {ratio:.2f}x the time of the hand-written "
                  "script that computes only its three ANCOVAs."]
    run = cold[f"sap-run run {PLAN}"]
    statsmodels = cold["python -c 'import statsmodels.formula.api'"]
    serial = cold[f"sap-run run --jobs 1 {PLAN}"]
    lines += ["", f"The cold `sap-run run` with figures takes {fmt_s(run)} (target: under 5 s), "
              f"{run / statsmodels:.1f}x the time of importing statsmodels.formula.api in the "
              f"same run; with one job it takes {serial / run:.2f}x as long."]
    publish("ProDERM plan: CLI and in-process", "python bench/bench_cli.py --write",
            "\n".join(lines))


if __name__ == "__main__":
    main()
