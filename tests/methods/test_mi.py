"""Multiple imputation (mi_draws, mi_data, mi_ancova), each against an independent reference:
textbook conditional-normal formulas written out subject by subject, statsmodels OLS fits of
the conditional-mean (M -> infinity) limit, a second imputation algorithm, and the plan run
against a direct call. Rubin's rules themselves are tested in test_mi_pool.py."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from mmrm_fixture import FIXTURE
from mmrm_fixture import fixture_frame as _fixture_frame

from sap_engine.errors import MethodError
from sap_engine.methods.linear_design import ModelSpec, build_columns, effect_codes
from sap_engine.methods.mi_draws import (
    Wide,
    conditional_draws,
    impute,
    last_observed,
    strategy_means,
)
from sap_engine.methods.mi_pool import ancova_many, rubin
from sap_engine.methods.mmrm_cov import structure
from sap_engine.methods.registry import get


def _designs(arm: np.ndarray, base: np.ndarray, t: int):
    """The MMRM design of every subject and visit in each of two arms, the ANCOVA design and
    its LS-mean rows (arm 0, arm 1, arm 1 - arm 0)."""
    n = len(arm)
    codes = effect_codes(2)
    spec = ModelSpec("y", ("trt", "visit"), ("base",), (("trt", "visit"), ("base", "visit")))
    rows = {"visit": np.tile(effect_codes(t), (n, 1))}
    x_arm = np.stack([build_columns(spec, {**rows, "trt": np.repeat(codes[[a]], n * t, axis=0)},
                                    {"base": np.repeat(base, t)}).reshape(n, t, -1)
                      for a in range(2)])
    aspec = ModelSpec("y", ("trt",), ("base",))
    z = build_columns(aspec, {"trt": codes[arm]}, {"base": base})
    big_l = np.vstack([build_columns(aspec, {"trt": codes[[a]]}, {"base": np.array(
        [base.mean()])}) for a in range(2)])
    return x_arm, z, np.vstack([big_l, big_l[1] - big_l[0]])


def _simulate(n: int, t: int, seed: int, dropout: float = 0.1, effect: float = -1.0):
    rng = np.random.default_rng(seed)
    arm = np.repeat([0, 1], n // 2)
    base = rng.normal(20, 4, n)
    sd = np.linspace(3, 5, t)
    corr = 0.6 ** np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
    sigma = np.outer(sd, sd) * corr
    mean = -np.arange(1, t + 1)[None, :] * (1 + arm[:, None] * -effect)
    y = mean + 0.4 * (base - 20)[:, None] + rng.multivariate_normal(np.zeros(t), sigma, n)
    full = y.copy()
    for i in range(n):  # MAR dropout: more likely after a high (bad) value
        for j in range(1, t):
            if rng.random() < dropout * (1 + (y[i, j - 1] > mean[i, j - 1])):
                y[i, j:] = np.nan
                break
    x_arm, z, big_l = _designs(arm, base, t)
    return Wide(y, arm, x_arm, z, 0), full, big_l, base


def _pooled(data: Wide, big_l, draws: str, strategy: str, m: int, seed: int = 1):
    filled = impute(data, draws, strategy, structure("unstructured", data.y.shape[1]), seed, m)
    fits = ancova_many(data.z, filled[:, -1, :], big_l)
    return rubin(fits.estimate, fits.variance, fits.df_resid)


# ---- reference-based means: the analytic conditional-mean formulas ---------------------

def test_reference_based_conditional_means():
    """With known beta and Sigma and zero noise, each imputed value is its conditional mean:
    mu_q + S_qo S_oo^-1 (y_o - mu_o), with mu the strategy's mean vector (rbmi's definitions),
    computed here subject by subject with explicit inverses."""
    t = 4
    arm = np.array([1, 1, 1, 1, 0, 1])
    base = np.array([18.0, 22.0, 20.0, 25.0, 19.0, 21.0])
    x_arm, z, _ = _designs(arm, base, t)
    rng = np.random.default_rng(7)
    beta = rng.normal(0, 2, x_arm.shape[-1])
    a = rng.normal(size=(t, t))
    sigma = a @ a.T + t * np.eye(t)
    nan = np.nan
    y = np.array([[-1.0, -2.5, nan, nan],   # dropout after visit 2
                  [-0.5, nan, -3.0, nan],   # intermittent gap, then dropout
                  [nan, nan, nan, nan],     # nothing observed
                  [-2.0, -2.2, -3.1, nan],  # dropout at the last visit
                  [-1.0, nan, nan, nan],    # reference arm
                  [-1.0, -2.0, -3.0, -4.0]])  # complete
    data = Wide(y, arm, x_arm, z, 0)
    mu_arm = [x_arm[a_] @ beta for a_ in range(2)]  # (n, t) means in each arm
    for strategy in ("mar", "jump_to_reference", "copy_reference", "copy_increments_reference"):
        mu = strategy_means(data, beta[None, :], strategy)
        got = conditional_draws(y, mu, sigma[None], np.zeros((int(np.isnan(y).sum()), 1)))
        for i in range(len(y)):
            own, ref = mu_arm[arm[i]][i], mu_arm[0][i]
            obs = ~np.isnan(y[i])
            last = max((j for j in range(t) if obs[j]), default=-1)
            want_mu = own.copy()
            for j in range(t):
                if strategy == "copy_reference":
                    want_mu[j] = ref[j]
                elif j > last and strategy == "jump_to_reference":
                    want_mu[j] = ref[j]
                elif j > last and strategy == "copy_increments_reference":
                    want_mu[j] = ref[j] + (own[last] - ref[last] if last >= 0 else 0.0)
            o, q = np.flatnonzero(obs), np.flatnonzero(~obs)
            want = y[i].copy()
            if len(q):
                cond = want_mu[q]
                if len(o):
                    s_oo_inv = np.linalg.inv(sigma[np.ix_(o, o)])
                    cond = cond + sigma[np.ix_(q, o)] @ s_oo_inv @ (y[i, o] - want_mu[o])
                want[q] = cond
            assert got[i, :, 0] == pytest.approx(want, rel=1e-10, abs=1e-10), (strategy, i)
    # A hand-checked case: J2R for subject 0 at visit 3 (index 2) is the reference mean plus
    # the regression on the observed residuals from the own arm.
    assert last_observed(~np.isnan(y)).tolist() == [1, 2, -1, 2, 0, 3]


def test_conditional_draws_have_the_conditional_covariance():
    """Many draws of one subject's missing visits: their covariance is S_qq - S_qo S_oo^-1 S_oq."""
    t, m = 3, 40000
    sigma = np.array([[4.0, 2.0, 1.0], [2.0, 5.0, 2.5], [1.0, 2.5, 6.0]])
    y = np.array([[1.0, np.nan, np.nan]])
    mu = np.zeros((1, t, m))
    rng = np.random.default_rng(3)
    got = conditional_draws(y, mu, np.repeat(sigma[None], m, axis=0), rng.standard_normal((2, m)))
    want = sigma[1:, 1:] - np.outer(sigma[1:, 0], sigma[0, 1:]) / sigma[0, 0]
    assert np.cov(got[0, 1:, :]) == pytest.approx(want, rel=0.03)
    assert got[0, 1:, :].mean(axis=1) == pytest.approx(sigma[1:, 0] / 4.0, abs=0.05)


# ---- MAR: limits, a second algorithm, complete data ---------------------------------------

def _conditional_mean_fill(data: Wide, full_base: np.ndarray) -> float:
    """The M -> infinity limit of monotone regression MI on data missing at the last visit
    only: impute the conditional mean (statsmodels OLS of the last visit on treatment,
    baseline and the earlier visits among completers), then the ANCOVA difference (OLS)."""
    import statsmodels.api as sm

    y, t = data.y, data.y.shape[1]
    xs = np.column_stack([np.ones(len(y)), data.arm, full_base, y[:, :t - 1]])
    seen = ~np.isnan(y[:, -1])
    reg = sm.OLS(y[seen, -1], xs[seen]).fit()
    filled = np.where(seen, y[:, -1], xs @ reg.params)
    ancova = sm.OLS(filled, np.column_stack([np.ones(len(y)), data.arm, full_base])).fit()
    return float(ancova.params[1])


def test_mcar_converges_to_complete_data():
    """MCAR at the last visit: as M grows the MI estimate converges to its M = infinity limit
    (the conditional-mean fill, computed with statsmodels), within Monte Carlo error that
    shrinks as 1/sqrt(M); and the complete-data estimate lies inside the pooled 95% CI."""
    import statsmodels.api as sm

    wide, full, big_l, base = _simulate(400, 3, seed=11, dropout=0.0)
    rng = np.random.default_rng(5)
    y = wide.y.copy()
    y[rng.random(len(y)) < 0.3, -1] = np.nan  # MCAR
    data = Wide(y, wide.arm, wide.x_arm, wide.z, 0)
    limit = _conditional_mean_fill(data, base)
    errors = []
    for m in (20, 2000):
        pooled = _pooled(data, big_l, "regression", "mar", m, seed=3)
        mc_se = float(np.sqrt(pooled.var_between[2] / m))
        errors.append(abs(float(pooled.estimate[2]) - limit))
        assert errors[-1] < 4 * mc_se + 1e-9
    assert errors[1] < 0.05 * float(pooled.se[2])
    complete = sm.OLS(full[:, -1], np.column_stack([np.ones(len(y)), wide.arm, base])).fit()
    lo, hi = pooled.ci(0.95)
    assert lo[2] < complete.params[1] < hi[2]


def test_regression_and_mmrm_draws_agree():
    """Monotone MAR dropout: sequential regression (PROC MI MONOTONE REG) and the MMRM
    posterior draws are two algorithms for the same (congenial) imputation model; their
    pooled estimates and SEs agree within Monte Carlo error."""
    data, _, big_l, _ = _simulate(300, 4, seed=2, dropout=0.12)
    reg = _pooled(data, big_l, "regression", "mar", 1000, seed=1)
    mm = _pooled(data, big_l, "mmrm", "mar", 1000, seed=2)
    mc = np.sqrt(reg.var_between[2] / 1000 + mm.var_between[2] / 1000)
    assert abs(reg.estimate[2] - mm.estimate[2]) < 4 * mc
    assert float(mm.se[2]) == pytest.approx(float(reg.se[2]), rel=0.05)


def test_no_missing_values_is_the_complete_data_ancova():
    """Nothing to impute: B = 0, the estimate and SE are statsmodels' OLS, df = nu_obs."""
    import statsmodels.api as sm

    data, full, big_l, base = _simulate(120, 3, seed=4, dropout=0.0)
    pooled = _pooled(data, big_l, "mmrm", "mar", 5)
    ols = sm.OLS(full[:, -1], np.column_stack([np.ones(120), data.arm, base])).fit()
    assert float(pooled.estimate[2]) == pytest.approx(ols.params[1], rel=1e-10)
    assert float(pooled.se[2]) == pytest.approx(ols.bse[1], rel=1e-10)
    assert float(pooled.var_between[2]) == pytest.approx(0, abs=1e-20)
    nu = 117
    assert float(pooled.df[2]) == pytest.approx((nu + 1) / (nu + 3) * nu, rel=1e-12)


def test_reference_based_orders_as_expected():
    """Active arm better than reference: J2R pulls the effect furthest toward 0, CIR and CR
    less, MAR least (the ordering rbmi's documentation shows)."""
    data, _, big_l, _ = _simulate(300, 4, seed=8, dropout=0.15, effect=-1.5)
    est = {s: float(_pooled(data, big_l, "mmrm", s, 200).estimate[2]) for s in
           ("mar", "jump_to_reference", "copy_increments_reference")}
    assert est["mar"] < est["copy_increments_reference"] < est["jump_to_reference"] < 0


# ---- reproducibility ---------------------------------------------------------------------

def test_streams_make_imputations_independent_of_m():
    data, _, _, _ = _simulate(60, 3, seed=9, dropout=0.2)
    struct = structure("unstructured", 3)
    for draws in ("mmrm", "regression"):
        small = impute(data, draws, "mar", struct, 17, 5)
        large = impute(data, draws, "mar", struct, 17, 12)
        again = impute(data, draws, "mar", struct, 17, 12)
        assert np.array_equal(large, again)
        assert np.allclose(large[:, :, :5], small, rtol=1e-12, atol=1e-12), draws
        assert not np.allclose(impute(data, draws, "mar", struct, 18, 5), small)


# ---- errors ------------------------------------------------------------------------------

def test_intermittent_missingness_needs_mmrm_draws():
    data, _, _, _ = _simulate(60, 3, seed=9, dropout=0.0)
    y = data.y.copy()
    y[0, 1] = np.nan  # observed at visit 3, missing at visit 2
    with pytest.raises(MethodError) as exc:
        impute(Wide(y, data.arm, data.x_arm, data.z, 0), "regression", "mar",
               structure("unstructured", 3), 1, 5)
    assert exc.value.code == "SAP602"
    impute(Wide(y, data.arm, data.x_arm, data.z, 0), "mmrm", "mar",
           structure("unstructured", 3), 1, 5)


def test_regression_draws_refuse_reference_based_imputation():
    data, _, _, _ = _simulate(60, 3, seed=9)
    with pytest.raises(MethodError) as exc:
        impute(data, "regression", "jump_to_reference", structure("unstructured", 3), 1, 5)
    assert exc.value.code == "SAP604"


def test_a_singular_regression_is_refused():
    data, _, _, _ = _simulate(60, 3, seed=9, dropout=0.2)
    z = np.column_stack([data.z, data.z[:, -1] * 2])  # a covariate twice
    with pytest.raises(MethodError) as exc:
        impute(Wide(data.y, data.arm, data.x_arm, z, 0), "regression", "mar",
               structure("unstructured", 3), 1, 5)
    assert exc.value.code == "SAP603"


def test_a_flat_likelihood_is_refused(monkeypatch):
    """The Laplace approximation needs a positive definite Hessian; at a point that is not a
    maximum (here: theta moved away from the REML estimate along a direction of negative
    curvature) it is refused, not turned into a nonsense covariance."""
    from dataclasses import replace

    from sap_engine.methods import mi_draws

    data, _, _, _ = _simulate(80, 3, seed=9, dropout=0.1)
    fit = mi_draws.fit_mmrm(data, structure("unstructured", 3))
    found = None
    for scale in (5.0, 10.0, 20.0):
        for k in range(len(fit.theta)):
            theta = fit.theta.copy()
            theta[k] += scale
            try:
                mi_draws.theta_covariance(replace(fit, theta=theta))
            except MethodError as exc:
                found = exc
                break
        if found:
            break
    assert found is not None and found.code == "SAP601"


ROLES = {"response": "chg", "treatment": "TRT01P", "covariates": ("base",)}


def _run(frame, **options):
    method = get("mi_ancova")
    assert method is not None
    opts = {**method.resolve_options({}), "reference": "Placebo", "levels": ["Drug", "Placebo"],
            "visit": 16.0, **options}
    return method.run(frame, ROLES, opts)


@pytest.mark.parametrize(("options", "code"), [
    ({"visit": None}, "SAP606"),
    ({"visits": [4, 8]}, "SAP607"),
    ({"reference": "Active"}, "SAP610"),
    ({"reference": "", "imputation": "jump_to_reference"}, "SAP610"),
    ({"delta": ["x"]}, "SAP605"),
])
def test_bad_options_are_refused(options, code):
    """SAP605 a delta that is not a number, SAP606 no analysis visit, SAP607 imputation
    visits without the analysis visit, SAP610 a reference arm that is not an arm (or none
    for a reference-based imputation)."""
    with pytest.raises(MethodError) as exc:
        _run(_fixture_frame(), m=3, **options)
    assert exc.value.code == code


def test_a_covariate_that_varies_by_visit_is_refused():
    frame = _fixture_frame()
    frame["base"] = frame["base"] + frame["visit"]
    with pytest.raises(MethodError) as exc:
        _run(frame, m=3)
    assert exc.value.code == "SAP608"


def test_an_arm_without_values_at_a_visit_is_refused():
    frame = _fixture_frame()
    frame.loc[(frame.TRT01P == "Drug") & (frame.visit == 8), "chg"] = np.nan
    with pytest.raises(MethodError) as exc:
        _run(frame, m=3)
    assert exc.value.code == "SAP609"
    assert "'Drug'" in exc.value.message and "visit 8" in exc.value.message


# ---- the plan ------------------------------------------------------------------------------

def test_plan_matches_the_direct_call_with_any_number_of_workers(tmp_path):
    from sap_engine import ard
    from sap_engine.api import run_plan

    for f in FIXTURE.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    run_plan(tmp_path / "mi.sap", tmp_path / "one", jobs=1)
    run_plan(tmp_path / "mi.sap", tmp_path / "two", jobs=2)
    one = ard.read(tmp_path / "one" / "ard.parquet")
    two = ard.read(tmp_path / "two" / "ard.parquet")
    pd.testing.assert_frame_equal(one, two)
    direct = {(s.stat_name, s.variable_level, s.groups): s.stat
              for s in _run(_fixture_frame(), m=50, seed=4242)}
    rows = one[one.analysis_id == "MI_MAR"]
    assert len(rows) == len(direct)
    diff = rows[(rows.stat_name == "diff")].stat.iloc[0]
    assert diff == pytest.approx(direct[("diff", "Drug - Placebo", (("visit", "16"),))],
                                 rel=1e-9)
    tipping = one[(one.analysis_id == "MI_J2R") & (one.stat_name == "tipping_point")]
    assert len(tipping) == 2


@pytest.mark.parametrize(("change", "code", "where"), [
    ("m = 1, seed = 4242", "SAP207", "mi.sap:33:11"),  # M < 2: located at check
    ("m = 5, seed = 4242, reference = \"Active\"", "SAP610", "mi.sap:28:1"),
])
def test_bad_plans_are_located_errors_with_exit_2(tmp_path, change, code, where):
    """Through the command line: M < 2 and a reference arm that does not exist are errors
    naming the plan line, exit code 2, and nothing is written."""
    import subprocess
    import sys

    for f in FIXTURE.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    plan = tmp_path / "mi.sap"
    plan.write_text(plan.read_text().replace("m = 50, seed = 4242", change))
    done = subprocess.run([sys.executable, "-m", "sap_engine.cli", "run", "mi.sap", "--out",
                           "out"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert f"{where}: error[{code}]" in done.stderr
    assert not (tmp_path / "out").exists()


def test_coverage_of_nominal_95_percent_intervals():
    """300 simulated trials (n = 100, 3 visits, MAR dropout depending on the last observed
    value, true difference at the last visit known): the pooled 95% CI covers the truth in
    90-99% of them (simulation SE about 1.3%; the fuller study is bench/mi_coverage.py).
    Complete-data truth: the arms' means differ by 3 x effect at visit 3."""
    covered = 0
    reps = 300
    for rep in range(reps):
        data, _, big_l, _ = _simulate(100, 3, seed=1000 + rep, dropout=0.15, effect=-1.0)
        pooled = _pooled(data, big_l, "regression", "mar", 10, seed=rep)
        lo, hi = pooled.ci(0.95)
        covered += bool(lo[2] <= -3.0 <= hi[2])
    assert 0.90 <= covered / reps <= 0.99


def test_tipping_grid_table_has_a_column_per_reference_delta(tmp_path):
    """`columns delta_reference` lays the grid out as a SAP shows it: one column per
    reference-arm delta, one section per active-arm delta; every cell is the ARD's value."""
    from sap_engine import ard
    from sap_engine.api import run_plan
    from sap_engine.render.format import fmt_p

    for f in FIXTURE.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    run_plan(tmp_path / "mi.sap", tmp_path / "out", jobs=1)
    md = (tmp_path / "out" / "report.md").read_text()
    table = md[md.index("## Table 14.2.2"):md.index("## Figure 1")]
    # In the plan's order of the deltas (delta_reference = [0, -2]).
    assert "|  | delta reference 0 | delta reference -2 |" in table
    rows = ard.read(tmp_path / "out" / "ard.parquet")
    rows = rows[(rows.analysis_id == "MI_J2R") & (rows.stat_name == "delta_p_value")]
    cell = {}
    for r in rows.itertuples():
        levels = {r.group2: r.group2_level, r.group3: r.group3_level}
        cell[(levels["delta_active"], levels["delta_reference"])] = r.stat
    section = table[table.index("delta active 4**"):]
    p_line = next(line for line in section.splitlines() if "p-value" in line)
    assert p_line.split("|")[2:4] == [f" {fmt_p(cell[('4', '0')], 4)} ",
                                      f" {fmt_p(cell[('4', '-2')], 4)} "]
