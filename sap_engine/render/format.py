"""Display formatting of ARD values: SAS rounding and ``xx.x (xx.xx)`` patterns.

Rounding is half away from zero (SAS ``ROUND``; Python's ``round`` rounds half to even,
which would print 0.125 as 0.12 where SAS prints 0.13). Decimal arithmetic on the shortest
repr of the float avoids binary artefacts (2.675 is stored as 2.67499999...; SAS adds a
fuzz of a few ulps for the same reason and prints 2.68).

>>> sas_round(2.5, 0), sas_round(-0.125, 2), sas_round(2.675, 2)
(3.0, -0.13, 2.68)
>>> fmt_pattern("xx.x (xx.xx)", 24.1234, 12.19)
'24.1 (12.19)'
"""

from __future__ import annotations

import math
import re
from contextvars import ContextVar
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

# The plan's display rounding (document option `rounding`): SAS's half away from zero by
# default, half to even (IEEE, R's print) on request.
ROUNDING: ContextVar[str] = ContextVar("rounding", default="half_away_from_zero")

_X = re.compile(r"x+(?:\.x+)?")


def sas_round(value: float, decimals: int) -> float:
    """Round half away from zero at ``decimals`` places."""
    if value is None or math.isnan(value) or math.isinf(value):
        return value
    q = Decimal(1).scaleb(-decimals)
    mode = ROUND_HALF_EVEN if ROUNDING.get() == "half_even" else ROUND_HALF_UP
    return float(Decimal(repr(value)).quantize(q, rounding=mode))


def fmt_number(value: float | None, decimals: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = f"{sas_round(value, decimals):.{decimals}f}"
    # A value that rounds to zero prints without a sign ("-0.00" reads as an error).
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def decimals_of(token: str) -> int:
    return len(token.split(".")[1]) if "." in token else 0


def fmt_pattern(pattern: str, *values: float | None) -> str:
    """Fill each ``x.xx`` slot of ``pattern`` with the next value at that many decimals.

    A pattern whose values are all missing gives an empty string (not "( )").
    """
    if all(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return ""
    it = iter(values)

    def slot(mt) -> str:
        # A missing value beside present ones (an SD of n = 1, an upper quartile never
        # reached) prints as NE, not as an empty gap in "xx.x ()".
        return fmt_number(next(it, None), decimals_of(mt.group())) or "NE"

    return _X.sub(slot, pattern)


def fmt_p(p: float | None, decimals: int = 4) -> str:
    """p-values as SAS prints them: 4 decimals, '<.0001' style written as '<0.0001'."""
    if p is None or math.isnan(p):
        return ""
    floor = 10.0 ** -decimals
    if p < floor:
        return f"<{floor:.{decimals}f}"
    if sas_round(p, decimals) >= 1:
        return f">{1 - floor:.{decimals}f}" if p < 1 else f"{1:.{decimals}f}"
    return fmt_number(p, decimals)


def default_decimals(values) -> int:
    """Decimals of the raw data (at most 3): the base precision of a variable's display.

    The CSR convention: mean and median one decimal more, SD two more, min/max as collected.
    """
    best = 0
    for v in values:
        if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
            continue
        # 9 decimals first: a derived value such as 4.1 - 6.4 = -2.3000000000000003 keeps
        # the precision of its inputs, not of its binary representation.
        text = f"{float(v):.9f}"
        frac = text.split(".")[1].rstrip("0")
        best = max(best, len(frac))
        if best >= 3:
            return 3
    return best
