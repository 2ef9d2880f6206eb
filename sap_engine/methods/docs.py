"""Generate ``docs/methods.md`` from the method registry.

Run ``python -m sap_engine.methods.docs`` to rewrite the file; ``--check`` exits 1 when the
committed file is stale (the test suite runs the same comparison).
"""

from __future__ import annotations

import sys
from pathlib import Path

from sap_engine.methods.registry import SUBJECT, Method, load_all

DOC = Path(__file__).resolve().parents[2] / "docs" / "methods.md"


def _method(m: Method) -> list[str]:
    out = [f"### `{m.name}`", "", m.summary, ""]
    if m.roles:
        out += ["| role | kind | required | meaning |", "|---|---|---|---|"]
        out += [f"| `{r.name}` | {r.kind}{' (many)' if r.many else ''} | "
                f"{'yes' if r.required else 'no'} | {r.doc} |" for r in m.roles]
        out.append("")
    if m.options:
        out += ["| option | kind | default | meaning |", "|---|---|---|---|"]
        for o in m.options:
            kind = o.kind + (f": {', '.join(o.choices)}" if o.choices else "")
            default = "" if o.default in ("", (), []) else f"`{o.default}`"
            fed = f" Set by the plan's `{o.clause}` clause." if o.clause else ""
            out.append(f"| `{o.name}` | {kind} | {default} | {o.doc}{fed} |")
        out.append("")
    if m.unit != SUBJECT or m.consumes:
        handles = f"; it handles `by {', '.join(m.consumes)}` itself" if m.consumes else ""
        out += [f"Unit of analysis: one frame row per {m.unit}{handles}.", ""]
    if m.groups:
        out += ["Groupings of its results a table may use as columns: "
                + ", ".join(f"`{g}`" for g in m.groups) + ".", ""]
    if m.conventions:
        out += ["Conventions:", ""] + [f"- {c}" for c in m.conventions] + [""]
    if m.evidence:
        out += ["Validation evidence:", ""]
        out += [f"- {e.reference} (tolerance {e.tolerance}; `{e.test}`)" for e in m.evidence]
        out.append("")
    if m.stats:
        out += ["ARD statistics: " + ", ".join(f"`{s}`" for s in m.stats), ""]
    if m.nonfinite:
        out += ["May be infinite or NaN (any other statistic is always a finite number or "
                "empty): " + ", ".join(f"`{s}`" for s in m.nonfinite), ""]
    return out


def render() -> str:
    methods = load_all()
    lines = ["# Statistical methods", "",
             "Generated from the method registry by `python -m sap_engine.methods.docs`; "
             "do not edit by hand. Each method lists the roles a plan fills (each takes a "
             "`numeric` or a `category` term, in the checker's words, or `any`), its "
             "options "
             "(with SAS-compatible defaults), the conventions it follows and the independent "
             "reference it was validated against. An option a plan clause sets says which: "
             "a clause of the analysis itself (`lsmeans weights`, `contrast`, a model's "
             "`A * B`) and the analysis' `options` may not both set it (SAP245), while a "
             "plan-wide value (the reference arm, the arm or category order) gives way to "
             "the analysis' `options`. A statistic without a value is empty "
             "(null) in the ARD; no statistic is NaN or infinite unless its method says so "
             "below (the executor refuses it otherwise, SAP472).", ""]
    families: dict[str, list[Method]] = {}
    for m in methods.values():
        families.setdefault(m.family, []).append(m)
    lines += ["| method | family | summary |", "|---|---|---|"]
    for family in sorted(families):
        for m in sorted(families[family], key=lambda x: x.name):
            lines.append(f"| [`{m.name}`](#{m.name.replace('_', '')}) | {family} | {m.summary} |")
    lines.append("")
    for family in sorted(families):
        lines += [f"## {family}", ""]
        for m in sorted(families[family], key=lambda x: x.name):
            lines += _method(m)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is stale: run python -m sap_engine.methods.docs")
            return 1
        return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
