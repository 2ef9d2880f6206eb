"""The dotted path of a published figure in a reproduction map (``table2.cdasi_a.(0,6].n``).

Read by the checker (every figure a map names must exist in the published JSON) and by the
renderer (which looks the figure up to compare it): one definition, below both stages.

>>> split_figure_path("table2.cdasi_a.(0,6].n")
['table2', 'cdasi_a', '(0,6]', 'n']
"""

from __future__ import annotations


def split_figure_path(dotted: str) -> list[str]:
    """``a.b.(0,6].c`` -> [a, b, (0,6], c]: dots inside brackets belong to the key."""
    parts, current, depth = [], "", 0
    for ch in dotted:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts
