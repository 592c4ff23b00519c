"""History delivered late in bulk (issue 20): users with months or years of daily usage, sent to the
batch path in any order of days, and the view a user of the product must then read (a model
computed from the unique messages, independent of the code under test).

Shared by tests/record/test_late_bulk.py and bench/late_bulk.py.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from segment_usage.ingest.trackers import default_trait
from support import segment_messages as sm

TRACKS = ("Report Exported", "Search Performed", "Invite Sent")
PAGES = ("Home", "Pricing")
ORDERS = ("newest-first", "oldest-first", "shuffled")


def daily_history(
    user: str, days: int, today: date, per_day: int = 5, skip: int = 0
) -> list[dict[str, Any]]:
    """``per_day`` messages (pages and tracks, alternating) on each of ``days`` consecutive UTC days
    ending ``skip`` days before ``today``; newest day first. Message ids are stable."""
    out = []
    for back in range(skip, skip + days):
        day = today - timedelta(days=back)
        base = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        for i in range(per_day):
            at = base + timedelta(minutes=7 * i)
            ids = {"user_id": user, "at": at, "message_id": f"{user}-{day.isoformat()}-{i}"}
            if i % 2:
                out.append(sm.page(PAGES[(back + i) % len(PAGES)], **ids))
            else:
                out.append(sm.track(TRACKS[(back + i) % len(TRACKS)], **ids))
    return out


def in_order(messages: list[dict[str, Any]], order: str, seed: int = 0) -> list[dict[str, Any]]:
    """The same messages newest-first, oldest-first or shuffled (within and across batches)."""
    if order == "newest-first":
        return sorted(messages, key=lambda m: m["timestamp"], reverse=True)
    if order == "oldest-first":
        return sorted(messages, key=lambda m: m["timestamp"])
    if order == "shuffled":
        shuffled = list(messages)
        random.Random(seed).shuffle(shuffled)
        return shuffled
    raise ValueError(order)


def _trait(message: dict[str, Any]) -> str:
    if message["type"] == "track":
        return default_trait("track", message["event"])
    return default_trait(message["type"], message.get("name") or "")


def expected_usage(messages: list[dict[str, Any]], user: str, today: date) -> dict[str, Any]:
    """The ``usage`` of ``user``'s view as ``Reader.user(...).as_dict()`` must show it."""
    unique = {m["messageId"]: m for m in messages if m["userId"] == user}
    stamps: dict[str, list[datetime]] = defaultdict(list)
    for message in unique.values():
        stamps[_trait(message)].append(datetime.fromisoformat(message["timestamp"]))
    out = {}
    for trait, times in stamps.items():
        days = [t.date() for t in times]
        out[trait] = {
            "count": len(times),
            "first_seen": sm.iso(min(times)),
            "last_seen": sm.iso(max(times)),
            "last_7_days": sum(d > today - timedelta(days=7) for d in days),
            "last_30_days": sum(d > today - timedelta(days=30) for d in days),
        }
    return dict(sorted(out.items()))


def expected_catalog(messages: list[dict[str, Any]]) -> Counter:
    """(type, name) -> count over the unique messages: what the event catalog must say."""
    unique = {m["messageId"]: m for m in messages}
    return Counter(
        (m["type"], m["event"] if m["type"] == "track" else m.get("name") or "")
        for m in unique.values()
    )
