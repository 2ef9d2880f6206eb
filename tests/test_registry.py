"""The method registry: documented, validated, and docs/methods.md up to date."""

from __future__ import annotations

import ast

from conftest import ROOT

from sap_engine.methods import docs, registry


def test_docs_methods_md_is_current():
    assert (ROOT / "docs" / "methods.md").read_text() == docs.render(), \
        "docs/methods.md is stale: run python -m sap_engine.methods.docs"


def test_every_method_documents_conventions_and_evidence():
    methods = registry.load_all()
    assert {"descriptive", "smd"} <= set(methods)
    for m in methods.values():
        assert m.summary and m.conventions, m.name
        assert m.evidence, f"{m.name} has no validation evidence"
        for o in m.options:
            assert o.validate(o.default) is None or o.kind == "list", (m.name, o.name)


def test_evidence_names_existing_tests():
    for m in registry.load_all().values():
        for e in m.evidence:
            path, _, name = e.test.partition("::")
            tree = ast.parse((ROOT / path).read_text())
            names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            assert name in names, f"{m.name}: evidence test {e.test} does not exist"
