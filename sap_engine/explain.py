"""``sap-run explain``: the compiled steps of a plan as text, in the order they run.

Each step shows what binding resolved, so a reader (and a golden test of compile) sees what
will be computed without running it: the method, population, visit, the handling of
intercurrent events and missing values, the ``by`` items, every role as its plan term with
the term's kind and the analysis-frame column (and how the column codes it), and every
option with where its value came from: ``given`` (the analysis' ``options``), ``clause``
(with the plan clause that implied it) or ``default`` (the method's SAS-compatible default).

The text is deterministic (options sorted by name, steps in run order) and imports neither
pandas' computations nor scipy beyond what ``check`` itself needs.

>>> from sap_engine.api import explain_plan
>>> print(explain_plan("tests/fixtures/mini/mini.sap").splitlines()[0])
plan tests/fixtures/mini/mini.sap: 6 steps, in run order
"""

from __future__ import annotations

from sap_engine import model as m
from sap_engine.bind import Term
from sap_engine.compile import Step
from sap_engine.fmt import expr, quote


def explain_steps(steps: list[Step], path: str = "") -> str:
    """The text of ``steps`` (see the module docstring)."""
    head = f"plan {path}: " if path else ""
    lines = [f"{head}{len(steps)} step{'s' if len(steps) != 1 else ''}, in run order"]
    for number, step in enumerate(steps, start=1):
        lines.append("")
        lines.extend(_step(number, step))
    return "\n".join(lines) + "\n"


def _step(number: int, step: Step) -> list[str]:
    title = f"step {number}: {step.id} {quote(step.label)}"
    if step.repeated:
        title += f" (repeats {step.depends[0]})"
    fields = [("method", step.method), ("population", _population(step.population)),
              ("visit", f"week {m._num(step.visit)}" if step.visit is not None else "-"),
              ("handling", _handling(step)), ("by", _by(step))]
    if step.depends:
        fields.append(("after", ", ".join(step.depends)))
    lines = [title, *_table([(f"  {k}", v) for k, v in fields])]
    lines.append("  roles")
    lines.extend(_table([(f"    {role}", *_term(t)) for role, terms in step.roles
                         for t in terms]))
    lines.append("  options")
    lines.extend(_table([(f"    {o.name}", f"{o.source} ({o.clause})" if o.clause
                          else o.source, _value(o.value)) for o in step.options]))
    return lines


def _by(step: Step) -> str:
    items = ["visit after baseline" if b == "visit" and step.after_baseline else b
             for b in step.by]
    return ", ".join(items) or "-"


def _term(t: Term) -> tuple[str, str, str]:
    return expr(t.expr), t.kind or "-", f"-> {t.column} ({t.coding})"


def _population(use: m.PopulationUse) -> str:
    return use.name + (f" where {expr(use.where)}" if use.where is not None else "")


def _handling(step: Step) -> str:
    parts = [f"intercurrent {s.event} {s.strategy}"
             + (f" with {s.effective_handling}" if s.effective_handling else "")
             for s in step.handling.strategies]
    if step.handling.missing:
        parts.append(f"missing {step.handling.missing}")
    return "; ".join(parts) or "-"


def _value(v: object, in_list: bool = False) -> str:
    """An option value as the plan would write it: a choice word bare, a number as a
    number, data values (every text in a list: levels, contrasts) quoted."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return m._num(float(v))
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_value(x, True) for x in v) + "]"
    text = str(v)
    bare = not in_list and text.isidentifier() and text.islower() \
        and text not in ("true", "false")
    return text if bare else quote(text)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows with their columns aligned (the last column is not padded)."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(c.ljust(w) for c, w in zip(r, widths)), r[-1]]).rstrip()
            for r in rows]
