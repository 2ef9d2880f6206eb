"""The output formats are a registry: adding one touches one registration point.

A test registers a toy format (a CSV summary of the document), runs a plan and finds its
file beside report.html, report.md, report.rtf, report.docx and ars.json, then unregisters
it; the built-in formats are the first five writers, with their escaping.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest
from conftest import MINI, ROOT, write_plan

from sap_engine.api import render_plan, run_plan
from sap_engine.errors import OutputError
from sap_engine.render import environment, writers

MINI_TEXT = (MINI / "mini.sap").read_text()


def _csv_summary(document: writers.Document, out) -> None:
    """The toy format: one line per table and figure, its number, title and row count."""
    text = io.StringIO()
    table = csv.writer(text, lineterminator="\n")
    table.writerow(["kind", "number", "title", "rows"])
    for t in document.model.tables:
        table.writerow(["table", t.number, t.title, sum(len(s.rows) for s in t.sections)])
    for f in document.model.figures:
        table.writerow(["figure", f.number, f.title, ""])
    out.write(text.getvalue().encode("utf-8"))


@pytest.fixture
def csv_writer():
    writer = writers.register(writers.Writer("csv_summary", ".csv", environment.NONE,
                                             _csv_summary))
    try:
        yield writer
    finally:
        writers.unregister("csv_summary")


def test_a_registered_format_is_written_by_run_and_by_render(tmp_path, csv_writer):
    text = MINI_TEXT.replace('document "Mini results"', 'figure "1" "Change by arm" = D1 '
                             '{\n  population FAS\n}\n\ndocument "Mini results"')
    plan = write_plan(tmp_path, text)
    result = run_plan(plan, tmp_path / "out", jobs=1)
    summary = tmp_path / "out" / "report.csv"
    assert summary in result.files
    top = [p.name for p in result.files if p.parent == tmp_path / "out"]
    assert top == ["ard.parquet", "report.html", "report.md", "report.rtf", "report.docx",
                   "ars.json", "report.csv"]
    rows = list(csv.reader(summary.read_text(encoding="utf-8").splitlines()))
    assert rows == [["kind", "number", "title", "rows"],
                    ["table", "1", "Change from baseline at week 16", "7"],
                    ["figure", "1", "Change by arm", ""]]
    rendered = render_plan(tmp_path / "out" / "ard.parquet", plan, tmp_path / "again", jobs=1)
    assert (tmp_path / "again" / "report.csv").read_bytes() == summary.read_bytes()
    assert tmp_path / "again" / "report.csv" in rendered.files


def test_an_unregistered_format_is_no_longer_written(tmp_path):
    writers.register(writers.Writer("csv_summary", ".csv", environment.NONE, _csv_summary))
    writers.unregister("csv_summary")
    result = run_plan(MINI / "mini.sap", tmp_path / "out", jobs=1)
    assert not (tmp_path / "out" / "report.csv").exists()
    assert [p.relative_to(tmp_path / "out").as_posix() for p in result.files] == [
        "ard.parquet", "report.html", "report.md", "report.rtf", "rtf/t-1.rtf", "report.docx",
        "ars.json"]


def test_html_markdown_rtf_and_docx_are_the_built_in_writers():
    from sap_engine.render.writers import rtf, word

    builtin = [(w.name, w.file_name, w.escaping) for w in writers.registered()]
    assert builtin == [("html", "report.html", environment.HTML),
                       ("markdown", "report.md", environment.MARKDOWN),
                       ("rtf", "report.rtf", rtf.ESCAPING), ("docx", "report.docx", word.ESCAPING),
                       ("ars", "ars.json", environment.NONE)]
    assert rtf.ESCAPING.finalize is not None and rtf.ESCAPING.finalize("{a}\\") == "\\{a\\}\\\\"
    assert environment.HTML.autoescape and not environment.MARKDOWN.autoescape
    assert environment.MARKDOWN.finalize is not None
    assert environment.MARKDOWN.finalize("<b> <0.0001") == "&lt;b> <0.0001"


@pytest.mark.parametrize("name, suffix, problem", [
    ("html", ".htm", "clashes with the registered writer html"),
    ("other", ".md", "clashes with the registered writer markdown"),
    ("figures", ".fig", "the folder figures/ is the engine's"),
    ("Bad Name", ".txt", "must be a lowercase word"),
    ("text", "txt", "must be like '.html'"),
    ("text", "./x", "must be like '.html'"),
])
def test_a_writer_that_would_overwrite_or_misname_a_file_is_refused(name, suffix, problem):
    with pytest.raises(ValueError, match=problem):
        writers.register(writers.Writer(name, suffix, environment.NONE, _csv_summary))
    assert [w.name for w in writers.registered()] == ["html", "markdown", "rtf", "docx", "ars"]


@pytest.mark.parametrize("stems, problem", [
    (["t-1", "t-1"], "two parts named csv_summary/t-1.csv"),
    (["../x"], "part name '../x'"),
    (["T 1"], "part name 'T 1'"),
])
def test_a_writer_whose_parts_would_clash_or_escape_is_a_bug(tmp_path, stems, problem):
    def parts(document):
        return [writers.Part(stem, lambda out: out.write(b"x")) for stem in stems]

    writers.register(writers.Writer("csv_summary", ".csv", environment.NONE, _csv_summary,
                                    parts=parts))
    try:
        with pytest.raises(ValueError, match=problem):
            run_plan(MINI / "mini.sap", tmp_path / "out", jobs=1)
    finally:
        writers.unregister("csv_summary")
    assert not (tmp_path / "out").exists()


def test_a_writer_with_its_own_stem_may_also_write_parts(tmp_path):
    """The registry's two extensions together: a file name of its own (``stem``, as the ARS
    writer's ars.json) and one file per display in the writer's folder (as the RTF's)."""
    def parts(document):
        return [writers.Part(f"t-{t.number}", lambda out, t=t: out.write(t.title.encode()))
                for t in document.model.tables]

    writers.register(writers.Writer("csv_summary", ".csv", environment.NONE, _csv_summary,
                                    parts=parts, stem="summary"))
    try:
        result = run_plan(MINI / "mini.sap", tmp_path / "out", jobs=1)
    finally:
        writers.unregister("csv_summary")
    names = [p.relative_to(tmp_path / "out").as_posix() for p in result.files]
    assert names[-2:] == ["summary.csv", "csv_summary/t-1.csv"]
    assert (tmp_path / "out" / "csv_summary" / "t-1.csv").read_text() == \
        "Change from baseline at week 16"
    assert (tmp_path / "out" / "summary.csv").read_text().startswith("kind,number,title,rows")


def test_a_writer_failing_leaves_no_outputs(tmp_path):
    def broken(document, out):
        out.write(b"half")
        raise OSError(28, "No space left on device")

    writers.register(writers.Writer("broken", ".txt", environment.NONE, broken))
    try:
        with pytest.raises(OutputError) as info:
            run_plan(MINI / "mini.sap", tmp_path / "out", jobs=1)
    finally:
        writers.unregister("broken")
    assert info.value.codes == ["SAP501"] and "No space left" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_check_imports_nothing_of_render(tmp_path):
    """A stage imports only the stages before it: check compiles a user template with the
    sandbox of sap_engine.template_sandbox, not through render/."""
    (tmp_path / "mine.html").write_text("{{ doc.title }}\n")
    plan = write_plan(tmp_path, MINI_TEXT.replace('template "results.html"',
                                                  'template "mine.html"'))
    code = ("import sys; from sap_engine.api import check_plan; check_plan(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.startswith('sap_engine.render')))")
    r = subprocess.run([sys.executable, "-c", code, str(plan)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_check_still_refuses_a_user_template_that_does_not_compile(tmp_path):
    from sap_engine.api import check_plan
    from sap_engine.errors import PlanCheckError

    (tmp_path / "mine.html").write_text("{% for x in doc.tables %}\n")
    plan = write_plan(tmp_path, MINI_TEXT.replace('template "results.html"',
                                                  'template "mine.html"'))
    with pytest.raises(PlanCheckError) as info:
        check_plan(plan)
    assert info.value.codes == ["SAP263"]
