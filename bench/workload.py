"""The bench workload: a day of realistic Segment traffic for a few users, and what it should count.

Every user sends ~50 messages spread over one UTC day, mixing track, page, screen and identify
(built with tests/support/segment_messages.py). Everything is seeded, so every run is the same.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from support import segment_messages as sm

DAY = datetime(2026, 11, 20, tzinfo=UTC)
USAGE_TYPES = ("track", "page", "screen")
TRACK_EVENTS = (
    "Order Completed",
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Report Exported",
    "Dashboard Shared",
    "Signed In",
    "Search Performed",
)
PAGES = ("Home", "Pricing", "Settings", "Docs")
SCREENS = ("Inbox", "Profile", "Composer")
PLANS = ("free", "team", "enterprise")


@dataclass
class Workload:
    messages: list[dict[str, Any]]  # first deliveries, in timestamp order
    expected: Counter  # (userId, type, name) -> count, usage messages only

    @property
    def usage_messages(self) -> int:
        return sum(self.expected.values())


def build(users: int = 20, per_user: int = 50, seed: int = 20261120) -> Workload:
    rng = random.Random(seed)
    messages: list[dict[str, Any]] = []
    expected: Counter = Counter()
    for u in range(users):
        user_id = f"user-{u:03d}"
        anonymous_id = f"anon-{rng.getrandbits(64):016x}"
        stamps = sorted(rng.uniform(0, 86_399) for _ in range(per_user))
        for n, seconds in enumerate(stamps):
            at = DAY + timedelta(seconds=seconds)
            common = {
                "user_id": user_id,
                "anonymous_id": anonymous_id,
                "at": at,
                "message_id": f"ajs-next-{rng.getrandbits(128):032x}",
            }
            roll = rng.random()
            if n == 0 or roll < 0.08:
                msg = sm.identify(
                    {
                        "email": f"{user_id}@example.com",
                        "plan": rng.choice(PLANS),
                        "seats": rng.randint(1, 50),
                    },
                    **common,
                )
            elif roll < 0.63:
                event = rng.choice(TRACK_EVENTS)
                props = {"value": round(rng.uniform(1, 500), 2), "currency": "USD"}
                msg = sm.track(event, props, **common)
            elif roll < 0.88:
                msg = sm.page(rng.choice(PAGES), **common)
            else:
                msg = sm.screen(rng.choice(SCREENS), **common)
            if msg["type"] in USAGE_TYPES:
                expected[(user_id, msg["type"], usage_name(msg))] += 1
            messages.append(msg)
    messages.sort(key=lambda m: m["timestamp"])
    return Workload(messages, expected)


def usage_name(message: dict[str, Any]) -> str:
    """What a usage message is counted by: its event, or its page/screen name."""
    if message["type"] == "track":
        return message["event"]
    return message.get("name") or message.get("category") or ""


# -- the hot-key workload (issue 10) --------------------------------------------------------------
HOT_PAGE = "Home"
HOT_SHARE = 0.40  # one page is 40% of all traffic
EVENT_NAMES = tuple(f"Feature {n:02d} Used" for n in range(40))  # the rest: Zipf over these


def build_hot(users: int = 1000, messages: int = 3000, seed: int = 20261123) -> Workload:
    """A typical mix from many users: page Home is 40% of traffic; other event, page and screen
    names are Zipf-distributed (weight 1/rank); ~5% identify. Users are drawn uniformly."""
    rng = random.Random(seed)
    names = [("track", n) for n in EVENT_NAMES] + [("page", p) for p in PAGES[1:]]
    names += [("screen", s) for s in SCREENS]
    rng.shuffle(names)
    weights = [1 / rank for rank in range(1, len(names) + 1)]
    out: list[dict[str, Any]] = []
    expected: Counter = Counter()
    for n in range(messages):
        user_id = f"user-{rng.randrange(users):04d}"
        common = {
            "user_id": user_id,
            "anonymous_id": None,
            "at": DAY + timedelta(seconds=86_399 * n / messages),
            "message_id": f"ajs-next-{rng.getrandbits(128):032x}",
        }
        roll = rng.random()
        if roll < HOT_SHARE:
            msg = sm.page(HOT_PAGE, **common)
        elif roll < 0.95:
            call_type, name = rng.choices(names, weights)[0]
            if call_type == "track":
                msg = sm.track(name, {"plan": rng.choice(PLANS)}, **common)
            elif call_type == "page":
                msg = sm.page(name, **common)
            else:
                msg = sm.screen(name, **common)
        else:
            msg = sm.identify({"plan": rng.choice(PLANS)}, **common)
        if msg["type"] in USAGE_TYPES:
            expected[(user_id, msg["type"], usage_name(msg))] += 1
        out.append(msg)
    return Workload(out, expected)
