"""The MMRM method (sap_engine.methods.mmrm): REML fit, covariance structures, df.

References are independent algorithms: statsmodels MixedLM (random intercept, REML) for
compound symmetry, statsmodels OLS per visit for complete balanced data with an
unstructured covariance, a large simulation with known parameters, finite differences of
the REML likelihood for the Satterthwaite df, and the classical split-plot df for
Kenward-Roger on balanced compound-symmetry data.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from mmrm_fixture import FIXTURE
from mmrm_fixture import fixture_frame as _fixture_frame

from sap_engine.errors import MethodError
from sap_engine.methods import registry
from sap_engine.methods.mmrm_cov import STRUCTURES, structure
from sap_engine.methods.mmrm_design import build_design
from sap_engine.methods.mmrm_df import contrast, information, kr_covariance
from sap_engine.methods.mmrm_fit import _evaluate, fit_reml

ROLES = {"response": "y", "treatment": "TRT", "covariates": ("base",)}
L_TRUE = np.array([[1.0, 0, 0, 0], [0.5, 1.1, 0, 0], [0.3, 0.4, 1.2, 0],
                   [0.2, 0.3, 0.5, 1.3]])


def simulate(n: int, t: int = 4, seed: int = 1, missing: float = 0.0, chol=None,
             effect: float = 0.2, balanced: bool = False) -> pd.DataFrame:
    """n subjects x t visits: y = 1 + 0.5 base + 0.3 visit + effect * visit (arm B) + e."""
    rng = np.random.default_rng(seed)
    chol = L_TRUE[:t, :t] if chol is None else chol
    subj = np.repeat(np.arange(n), t)
    vis = np.tile(np.arange(t), n)
    arms = np.array(["A", "B"])[np.arange(n) % 2] if balanced else \
        np.where(rng.random(n) < 0.5, "A", "B")
    base = rng.normal(10, 2, n)[subj]
    e = (rng.normal(size=(n, t)) @ chol.T).ravel()
    arm = arms[subj]
    y = 1 + 0.5 * base + 0.3 * vis + (arm == "B") * effect * (vis + 1) + e
    if missing:
        y[rng.random(n * t) < missing] = np.nan
    return pd.DataFrame({"y": y, "TRT": arm, "base": base, "visit": (vis * 4.0)},
                        index=pd.Index([f"S{i:04d}" for i in subj], name="USUBJID"))


def run(frame, roles=ROLES, **options):
    method = registry.get("mmrm")
    assert method is not None
    return method.run(frame, roles, method.resolve_options(options))


def stat(stats, name, level=None, groups=()):
    (value,) = [s.stat for s in stats if s.stat_name == name and s.variable_level == level
                and s.groups == groups]
    return value


def fitted(frame, cov="unstructured", by_visit=True, covariates=("base",)):
    design = build_design(frame, "y", "TRT", (), covariates, ["A", "B"], by_visit, ())
    return design, fit_reml(design.x, design.y, design.subject, design.visit,
                            structure(cov, len(design.visits)))


def test_cs_reproduces_random_intercept_reml():
    import statsmodels.api as sm

    frame = simulate(120, missing=0.15, chol=np.full((4, 4), 0.0) + np.eye(4), seed=3)
    frame["y"] += np.repeat(np.random.default_rng(9).normal(0, 1.2, 120), 4)[:len(frame)] \
        * frame["y"].notna()
    design, fit = fitted(frame, "cs")
    groups = design.subject
    ref = sm.MixedLM(design.y, design.x, groups).fit(reml=True, method="bfgs", gtol=1e-10)
    np.testing.assert_allclose(fit.beta, ref.fe_params, rtol=1e-5, atol=1e-7)
    between, within = fit.phi  # SAS names: CS (off-diagonal), Residual
    assert between == pytest.approx(float(np.asarray(ref.cov_re)[0, 0]), rel=1e-5)
    assert within == pytest.approx(ref.scale, rel=1e-5)
    # The model-based SEs (X'V^-1 X)^-1 at statsmodels' variance components. (statsmodels'
    # own bse_fe inverts its joint Hessian of fixed effects and variance parameters, whose
    # observed cross terms are not zero: it differs in the 4th digit, a different quantity.)
    sigma = float(np.asarray(ref.cov_re)[0, 0]) + ref.scale * np.eye(4)
    xvx = sum(design.x[design.subject == i].T @ np.linalg.inv(
        sigma[np.ix_(design.visit[design.subject == i], design.visit[design.subject == i])])
        @ design.x[design.subject == i] for i in np.unique(design.subject))
    np.testing.assert_allclose(fit.cov_beta, np.linalg.inv(xvx), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov_beta)), ref.bse_fe, rtol=1e-3)
    np.testing.assert_allclose(fit.sigma, between + within * np.eye(4), rtol=1e-12)
    # statsmodels' REML llf carries the same constant: -(N - p)/2 log(2 pi).
    assert fit.m2ll == pytest.approx(-2 * ref.llf, rel=1e-7)


def test_unstructured_complete_data_equals_per_visit_ancova():
    import statsmodels.api as sm

    frame = simulate(80, seed=5)
    stats = run(frame, reference="A")
    for v in (0, 4, 8, 12):
        at = frame[frame.visit == v]
        x = sm.add_constant(np.column_stack([(at.TRT == "B").astype(float), at.base]))
        ols = sm.OLS(at.y.to_numpy(), x).fit()
        g = (("visit", str(v)),)
        assert stat(stats, "diff", "B - A", g) == pytest.approx(ols.params[1], rel=1e-6)
        # With UN and complete data, REML's Sigma_vv is the visit's RSS / (n - 3), so the
        # model-based SE is the per-visit ANCOVA's SE exactly, and so is the df.
        assert stat(stats, "diff_se", "B - A", g) == pytest.approx(ols.bse[1], rel=1e-6)
        assert stat(stats, "df", "B - A", g) == pytest.approx(80 - 3, rel=1e-6)
        assert stat(stats, "p_value", "B - A", g) == pytest.approx(ols.pvalues[1], rel=1e-5)
        kr = run(frame, reference="A", df="kenward_roger")
        assert stat(kr, "df", "B - A", g) == pytest.approx(80 - 3, rel=1e-6)


def test_recovers_known_parameters():
    frame = simulate(3000, seed=11, missing=0.1)
    design, fit = fitted(frame)
    info = information(fit)
    se_phi = np.sqrt(np.diag(info.cov_phi_observed))
    true_phi = (L_TRUE @ L_TRUE.T)[np.tril_indices(4)]
    assert np.all(np.abs(fit.phi - true_phi) < 4 * se_phi)
    stats = run(frame, reference="A")
    for j, v in enumerate((0, 4, 8, 12)):
        g = (("visit", str(v)),)
        est, se = stat(stats, "diff", "B - A", g), stat(stats, "diff_se", "B - A", g)
        assert abs(est - 0.2 * (j + 1)) < 4 * se


def test_satterthwaite_df_by_finite_differences():
    frame = simulate(60, seed=2, missing=0.2)
    design, fit = fitted(frame, "ar1")
    info = information(fit)
    c = design.row("B", 3) - design.row("A", 3)
    struct, phi = fit.structure, fit.phi

    def ev(ph):
        return _evaluate(np.real(struct.sigma_of_phi(ph)), fit.patterns, fit.n_obs, fit.p)

    def var(ph):
        return float(c @ ev(ph).ainv @ c)

    def m2ll(ph):
        return ev(ph).m2ll

    k = len(phi)
    h = 1e-4 * np.maximum(1, np.abs(phi))
    grad = np.array([(var(phi + h[i] * np.eye(k)[i]) - var(phi - h[i] * np.eye(k)[i]))
                     / (2 * h[i]) for i in range(k)])
    hess = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = h[i] * np.eye(k)[i], h[j] * np.eye(k)[j]
            hess[i, j] = (m2ll(phi + ei + ej) - m2ll(phi + ei - ej) - m2ll(phi - ei + ej)
                          + m2ll(phi - ei - ej)) / (4 * h[i] * h[j])
    np.testing.assert_allclose(info.observed, hess, rtol=1e-4)
    v = var(phi)
    by_hand = 2 * v * v / (grad @ (2 * np.linalg.inv(hess)) @ grad)
    assert contrast(fit, c, "satterthwaite", info).df == pytest.approx(by_hand, rel=1e-4)


def test_kenward_roger_balanced_cs_df():
    # A split-plot: 2 arms x 20 subjects x 4 visits, complete; no covariate. Known
    # result: KR gives the classical df, n - g between subjects and (n - g)(t - 1) within.
    frame = simulate(40, seed=4, balanced=True, chol=0.8 * np.eye(4) + 0.0)
    frame["y"] += np.repeat(np.random.default_rng(1).normal(0, 1, 40), 4)
    design, fit = fitted(frame, "cs", covariates=())
    info = information(fit)
    adjusted = kr_covariance(fit, info)
    rows = {(a, j): design.row(a, j) for a in "AB" for j in range(4)}
    between = sum(rows[("B", j)] - rows[("A", j)] for j in range(4)) / 4
    within = (rows[("B", 3)] - rows[("A", 3)]) - (rows[("B", 0)] - rows[("A", 0)])
    visit = rows[("A", 3)] + rows[("B", 3)] - rows[("A", 0)] - rows[("B", 0)]
    assert contrast(fit, between, "kenward_roger", info, adjusted).df == \
        pytest.approx(38, rel=1e-6)
    for c in (within, visit):
        assert contrast(fit, c, "kenward_roger", info, adjusted).df == \
            pytest.approx(38 * 3, rel=1e-6)
    stats = run(frame, {"response": "y", "treatment": "TRT"}, df="kenward_roger",
                reference="A", covariate_by_visit=False)
    plain = run(frame, {"response": "y", "treatment": "TRT"}, df="satterthwaite",
                reference="A", covariate_by_visit=False)
    for v in (0, 4, 8, 12):
        g = (("visit", str(v)),)
        assert stat(stats, "diff_se", "B - A", g) >= stat(plain, "diff_se", "B - A", g) - 1e-12


@pytest.mark.parametrize("cov", STRUCTURES)
def test_every_structure_fits_and_reports_its_parameters(cov):
    frame = simulate(150, seed=8, missing=0.1)
    stats = run(frame, covariance=cov, df="kenward_roger")
    names = structure(cov, 4).names
    got = {s.variable_level: s.stat for s in stats if s.stat_name == "cov_parm"}
    assert list(got) == list(names)
    m2ll, aic = stat(stats, "m2ll", "model"), stat(stats, "aic", "model")
    assert aic == pytest.approx(m2ll + 2 * len(names))
    # A richer structure never fits worse than the one it contains.
    if cov == "unstructured":
        for simpler in ("cs", "ar1", "toeplitz", "csh"):
            assert m2ll <= stat(run(frame, covariance=simpler), "m2ll", "model") + 1e-6


def test_structures_are_positive_definite_and_nested():
    rng = np.random.default_rng(0)
    for cov in STRUCTURES:
        s = structure(cov, 4)
        for _ in range(20):
            theta = rng.normal(0, 2, s.k)
            assert np.linalg.eigvalsh(s.sigma(theta)).min() > 0, cov
        phi = np.real(s.theta_to_phi(rng.normal(0, 0.5, s.k)))
        # The start map inverts the parametrisation.
        again = np.real(s.theta_to_phi(s.start(np.real(s.sigma_of_phi(phi)))))
        np.testing.assert_allclose(again, phi, rtol=1e-6, atol=1e-8) if cov in (
            "unstructured", "cs", "csh", "ar1", "arh1") else None


def test_covariate_missing_drops_the_subject_and_visits_missing_are_kept():
    frame = simulate(100, seed=6, missing=0.2)
    frame.loc[frame.index == "S0003", "base"] = np.nan
    stats = run(frame)
    assert stat(stats, "n", "model") == 99
    assert stat(stats, "n_obs", "model") == frame.y.notna().sum() - \
        frame.loc["S0003", "y"].notna().sum()


def test_constant_visit_is_not_modelled():
    frame = simulate(50, seed=7)
    frame.loc[frame.visit == 0, "y"] = 0.0  # a change from baseline at baseline
    stats = run(frame)
    assert {g for s in stats for g in s.groups if g[0] == "visit"} == \
        {("visit", "4"), ("visit", "8"), ("visit", "12")}
    with pytest.raises(MethodError) as exc:
        run(frame, visits=[0, 4])
    assert exc.value.code == "SAP495"


def test_arm_without_observation_at_a_visit_is_refused():
    frame = simulate(40, seed=1)
    frame.loc[(frame.visit == 8) & (frame.TRT == "B"), "y"] = np.nan
    with pytest.raises(MethodError) as exc:
        run(frame)
    assert exc.value.code == "SAP490" and "'B'" in exc.value.message and "visit 8" in \
        exc.value.message


def test_singular_design_is_refused():
    frame = simulate(40, seed=1)
    frame["base2"] = 2 * frame["base"]
    with pytest.raises(MethodError) as exc:
        run(frame, {"response": "y", "treatment": "TRT", "covariates": ("base", "base2")})
    assert exc.value.code == "SAP491" and "base2" in exc.value.message


def test_non_convergent_fit_is_refused():
    frame = simulate(40, seed=1)
    design = build_design(frame, "y", "TRT", (), ("base",), ["A", "B"], True, ())
    with pytest.raises(MethodError) as exc:
        fit_reml(design.x, design.y, design.subject, design.visit,
                 structure("unstructured", 4), max_iter=2)
    assert exc.value.code == "SAP492"


def test_residual_df_is_n_minus_p():
    frame = simulate(30, seed=3)
    stats = run(frame, df="residual", reference="A")
    p = 2 * 4 + 1 + 3  # treatment x visit cells, base, base*visit (3 columns)
    assert stat(stats, "df", "B - A", (("visit", "4"),)) == 30 * 4 - p
    assert math.isfinite(stat(stats, "p_value", "B - A", (("visit", "4"),)))




def _rows(stats) -> dict:
    return {(s.groups, s.variable_level, s.stat_name): s.stat for s in stats}


def test_plan_runs_end_to_end_and_matches_the_direct_call(tmp_path):
    from sap_engine import ard
    from sap_engine.api import run_plan

    for f in FIXTURE.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    run_plan(tmp_path / "mmrm.sap", tmp_path / "out", jobs=1)
    table = ard.read(tmp_path / "out" / "ard.parquet")
    frame = _fixture_frame()
    direct = {
        "M1": run(frame, {"response": "chg", "treatment": "TRT01P", "covariates": ("base",)},
                  df="kenward_roger", reference="Placebo", levels=["Drug", "Placebo"]),
        "M2": run(frame, {"response": "chg", "treatment": "TRT01P", "factors": ("SITE",),
                          "covariates": ("base",)}, covariance="ar1",
                  covariate_by_visit=False, reference="Placebo", levels=["Drug", "Placebo"]),
    }
    for analysis, stats in direct.items():
        want = _rows(stats)
        got = {}
        for r in table[table.analysis_id == analysis].itertuples():
            groups = tuple((g, lv) for g, lv in ((r.group1, r.group1_level),
                                                  (r.group2, r.group2_level))
                           if isinstance(g, str))
            level = r.variable_level if isinstance(r.variable_level, str) else None
            got[(groups, level, r.stat_name)] = r.stat
        assert got.keys() == want.keys()
        # The same rows, but computed by another path (the executor's change from baseline,
        # its row order): equal to the REML optimiser's convergence, about 1e-8.
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    # The baseline visit (a change of 0 for everyone) is not modelled; weeks 4-16 are.
    assert sorted({g[1] for g, _, _ in _rows(direct["M1"]) for g in g if g[0] == "visit"},
                  key=float) == ["4", "8", "12", "16"]
    assert _rows(direct["M1"])[((), "model", "n")] == 60


def test_no_visit_in_the_options_list_is_refused():
    with pytest.raises(MethodError) as exc:
        run(simulate(20), visits=[99])
    assert exc.value.code == "SAP494"


def test_a_singular_information_matrix_is_refused():
    from sap_engine.methods.mmrm_df import _inverse

    with pytest.raises(MethodError) as exc:
        _inverse(np.zeros((2, 2)))
    assert exc.value.code == "SAP493"


def test_undefined_df_are_refused():
    from sap_engine.methods.mmrm_df import _df

    assert _df(8.0, 2.0) == 4.0
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(MethodError) as exc:
            _df(1.0, bad)
        assert exc.value.code == "SAP496"


def test_visits_option_takes_numbers():
    with pytest.raises(MethodError) as exc:
        run(simulate(20), visits=["week 4"])
    assert exc.value.code == "SAP497" and "'week 4'" in exc.value.message
    stats = run(simulate(20), visits=[4, 8])
    assert {g for s in stats for g in s.groups if g[0] == "visit"} == \
        {("visit", "4"), ("visit", "8")}
