"""Summed amounts (a ``sum`` tracker's property, e.g. ``revenue``): exact decimals held as integer
millionths ("micros"), so that 19.99 + 0.01 is exactly 20 and no float ever rounds a sum.

Rule (what a message may add, ``ingest/trackers.py``): a finite JSON number (not a boolean) with at
most ``DECIMALS`` decimal places and an absolute value below ``MAX_AMOUNT``; anything else is not
an amount (the message does not match the ``sum`` tracker). Those bounds keep every stored sum
well inside DynamoDB's 38 significant digits: a day bucket (<= 128 messages) holds under 1.3e23
micros (24 digits), a lifetime sum would need 1e11 messages of the largest amount to reach 38.
Stored as DynamoDB numbers in fixed-point text (``micros_text``), which DynamoDB keeps exactly.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal, InvalidOperation

DECIMALS = 6
SCALE = 10**DECIMALS
MAX_AMOUNT = 10**15  # exclusive bound on one message's amount (absolute value)
# Exact arithmetic for any number DynamoDB can hold (38 digits) scaled by SCALE: no rounding.
_EXACT = Context(prec=80)


def amount_micros(value: object) -> int | None:
    """``value`` (a JSON-decoded property: int or float) in micros, or None when it is not an
    amount by the rule above (a boolean, a string, NaN, too many decimals, too large).

    Floats come from ``json.loads``: ``repr`` gives back the shortest decimal that reads as the
    same float, i.e. the text the sender wrote (``19.99``), so the conversion is exact."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    except InvalidOperation:  # pragma: no cover - repr of a finite float always parses
        return None
    if abs(number) >= MAX_AMOUNT:
        return None
    scaled = number.scaleb(DECIMALS, _EXACT)
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def micros_text(micros: int) -> str:
    """Fixed-point text of ``micros`` for a DynamoDB number: ``20``, ``19.99``, ``-0.000001``."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), SCALE)
    tail = f"{fraction:0{DECIMALS}d}".rstrip("0")
    return f"{sign}{whole}.{tail}" if tail else f"{sign}{whole}"


def text_micros(text: str) -> int:
    """The inverse of ``micros_text`` (any DynamoDB number text with at most ``DECIMALS``
    places). Raises ValueError for one with more (not written by this package)."""
    scaled = Decimal(text).scaleb(DECIMALS, _EXACT)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r}: more than {DECIMALS} decimal places")
    return int(scaled)


def micros_decimal(micros: int) -> Decimal:
    """``micros`` as an exact ``Decimal`` (what the read side hands out)."""
    return Decimal(micros_text(micros))
