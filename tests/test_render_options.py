"""The document states how each analysis was computed: a "Method" line under each display
for every analysis it shows (the method's label, the options the plan set, given or through
a clause, and the defaults of :data:`options.CONVENTIONS`), and the appendix "Analysis
options" of every analysis with all its options and their sources. Both come from the ARD's
``steps`` metadata, so ``sap-run render`` rebuilds them; plan text in an option value goes
through each writer's escaping.

Set SAP_UPDATE_GOLDEN=1 to rewrite a snapshot after a deliberate change, then review it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from conftest import MINI, ROOT, write_plan

from sap_engine import ard
from sap_engine.api import render_plan, run_plan
from sap_engine.methods import registry
from sap_engine.render import options

UPDATE = os.environ.get("SAP_UPDATE_GOLDEN") == "1"
GOLDEN = ROOT / "tests" / "golden" / "render"
MINI_TEXT = (MINI / "mini.sap").read_text()

# An ANCOVA of the mini study in a table of its own; WEIGHTS is its LS-means clause.
ANCOVA = '''analysis A1 "ANCOVA of the change at week 16" for E1 {
  method ancova
  model chg_score ~ treatment + baseline(score)
  contrast Active - Control
WEIGHTS}

table "2" "ANCOVA at week 16" {
  population FAS
  columns treatment
  rows A1 "Change in disease score" show diff_ci, p_value
}

document "Mini results"'''


def _snapshot(got: str, name: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(got)
    assert got == path.read_text()


def _between(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i:text.index(end, i) + len(end)] + "\n"


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("options") / "out"
    run_plan(MINI / "mini.sap", out, jobs=1)
    return out


def _ancova_run(tmp_path, weights: str):
    plan = write_plan(tmp_path, MINI_TEXT.replace(
        'document "Mini results"', ANCOVA.replace("WEIGHTS", weights)))
    run_plan(plan, tmp_path / "out", jobs=1)
    return tmp_path / "out"


# ---- snapshots of the new sections (the mini study)


def test_html_method_lines_of_table_1(mini_run):
    html = (mini_run / "report.html").read_text()
    start = html.index('<table class="results" id="table-1">')
    got = _between(html[start:], '<ul class="footnotes">', "</ul>")
    _snapshot(got, "mini_table1_methods.html")
    assert '<li class="method">Method (S1): Descriptive statistics; levels = F, M; ' \
           'defaults: ci_level = 0.95.</li>' in got


def test_markdown_appendix_snapshot(mini_run):
    md = (mini_run / "report.md").read_text()
    got = _between(md, "## Appendix: analysis options", "reference = Control — "
                                                           "clause: treatment reference")
    _snapshot(got, "mini_options.md")
    # Every analysis of the ARD metadata, every option of each (nothing hidden).
    steps = ard.load(mini_run / "ard.parquet").steps
    assert [line[2:].split(":")[0] for line in got.splitlines()
            if line.startswith("- ")] == list(steps)
    assert sum(line.startswith("  - ") for line in got.splitlines()) == \
        sum(len(s["options"]) for s in steps.values())


def test_html_appendix_snapshot(mini_run):
    html = (mini_run / "report.html").read_text()
    got = _between(html, '<h2 id="analysis-options">', "</table>")
    _snapshot(got, "mini_options.html")
    assert '<li><a href="#analysis-options">Appendix: analysis options</a></li>' in html


def test_render_from_the_ard_states_the_same(mini_run, tmp_path):
    render_plan(mini_run / "ard.parquet", MINI / "mini.sap", tmp_path / "again")
    for name in ("report.html", "report.md"):
        assert (tmp_path / "again" / name).read_bytes() == (mini_run / name).read_bytes()


# ---- the options come from their sources


def test_lsmeans_weights_observed_is_stated_from_the_clause(tmp_path):
    out = _ancova_run(tmp_path, "  lsmeans weights observed\n")
    steps = ard.load(out / "ard.parquet").steps
    assert steps["A1"]["sources"]["weights"] == "clause: lsmeans weights"
    assert steps["A1"]["label"] == "ANCOVA"
    line = ("Method (A1): ANCOVA; contrasts = Active - Control; levels = Active, Control; "
            "reference = Control; weights = observed; defaults: adjust = none, "
            "ci_level = 0.95, df_method = residual, quantile = t.")
    md = (out / "report.md").read_text()
    assert f"\n{line}\n" in md
    assert f'<li class="method">{line}</li>' in (out / "report.html").read_text()
    assert "  - weights = observed — clause: lsmeans weights\n" in md


def test_a_default_weight_is_stated_among_the_defaults(tmp_path):
    md = (_ancova_run(tmp_path, "") / "report.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("Method (A1)"))
    assert line.endswith("defaults: adjust = none, ci_level = 0.95, df_method = residual, "
                         "quantile = t, weights = equal.")
    assert "weights = observed" not in md


def test_plan_text_in_an_option_value_is_escaped(tmp_path):
    plan = write_plan(tmp_path, MINI_TEXT.replace(
        '  method smd\n  variable baseline(score)\n',
        '  method smd\n  variable baseline(score)\n'
        '  options event = "<script>alert(1)</script>"\n').replace(
        '  rows S1 "Sex, n (%)"\n', '  rows S1 "Sex, n (%)"\n  rows SMD1 "SMD" show smd\n'))
    run_plan(plan, tmp_path / "out", jobs=1)
    html = (tmp_path / "out" / "report.html").read_text()
    md = (tmp_path / "out" / "report.md").read_text()
    assert "<script>" not in html and "<script>" not in md
    assert "Method (SMD1): Standardized mean difference; event = " \
           "&lt;script&gt;alert(1)&lt;/script&gt;; " in html
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td>given</td>" in html
    assert "Method (SMD1): Standardized mean difference; event = " \
           "&lt;script>alert(1)&lt;/script>; " in md
    assert "  - event = &lt;script>alert(1)&lt;/script> — given\n" in md


# ---- the metadata and the line's rule


def test_the_metadata_records_label_and_population_with_its_condition(tmp_path):
    plan = write_plan(tmp_path, MINI_TEXT.replace(
        'analysis S1 "Sex" {\n  population FAS\n',
        'analysis S1 "Sex" {\n  population FAS where adsl.AGE > 18\n'))
    run_plan(plan, tmp_path / "out", jobs=1)
    steps = ard.load(tmp_path / "out" / "ard.parquet").steps
    assert steps["S1"]["population"] == "FAS where adsl.AGE > 18"
    assert steps["D1"]["population"] == "FAS"  # through the estimand
    assert steps["SMD1"]["label"] == "Standardized mean difference"
    md = (tmp_path / "out" / "report.md").read_text()
    assert "- S1: Descriptive statistics; population FAS where adsl.AGE > 18\n" in md


def test_every_shipped_method_has_a_reader_label():
    # The label is part of the registration (one place per method); a method registered
    # without one is named by its registered name.
    methods = registry.load_all()
    assert all(m.label and m.label != m.name for m in methods.values()), \
        [m.name for m in methods.values() if m.label in ("", m.name)]


def test_a_method_without_a_label_is_named_by_its_registered_name():
    class _Use:
        name, where = "FAS", None

    class _Step:
        id, method, population, options = "X", "new_method", _Use(), ()

    assert ard.resolved_options([_Step()])["X"]["label"] == "new_method"


STEPS = {
    "A": {"method": "ancova", "label": "ANCOVA", "population": "FAS",
          "options": {"ci_level": 0.9, "contrasts": ["B - A"], "interactions": [],
                      "reference": "A", "zeros": False, "quantiles": "sas5"},
          "sources": {"ci_level": "given", "contrasts": "clause: contrast",
                      "interactions": "default", "reference": "clause: treatment reference",
                      "zeros": "default", "quantiles": "default"}},
    "B": {"method": "descriptive", "label": "Descriptive statistics", "population": "FAS",
          "options": {"ci_level": 0.95}, "sources": {"ci_level": "default"}},
    "C": {"method": "descriptive", "label": "Descriptive statistics", "population": "SAF",
          "options": {"ci_level": 0.95}, "sources": {"ci_level": "default"}},
}


def test_the_line_states_the_plans_options_and_the_conventions_of_the_defaults():
    # Given and clause options all; of the defaults only CONVENTIONS (not quantiles, zeros
    # or an empty interactions list).
    assert options.method_lines(STEPS, ["A"]) == [
        "Method (A): ANCOVA; ci_level = 0.9; contrasts = B - A; reference = A."]


def test_analyses_whose_lines_read_the_same_share_one():
    assert options.method_lines(STEPS, ["B", "A", "C", "B", "missing"]) == [
        "Method (B, C): Descriptive statistics; defaults: ci_level = 0.95.",
        "Method (A): ANCOVA; ci_level = 0.9; contrasts = B - A; reference = A."]


def test_values_are_plain_text():
    assert [options.value_text(v) for v in (0.95, 16.0, True, False, ["Y", "N"], [], None,
                                            "inf", [[0, 1], [1, 0]])] == [
        "0.95", "16", "true", "false", "Y, N", "(none)", "(none)", "inf", "(0, 1), (1, 0)"]


def test_an_entry_of_an_older_engine_has_no_label_nor_population():
    old = {"A": {"method": "ancova", "options": {"ci_level": 0.95},
                 "sources": {"ci_level": "default"}}, "B": "damaged"}
    first, second = options.analysis_options(json.loads(json.dumps(old)))
    assert (first.method, first.population) == ("ancova", "")
    assert first.options == (options.OptionText("ci_level", "0.95", "default"),)
    assert (second.method, second.options) == ("", ())


def test_a_figure_states_the_method_of_its_analysis(tmp_path):
    plan = write_plan(tmp_path, MINI_TEXT.replace(
        'document "Mini results"',
        'figure "1" "Change by arm" = D1 {\n  population FAS\n}\n\ndocument "Mini results"'))
    run_plan(plan, tmp_path / "out", jobs=1)
    line = "Method (D1): Descriptive statistics; defaults: ci_level = 0.95."
    html = (tmp_path / "out" / "report.html").read_text()
    figure = html[html.index('<figure id="figure-1">'):html.index("</figure>")]
    assert f'<p class="footnotes method">{line}</p>' in figure
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"\n{line}\n" in md[md.index("## Figure 1 "):]


def test_the_conventions_are_documented():
    doc = (ROOT / "docs" / "ard.md").read_text()
    stated = doc[doc.index("The documents state the `steps`"):doc.index("## Rendering")]
    assert all(f"`{name}`" in stated for name in options.CONVENTIONS)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_the_browser_shows_the_method_lines_and_the_appendix(mini_run, tmp_path):
    assert CHROMIUM is not None
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                        (mini_run / "report.html").as_uri()],
                       capture_output=True, text=True, timeout=120)
    dom = r.stdout
    assert "Method (S1): Descriptive statistics; levels = F, M" in dom, r.stderr
    assert 'id="analysis-options"' in dom
    assert '<td rowspan="3">SMD1</td>' in dom
