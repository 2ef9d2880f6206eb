"""Kaplan-Meier, rank tests and Cox regression against SAS / R published outputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sap_engine.errors import MethodError
from sap_engine.methods import registry
from sap_engine.methods.survival import (
    confidence_limits,
    cox,
    cox_ph,
    event_indicator,
    kaplan_meier,
    kaplan_meier_method,
    logrank,
    quantile,
    rank_test,
    survival_at,
)
from sap_engine.methods.survival_km import CONFTYPES

# R survival package, data set `aml` (acute myelogenous leukemia, 23 patients).
AML_M = ([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
AML_N = ([5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])


def _aml() -> pd.DataFrame:
    d = pd.DataFrame({"time": AML_M[0] + AML_N[0], "status": AML_M[1] + AML_N[1],
                      "x": ["Maintained"] * 11 + ["Nonmaintained"] * 12})
    d["CNSR"] = 1 - d.status  # ADaM coding: 0 = event
    return d


# SAS/STAT PROC LIFETEST documentation data Sashelp.BMT (Klein & Moeschberger 1997): disease
# group (A = ALL, L = AML-Low Risk, H = AML-High Risk), days, '+' = censored. Data order kept.
BMT = """
A2081+ A1602+ A1496+ A1462+ A1433+ A1377+ A1330+ A996+ A226+ A1199+ A1111+ A530+ A1182+
A1167+ A418 A383 A276 A104 A609 A172 A487 A662 A194 A230 A526 A122 A129 A74 A122 A86 A466
A192 A109 A55 A1 A107 A110 A332 L2569+ L2506+ L2409+ L2218+ L1857+ L1829+ L1562+ L1470+
L1363+ L1030+ L860+ L1258+ L2246+ L1870+ L1799+ L1709+ L1674+ L1568+ L1527+ L1324+ L957+
L932+ L847+ L848+ L1850+ L1843+ L1535+ L1447+ L1384+ L414 L2204 L1063 L481 L105 L641 L390
L288 L421 L79 L748 L486 L48 L272 L1074 L381 L10 L53 L80 L35 L248 L704 L211 L219 L606 H2640+
H2430+ H2252+ H2140+ H2133+ H1238+ H1631+ H2024+ H1345+ H1136+ H845+ H422 H162 H84 H100 H2
H47 H242 H456 H268 H318 H32 H467 H47 H390 H183 H105 H115 H164 H93 H120 H80 H677 H64 H168 H74
H16 H157 H625 H48 H273 H63 H76 H113 H363
"""
_GROUPS = {"A": "ALL", "L": "AML-Low Risk", "H": "AML-High Risk"}


def _bmt() -> pd.DataFrame:
    toks = BMT.split()
    return pd.DataFrame({"Group": [_GROUPS[t[0]] for t in toks],
                         "T": [float(t[1:].rstrip("+")) for t in toks],
                         "Status": [0 if t.endswith("+") else 1 for t in toks]})


# SAS/STAT PROC PHREG documentation, Getting Started: Kalbfleisch & Prentice (1980) rats
# (Days, Status 1 = death, Group).
RATS = """
143 1 0 164 1 0 188 1 0 188 1 0 190 1 0 192 1 0 206 1 0 209 1 0 213 1 0 216 1 0 220 1 0
227 1 0 230 1 0 234 1 0 246 1 0 265 1 0 304 1 0 216 0 0 244 0 0 142 1 1 156 1 1 163 1 1
198 1 1 205 1 1 232 1 1 232 1 1 233 1 1 233 1 1 233 1 1 233 1 1 239 1 1 240 1 1 261 1 1
280 1 1 280 1 1 296 1 1 296 1 1 323 1 1 204 0 1 344 0 1
"""


def _rats() -> np.ndarray:
    return np.array(RATS.split(), dtype=float).reshape(-1, 3)


def _options(method: str, **given) -> dict:
    return registry.get(method).resolve_options(given)


def _stats(stats) -> dict:
    return {(s.groups, s.variable_level, s.stat_name): s.stat for s in stats}


def test_aml_km_matches_r_survfit():
    """R: summary(survfit(Surv(time, status) ~ x, data = aml)) (conf.type = "log").

    x=Maintained:  time 9 13 18 23 31 34 48; n.risk 11 10 8 7 5 4 2;
      survival 0.909 0.818 0.716 0.614 0.491 0.368 0.184;
      std.err 0.0867 0.1163 0.1397 0.1526 0.1642 0.1627 0.1535;
      lower 0.7541 0.6192 0.4884 0.3769 0.2549 0.1549 0.0359;
      upper 1.000 1.000 1.000 0.999 0.946 0.875 0.944.
    x=Nonmaintained (first rows): time 5 8 12; n.risk 12 10 8; n.event 2 2 1;
      survival 0.8333 0.6667 0.5833; std.err 0.1076 0.1361 0.1423;
      lower 0.6470 0.4468 0.3616; upper 1.000 0.995 0.941.
    print(fit): medians 31 (0.95LCL 18, UCL NA) and 23 (LCL 8, UCL NA).
    """
    km = kaplan_meier(*AML_M)
    lo, up = confidence_limits(km.survival, km.se, "log")
    assert km.times.tolist() == [9, 13, 18, 23, 31, 34, 48]
    assert km.n_risk.tolist() == [11, 10, 8, 7, 5, 4, 2]
    assert np.round(km.survival, 3).tolist() == [0.909, 0.818, 0.716, 0.614, 0.491, 0.368,
                                                 0.184]
    assert np.round(km.se, 4).tolist() == [0.0867, 0.1163, 0.1397, 0.1526, 0.1642, 0.1627,
                                           0.1535]
    assert np.round(lo, 4).tolist() == [0.7541, 0.6192, 0.4884, 0.3769, 0.2549, 0.1549,
                                        0.0359]
    assert np.round(up, 3).tolist() == [1.0, 1.0, 1.0, 0.999, 0.946, 0.875, 0.944]
    km = kaplan_meier(*AML_N)
    lo, up = confidence_limits(km.survival, km.se, "log")
    assert km.n_risk[:3].tolist() == [12, 10, 8] and km.n_events[:3].tolist() == [2, 2, 1]
    assert np.round(km.survival[:3], 4).tolist() == [0.8333, 0.6667, 0.5833]
    assert np.round(km.se[:3], 4).tolist() == [0.1076, 0.1361, 0.1423]
    assert np.round(lo[:3], 4).tolist() == [0.6470, 0.4468, 0.3616]
    assert np.round(up[:3], 3).tolist() == [1.0, 0.995, 0.941]
    # Medians through the registered method, conftype = log as R
    got = _stats(kaplan_meier_method(_aml(), {"time": "time", "event": "CNSR", "group": "x"},
                                     _options("kaplan_meier", conftype="log")))
    m, n = (("x", "Maintained"),), (("x", "Nonmaintained"),)
    assert (got[(m, None, "n")], got[(m, None, "events")]) == (11, 7)
    assert (got[(n, None, "n")], got[(n, None, "events")]) == (12, 11)
    assert (got[(m, None, "median")], got[(m, None, "median_ci_lower")]) == (31, 18)
    assert got[(m, None, "median_ci_upper")] is None
    assert (got[(n, None, "median")], got[(n, None, "median_ci_lower")]) == (23, 8)
    # R prints UCL NA for Nonmaintained because its upper band is undefined once S = 0 at 45;
    # the SAS rule (first event time after the set) gives that last event time.
    assert got[(n, None, "median_ci_upper")] == 45


def test_sas_bmt_quartile_limits_every_conftype():
    """SAS LIFETEST documentation, 'Breslow, Fleming-Harrington, and Kaplan-Meier Methods'
    (statug_lifetest_details03): 95% limits of the 25th percentile of the ALL group:
    LINEAR 107-276, LOGLOG 86-230, LOG 107-332, ASINSQRT 104-276, LOGIT 104-230."""
    d = _bmt()
    a = d[d.Group == "ALL"]
    km = kaplan_meier(a["T"].to_numpy(), a.Status.to_numpy())
    printed = {"linear": (107, 276), "loglog": (86, 230), "log": (107, 332),
               "asinsqrt": (104, 276), "logit": (104, 230)}
    for conftype, (lower, upper) in printed.items():
        q = quantile(km, 0.25, conftype)
        assert (q.lower, q.upper) == (lower, upper), conftype
        assert q.estimate == 122
    # through the method: default conftype is LOGLOG (SAS), quartiles per group
    got = _stats(kaplan_meier_method(d, {"time": "T", "event": "Status", "group": "Group"},
                                     _options("kaplan_meier", event_from="event")))
    g = (("Group", "ALL"),)
    assert (got[(g, None, "q1")], got[(g, None, "q1_ci_lower")],
            got[(g, None, "q1_ci_upper")]) == (122, 86, 230)


def test_km_single_curve_numeric_levels_and_flags():
    d = _aml()
    got = _stats(kaplan_meier_method(d.assign(flag=d.status.astype(bool)),
                                     {"time": "time", "event": "flag"},
                                     _options("kaplan_meier", event_from="event")))
    assert (got[((), None, "n")], got[((), None, "events")]) == (23, 18)
    assert got[((("time", "5"),), None, "n_risk")] == 23
    # numeric group levels order by value (2 before 10) and the Cox default reference is
    # the last of them (SAS REF=LAST)
    d = d.assign(dose=np.where(d.x == "Maintained", 10, 2))
    stats = kaplan_meier_method(d, {"time": "time", "event": "CNSR", "group": "dose"},
                                _options("kaplan_meier"))
    assert [s.groups for s in stats if s.stat_name == "n"] == [(("dose", "2"),),
                                                               (("dose", "10"),)]
    got = _stats(cox(d, {"time": "time", "event": "CNSR", "group": "dose"}, _options("cox")))
    assert ((), "2 vs 10", "hazard_ratio") in got


def test_km_statsmodels_second_algorithm():
    from statsmodels.duration.survfunc import SurvfuncRight

    d = _bmt()
    names = {"loglog": "cloglog", "log": "log", "linear": "linear", "asinsqrt": "asinsqrt",
             "logit": "logit"}
    for _, g in d.groupby("Group"):
        km = kaplan_meier(g["T"].to_numpy(), g.Status.to_numpy())
        ref = SurvfuncRight(g["T"].to_numpy(), g.Status.to_numpy())
        assert np.allclose(km.times, ref.surv_times)
        assert np.allclose(km.survival, ref.surv_prob, atol=1e-10)
        assert np.allclose(km.se, ref.surv_prob_se, atol=1e-10)
        for conftype, sm in names.items():
            for p in (0.25, 0.5, 0.75):
                q = quantile(km, p, conftype)
                lb, ub = ref.quantile_ci(p, method=sm)
                assert q.lower == (None if np.isnan(lb) else lb), (conftype, p)
                assert q.upper == (None if np.isinf(ub) or np.isnan(ub) else ub), (conftype, p)


def test_km_hand_computation():
    km = kaplan_meier(np.array([1.0, 2, 2, 3, 4, 5]), np.array([1, 1, 0, 1, 0, 1]))
    assert km.times.tolist() == [1, 2, 3, 5]
    assert km.n_risk.tolist() == [6, 5, 3, 1]
    assert km.survival == pytest.approx([5 / 6, 4 / 6, 4 / 9, 0])
    # Greenwood at t = 2: (4/6) sqrt(1/(6*5) + 1/(5*4))
    assert km.se[1] == pytest.approx(4 / 6 * math.sqrt(1 / 30 + 1 / 20))
    assert quantile(km, 0.5).estimate == 3  # first S < 0.5
    # log-log limits by hand at t = 1: S^exp(+-z se / (S log S))
    s, se, z = 5 / 6, km.se[0], 1.959963984540054
    lo, up = confidence_limits(km.survival[:1], km.se[:1], "loglog")
    k = math.exp(z * se / (s * abs(math.log(s))))
    assert (lo[0], up[0]) == pytest.approx((s ** k, s ** (1 / k)))
    # S exactly 0.5 on [2, 3): median is the midpoint 2.5 (SAS, R)
    flat = kaplan_meier(np.array([1.0, 2, 3, 4]), np.array([1, 1, 1, 1]))
    assert quantile(flat, 0.5).estimate == 2.5
    # reading the step function
    at = survival_at(km, 2.5)
    assert (at.survival, at.n_risk, at.events) == (pytest.approx(4 / 6), 3, 2)
    before = survival_at(km, 0.5)
    assert (before.survival, before.lower, before.upper, before.n_risk) == (1, 1, 1, 6)
    end = survival_at(km, 9)  # S reached 0 at 5: still 0 afterwards
    assert end.survival == 0 and end.lower is None
    censored_last = kaplan_meier(np.array([1.0, 2, 3]), np.array([1, 0, 0]))
    assert survival_at(censored_last, 4).survival is None  # past the last follow-up


def test_km_timepoints_and_strata_through_the_method():
    d = _aml().assign(site=lambda f: np.where(f.index % 2 == 0, "S1", "S2"))
    roles = {"time": "time", "event": "status", "group": "x", "strata": ("site",)}
    got = _stats(kaplan_meier_method(d, roles, _options("kaplan_meier", event_from="event",
                                                         timepoints=[20])))
    for arm in ("Maintained", "Nonmaintained"):
        for site in ("S1", "S2"):
            rows = d[(d.x == arm) & (d.site == site)]
            km = kaplan_meier(rows.time.to_numpy(), rows.status.to_numpy())
            g = (("x", arm), ("site", site))
            assert got[(g, None, "n")] == len(rows)
            at = survival_at(km, 20)
            assert got[(g + (("time", "20"),), None, "survival")] == at.survival
            assert got[(g + (("time", "20"),), None, "n_risk")] == at.n_risk


def test_aml_logrank_matches_r_survdiff():
    """R: survdiff(Surv(time, status) ~ x, data = aml): Observed 7 / 11, Expected 10.69 / 7.31,
    Chisq = 3.4 on 1 degrees of freedom, p = 0.07."""
    got = _stats(logrank(_aml(), {"time": "time", "event": "CNSR", "group": "x"},
                         _options("logrank")))
    assert round(got[((), "logrank", "logrank_chisq")], 1) == 3.4
    assert got[((), "logrank", "df")] == 1
    assert round(got[((), "logrank", "p_value")], 2) == 0.07
    m, n = (("x", "Maintained"),), (("x", "Nonmaintained"),)
    assert (got[(m, "logrank", "events")], got[(n, "logrank", "events")]) == (7, 11)
    assert round(got[(m, "logrank", "expected_events")], 2) == 10.69
    assert round(got[(n, "logrank", "expected_events")], 2) == 7.31


def test_sas_bmt_rank_tests():
    """SAS LIFETEST documentation, Sashelp.BMT, 'Test of Equality over Strata':
    Log-Rank 13.8037 (2 df, p 0.0010), Wilcoxon 16.2407 (2 df, p 0.0003)."""
    d = _bmt()
    lr = rank_test(d["T"], d.Status, d.Group, test="logrank")
    wx = rank_test(d["T"], d.Status, d.Group, test="wilcoxon")
    assert (round(lr.chisq, 4), lr.df, round(lr.p_value, 4)) == (13.8037, 2, 0.0010)
    assert (round(wx.chisq, 4), wx.df, round(wx.p_value, 4)) == (16.2407, 2, 0.0003)


def test_r_survdiff_bmt_weights_and_strata():
    """R survival::survdiff and survMisc on AML-Low vs AML-High (values recorded in
    statsmodels' test-suite): log-rank 13.44556, Gehan-Breslow 15.38787, Tarone-Ware
    14.98382; with strata = row number mod 5: 11.97799."""
    d = _bmt()
    d = d[d.Group != "ALL"].reset_index(drop=True)
    args = (d["T"], d.Status, d.Group)
    assert rank_test(*args).chisq == pytest.approx(13.44556, abs=1e-5)
    assert rank_test(*args, test="wilcoxon").chisq == pytest.approx(15.38787, abs=1e-5)
    assert rank_test(*args, test="tarone").chisq == pytest.approx(14.98382, abs=1e-5)
    strata = np.arange(len(d)) % 5
    assert rank_test(*args, strata=strata).chisq == pytest.approx(11.97799, abs=1e-5)
    # the same through the method, strata as a role
    frame = d.assign(s=strata.astype(str), CNSR=1 - d.Status)
    got = _stats(logrank(frame, {"time": "T", "event": "CNSR", "group": "Group",
                                 "strata": ("s",)}, _options("logrank")))
    assert got[((), "logrank", "logrank_chisq")] == pytest.approx(11.97799, abs=1e-5)


def test_aml_cox_efron_matches_r_coxph():
    """R: coxph(Surv(time, status) ~ x, data = aml): coef 0.9155, exp(coef) 2.498,
    se(coef) 0.5119, z 1.788, p 0.0737; lower .95 0.9159, upper .95 6.813;
    Likelihood ratio test = 3.38, Wald test = 3.2, Score (logrank) test = 3.42 on 1 df."""
    got = _stats(cox(_aml(), {"time": "time", "event": "CNSR", "group": "x"},
                     _options("cox", ties="efron", reference="Maintained")))
    p = "Nonmaintained vs Maintained"
    assert round(got[((), p, "estimate")], 4) == 0.9155
    assert round(got[((), p, "hazard_ratio")], 3) == 2.498
    assert round(got[((), p, "se")], 4) == 0.5119
    assert round(math.sqrt(got[((), p, "statistic")]), 3) == 1.788
    assert round(got[((), p, "p_value")], 4) == 0.0737
    assert (round(got[((), p, "ci_lower")], 4), round(got[((), p, "ci_upper")], 3)) == \
        (0.9159, 6.813)
    assert round(got[((), "Likelihood Ratio", "statistic")], 2) == 3.38
    assert round(got[((), "Wald", "statistic")], 1) == 3.2
    assert round(got[((), "Score", "statistic")], 2) == 3.42
    assert (got[((), None, "n")], got[((), None, "events")]) == (23, 18)


def test_sas_rats_cox_breslow_hazard_ratio():
    """SAS PHREG documentation, Getting Started: the hazard ratio for Group is 0.551 (Breslow
    ties, the PHREG default). Default reference is SAS REF=LAST, so Group 0 vs 1 is 1/0.551."""
    r = _rats()
    fit = cox_ph(r[:, 0], r[:, 1], r[:, 2])
    assert round(math.exp(fit.estimate[0]), 3) == 0.551
    frame = pd.DataFrame({"Days": r[:, 0], "Status": r[:, 1], "Group": r[:, 2].astype(int)})
    got = _stats(cox(frame, {"time": "Days", "event": "Status", "group": "Group"},
                     _options("cox", event_from="event", reference="0")))
    assert round(got[((), "1 vs 0", "hazard_ratio")], 3) == 0.551
    got = _stats(cox(frame, {"time": "Days", "event": "Status", "group": "Group"},
                     _options("cox", event_from="event")))
    assert got[((), "0 vs 1", "hazard_ratio")] == pytest.approx(1 / math.exp(fit.estimate[0]))


def test_cox_statsmodels_second_algorithm():
    from statsmodels.duration.hazard_regression import PHReg

    r = _rats()
    for ties in ("breslow", "efron"):
        fit = cox_ph(r[:, 0], r[:, 1], r[:, 2], ties=ties)
        ref = PHReg(r[:, 0], r[:, 2:3], status=r[:, 1], ties=ties).fit()
        assert fit.estimate == pytest.approx(ref.params, abs=1e-8)
        assert fit.se == pytest.approx(ref.bse, abs=1e-8)
        assert fit.loglik == pytest.approx(ref.llf, abs=1e-8)
    # several covariates, a 3-level factor, strata, many ties (rounded times)
    rng = np.random.default_rng(11)
    n = 240
    frame = pd.DataFrame({"age": rng.normal(60, 8, n), "arm": rng.choice(["A", "B", "C"], n),
                          "site": rng.choice(["s1", "s2", "s3"], n)})
    risk = 0.03 * (frame.age - 60) + frame.arm.map({"A": 0.0, "B": -0.5, "C": 0.4})
    frame["t"] = np.ceil(rng.exponential(20 * np.exp(-risk)))
    frame["cnsr"] = (rng.random(n) < 0.25).astype(int)
    x = np.column_stack([(frame.arm == "B"), (frame.arm == "C"), frame.age]).astype(float)
    for ties in ("breslow", "efron"):
        got = _stats(cox(frame, {"time": "t", "event": "cnsr", "group": "arm",
                                 "covariates": ("age",), "strata": ("site",)},
                         _options("cox", ties=ties, reference="A")))
        ref = PHReg(frame.t, x, status=1 - frame.cnsr, strata=frame.site, ties=ties).fit()
        for j, name in enumerate(("B vs A", "C vs A", "age")):
            assert got[((), name, "estimate")] == pytest.approx(ref.params[j], abs=1e-8)
            assert got[((), name, "se")] == pytest.approx(ref.bse[j], abs=1e-8)
        # Type 3 Wald of the 3-level arm: b' V^-1 b over its two parameters
        b, v = ref.params[:2], ref.cov_params()[:2, :2]
        assert got[((), "arm", "statistic")] == pytest.approx(b @ np.linalg.solve(v, b),
                                                              rel=1e-7)
        assert got[((), "arm", "df")] == 2


def test_cox_score_equals_logrank():
    rng = np.random.default_rng(5)
    t = rng.exponential(10, 60)  # continuous: no ties
    e = (rng.random(60) < 0.8).astype(int)
    g = (rng.random(60) < 0.5).astype(float)
    fit = cox_ph(t, e, g)
    assert fit.score_chisq == pytest.approx(rank_test(t, e, g).chisq, rel=1e-10)


def test_event_coding():
    assert event_indicator(np.array([0, 1, 2, 0]), "cnsr").tolist() == [1, 0, 0, 1]
    assert event_indicator(np.array([0, 1, 1]), "event").tolist() == [0, 1, 1]
    with pytest.raises(MethodError) as err:
        event_indicator(np.array([0, 0.5]), "cnsr")
    assert err.value.code == "SAP476"
    with pytest.raises(MethodError, match="event value 2"):
        event_indicator(np.array([0, 2]), "event")
    # the same analysis from CNSR and from an event flag
    d = _aml()
    roles = {"time": "time", "group": "x"}
    a = logrank(d, {**roles, "event": "CNSR"}, _options("logrank"))
    b = logrank(d, {**roles, "event": "status"}, _options("logrank", event_from="event"))
    assert a == b


def test_cox_refusals():
    d = _aml()
    roles = {"time": "time", "event": "CNSR", "group": "x"}
    with pytest.raises(MethodError) as err:
        cox(d.assign(CNSR=1), roles, _options("cox"))
    assert err.value.code == "SAP491"
    with pytest.raises(MethodError) as err:
        cox_ph(np.array([1.0, 2, 3]), np.array([1, 0, 0]), np.array([[0, 1], [1, 0], [1, 1.]]))
    assert err.value.code == "SAP492"
    no_events_in_arm = d.assign(CNSR=np.where(d.x == "Maintained", 1, d.CNSR))
    with pytest.raises(MethodError) as err:
        cox(no_events_in_arm, roles, _options("cox"))
    assert err.value.code == "SAP499" and "diverges" in err.value.message
    collinear = d.assign(z=d.time * 2, w=d.time)
    with pytest.raises(MethodError) as err:
        cox(collinear, {**roles, "covariates": ("w", "z")}, _options("cox"))
    assert err.value.code == "SAP498" and "'z'" in err.value.message
    with pytest.raises(MethodError) as err:
        cox(d, roles, _options("cox", reference="Placebo"))
    assert err.value.code == "SAP478"


def test_input_refusals():
    d = _aml()
    roles = {"time": "time", "event": "CNSR", "group": "x"}
    with pytest.raises(MethodError) as err:
        kaplan_meier_method(d.assign(time=-d.time), roles, _options("kaplan_meier"))
    assert err.value.code == "SAP475"
    with pytest.raises(MethodError) as err:
        logrank(d[d.x == "Maintained"], roles, _options("logrank"))
    assert err.value.code == "SAP493"
    with pytest.raises(MethodError) as err:
        kaplan_meier_method(d.assign(time=np.nan), roles, _options("kaplan_meier"))
    assert err.value.code == "SAP477"
    with pytest.raises(MethodError) as err:
        kaplan_meier_method(d, roles, _options("kaplan_meier", timepoints=["week 4"]))
    assert err.value.code == "SAP479"


def test_conftype_limits_are_ordered_and_bounded():
    km = kaplan_meier(*AML_N)
    for conftype in CONFTYPES:
        lo, up = confidence_limits(km.survival, km.se, conftype)
        inner = (km.survival > 0) & (km.survival < 1)
        assert np.all(lo[inner] <= km.survival[inner]) and np.all(km.survival[inner] <= up[inner])
        assert np.all((lo[inner] >= 0) & (up[inner] <= 1))
