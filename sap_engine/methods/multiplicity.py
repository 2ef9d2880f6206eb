"""Multiplicity adjustment of a family of p-values: Bonferroni, Holm, Hochberg, fixed
sequence, and the graphical procedure of Bretz, Maurer, Brannath and Posch (2009).

Every procedure returns adjusted p-values (capped at 1); a hypothesis is rejected at level
alpha exactly when its adjusted p-value is <= alpha.

- Bonferroni: min(1, m p). Holm (step-down): the running maximum of (m - k + 1) p_(k) over the
  ascending p-values. Hochberg (step-up): the running minimum of (m - k + 1) p_(k) from the
  largest p-value down (R ``p.adjust``, SAS PROC MULTTEST HOLM / HOCHBERG).
- Fixed sequence: hypotheses tested in a pre-specified order, each at the full alpha, until
  the first non-rejection; the adjusted p-value is the running maximum along the order.
- Graphical: initial weights w (summing to at most 1) and a transition matrix G (zero
  diagonal, rows summing to at most 1). Adjusted p-values by Bretz et al. (2009): repeatedly
  take the remaining hypothesis with the smallest p / w, record max(p / w, previous), then
  remove it and pass on its weight: w_l += w_j g_jl and g_lk = (g_lk + g_lj g_jk) /
  (1 - g_lj g_jl). Ties in p / w go to the earlier hypothesis. The Bonferroni-Holm graph
  (w = 1/m, g = 1/(m - 1)) reproduces Holm, the chain w = (1, 0, ...), g_k,k+1 = 1 the fixed
  sequence.

>>> holm(np.array([0.01, 0.04, 0.03, 0.005])).round(4).tolist()
[0.03, 0.06, 0.06, 0.02]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from sap_engine.errors import MethodError
from sap_engine.methods.registry import Evidence, OptionSpec, RoleSpec, Stat, register

_T = "tests/methods/test_multiplicity.py"
PROCEDURES = ("bonferroni", "holm", "hochberg", "fixed_sequence", "graphical")
_TOL = 1e-9


@dataclass(frozen=True)
class Adjustment:
    """A family's adjusted p-values and rejections at ``alpha``, in the input order."""

    procedure: str
    alpha: float
    p_values: tuple[float, ...]
    adjusted: tuple[float, ...]
    reject: tuple[bool, ...]


def _p(p: ArrayLike) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.ndim != 1 or not len(p):
        raise MethodError("SAP440", "multiplicity adjustment needs at least one p-value")
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise MethodError("SAP441", "p-values must lie between 0 and 1 (none missing)")
    return p


def bonferroni(p: ArrayLike) -> np.ndarray:
    p = _p(p)
    return np.minimum(1.0, len(p) * p)


def holm(p: ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values."""
    p = _p(p)
    m = len(p)
    order = np.argsort(p, kind="mergesort")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(1.0, stepped)
    return out


def hochberg(p: ArrayLike) -> np.ndarray:
    """Hochberg's step-up adjusted p-values."""
    p = _p(p)
    m = len(p)
    order = np.argsort(p, kind="mergesort")[::-1]  # largest first
    stepped = np.minimum.accumulate((np.arange(m) + 1) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(1.0, stepped)
    return out


def fixed_sequence(p: ArrayLike, order: Sequence[int] | None = None) -> np.ndarray:
    """Hierarchical testing in ``order`` (indices; default the given order)."""
    p = _p(p)
    order = list(range(len(p))) if order is None else list(order)
    if sorted(order) != list(range(len(p))):
        raise MethodError("SAP442", "the testing order must list every hypothesis exactly once")
    out = np.empty(len(p))
    out[order] = np.maximum.accumulate(p[order])
    return out


def check_graph(weights: Sequence[float], transitions: Sequence[Sequence[float]],
                m: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated (w, G) of a graph on ``m`` hypotheses."""
    try:
        w = np.asarray(weights, dtype=float)
        g = np.asarray(transitions, dtype=float)
    except (TypeError, ValueError):
        raise MethodError("SAP443", "graph weights and transitions must be numbers") from None
    if w.shape != (m,):
        raise MethodError("SAP443", f"the graph needs {m} weights (one per hypothesis), "
                                    f"got {w.size}")
    if g.shape != (m, m):
        raise MethodError("SAP444", f"the transition matrix must be {m} x {m}, got "
                                    f"{'x'.join(map(str, g.shape))}")
    if np.any(w < 0) or w.sum() > 1 + _TOL:
        raise MethodError("SAP443", "graph weights must be >= 0 and sum to at most 1")
    if np.any(g < 0) or np.any(np.abs(np.diag(g)) > 0) or np.any(g.sum(axis=1) > 1 + _TOL):
        raise MethodError("SAP444", "transitions must be >= 0 with a zero diagonal and rows "
                                    "summing to at most 1")
    return w, g


def remove_hypothesis(w: np.ndarray, g: np.ndarray, j: int,
                      alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The graph after removing (rejecting) hypothesis ``j`` (Bretz et al. 2009, Algorithm 1).

    ``alive`` flags the hypotheses still in the graph (``j`` included); removed ones keep
    weight 0 and no edges.
    """
    rest = alive.copy()
    rest[j] = False
    new_w = np.where(rest, w + w[j] * g[j], 0.0)
    new_g = np.zeros_like(g)
    for a in np.flatnonzero(rest):  # edge a -> b gains the path a -> j -> b
        denominator = 1.0 - g[a, j] * g[j, a]
        if denominator <= _TOL:  # a and j only fed each other: a's edges vanish
            continue
        for b in np.flatnonzero(rest):
            if a != b:
                new_g[a, b] = (g[a, b] + g[a, j] * g[j, b]) / denominator
    return new_w, new_g


def graphical(p: ArrayLike, weights: Sequence[float],
              transitions: Sequence[Sequence[float]]) -> np.ndarray:
    """Adjusted p-values of the Bonferroni-based graphical procedure (Bretz et al. 2009)."""
    p = _p(p)
    w, g = check_graph(weights, transitions, len(p))
    alive = np.ones(len(p), dtype=bool)
    out = np.ones(len(p))
    floor = 0.0
    while alive.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(alive & (w > 0), p / w, np.inf)
        j = int(np.argmin(np.where(alive, ratio, np.inf)))  # first of ties
        floor = max(floor, float(ratio[j]))
        out[j] = min(1.0, floor)
        w, g = remove_hypothesis(w, g, j, alive)
        alive[j] = False
    return out


def graphical_rejections(p: ArrayLike, weights: Sequence[float],
                         transitions: Sequence[Sequence[float]], alpha: float) -> np.ndarray:
    """The sequentially rejective test itself (Bretz et al. 2009, Algorithm 1): reject any
    H_j with p_j <= w_j alpha, update the graph, repeat. Agrees with graphical() <= alpha."""
    p = _p(p)
    w, g = check_graph(weights, transitions, len(p))
    alive = np.ones(len(p), dtype=bool)
    while True:
        hits = np.flatnonzero(alive & (p <= w * alpha))
        if not len(hits):
            return ~alive
        w, g = remove_hypothesis(w, g, int(hits[0]), alive)
        alive[hits[0]] = False


def adjust(p: ArrayLike, procedure: str = "holm", alpha: float = 0.05,
           weights: Sequence[float] | None = None,
           transitions: Sequence[Sequence[float]] | None = None,
           order: Sequence[int] | None = None) -> Adjustment:
    """Adjusted p-values and rejections of one family under ``procedure``."""
    p = _p(p)
    if procedure == "bonferroni":
        adjusted = bonferroni(p)
    elif procedure == "holm":
        adjusted = holm(p)
    elif procedure == "hochberg":
        adjusted = hochberg(p)
    elif procedure == "fixed_sequence":
        adjusted = fixed_sequence(p, order)
    elif procedure == "graphical":
        if weights is None or transitions is None:
            raise MethodError("SAP445", "the graphical procedure needs 'weights' and "
                                        "'transitions'")
        adjusted = graphical(p, weights, transitions)
    else:
        raise MethodError("SAP446", f"unknown procedure '{procedure}' (one of "
                                    f"{', '.join(PROCEDURES)})")
    reject = tuple(bool(a <= alpha + _TOL * alpha) for a in adjusted)
    return Adjustment(procedure, alpha, tuple(p.tolist()), tuple(adjusted.tolist()), reject)


@register(
    "multiplicity", family="multiplicity",
    label="Multiplicity adjustment",
    summary="Multiplicity-adjusted p-values and reject decisions for a family of hypotheses: "
            "Bonferroni, Holm, Hochberg, fixed sequence, or a graphical procedure (Bretz et al. "
            "2009).",
    roles=(RoleSpec("p_value", "numeric", doc="the unadjusted p-value of each hypothesis"),
           RoleSpec("hypothesis", "any", doc="the hypothesis label of each row")),
    options=(
        OptionSpec("procedure", "choice", "holm", "the multiple testing procedure",
                   choices=PROCEDURES),
        OptionSpec("alpha", "number", 0.05, "family-wise significance level", minimum=0.0,
                   maximum=1.0),
        OptionSpec("weights", "list", (), "graphical: initial weight of each hypothesis"),
        OptionSpec("transitions", "list", (), "graphical: transition matrix, one row (list) per "
                   "hypothesis"),
        OptionSpec("order", "list", (), "hypothesis labels in testing order (fixed sequence), "
                   "and the order of weights and transitions (graphical); default: row order"),
    ),
    conventions=(
        "Adjusted p-values capped at 1; a hypothesis is rejected (`reject` = 1) when its "
        "adjusted p-value is <= alpha. Holm is the default (no SAS default exists; Holm is "
        "uniformly more powerful than Bonferroni under the same assumptions).",
        "Holm and Hochberg as R p.adjust and SAS PROC MULTTEST (step-down / step-up).",
        "Fixed sequence: each hypothesis at the full alpha in `order` until the first "
        "non-rejection; adjusted p-value = running maximum along the order.",
        "Graphical: weighted-Bonferroni sequentially rejective procedure with the graph update "
        "of Bretz, Maurer, Brannath and Posch (2009) and their adjusted p-values (as R gMCP / "
        "graphicalMCP `graph_test_shortcut`); ties in p / w are broken by order.",
    ),
    evidence=(
        Evidence("Hand computation: Holm and Hochberg on p = (0.01, 0.04, 0.03, 0.005)",
                 "exact", f"{_T}::test_holm_hochberg_bonferroni_by_hand"),
        Evidence("statsmodels multipletests (bonferroni, holm, simes-hochberg) as a second "
                 "algorithm", "1e-12", f"{_T}::test_statsmodels_second_algorithm"),
        Evidence("Bretz et al. (2009): the Bonferroni-Holm graph reproduces Holm and the "
                 "chain graph reproduces the fixed sequence", "1e-12",
                 f"{_T}::test_graph_special_cases"),
        Evidence("R graphicalMCP vignettes (Get started; Shortcut testing: w = (.5, .5, 0, 0), "
                 "p = (0.018, 0.01, 0.105, 0.006), alpha 0.025 rejects H1, H2, H4), adjusted "
                 "p-values worked by hand, and the sequentially rejective algorithm as a "
                 "second algorithm", "exact",
                 f"{_T}::test_graphicalmcp_vignette_examples"),
    ),
    stats=("p_value_adjusted", "reject"),
)
def multiplicity(frame, roles: Mapping[str, Any], options: Mapping[str, Any]) -> list[Stat]:
    labels = [str(x) for x in frame[roles["hypothesis"]].tolist()]
    if len(set(labels)) != len(labels):
        dup = next(x for x in labels if labels.count(x) > 1)
        raise MethodError("SAP447", f"hypothesis '{dup}' appears more than once")
    p = frame[roles["p_value"]].to_numpy(dtype=float, na_value=np.nan)
    listed = [str(x) for x in options.get("order") or ()]
    if listed:
        unknown = [x for x in listed if x not in labels] + [x for x in labels
                                                            if x not in listed]
        if unknown or len(listed) != len(labels):
            raise MethodError("SAP442", f"'order' must list every hypothesis once; "
                                        f"'{(unknown or listed)[0]}' does not match")
        index = [labels.index(x) for x in listed]
    else:
        index = list(range(len(labels)))
    procedure = options.get("procedure", "holm")
    weights = list(options.get("weights") or ()) or None
    transitions = [list(row) for row in options.get("transitions") or ()] or None
    # Weights and transitions are given in testing order: permute p to that order.
    result = adjust(p[index], procedure, float(options.get("alpha", 0.05)), weights,
                    transitions, None)
    out = []
    for k, i in enumerate(index):
        out += [Stat("p_value_adjusted", result.adjusted[k], variable_level=labels[i]),
                Stat("reject", float(result.reject[k]), variable_level=labels[i])]
    return out
