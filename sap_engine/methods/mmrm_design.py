"""The MMRM's data and design: rows used, visits modelled, the effect-coded design matrix.

The model is ``response ~ treatment + visit + treatment*visit + factors + covariates
[+ covariate*visit]`` in the effect coding of :mod:`linear_design` (so the LS means are
built exactly as the ANCOVA's), one row per subject and observed visit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.inputs import refuse_infinite_columns
from sap_engine.methods.linear_design import (
    ModelSpec,
    build_columns,
    check_rank,
    effect_codes,
    level_label,
    sorted_levels,
    term_layout,
)

VISIT = "visit"


@dataclass(frozen=True)
class Design:
    spec: ModelSpec
    x: np.ndarray
    y: np.ndarray
    subject: np.ndarray  # subject index of each row
    visit: np.ndarray  # visit index (0..t-1) of each row
    visits: tuple[float, ...]  # the modelled visits, in order
    levels: Mapping[str, tuple[str, ...]]
    covariate_means: Mapping[str, float]
    n_by_arm_visit: Mapping[tuple[str, int], int]
    left_out: tuple[float, ...]  # visits where the response is constant (change at baseline)

    def row(self, arm: str, visit: int) -> np.ndarray:
        """The LS-mean row at ``arm`` and visit index ``visit``: other factors with equal
        weights (their code rows average to 0), covariates at their mean over the rows used."""
        factor_rows = {}
        for f in self.spec.factors:
            k = len(self.levels[f])
            codes = effect_codes(k)
            if f == self.spec.factors[0]:
                factor_rows[f] = codes[[self.levels[f].index(arm)]]
            elif f == VISIT:
                factor_rows[f] = codes[[visit]]
            else:
                factor_rows[f] = codes.mean(axis=0, keepdims=True)
        covs = {c: np.array([self.covariate_means[c]]) for c in self.spec.covariates}
        return build_columns(self.spec, factor_rows, covs)[0]


def build_design(frame, response: str, treatment: str, factors: Sequence[str],
                 covariates: Sequence[str], arms: Sequence[str], by_visit: bool,
                 chosen: Sequence[float]) -> Design:
    """The rows used and their design (see the module docstring)."""
    import pandas as pd

    variables = [response, treatment, *factors, *covariates]
    missing = [v for v in variables if v not in frame.columns]
    if missing:
        raise MethodError("SAP424", f"model variable '{missing[0]}' is not a column of the "
                                    "analysis data")
    refuse_infinite_columns(frame, [response, *covariates])
    data = frame.assign(_subject=frame.index.to_numpy())
    if chosen:
        data = data[data[VISIT].isin([float(v) for v in chosen])]
    # A subject whose covariate or factor is missing is left out at every visit (as SAS
    # drops each row with a missing model variable; baseline covariates are per subject).
    data = data[data[[treatment, *factors, *covariates]].notna().all(axis=1)]
    data = data[data[response].notna()]
    visits, left_out = _visits(data, response, chosen)
    data = data[data[VISIT].isin(visits)]
    if data.empty:
        raise MethodError("SAP494", f"no subject has '{response}' and every model variable "
                                    "present at a modelled visit")
    labels = {f: np.array([level_label(v) for v in data[f].tolist()]) for f in
              (treatment, *factors)}
    levels = {treatment: tuple(arms),
              **{f: tuple(sorted_levels(data[f].tolist())) for f in factors}}
    visit_index = pd.Index(visits).get_indexer(data[VISIT].to_numpy(dtype=float))
    levels[VISIT] = tuple(level_label(v) for v in visits)
    counts = {}
    for a in arms:
        for j, v in enumerate(visits):
            counts[(a, j)] = int(np.sum((labels[treatment] == a) & (visit_index == j)))
            if counts[(a, j)] == 0:
                raise MethodError("SAP490", f"treatment arm '{a}' has no observation of "
                                            f"'{response}' at visit {level_label(v)}: its LS "
                                            "mean there is not estimable; leave the visit out "
                                            "(options visits = [...])")
    spec = ModelSpec(response, (treatment, VISIT, *factors), tuple(covariates),
                     ((treatment, VISIT), *[(c, VISIT) for c in covariates if by_visit]))
    factor_rows = {f: effect_codes(len(levels[f]))[_codes(labels[f], levels[f])]
                   for f in spec.factors if f != VISIT}
    factor_rows[VISIT] = effect_codes(len(visits))[visit_index]
    covs = {c: data[c].to_numpy(dtype=float) for c in covariates}
    x = build_columns(spec, factor_rows, covs)
    terms, names = term_layout(spec, levels)
    try:
        check_rank(x, terms, names)
    except MethodError as exc:
        raise MethodError("SAP491", f"the MMRM design is singular: {exc.message}") from None
    subject = pd.factorize(data["_subject"])[0]
    return Design(spec, x, data[response].to_numpy(dtype=float), subject, visit_index,
                  tuple(visits), levels, {c: float(np.mean(v)) for c, v in covs.items()},
                  counts, tuple(left_out))


def _codes(labels: np.ndarray, levels: Sequence[str]) -> np.ndarray:
    index = {lev: i for i, lev in enumerate(levels)}
    return np.array([index[v] for v in labels])


def _visits(data, response: str, chosen: Sequence[float]) -> tuple[list[float], list[float]]:
    """The modelled visits: those with a non-constant response (a change from baseline is
    0 for everyone at the baseline visit and carries no information), unless listed."""
    visits, left_out = [], []
    for v in sorted(float(x) for x in data[VISIT].unique()):
        values = data.loc[data[VISIT] == v, response]
        if values.nunique() > 1:
            visits.append(v)
        elif chosen:
            raise MethodError("SAP495", f"'{response}' is constant at visit {level_label(v)} "
                                        "(listed in the option visits): it cannot be modelled "
                                        "there")
        else:
            left_out.append(v)
    return visits, left_out
