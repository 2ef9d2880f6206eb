"""The visits' text labels read from the data: `visits AVISITN { ... label from AVISIT }`.

ADaM datasets carry each analysis visit twice, as a number (AVISITN, what the plan
schedules and compares) and as text (AVISIT: "Baseline", "Week 2", "End of Treatment").
A table by visit should show the text. It is read here from every dataset a parameter
reads that has both columns, so that a document names the visits as the data do.

One visit number must have one label: a number labelled "Week 2" in one row and "Week 3"
in another (in one dataset or across two) is a data error (SAP266) naming the dataset, the
visit and the row, since which one a table shows would otherwise depend on row order. A row
without a visit number or without a label says nothing and is skipped.

The labels go into the ARD's metadata (``visit_labels``), so ``sap-run render`` shows
them without the data; a plan without ``label from`` writes no such key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sap_engine import model as m


@dataclass(frozen=True)
class LabelConflict:
    """A visit number given a second, different label (SAP266)."""

    dataset: str
    path: str
    row: int  # 1-based over data rows, as DataLocation counts them
    visit: str
    label: str
    first: str  # the label it had first
    first_where: str  # "dataset adlbc, row 3"


def label_datasets(plan: m.Plan, datasets: dict) -> list[str]:
    """The datasets the labels are read from: those a parameter reads that have the visit
    column and the label column, in the order of the plan's parameters."""
    visits = plan.visits
    if visits is None or visits.label_from is None:
        return []
    names = dict.fromkeys(str(p.source.dataset) for p in plan.parameters.values())
    return [n for n in names if n in datasets
            and visits.column.name in datasets[n].columns
            and visits.label_from in datasets[n].columns]


def read_visit_labels(plan: m.Plan, datasets: dict
                      ) -> tuple[dict[str, str], LabelConflict | None]:
    """Visit (as the ARD writes it, ``m._num``) -> label, and the first conflict found."""
    import pandas as pd

    out: dict[str, str] = {}
    where: dict[str, str] = {}
    visits = plan.visits
    if visits is None or visits.label_from is None:
        return out, None
    for name in label_datasets(plan, datasets):
        ds = datasets[name]
        frame = ds.frame()
        number = pd.to_numeric(frame[visits.column.name], errors="coerce")
        text = frame[visits.label_from].astype("string").str.strip()
        pairs = pd.DataFrame({"visit": number.to_numpy(), "label": text.to_numpy()})
        pairs = pairs[pairs["visit"].notna() & pairs["label"].notna() & (pairs["label"] != "")]
        # Each (visit, label) pair once, at its first row: a few rows per visit to look at.
        for i, number_, label in pairs.drop_duplicates().itertuples(name=None):
            visit = m._num(float(number_))
            if visit not in out:
                out[visit] = str(label)
                where[visit] = f"dataset {name}, row {i + 1}"
            elif out[visit] != label:
                return out, LabelConflict(name, str(ds.path), int(i) + 1, visit, str(label),
                                          out[visit], where[visit])
    return out, None
