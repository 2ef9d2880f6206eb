"""Shift tables: each subject's baseline category against its worst post-baseline category
(or its category at a named visit), per parameter, by arm and in total, as CSR laboratory
shift tables count them (low/normal/high at baseline vs worst on treatment).

The frame (unit :data:`~sap_engine.methods.registry.OCCURRENCE`) has one row per record of
the occurrence set (ADLB-like: one row per subject, parameter and visit) for the population's
subjects, and one row per population subject without any record, indexed by subject, with
the treatment column and a ``visit`` column (the plan's visit variable); the baseline visit
is ``frame.attrs["baseline_visit"]``. So every subject of the population is in a cell of
every parameter: one without a baseline category is on the "Missing" row, one without a
post-baseline category in the "Missing" column, and the cells of an arm add up to its N.

Text categories are read as text (ANRIND, BNRIND): no numeric coding is needed, and a
value outside the declared ``categories`` is refused, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported when a method runs, not when check loads the registry
    import pandas as pd

from sap_engine.errors import MethodError
from sap_engine.methods.occurrence import outside_population, subject_arms
from sap_engine.methods.registry import (
    ANALYSIS_VISIT,
    OCCURRENCE,
    TREATMENT_ARMS,
    Evidence,
    OptionSpec,
    RoleSpec,
    Stat,
    register,
)

TOTAL = "Total"
MISSING = "Missing"
BASELINE_GROUP = "baseline"  # the ARD group of the baseline category
POST_GROUP = "post-baseline"  # the ARD group of the post-baseline category
VISIT = "visit"  # the frame column holding the plan's visit variable


def category_text(values: np.ndarray) -> np.ndarray:
    """Category values as stripped text, a missing or blank value as "".

    The text work is done once per distinct value (factorised first), not per record."""
    import pandas as pd

    codes, uniques = pd.factorize(values)  # a missing value (None, NaN): code -1
    names = np.array([_as_text(u) for u in uniques] + [""], dtype=object)
    return names[np.where(codes < 0, len(uniques), codes)]


def _as_text(value: object) -> str:
    """A category as a plan lists it: a number as written (grade 2, not 2.0), text stripped."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value).strip()


def _codes(text: np.ndarray, levels: list[str], column: str) -> np.ndarray:
    """Each value's position in ``levels``; -1 for a blank. A value not among the levels
    is refused (SAP625): silently counting it as missing would move subjects between
    cells."""
    import pandas as pd

    codes, uniques = pd.factorize(text)
    known = {lev: i for i, lev in enumerate(levels)}
    unknown = sorted(str(u) for u in uniques if u != "" and u not in known)
    if unknown:
        raise MethodError("SAP625", f"column '{column}' has value '{unknown[0]}', not among "
                                    f"the shift's categories ({', '.join(levels)})")
    lookup = np.array([known.get(u, -1) for u in uniques] + [-1], dtype=np.int64)
    return lookup[np.where(codes < 0, len(uniques), codes)]


def _parameter_order(frame: pd.DataFrame, names: list[str], codes: np.ndarray,
                     order_column: str | None) -> list[int]:
    """Parameter positions in display order: by the ``parameter_order`` column (e.g.
    PARAMN, its smallest value per parameter), else alphabetically."""
    if not order_column:
        return sorted(range(len(names)), key=lambda i: names[i])
    import pandas as pd

    keys = pd.to_numeric(pd.Series(frame[order_column].to_numpy()[frame["record"]
                                                                  .to_numpy(dtype=bool)]),
                         errors="coerce")
    first = keys.groupby(codes).min()
    return sorted(range(len(names)), key=lambda i: (first.get(i, np.inf), names[i]))


def run_shift(frame: pd.DataFrame, roles: Mapping[str, Any], options: Mapping[str, Any]
              ) -> list[Stat]:
    import pandas as pd

    trt = str(roles["treatment"])
    arms = [str(a) for a in (options.get("arms") or sorted(frame[trt].dropna().unique()))]
    n_arms = len(arms)
    cats = [str(c) for c in options["categories"]]
    worst = [str(c) for c in (options.get("worst") or cats)]
    base_col, value_col = str(options["baseline"]), str(options["value"])
    param_col = options.get("parameter")

    subj, subjects, arm_of = subject_arms(frame, trt, arms)
    record = frame["record"].to_numpy(dtype=bool) & (arm_of[subj] >= 0)
    rs = subj[record]
    if param_col:
        names_text = category_text(frame[str(param_col)].to_numpy(dtype=object)[record])
        pcodes, puniq = pd.factorize(names_text)
        names = [p if p else MISSING for p in (str(u) for u in puniq)]
        pcodes = np.where(pcodes < 0, 0, pcodes)
    else:
        pcodes, names = np.zeros(len(rs), dtype=np.int64), [""]
    n_par = len(names)

    nb, nq = len(cats), len(cats)  # index nb / nq: the Missing row / column
    base = np.full((len(subjects), n_par), nb, dtype=np.int64)
    post = np.full((len(subjects), n_par), nq, dtype=np.int64)

    # Baseline: the subject's baseline category, one per parameter (ADaM repeats BNRIND on
    # every record); two different ones are refused, as the table could show only one.
    bcode = _codes(category_text(frame[base_col].to_numpy(dtype=object)[record]), cats, base_col)
    has = bcode >= 0
    if has.any():
        g = pd.DataFrame({"s": rs[has], "p": pcodes[has], "b": bcode[has]}) \
            .groupby(["s", "p"])["b"].agg(["min", "max"])
        clash = g[g["min"] != g["max"]]
        if len(clash):
            s, p = clash.index[0]
            raise MethodError("SAP626", f"subject {subjects[s]}"
                                        + (f", parameter '{names[p]}'" if param_col else "")
                                        + f": two baseline categories in '{base_col}' "
                              f"('{cats[clash.iloc[0]['min']]}' and "
                              f"'{cats[clash.iloc[0]['max']]}')")
        idx = g.index.to_frame().to_numpy()
        base[idx[:, 0], idx[:, 1]] = g["min"].to_numpy()

    # Post-baseline: records after the baseline visit (or at the analysis' visit); records
    # without an analysis visit (unscheduled, not windowed) are not used.
    visits = pd.to_numeric(pd.Series(frame[VISIT].to_numpy()[record]), errors="coerce") \
        .to_numpy(dtype=float)
    at = options.get("visit")
    if at is not None:
        chosen = visits == float(at)
    else:
        chosen = visits > float(frame.attrs.get("baseline_visit", 0.0))
    vcode = _codes(category_text(frame[value_col].to_numpy(dtype=object)[record]), cats, value_col)
    rank_of = np.array([worst.index(c) for c in cats] + [-1], dtype=np.int64)
    use = chosen & (vcode >= 0)
    if use.any():
        # The worst category of the subject's post-baseline records (its highest rank).
        g2 = pd.Series(rank_of[vcode[use]]).groupby([rs[use], pcodes[use]]).max()
        idx = g2.index.to_frame().to_numpy()
        post[idx[:, 0], idx[:, 1]] = [cats.index(worst[r]) for r in g2.to_numpy()]

    # Counts: parameter x arm (then Total) x baseline row x post column.
    counts = np.zeros((n_par, n_arms + 1, nb + 1, nq + 1))
    inside = arm_of >= 0
    s_idx = np.flatnonzero(inside)
    for p in range(n_par):
        np.add.at(counts[p], (arm_of[s_idx], base[s_idx, p], post[s_idx, p]), 1)
    counts[:, n_arms] = counts[:, :n_arms].sum(axis=1)
    big_n = counts[0].sum(axis=(1, 2)) if n_par else np.zeros(n_arms + 1)
    assessed = counts[:, :, :nb, :nq].sum(axis=(2, 3))
    by_assessed = options.get("percent_of") == "assessed"

    columns = [*arms, TOTAL]
    out = [Stat("N", float(big_n[j]), stat_label="Subjects in the analysis population",
                groups=((trt, col),)) for j, col in enumerate(columns)]
    row_names, col_names = [*cats, MISSING], [*cats, MISSING]
    order_col = options.get("parameter_order")
    for p in _parameter_order(frame, names, pcodes, str(order_col) if order_col else None):
        pg = ((str(param_col), names[p]),) if param_col else ()
        for j, col in enumerate(columns):
            g = ((trt, col), *pg)
            out.append(Stat("n_assessed", float(assessed[p, j]),
                            stat_label="Subjects with a baseline and a post-baseline category",
                            groups=g))
            denom = assessed[p, j] if by_assessed else big_n[j]
            for b in range(nb + 1):
                row = counts[p, j, b]
                if b == nb and not counts[p, :, nb].any():
                    continue  # no Missing row where every subject has a baseline
                bg = (*g, (BASELINE_GROUP, row_names[b]))
                out.append(Stat("n", float(row.sum()), stat_label="Subjects by baseline "
                                "category", groups=bg))
                for q in range(nq + 1):
                    if q == nq and not counts[p, :, :, nq].any():
                        continue  # no Missing column where every subject has a category
                    n = float(row[q])
                    pct_denom = denom if not (by_assessed and (b == nb or q == nq)) else 0
                    out.append(Stat("n", n, stat_label="Subjects", groups=(*bg, (POST_GROUP,
                                                                                 col_names[q]))))
                    out.append(Stat("pct", 100.0 * n / pct_denom if pct_denom else None,
                                    stat_label="Percentage", groups=(*bg, (POST_GROUP,
                                                                           col_names[q]))))
    out.append(outside_population(frame))
    return out


register(
    "shift",
    family="shift",
    label="Shift table (baseline vs post-baseline category)",
    summary="Subjects by baseline category and worst post-baseline category (or the "
            "category at the analysis' visit), per parameter, by arm and in total: n and %.",
    unit=OCCURRENCE,
    roles=(RoleSpec("treatment", "category", required=False,
                    doc="the arms (the plan's treatment)"),),
    options=(
        OptionSpec("events", "string", None, "the occurrence set of records (an "
                   "'occurrence' statement, e.g. the chemistry records of ADLBC); required"),
        OptionSpec("baseline", "string", None, "the column of the baseline category (e.g. "
                   "BNRIND); required"),
        OptionSpec("value", "string", None, "the column of each record's category (e.g. "
                   "ANRIND); required"),
        OptionSpec("categories", "list", None, "the categories in display order (e.g. "
                   "[\"L\", \"N\", \"H\"]); required"),
        OptionSpec("worst", "list", None, "the categories from best to worst, for the worst "
                   "post-baseline category (default: the categories' order, last worst)"),
        OptionSpec("parameter", "string", None, "the column naming the parameter (e.g. "
                   "PARAM): one block per parameter"),
        OptionSpec("parameter_order", "string", None, "a numeric column ordering the "
                   "parameters (e.g. PARAMN); default alphabetical"),
        OptionSpec("percent_of", "choice", "population", "population: % of the arm's N "
                   "(every subject in a cell); assessed: % of the arm's subjects with a "
                   "baseline and a post-baseline category", ("population", "assessed")),
        OptionSpec("visit", "number", None, "the post-baseline visit (set by 'at week N'); "
                   "default the worst over every visit after baseline",
                   clause=ANALYSIS_VISIT),
        OptionSpec("arms", "list", None, "the arms in order (set from the treatment)",
                   clause=TREATMENT_ARMS),
    ),
    conventions=(
        "Post-baseline: the records whose analysis visit (the plan's visit variable) is "
        "after the baseline visit; with 'at week N' the records of that visit only. Records "
        "without an analysis visit (unscheduled, not windowed) are not used.",
        "Worst: the highest category in the 'worst' order among the subject's post-baseline "
        "records of the parameter; blank values are ignored.",
        "Baseline category: the 'baseline' column of the subject's records of the parameter "
        "(constant per subject in ADaM; two different values are an error, SAP626).",
        "Every subject of the population is counted once per parameter: without a baseline "
        "category on the 'Missing' row, without a post-baseline one in the 'Missing' "
        "column (each shown only when not empty); percent_of = population: % of the arm's N.",
        "A category outside 'categories' is refused (SAP625), never counted as missing; "
        "a number is the category as written (grade 2.0 is \"2\"), a blank is missing.",
    ),
    evidence=(Evidence("independent pandas count over the raw CDISC Pilot 01 ADLBC and ADSL "
                       "(baseline BNRIND vs worst post-baseline ANRIND)", "exact",
                       "tests/test_shift.py::test_cdisc_shift_counts_equal_a_pandas_count"),
              Evidence("hand counts: Missing row and column, at a named visit, "
                       "percent_of = assessed, worst order", "exact",
                       "tests/test_shift.py::test_hand_shift_counts")),
    stats=("N", "n", "pct", "n_assessed", "n_outside_population"),
)(run_shift)
