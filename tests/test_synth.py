"""The synthetic ProDERM data: reproducibility and every published calibration target.

Each figure of ``studies/proderm/published.json`` is recomputed *directly from the
shipped Parquet files* with pandas/scipy/statsmodels (a plain, independent computation
of the data, not of the generator) and compared with the paper's value within the
tolerance the JSON states. Analysis definitions are those of the plan (notes/synth.md):
the week-16 value of a switcher is the last non-missing value at AVISITN <= SWITCHWK.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from studies.proderm import study
from studies.proderm.fit import Level, fit_moments, shaped_sample, t975

ROOT = Path(__file__).resolve().parents[1]
# SAP_PRODERM_DATA checks another realisation (e.g. --seed N) against the same targets
DATA = Path(os.environ.get("SAP_PRODERM_DATA", ROOT / "data" / "proderm"))
PUB = json.loads((ROOT / "studies" / "proderm" / "published.json").read_text("utf-8"))
ARMS = ("IVIg", "Placebo")


@pytest.fixture(scope="module")
def screened() -> pd.DataFrame:
    return pd.read_parquet(DATA / "adsl.parquet")


@pytest.fixture(scope="module")
def adsl(screened: pd.DataFrame) -> pd.DataFrame:
    """The randomised subjects (the full analysis set)."""
    return screened[screened.RANDFL == "Y"].reset_index(drop=True)


@pytest.fixture(scope="module")
def adex() -> pd.DataFrame:
    return pd.read_parquet(DATA / "adex.parquet")


@pytest.fixture(scope="module")
def adeff() -> pd.DataFrame:
    return pd.read_parquet(DATA / "adeff.parquet")


@pytest.fixture(scope="module")
def adcdasi() -> pd.DataFrame:
    return pd.read_parquet(DATA / "adcdasi.parquet")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def baseline(adeff: pd.DataFrame, code: str) -> pd.DataFrame:
    return adeff[(adeff.PARAMCD == code) & (adeff.ABLFL == "Y")]


def week16(adeff: pd.DataFrame, adsl: pd.DataFrame, code: str) -> pd.DataFrame:
    """One row per subject with a week-16 analysis value (switchers: value at switch)."""
    e = adeff[(adeff.PARAMCD == code) & adeff.AVAL.notna()].merge(
        adsl[["USUBJID", "SWITCHWK"]], on="USUBJID")
    sw = e.SWITCHWK.notna()
    e = e[(~sw & (e.AVISITN == 16)) | (sw & (e.AVISITN <= e.SWITCHWK))]
    e = e.sort_values(["USUBJID", "AVISITN"]).groupby("USUBJID").tail(1).copy()
    e["CHG"] = e.AVAL - e.BASE
    e["PCHG"] = 100 * e.CHG / e.BASE.where(e.BASE != 0)
    return e


def mean_ci(x: pd.Series) -> tuple[int, float, float, float]:
    n, m = len(x), float(x.mean())
    h = stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return n, m, m - h, m + h


def ancova(d: pd.DataFrame) -> dict[str, float]:
    """CHG ~ treatment + BASE; LS means at the mean baseline (SAS LSMEANS)."""
    import statsmodels.formula.api as smf

    d = d.assign(ivig=(d.TRTP == "IVIg").astype(float))
    fit = smf.ols("CHG ~ ivig + BASE", data=d).fit()
    b, xbar = fit.params, d.BASE.mean()
    lo, hi = fit.conf_int().loc["ivig"]
    return {"IVIg": b.Intercept + b.ivig + b.BASE * xbar, "Placebo": b.Intercept + b.BASE * xbar,
            "diff": b.ivig, "lo": lo, "hi": hi, "p": fit.pvalues["ivig"]}


# ---------------------------------------------------------------- reproducibility
def test_published_json_is_verbatim_copy() -> None:
    shared = Path("/work/shared/proderm/published.json")
    if not shared.exists():
        pytest.skip("shared reference copy not available")
    assert sha256(shared) == sha256(ROOT / "studies" / "proderm" / "published.json")


def test_regeneration_is_bit_identical(tmp_path: Path) -> None:
    paths = study.write(tmp_path)
    assert [p.name for p in paths] == list(study.FILES)
    for p in paths:
        assert sha256(p) == sha256(DATA / p.name), p.name


# ---------------------------------------------------------------- numeric helpers
def test_t975_against_scipy() -> None:
    for df in (1, 2, 4, 5, 10, 11, 12, 24, 43, 90):
        assert abs(t975(df) - stats.t.ppf(0.975, df)) < 2e-5


def test_fit_moments_hits_hand_computed_targets() -> None:
    # 0,0,...: mean 2, SD sqrt(2.5) of {0,1,2,3,4} is reachable on the integer grid
    x = fit_moments(np.zeros(5), np.zeros(5), np.full(5, 4.0), 1.0, 2.0, np.sqrt(2.5))
    assert sorted(x) == [0, 1, 2, 3, 4]
    y = shaped_sample(np.random.default_rng(3), 31, mean=50, sd=10, median=49, lo=20, hi=85,
                      step=1)
    assert (y.min(), y.max(), np.median(y)) == (20, 85, 49)
    assert abs(y.mean() - 50) < 0.02 and abs(y.std(ddof=1) - 10) < 0.02


def test_fit_moments_with_a_level_target_by_hand() -> None:
    # Changes {0,..,4} (mean 2, SD sqrt(2.5)) on levels 0, 10, .., 40: the level SD is
    # 11 sqrt(2.5) only when the changes rise with the level, 9 sqrt(2.5) when they fall.
    base = np.array([0, 10, 20, 30, 40.0])
    for target, want in ((11 * np.sqrt(2.5), [0, 1, 2, 3, 4]), (9 * np.sqrt(2.5), [4, 3, 2, 1, 0])):
        x = fit_moments(np.zeros(5), np.zeros(5), np.full(5, 4.0), 1.0, 2.0, np.sqrt(2.5),
                        level=Level(base, np.array([]), target))
        assert list(x) == want
    # a larger case: change mean/SD and the SD of the levels pooled with three fixed zeros
    rng = np.random.default_rng(5)
    base = rng.integers(5, 60, 40).astype(float)
    x = fit_moments(-0.4 * base, -base, 100 - base, 1.0, -10.0, 9.0,
                    level=Level(base, np.zeros(3), 12.0))
    levels = np.r_[base + x, np.zeros(3)]
    assert abs(x.mean() + 10) < 0.01 and abs(x.std(ddof=1) - 9) < 0.01
    assert abs(levels.std(ddof=1) - 12) < 0.01


# ---------------------------------------------------------------- data contract
def test_adsl_contract(adsl: pd.DataFrame, adeff: pd.DataFrame) -> None:
    assert len(adsl) == 95 and adsl.USUBJID.is_unique
    assert adsl.USUBJID.str.fullmatch(r"PRODERM-\d{3}-\d{3}").all()
    assert (adsl.USUBJID.str[8:11] == adsl.SITEID).all() and adsl.SITEID.nunique() == 36
    assert adsl.AGE.between(18, 79).all() and (adsl.STUDYID == "PRODERM").all()
    assert set(adsl.STRATAR) == {"MILD", "MODERATE-SEVERE"} and (adsl.FASFL == "Y").all()
    assert ((adsl.TRT01P == "IVIg") == (adsl.TRT01PN == 1)).all()
    bmi = adsl.WEIGHT / (adsl.HEIGHT / 100) ** 2
    assert (abs(bmi - adsl.BMI) <= 0.05 + 1e-9).all()
    last = adeff.groupby("USUBJID").AVISITN.max()
    assert (adsl.set_index("USUBJID").LASTWK == last).all()
    assert ((adsl.EXTFL == "Y") == (adsl.LASTWK >= 16)).all()
    assert ((adsl.COMPLFL == "Y") == (adsl.LASTWK == 40)).all()


def test_adeff_contract(adeff: pd.DataFrame) -> None:
    assert set(adeff.PARAMCD) == {"CDASIA", "CDASID", "CUTVAS", "EXTGLOB", "TIS", "MMT8",
                                  "MITAXC"}
    assert not adeff.duplicated(["USUBJID", "PARAMCD", "AVISITN"]).any()
    assert (adeff.AVISIT == np.where(adeff.AVISITN == 0, "Baseline",
                                     "Week " + adeff.AVISITN.astype(str))).all()
    bl = adeff[adeff.ABLFL == "Y"]
    assert (bl.AVISITN == 0).all() and (bl.AVAL == bl.BASE).all()
    assert "TIS" not in set(bl.PARAMCD) and adeff[adeff.PARAMCD == "TIS"].BASE.isna().all()
    has = adeff.BASE.notna() & adeff.AVAL.notna()
    assert np.allclose(adeff.CHG[has], (adeff.AVAL - adeff.BASE)[has], atol=1e-9)
    pc = has & (adeff.BASE != 0) & ~adeff.PARAMCD.isin(["MITAXC"])
    assert np.allclose(adeff.PCHG[pc], 100 * adeff.CHG[pc] / adeff.BASE[pc])
    assert adeff.PCHG[(adeff.BASE == 0) | adeff.AVAL.isna()].isna().all()
    ranges = {"CDASIA": (100, 1), "CDASID": (32, 1), "CUTVAS": (10, 0.1), "EXTGLOB": (10, 0.1),
              "TIS": (100, 2.5), "MMT8": (150, 1), "MITAXC": (5, 1)}
    for code, (hi, step) in ranges.items():
        v = adeff.AVAL[(adeff.PARAMCD == code) & adeff.AVAL.notna()]
        assert v.between(0, hi).all(), code
        assert np.allclose(v / step, np.round(v / step), atol=1e-9), code
    mx = adeff[adeff.PARAMCD == "MITAXC"]
    assert (mx.AVALC == mx.AVAL.map(dict(zip([1.0, 2.0, 3.0, 4.0, 5.0], "ABCDE")))).all()


def test_cdasi_items_sum_to_totals(adeff: pd.DataFrame, adcdasi: pd.DataFrame) -> None:
    maxima = {"erythema": 3, "scale": 2, "erosion_ulceration": 1, "poikiloderma": 1,
              "calcinosis": 1, "ulceration": 1, "hand_damage": 2, "periungual": 3,
              "alopecia": 3}
    assert (adcdasi.AVAL <= adcdasi.PARCAT2.map(maxima)).all() and (adcdasi.AVAL >= 0).all()
    cap = adcdasi[adcdasi.USUBJID == adcdasi.USUBJID.iloc[0]]
    cap = cap[cap.AVISITN == 0].assign(mx=lambda d: d.PARCAT2.map(maxima))
    assert cap.groupby("PARCAT3").mx.sum().to_dict() == {"ACTIVITY": 100, "DAMAGE": 32}
    sums = adcdasi.pivot_table(index=["USUBJID", "AVISITN"], columns="PARCAT3", values="AVAL",
                               aggfunc="sum")
    for code, cat in (("CDASIA", "ACTIVITY"), ("CDASID", "DAMAGE")):
        tot = adeff[(adeff.PARAMCD == code) & adeff.AVAL.notna()].set_index(
            ["USUBJID", "AVISITN"]).AVAL
        assert len(tot) == sums[cat].notna().sum()
        assert (sums[cat].dropna() == tot.reindex(sums[cat].dropna().index)).all()
    assert adcdasi[adcdasi.AVISITN == 0].USUBJID.nunique() == 95


# ---------------------------------------------------------------- Table 1 and baseline
def test_table1_counts(adsl: pd.DataFrame) -> None:
    t1 = PUB["table1"]
    sex = {"Female": "F", "Male": "M"}
    race = {"Asian": "ASIAN", "Black or African American": "BLACK OR AFRICAN AMERICAN",
            "White": "WHITE", "Other": "OTHER"}
    for key, col, codes in (("sex", "SEX", sex), ("race", "RACE", race)):
        for label, code in codes.items():
            for arm in ARMS:
                got = int(((adsl.TRT01P == arm) & (adsl[col] == code)).sum())
                assert got == t1[key][label][arm], (key, label, arm)
            assert int((adsl[col] == code).sum()) == t1[key][label]["Total"]
    assert adsl.TRT01P.value_counts().to_dict() == {"Placebo": 48, "IVIg": 47}


@pytest.mark.parametrize("key,code", [("bmi", None), ("cdasi_activity", "CDASIA"),
                                      ("cdasi_damage", "CDASID"),
                                      ("extramuscular_global", "EXTGLOB"),
                                      ("cutaneous_vas", "CUTVAS")])
def test_table1_continuous(adsl: pd.DataFrame, adeff: pd.DataFrame, key: str,
                           code: str | None) -> None:
    tol = PUB["table1"]["tolerance"]
    pub = PUB["table1"][key]
    if code is None:
        d = adsl.rename(columns={"BMI": "x", "TRT01P": "arm"})[["arm", "x"]]
    else:
        d = baseline(adeff, code).rename(columns={"AVAL": "x", "TRTP": "arm"})[["arm", "x"]]
    assert len(d) == 95
    for arm in (*ARMS, "Total"):
        x = d.x if arm == "Total" else d.x[d.arm == arm]
        assert abs(x.mean() - pub[arm]["mean"]) <= tol["mean"] / 10, (arm, "mean")
        assert abs(x.std(ddof=1) - pub[arm]["sd"]) <= tol["sd"] / 10, (arm, "sd")
        for s in ("median", "min", "max"):
            assert abs(getattr(x, s)() - pub[arm][s]) < 1e-9, (arm, s)
    if "smd" in pub:
        a, b = d.x[d.arm == "IVIg"], d.x[d.arm == "Placebo"]
        pooled = np.sqrt(((len(a) - 1) * a.var() + (len(b) - 1) * b.var())
                         / (len(a) + len(b) - 2))
        assert abs((a.mean() - b.mean()) / pooled - pub["smd"]) <= tol["smd"]


def test_baseline_distribution(adeff: pd.DataFrame, adcdasi: pd.DataFrame) -> None:
    pub = PUB["baseline_distribution"]
    a = baseline(adeff, "CDASIA")
    assert (a.AVAL == 0).sum() == pub["cdasi_activity_zero"]
    assert (a.AVAL > 6).sum() == pub["cdasi_activity_gt6"]
    assert (a.AVAL > 14).sum() == pub["cdasi_activity_gt14"]
    assert (baseline(adeff, "CDASID").AVAL == 0).sum() == pub["cdasi_damage_zero"]
    v = baseline(adeff, "CUTVAS")
    for arm in ARMS:
        assert ((v.TRTP == arm) & (v.AVAL <= 0.2)).sum() == pub["cutaneous_vas_le_0_2"][arm]
    ery = adcdasi[(adcdasi.AVISITN == 0) & (adcdasi.PARCAT2 == "erythema")
                  & (adcdasi.PARCAT1 != "Gottron's hands")]
    highest = ery.groupby("USUBJID").AVAL.max().value_counts()
    for score, pct in pub["highest_erythema_score_percent"].items():
        assert highest.get(float(score), 0) == round(pct * 95 / 100), score
    m = baseline(adeff, "MITAXC").AVALC.value_counts()
    got = {"A": m.get("A", 0), "B": m.get("B", 0), "C": m.get("C", 0),
           "D/E": m.get("D", 0) + m.get("E", 0)}
    for cat, pct in pub["mitax_cutaneous_category_percent"].items():
        assert got[cat] == round(pct * 95 / 100), cat


def test_table2_item_percentages(adcdasi: pd.DataFrame) -> None:
    t2 = PUB["table2"]
    tol = t2["tolerance"]["percent"]
    b = adcdasi[adcdasi.AVISITN == 0]
    pct = (b.assign(pos=b.AVAL >= 1).groupby(["PARCAT1", "PARCAT2"]).pos.mean() * 100)
    for area, measures in t2["areas"].items():
        for measure, p in measures.items():
            assert abs(pct[(area, measure)] - p) <= tol, (area, measure)
    for measure, p in t2["gottron_hands"].items():
        assert abs(pct[("Gottron's hands", measure)] - p) <= tol, measure
    assert abs(pct[("Periungual", "periungual")] - t2["periungual_changes"]) <= tol
    assert abs(pct[("Alopecia", "alopecia")] - t2["alopecia"]) <= tol
    g = b[(b.PARCAT1 == "Gottron's hands") & (b.PARCAT2 == "erythema")]
    assert abs((g.AVAL >= 2).mean() * 100 - t2["gottron_papules_on_hands"]) <= tol


# ---------------------------------------------------------------- week 16
W16 = (("cdasi_activity", "CDASIA", lambda b: b > 0), ("cdasi_damage", "CDASID", None),
       ("cutaneous_vas", "CUTVAS", lambda b: b > 0.2))


def _analysis(adeff: pd.DataFrame, adsl: pd.DataFrame, code: str, keep) -> pd.DataFrame:
    d = week16(adeff, adsl, code)
    return d if keep is None else d[keep(d.BASE)]


@pytest.mark.parametrize("key,code,keep", W16)
def test_week16_change(adsl: pd.DataFrame, adeff: pd.DataFrame, key, code, keep) -> None:
    pub = PUB["week16_change"][key]
    tol = PUB["week16_change"]["tolerance"]
    d = _analysis(adeff, adsl, code, keep)
    for arm in ARMS:
        _, m, lo, hi = mean_ci(d.CHG[d.TRTP == arm])
        assert abs(m - pub[arm]["mean"]) <= tol["mean"], arm
        assert abs(lo - pub[arm]["ci95"][0]) <= tol["ci_bound"], arm
        assert abs(hi - pub[arm]["ci95"][1]) <= tol["ci_bound"], arm
    fit = ancova(d)
    for arm in ARMS:
        assert abs(fit[arm] - pub["lsmeans"][arm]) <= tol["lsmean"], arm
    assert abs(fit["diff"] - pub["difference"]["estimate"]) <= tol["lsmean"]
    assert abs(fit["lo"] - pub["difference"]["ci95"][0]) <= tol["ci_bound"]
    assert abs(fit["hi"] - pub["difference"]["ci95"][1]) <= tol["ci_bound"]
    p_pub = pub["difference"]["p_value"]
    p_pub = 0.00001 if p_pub == "<0.0001" else p_pub
    for cut in (0.05, 0.0001):
        assert (fit["p"] < cut) == (p_pub < cut), cut


@pytest.mark.parametrize("key,code,keep,edges", [
    ("cdasi_activity", "CDASIA", lambda b: b > 0, {"(0,6]": (0, 6), "(6,14]": (6, 14),
                                                   ">14": (14, 1e9)}),
    ("cutaneous_vas", "CUTVAS", lambda b: b > 0.2, {"(0.2,3]": (0.2, 3), ">3": (3, 1e9)})])
def test_week16_change_by_stratum(adsl, adeff, key, code, keep, edges) -> None:
    pub = PUB["week16_change_by_stratum"][key]
    tol = PUB["week16_change_by_stratum"]["tolerance"]
    d = _analysis(adeff, adsl, code, keep)
    for stratum, (a, b) in edges.items():
        for arm in ARMS:
            x = d.CHG[(d.TRTP == arm) & (d.BASE > a) & (d.BASE <= b)]
            if "n" in pub[stratum][arm]:
                assert len(x) == pub[stratum][arm]["n"], (stratum, arm)
            assert abs(x.mean() - pub[stratum][arm]["mean"]) <= tol["mean"], (stratum, arm)


def test_week40(adeff: pd.DataFrame) -> None:
    pub = PUB["week40"]
    tol = pub["tolerance"]["mean"]
    w40 = adeff[(adeff.AVISITN == 40) & adeff.AVAL.notna()]
    a = w40[(w40.PARAMCD == "CDASIA") & (w40.BASE > 0)]
    for arm in ARMS:
        assert abs(a.CHG[a.TRTP == arm].mean() - pub["cdasi_activity_change"][arm]["mean"]) <= tol
        for key, code in (("cdasi_activity_mean", "CDASIA"), ("cdasi_damage_mean", "CDASID"),
                          ("cutaneous_vas_mean", "CUTVAS")):
            x = w40.AVAL[(w40.PARAMCD == code) & (w40.TRTP == arm)]
            assert abs(x.mean() - pub[key][arm]["mean"]) <= tol, (key, arm)
            # The paper gives these SDs without a tolerance; the data match them to the
            # grid's precision (0.01 here is ours, not a published tolerance).
            assert abs(x.std() - pub[key][arm]["sd"]) <= 0.01, (key, arm)


# ---------------------------------------------------------------- flow and missing data
def test_patient_flow(adsl: pd.DataFrame, adeff: pd.DataFrame) -> None:
    des = PUB["design"]
    sw = adsl[adsl.SWITCHFL == "Y"]
    assert len(sw) == des["switched_in_first_period"]["Placebo_to_IVIg"]
    assert (sw.TRT01P == "Placebo").all() and set(sw.SWITCHWK) <= {4.0, 8.0, 12.0}
    assert adsl.SWITCHWK[adsl.SWITCHFL == "N"].isna().all()
    for arm in ARMS:
        ext = ((adsl.TRT01P == arm) & (adsl.EXTFL == "Y")).sum()
        assert ext == des["entered_extension"][arm]
    assert (adsl.COMPLFL == "Y").sum() == des["completed_study"]
    miss = adeff[(adeff.PARAMCD == "CDASIA") & adeff.AVAL.isna()]
    assert len(miss) == PUB["missing"]["cdasi_activity_missing_week8_ivig"]
    assert (miss.AVISITN == 8).all() and (miss.TRTP == "IVIg").all()
    assert miss.CHG.isna().all() and miss.PCHG.isna().all()


def test_screening(screened: pd.DataFrame) -> None:
    des = PUB["design"]
    assert len(screened) == des["screened"] and screened.USUBJID.is_unique
    fails = screened[screened.RANDFL == "N"]
    assert len(fails) == des["screened"] - des["randomised"]["total"]
    assert (fails.FASFL == "N").all() and fails.TRT01P.isna().all()
    assert fails.SITEID.isin(screened[screened.RANDFL == "Y"].SITEID).all()
    assert fails.AGE.between(18, 79).all() and fails.LASTWK.isna().all()
    assert (screened.USUBJID.str[8:11] == screened.SITEID).all()


def test_exposure(adsl: pd.DataFrame, adex: pd.DataFrame) -> None:
    des = PUB["design"]
    inf = adex[adex.PARAMCD == "INFUS"].merge(adsl, on="USUBJID")
    ivig = inf[inf.EXTRT == "IVIG"]
    assert len(ivig) == des["infusion_cycles"]
    # The schedule: every 4 weeks to week 36, never after the last visit, the Extension only
    # for those who entered it, placebo only in the First Period before any switch.
    assert set(inf.AVISITN) <= set(range(0, 37, 4))
    assert (inf.AVISITN <= inf.LASTWK).all()
    assert ((inf.AVISITN < 16) | (inf.EXTFL == "Y")).all()
    pbo = inf[inf.EXTRT == "PLACEBO"]
    assert (pbo.TRT01P == "Placebo").all() and (pbo.AVISITN < 16).all()
    assert (pbo.SWITCHWK.isna() | (pbo.AVISITN < pbo.SWITCHWK)).all()
    assert (pbo.AVAL == 0).all() and set(ivig.AVAL) <= {1.0, 2.0}
    assert (ivig[ivig.AVAL == 1.0].AVISITN >= 28).all()
    # The per-patient summaries agree with the infusion records.
    per = adex[adex.AVISITN.isna()].pivot(index="USUBJID", columns="PARAMCD", values="AVAL")
    counts = ivig.groupby("USUBJID").size().reindex(per.index, fill_value=0)
    assert (per.NIVIG == counts).all() and per.NIVIG.sum() == des["infusion_cycles"]
    means = ivig.groupby("USUBJID").AVAL.mean().reindex(per.index)
    assert np.allclose(per.MDOSE, means, equal_nan=True)
    assert per.MDOSE.median() == des["median_dose_g_per_kg"]


def test_damage_zero_stays_zero(adeff: pd.DataFrame) -> None:
    d = adeff[adeff.PARAMCD == "CDASID"]
    zero = d[d.BASE == 0].groupby("USUBJID")
    stayed = zero.AVAL.max() == 0
    assert stayed.sum() == PUB["missing"]["cdasi_damage_zero_stayed_zero"]
    rose = stayed.index[~stayed]
    assert len(rose) == PUB["missing"]["cdasi_damage_zero_placebo_transient_rise_to_2"]
    for u in rose:
        s = d[d.USUBJID == u].sort_values("AVISITN")
        assert (s.TRTP == "Placebo").all() and s.AVAL.max() == 2 and s.AVAL.iloc[-1] == 0


# ---------------------------------------------------------------- responders, MITAX
def test_responders(adsl: pd.DataFrame, adeff: pd.DataFrame) -> None:
    pub = PUB["responders_35pct"]
    d = _analysis(adeff, adsl, "CDASIA", lambda b: b > 0)
    for arm in ARMS:
        x = d[d.TRTP == arm]
        assert abs((x.PCHG < -35).sum() - pub["week16"][arm]["responders"]) <= pub["tolerance"][
            "count"], arm
        assert abs(len(x) - pub["week16"][arm]["n"]) <= 1
    late = adeff[(adeff.PARAMCD == "CDASIA") & (adeff.AVISITN > 28) & (adeff.BASE > 0)
                 & adeff.AVAL.notna()]
    share = (late.PCHG < -35).groupby([late.TRTP, late.AVISITN]).mean() * 100
    assert (share >= pub["after_week28_percent_at_least"]).all(), share.to_dict()


def test_mitax_improvement(adeff: pd.DataFrame) -> None:
    pub = PUB["mitax_improved_one_category_percent"]
    m = adeff[adeff.PARAMCD == "MITAXC"]
    active = baseline(adeff, "CDASIA").set_index("USUBJID").AVAL > 0
    for week in (16, 40):
        x = m[m.AVISITN == week]
        for arm in ARMS:
            xa = x[x.TRTP == arm]
            for sub in (xa, xa[xa.USUBJID.map(active)]):  # all, or CDASI-A > 0 at baseline
                pct = (sub.CHG >= 1).mean() * 100
                assert abs(pct - pub[f"week{week}"][arm]) <= pub["tolerance"]["percent"], (
                    week, arm, len(sub))


# ---------------------------------------------------------------- Figure 5, Table 3
def _week16_wide(adsl: pd.DataFrame, adeff: pd.DataFrame) -> pd.DataFrame:
    cols = {}
    for code, field in (("TIS", "AVAL"), ("MMT8", "CHG"), ("CDASIA", "CHG"),
                        ("EXTGLOB", "CHG"), ("CUTVAS", "CHG")):
        cols[code] = week16(adeff, adsl, code).set_index("USUBJID")[field]
    return pd.DataFrame(cols)


def test_spearman_week16(adsl: pd.DataFrame, adeff: pd.DataFrame) -> None:
    pub = PUB["spearman_week16"]
    wide = _week16_wide(adsl, adeff).dropna()
    assert len(wide) >= 90  # 91 with week-16 data; one TIS missing (see Table 3)
    rho, p = stats.spearmanr(wide.to_numpy())
    assert np.abs(rho - np.asarray(pub["r"])).max() <= pub["tolerance"]["r"], np.round(rho, 2)
    assert (p[np.triu_indices(5, 1)] < 0.0001).all()


def test_table3_cross_classification(adsl: pd.DataFrame, adeff: pd.DataFrame) -> None:
    pub = PUB["table3_counts"]
    a = _analysis(adeff, adsl, "CDASIA", lambda b: b > 0).set_index("USUBJID")
    t = week16(adeff, adsl, "TIS").set_index("USUBJID").AVAL
    both = a.join(t.rename("TIS"), how="inner")
    r = -both.PCHG
    assert not np.isclose(r, 35).any()  # "moderate" and "> 35 % responder" agree
    a_cls = np.select([r < 20, r < 35, r < 50], [0, 1, 2], 3)
    t_cls = np.select([both.TIS <= 20, both.TIS <= 40, both.TIS < 60], [0, 1, 2], 3)
    table = pd.crosstab(t_cls, a_cls).reindex(index=range(4), columns=range(4), fill_value=0)
    assert len(both) == 87
    assert table.to_numpy().tolist() == pub["counts"]
