"""The data of a multiple-imputation analysis: from the subject x visit frame to the wide
arrays of :mod:`mi_draws`, the imputation model's design for every arm, and the ANCOVA's.

Both designs use the effect coding of :mod:`linear_design`, so the imputation model is the
MMRM of :mod:`mmrm_design` (treatment*visit, covariate*visit) and the analysis model is the
ANCOVA of :mod:`linear` (same level order, LS means at the covariate means).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sap_engine.errors import MethodError
from sap_engine.methods.inputs import refuse_infinite_columns
from sap_engine.methods.linear import _treatment_levels
from sap_engine.methods.linear_design import (
    ModelSpec,
    build_columns,
    check_rank,
    effect_codes,
    level_label,
    sorted_levels,
    term_layout,
)
from sap_engine.methods.mi_draws import Wide

VISIT = "visit"


@dataclass(frozen=True)
class WideData:
    data: Wide
    arms: tuple[str, ...]
    visits: tuple[float, ...]
    visit: float  # the analysis visit
    visit_index: int
    lsmean_rows: np.ndarray  # (arms, r): the ANCOVA's LS-mean row of each arm

    @property
    def t(self) -> int:
        return len(self.visits)


def _analysis_visit(options: Mapping[str, Any]) -> float:
    visit = options.get("visit")
    if visit is None or isinstance(visit, bool) or not isinstance(visit, (int, float)):
        raise MethodError("SAP606", "a multiple-imputation analysis needs its analysis "
                                    "visit: write 'at week N' in the analysis (or give its "
                                    "estimand a visit)")
    return float(visit)


def _model_visits(frame, response: str, visit: float, listed: Sequence[Any]) -> list[float]:
    """The visits of the imputation model: listed, else the scheduled visits up to the
    analysis visit where the observed response varies (a change from baseline is constant
    at baseline and carries no information)."""
    if listed:
        chosen = []
        for v in listed:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise MethodError("SAP607", f"option visits: {v!r} is not a visit number")
            chosen.append(float(v))
        if visit not in chosen:
            raise MethodError("SAP607", f"option visits must include the analysis visit "
                                        f"{level_label(visit)}")
        return sorted(set(chosen))
    visits = []
    for v in sorted(float(x) for x in frame[VISIT].unique()):
        if v > visit:
            continue
        values = frame.loc[frame[VISIT] == v, response].dropna()
        if values.nunique() > 1:
            visits.append(v)
    if visit not in visits:
        raise MethodError("SAP607", f"the response has no varying observed values at the "
                                    f"analysis visit {level_label(visit)}")
    return visits


def _per_subject(frame, columns: Sequence[str]):
    """One row per subject of the subject-level columns; SAP608 when one varies by visit."""
    first = frame.groupby(level=0, sort=False)[list(columns)].first()
    counts = frame.groupby(level=0, sort=False)[list(columns)].nunique(dropna=True)
    varying = [c for c in columns if (counts[c] > 1).any()]
    if varying:
        raise MethodError("SAP608", f"'{varying[0]}' varies between a subject's visits: the "
                                    "covariates and factors of a multiple-imputation "
                                    "analysis must be one value per subject (a baseline)")
    return first


def build_wide(frame, response: str, treatment: str, factors: Sequence[str],
               covariates: Sequence[str], options: Mapping[str, Any]) -> WideData:
    variables = [response, treatment, *factors, *covariates]
    absent = [v for v in variables if v not in frame.columns]
    if absent:
        raise MethodError("SAP424", f"model variable '{absent[0]}' is not a column of the "
                                    "analysis data")
    refuse_infinite_columns(frame, [response, *covariates])
    visit = _analysis_visit(options)
    visits = _model_visits(frame, response, visit, options.get("visits") or ())
    subjects = _per_subject(frame, [treatment, *factors, *covariates])
    # Subjects without a covariate or factor are left out (as the ANCOVA leaves them out).
    subjects = subjects[subjects.notna().all(axis=1)]
    if subjects.empty:
        raise MethodError("SAP428", "no subject has the treatment and every covariate present")
    arms = tuple(_treatment_levels(subjects, treatment, [treatment, *factors, *covariates],
                                   options))
    y = _pivot(frame, response, visits).reindex(subjects.index).to_numpy(dtype=float)
    arm_label = np.array([level_label(v) for v in subjects[treatment].tolist()])
    arm = np.array([arms.index(a) for a in arm_label])
    observed = np.isfinite(y)
    for i, a in enumerate(arms):
        for j, v in enumerate(visits):
            if not observed[arm == i, j].any():
                raise MethodError("SAP609", f"treatment arm '{a}' has no observed "
                                            f"'{response}' at visit {level_label(v)}: the "
                                            "imputation model cannot be estimated there")
    reference = _reference(options, arms)
    levels = {f: tuple(sorted_levels(subjects[f].tolist())) for f in factors}
    f_codes = {f: effect_codes(len(levels[f]))[[levels[f].index(level_label(v))
                                                 for v in subjects[f].tolist()]]
               for f in factors}
    covs = {c: subjects[c].to_numpy(dtype=float) for c in covariates}
    n, t = y.shape
    trt_codes = effect_codes(len(arms))
    # The imputation MMRM's design for every subject and visit, were it in arm a.
    mspec = ModelSpec(response, (treatment, VISIT, *factors), tuple(covariates),
                      ((treatment, VISIT), *[(c, VISIT) for c in covariates]))
    rows = {f: np.repeat(f_codes[f], t, axis=0) for f in factors}
    rows[VISIT] = np.tile(effect_codes(t), (n, 1))
    cov_rows = {c: np.repeat(covs[c], t) for c in covariates}
    x_arm = np.stack([build_columns(mspec, {**rows, treatment: np.repeat(
        trt_codes[[a]], n * t, axis=0)}, cov_rows).reshape(n, t, -1)
        for a in range(len(arms))])
    aspec = ModelSpec(response, (treatment, *factors), tuple(covariates))
    z = build_columns(aspec, {treatment: trt_codes[arm], **f_codes}, covs)
    terms, names = term_layout(aspec, {treatment: arms, **levels})
    check_rank(z, terms, names)
    means = {c: np.array([float(np.mean(v))]) for c, v in covs.items()}
    lsmean_rows = np.vstack([build_columns(aspec, {treatment: trt_codes[[a]], **{
        f: effect_codes(len(levels[f])).mean(axis=0, keepdims=True) for f in factors}},
        means) for a in range(len(arms))])
    return WideData(Wide(y, arm, x_arm, z, reference), arms, tuple(visits), visit,
                    visits.index(visit), lsmean_rows)


def _pivot(frame, response: str, visits: Sequence[float]):
    """(subject x visit) table of the response at ``visits`` (NaN where missing)."""
    data = frame[[VISIT, response]].copy()
    data["_subject"] = frame.index.to_numpy()
    data = data[data[VISIT].isin(visits)]
    table = data.pivot_table(index="_subject", columns=VISIT, values=response,
                             aggfunc="first", dropna=False, sort=False)
    return table.reindex(columns=list(visits))


def _reference(options: Mapping[str, Any], arms: Sequence[str]) -> int:
    ref = str(options.get("reference") or "")
    strategy = options.get("imputation", "mar")
    if ref and ref not in arms:
        raise MethodError("SAP610", f"reference arm '{ref}' is not an arm of the analysis "
                                    f"({', '.join(arms)})")
    if not ref:
        if strategy != "mar":
            raise MethodError("SAP610", f"imputation {strategy} needs a reference arm: mark "
                                        "one 'reference' in the treatment block or give "
                                        "options reference = \"...\"")
        return 0
    return list(arms).index(ref)
