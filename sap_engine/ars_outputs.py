"""ARS outputs as plan tables (for ``sap-run import-ars``, see :mod:`.ars_translate`).

An Output becomes a ``table`` numbered from its display's title ("Table 14.1.1"), titled by
the display title, with the imported analyses the main list of contents files under it, in
that order, and the display's footnotes. Its population is its first analysis'. An output
none of whose analyses was imported is named in a comment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sap_engine.fmt import quote


def _items(listing: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in listing.get("listItems", []):
        yield item
        yield from _items(item.get("sublist", {}))


def _analyses_of(event: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """output id -> (analysis id, the list's name for it), from every list of contents."""
    out: dict[str, list[tuple[str, str]]] = {}
    lists = [event.get("mainListOfContents", {}), *event.get("otherListsOfContents", [])]
    for contents in lists:
        for item in _items(contents.get("contentsList", {})):
            if "outputId" in item:
                rows = out.setdefault(item["outputId"], [])
                for sub in _items(item.get("sublist", {})):
                    if "analysisId" in sub and sub["analysisId"] not in [r[0] for r in rows]:
                        rows.append((sub["analysisId"], str(sub.get("name", ""))))
    return out


def _texts(display: dict[str, Any], section: str) -> list[str]:
    found = []
    for s in display.get("displaySections", []):
        if s.get("sectionType") == section:
            for sub in sorted(s.get("orderedSubSections", []), key=lambda x: x.get("order", 0)):
                if "subSection" in sub:
                    found.append(str(sub["subSection"].get("text", "")))
    return found


def tables(event: dict[str, Any], plan_ids: dict[str, str], shows: dict[str, str],
           pops: dict[str, str]) -> list[str]:
    """The plan's ``table`` statements (lines), one per output with imported analyses."""
    contents = _analyses_of(event)
    analyses = {a["id"]: a for a in event.get("analyses", [])}
    lines: list[str] = []
    for output in event.get("outputs", []):
        display = output["displays"][0]["display"] if output.get("displays") else {}
        rows = [(aid, label) for aid, label in contents.get(output["id"], [])
                if aid in plan_ids]
        if not rows:
            lines += [f"# ARS output {output['id']} ({output.get('name', '')}): none of its "
                      "analyses was imported", ""]
            continue
        number = next((hit.group(2) for t in _texts(display, "Title")
                       if (hit := re.match(r"\s*(Table|Figure|Listing)\s+(\S+)", t))),
                      output["id"])
        title = str(display.get("displayTitle") or output.get("name", number))
        lines.append(f"# ARS output {output['id']}")
        lines.append(f"table {quote(number)} {quote(title)} {{")
        lines.append(f"  population {pops[plan_ids[rows[0][0]]]}")
        lines.append("  columns treatment")
        for aid, label in rows:
            name = plan_ids[aid]
            # The analysis' short label ("Age") reads as a row; the list's name for it
            # ("Summary by Treatment") only without one.
            text = str(analyses[aid].get("label") or label or analyses[aid].get("name", name))
            show = f" show {shows[name]}" if name in shows else ""
            lines.append(f"  rows {name} {quote(text)}{show}")
        for note in _texts(display, "Footnote"):
            lines.append(f"  footnote {quote(note)}")
        lines += ["}", ""]
    return lines
