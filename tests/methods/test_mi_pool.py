"""Pooling of multiply imputed analyses: Rubin's rules on a hand-worked example (exact
rational arithmetic), the many-response ANCOVA against statsmodels OLS one fit at a time,
and delta adjustment against its closed form."""

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from sap_engine.errors import MethodError
from sap_engine.methods.linear_design import ModelSpec
from sap_engine.methods.linear_fit import design_matrix, fit_linear
from sap_engine.methods.linear_lsmeans import lsmean_matrix
from sap_engine.methods.mi_pool import ancova_many, delta_columns, rubin, tipping_points


def test_rubin_hand_worked_example():
    # M = 5 estimates 10, 12, 11, 13, 14, each with variance 4; complete-data df 20.
    q, u, nu_com, m = [10, 12, 11, 13, 14], [4] * 5, 20, 5
    qbar = Fraction(sum(q), m)                                            # 12
    b = sum((Fraction(x) - qbar) ** 2 for x in q) / (m - 1)              # 10 / 4 = 5/2
    w = Fraction(sum(u), m)                                              # 4
    t = w + (1 + Fraction(1, m)) * b                                     # 4 + 3 = 7
    r = (1 + Fraction(1, m)) * b / w                                     # 3/4
    lam = (1 + Fraction(1, m)) * b / t                                   # 3/7
    nu_m = (m - 1) / lam ** 2                                     # 196/9
    nu_obs = Fraction(nu_com + 1, nu_com + 3) * nu_com * (1 - lam)       # 1680/161
    nu = 1 / (1 / nu_m + 1 / nu_obs)
    fmi = (r + 2 / (nu + 3)) / (1 + r)
    assert (qbar, b, t, r) == (12, Fraction(5, 2), 7, Fraction(3, 4))
    assert (lam, nu_m) == (Fraction(3, 7), Fraction(196, 9))
    pooled = rubin(np.array(q, float), np.array(u, float), nu_com)
    assert pooled.estimate == pytest.approx(12, abs=1e-14)
    assert pooled.var_total == pytest.approx(7, rel=1e-14)
    assert pooled.riv == pytest.approx(0.75, rel=1e-14)
    assert pooled.lam == pytest.approx(3 / 7, rel=1e-14)
    assert pooled.df == pytest.approx(float(nu), rel=1e-13)
    assert pooled.fmi == pytest.approx(float(fmi), rel=1e-13)
    assert pooled.se == pytest.approx(7 ** 0.5, rel=1e-14)
    lo, hi = pooled.ci(0.95)
    from scipy import stats
    half = stats.t.ppf(0.975, float(nu)) * 7 ** 0.5
    assert (lo, hi) == (pytest.approx(12 - half, rel=1e-12), pytest.approx(12 + half, rel=1e-12))
    assert pooled.p_value == pytest.approx(2 * stats.t.sf(12 / 7 ** 0.5, float(nu)), rel=1e-10)


def test_rubin_without_between_variance_uses_the_observed_data_df():
    pooled = rubin(np.full(4, 2.0), np.full(4, 0.25), 30)
    assert pooled.lam == 0 and pooled.var_between == 0
    assert pooled.df == pytest.approx(31 / 33 * 30, rel=1e-14)  # nu_obs with lambda = 0


def test_rubin_is_vectorised_over_leading_axes():
    rng = np.random.default_rng(1)
    q, u = rng.normal(size=(3, 4, 20)), rng.uniform(1, 2, size=(3, 4, 20))
    pooled = rubin(q, u, 50)
    one = rubin(q[2, 1], u[2, 1], 50)
    assert pooled.df[2, 1] == pytest.approx(float(one.df), rel=1e-14)
    assert pooled.estimate.shape == (3, 4)


def test_rubin_refuses_fewer_than_two_imputations():
    with pytest.raises(MethodError) as exc:
        rubin(np.array([1.0]), np.array([1.0]), 10)
    assert exc.value.code == "SAP498"


def _frame(n=60, seed=3):
    rng = np.random.default_rng(seed)
    trt = np.where(np.arange(n) % 3 == 0, "Placebo", np.where(np.arange(n) % 3 == 1, "Low",
                                                              "High"))
    base = rng.normal(10, 2, n)
    site = rng.choice(["S1", "S2"], n)
    return pd.DataFrame({"trt": trt, "base": base, "site": site}), rng


def test_ancova_many_equals_one_statsmodels_fit_per_response():
    frame, rng = _frame()
    spec = ModelSpec("y", ("trt", "site"), ("base",))
    x, used, levels = design_matrix(frame, spec, {"trt": ["Placebo", "Low", "High"]})
    assert used.all() and levels["trt"] == ("Placebo", "Low", "High")
    ys = rng.normal(size=(len(frame), 7)) + frame["base"].to_numpy()[:, None] * 0.5
    first = fit_linear(frame.assign(y=ys[:, 0]), spec, {"trt": ["Placebo", "Low", "High"]})
    big_l = lsmean_matrix(first, "trt", "equal")
    rows = np.vstack([big_l, big_l[2] - big_l[0]])
    many = ancova_many(x, ys, rows)
    assert many.df_resid == len(frame) - 5
    for k in range(ys.shape[1]):
        ols = smf.ols("y ~ C(trt, Treatment('Placebo')) + C(site) + base",
                      data=frame.assign(y=ys[:, k])).fit()
        name = "C(trt, Treatment('Placebo'))[T.High]"
        assert many.estimate[3, k] == pytest.approx(ols.params[name], rel=1e-10)
        assert many.variance[3, k] == pytest.approx(ols.bse[name] ** 2, rel=1e-10)
    # The LS means of column 0 are those of the ANCOVA itself.
    assert many.estimate[:3, 0] == pytest.approx(big_l @ first.coef, rel=1e-12)


def test_delta_on_every_value_of_an_arm_shifts_its_difference_exactly():
    frame, rng = _frame()
    spec = ModelSpec("y", ("trt",), ("base",))
    x, _, _ = design_matrix(frame, spec, {"trt": ["Placebo", "Low", "High"]})
    arm = frame["trt"].map({"Placebo": 0, "Low": 1, "High": 2}).to_numpy()
    y = rng.normal(size=(len(frame), 5))
    imputed = np.zeros_like(y, dtype=bool)
    imputed[arm == 2] = True  # every High value "imputed"
    cells = [(0.0, 0.0, 0.0), (0.0, 0.0, 1.5)]
    cols = delta_columns(y, imputed, arm, cells)
    first = fit_linear(frame.assign(y=y[:, 0]), spec, {"trt": ["Placebo", "Low", "High"]})
    big_l = lsmean_matrix(first, "trt")
    diff = (big_l[2] - big_l[0])[None, :]
    many = ancova_many(x, cols, diff)
    assert many.estimate[0, 5:] - many.estimate[0, :5] == pytest.approx(np.full(5, 1.5))
    assert many.variance[0, 5:] == pytest.approx(many.variance[0, :5], rel=1e-10)
    # Observed values are never shifted.
    assert np.array_equal(cols[~imputed[:, 0], 5], y[~imputed[:, 0], 0])


def test_tipping_point_is_the_smallest_delta_that_loses_significance():
    values = [0, 1, 2, 3, 4]
    assert tipping_points(values, np.array([0.01, 0.02, 0.04, 0.06, 0.2]), 0.05) == 3
    assert tipping_points(values, np.array([0.01] * 5), 0.05) is None
    assert tipping_points(values, np.array([0.5] * 5), 0.05) is None  # never significant
    grid = [-2, -1, 0, 1, 2]
    assert tipping_points(grid, np.array([0.03, 0.04, 0.01, 0.04, 0.06]), 0.05) == 2
    # A tie in |delta| goes to the value written first.
    assert tipping_points(grid, np.array([0.3, 0.04, 0.01, 0.04, 0.06]), 0.05) == -2
