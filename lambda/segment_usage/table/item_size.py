"""DynamoDB item sizes and write/read capacity by AWS's documented rules.

Rules (DynamoDB Developer Guide, "Item sizes and formats" and "capacity unit consumption"):
strings and binaries are their UTF-8/raw length; a number is 1 byte per two significant digits
plus 1; null and booleans 1 byte; lists and maps 3 bytes plus 1 byte per element plus the
elements; sets the sum of their elements; every attribute (and map key) adds its name's length.
A write costs 1 WCU per started KB of the larger of the item before and after; a transactional
write costs twice that. A strongly consistent read costs 1 RCU per started 4 KB.
"""

from __future__ import annotations

import math
from typing import Any

KB = 1024


def number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").split("e")[0].split("E")[0]
    significant = digits.strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def int_size(n: int) -> int:
    """``number_size(str(n))`` for an int, on the hot path (bucket sizes)."""
    significant = str(abs(n)).rstrip("0") or "0"
    return (len(significant) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    """Size of one DynamoDB wire-format attribute value ({"S": ...}, {"N": ...}, ...)."""
    ((kind, body),) = value.items()
    if kind == "S":
        return len(body.encode("utf-8"))
    if kind == "N":
        return number_size(body)
    if kind == "B":
        return len(body)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in body)
    if kind == "NS":
        return sum(number_size(n) for n in body)
    if kind == "BS":
        return sum(len(b) for b in body)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in body)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in body.items())
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def item_size(item: dict[str, dict[str, Any]] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in item.items())


def write_units(before: int, after: int, transactional: bool = False) -> int:
    """WCU of one write given the item's size before and after (bytes)."""
    units = max(1, math.ceil(max(before, after) / KB))
    return units * 2 if transactional else units


def read_units(size: int, consistent: bool = True) -> float:
    units = max(1, math.ceil(size / (4 * KB)))
    return float(units) if consistent else units / 2
