"""Segments: named conditions over a user's view, declared in Terraform and evaluated on read.

Definitions (JSON; Terraform's ``jsonencode(var.segments)``, so unset attributes arrive as null and
are ignored)::

    {"power_exporters": {"description": "...", "all": [
        {"trait": "report_exported", "in_last_days": 30, "at_least": 5},
        {"identify_trait": "plan", "equals": "pro"}]}}

A segment has ``all`` or ``any``: a list of conditions, each one of

- usage: ``trait`` (a usage trait, or ``*`` for any usage) with ``at_least``/``at_most`` on its
  count over ``in_last_days`` (7 or 30: the only windows the stored view holds; omitted:
  lifetime), and/or recency: ``not_seen_for_days``, ``seen_in_last_days``,
  ``first_seen_in_last_days`` (any N: exact, from first/last seen);
- identify trait: ``identify_trait`` with ``equals``, ``in``, ``exists``, and numeric ``at_least``,
  ``at_most``, ``greater_than``, ``less_than``;
- Engage audience: ``audience`` (the audience key) and ``member`` (default true);
- a nested group: ``all`` or ``any`` of conditions.

Nothing is stored per segment: membership is computed from the view each time it is read, so a
changed definition needs no backfill. Every error names the segment and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..settings import SEGMENTS_SHA256
from ..table.config_items import load_text

SEGMENTS_SK = "SEGMENTS"  # item CONFIG/SEGMENTS holds the definitions (written by Terraform)
SEGMENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
WINDOWS = (7, 30)  # count windows the view holds (view.WINDOWS); None is lifetime
MAX_DAYS = 36500
MAX_DEPTH = 2  # a segment's all/any may hold one level of all/any: what Terraform's type allows
DAY_MS = 86_400_000

USAGE_OPS = ("at_least", "at_most")
RECENCY_OPS = ("not_seen_for_days", "seen_in_last_days", "first_seen_in_last_days")
IDENTIFY_OPS = ("equals", "in", "exists", "at_least", "at_most", "greater_than", "less_than")
KINDS = ("trait", "identify_trait", "audience", "all", "any")
FIELDS = {
    "trait": {"trait", "in_last_days", *USAGE_OPS, *RECENCY_OPS},
    "identify_trait": {"identify_trait", *IDENTIFY_OPS},
    "audience": {"audience", "member"},
    "all": {"all"},
    "any": {"any"},
}
_SYMBOL = {"at_least": ">=", "at_most": "<=", "greater_than": ">", "less_than": "<"}
_RECENCY = {
    "not_seen_for_days": "not seen for {} days",
    "seen_in_last_days": "seen in the last {} days",
    "first_seen_in_last_days": "first seen in the last {} days",
}


class SegmentDefinitionError(ValueError):
    """A malformed definition; the message names the segment and the field."""


def _is_count(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == int(value)


def _is_number(value: Any) -> bool:
    """A JSON number other than a boolean; ints of any size (10**400 is one: no float holds
    it, and Python compares it with floats exactly), floats when finite."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


@dataclass(frozen=True)
class Condition:
    kind: str  # one of KINDS
    name: str | None  # trait, identify trait or audience key; None for a group
    ops: tuple[tuple[str, Any], ...]  # (field, value) in a fixed order
    window: int | None = None  # usage count window in days, None: lifetime
    children: tuple[Condition, ...] = ()

    def describe(self) -> str:
        if self.kind in ("all", "any"):
            return f"{self.kind} of {len(self.children)} conditions"
        if self.kind == "audience":
            member = dict(self.ops)["member"]
            return f"Engage audience {self.name} is {'true' if member else 'not true'}"
        parts = []
        for op, value in self.ops:
            if op in RECENCY_OPS:
                parts.append(_RECENCY[op].format(value))
            elif self.kind == "trait":
                span = f"in last {self.window} days" if self.window else "lifetime"
                parts.append(f"count {span} {_SYMBOL[op]} {value}")
            elif op in _SYMBOL:
                parts.append(f"{_SYMBOL[op]} {value}")
            elif op == "exists":
                parts.append("exists" if value else "does not exist")
            else:
                parts.append(f"{op} {json.dumps(value)}")
        return f"{self.kind.replace('_', ' ')} {self.name}: {' and '.join(parts)}"


@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    root: Condition  # an all/any group


def _clean(value: Any) -> Any:
    """Drop the nulls Terraform writes for unset optional attributes."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return value


def _parse_condition(raw: Any, where: str, depth: int) -> Condition:
    raw = _clean(raw)
    if not isinstance(raw, dict):
        raise SegmentDefinitionError(f"{where}: expected an object")
    kinds = [k for k in KINDS if k in raw]
    if len(kinds) != 1:
        raise SegmentDefinitionError(
            f"{where}: set exactly one of {', '.join(KINDS)} (found {kinds or 'none'})"
        )
    kind = kinds[0]
    unknown = sorted(set(raw) - FIELDS[kind])
    if unknown:
        raise SegmentDefinitionError(f"{where}: {', '.join(unknown)} cannot be used with {kind}")
    if kind in ("all", "any"):
        return _parse_group(kind, raw[kind], f"{where}.{kind}", depth + 1)
    name = raw[kind]
    if not isinstance(name, str) or not name or len(name) > 200:
        raise SegmentDefinitionError(f"{where}.{kind}: expected a name of 1-200 characters")
    if kind == "audience":
        member = raw.get("member", True)
        if not isinstance(member, bool):
            raise SegmentDefinitionError(f"{where}.member: expected true or false")
        return Condition(kind, name, (("member", member),))
    if kind == "trait":
        return _parse_usage(raw, name, where)
    return _parse_identify(raw, name, where)


def _parse_usage(raw: dict[str, Any], name: str, where: str) -> Condition:
    window = raw.get("in_last_days")
    if window is not None and window not in WINDOWS:
        raise SegmentDefinitionError(
            f"{where}.in_last_days: {window!r} is not 7 or 30: the stored view counts only the "
            "last 7 and 30 days (omit it for the lifetime count)"
        )
    ops = []
    for op in USAGE_OPS:
        if op in raw:
            if not _is_count(raw[op]) or raw[op] < 0:
                raise SegmentDefinitionError(f"{where}.{op}: expected a whole number >= 0")
            ops.append((op, int(raw[op])))
    if window is not None and not ops:
        raise SegmentDefinitionError(f"{where}.in_last_days: needs at_least or at_most")
    for op in RECENCY_OPS:
        if op in raw:
            if not _is_count(raw[op]) or not 1 <= raw[op] <= MAX_DAYS:
                raise SegmentDefinitionError(f"{where}.{op}: expected whole days 1..{MAX_DAYS}")
            ops.append((op, int(raw[op])))
    if not ops:
        raise SegmentDefinitionError(
            f"{where}: trait {name!r} needs at least one of {', '.join(USAGE_OPS + RECENCY_OPS)}"
        )
    return Condition("trait", name, tuple(ops), window)


def _parse_identify(raw: dict[str, Any], name: str, where: str) -> Condition:
    ops = []
    for op in IDENTIFY_OPS:
        if op not in raw:
            continue
        value = raw[op]
        if op == "in":
            if not isinstance(value, list) or not value:
                raise SegmentDefinitionError(f"{where}.in: expected a non-empty list of values")
        elif op == "exists":
            if not isinstance(value, bool):
                raise SegmentDefinitionError(f"{where}.exists: expected true or false")
        elif op == "equals":
            if not isinstance(value, str | int | float | bool):
                raise SegmentDefinitionError(f"{where}.equals: expected a string, number or bool")
        elif not _is_number(value):
            raise SegmentDefinitionError(f"{where}.{op}: expected a number")
        ops.append((op, value))
    if not ops:
        raise SegmentDefinitionError(
            f"{where}: identify_trait {name!r} needs at least one of {', '.join(IDENTIFY_OPS)}"
        )
    return Condition("identify_trait", name, tuple(ops))


def _parse_group(kind: str, items: Any, where: str, depth: int) -> Condition:
    if depth > MAX_DEPTH:
        raise SegmentDefinitionError(
            f"{where}: a nested all/any may hold conditions only, not another all/any"
        )
    if not isinstance(items, list) or not items:
        raise SegmentDefinitionError(f"{where}: expected a non-empty list of conditions")
    children = tuple(_parse_condition(item, f"{where}[{i}]", depth) for i, item in enumerate(items))
    return Condition(kind, None, (), None, children)


def parse_segments(text_or_value: str | Mapping[str, Any] | None) -> dict[str, Segment]:
    """Definitions from JSON text (or its parsed value); raises SegmentDefinitionError."""
    if text_or_value is None:
        return {}
    value: Any = text_or_value
    if isinstance(text_or_value, str):
        try:
            value = json.loads(text_or_value)
        except json.JSONDecodeError as exc:
            raise SegmentDefinitionError(f"segments: not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise SegmentDefinitionError("segments: expected an object of segment name -> definition")
    segments = {}
    for name, raw in value.items():
        where = f"segments.{name}"
        if not SEGMENT_NAME.match(name):
            raise SegmentDefinitionError(f"{where}: the name must match {SEGMENT_NAME.pattern}")
        raw = _clean(raw)
        if not isinstance(raw, dict):
            raise SegmentDefinitionError(f"{where}: expected an object with all or any")
        unknown = sorted(set(raw) - {"description", "all", "any"})
        if unknown:
            raise SegmentDefinitionError(f"{where}: unknown fields {', '.join(unknown)}")
        groups = [k for k in ("all", "any") if k in raw]
        if len(groups) != 1:
            raise SegmentDefinitionError(f"{where}: set exactly one of all, any")
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise SegmentDefinitionError(f"{where}.description: expected a string")
        root = _parse_group(groups[0], raw[groups[0]], f"{where}.{groups[0]}", 1)
        segments[name] = Segment(name, description, root)
    return segments


# -- evaluation -------------------------------------------------------------------------------


class _Facts:
    """What conditions read from a view: usage traits, identify traits, the clock."""

    __slots__ = ("_any", "now_ms", "traits", "usage")

    def __init__(self, usage: Mapping[str, Any], traits: Mapping[str, Any], now_ms: int) -> None:
        self.usage, self.traits, self.now_ms = usage, traits, now_ms
        self._any: tuple[int, dict[int, int], int, int] | None = None

    def usage_of(self, name: str) -> tuple[int, Mapping[int, int], int, int] | None:
        """(count, windows, first_ms, last_ms) of a usage trait, or of all of them for ``*``."""
        if name != "*":
            t = self.usage.get(name)
            return None if t is None else (t.count, t.windows, t.first_seen_ms, t.last_seen_ms)
        if not self.usage:
            return None
        if self._any is None:
            windows = dict.fromkeys(WINDOWS, 0)
            for t in self.usage.values():
                for days, n in t.windows.items():
                    windows[days] = windows.get(days, 0) + n
            self._any = (
                sum(t.count for t in self.usage.values()),
                windows,
                min(t.first_seen_ms for t in self.usage.values()),
                max(t.last_seen_ms for t in self.usage.values()),
            )
        return self._any


def _equal(value: Any, expected: Any) -> bool:
    """Terraform sends every ``equals``/``in`` value as a string: "5" matches 5, "true" true."""
    if isinstance(expected, str) and not isinstance(value, str):
        if isinstance(value, bool):
            return expected == ("true" if value else "false")
        if _is_number(value):
            number = _number(expected)
            return number is not None and number == value
        return False
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    return value == expected


def _number(value: Any) -> int | float | None:
    if _is_number(value):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _compare(op: str, actual: float, limit: float) -> bool:
    if op == "at_least":
        return actual >= limit
    if op == "at_most":
        return actual <= limit
    if op == "greater_than":
        return actual > limit
    return actual < limit


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _usage_check(c: Condition, facts: _Facts) -> tuple[bool, Any]:
    found = facts.usage_of(c.name or "")
    count, windows, first, last = found or (0, {}, None, None)
    actual: dict[str, Any] = {}
    met = True
    for op, value in c.ops:
        if op in USAGE_OPS:
            n = windows.get(c.window, 0) if c.window else count
            actual["count" if not c.window else f"last_{c.window}_days"] = n
            met = met and _compare(op, n, value)
        elif op == "not_seen_for_days":
            actual["last_seen"] = _iso(last) if last is not None else None
            met = met and (last is None or last <= facts.now_ms - value * DAY_MS)
        elif op == "seen_in_last_days":
            actual["last_seen"] = _iso(last) if last is not None else None
            met = met and last is not None and last > facts.now_ms - value * DAY_MS
        else:  # first_seen_in_last_days
            actual["first_seen"] = _iso(first) if first is not None else None
            met = met and first is not None and first > facts.now_ms - value * DAY_MS
    return met, actual


def _identify_check(c: Condition, facts: _Facts) -> tuple[bool, Any]:
    present = c.name in facts.traits
    value = facts.traits.get(c.name or "")
    met = True
    for op, expected in c.ops:
        if op == "exists":
            met = met and present == expected
        elif not present:
            met = False
        elif op == "equals":
            met = met and _equal(value, expected)
        elif op == "in":
            met = met and any(_equal(value, e) for e in expected)
        else:
            number = _number(value)
            met = met and number is not None and _compare(op, number, expected)
    return met, value if present else None


def _check(c: Condition, facts: _Facts) -> bool:
    if c.kind == "all":
        return all(_check(child, facts) for child in c.children)
    if c.kind == "any":
        return any(_check(child, facts) for child in c.children)
    if c.kind == "audience":
        return (facts.traits.get(c.name) is True) == c.ops[0][1]
    if c.kind == "trait":
        return _usage_check(c, facts)[0]
    return _identify_check(c, facts)[0]


def _explain(c: Condition, facts: _Facts, path: str) -> dict[str, Any]:
    row: dict[str, Any] = {"path": path, "condition": c.describe()}
    if c.kind in ("all", "any"):
        rows = [
            _explain(child, facts, f"{path + '.' if path else ''}{c.kind}[{i}]")
            for i, child in enumerate(c.children)
        ]
        met = [r["met"] for r in rows]
        row["met"] = all(met) if c.kind == "all" else any(met)
        row["conditions"] = rows
        return row
    if c.kind == "audience":
        row["actual"] = facts.traits.get(c.name)
        row["met"] = _check(c, facts)
    elif c.kind == "trait":
        row["met"], row["actual"] = _usage_check(c, facts)
    else:
        row["met"], row["actual"] = _identify_check(c, facts)
    return row


def _now_ms(now: datetime | None) -> int:
    return int((now or datetime.now(UTC)).timestamp() * 1000)


def membership(
    segments: Mapping[str, Segment],
    usage: Mapping[str, Any],
    traits: Mapping[str, Any],
    now: datetime | None = None,
) -> dict[str, bool]:
    """Segment name -> whether the user is in it. ``usage`` values are view.UsageTrait."""
    facts = _Facts(usage, traits, _now_ms(now))
    return {name: _check(s.root, facts) for name, s in segments.items()}


def explain(
    segments: Mapping[str, Segment],
    usage: Mapping[str, Any],
    traits: Mapping[str, Any],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per segment: member or not, and every condition with the value it was checked against."""
    facts = _Facts(usage, traits, _now_ms(now))
    out = []
    for name, s in segments.items():
        root = _explain(s.root, facts, "")
        out.append(
            {
                "segment": name,
                "description": s.description,
                "member": root["met"],
                "match": s.root.kind,
                "conditions": root["conditions"],
            }
        )
    return out


# -- where definitions live -----------------------------------------------------------------


def load_from_table(
    client: Any, table: str, sha256: str | None = None
) -> tuple[dict[str, Segment], str | None]:
    """Definitions from item CONFIG/SEGMENTS, and their text's sha256 (None: no item).

    With ``sha256`` (the function's SEGMENT_USAGE_SEGMENTS_SHA256), a missing item or another hash
    raises SegmentDefinitionError: a deployment is in progress or the item was edited by hand.
    """
    text = load_text(
        client,
        table,
        SEGMENTS_SK,
        "segments",
        sha256,
        SEGMENTS_SHA256,
        SegmentDefinitionError,
    )
    if text is None:
        return {}, None
    return parse_segments(text), hashlib.sha256(text.encode("utf-8")).hexdigest()
