"""The ARD as the renderers read it: the rows of one analysis found by a dictionary lookup.

Every table section, figure and reproduction figure needs the rows of one analysis (with its
strata, ``X[severity=(0,6]]``). Filtering the whole ARD (thousands of rows, string columns)
with a boolean mask for each of them cost more than a second on the ProDERM plan; splitting
the ARD once by analysis makes each lookup a dictionary access on a frame of a few rows.
"""

from __future__ import annotations


class ArdView:
    """Read-only access to an ARD frame by analysis id (see the module docstring)."""

    def __init__(self, frame, data_labels: dict[str, str] | None = None,
                 visit_labels: dict[str, str] | None = None):
        # Plain object columns: pandas' Arrow-backed strings make every row selection a
        # pyarrow ``take`` per column, ten times the cost of one numpy take on a consolidated
        # object block, and renderers select rows thousands of times.
        strings = [c for c in frame.columns if frame[c].dtype == "str"]
        frame = frame.astype(dict.fromkeys(strings, object))
        self.frame = frame
        # The labels the data files give the plan's columns (the ARD's variable_labels).
        self.data_labels: dict[str, str] = data_labels or {}
        # The visits' labels the data give (`label from AVISIT`; the ARD's visit_labels).
        self.visit_labels: dict[str, str] = visit_labels or {}
        ids = frame["analysis_id"].astype(object).to_numpy()
        bases = [i.split("[", 1)[0] for i in ids]
        self._family: dict[str, object] = {}
        self._exact: dict[str, object] = {}
        for base, part in frame.groupby(bases, sort=False):
            self._family[base] = part
        for aid, part in frame.groupby(ids, sort=False):
            self._exact[aid] = part
        self._by_stat: dict[tuple[str, str], object] = {}
        self._records: dict[tuple[str, str], list[dict]] | None = None

    def family(self, analysis: str):
        """Rows of ``analysis`` and of its strata (``analysis[...]``), in ARD order."""
        part = self._family.get(analysis)
        return part if part is not None else self.frame.iloc[0:0]

    def rows(self, analysis_id: str):
        """Rows whose analysis id is exactly ``analysis_id`` (e.g. ``table 1``)."""
        part = self._exact.get(analysis_id)
        return part if part is not None else self.frame.iloc[0:0]

    def stat(self, analysis_id: str, stat_name: str):
        """Rows of one statistic of one analysis id; cached, for repeated lookups."""
        key = (analysis_id, stat_name)
        if key not in self._by_stat:
            rows = self.rows(analysis_id)
            self._by_stat[key] = rows[rows["stat_name"] == stat_name]
        return self._by_stat[key]

    def records(self, analysis_id: str, stat_name: str) -> list[dict]:
        """Rows of one statistic as plain dicts (missing values as None), for lookups of
        single cells where even a small pandas selection costs more than the whole search."""
        if self._records is None:
            self._records = {}
            columns = list(self.frame.columns)
            for values in self.frame.itertuples(index=False, name=None):
                rec = {c: (None if v is None or v != v else v) for c, v in zip(columns, values)}
                key = (str(rec["analysis_id"]), str(rec["stat_name"]))  # never null (schema)
                self._records.setdefault(key, []).append(rec)
        return self._records.get((analysis_id, stat_name), [])

    def group_columns(self) -> list[str]:
        out, i = [], 1
        while f"group{i}" in self.frame.columns:
            out.append(f"group{i}")
            i += 1
        return out
