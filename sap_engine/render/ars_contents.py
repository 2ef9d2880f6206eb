"""The ARS outputs and the main list of contents of a run's ``ars.json``: one Output per
table and figure (one OutputDisplay with its number, title, population and footnotes), and
the list that files each display's analyses under it, in the plan's order (the display's
column-header counts first), then the analyses no display shows.
"""

from __future__ import annotations

from sap_engine import model as m
from sap_engine.ars_map import ident


def _displays(plan: m.Plan) -> list[tuple[str, m.Table | m.Figure, list[str]]]:
    out: list[tuple[str, m.Table | m.Figure, list[str]]] = []
    for t in plan.tables:
        ids = list(dict.fromkeys(i for r in t.rows for i in (r.analysis, *r.also)))
        out.append(("Table", t, ids))
    for f in plan.figures:
        out.append(("Figure", f, [f.analysis]))
    return out


def outputs(plan: m.Plan) -> list[dict]:
    out = []
    for kind, spec, _ in _displays(plan):
        titles = [f"{kind} {spec.number}", spec.title]
        pop = plan.populations.get(spec.population.name) if spec.population else None
        if pop is not None:
            titles.append(pop.label or pop.name)
        sections: list[dict] = []
        for section, texts in (("Title", titles), ("Footnote", list(spec.footnotes))):
            if texts:
                sections.append({"sectionType": section, "orderedSubSections": [
                    {"order": i, "subSection": {
                        "id": ident("Disp", kind, spec.number, section, str(i)), "text": text}}
                    for i, text in enumerate(texts, 1)]})
        display = {"id": ident("Disp", kind, spec.number), "name": f"{kind} {spec.number}",
                   "displayTitle": spec.title, "displaySections": sections}
        out.append({"id": ident("Out", kind, spec.number), "name": f"{kind} {spec.number}",
                    "label": spec.title, "displays": [{"order": 1, "display": display}]})
    return out


def contents(plan: m.Plan, analyses: list[dict]) -> dict:
    names = {a["id"]: a["name"] for a in analyses}
    items, shown = [], set()
    for order, (kind, spec, ids) in enumerate(_displays(plan), 1):
        denominators = ident("Denominators", kind.lower(), spec.number)
        ids = ([denominators] if denominators in names else []) + [ident(i) for i in ids]
        shown.update(ids)
        items.append({"name": f"{kind} {spec.number}: {spec.title}", "level": 1,
                      "order": order, "outputId": ident("Out", kind, spec.number), "sublist": {
                          "listItems": [{"name": names.get(i, i), "level": 2, "order": j,
                                         "analysisId": i} for j, i in enumerate(ids, 1)]}})
    rest = [a["id"] for a in analyses if a["id"] not in shown]
    if rest:
        items.append({"name": "Analyses not shown in a display", "level": 1,
                      "order": len(items) + 1, "sublist": {"listItems": [
                          {"name": names[i], "level": 2, "order": j, "analysisId": i}
                          for j, i in enumerate(rest, 1)]}})
    return {"name": "Tables and figures of the plan", "contentsList": {"listItems": items}}
