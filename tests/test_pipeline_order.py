"""The pipeline runs one way: a module of sap_engine imports only from its own stage or an
earlier one (docs/architecture.md states the stages and what each hands the next).

Every ``import`` is counted, also one inside a function (a lazy import is still a
dependency) and one under ``TYPE_CHECKING``. Within a stage, modules may import each other.
Beyond the order, the renderers read only the ARD and the plan: they import nothing of
check, compile, data, execute or the methods.
"""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "sap_engine"

# The stages in pipeline order; a module name (without "sap_engine.") matches a pattern.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Shared by all: the error module, the plan model, packaged resources, the fork pool.
    ("foundation", ("", "location", "errors", "model", "model_expr", "model_declarations",
                    "resources", "workers", "functions", "figure_path", "template_sandbox")),
    ("parse", ("depth", "syntax_errors", "parse_expressions", "parse_statements", "parse",
               "fmt", "ars_map")),
    # The statistical library: a method knows frames and options, never the plan.
    ("methods", ("methods", "methods.*")),
    # The readers the checker opens the data with.
    ("sources", ("data", "data.sources", "data.sas", "data.datasetjson",
                 "data.datasetjson_values")),
    ("check", ("check", "check_*", "bind", "bind_options", "bind_checks")),
    # Derivations evaluated on the data, and the data preflight of check.
    ("data", ("data.expressions", "data.scope", "data.parameters", "data.derive",
              "data.integrity", "data.preflight", "data.occurrences", "data.aggregates",
              "data.visit_labels", "data.missing_data")),
    ("compile", ("compile", "explain")),
    ("execute", ("execute_frames", "execute")),
    # The preflight over compiled steps (check's last pass, run from api.check).
    ("analysis preflight", ("analysis_preflight",)),
    ("ard", ("ard", "provenance")),
    ("render", ("render", "render.*", "outputs")),
    # sap-run diff: two ARD files compared (its page uses the render stage's escaping).
    ("qc", ("qc_diff", "qc_report")),
    ("api", ("api", "cli", "ars_import", "ars_translate", "ars_outputs")),
)
# What the renderers must not import, whatever the order allows.
RENDER_FORBIDDEN = ("check", "check_*", "bind", "bind_options", "bind_checks",
                    "explain", "compile", "data",
                    "data.*", "execute", "analysis_preflight", "methods", "methods.*")

# Violations owned by other engineers of issue 9, to be removed by the lead at merge once
# their branches are in:
ALLOWED: set[tuple[str, str]] = set()  # none: every import follows the stage order


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The sap_engine modules ``path`` imports (names without "sap_engine.")."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                (node.module == "sap_engine" or node.module.startswith("sap_engine.")):
            base = node.module.removeprefix("sap_engine").removeprefix(".")
            for alias in node.names:  # `from sap_engine import model`: the module model
                sub = f"{base}.{alias.name}" if base else alias.name
                found.add(sub if (PACKAGE / sub.replace(".", "/")).with_suffix(".py").exists()
                          or (PACKAGE / sub.replace(".", "/")).is_dir() else base)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import (write sap_engine.x)")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "sap_engine" or alias.name.startswith("sap_engine."):
                    found.add(alias.name.removeprefix("sap_engine").removeprefix("."))
    return found


def _stage(module: str) -> int:
    for rank, (_, patterns) in enumerate(STAGES):
        if any(fnmatch(module, p) if p else module == "" for p in patterns):
            return rank
    raise AssertionError(f"sap_engine.{module} belongs to no stage: add it to STAGES "
                         "(and to docs/architecture.md)")


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_stage():
    for path in MODULES:
        _stage(_module(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module(p) or "sap_engine")
def test_a_module_imports_only_earlier_stages(path):
    module = _module(path)
    rank = _stage(module)
    later = sorted(dep for dep in _imports(path) if _stage(dep) > rank
                   and (module, dep) not in ALLOWED)
    assert not later, (f"sap_engine.{module} ({STAGES[rank][0]}) imports a later stage: "
                       + ", ".join(f"{d} ({STAGES[_stage(d)][0]})" for d in later))


@pytest.mark.parametrize("path", [p for p in MODULES if _module(p).startswith("render")],
                         ids=_module)
def test_the_renderers_read_only_the_ard_and_the_plan(path):
    bad = sorted(d for d in _imports(path) if any(fnmatch(d, p) for p in RENDER_FORBIDDEN))
    assert not bad, f"sap_engine.{_module(path)} imports {', '.join(bad)}"


def test_the_allow_list_lists_only_real_violations():
    # An entry whose import is gone must be removed from ALLOWED (the lead, at merge).
    present = {(_module(p), d) for p in MODULES for d in _imports(p)}
    assert ALLOWED <= present, ALLOWED - present


def test_the_check_stage_does_not_import_compile_or_execute():
    """The bug the stage order fixes: check ran the preflight that compiled and executed."""
    for path in MODULES:
        module = _module(path)
        if _stage(module) <= _stage("data.preflight"):
            assert not {"compile", "execute"} & _imports(path), module
