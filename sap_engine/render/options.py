"""How each analysis was computed, as the document states it: a "Method" line under every
display for each analysis it shows, and the appendix "Analysis options" of every analysis.

Both are read from the ARD's ``steps`` metadata (``ard.resolved_options``: the method, its
label, the population, every resolved option and its source), never from the method
registry, so a document rebuilt from the ARD states the same. Strings only: the writers
escape them as any plan text (the values may hold plan text, such as a contrast label).

The Method line keeps to what a reader needs to know how the numbers were computed:

- every option the plan set, in its ``options`` (source ``given``) or through a clause
  (source ``clause: <name>``: ``lsmeans weights``, ``contrast``, the treatment's reference
  arm, a category order);
- of the method's defaults only those in :data:`CONVENTIONS`, the options that fix how an
  estimate, interval or test is computed (the confidence level, the LS-means weights, the
  degrees of freedom, the adjustment for multiplicity...), listed after "defaults:".

Analyses of one display whose lines would read the same share one line. The appendix
lists every option with its source, so nothing is hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sap_engine import model as m

# The defaults a Method line states: those that define the analysis' conventions (how its
# estimates, intervals and tests are computed). Other defaults (category orders, missing
# value handling of a correlation...) are in the appendix only.
CONVENTIONS = frozenset({"ci_level", "ci", "quantile", "df_method", "weights", "adjust",
                         "conftype", "ties", "test", "type"})


@dataclass(frozen=True)
class OptionText:
    name: str
    value: str  # as plain text: lists joined with ", "
    source: str  # given, default, or "clause: <clause>"


@dataclass(frozen=True)
class AnalysisOptions:
    """One row of the appendix: an analysis, its method's label, population and options."""

    id: str
    method: str
    population: str
    options: tuple[OptionText, ...]


def value_text(value: object) -> str:
    """An option value in plain text: numbers as the plan writes them, booleans as
    ``true``/``false``, lists joined with ", " (an empty one as "(none)")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return m._num(float(value))
    if isinstance(value, (list, tuple)):
        if not value:
            return "(none)"
        return ", ".join(f"({value_text(v)})" if isinstance(v, (list, tuple)) else
                         value_text(v) for v in value)
    return "(none)" if value is None else str(value)


def analysis_options(steps: Mapping[str, object]) -> list[AnalysisOptions]:
    """Every analysis of the ``steps`` metadata, in step order, with all its options."""
    return [_analysis(aid, entry) for aid, entry in steps.items()]


def method_lines(steps: Mapping[str, object], ids: Iterable[str]) -> list[str]:
    """The Method lines of a display showing the analyses ``ids`` (in display order; one
    not in the metadata is left out): one line per distinct text, naming its analyses."""
    texts: dict[str, list[str]] = {}
    for aid in dict.fromkeys(ids):
        if aid in steps:
            texts.setdefault(_line_text(_analysis(aid, steps[aid])), []).append(aid)
    return [f"Method ({', '.join(aids)}): {text}" for text, aids in texts.items()]


def _line_text(a: AnalysisOptions) -> str:
    chosen = [f"{o.name} = {o.value}" for o in a.options if o.source != "default"]
    defaults = [f"{o.name} = {o.value}" for o in a.options
                if o.source == "default" and o.name in CONVENTIONS]
    parts = [a.method, *chosen]
    if defaults:
        parts.append("defaults: " + ", ".join(defaults))
    return "; ".join(parts) + "."


def _analysis(aid: str, entry: object) -> AnalysisOptions:
    """An entry of the metadata read defensively: an ARD of an older engine has no label
    or population (then the method's name, and nothing)."""
    entry = entry if isinstance(entry, Mapping) else {}
    options = entry.get("options")
    sources = entry.get("sources")
    options = options if isinstance(options, Mapping) else {}
    sources = sources if isinstance(sources, Mapping) else {}
    method = str(entry.get("method", ""))
    return AnalysisOptions(
        str(aid), str(entry.get("label") or method), str(entry.get("population", "")),
        tuple(OptionText(str(name), value_text(value), str(sources.get(name, "")))
              for name, value in options.items()))
