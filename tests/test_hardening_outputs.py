"""Hardening of the outputs (issue 8, points 14, 15, 16, 18).

- 14: ``--out`` never destroys what the engine did not write; outputs get the user's umask.
- 15: a run killed at any point leaves nothing that the next run does not clean up or recover.
- 16: plan text cannot inject HTML or template code; user templates run in a sandbox; template
  problems are located SAP26x errors at check and SAP5xx errors at run.
- 18: with SOURCE_DATE_EPOCH, byte-identical outputs from two runs (and any --jobs).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import MINI, ROOT, write_plan

from sap_engine import outputs
from sap_engine.api import check_plan, run_plan
from sap_engine.errors import OutputError, PlanCheckError

MINI_TEXT = (MINI / "mini.sap").read_text()
EPOCH = "1700000000"


@pytest.fixture
def sap_run():
    """``sap-run`` in a subprocess, from any folder, with this checkout's engine (the
    shared fixture runs from the checkout only)."""

    def run(*args, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT), **kwargs.pop("env", {})}
        return subprocess.run([sys.executable, "-m", "sap_engine.cli", *map(str, args)],
                              cwd=cwd or ROOT, capture_output=True, text=True, timeout=300,
                              env=env, **kwargs)

    return run


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes (symbolic links as their target)."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            out[path.relative_to(folder).as_posix()] = path.read_bytes()
    return out


def _assert_refused(r, code: str, *fragments: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert f"error[{code}]" in r.stderr, r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, r.stderr


def _leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


# ---- 14: --out never destroys what the engine did not write


def test_out_naming_an_existing_file_is_refused_and_the_file_kept(sap_run, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("my notes\n")
    r = sap_run("run", MINI / "mini.sap", "--out", target)
    _assert_refused(r, "SAP502", "is an existing file")
    assert target.read_text() == "my notes\n"
    assert _leftovers(tmp_path, "notes.txt") == []


def test_out_naming_a_folder_the_engine_did_not_write_is_refused(sap_run, tmp_path):
    target = tmp_path / "results"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    r = sap_run("run", MINI / "mini.sap", "--out", target)
    _assert_refused(r, "SAP503", "was not written by sap-run")
    assert _snapshot(target) == {"notes.txt": b"keep me"}
    assert _leftovers(tmp_path, "results") == []


def test_out_set_to_the_plans_own_folder_keeps_plan_program_and_data(sap_run, tmp_path):
    plan = write_plan(tmp_path, MINI_TEXT)
    (tmp_path / "analysis.sas").write_text("proc means; run;\n")
    before = _snapshot(tmp_path)
    r = sap_run("run", plan, "--out", tmp_path)
    _assert_refused(r, "SAP503")
    assert _snapshot(tmp_path) == before
    r = sap_run("run", plan, "--out", ".", cwd=tmp_path)  # used to be an internal error
    _assert_refused(r, "SAP503")
    assert _snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.parent.iterdir()
                  if p.name.startswith(f".{tmp_path.name}.")) == []


def test_out_dot_in_an_empty_folder_writes_there(sap_run, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    r = sap_run("run", MINI / "mini.sap", "--out", ".", cwd=here)
    assert r.returncode == 0, r.stderr
    assert (here / "report.html").is_file() and (here / outputs.MARKER).is_file()
    # A second run inside a folder that holds results would delete the shell's folder.
    r = sap_run("run", MINI / "mini.sap", "--out", ".", cwd=here)
    _assert_refused(r, "SAP505", "current folder")
    assert (here / "report.html").is_file()


def test_an_empty_existing_folder_is_used_and_kept(sap_run, tmp_path):
    target = tmp_path / "empty"
    target.mkdir(mode=0o751)
    os.chmod(target, 0o751)
    inode = target.stat().st_ino
    r = sap_run("run", MINI / "mini.sap", "--out", target)
    assert r.returncode == 0, r.stderr
    assert target.stat().st_ino == inode and (target.stat().st_mode & 0o777) == 0o751
    assert {"ard.parquet", "report.html", "report.md", outputs.MARKER} <= set(
        os.listdir(target))


def test_a_folder_the_engine_wrote_is_replaced_unless_files_were_added(sap_run, tmp_path):
    target = tmp_path / "o"
    assert sap_run("run", MINI / "mini.sap", "--out", target).returncode == 0
    marker = json.loads((target / outputs.MARKER).read_text())
    assert marker["signature"] == outputs.SIGNATURE and "pid" not in marker
    assert sorted(marker["files"]) == ["ard.parquet", "ars.json", "report.docx", "report.html",
                                       "report.md", "report.rtf", "rtf/t-1.rtf"]
    (target / "report.md").write_text("edited")  # an engine file: replaced by the next run
    assert sap_run("run", MINI / "mini.sap", "--out", target).returncode == 0
    assert (target / "report.md").read_text() != "edited"
    (target / "my_notes.txt").write_text("mine")
    r = sap_run("run", MINI / "mini.sap", "--out", target)
    _assert_refused(r, "SAP504", "my_notes.txt")
    assert (target / "my_notes.txt").read_text() == "mine"
    assert _leftovers(tmp_path, "o") == []


def test_a_forged_or_foreign_marker_does_not_make_a_folder_replaceable(sap_run, tmp_path):
    target = tmp_path / "o"
    target.mkdir()
    (target / outputs.MARKER).write_text("not ours\n")
    (target / "data.csv").write_text("a,b\n")
    r = sap_run("run", MINI / "mini.sap", "--out", target)
    _assert_refused(r, "SAP503")
    assert (target / "data.csv").read_text() == "a,b\n"


def test_out_naming_a_symbolic_link_is_refused(sap_run, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    r = sap_run("run", MINI / "mini.sap", "--out", link)
    _assert_refused(r, "SAP502", "symbolic link")
    assert link.is_symlink() and os.listdir(real) == []


def test_the_refusal_comes_before_the_analyses_run(tmp_path, monkeypatch):
    target = tmp_path / "notes.txt"
    target.write_text("x")
    import sap_engine.api as api

    def never(*args, **kwargs):
        raise AssertionError("analyses ran although the output folder is refused")

    monkeypatch.setattr(api, "execute_plan", never)
    with pytest.raises(OutputError) as exc:
        run_plan(MINI / "mini.sap", target)
    assert exc.value.codes == ["SAP502"]


@pytest.mark.parametrize("umask, folder_mode, file_mode", [(0o022, 0o755, 0o644),
                                                           (0o027, 0o750, 0o640)])
def test_outputs_get_the_users_umask(sap_run, tmp_path, umask, folder_mode, file_mode):
    plan = write_plan(tmp_path, MINI_TEXT + '\nfigure "9" "Score" = D1_obs\n')
    out = tmp_path / "deep" / "o"
    r = sap_run("run", plan, "--out", out, "--jobs", "1", umask=umask)
    assert r.returncode == 0, r.stderr
    for folder in (out, out / "figures", out.parent):
        assert folder.stat().st_mode & 0o777 == folder_mode, folder
    for name in ("ard.parquet", "report.html", "report.md", outputs.MARKER,
                 "figures/figure-9.png"):
        assert (out / name).stat().st_mode & 0o777 == file_mode, name


# ---- 15: killed runs leave nothing that the next run does not clean up or recover

_KILLED_AFTER_RENDERING = """
import os, signal, sys
import sap_engine.render.document as document
from sap_engine.api import run_plan
real = document.render_documents
def render_then_die(*args, **kwargs):
    real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9 with the staging folder complete
document.render_documents = render_then_die
run_plan(sys.argv[1], sys.argv[2], jobs=1)
"""

_KILLED_BETWEEN_RENAMES = """
import os, sys
from sap_engine import outputs
from sap_engine.api import run_plan
outputs.exchange = lambda a, b: False  # a system without renameat2: two renames
real = os.replace
def replace(src, dst):
    if os.path.basename(str(src)).startswith(".o.") and str(dst) == sys.argv[2]:
        os._exit(9)  # killed after the old folder moved away, before the new one moved in
    real(src, dst)
os.replace = replace
run_plan(sys.argv[1], sys.argv[2], jobs=1)
"""


def _python(script: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_a_run_killed_with_sigkill_leaves_staging_that_the_next_run_removes(sap_run,
                                                                              tmp_path):
    out = tmp_path / "o"
    r = _python(_KILLED_AFTER_RENDERING, MINI / "mini.sap", out)
    assert r.returncode == -9, r.stderr
    stale = _leftovers(tmp_path, "o")
    assert len(stale) == 1 and not out.exists()
    marker = outputs.read_marker(tmp_path / stale[0])
    assert marker is not None and isinstance(marker["pid"], int)
    # A live run's staging folder and a folder without the marker are not touched.
    live = tmp_path / ".o.0123abcd"
    live.mkdir()
    (live / outputs.MARKER).write_text(json.dumps({"signature": outputs.SIGNATURE,
                                                   "files": [], "pid": os.getpid(),
                                                   "host": __import__("socket").gethostname()}))
    unmarked = tmp_path / ".o.89abcdef"
    unmarked.mkdir()
    (unmarked / "keep").write_text("x")
    r = sap_run("run", MINI / "mini.sap", "--out", out)
    assert r.returncode == 0, r.stderr
    assert _leftovers(tmp_path, "o") == [".o.0123abcd", ".o.89abcdef"]
    assert (unmarked / "keep").read_text() == "x"
    assert (out / "report.html").is_file()


def test_a_run_killed_between_the_two_renames_is_recovered_by_the_next_run(sap_run,
                                                                             tmp_path):
    out = tmp_path / "o"
    assert sap_run("run", MINI / "mini.sap", "--out", out).returncode == 0
    before = _snapshot(out)
    r = _python(_KILLED_BETWEEN_RENAMES, MINI / "mini.sap", out)
    assert r.returncode == 9, r.stderr
    assert not out.exists() and (tmp_path / ".o.old").is_dir()
    # The next run fails in its analyses; the previous results are back all the same.
    bad = write_plan(tmp_path, MINI_TEXT.replace("population FAS\n  variable chg_score",
                                                 "population FAS where adsl.AGE > 100\n"
                                                 "  variable chg_score"), "bad.sap")
    assert sap_run("run", bad, "--out", out).returncode == 2
    assert _snapshot(out) == before
    assert _leftovers(tmp_path, "o") == []


@pytest.mark.parametrize("atomic_exchange", [True, False])
def test_a_failing_swap_keeps_the_previous_results(tmp_path, monkeypatch, atomic_exchange):
    out = tmp_path / "o"
    run_plan(MINI / "mini.sap", out, jobs=1)
    before = _snapshot(out)
    real_replace = os.replace

    def failing_replace(src, dst):
        if re.fullmatch(r"\.o\.[0-9a-f]{8}", Path(src).name) and Path(dst) == out:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    def failing_exchange(a, b):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs.os, "replace", failing_replace)
    monkeypatch.setattr(outputs, "exchange", failing_exchange if atomic_exchange
                        else (lambda a, b: False))
    with pytest.raises(OutputError) as exc:
        run_plan(MINI / "mini.sap", out, jobs=1)
    assert exc.value.codes == ["SAP501"] and "No space left" in str(exc.value)
    assert _snapshot(out) == before
    assert _leftovers(tmp_path, "o") == []


def test_the_swap_is_atomic_where_the_system_allows(tmp_path, monkeypatch):
    out = tmp_path / "o"
    run_plan(MINI / "mini.sap", out, jobs=1)
    calls = []
    real = outputs.exchange
    monkeypatch.setattr(outputs, "exchange", lambda a, b: calls.append((a, b)) or real(a, b))
    run_plan(MINI / "mini.sap", out, jobs=1)
    assert calls and calls[0][1] == out
    if sys.platform.startswith("linux"):
        assert not (tmp_path / ".o.old").exists()


# ---- 18: byte-reproducible outputs with SOURCE_DATE_EPOCH

def _run_twice(plan: Path, tmp_path: Path, jobs: tuple[int, int]) -> tuple[dict, dict]:
    out = tmp_path / "o"
    command = ["sap-run", "run", str(plan), "--out", str(out)]
    run_plan(plan, out, command=command, jobs=jobs[0])
    first = _snapshot(out)
    run_plan(plan, out, command=command, jobs=jobs[1])
    return first, _snapshot(out)


def test_mini_outputs_are_byte_identical_with_source_date_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    first, second = _run_twice(MINI / "mini.sap", tmp_path, (1, 2))
    assert set(first) == {"ard.parquet", "ars.json", "report.html", "report.md", "report.rtf",
                          "rtf/t-1.rtf", "report.docx", outputs.MARKER}
    assert [n for n in first if first[n] != second[n]] == []
    meta = __import__("sap_engine.ard", fromlist=["read"]).read(tmp_path / "o" /
                                                                 "ard.parquet").attrs
    assert meta["sap_engine"]["created_utc"] == "2023-11-14T22:13:20Z"
    assert "2023-11-14T22:13:20Z" in first["report.html"].decode()


def test_mini_with_a_figure_is_byte_identical_across_runs_and_jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    plan = write_plan(tmp_path, MINI_TEXT + '\nfigure "9" "Score" = D1_obs\n'
                                            'figure "10" "Score again" = D1\n')
    first, second = _run_twice(plan, tmp_path, (2, 1))
    assert "figures/figure-9.png" in first
    assert [n for n in first if first[n] != second[n]] == []
    html = first["report.html"].decode()
    assert "<dc:date>" not in html
    # The hashed ids (markers, clip paths) of one figure are not reused by the other.
    hashed = [re.findall(r' id="([a-z][0-9a-f]{10})"', svg) for svg in html.split("<svg")[1:]]
    assert len(hashed) == 2 and hashed[0] and not set(hashed[0]) & set(hashed[1])


def test_prodrem_outputs_are_byte_identical_with_jobs_1_and_2(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    first, second = _run_twice(ROOT / "plans" / "prodrem.sap", tmp_path, (1, 2))
    assert any(n.startswith("figures/") for n in first)
    assert [n for n in first if first[n] != second[n]] == []


def test_the_recorded_command_line_leaves_out_jobs():
    from sap_engine.ard import recorded_command

    assert recorded_command(["sap-run", "run", "p.sap", "--jobs", "2", "--out", "o"]) == \
        "sap-run run p.sap --out o"
    assert recorded_command(["sap-run", "run", "-j4", "p.sap", "--jobs=3", "-j", "1"]) == \
        "sap-run run p.sap"


def test_a_malformed_source_date_epoch_is_an_error(sap_run, tmp_path):
    r = sap_run("run", MINI / "mini.sap", "--out", tmp_path / "o",
                env={"SOURCE_DATE_EPOCH": "yesterday"})
    _assert_refused(r, "SAP506", "SOURCE_DATE_EPOCH")
    assert not (tmp_path / "o").exists()


def test_without_source_date_epoch_the_time_is_the_clock(tmp_path, monkeypatch):
    from datetime import datetime, timezone

    from sap_engine import ard

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    run_plan(MINI / "mini.sap", tmp_path / "o", jobs=1)
    created = ard.read(tmp_path / "o" / "ard.parquet").attrs["sap_engine"]["created_utc"]
    when = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 3600


# ---- 16: plan text and user templates cannot inject HTML or run code

PAYLOAD = ('<script>alert(1)</script> {{ 7*7 }} {% if true %}X{% endif %} '
           '" onmouseover="alert(2)')
QUOTED = PAYLOAD.replace('"', '\\"')

_USER_TEMPLATE = """<!DOCTYPE html><html><head><title>{{ doc.title }}</title></head><body>
<h1 title="{{ doc.title }}">{{ doc.title }}</h1><p>{{ doc.study.title }}</p>
{% for t in doc.tables %}{% include "table.html.j2" %}{% endfor %}
{% for f in doc.figures %}<figure id="{{ f.anchor }}"><figcaption>{{ f.title }}</figcaption>
{{ f.svg }}{% for n in f.footnotes %}<p>{{ n }}</p>{% endfor %}</figure>{% endfor %}
{% for a in doc.analyses %}<p data-label="{{ a.label }}">{{ a.label }}</p>{% endfor %}
</body></html>
"""


def _payload_plan(tmp_path: Path, template: str) -> Path:
    """The mini plan with the payload in every kind of plan text a document shows."""
    text = (MINI_TEXT
            .replace('"A hand-computable study"', f'"{QUOTED}"')
            .replace('arm Active "Active drug"', f'arm Active "{QUOTED} drug"')
            .replace('"F" = "Female"', f'"F" = "{QUOTED} F"')
            .replace('"Full analysis set"', f'"{QUOTED} set"')
            .replace('"Change at week 16"', f'"{QUOTED} change"')
            .replace('"Change from baseline at week 16"', f'"{QUOTED} table"')
            .replace('"Disease score" show', f'"{QUOTED} rows" show')
            .replace('footnote "Switch rule', f'footnote "{QUOTED} Switch rule')
            .replace('document "Mini results"', f'document "{QUOTED} document"')
            .replace('template "results.html"', f'template "{template}"'))
    text += f'\nfigure "9" "{QUOTED} figure" = D1_obs {{ footnote "{QUOTED} fig note" }}\n'
    return write_plan(tmp_path, text)


@pytest.mark.parametrize("template", ["results.html", "results.html.j2", "mine.html"])
def test_plan_text_cannot_inject_html_or_template_code(tmp_path, template):
    (tmp_path / "mine.html").write_text(_USER_TEMPLATE)
    out = tmp_path / "o"
    run_plan(_payload_plan(tmp_path, template), out, jobs=1)
    html = (out / "report.html").read_text()
    assert "<script" not in html.lower()
    # matplotlib writes the figure's texts into SVG comments, escaped; outside them no
    # attribute may be broken open.
    assert all("--" not in c for c in re.findall(r"<!--(.*?)-->", html, re.S))
    html = re.sub(r"<!--.*?-->", "", html, flags=re.S)
    assert '" onmouseover="' not in html and "&#34; onmouseover=&#34;" in html
    assert "{{ 7*7 }}" in html and "{% if true %}X{% endif %}" in html  # printed, not run
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6
    assert "<svg" in html  # the figure is still embedded as markup
    md = (out / "report.md").read_text()
    assert "<script" not in md.lower() and "&lt;script>alert(1)&lt;/script>" in md
    assert "{{ 7*7 }}" in md


def test_the_markdown_template_cannot_be_the_html_template(tmp_path):
    plan = _payload_plan(tmp_path, "results.md")
    with pytest.raises(PlanCheckError) as exc:
        check_plan(plan)
    assert exc.value.codes == ["SAP261"]
    d = exc.value.diagnostics[0]
    assert d.location.line == MINI_TEXT[:MINI_TEXT.index('template "')].count("\n") + 1
    assert d.source_line.strip() == 'template "results.md"'


def _user_plan(tmp_path: Path, template_text: str | bytes) -> Path:
    path = tmp_path / "mine.html"
    if isinstance(template_text, bytes):
        path.write_bytes(template_text)
    else:
        path.write_text(template_text)
    return write_plan(tmp_path, MINI_TEXT.replace('template "results.html"',
                                                  'template "mine.html"'))


@pytest.mark.parametrize("line, code", [
    ("{{ ''.__class__.__mro__ }}", "SAP264"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "SAP264"),
    ("{{ doc.__init__.__globals__ }}", "SAP264"),
    ("{{ cycler.__init__.__globals__.os.popen('touch PWNED').read() }}", "SAP264"),
    ("{{ doc['__class__'] }}", "SAP264"),
    ("{% autoescape false %}{{ doc.title }}{% endautoescape %}", "SAP264"),
    ("{{ doc.title | safe }}", "SAP264"),
    ("{% for t in doc.tables %}", "SAP263"),
    ("{{ doc.title | no_such_filter }}", "SAP263"),
])
def test_an_unsafe_or_broken_user_template_is_a_located_error_at_check(tmp_path, sap_run,
                                                                        line, code):
    plan = _user_plan(tmp_path, f"<h1>{{{{ doc.title }}}}</h1>\n{line}\n")
    r = sap_run("check", plan, cwd=tmp_path)
    _assert_refused(r, code, "plan.sap:", "mine.html:2: ", line)
    r = sap_run("run", plan, "--out", tmp_path / "o", cwd=tmp_path)
    _assert_refused(r, code)
    assert not (tmp_path / "o").exists() and not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("line, fragment", [
    ("{{ doc|attr('__class__') }}", "unsafe"),
    ("{{ doc.no_such_field }}", "no_such_field"),
    ("{{ 1 / 0 }}", "division by zero"),
    ("{{ 'x' * 100000000 }}", "1,000,000"),
    ("{{ 2 ** 100000000 }}", "exponent"),
    ("{% include 'missing.html' %}", "missing.html"),
    ("{{ doc.tables.append(1) }}", "unsafe"),
    ("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "recursion"),
])
def test_a_user_template_failing_at_run_is_a_located_sap507(tmp_path, sap_run, line,
                                                             fragment):
    plan = _user_plan(tmp_path, f"<h1>{{{{ doc.title }}}}</h1>\n{line}\n")
    assert sap_run("check", plan).returncode == 0
    r = sap_run("run", plan, "--out", tmp_path / "o", cwd=tmp_path)
    _assert_refused(r, "SAP507", "plan.sap:", "mine.html:2: ", fragment)
    assert not (tmp_path / "o").exists()


def test_a_template_that_is_not_utf8_is_a_located_error(tmp_path, sap_run):
    plan = _user_plan(tmp_path, b"<h1>\xff\xfe</h1>\n")
    _assert_refused(sap_run("check", plan, cwd=tmp_path), "SAP263", "plan.sap:", "mine.html:1")


def test_a_template_changed_after_check_is_an_error_at_run_not_a_crash(tmp_path):
    plan = _user_plan(tmp_path, "<h1>{{ doc.title }}</h1>\n")
    exc = _run_changed_after_check(plan, tmp_path / "mine.html", "{% if %}\n")
    assert exc.value.codes == ["SAP263"] and not (tmp_path / "o").exists()


def test_a_dollar_in_plan_text_is_text_in_figures_not_mathtext(tmp_path):
    # Malformed TeX in a label used to stop the figure from drawing: exit 3.
    text = MINI_TEXT.replace('arm Active "Active drug"', 'arm Active "Active $\\\\foo{$ drug"')
    plan = write_plan(tmp_path, text + '\nfigure "9" "Cost $\\\\bar$" = D1_obs\n')
    run_plan(plan, tmp_path / "o", jobs=1)
    assert (tmp_path / "o" / "figures" / "figure-9.png").is_file()
    assert "Active $\\foo{$ drug" in (tmp_path / "o" / "report.md").read_text()


def test_staging_left_by_a_run_killed_while_creating_it_is_removed(tmp_path):
    """Killed between creating the staging folder and writing its marker (or half-way
    through writing it): empty, or holding only the marker's temporary file."""
    empty = tmp_path / ".o.00000000"
    empty.mkdir()
    half = tmp_path / ".o.11111111"
    half.mkdir()
    (half / f"{outputs.MARKER}.tmp").write_text(json.dumps(
        {"signature": outputs.SIGNATURE, "files": [], "pid": 2 ** 22 + 12345,
         "host": __import__("socket").gethostname()}))
    other = tmp_path / ".o.22222222"  # not ours: no marker
    other.mkdir()
    (other / "x").write_text("x")
    target = outputs.prepare(tmp_path / "o")
    assert target.mode == "new"
    assert _leftovers(tmp_path, "o") == [".o.22222222"]


@pytest.mark.parametrize("mapping, fragment", [
    ("{not json", "Expecting property name"),
    ('{"entries": []}', "no entry 'published'"),
    ('{"published": "published.json", "entries": [{"figure": "a.b", "tolerance": 0,'
     ' "lookup": {"analysis": "D1", "stat": "n"}}]}', "no entry 'b'"),
    ('{"published": "published.json", "entries": [{"figure": "a.c", "tolerance": 0,'
     ' "lookup": {"stat": "n"}}]}', "no entry 'analysis'"),
    ('{"published": "published.json", "entries": [{"figure": "a.c", "tolerance": "x.y",'
     ' "lookup": {"analysis": "D1", "stat": "mean", "groups": {"TRT01P": "Active"},'
     ' "variable": "chg_score"}}]}', "no entry 'x'"),
    ('{"published": "missing.json", "entries": []}', "No such file"),
    ('{"published": "published.json", "entries": 3}', "not iterable"),
])
def test_a_malformed_reproduction_map_is_a_located_error_at_run(tmp_path, sap_run, mapping,
                                                                 fragment):
    (tmp_path / "map.json").write_text(mapping)
    (tmp_path / "published.json").write_text('{"a": {"c": 1.5}}')
    plan = write_plan(tmp_path, MINI_TEXT.replace('  include all\n',
                                                  '  include all\n  reproduce "map.json"\n'))
    # The checker finds every one of these before anything runs (SAP222, SAP236, SAP237).
    r = sap_run("run", plan, "--out", tmp_path / "o")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert any(f"error[{c}]" in r.stderr for c in ("SAP222", "SAP236", "SAP237")), r.stderr
    assert 'reproduce "map.json"' in r.stderr
    assert not (tmp_path / "o").exists()
    # A map broken after the check (a file changed while the run computed) is SAP508 at run.
    (tmp_path / "map.json").write_text('{"published": "published.json", "entries": []}')
    exc = _run_changed_after_check(plan, tmp_path / "map.json", mapping)
    assert exc.value.codes == ["SAP508"] and fragment in exc.value.render()
    assert 'reproduce "map.json"' in exc.value.render()
    assert not (tmp_path / "o").exists()


def test_a_failed_run_creates_no_output_folders(sap_run, tmp_path):
    bad = write_plan(tmp_path, MINI_TEXT.replace("population FAS\n  variable chg_score",
                                                 "population FAS where adsl.AGE > 100\n"
                                                 "  variable chg_score"))
    r = sap_run("run", bad, "--out", tmp_path / "new" / "o")
    assert r.returncode == 2 and not (tmp_path / "new").exists()


def _run_changed_after_check(plan, changed, text: str):
    """Run ``plan`` with ``changed`` rewritten to ``text`` between its check and its run (a
    file edited while the run computes); the OutputError the run must raise."""
    import sap_engine.api as api

    real = api.check_plan

    def check_then_change(path, *args, **kwargs):
        checked = real(path, *args, **kwargs)
        changed.write_text(text)
        return checked

    api.check_plan = check_then_change
    try:
        with pytest.raises(OutputError) as exc:
            run_plan(plan, changed.parent / "o", jobs=1)
    finally:
        api.check_plan = real
    return exc
