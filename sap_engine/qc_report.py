"""The report of a QC comparison (:mod:`sap_engine.qc_diff`): an aligned text table for the
terminal, and ``diff.html``, a self-contained page for the QC file.

Values are printed at full precision (Python's shortest text that reads back as the same
double), never rounded: a QC reviewer must see the digits that differ. Both reports list the
differences in the same order: A's statistics in A's row order (differing or missing from
B), then B's extra ones in B's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sap_engine
from sap_engine.qc_diff import Ard, Comparison, Difference, Value, groups_text

HEADER = ("", "analysis_id", "groups", "variable", "variable_level", "stat_name", "A", "B",
          "|A - B|")
KIND = {"missing": "missing from B", "extra": "extra in B", "differs": "differs"}
_TEXT_SHOWN = 40  # characters of a stat_text in a cell


def rule(tol: float) -> str:
    return f"|A - B| <= {tol:g} * max(1, |A|, |B|); NaN equals NaN; null equals only null"


def shown(value: Value | None) -> str:
    """A value as a cell shows it: the stat in full precision (``null`` if missing) and its
    text, if any, quoted."""
    if value is None:
        return ""
    stat, text = value
    out = "null" if stat is None else repr(stat)
    if text is not None:
        quoted = text if len(text) <= _TEXT_SHOWN else text[:_TEXT_SHOWN - 3] + "..."
        out = f'"{quoted}"' if stat is None else f'{out} "{quoted}"'
    return out


def cells(comparison: Comparison, d: Difference) -> tuple[str, ...]:
    named = dict(zip(comparison.a.key_columns, d.key))
    gap = d.gap
    return (KIND[d.kind], str(named["analysis_id"]),
            groups_text(comparison.a.key_columns, d.key),
            named["variable"] or "", named["variable_level"] or "", str(named["stat_name"]),
            shown(d.a), shown(d.b), "" if gap is None else f"{gap:.3g}")


def summary(c: Comparison) -> str:
    equal = c.in_both - c.count("differs")
    return (f"{c.in_both} statistics in both: {equal} equal within tolerance, "
            f"{c.count('differs')} differ; {c.count('missing')} missing from B, "
            f"{c.count('extra')} extra in B")


def verdict(c: Comparison) -> str:
    return ("the ARDs agree within tolerance" if c.identical
            else f"the ARDs differ: {len(c.differences)} statistics")


def _source(label: str, ard: Ard) -> str:
    meta = ard.meta
    about = f"{len(ard.values)} statistics"
    if meta.get("plan_sha256"):
        about += (f"; plan {meta.get('plan_path', '')} (SHA-256 {meta['plan_sha256'][:16]}...),"
                  f" sap-engine {meta.get('engine_version', '?')}, produced "
                  f"{meta.get('created_utc', '?')}")
    return f"{label}: {ard.path} ({about})"


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


def text(c: Comparison) -> str:
    """The report printed on stdout."""
    lines = [_source("A", c.a), _source("B", c.b), f"tolerance: {rule(c.tol)}", ""]
    if c.differences:
        lines += _aligned([HEADER, *(cells(c, d) for d in c.differences)]) + [""]
    lines += [summary(c), f"result: {verdict(c)}"]
    return "\n".join(lines) + "\n"


def html(c: Comparison, compared: datetime) -> bytes:
    """``diff.html``: the same content as :func:`text`, as one self-contained page."""
    from sap_engine.render import environment

    template = environment.HTML.environment().get_template("diff.html.j2")
    sides = []
    for label, ard in (("A", c.a), ("B", c.b)):
        meta = ard.meta
        sides.append({"label": label, "path": str(ard.path), "n": len(ard.values),
                      "facts": [(name, f"{prefix}{meta[key]}") for name, key, prefix in
                                (("Plan", "plan_path", ""), ("Plan SHA-256", "plan_sha256", ""),
                                 ("ARD rows SHA-256 (recorded)", "rows_sha256", ""),
                                 ("Engine", "engine_version", "sap-engine "),
                                 ("Produced (UTC)", "created_utc", "")) if meta.get(key)],
                      "notes": [d.render() for d in ard.notes]})
    page = template.render(sides=sides, rule=rule(c.tol), summary=summary(c),
                           verdict=verdict(c), identical=c.identical, header=HEADER,
                           rows=[cells(c, d) for d in c.differences],
                           kinds=[d.kind for d in c.differences],
                           compared=compared.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           engine=sap_engine.__version__)
    return page.encode("utf-8")
