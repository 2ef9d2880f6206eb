"""Benchmark: the MMRM fit plus the Kenward-Roger (and Satterthwaite) df of one contrast.

Run ``python bench/bench_mmrm.py [--write]``. Data: 300 subjects x 4 visits, two arms,
a baseline covariate, an unstructured covariance, 10 % of visits missing at random (the
simulation of ``tests/methods/test_mmrm.py``). Timed (medians over repeats, after a
warm-up):
- ours: the REML fit (unstructured) + KR adjusted covariance and df of the week-12
  difference; the same with Satterthwaite; the whole ``mmrm`` method (every visit's LS
  means and difference, KR);
- statsmodels ``MixedLM`` (REML, random intercept) on the same rows and design: the
  closest model statsmodels can fit (it has no unstructured residual covariance), so it is
  NOT the same model: a compound-symmetry fit, shown only for scale.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "methods"))

from test_mmrm import simulate  # noqa: E402

from bench.common import fmt_s, median_time, publish  # noqa: E402
from sap_engine.methods import registry  # noqa: E402
from sap_engine.methods.mmrm_cov import structure  # noqa: E402
from sap_engine.methods.mmrm_design import build_design  # noqa: E402
from sap_engine.methods.mmrm_df import contrast, information, kr_covariance  # noqa: E402
from sap_engine.methods.mmrm_fit import fit_reml  # noqa: E402

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def measure() -> dict:
    """The timings (seconds) and results in this process' BLAS configuration."""
    import statsmodels.api as sm

    frame = simulate(300, seed=42, missing=0.1)
    design = build_design(frame, "y", "TRT", (), ("base",), ["A", "B"], True, ())
    c = design.row("B", 3) - design.row("A", 3)

    def fit_kr():
        fit = fit_reml(design.x, design.y, design.subject, design.visit,
                       structure("unstructured", 4))
        info = information(fit)
        return contrast(fit, c, "kenward_roger", info, kr_covariance(fit, info))

    def fit_satterthwaite():
        fit = fit_reml(design.x, design.y, design.subject, design.visit,
                       structure("unstructured", 4))
        return contrast(fit, c, "satterthwaite", information(fit, second_order=False))

    method = registry.get("mmrm")
    assert method is not None
    options = method.resolve_options({"df": "kenward_roger", "reference": "A"})
    roles = {"response": "y", "treatment": "TRT", "covariates": ("base",)}

    def whole():
        return method.run(frame, roles, options)

    def statsmodels_ri():
        return sm.MixedLM(design.y, design.x, design.subject).fit(reml=True)

    kr, sat = fit_kr(), fit_satterthwaite()
    return {"result_kr": (kr.estimate, kr.se, kr.df),
            "result_sat": (sat.estimate, sat.se, sat.df),
            "n_obs": len(design.y), "p": design.x.shape[1],
            "kr": median_time(fit_kr, repeats=15),
            "sat": median_time(fit_satterthwaite, repeats=15),
            "whole": median_time(whole, repeats=7),
            "sm": median_time(statsmodels_ri, repeats=7)}


def main() -> None:
    import json
    import os
    import subprocess

    if "--child" in sys.argv:
        print(json.dumps(measure()))
        return
    # One BLAS thread, in a fresh process (the variables are read when BLAS loads): with
    # the default two threads the many small matrix products of the fit are several times
    # slower on this machine (issue 10's note on thread pools).
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}}
    one = json.loads(subprocess.run([sys.executable, __file__, "--child"], env=env,
                                    check=True, capture_output=True, text=True).stdout)
    default = measure()
    lines = ["| what | BLAS threads | median | ratio to ours (fit + KR, 1 thread) | result |",
             "|---|---:|---:|---:|---|"]
    for label, times in (("1", one), ("default", default)):
        kr, sat = times["result_kr"], times["result_sat"]
        rows = [
            ("ours: REML fit (UN) + KR covariance and df of one contrast", times["kr"],
             f"diff {kr[0]:.4f}, SE {kr[1]:.4f}, df {kr[2]:.1f}"),
            ("ours: REML fit (UN) + Satterthwaite df of one contrast", times["sat"],
             f"diff {sat[0]:.4f}, SE {sat[1]:.4f}, df {sat[2]:.1f}"),
            ("ours: the whole `mmrm` method (4 visits x 2 arms, KR)", times["whole"], ""),
            ("statsmodels MixedLM REML, random intercept (CS: not the same model)",
             times["sm"], ""),
        ]
        for what, t, result in rows:
            lines.append(f"| {what} | {label} | {fmt_s(t)} | {t / one['kr']:.2f}x | "
                         f"{result} |")
    lines.append("")
    lines.append(f"Data: 300 subjects x 4 visits, {one['n_obs']} observations, "
                 f"{one['p']} fixed effects, 10 covariance parameters. Target of "
                 "issue 10: fit + KR df of one contrast under 0.2 s (R nlme::gls with UN "
                 "about 1.1 s, emmeans' Satterthwaite df about 15 s, measured there).")
    publish("MMRM", "python bench/bench_mmrm.py", "\n".join(lines))


if __name__ == "__main__":
    main()
