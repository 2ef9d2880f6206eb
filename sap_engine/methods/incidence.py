"""Incidence of events: subjects with at least one event record, by arm and in total,
nested by a hierarchy (system organ class > preferred term), as CSR safety tables count them.

The frame (unit :data:`~sap_engine.methods.registry.OCCURRENCE`) has one row per event record
of the population's subjects and one row for each population subject without a record (its
``record`` column False, the hierarchy columns missing), indexed by subject, with the
treatment column: so the method knows every arm's denominator N and counts distinct subjects,
never records. Subjects of the occurrence set outside the population are counted by the
executor (``frame.attrs["n_outside_population"]``) and reported, not silently dropped.

Counting is done on integer codes (factorised subjects and terms, one ``np.unique`` of
subject x term pairs per level of the hierarchy), so a million records stay within a small
multiple of a plain pandas ``groupby().nunique()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported when a method runs, not when check loads the registry
    import pandas as pd

from sap_engine.errors import MethodError
from sap_engine.methods.occurrence import outside_population, subject_arms
from sap_engine.methods.registry import (
    OCCURRENCE,
    TREATMENT_ARMS,
    TREATMENT_REFERENCE,
    Evidence,
    OptionSpec,
    RoleSpec,
    Stat,
    register,
)

TOTAL = "Total"
UNCODED = "Uncoded"  # a record whose SOC or PT is missing (or blank) is counted under it
ANY_EVENT = "Any event"
MISSING_GRADE = "Missing"  # a subject whose records in a row all lack a severity
Z975 = 1.959963984540054  # the normal 97.5 % quantile (Wald 95 % CI)


@dataclass(frozen=True)
class _Counts:
    """Per term (rows) and arm (columns, the arms then Total): distinct subjects, records,
    and with a severity the subjects by worst grade (term x arm x grade, last = Missing)."""

    subjects: np.ndarray
    events: np.ndarray
    worst: np.ndarray | None


def _terms(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Hierarchy values as codes and names, a missing or blank term as "Uncoded".

    Factorised first, so the text work is on the distinct terms, not on every record."""
    import pandas as pd

    codes, uniques = pd.factorize(values)  # a missing value: code -1
    names = [UNCODED if str(u).strip() == "" else str(u) for u in uniques]
    if (codes < 0).any():
        names.append(UNCODED)
        codes = np.where(codes < 0, len(names) - 1, codes)
    final, merged = pd.factorize(np.array(names, dtype=object))  # blank and missing: one
    return final[codes].astype(np.int64), [str(x) for x in merged]


def _count(keys: np.ndarray, n_keys: int, subj: np.ndarray, arm_of: np.ndarray, n_arms: int,
           n_subjects: int, grade: np.ndarray | None, n_grades: int) -> _Counts:
    """Distinct subjects and records per (term key, arm) for records ``keys``/``subj``."""
    import pandas as pd

    arms = arm_of[subj]
    events = np.bincount(keys * n_arms + arms, minlength=n_keys * n_arms) \
        .reshape(n_keys, n_arms)
    pair = keys.astype(np.int64) * n_subjects + subj
    worst = None
    if grade is None:
        uniq = pd.unique(pair)  # hashing, not sorting: the order does not matter
    else:
        # The worst grade of a subject within the term: the maximum of its records' ranks
        # (-1, no grade, only when none of its records has one).
        top = pd.Series(grade).groupby(pair).max()
        uniq, ranks = top.index.to_numpy(), top.to_numpy()
        u_keys, u_arms = uniq // n_subjects, arm_of[uniq % n_subjects]
        ranks = np.where(ranks < 0, n_grades, ranks)  # the Missing column
        worst = np.zeros((n_keys, n_arms + 1, n_grades + 1))
        np.add.at(worst, (u_keys, u_arms, ranks), 1)
        worst[:, n_arms, :] = worst[:, :n_arms, :].sum(axis=1)
    u_keys, u_arms = uniq // n_subjects, arm_of[uniq % n_subjects]
    subjects = np.bincount(u_keys * n_arms + u_arms, minlength=n_keys * n_arms) \
        .reshape(n_keys, n_arms)
    total = lambda a: np.column_stack([a, a.sum(axis=1)])  # noqa: E731 - arms then Total
    return _Counts(total(subjects), total(events), worst)


def _order(names: list[str], totals: np.ndarray, how: str) -> list[int]:
    """Term positions in display order: by descending total subjects then name
    (``frequency``), or by name; "Uncoded" last either way."""
    def key(i: int) -> tuple:
        coded = names[i] != UNCODED
        return (not coded, -totals[i] if how == "frequency" else 0, names[i])
    return sorted(range(len(names)), key=key)


def _pct(n: float, big_n: float) -> float | None:
    return 100.0 * n / big_n if big_n else None


def _wald(n1: float, n1_big: float, n0: float, n0_big: float) -> tuple[float, float, float] | None:
    """Difference of percentages (arm - reference) with its Wald 95 % CI, in points."""
    if not n1_big or not n0_big:
        return None
    p1, p0 = n1 / n1_big, n0 / n0_big
    se = math.sqrt(p1 * (1 - p1) / n1_big + p0 * (1 - p0) / n0_big)
    d = p1 - p0
    return 100 * d, 100 * (d - Z975 * se), 100 * (d + Z975 * se)


def _fisher(n: np.ndarray, big_n: np.ndarray) -> float:
    """Fisher's exact p-value (two-sided, SAS PROC FREQ / R fisher.test) of the 2 x arms
    table of subjects with and without the event."""
    from sap_engine.methods.freq_exact import fisher_exact

    return float(fisher_exact(np.vstack([n, big_n - n]).astype(np.int64)).p_value)


def run_incidence(frame: pd.DataFrame, roles: Mapping[str, Any], options: Mapping[str, Any]
                  ) -> list[Stat]:
    import pandas as pd

    trt = str(roles["treatment"])
    hierarchy = [str(h) for h in options["hierarchy"]]
    arms = [str(a) for a in (options.get("arms") or sorted(frame[trt].dropna().unique()))]
    columns = [*arms, TOTAL]
    n_arms = len(arms)
    subj, subjects, arm_of = subject_arms(frame, trt, arms)
    in_arm = arm_of >= 0
    big_n = np.append(np.bincount(arm_of[in_arm], minlength=n_arms), in_arm.sum())
    record = frame["record"].to_numpy(dtype=bool) & in_arm[subj]
    ev_subj = subj[record]

    grade, levels = None, [str(x) for x in (options.get("severity_levels") or ())]
    if options.get("severity"):
        column = str(options["severity"])
        codes, uniques = pd.factorize(frame[column].to_numpy(dtype=object)[record])
        text = [str(u).strip() for u in uniques]  # a blank grade is a missing one
        unknown = sorted(set(text) - set(levels) - {""})
        if unknown:
            raise MethodError("SAP611", f"severity column '{column}' has value '{unknown[0]}', "
                                        f"not among severity_levels ({', '.join(levels)})")
        # The rank of each record's grade; -1 for a record without one.
        ranks = np.array([levels.index(t) if t else -1 for t in text] + [-1], dtype=np.int64)
        grade = ranks[np.where(codes < 0, len(text), codes)]

    def count(keys: np.ndarray, n_keys: int) -> _Counts:
        return _count(keys, n_keys, ev_subj, arm_of, n_arms, len(subjects), grade, len(levels))

    anyone = count(np.zeros(len(ev_subj), dtype=np.int64), 1)
    soc_codes = np.zeros(0, dtype=np.int64)
    soc_names: list[str] = []
    socs = anyone
    if hierarchy:  # an empty hierarchy: the "any event" row alone (an overview table's row)
        soc_codes, soc_names = _terms(frame[hierarchy[0]].to_numpy(dtype=object)[record])
        socs = count(soc_codes, len(soc_names))
    pts: _Counts | None = None
    pt_soc = pt_names = None
    if len(hierarchy) > 1:
        term_codes, term_names = _terms(frame[hierarchy[1]].to_numpy(dtype=object)[record])
        # A PT is a (SOC, term) pair: the same term under two SOCs is two rows.
        pair_codes, pairs = pd.factorize(soc_codes * len(term_names) + term_codes)
        pt_soc = pairs // len(term_names)
        pt_names = [term_names[t] for t in pairs % len(term_names)]
        pts = count(pair_codes.astype(np.int64), len(pairs))

    ref = options.get("reference")
    wants_rd = bool(options.get("risk_difference"))
    if wants_rd and (ref is None or ref not in arms):
        raise MethodError("SAP612", "risk_difference needs a reference arm among the "
                                    "analysed arms (mark one 'reference' in the treatment)")
    out: list[Stat] = []
    test = options.get("test", "none")

    def emit(c: _Counts, i: int, groups: tuple) -> None:
        for j, col in enumerate(columns):
            g = ((trt, col), *groups)
            out.append(Stat("n", float(c.subjects[i, j]), stat_label="Subjects with events",
                            groups=g))
            out.append(Stat("pct", _pct(c.subjects[i, j], big_n[j]),
                            stat_label="Percentage of the arm's N", groups=g))
            if options.get("event_counts"):
                out.append(Stat("events", float(c.events[i, j]), stat_label="Events",
                                groups=g))
            if c.worst is not None:
                for k, lev in enumerate([*levels, MISSING_GRADE]):
                    n = float(c.worst[i, j, k])
                    if lev == MISSING_GRADE and n == 0:
                        continue
                    out.append(Stat("n", n, lev, "Subjects by worst grade", groups=g))
                    out.append(Stat("pct", _pct(n, big_n[j]), lev,
                                    "Percentage by worst grade", groups=g))
        if wants_rd:
            r = arms.index(str(ref))
            for j, arm in enumerate(arms):
                if j == r:
                    continue
                got = _wald(c.subjects[i, j], big_n[j], c.subjects[i, r], big_n[r])
                for name, value in zip(("risk_diff", "risk_diff_lcl", "risk_diff_ucl"),
                                       got or (None, None, None)):
                    out.append(Stat(name, value, f"{arm} - {ref}",
                                    "Difference in percentages (Wald 95% CI)",
                                    groups=((trt, arm), *groups)))

        if test == "fisher":
            out.append(Stat("p_value", _fisher(c.subjects[i, :n_arms], big_n[:n_arms]),
                            "Fisher's exact test", "p-value, Fisher's exact test "
                            "(subjects with vs without, by arm)", groups=groups))

    for j, col in enumerate(columns):
        out.append(Stat("N", float(big_n[j]), stat_label="Subjects in the analysis population",
                        groups=((trt, col),)))
    emit(anyone, 0, ())
    how = str(options.get("order", "frequency"))
    min_pct = options.get("min_pct")

    def kept(c: _Counts, i: int) -> bool:
        if min_pct is None:
            return True
        return any(big_n[j] and 100.0 * c.subjects[i, j] / big_n[j] >= min_pct
                   for j in range(n_arms))

    soc_list = soc_names
    for s in _order(soc_list, socs.subjects[:, -1], how):
        soc_group = (hierarchy[0], soc_list[s])
        if pts is None or pt_names is None or pt_soc is None:
            if kept(socs, s):
                emit(socs, s, (soc_group,))
            continue
        members = [p for p in range(len(pt_names)) if pt_soc[p] == s]
        shown = [p for p in members if kept(pts, p)]
        if not shown:
            continue  # a SOC is kept when one of its PTs is
        emit(socs, s, (soc_group,))
        names = [pt_names[p] for p in shown]
        for k in _order(names, pts.subjects[shown, -1], how):
            emit(pts, shown[k], (soc_group, (hierarchy[1], names[k])))
    out.append(outside_population(frame))
    return out


register(
    "incidence",
    family="incidence",
    label="Incidence (subjects with at least one event)",
    summary="Subjects with at least one event record, by arm and in total, nested by a "
            "hierarchy (SOC > PT): n and % of the arm's population N.",
    unit=OCCURRENCE,
    roles=(RoleSpec("treatment", "category", required=False,
                    doc="the arms (the plan's treatment)"),),
    options=(
        OptionSpec("events", "string", None, "the occurrence set counted (an 'occurrence' "
                   "statement of the plan); required"),
        OptionSpec("hierarchy", "list", None, "none, one or two columns of the occurrence "
                   "set's dataset, outer first (e.g. [AEBODSYS, AEDECOD]: SOC > PT; [] for the "
                   "'any event' row alone, as in an overview of adverse events); required"),
        OptionSpec("order", "choice", "frequency", "frequency: descending total subjects, "
                   "then alphabetical (SAS/CSR default); alphabetical", ("frequency",
                                                                       "alphabetical")),
        OptionSpec("min_pct", "number", None, "keep a term (PT) whose percentage reaches this "
                   "in any arm; a SOC is kept when one of its PTs is", minimum=0, maximum=100),
        OptionSpec("event_counts", "bool", False, "also the number of records (stat events)"),
        OptionSpec("severity", "string", None, "a column of grades (e.g. AESEV): each subject "
                   "counted once at its worst grade; needs severity_levels"),
        OptionSpec("severity_levels", "list", None, "the grades from mildest to worst"),
        OptionSpec("risk_difference", "bool", False, "difference in percentages vs the "
                   "reference arm with a Wald 95% CI"),
        OptionSpec("test", "choice", "none", "fisher: per row, Fisher's exact test of the "
                   "subjects with vs without an event across the arms (a p-value column)",
                   ("none", "fisher")),
        OptionSpec("arms", "list", None, "the arms in order (set from the treatment)",
                   clause=TREATMENT_ARMS),
        OptionSpec("reference", "string", None, "the reference arm (set from the treatment)",
                   clause=TREATMENT_REFERENCE),
    ),
    conventions=(
        "hierarchy = []: only the 'any event' row (subjects with at least one record), the "
        "row of an overview table listing several occurrence sets.",
        "A subject is counted once per SOC and once per PT, whatever its number of records; "
        "percentages are of the arm's population N (subjects without records included).",
        "A record with a missing or blank SOC or PT is counted under 'Uncoded' (sorted last).",
        "Subjects with records but outside the analysis population are not counted; their "
        "number is the stat n_outside_population.",
        "order = frequency: descending total (all arms) subjects, then alphabetical.",
        "severity: the worst grade per subject within each row; a subject whose records "
        "there have no grade is counted under 'Missing'.",
        "risk_difference: arm minus reference, in percentage points, Wald 95% CI "
        "(normal quantile, no continuity correction).",
        "test = fisher: each row's 2 x arms table (subjects with / without, the Total column "
        "left out), two-sided Fisher's exact p-value summing the tables at most as probable "
        "as the observed one (SAS PROC FREQ EXACT FISHER, R fisher.test); no multiplicity "
        "adjustment across rows.",
    ),
    evidence=(Evidence("independent pandas groupby of distinct subjects over the raw CDISC "
                       "Pilot 01 ADAE and ADSL (Table 14-5.01)", "exact",
                       "tests/test_incidence.py::"
                       "test_table_14_5_01_counts_equal_an_independent_pandas_count"),
              Evidence("hand counts: worst severity, Uncoded, outside the population, event "
                       "counts; the Wald CI of the risk difference by hand", "1e-6 relative",
                       "tests/test_incidence.py::test_hand_risk_difference_wald_ci")),
    stats=("N", "n", "pct", "events", "risk_diff", "risk_diff_lcl", "risk_diff_ucl",
           "p_value", "n_outside_population"),
)(run_incidence)
