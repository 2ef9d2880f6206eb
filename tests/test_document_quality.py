"""What a regulatory reviewer reading the documents expects (issue 11, point 8): numbering
in document order, one precision per variable, the same p-value wording everywhere, reader
labels instead of statistic names, figures that stand alone."""

from __future__ import annotations

from pathlib import Path

from conftest import MINI, write_plan

from sap_engine.check_order import number_key
from sap_engine.render.show_items import TEST_ITEMS, _p_text

SWAPPED_TABLES = '''
table "2.10" "Sex, later" {
  population FAS
  columns treatment
  rows S1 "Sex, n (%)"
}

table "2.9" "Sex, earlier" {
  population FAS
  columns treatment
  rows S1 "Sex, n (%)"
}
'''


def _mini_with(extra: str) -> str:
    text = (MINI / "mini.sap").read_text(encoding="utf-8")
    i = text.index('document "Mini results"')
    return text[:i] + extra + "\n" + text[i:]


def test_numbers_compare_as_a_reader_counts():
    assert number_key("14.2.10") > number_key("14.2.9")
    assert number_key("14.3.1") > number_key("14.2.7")
    assert number_key("3b") > number_key("3a") > number_key("3")
    assert sorted(["14-3.02", "14-3.01", "14-2.01"], key=number_key) == \
        ["14-2.01", "14-3.01", "14-3.02"]


def test_tables_out_of_document_order_are_warning_sap255(tmp_path, sap_run):
    plan = write_plan(tmp_path, _mini_with(SWAPPED_TABLES))
    done = sap_run("check", plan, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning[SAP255]: table 2.9 comes after table 2.10" in done.stderr
    # The run succeeds and the document records the warning.
    done = sap_run("run", plan, "--out", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "SAP255" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


def test_shipped_plans_number_their_displays_in_order(sap_run):
    root = Path(__file__).parents[1]
    done = sap_run("check", root / "plans" / "prodrem.sap")
    assert done.returncode == 0 and "SAP255" not in done.stderr, done.stderr


def test_p_values_read_the_same_in_every_test_line():
    assert _p_text(0.0261) == "p = 0.0261"
    assert _p_text(3e-9) == "p < 0.0001"
    assert _p_text(0.99996) == "p > 0.9999"
    bowker = TEST_ITEMS["bowker"][2]({"bowker_chisq": 14.3333, "df": 6, "p_value": 0.0261})
    fisher = TEST_ITEMS["fisher"][2]({"table_probability": 3.2e-15, "fisher_p": 1e-9})
    assert bowker.endswith("p = 0.0261") and fisher.endswith("p < 0.0001")


def test_by_visit_rows_keep_one_precision(tmp_path, sap_run):
    """A by-visit descriptive table: every visit's mean has the same number of decimals,
    although some visits' data happen to be whole numbers."""
    done = sap_run("run", MINI / "mini.sap", "--out", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    means = [line for line in md.splitlines() if "Mean (SD)" in line]
    assert means
    decimals = {cell.strip().split(" ")[0].split(".")[-1].__len__()
                for line in means for cell in line.split("|")[2:-1] if cell.strip()}
    assert len(decimals) == 1, means


def test_a_statistic_without_a_reader_label_is_not_printed_by_its_name():
    from sap_engine import model as m
    from sap_engine.render.table_cells import _item_label

    assert _item_label(m.ShowItem("rmse")) == "Root mean squared error"
    assert _item_label(m.ShowItem("n_obs")) == "Observations used"
    assert _item_label(m.ShowItem("some_new_stat")) == "Some new stat"


def test_standalone_png_carries_number_title_and_footnotes(tmp_path, sap_run):
    """The PNG beside the document is framed with its number, title and footnotes (read
    back: the framed file is taller than the bare drawing, and its top and bottom bands
    hold dark text pixels)."""
    import io

    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    from sap_engine.render.figure_frame import Heading, framed_png

    fig = Figure(figsize=(4, 3), dpi=120)
    fig.subplots().plot([0, 1], [0, 1])
    plain = io.BytesIO()
    fig.savefig(plain, format="png", dpi=120)
    out = tmp_path / "f.png"
    framed_png(plain.getvalue(), Heading("9", "A title", "Full analysis set (N = 10)",
                                         ("A footnote that explains the figure.",)), str(out))
    bare, framed = imread(io.BytesIO(plain.getvalue())), imread(str(out))
    assert framed.shape[1] == bare.shape[1] and framed.shape[0] > bare.shape[0] + 40
    top, bottom = framed[:40, :, :3].mean(axis=2), framed[-25:, :, :3].mean(axis=2)
    assert (top < 0.5).sum() > 50 and (bottom < 0.5).sum() > 20
    # The drawing itself is placed pixel for pixel.
    h = bare.shape[0]
    offsets = [k for k in range(framed.shape[0] - h + 1)
               if np.array_equal(framed[k:k + h, :, :3], bare[:, :, :3])]
    assert offsets


def _ard_frame(stats, variable: str):
    """Method Stats as ARD rows (group1.. columns), as the executor writes them."""
    import pandas as pd

    rows = []
    for s in stats:
        row = {"stat_name": s.stat_name, "stat": s.stat, "variable": variable,
               "variable_level": s.variable_level}
        for i, (g, lv) in enumerate(s.groups, start=1):
            row[f"group{i}"], row[f"group{i}_level"] = g, lv
        rows.append(row)
    frame = pd.DataFrame(rows)
    for i in (1, 2):
        for c in (f"group{i}", f"group{i}_level"):
            if c not in frame:
                frame[c] = None
    return frame


def test_km_figure_numbers_at_risk_and_censor_marks_match_the_data():
    """Numbers at risk under the axis equal a direct count of subjects with follow-up >= x
    (pandas on the raw data), and every censoring time is marked on its curve."""
    import numpy as np
    import pandas as pd

    from sap_engine.methods.registry import get
    from sap_engine.render.figure_km import _at_risk, _curves
    from sap_engine.render.figures import _groups, _series_key, draw

    rng = np.random.default_rng(3)
    data = pd.DataFrame({"t": rng.integers(1, 60, 80).astype(float),
                         "cnsr": rng.integers(0, 2, 80), "arm": np.repeat(["A", "B"], 40)})
    method = get("kaplan_meier")
    stats = method.run(data, {"time": "t", "event": "cnsr", "group": "arm"},
                       method.resolve_options({}))
    frame = _ard_frame(stats, "t")
    curves = _curves(frame, _groups(frame), _series_key)
    for x in (0, 10, 25.5, 40, 59, 70):
        for arm in ("A", "B"):
            want = int((data[data.arm == arm].t >= x).sum())
            assert _at_risk(curves[(arm,)], x) == want, (arm, x)
    fig = draw(frame, {"t": "Time (days)"}, "")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Time (days)"
    marks = [ln for ln in ax.get_lines() if ln.get_marker() == "+" and len(ln.get_xdata())]
    censored = sorted(set(data[data.cnsr == 1].t))
    got = sorted({float(x) for ln in marks for x in ln.get_xdata()})
    assert got == censored
    texts = {t.get_text() for t in ax.texts}
    assert "Number at risk" in texts and "40" in texts
