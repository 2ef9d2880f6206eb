"""Hardening of the methods (issue 8, points 7, 19a and 3): far-tail p-values, exact fits,
infinite inputs and non-finite statistics.

Every expected value is independent of the engine: closed forms of the normal tail (also
through the C library's ``math.erfc``, which does not cancel), SAS's kappa formulas
written out by hand, and hand-made data whose answer is known.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sap_engine.errors import MethodError
from sap_engine.execute import refuse_nonfinite
from sap_engine.methods import registry
from sap_engine.methods.agreement import kappa, kappa_weights
from sap_engine.methods.correlation import correlate
from sap_engine.methods.freq_table import chi2_sf, norm_sf
from sap_engine.methods.linear import ModelSpec, adjust_p, fit_linear
from sap_engine.methods.linear_fit import two_sided_p
from sap_engine.methods.registry import Method, Stat

# Upper tail of the standard normal, Q(z) (Abramowitz & Stegun 26.2; Q(10), Q(9) as quoted
# in the issue; Q(5) = 2.866515718791939e-07).
Q = {5.0: 2.866515718791939e-07, 9.0: 1.1285884059538324e-19, 10.0: 7.619853024160527e-24}


# abs=0 in every approx: its default absolute tolerance of 1e-12 would accept 0 for 1e-24.


def q_erfc(z: float) -> float:
    """Q(z) = erfc(z / sqrt 2) / 2: the C library's complementary error function."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def run(name: str, frame: pd.DataFrame, roles: dict, **options) -> list[Stat]:
    method = registry.get(name)
    return method.run(frame, roles, method.resolve_options(options))


# ---- point 7: p-values far in the tail ------------------------------------------------------

@pytest.mark.parametrize("z", sorted(Q))
def test_normal_tail_matches_closed_form(z):
    assert norm_sf(z) == pytest.approx(Q[z], rel=1e-12, abs=0)
    assert norm_sf(-z) == pytest.approx(1.0 - Q[z], rel=1e-15, abs=0)
    assert q_erfc(z) == pytest.approx(Q[z], rel=1e-12, abs=0)  # the reference itself


def test_chi_square_one_df_tail_is_twice_the_normal_tail():
    # chi2(1) = Z^2, so P(chi2 > x) = 2 Q(sqrt x).
    for z in Q:
        assert chi2_sf(z * z, 1) == pytest.approx(2 * Q[z], rel=1e-12, abs=0)


def test_t_tail_with_huge_df_is_the_normal_tail():
    """P(|T| > t) -> 2 Q(t) as df grows, the relative gap shrinking like (t^4 + t^2) / (4 df)
    (the leading term of the large-df expansion): under 1e-8 at df = 1e12, even at t = 10."""
    for z in (9.0, 10.0):
        assert two_sided_p(z, 1e12) == pytest.approx(2 * Q[z], rel=1e-8, abs=0)


def _kappa_by_hand(t):
    """Simple kappa, its null ASE, Z and two-sided p from the SAS formulas written out."""
    t = np.asarray(t, dtype=float)
    n = t.sum()
    p = t / n
    r, c = p.sum(1), p.sum(0)
    po, pe = np.trace(p), float(r @ c)
    k = (po - pe) / (1 - pe)
    var0 = (pe + pe ** 2 - float(np.sum(r * c * (r + c)))) / ((1 - pe) ** 2 * n)
    z = k / math.sqrt(var0)
    return k, z, 2 * q_erfc(z)


def test_kappa_p_value_with_a_huge_z():
    """Z of about 30: the p-value is about 1e-198, not 0 (the erf form gave 0 beyond 8.3)."""
    t = [[500, 10], [10, 480]]
    k, z, p = _kappa_by_hand(t)
    assert z > 25 and 0 < p < 1e-150
    got = kappa(t)
    assert got.kappa == pytest.approx(k, rel=1e-12, abs=0)
    assert got.z == pytest.approx(z, rel=1e-12, abs=0)
    assert got.p_value == pytest.approx(p, rel=1e-9, abs=0)


def test_kappa_p_value_in_the_lost_digits_range():
    """Z between 5 and 8.3: the old p-value had lost 3 to 15 of its digits."""
    t = [[40, 5], [4, 41]]
    k, z, p = _kappa_by_hand(t)
    assert 6 < z < 8.3
    assert kappa(t).p_value == pytest.approx(p, rel=1e-11, abs=0)


def test_weighted_kappa_p_value_far_in_the_tail():
    t = np.array([[300, 20, 2], [15, 280, 10], [1, 12, 360]])
    w = kappa_weights([1, 2, 3])
    res = kappa(t, w)
    assert res.z > 20
    assert res.p_value > 0
    assert res.p_value == pytest.approx(2 * q_erfc(res.z), rel=1e-9, abs=0)
    # Through the plan-facing method too.
    frame = pd.DataFrame([(i + 1, j + 1) for i in range(3) for j in range(3)
                          for _ in range(int(t[i, j]))], columns=["r", "c"])
    stats = run("weighted_kappa", frame, {"row": "r", "col": "c"})
    p = next(s.stat for s in stats if s.stat_name == "p_value")
    assert p == pytest.approx(2 * q_erfc(res.z), rel=1e-9, abs=0)


def test_sidak_adjustment_keeps_tiny_p_values():
    # 1 - (1 - p)^k = k p - C(k, 2) p^2 + ...: 3e-20 for p = 1e-20, k = 3 (the naive form
    # gives 0 because 1 - 1e-20 == 1 in double precision).
    got = adjust_p([1e-20, 0.5, 0.01], "sidak")
    assert got[0] == pytest.approx(3e-20, rel=1e-12, abs=0)
    assert got[1] == pytest.approx(1 - 0.5 ** 3, rel=1e-14, abs=0)
    assert got[2] == pytest.approx(0.029701, rel=1e-12, abs=0)  # 1 - 0.99^3, exactly 0.029701


# ---- point 19a: exact fits ------------------------------------------------------------------

def _arms(n: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"trt": ["A", "B"] * (n // 2), "base": rng.normal(20, 4, n)})


def test_ancova_of_a_constant_response_is_refused():
    """A change from baseline at the baseline visit: 0 for everyone (t was inf, p 0)."""
    frame = _arms().assign(chg=0.0)
    with pytest.raises(MethodError) as err:
        run("ancova", frame, {"response": "chg", "treatment": "trt", "covariates": ("base",)})
    assert err.value.code == "SAP473"
    assert "'chg' exactly" in err.value.message


def test_ancova_of_an_exact_function_of_the_terms_is_refused():
    frame = _arms()
    frame["y"] = 2.0 * frame.base + np.where(frame.trt == "A", 3.0, 0.0)
    with pytest.raises(MethodError) as err:
        run("ancova", frame, {"response": "y", "treatment": "trt", "covariates": ("base",)})
    assert err.value.code == "SAP473"


def test_dose_response_exact_fit_is_refused():
    frame = pd.DataFrame({"dose": [0.0, 0, 1, 1, 2, 2], "y": [1.0, 1, 3, 3, 5, 5]})
    with pytest.raises(MethodError) as err:
        run("dose_response", frame, {"response": "y", "dose": "dose"})
    assert err.value.code == "SAP473"


def test_fit_linear_still_fits_exact_data():
    """The least-squares core keeps exact fits (NIST Wampler1 is one): only the plan-facing
    methods, which would print infinite tests, refuse them."""
    x = np.arange(6.0)
    fit = fit_linear(pd.DataFrame({"x": x, "y": 1 + 2 * x}), ModelSpec("y", covariates=("x",)))
    assert fit.exact_fit
    assert fit.coef == pytest.approx([1.0, 2.0])


def test_ancova_with_a_tiny_but_real_spread_is_fitted():
    """Noise of 1e-6 on a response of size 1e3 (a relative 1e-9) is data, not an exact fit."""
    frame = _arms(40)
    rng = np.random.default_rng(2)
    frame["y"] = 1000.0 + frame.base + rng.normal(0, 1e-6, len(frame))
    stats = run("ancova", frame, {"response": "y", "treatment": "trt", "covariates": ("base",)})
    t = next(s.stat for s in stats if s.stat_name == "statistic")
    assert math.isfinite(t)


def _fake(nonfinite=()) -> Method:
    return Method("fake", "test", "a fake method", run=lambda *a: [], nonfinite=nonfinite)


def test_executor_refuses_an_undeclared_non_finite_statistic():
    with pytest.raises(MethodError) as err:
        refuse_nonfinite(_fake(), [Stat("mean", 1.0), Stat("statistic", math.inf,
                                                            variable_level="A - B")])
    assert err.value.code == "SAP472"
    assert "statistic of 'A - B' = inf" in err.value.message
    with pytest.raises(MethodError):
        refuse_nonfinite(_fake(), [Stat("mean", math.nan)])


def test_executor_keeps_declared_non_finite_and_empty_statistics():
    refuse_nonfinite(_fake(("median",)), [Stat("median", math.nan), Stat("p_value", None)])


def test_declared_non_finite_statistics_are_statistics_of_the_method():
    for method in registry.load_all().values():
        assert set(method.nonfinite) <= set(method.stats), method.name


# ---- point 3: infinite inputs are refused, missing ones counted -----------------------------

def _with_inf(frame: pd.DataFrame, column: str, row: int = 2) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[row], column] = math.inf
    return frame


def _subjects(n: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"trt": ["A", "B"] * (n // 2), "y": rng.normal(0, 1, n),
                         "x": rng.normal(5, 2, n), "flag": ["Y", "N", "N", "Y", "Y"] * (n // 5),
                         "time": rng.uniform(1, 50, n), "cnsr": [0.0, 1.0] * (n // 2)},
                        index=[f"S{i:02d}" for i in range(1, n + 1)])


@pytest.mark.parametrize("column, name, roles", [
    ("y", "ancova", {"response": "y", "treatment": "trt", "covariates": ("x",)}),
    ("x", "ancova", {"response": "y", "treatment": "trt", "covariates": ("x",)}),
    ("x", "dose_response", {"response": "y", "dose": "x"}),
    ("x", "logistic", {"response": "flag", "treatment": "trt", "covariates": ("x",)}),
    ("x", "correlation", {"variables": ("x", "y")}),
    ("y", "descriptive", {"variable": "y"}),
    ("y", "smd", {"variable": "y", "treatment": "trt"}),
    ("time", "kaplan_meier", {"time": "time", "event": "cnsr", "group": "trt"}),
    ("cnsr", "logrank", {"time": "time", "event": "cnsr", "group": "trt"}),
    ("x", "cox", {"time": "time", "event": "cnsr", "group": "trt", "covariates": ("x",)}),
    ("cnsr", "chisq", {"row": "trt", "col": "cnsr"}),
    ("x", "kappa", {"row": "x", "col": "x"}),
])
def test_infinite_input_is_refused_naming_variable_and_subject(column, name, roles):
    frame = _with_inf(_subjects(), column)
    with pytest.raises(MethodError) as err:
        run(name, frame, roles)
    assert err.value.code == "SAP471"
    assert f"'{column}'" in err.value.message and "subject S03" in err.value.message


def test_plain_correlation_refuses_infinite_values():
    """The reported defect: x with an inf gave r = 1.0 and p = 0."""
    x = np.array([1.0, 2, 3, math.inf, 5])
    with pytest.raises(MethodError) as err:
        correlate(x, np.array([2.0, 1, 4, 3, 5]))
    assert err.value.code == "SAP471"


def test_rows_dropped_for_missing_values_are_not_counted_in_n():
    frame = _subjects()
    frame.loc[["S01", "S04"], "y"] = np.nan  # one row of each arm
    stats = run("ancova", frame, {"response": "y", "treatment": "trt", "covariates": ("x",)})
    n = {(s.groups, s.variable_level): s.stat for s in stats if s.stat_name == "n"}
    assert n[((("trt", "A"),), None)] == 4 and n[((("trt", "B"),), None)] == 4
    assert n[((), "model")] == 8
    described = {s.stat_name: s.stat for s in run("descriptive", frame, {"variable": "y"})}
    assert described["n"] == 8 and described["n_missing"] == 2
