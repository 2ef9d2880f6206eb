"""The CDASI instrument as this project scores it: body areas, items, ranges, codes.

Activity (CDASI-A, 0-100): at each of the 15 body areas erythema 0-3, scale 0-2 and
erosion/ulceration 0-1 (15 x 6 = 90); Gottron's on the hands: erythema/papules 0-3
(0 absent, 1 erythema only, 2 papules, 3 confluent papules: "Gottron's papules" means
a score >= 2) and ulceration 0-1; periungual changes 0-3; alopecia 0-3 (90 + 10 = 100).
Damage (CDASI-D, 0-32): at each area poikiloderma 0-1 and calcinosis 0-1 (30), and
Gottron's hand damage 0-2 (0 none, 1 dyspigmentation, 2 scarring).

The Gottron/periungual/alopecia ranges are this project's documented choice (the
instrument's own versions differ); they make the published maxima 100 and 32 hold.
"""

from __future__ import annotations

from dataclasses import dataclass

# (PARCAT1 as in published.json table2.areas, area code), in the paper's order
AREAS = (
    ("V area neck frontal", "VNECK"),
    ("Periorbital/heliotrope rash", "PERIOR"),
    ("Malar area", "MALAR"),
    ("Rest of the face", "FACE"),
    ("Posterior neck", "PNECK"),
    ("Dorsum of hands", "DHAND"),
    ("Arm", "ARM"),
    ("Scalp", "SCALP"),
    ("Upper back and shoulders", "UBACK"),
    ("Lateral upper thigh", "LTHIGH"),
    ("Gottron's not on hands", "GOTNH"),
    ("Mechanic's hand", "MECH"),
    ("Rest of back and buttocks", "RBACK"),
    ("Rest of legs and feet", "LEGS"),
    ("Abdomen", "ABDOM"),
)
AREA_MEASURES = (  # (PARCAT2, code suffix, max, activity?)
    ("erythema", "ER", 3, True),
    ("scale", "SC", 2, True),
    ("erosion_ulceration", "EU", 1, True),
    ("poikiloderma", "PK", 1, False),
    ("calcinosis", "CA", 1, False),
)


@dataclass(frozen=True)
class Item:
    """One CDASI item: PARAMCD, PARAM, body area (PARCAT1), measure (PARCAT2), range."""

    paramcd: str
    parcat1: str
    parcat2: str
    max: int
    activity: bool

    @property
    def param(self) -> str:
        return f"CDASI {self.parcat1}: {self.parcat2.replace('_', '/')}"


def _items() -> tuple[Item, ...]:
    out = [Item(code + suf, area, measure, mx, act)
           for measure, suf, mx, act in AREA_MEASURES for area, code in AREAS]
    out += [
        Item("GOTHER", "Gottron's hands", "erythema", 3, True),
        Item("GOTHUL", "Gottron's hands", "ulceration", 1, True),
        Item("PERIUNG", "Periungual", "periungual", 3, True),
        Item("ALOPEC", "Alopecia", "alopecia", 3, True),
        Item("GOTHDM", "Gottron's hands", "hand_damage", 2, False),
    ]
    return tuple(out)


ITEMS = _items()
# column index ranges in ITEMS
ERYTHEMA = tuple(range(0, 15))
OTHER_ACTIVITY = tuple(range(15, 45)) + (75, 76, 77, 78)
DAMAGE = tuple(range(45, 75)) + (79,)
GOTHER, GOTHDM = 75, 79
CAPS = tuple(it.max for it in ITEMS)
assert sum(CAPS[i] for i in ERYTHEMA + OTHER_ACTIVITY) == 100
assert sum(CAPS[i] for i in DAMAGE) == 32


def baseline_presence_targets(n: int, table2: dict) -> list[int]:
    """Number of subjects with item >= 1 at baseline, per item (published % of n)."""
    counts = []
    for it in ITEMS:
        if it.parcat1 in table2["areas"]:
            pct = table2["areas"][it.parcat1][it.parcat2]
        elif it.paramcd == "GOTHER":
            pct = table2["gottron_hands"]["erythema"]
        elif it.paramcd == "GOTHUL":
            pct = table2["gottron_hands"]["ulceration"]
        elif it.paramcd == "GOTHDM":
            pct = table2["gottron_hands"]["hand_damage"]
        elif it.paramcd == "PERIUNG":
            pct = table2["periungual_changes"]
        else:
            pct = table2["alopecia"]
        counts.append(int(round(pct * n / 100)))
    return counts
