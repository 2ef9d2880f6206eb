"""Kappa, weighted kappa and the AGREE layout against SAS printouts, hand computations and a
second algorithm (the delta method by complex-step differentiation)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sap_engine.errors import MethodError
from sap_engine.methods import registry
from sap_engine.methods.agreement import kappa, kappa_weights
from sap_engine.methods.freq_tests import bowker

PRODERM = [[21, 4, 0, 3], [8, 3, 2, 3], [4, 6, 5, 9], [1, 0, 3, 15]]
CLASSES = ["None", "Minimal", "Moderate", "Major"]


def frame_from_counts(table, rows, cols) -> pd.DataFrame:
    records = [(rl, cl) for i, rl in enumerate(rows) for j, cl in enumerate(cols)
               for _ in range(int(table[i][j]))]
    return pd.DataFrame(records, columns=["r", "c"])


def run(name, frame, options=None):
    method = registry.get(name)
    return method.run(frame, {"row": "r", "col": "c"}, method.resolve_options(options or {}))


def pick(stats, name, level=None):
    hits = [s for s in stats if s.stat_name == name and s.variable_level == level]
    assert len(hits) == 1, (name, level)
    return hits[0].stat


def test_kappa_sas_printout():
    """SAS PROC FREQ AGREE printout for the 3 x 3 table [[0,4,1],[0,8,0],[0,1,5]] (reproduced
    in statsmodels' test_inter_rater.py "comparison to printout of a SAS example"):
    Simple Kappa 0.4842, ASE 0.1380, 95% limits 0.2137 0.7547, ASE under H0 0.1484,
    Z 3.2626, two-sided Pr > |Z| 0.0011; Weighted Kappa (scores 0, 1, 2) 0.4701, ASE 0.1457,
    limits 0.1845 0.7558, ASE under H0 0.1426, Z 3.2971, two-sided 0.0010."""
    t = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]
    s = kappa(t)
    got = (s.kappa, s.ase, s.ci_lower, s.ci_upper, s.ase0, s.z, s.p_value)
    assert got == pytest.approx((0.4842, 0.1380, 0.2137, 0.7547, 0.1484, 3.2626, 0.0011),
                                abs=5e-5)
    w = kappa(t, kappa_weights([0, 1, 2]))
    got = (w.kappa, w.ase, w.ci_lower, w.ci_upper, w.ase0, w.z, w.p_value)
    assert got == pytest.approx((0.4701, 0.1457, 0.1845, 0.7558, 0.1426, 3.2971, 0.0010),
                                abs=5e-5)
    # Through the plan-facing method: numeric ratings 0, 1, 2 are the Cicchetti-Allison
    # scores; rating 0 never occurs in the columns, so the square table needs zeros = true
    # (SAS: ZEROS with the zero-count records). Rows carry variable_level "kappa" etc.
    frame = frame_from_counts(t, [0, 1, 2], [0, 1, 2])
    stats = run("agreement", frame, {"zeros": True})
    assert pick(stats, "kappa", "kappa") == pytest.approx(s.kappa)
    assert pick(stats, "kappa_ase", "kappa") == pytest.approx(s.ase)
    assert pick(stats, "ci_upper", "weighted_kappa") == pytest.approx(w.ci_upper)
    assert pick(stats, "weighted_kappa_ase", "weighted_kappa") == pytest.approx(w.ase)
    assert pick(stats, "ase_h0", "weighted_kappa") == pytest.approx(w.ase0)
    assert pick(stats, "bowker_chisq", "bowker") == pytest.approx(bowker(t).statistic)


def test_kappa_skin_condition():
    """SAS/STAT PROC FREQ Getting Started 'Agreement Study' (skin condition, ORDER=DATA):
    'The kappa coefficient has the value 0.3449 ... confidence interval of (0.2030, 0.4868)'."""
    skin = [[10, 4, 1, 0], [5, 10, 12, 2], [2, 4, 12, 5], [0, 2, 6, 13]]
    order = ["terrible", "poor", "marginal", "clear"]
    frame = frame_from_counts(skin, order, order)
    stats = run("kappa", frame, {"order": "data"})
    assert pick(stats, "kappa", "kappa") == pytest.approx(0.3449, abs=5e-5)
    assert (pick(stats, "ci_lower", "kappa"), pick(stats, "ci_upper", "kappa")) == \
        pytest.approx((0.2030, 0.4868), abs=5e-5)
    assert pick(stats, "n") == 88


def test_kappa_by_hand_and_delta_method():
    # Hand computation, [[20, 5], [10, 15]], n = 50: Po = 0.7, Pe = .5 * .6 + .5 * .4 = 0.5,
    # kappa = 0.2 / 0.5 = 0.4.
    # A = .4 (1 - 1.1 * .6)^2 + .3 (1 - .9 * .6)^2 = 0.04624 + 0.06348 = 0.10972
    # B = .6^2 (.1 * 1.1^2 + .2 * .9^2) = 0.36 * 0.283 = 0.10188; C = (.4 - .5 * .6)^2 = 0.01
    # var = (A + B - C) / (.5^2 * 50) = 0.2016 / 12.5 = 0.016128
    # var0 = (.5 + .25 - (.5 * .6 * 1.1 + .5 * .4 * .9)) / 12.5 = 0.24 / 12.5 = 0.0192
    r = kappa([[20, 5], [10, 15]])
    assert r.kappa == pytest.approx(0.4, rel=1e-12)
    assert r.ase == pytest.approx(math.sqrt(0.016128), rel=1e-12)
    assert r.ase0 == pytest.approx(math.sqrt(0.0192), rel=1e-12)
    assert r.z == pytest.approx(0.4 / math.sqrt(0.0192), rel=1e-12)
    # Second algorithm: the multinomial delta method, var = n sum p g^2 with g the gradient
    # of kappa in the cell counts (complex-step derivative, exact to rounding); at the
    # observed table it gives the ASE, at the independence table with the same margins the
    # ASE under H0.
    for table in ([[0, 4, 1], [0, 8, 0], [0, 1, 5]], PRODERM, [[20, 5], [10, 15]]):
        t = np.array(table, float)
        k = t.shape[0]
        for w in (None, kappa_weights(np.arange(k)), kappa_weights(np.arange(k) ** 1.5,
                                                                   "fleiss_cohen")):
            res = kappa(t, w)
            ww = np.eye(k) if w is None else w
            independent = np.outer(t.sum(1), t.sum(0)) / t.sum()
            assert res.ase == pytest.approx(_delta_ase(t, ww), rel=1e-9)
            assert res.ase0 == pytest.approx(_delta_ase(independent, ww), rel=1e-9)


def _kappa_of_counts(n, w):
    p = n / n.sum()
    pe = (w * np.outer(p.sum(1), p.sum(0))).sum()
    return ((w * p).sum() - pe) / (1 - pe)


def _delta_ase(counts, w):
    h = 1e-30
    g = np.zeros(counts.shape)
    for idx in np.ndindex(counts.shape):
        bumped = counts.astype(complex)
        bumped[idx] += 1j * h
        g[idx] = _kappa_of_counts(bumped, w).imag / h
    n = counts.sum()
    return math.sqrt(n * float((counts / n * g ** 2).sum()))


def test_weights_hand():
    # Cicchetti-Allison with scores 1, 2, 4: 1 - |Ci - Cj| / 3; Fleiss-Cohen squares it.
    ca = kappa_weights([1, 2, 4])
    assert ca[0].tolist() == pytest.approx([1, 2 / 3, 0])
    assert ca[1, 2] == pytest.approx(1 / 3)
    assert kappa_weights([1, 2, 4], "fleiss_cohen")[0].tolist() == pytest.approx([1, 8 / 9, 0])
    with pytest.raises(MethodError) as err:
        kappa_weights([3, 3])
    assert err.value.code == "SAP482"


def test_proderm_table3_agreement():
    """ProDERM Table 3 (TIS class x CDASI-A class, N = 87; published.json table3_counts).
    No published statistics: values recorded from this engine and checked by a second
    algorithm (delta method above; Bowker by hand below)."""
    frame = frame_from_counts(PRODERM, CLASSES, CLASSES)
    opts = {"row_levels": CLASSES, "col_levels": CLASSES}
    stats = run("agreement", frame, opts)
    # Bowker by hand: pairs (4,8) (0,4) (3,1) (2,6) (3,0) (9,3):
    # 16/12 + 16/4 + 4/4 + 16/8 + 9/3 + 36/12 = 1.3333 + 4 + 1 + 2 + 3 + 3 = 14.3333, df 6
    assert pick(stats, "bowker_chisq", "bowker") == pytest.approx(43 / 3)
    assert pick(stats, "df", "bowker") == 6
    t = np.array(PRODERM, float)
    p = t / 87
    po, pe = np.trace(p), float(p.sum(1) @ p.sum(0))
    assert pick(stats, "kappa", "kappa") == pytest.approx((po - pe) / (1 - pe), rel=1e-12)
    w = 1 - np.abs(np.subtract.outer(np.arange(4), np.arange(4))) / 3
    pow_, pew = (w * p).sum(), (w * np.outer(p.sum(1), p.sum(0))).sum()
    assert pick(stats, "weighted_kappa", "weighted_kappa") == pytest.approx(
        (pow_ - pew) / (1 - pew), rel=1e-12)
    assert pick(stats, "kappa_ase", "kappa") == pytest.approx(_delta_ase(t, np.eye(4)),
                                                              rel=1e-9)
    assert pick(stats, "weighted_kappa_ase", "weighted_kappa") == pytest.approx(
        _delta_ase(t, w), rel=1e-9)
    # Recorded values (4 decimals, as SAS prints them; see the report).
    recorded = {("kappa", "kappa"): 0.3318, ("kappa_ase", "kappa"): 0.0658,
                ("ci_lower", "kappa"): 0.2029, ("ci_upper", "kappa"): 0.4608,
                ("weighted_kappa", "weighted_kappa"): 0.5145,
                ("weighted_kappa_ase", "weighted_kappa"): 0.0656,
                ("ci_lower", "weighted_kappa"): 0.3860, ("ci_upper", "weighted_kappa"): 0.6430,
                ("p_value", "bowker"): 0.0261}
    for (name, level), value in recorded.items():
        assert pick(stats, name, level) == pytest.approx(value, abs=5e-5), name
    # Alphabetical (SAS ORDER=INTERNAL) order would give different weights: the level order
    # of character ratings is part of the analysis.
    alpha = run("weighted_kappa", frame)
    assert pick(alpha, "weighted_kappa", "weighted_kappa") != pytest.approx(0.5145, abs=1e-3)


def test_square_table_rules():
    frame = pd.DataFrame({"r": ["a", "b", "b", "c"], "c": ["a", "b", "a", "a"]})
    with pytest.raises(MethodError) as err:
        run("kappa", frame)
    assert err.value.code == "SAP480"
    assert "['c'] only in 'r'" in err.value.message and "zeros" in err.value.message
    stats = run("kappa", frame, {"zeros": True})  # squared over a, b, c
    # table [[1,0,0],[1,1,0],[1,0,0]]: Po = 2/4, Pe = (1/4)(3/4) + (2/4)(1/4) = 5/16
    assert pick(stats, "kappa", "kappa") == pytest.approx((0.5 - 5 / 16) / (1 - 5 / 16))
    with pytest.raises(MethodError) as err:
        run("kappa", pd.DataFrame({"r": ["a", "a"], "c": ["a", "a"]}))
    assert err.value.code == "SAP481"
    with pytest.raises(MethodError):
        kappa([[1, 2, 3], [4, 5, 6]])


def test_zeros_with_numeric_scores():
    # Ratings 1, 2, 5: with zeros the union keeps the numeric scores for the weights.
    frame = pd.DataFrame({"r": [1, 2, 2, 5, 5], "c": [1, 2, 5, 5, 2]})
    stats = run("weighted_kappa", frame)
    t = np.array([[1, 0, 0], [0, 1, 1], [0, 1, 1]], float)
    w = kappa_weights([1, 2, 5])
    assert pick(stats, "weighted_kappa", "weighted_kappa") == pytest.approx(
        kappa(t, w).kappa)
    frame2 = pd.DataFrame({"r": [1, 2, 2], "c": [1, 2, 5]})
    stats2 = run("weighted_kappa", frame2, {"zeros": True})
    t2 = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]], float)
    assert pick(stats2, "weighted_kappa", "weighted_kappa") == pytest.approx(
        kappa(t2, w).kappa)
