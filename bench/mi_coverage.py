"""Simulation study: bias, standard errors and coverage of the pooled MI treatment difference.

Run ``python bench/mi_coverage.py [--reps 1000] [--m 50] [--workers 2] [--write]``; the
method and the results are in ``docs/mi-validation.md``. Data (``bench/mi_sim.py``): n = 200
(100 per arm) x 4 visits, a baseline covariate, an unstructured covariance, monotone dropout
depending on the last observed value (about 26 % of the active and 31 % of the reference arm
missing at the last visit). Two data-generating scenarios, each with its own replicates:

- MAR: every subject follows its own arm's model; the estimand is the difference of the
  arms' means at visit 4, ``MU[1, 3] - MU[0, 3]`` = -2. Analysed by MI with draws = mmrm
  (MAR) and draws = regression (MAR), on the same replicates, and by the complete-data
  ANCOVA (the values the dropouts would have had) as a control.
- J2R: the active arm's dropouts follow the reference mean from their dropout visit (the
  J2R joint model); the estimand is ``pi (MU[1, 3] - MU[0, 3])``, pi = P(completer | active)
  (``mi_sim.j2r_truth``, by simulation of 4 million subjects). Analysed by MI with draws =
  mmrm and imputation = jump_to_reference, and the complete-data ANCOVA.

Every analysis is the ANCOVA at visit 4 (treatment + baseline), the M fits by
``ancova_many`` and Rubin's rules with Barnard-Rubin df by ``rubin``; the CI is the nominal
95 % t interval. Seeds are fixed: replicate r of scenario s draws its data from
``default_rng([SEED, s, r])`` and imputes with seed ``SEED + 100_000 s + r``; the results
do not depend on the number of workers.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy.special import stdtrit  # noqa: E402

from bench.mi_sim import MU, j2r_truth, simulate, wide  # noqa: E402

SEED = 20261207
N, T = 200, 4
DROPOUT_INTERCEPT = -2.8
SCENARIOS = {"MAR": 0, "J2R": 1}
ANALYSES = {"MAR": (("MI, draws = mmrm, MAR", "mmrm", "mar"),
                    ("MI, draws = regression, MAR", "regression", "mar"),
                    ("complete-data ANCOVA (control)", None, None)),
            "J2R": (("MI, draws = mmrm, J2R", "mmrm", "jump_to_reference"),
                    ("complete-data ANCOVA (control)", None, None))}


def replicate(job: tuple[str, int, int]) -> list[tuple[float, float, float, float]]:
    """(estimate, SE, df, fmi) of every analysis of one replicate."""
    from threadpoolctl import threadpool_limits

    from sap_engine.methods.mi_draws import impute
    from sap_engine.methods.mi_pool import ancova_many, rubin
    from sap_engine.methods.mmrm_cov import structure

    scenario, r, m = job
    s = SCENARIOS[scenario]
    rng = np.random.default_rng([SEED, s, r])
    trial = simulate(N, T, rng, DROPOUT_INTERCEPT, j2r=scenario == "J2R")
    d, big_l = wide(trial)
    diff = big_l[2:3]
    out = []
    with threadpool_limits(limits=1):
        for _, draws, strategy in ANALYSES[scenario]:
            if draws is None:
                fit = ancova_many(d.z, trial.full[:, -1:], diff)
                out.append((float(fit.estimate[0, 0]), float(np.sqrt(fit.variance[0, 0])),
                            float(fit.df_resid), 0.0))
                continue
            filled = impute(d, draws, strategy, structure("unstructured", T),
                            SEED + 100_000 * s + r, m)
            fits = ancova_many(d.z, filled[:, -1, :], diff)
            p = rubin(fits.estimate, fits.variance, fits.df_resid)
            out.append((float(p.estimate[0]), float(p.se[0]), float(p.df[0]),
                        float(p.fmi[0])))
    return out


def summarise(results: np.ndarray, truth: float) -> dict:
    """results (reps, 4): bias, empirical and model SEs, coverage with MC SEs."""
    est, se, df = results[:, 0], results[:, 1], results[:, 2]
    reps = len(est)
    half = stdtrit(df, 0.975) * se
    covered = (est - half <= truth) & (truth <= est + half)
    cov = covered.mean()
    return {"bias": est.mean() - truth, "bias_mcse": est.std(ddof=1) / np.sqrt(reps),
            "emp_se": est.std(ddof=1), "mean_se": se.mean(),
            "rmse_ratio": np.sqrt(np.mean(se ** 2)) / est.std(ddof=1),
            "coverage": cov, "cov_mcse": np.sqrt(cov * (1 - cov) / reps),
            "width": 2 * half.mean(), "df": np.median(df), "fmi": results[:, 3].mean(),
            "below": np.mean(est + half < truth), "above": np.mean(est - half > truth)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--m", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    start = time.perf_counter()
    truths = {"MAR": (float(MU[1, T - 1] - MU[0, T - 1]), 0.0),
              "J2R": j2r_truth(T, DROPOUT_INTERCEPT)}
    jobs = [(s, r, args.m) for s in SCENARIOS for r in range(args.reps)]
    with ProcessPoolExecutor(args.workers) as pool:
        done = list(pool.map(replicate, jobs, chunksize=20))
    elapsed = time.perf_counter() - start

    lines = [f"{args.reps} replicates per scenario, n = {N} (100 per arm) x {T} visits, "
             f"M = {args.m}, {args.workers} workers, {elapsed:.0f} s wall. Truth: MAR "
             f"{truths['MAR'][0]:.4f}; J2R {truths['J2R'][0]:.4f} (Monte Carlo SE "
             f"{truths['J2R'][1]:.1e}).", "",
             "| data | analysis | bias (MC SE) | empirical SE | mean pooled SE | "
             "coverage of 95 % CI (MC SE) | below / above | mean CI width | median df | "
             "mean fmi |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    summaries = {}
    for s in SCENARIOS:
        rows = [res for job, res in zip(jobs, done, strict=True) if job[0] == s]
        for i, (label, _, _) in enumerate(ANALYSES[s]):
            k = summarise(np.array([row[i] for row in rows]), truths[s][0])
            summaries[(s, label)] = k
            lines.append(f"| {s} | {label} | {k['bias']:+.4f} ({k['bias_mcse']:.4f}) | "
                         f"{k['emp_se']:.4f} | {k['mean_se']:.4f} | {100 * k['coverage']:.1f} "
                         f"% ({100 * k['cov_mcse']:.1f}) | {100 * k['below']:.1f} / "
                         f"{100 * k['above']:.1f} % | {k['width']:.3f} | {k['df']:.0f} | "
                         f"{k['fmi']:.3f} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        from bench.common import publish

        mar = [summaries[("MAR", a[0])] for a in ANALYSES["MAR"][:2]]
        j2r = summaries[("J2R", ANALYSES["J2R"][0][0])]
        line = (f"Coverage of nominal 95 % CIs of the pooled difference ({args.reps} "
                f"replicates, n = {N} x {T} visits, M = {args.m}): MAR mmrm "
                f"{100 * mar[0]['coverage']:.1f} %, MAR regression "
                f"{100 * mar[1]['coverage']:.1f} % (MC SE "
                f"{100 * mar[0]['cov_mcse']:.1f}), J2R {100 * j2r['coverage']:.1f} % "
                "(conservative, as expected of Rubin's variance for reference-based MI); "
                f"{elapsed:.0f} s wall with {args.workers} workers. Method and full "
                "table: docs/mi-validation.md.")
        publish("MI coverage", f"python bench/mi_coverage.py --reps {args.reps} --m {args.m}",
                line)


if __name__ == "__main__":
    main()
