"""Linear-model fits: sap_engine's QR core vs statsmodels formula OLS.

Run: python bench/bench_linear.py [--write]

1. One ANCOVA (n = 250, 3 arms + 17 sites + baseline): our fit_linear + OM LS means +
   three pairwise differences + Type III, vs a statsmodels formula fit plus the same LS
   means computed from its parameters and covariance (its own L matrix from predictions).
2. 100 responses sharing one design: fit_linear_many (one QR for all), vs a loop of 100
   statsmodels formula fits.
Medians over repeated runs; no assertions (numbers only, on a shared 2-core machine).
"""

from __future__ import annotations

import numpy as np
from common import fmt_s, median_time, publish

from sap_engine.methods.linear import (
    ModelSpec,
    fit_linear,
    fit_linear_many,
    lsmean_differences,
    lsmeans,
    type3,
)

ARMS = ("Placebo", "Low", "High")
PAIRS = [("Low", "Placebo"), ("High", "Placebo"), ("High", "Low")]


def _data(n: int = 250, responses: int = 100, seed: int = 1):
    import pandas as pd

    rng = np.random.default_rng(seed)
    trt = rng.choice(ARMS, n)
    site = rng.choice([f"S{i:02d}" for i in range(17)], n)
    base = rng.normal(25, 10, n)
    frame = pd.DataFrame({"trt": trt, "site": site, "base": base})
    effect = pd.Series(trt).map({"Placebo": 0.0, "Low": -0.5, "High": -1.0}).to_numpy()
    ys = {f"y{j:03d}": effect + 0.1 * base + rng.normal(0, 5, n) for j in range(responses)}
    return pd.concat([frame, pd.DataFrame(ys)], axis=1)


def ours_one(frame) -> None:
    fit = fit_linear(frame, ModelSpec("y000", ("trt", "site"), ("base",)), {"trt": ARMS})
    lsmeans(fit, "trt", "observed")
    lsmean_differences(fit, "trt", PAIRS, "observed")
    type3(fit)


def statsmodels_one(frame) -> None:
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    fit = smf.ols("y000 ~ C(trt, Sum) + C(site, Sum) + base", frame).fit()
    anova_lm(fit, typ=3)
    # OM LS means: average the design rows of every observed row with trt set to each arm
    # and base at its mean (emmeans "proportional"), then L b and L V L'.
    cov = fit.cov_params().to_numpy()
    rows = {}
    for arm in ARMS:
        grid = frame.assign(trt=arm, base=frame.base.mean())
        design = _design_matrix(fit, grid)
        rows[arm] = design.mean(axis=0)
        float(rows[arm] @ fit.params.to_numpy())
        float(np.sqrt(rows[arm] @ cov @ rows[arm]))
    for a, b in PAIRS:
        d = rows[a] - rows[b]
        fit.t_test(d)


def _design_matrix(fit, grid) -> np.ndarray:
    """statsmodels' own design rows for new data (its patsy design info)."""
    from patsy import build_design_matrices

    data = fit.model.data
    info = getattr(data, "design_info", None) or data.model_spec
    return np.asarray(build_design_matrices([info], grid)[0])


def ours_many(frame, responses) -> None:
    fit_linear_many(frame, ModelSpec("y000", ("trt", "site"), ("base",)), responses,
                    {"trt": ARMS})


def statsmodels_many(frame, responses) -> None:
    import statsmodels.formula.api as smf

    for r in responses:
        smf.ols(f"{r} ~ C(trt) + C(site) + base", frame).fit()


def main() -> None:
    frame = _data()
    responses = [c for c in frame.columns if c.startswith("y")]
    import statsmodels.formula.api  # noqa: F401  (import cost is not part of the fit time)

    rows = []
    one_ours = median_time(lambda: ours_one(frame), repeats=21, warmup=2)
    one_sm = median_time(lambda: statsmodels_one(frame), repeats=21, warmup=2)
    rows.append(("One ANCOVA (n = 250, 3 arms + 17 sites + baseline) with OM LS means, "
                 "3 differences, Type III", one_ours, one_sm))
    many_ours = median_time(lambda: ours_many(frame, responses), repeats=7)
    many_sm = median_time(lambda: statsmodels_many(frame, responses), repeats=5)
    rows.append(("100 responses sharing one design (fit only)", many_ours, many_sm))
    lines = ["| task | sap_engine | statsmodels | ratio |", "|---|---:|---:|---:|"]
    for label, ours, theirs in rows:
        lines.append(f"| {label} | {fmt_s(ours)} | {fmt_s(theirs)} | "
                     f"{theirs / ours:.1f}x faster |")
    lines.append("")
    lines.append("sap_engine: `fit_linear` + `lsmeans` + `lsmean_differences` + `type3` "
                 "(pivoted QR); `fit_linear_many` factors the shared design once. statsmodels: "
                 "formula `ols(...).fit()` with Sum contrasts and `anova_lm(typ=3)`, OM LS "
                 "means from its own design rows and covariance, `t_test` per difference.")
    publish("Linear models", "python bench/bench_linear.py", "\n".join(lines))


if __name__ == "__main__":
    main()
