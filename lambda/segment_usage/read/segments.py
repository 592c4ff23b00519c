"""Segments: named conditions over a user's view, declared in Terraform and evaluated on read.

Definitions (JSON; Terraform's ``jsonencode`` of ``var.segments``, so unset attributes arrive as
null and are ignored)::

    {"power_exporters": {"description": "...", "all": [
        {"trait": "report_exported", "in_last_days": 90, "at_least": 5},
        {"trait": "search", "active_days": {"at_least": 3, "in_last_days": 7}},
        {"identify_trait": "plan", "equals": "pro"}]},
     "beta_rollout": {"salt": "beta-2026", "all": [
        {"segment": "power_exporters"}, {"percent": {"from": 0, "to": 10}}]}}

A segment has ``all`` or ``any`` (a list of conditions) and optionally ``salt`` (the holdout salt;
default: the segment's name). A condition is one of

- usage: ``trait`` (a usage trait, or ``*`` for any usage) with ``at_least``/``at_most`` on its
  count over ``in_last_days`` (1-365 rolling UTC days ending today; omitted: lifetime), or on its
  sum for the trait of a ``sum`` tracker (``UsageTrait.sum``/``daily_sums``); regularity,
  ``active_days = {at_least and/or at_most, in_last_days}`` (on how many distinct UTC days of the
  window it was used: PostHog's "regularly", Recurly Engage's "visits >= 2 over the last 7 days");
  and/or recency: ``not_seen_for_days``, ``seen_in_last_days``, ``first_seen_in_last_days`` (any
  N: exact, from first/last seen);
- identify trait: ``identify_trait`` with ``equals``, ``in``, ``exists``, and numeric ``at_least``,
  ``at_most``, ``greater_than``, ``less_than``;
- Engage audience: ``audience`` (the audience key) and ``member`` (default true);
- holdout or rollout: ``percent = {from, to}`` (0-100, two decimals at most): true when the user's
  bucket, a number in [0, 100) from SHA-256 of the segment's salt and the user id, is in
  [from, to). The same user gets the same bucket on every read, in every process and after every
  redeploy, as long as the salt stays;
- nested segment: ``segment`` (another segment's name) and ``member`` (default true); a cycle or an
  unknown name is refused when the definitions load (and at plan time, segments.tf);
- a nested group: ``all`` or ``any`` of conditions (one level).

**Three answers.** A segment is true, false or unknown (None). A view's ``coverage_start`` is the
first UTC day the deployment could have seen anyone (``table/coverage.py``); a condition whose
window reaches before it is unknown unless what was seen already decides it: "count >= 3 in the
last 90 days" is true once 3 were seen in the covered days, "active on at most 2 of the last 7
days" false once 3 were; "not seen for 14 days", an ``at_most``, a lifetime count or "first seen
in the last N days" (history before coverage might hold earlier uses) stay unknown. ``all`` and
``any`` follow Kleene's logic: any(true, unknown) is true, all(false, unknown) false, otherwise
unknown stays unknown. Identify traits, audiences and buckets are never unknown. Without coverage
(a deployment older than the coverage item) every condition is decided from the data, as before.

Nothing is stored per segment: membership is computed from the view each time it is read, so a
changed definition needs no backfill. Every error names the segment and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ..settings import SEGMENTS_SHA256
from ..table.config_items import load_text

SEGMENTS_SK = "SEGMENTS"  # item CONFIG/SEGMENTS holds the definitions (written by Terraform)
SEGMENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_WINDOW_DAYS = 365  # in_last_days and active_days.in_last_days: the days the view holds per day
MAX_DAYS = 36500
MAX_DEPTH = 2  # a segment's all/any may hold one level of all/any: what segments.tf allows
DAY_MS = 86_400_000
BUCKETS = 10_000  # percent buckets: [0, 100) in steps of 0.01

USAGE_OPS = ("at_least", "at_most")
RECENCY_OPS = ("not_seen_for_days", "seen_in_last_days", "first_seen_in_last_days")
IDENTIFY_OPS = ("equals", "in", "exists", "at_least", "at_most", "greater_than", "less_than")
KINDS = ("trait", "identify_trait", "audience", "percent", "segment", "all", "any")
FIELDS = {
    "trait": {"trait", "in_last_days", "active_days", *USAGE_OPS, *RECENCY_OPS},
    "identify_trait": {"identify_trait", *IDENTIFY_OPS},
    "audience": {"audience", "member"},
    "percent": {"percent"},
    "segment": {"segment", "member"},
    "all": {"all"},
    "any": {"any"},
}
SEGMENT_FIELDS = ("description", "salt", "all", "any")
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


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


@dataclass(frozen=True)
class Condition:
    """One parsed condition. ``ops`` holds (field, value) in a fixed order; for ``active_days``
    the value is (in_last_days, at_least or None, at_most or None); for ``percent`` the ops are
    (("from", hundredths), ("to", hundredths)), both in 0..10000."""

    kind: str  # one of KINDS
    name: str | None  # trait, identify trait, audience key or segment; None for a group/percent
    ops: tuple[tuple[str, Any], ...]
    window: int | None = None  # usage count window in days (1..365), None: lifetime
    children: tuple[Condition, ...] = ()

    def describe(self) -> str:
        """The condition in words, as ``segment-usage segments`` prints it."""
        if self.kind in ("all", "any"):
            return f"{self.kind} of {len(self.children)} conditions"
        if self.kind == "audience":
            member = dict(self.ops)["member"]
            return f"Engage audience {self.name} is {'true' if member else 'not true'}"
        if self.kind == "segment":
            member = dict(self.ops)["member"]
            return f"segment {self.name} is {'true' if member else 'false'}"
        if self.kind == "percent":
            low, high = (value / 100 for _, value in self.ops)
            return f"bucket of the user id in [{low:g}, {high:g}) percent"
        parts = []
        for op, value in self.ops:
            if op in RECENCY_OPS:
                parts.append(_RECENCY[op].format(value))
            elif op == "active_days":
                days, least, most = value
                bounds = [f"{_SYMBOL[o]} {v}" for o, v in (("at_least", least), ("at_most", most))
                          if v is not None]  # fmt: skip
                parts.append(f"active on {' and '.join(bounds)} of the last {_days(days)}")
            elif self.kind == "trait":
                span = f"in last {_days(self.window)}" if self.window else "lifetime"
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
    """A parsed segment. ``salt`` seeds its percent buckets (default: its name); ``rank`` is how
    deep its chain of nested segments goes (0: none), so that evaluating in rank order finds every
    nested answer already made."""

    name: str
    description: str
    root: Condition  # an all/any group
    salt: str = ""
    rank: int = 0


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
    if kind == "percent":
        return _parse_percent(raw["percent"], f"{where}.percent")
    name = raw[kind]
    if kind == "segment":
        if not isinstance(name, str) or not SEGMENT_NAME.match(name):
            raise SegmentDefinitionError(
                f"{where}.segment: expected a segment name matching {SEGMENT_NAME.pattern}"
            )
    elif not isinstance(name, str) or not name or len(name) > 200:
        raise SegmentDefinitionError(f"{where}.{kind}: expected a name of 1-200 characters")
    if kind in ("audience", "segment"):
        member = raw.get("member", True)
        if not isinstance(member, bool):
            raise SegmentDefinitionError(f"{where}.member: expected true or false")
        return Condition(kind, name, (("member", member),))
    if kind == "trait":
        return _parse_usage(raw, name, where)
    return _parse_identify(raw, name, where)


def _window_days(value: Any, where: str) -> int:
    if not _is_count(value) or not 1 <= value <= MAX_WINDOW_DAYS:
        raise SegmentDefinitionError(
            f"{where}: {value!r} is not whole days 1-{MAX_WINDOW_DAYS} (rolling UTC days ending "
            "today; omit in_last_days for the lifetime count)"
        )
    return int(value)


def _parse_active(raw: Any, where: str) -> tuple[int, int | None, int | None]:
    raw = _clean(raw)
    if not isinstance(raw, dict):
        raise SegmentDefinitionError(
            f"{where}: expected an object {{ at_least and/or at_most, in_last_days }}"
        )
    unknown = sorted(set(raw) - {"at_least", "at_most", "in_last_days"})
    if unknown:
        raise SegmentDefinitionError(f"{where}: unknown fields {', '.join(unknown)}")
    if "in_last_days" not in raw:
        raise SegmentDefinitionError(f"{where}.in_last_days: required (1-{MAX_WINDOW_DAYS})")
    days = _window_days(raw["in_last_days"], f"{where}.in_last_days")
    bounds: list[int | None] = []
    for op in USAGE_OPS:
        value = raw.get(op)
        if value is not None and (not _is_count(value) or not 0 <= value <= days):
            raise SegmentDefinitionError(f"{where}.{op}: expected whole days 0..in_last_days")
        bounds.append(None if value is None else int(value))
    if bounds == [None, None]:
        raise SegmentDefinitionError(f"{where}: needs at_least or at_most")
    return days, bounds[0], bounds[1]


def _parse_usage(raw: dict[str, Any], name: str, where: str) -> Condition:
    window = raw.get("in_last_days")
    if window is not None:
        window = _window_days(window, f"{where}.in_last_days")
    ops: list[tuple[str, Any]] = []
    for op in USAGE_OPS:
        if op in raw:
            if not _is_number(raw[op]) or raw[op] < 0:
                raise SegmentDefinitionError(
                    f"{where}.{op}: expected a number >= 0 (a count, or a sum tracker's sum)"
                )
            ops.append((op, int(raw[op]) if _is_count(raw[op]) else raw[op]))
    if window is not None and not ops:
        raise SegmentDefinitionError(f"{where}.in_last_days: needs at_least or at_most")
    if "active_days" in raw:
        ops.append(("active_days", _parse_active(raw["active_days"], f"{where}.active_days")))
    for op in RECENCY_OPS:
        if op in raw:
            if not _is_count(raw[op]) or not 1 <= raw[op] <= MAX_DAYS:
                raise SegmentDefinitionError(f"{where}.{op}: expected whole days 1..{MAX_DAYS}")
            ops.append((op, int(raw[op])))
    if not ops:
        raise SegmentDefinitionError(
            f"{where}: trait {name!r} needs at least one of "
            f"{', '.join((*USAGE_OPS, 'active_days', *RECENCY_OPS))}"
        )
    return Condition("trait", name, tuple(ops), window)


def _percent(value: Any, where: str) -> int:
    """A percentage 0-100 with two decimals at most, as hundredths (0..10000)."""
    if not _is_number(value) or not 0 <= value <= 100:
        raise SegmentDefinitionError(f"{where}: expected a number 0-100")
    hundredths = round(value * 100)
    if abs(hundredths - value * 100) > 1e-6:
        raise SegmentDefinitionError(f"{where}: two decimals at most (buckets are 0.01 wide)")
    return int(hundredths)


def _parse_percent(raw: Any, where: str) -> Condition:
    raw = _clean(raw)
    if not isinstance(raw, dict) or set(raw) != {"from", "to"}:
        raise SegmentDefinitionError(f"{where}: expected {{ from, to }} (percent, 0-100)")
    low, high = _percent(raw["from"], f"{where}.from"), _percent(raw["to"], f"{where}.to")
    if low >= high:
        raise SegmentDefinitionError(f"{where}: from must be less than to ([from, to) percent)")
    return Condition("percent", None, (("from", low), ("to", high)))


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


def _references(c: Condition, path: str) -> list[tuple[str, str]]:
    """(nested segment name, where) of every ``segment`` condition under ``c``."""
    if c.kind == "segment":
        return [(c.name or "", path)]
    found = []
    for i, child in enumerate(c.children):
        found += _references(child, f"{path}.{c.kind}[{i}]")
    return found


def _ranked(segments: dict[str, Segment]) -> dict[str, Segment]:
    """``segments`` with their ranks; raises SegmentDefinitionError naming an unknown nested
    segment (and where it is named) or a cycle (as ``a -> b -> a``)."""
    refs = {name: _references(s.root, f"segments.{name}") for name, s in segments.items()}
    for found in refs.values():
        for other, where in found:
            if other not in segments:
                raise SegmentDefinitionError(f"{where}.segment: no segment named {other!r}")
    rank: dict[str, int] = {}
    for start in segments:  # depth-first, without recursion: the chain is the stack
        stack = [start]
        while stack:
            name = stack[-1]
            if name in rank:
                stack.pop()
                continue
            pending = [o for o, _ in refs[name] if o not in rank]
            if not pending:
                rank[name] = 1 + max((rank[o] for o, _ in refs[name]), default=-1)
                stack.pop()
                continue
            other = pending[0]
            if other in stack:
                cycle = [*stack[stack.index(other) :], other]
                where = next(w for o, w in refs[name] if o == other)
                raise SegmentDefinitionError(
                    f"{where}.segment: a cycle of nested segments: {' -> '.join(cycle)}"
                )
            stack.append(other)
    return {
        name: Segment(s.name, s.description, s.root, s.salt, rank[name])
        for name, s in segments.items()
    }


def parse_segments(text_or_value: str | Mapping[str, Any] | None) -> dict[str, Segment]:
    """Definitions from JSON text (or its parsed value), in their order.

    Raises SegmentDefinitionError naming the segment, the condition's position and the field;
    also for a nested segment that does not exist or a cycle of nested segments.
    """
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
        unknown = sorted(set(raw) - set(SEGMENT_FIELDS))
        if unknown:
            raise SegmentDefinitionError(f"{where}: unknown fields {', '.join(unknown)}")
        groups = [k for k in ("all", "any") if k in raw]
        if len(groups) != 1:
            raise SegmentDefinitionError(f"{where}: set exactly one of all, any")
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise SegmentDefinitionError(f"{where}.description: expected a string")
        salt = raw.get("salt", name)
        if not isinstance(salt, str) or not 1 <= len(salt) <= 200:
            raise SegmentDefinitionError(f"{where}.salt: expected a string of 1-200 characters")
        root = _parse_group(groups[0], raw[groups[0]], f"{where}.{groups[0]}", 1)
        segments[name] = Segment(name, description, root, salt)
    return _ranked(segments)


# -- evaluation -------------------------------------------------------------------------------


def bucket(salt: str, user_id: str) -> int:
    """The user's holdout bucket for ``salt``, in hundredths of a percent: 0..9999.

    The first 8 bytes of SHA-256(salt, NUL, user id) as an unsigned integer, modulo 10,000 (the
    bias of 2**64 mod 10,000 is below 1e-15): the same on every read, process, platform and
    deployment (never Python's ``hash``, which is salted per process).
    """
    digest = hashlib.sha256(f"{salt}\x00{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


class _Series:
    """One usage trait (or ``*``) as the conditions read it: lifetime count, first and last seen,
    and, built on the first window asked, its days sorted with running counts, so that any window
    costs two bisections. ``dailies``: the per-day counts it sums (one per trait; ``*``: all)."""

    __slots__ = ("count", "cum", "dailies", "days", "first", "last", "sum", "sums")

    def __init__(
        self,
        count: int,
        first: int | None,
        last: int | None,
        dailies: list[Any],
        total: Any = None,
        sums: Mapping[str, Any] | None = None,
    ):
        self.count, self.first, self.last, self.dailies = count, first, last, dailies
        self.sum, self.sums = total, sums  # a sum tracker's lifetime sum and sum per day, or None
        self.days: list[str] | None = None
        self.cum: list[int] = [0]

    def sum_window(self, recent: tuple[str, ...], n: int) -> Any:
        """The sum over the ``n`` UTC days ``recent[:n]`` (a sum tracker's trait only)."""
        sums, total = self.sums or {}, Decimal(0)
        if n <= len(sums):
            for day in recent[:n]:
                total += sums.get(day, 0)
        else:
            start, end = recent[n - 1], recent[0]
            for day, amount in sums.items():
                if start <= day <= end:
                    total += amount
        return total

    def _build(self) -> list[str]:
        if len(self.dailies) == 1:
            daily = self.dailies[0]
        else:
            daily = {}
            for one in self.dailies:
                for day, n in one.items():
                    daily[day] = daily.get(day, 0) + n
        days = sorted(d for d, n in daily.items() if n > 0)
        total = 0
        for day in days:
            total += daily[day]
            self.cum.append(total)
        self.days = days
        return days

    def window(self, recent: tuple[str, ...], n: int) -> tuple[int, int]:
        """(count, active days) over the ``n`` UTC days ``recent[:n]`` (newest first, from today).

        One trait: whichever is shorter, a lookup of each day of the window or a pass over the
        days it was used; several (``*``): two bisections in their merged, sorted days.
        """
        if len(self.dailies) == 1 and self.days is None:
            daily, count, active = self.dailies[0], 0, 0
            if n <= len(daily):
                for day in recent[:n]:
                    used = daily.get(day)
                    if used:
                        count, active = count + used, active + 1
            else:
                start, end = recent[n - 1], recent[0]
                for day, used in daily.items():
                    if used and start <= day <= end:
                        count, active = count + used, active + 1
            return count, active
        days = self.days if self.days is not None else self._build()
        low, high = bisect_left(days, recent[n - 1]), bisect_right(days, recent[0])
        return self.cum[high] - self.cum[low], high - low


def _day(text: str | None) -> date | None:
    """A yyyy-mm-dd day, or None for None or a day that does not exist (an item edited by hand:
    decided from the data, as without coverage, rather than failing every read)."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@lru_cache(maxsize=8)
def _recent_days(today: date) -> tuple[str, ...]:
    """The MAX_WINDOW_DAYS UTC days ending with ``today``, newest first, as yyyy-mm-dd (made once
    per day and shared by every user evaluated that day)."""
    return tuple((today - timedelta(days=back)).isoformat() for back in range(MAX_WINDOW_DAYS))


class _Facts:
    """What conditions read from a view: usage series, identify traits, the clock, coverage, the
    user id (for buckets) and the segments already answered (for nested segments)."""

    __slots__ = (
        "answers",
        "coverage",
        "coverage_ms",
        "covered_days",
        "definitions",
        "now_ms",
        "series_",
        "today",
        "traits",
        "usage",
        "user_id",
    )

    def __init__(
        self,
        definitions: Mapping[str, Segment],
        usage: Mapping[str, Any],
        traits: Mapping[str, Any],
        now: datetime | None,
        today: date | None,
        coverage_start: str | None,
        user_id: str,
    ) -> None:
        now = now or datetime.now(UTC)
        self.definitions, self.usage, self.traits, self.user_id = (
            definitions,
            usage,
            traits,
            user_id,
        )
        self.now_ms = int(now.timestamp() * 1000)
        self.today = today or now.astimezone(UTC).date()
        self.coverage = _day(coverage_start)
        self.coverage_ms = (
            None
            if self.coverage is None
            else int(datetime(*self.coverage.timetuple()[:3], tzinfo=UTC).timestamp() * 1000)
        )
        # Days from coverage to today, both included (0 or less: coverage starts after today).
        self.covered_days = None if self.coverage is None else (self.today - self.coverage).days + 1
        self.series_: dict[str, _Series] = {}
        self.answers: dict[str, tuple[bool | None, str | None]] = {}

    def series(self, name: str) -> _Series:
        found = self.series_.get(name)
        if found is not None:
            return found
        if name != "*":
            t = self.usage.get(name)
            found = (
                _Series(0, None, None, [{}])  # never used: no count, no days
                if t is None
                else _Series(
                    t.count,
                    t.first_seen_ms,
                    t.last_seen_ms,
                    [t.daily],
                    getattr(t, "sum", None),  # a sum tracker's trait (view.UsageTrait.sum)
                    getattr(t, "daily_sums", None),
                )
            )
            self.series_[name] = found
            return found
        traits = list(self.usage.values())
        if not traits:
            found = _Series(0, None, None, [{}])
        else:
            found = _Series(
                sum(t.count for t in traits),
                min(t.first_seen_ms for t in traits),
                max(t.last_seen_ms for t in traits),
                [t.daily for t in traits],
            )
        self.series_[name] = found
        return found

    def start(self, days: int) -> date:
        """The first day of the window of ``days`` days ending today."""
        return self.today - timedelta(days=days - 1)

    def uncovered(self, days: int) -> int:
        """How many of the last ``days`` days (today included) lie before coverage (0 without)."""
        if self.covered_days is None:
            return 0
        return min(max(days - self.covered_days, 0), days)

    def covered_since(self, ms: int) -> bool:
        """Whether every moment after ``ms`` (epoch ms) up to now lies inside coverage."""
        return self.coverage_ms is None or ms >= self.coverage_ms


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


def _json_number(value: Any) -> Any:
    """A count as is; a Decimal sum as an int when whole, else a float (JSON has no decimals)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _and(a: bool | None, b: bool | None) -> bool | None:
    """Kleene's and: false wins, then unknown."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _bounded(op: str, seen: int, limit: int, unseen: int | None) -> bool | None:
    """``seen`` (counted in the covered days) against ``limit``, when up to ``unseen`` more may
    lie before coverage (None: any number; 0: none, so ``seen`` is exact)."""
    if op == "at_least":
        if seen >= limit:
            return True
        return False if unseen is not None and seen + unseen < limit else None
    if seen > limit:
        return False
    return True if unseen is not None and seen + unseen <= limit else None


Row = tuple[bool | None, dict[str, Any], str | None]  # met, actual values, reason when unknown


def _usage_check(c: Condition, facts: _Facts) -> Row:
    s = facts.series(c.name or "")
    actual: dict[str, Any] = {}
    reasons: list[str] = []
    met: bool | None = True
    for op, value in c.ops:
        result: bool | None
        if op in USAGE_OPS:
            summed = s.sum is not None  # a sum tracker's trait: the bounds apply to its sum
            if c.window:
                n = (
                    s.sum_window(_recent_days(facts.today), c.window)
                    if summed
                    else s.window(_recent_days(facts.today), c.window)[0]
                )
                actual[f"{'sum_' if summed else ''}last_{c.window}_days"] = _json_number(n)
                unseen: int | None = 0 if not facts.uncovered(c.window) else None
            else:
                n = s.sum if summed else s.count
                actual["sum" if summed else "count"] = _json_number(n)
                unseen = 0 if facts.coverage is None else None
            # A sum may fall as well as rise (refunds): only the covered part decides nothing.
            if summed and isinstance(value, float):  # 99.99 as typed, not the float nearest it
                value = Decimal(repr(value))
            result = _bounded(op, n, value, unseen) if not summed or unseen == 0 else None
            if result is None:
                reasons.append(
                    f"{n} in the covered days; the window starts "
                    f"{facts.start(c.window).isoformat()}, before it"
                    if c.window
                    else f"{n} since it; a lifetime count includes the days before it"
                )
        elif op == "active_days":
            days, least, most = value
            seen = s.window(_recent_days(facts.today), days)[1]
            actual[f"active_days_in_last_{days}_days"] = seen
            gap = facts.uncovered(days)
            result = True
            for bound_op, bound in (("at_least", least), ("at_most", most)):
                if bound is not None:
                    result = _and(result, _bounded(bound_op, seen, bound, gap))
            if result is None:
                reasons.append(
                    f"active on {seen} covered days; {_days(gap)} of the last {_days(days)} are "
                    "before it"
                )
        else:
            cutoff = facts.now_ms - value * DAY_MS
            covered = facts.covered_since(cutoff)
            if op == "first_seen_in_last_days":
                first = s.first
                actual["first_seen"] = first  # epoch ms: _explain writes it as ISO-8601
                if first is not None and first <= cutoff:
                    result = False
                elif facts.coverage is None:
                    result = first is not None
                elif first is None and covered:
                    result = False
                else:
                    result = None
                    reasons.append("whether it was used before it is not known")
            else:
                last = s.last
                actual["last_seen"] = last
                recent = last is not None and last > cutoff
                if recent or covered:
                    result = recent == (op == "seen_in_last_days")
                else:
                    result = None
                    reasons.append(f"the last {_days(value)} reach before it")
        met = _and(met, result)
    if facts.coverage is not None:
        actual["coverage_start"] = facts.coverage.isoformat()
    reason = None
    if met is None:
        reason = f"{c.describe()}: coverage starts {facts.coverage}; {'; '.join(reasons)}"
    return met, actual, reason


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


def _segment_answer(name: str, facts: _Facts) -> tuple[bool | None, str | None]:
    """A nested segment's answer, made once per evaluation."""
    found = facts.answers.get(name)
    if found is None:
        segment = facts.definitions[name]
        met, reason = _check(segment.root, facts, segment)
        found = facts.answers[name] = (met, reason)
    return found


def _leaf(c: Condition, facts: _Facts, segment: Segment) -> Row:
    if c.kind == "trait":
        return _usage_check(c, facts)
    if c.kind == "identify_trait":
        met, value = _identify_check(c, facts)
        return met, value, None
    if c.kind == "audience":
        value = facts.traits.get(c.name or "")
        return (value is True) == c.ops[0][1], value, None
    if c.kind == "percent":
        (_, low), (_, high) = c.ops
        value = bucket(segment.salt or segment.name, facts.user_id)
        return low <= value < high, {"bucket": value / 100}, None
    # segment
    member, why = _segment_answer(c.name or "", facts)
    wanted = c.ops[0][1]
    if member is None:
        return None, {"member": None}, f"segment {c.name} is unknown: {why}"
    return member == wanted, {"member": member}, None


def _check(c: Condition, facts: _Facts, segment: Segment) -> tuple[bool | None, str | None]:
    """(met, the first reason it is unknown): all/any short-circuit on the deciding answer."""
    if c.kind not in ("all", "any"):
        met, _, reason = _leaf(c, facts, segment)
        return met, reason
    decisive = c.kind == "any"  # any: one true decides; all: one false decides
    reason = None
    for child in c.children:
        met, why = _check(child, facts, segment)
        if met is decisive:
            return decisive, None
        if met is None and reason is None:
            reason = why
    return (None, reason) if reason is not None else (not decisive, None)


def _explain(c: Condition, facts: _Facts, segment: Segment, path: str) -> dict[str, Any]:
    row: dict[str, Any] = {"path": path, "condition": c.describe()}
    if c.kind in ("all", "any"):
        rows = [
            _explain(child, facts, segment, f"{path + '.' if path else ''}{c.kind}[{i}]")
            for i, child in enumerate(c.children)
        ]
        row["met"], reason = _check(c, facts, segment)
        if reason is not None:
            row["reason"] = reason
        row["conditions"] = rows
        return row
    row["met"], row["actual"], reason = _leaf(c, facts, segment)
    if c.kind == "trait":
        for key in ("first_seen", "last_seen"):
            if row["actual"].get(key) is not None:
                row["actual"][key] = _iso(row["actual"][key])
    if reason is not None:
        row["reason"] = reason
    return row


def _in_rank_order(
    segments: Mapping[str, Segment], facts: _Facts
) -> dict[str, tuple[bool | None, str | None]]:
    for s in sorted(segments.values(), key=lambda s: s.rank):
        _segment_answer(s.name, facts)
    return {name: facts.answers[name] for name in segments}


def membership(
    segments: Mapping[str, Segment],
    usage: Mapping[str, Any],
    traits: Mapping[str, Any],
    now: datetime | None = None,
    *,
    today: date | None = None,
    coverage_start: str | None = None,
    user_id: str = "",
) -> dict[str, bool | None]:
    """Segment name -> True, False or None (unknown) for one user.

    ``usage``: trait name -> view.UsageTrait (``count``, ``first_seen_ms``, ``last_seen_ms``,
    ``daily``: UTC day -> count); ``traits``: identify traits; ``now`` (default: the clock) dates
    the recency conditions and ``today`` (default: now's UTC day) ends the rolling windows;
    ``coverage_start`` (yyyy-mm-dd, UTC, or None) is the view's; ``user_id`` seeds the percent
    buckets. Nested segments must be among ``segments``.
    """
    facts = _Facts(segments, usage, traits, now, today, coverage_start, user_id)
    return {name: answer[0] for name, answer in _in_rank_order(segments, facts).items()}


def reasons(
    segments: Mapping[str, Segment],
    usage: Mapping[str, Any],
    traits: Mapping[str, Any],
    now: datetime | None = None,
    *,
    today: date | None = None,
    coverage_start: str | None = None,
    user_id: str = "",
) -> dict[str, str]:
    """Segment name -> why it is unknown, for the segments ``membership`` answers None to
    (the first undecided condition in words, with what was seen and the coverage start)."""
    facts = _Facts(segments, usage, traits, now, today, coverage_start, user_id)
    return {
        name: why or ""
        for name, (met, why) in _in_rank_order(segments, facts).items()
        if met is None
    }


def explain(
    segments: Mapping[str, Segment],
    usage: Mapping[str, Any],
    traits: Mapping[str, Any],
    now: datetime | None = None,
    *,
    today: date | None = None,
    coverage_start: str | None = None,
    user_id: str = "",
) -> list[dict[str, Any]]:
    """Per segment: ``member`` (true, false or None: unknown, with ``reason``), and every condition
    as ``{path, condition, met, actual, reason?}`` with the values it was checked against: counts
    and active days in the window, first/last seen, coverage start, bucket, nested answer."""
    facts = _Facts(segments, usage, traits, now, today, coverage_start, user_id)
    answers = _in_rank_order(segments, facts)
    out = []
    for name, s in segments.items():
        root = _explain(s.root, facts, s, "")
        member, why = answers[name]
        entry: dict[str, Any] = {
            "segment": name,
            "description": s.description,
            "member": member,
            "match": s.root.kind,
            "conditions": root["conditions"],
        }
        if member is None:
            entry["reason"] = why
        if any(c.kind == "percent" for c in _leaves(s.root)):
            entry["salt"] = s.salt or name
        out.append(entry)
    return out


def _leaves(c: Condition) -> list[Condition]:
    return [c] if not c.children else [leaf for child in c.children for leaf in _leaves(child)]


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
