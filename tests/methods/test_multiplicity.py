"""Multiplicity procedures against hand-worked examples, R vignettes and statsmodels."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from sap_engine.errors import MethodError
from sap_engine.methods import registry
from sap_engine.methods.multiplicity import (
    adjust,
    bonferroni,
    fixed_sequence,
    graphical,
    graphical_rejections,
    hochberg,
    holm,
    multiplicity,
    remove_hypothesis,
)

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_hochberg_bonferroni_by_hand():
    # Sorted: 0.005 (H4), 0.01 (H1), 0.03 (H3), 0.04 (H2); m = 4.
    # Holm:  4*0.005 = 0.02; 3*0.01 = 0.03; 2*0.03 = 0.06; 1*0.04 = 0.04 -> max so far 0.06.
    assert holm(P) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Hochberg from the largest: 0.04; min(2*0.03, 0.04) = 0.04; min(3*0.01, .04) = 0.03;
    # 4*0.005 = 0.02.
    assert hochberg(P) == pytest.approx([0.03, 0.04, 0.04, 0.02])
    assert bonferroni(P) == pytest.approx([0.04, 0.16, 0.12, 0.02])
    assert bonferroni([0.3, 0.9]).tolist() == [0.6, 1.0]  # capped at 1
    r = adjust(P, "holm", alpha=0.05)
    assert r.reject == (True, False, False, True)
    assert adjust(P, "hochberg", alpha=0.05).reject == (True, True, True, True)


def test_statsmodels_second_algorithm():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(1)
    for _ in range(20):
        p = rng.uniform(0, 0.2, size=rng.integers(2, 9))
        p[rng.integers(len(p))] = p[0]  # a tie
        for ours, theirs in ((bonferroni, "bonferroni"), (holm, "holm"),
                             (hochberg, "simes-hochberg")):
            assert ours(p) == pytest.approx(multipletests(p, method=theirs)[1], abs=1e-12)


def test_fixed_sequence():
    # order H2, H1, H3: running maximum 0.04, 0.04, 0.04; then H4 in last place 0.04
    assert fixed_sequence(P, [1, 0, 2, 3]).tolist() == [0.04, 0.04, 0.04, 0.04]
    assert fixed_sequence([0.01, 0.2, 0.001]).tolist() == [0.01, 0.2, 0.2]
    assert adjust([0.01, 0.2, 0.001], "fixed_sequence").reject == (True, False, False)


def _holm_graph(m: int):
    return [1 / m] * m, [[0 if i == j else 1 / (m - 1) for j in range(m)] for i in range(m)]


def _chain(m: int):
    return [1] + [0] * (m - 1), [[1 if j == i + 1 else 0 for j in range(m)] for i in range(m)]


def test_graph_special_cases():
    """Bretz et al. (2009), Section 3: the Bonferroni-Holm graph is Holm's procedure and the
    chain graph is the fixed-sequence test."""
    rng = np.random.default_rng(2)
    for m in (2, 3, 5):
        for _ in range(10):
            p = rng.uniform(0, 0.1, m)
            assert graphical(p, *_holm_graph(m)) == pytest.approx(holm(p), abs=1e-12)
            assert graphical(p, *_chain(m)) == pytest.approx(fixed_sequence(p), abs=1e-12)


def test_graphicalmcp_vignette_examples():
    """R graphicalMCP vignettes (Bretz et al. 2009 shortcut procedure).

    'Shortcut testing': w = (0.5, 0.5, 0, 0), G rows (0, .5, .5, 0), (.5, 0, 0, .5),
    (0, 1, 0, 0), (1, 0, 0, 0); p = (0.018, 0.01, 0.105, 0.006), alpha = 0.025: H1, H2 and H4
    rejected; after H2 and H1 the graph is H3, H4 with weights 0.5, 0.5 and edges 1, 1.
    By hand: H2 first (0.01/0.5 = 0.02); then w = (.75, -, 0, .25), H1 0.018/.75 = 0.024 ties
    H4 0.006/.25 = 0.024 (H1 first); then H4 0.006/.5 = 0.012 -> 0.024; H3 0.105.
    'Get started': w = (.5, .5, 0, 0), G rows (0,0,1,0), (0,0,0,1), (0,1,0,0), (1,0,0,0);
    p = (0.01, 0.005, 0.03, 0.01), alpha = 0.025: H1, H2, H4 rejected; by hand the adjusted
    p-values are (0.02, 0.01, 0.03, 0.02).
    """
    w = [0.5, 0.5, 0, 0]
    g = [[0, .5, .5, 0], [.5, 0, 0, .5], [0, 1, 0, 0], [1, 0, 0, 0]]
    p = [0.018, 0.01, 0.105, 0.006]
    assert graphical(p, w, g) == pytest.approx([0.024, 0.02, 0.105, 0.024], abs=1e-12)
    assert adjust(p, "graphical", 0.025, w, g).reject == (True, True, False, True)
    assert graphical_rejections(p, w, g, 0.025).tolist() == [True, True, False, True]
    alive = np.ones(4, dtype=bool)
    w1, g1 = remove_hypothesis(np.array(w, float), np.array(g, float), 1, alive)
    alive[1] = False
    w2, g2 = remove_hypothesis(w1, g1, 0, alive)
    assert w2 == pytest.approx([0, 0, 0.5, 0.5])
    assert g2[2, 3] == pytest.approx(1) and g2[3, 2] == pytest.approx(1)
    g = [[0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 0, 0], [1, 0, 0, 0]]
    p = [0.01, 0.005, 0.03, 0.01]
    assert graphical(p, w, g) == pytest.approx([0.02, 0.01, 0.03, 0.02], abs=1e-12)
    assert adjust(p, "graphical", 0.025, w, g).reject == (True, True, False, True)
    # lrstat fadjpbon example p-values on the same graph, worked by hand
    assert graphical([0.01, 0.005, 0.015, 0.022], w, g) == pytest.approx([0.02, 0.01, 0.03,
                                                                          0.03])
    assert graphical([0.02, 0.015, 0.010, 0.023], w, g) == pytest.approx([0.04, 0.03, 0.04,
                                                                          0.04])


def test_adjusted_p_values_agree_with_sequential_rejection():
    """Two algorithms: adjusted p <= alpha exactly when Algorithm 1 rejects."""
    rng = np.random.default_rng(3)
    w = [0.5, 0.3, 0.2, 0]
    g = [[0, 0.5, 0.25, 0.25], [0.5, 0, 0, 0.5], [0, 0.5, 0, 0.5], [0.4, 0.3, 0.3, 0]]
    for _, alpha in itertools.product(range(30), (0.025, 0.05)):
        p = rng.uniform(0, 0.08, 4)
        expected = graphical_rejections(p, w, g, alpha)
        assert np.array_equal(graphical(p, w, g) <= alpha, expected)


def test_registered_method_and_order():
    frame = pd.DataFrame({"hyp": ["H1", "H2", "H3", "H4"], "p": P})
    opts = registry.get("multiplicity").resolve_options({})
    got = {(s.variable_level, s.stat_name): s.stat
           for s in multiplicity(frame, {"p_value": "p", "hypothesis": "hyp"}, opts)}
    assert got[("H3", "p_value_adjusted")] == pytest.approx(0.06)
    assert [got[(h, "reject")] for h in ("H1", "H2", "H3", "H4")] == [1, 0, 0, 1]
    # fixed sequence in a stated order; weights/transitions follow the same order
    opts = registry.get("multiplicity").resolve_options(
        {"procedure": "fixed_sequence", "order": ["H4", "H1", "H3", "H2"]})
    got = {(s.variable_level, s.stat_name): s.stat
           for s in multiplicity(frame, {"p_value": "p", "hypothesis": "hyp"}, opts)}
    assert [got[(h, "p_value_adjusted")] for h in ("H4", "H1", "H3", "H2")] == \
        [0.005, 0.01, 0.03, 0.04]
    opts = registry.get("multiplicity").resolve_options(
        {"procedure": "graphical", "order": ["H4", "H3", "H2", "H1"], "weights": [1, 0, 0, 0],
         "transitions": [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]})
    got = {(s.variable_level, s.stat_name): s.stat
           for s in multiplicity(frame, {"p_value": "p", "hypothesis": "hyp"}, opts)}
    assert [got[(h, "p_value_adjusted")] for h in ("H4", "H3", "H2", "H1")] == \
        pytest.approx([0.005, 0.03, 0.04, 0.04])


def test_refusals():
    with pytest.raises(MethodError) as err:
        holm([0.1, 1.2])
    assert err.value.code == "SAP441"
    with pytest.raises(MethodError) as err:
        graphical([0.1, 0.2], [0.7, 0.7], [[0, 1], [1, 0]])
    assert err.value.code == "SAP443"
    with pytest.raises(MethodError) as err:
        graphical([0.1, 0.2], [0.5, 0.5], [[0, 1], [1, 0], [0, 0]])
    assert err.value.code == "SAP444"
    with pytest.raises(MethodError) as err:
        adjust([0.1, 0.2], "graphical")
    assert err.value.code == "SAP445"
    frame = pd.DataFrame({"hyp": ["H1", "H1"], "p": [0.01, 0.02]})
    with pytest.raises(MethodError) as err:
        multiplicity(frame, {"p_value": "p", "hypothesis": "hyp"}, {"procedure": "holm"})
    assert err.value.code == "SAP447"
    frame = pd.DataFrame({"hyp": ["H1", "H2"], "p": [0.01, 0.02]})
    with pytest.raises(MethodError) as err:
        multiplicity(frame, {"p_value": "p", "hypothesis": "hyp"},
                     {"procedure": "fixed_sequence", "order": ["H1", "H3"]})
    assert err.value.code == "SAP442" and "'H3'" in err.value.message
