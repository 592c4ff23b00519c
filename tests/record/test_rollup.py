"""Per-user rollups (rollup.py, late.py): months of history, messages weeks late and out of order,
redeliveries of folded days, racing compactions; the view stays exact and its read stays bounded."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from segment_usage.handler import Runtime
from segment_usage.read.view import Reader
from segment_usage.record import days
from segment_usage.record.recorder import Recorder
from segment_usage.table.keys import ROLLUP_SK, user_pk
from segment_usage.table.rollups import Rollup
from support import segment_messages as sm
from support.delivery import deliver

START = date(2026, 3, 1)
EVENTS = ["Report Exported", "Dashboard Viewed", "Invite Sent", "Plan Upgraded"]


class Clock:
    """The writer's "today", moved by the test."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


def runtime_with(make_runtime: Callable[..., Runtime], clock: Clock) -> Runtime:
    runtime = make_runtime()
    runtime.recorder = Recorder(runtime.store, clock)
    return runtime


def at(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(8), UTC) + timedelta(seconds=rng.randrange(12 * 3600))


def expected_view(messages: dict[str, dict[str, Any]], today: date) -> dict[str, Any]:
    """Usage traits computed directly from the unique messages, as the view must show them."""
    by_trait: dict[str, list[datetime]] = defaultdict(list)
    for message in messages.values():
        trait = message["event"].lower().replace(" ", "_")
        by_trait[trait].append(datetime.fromisoformat(message["timestamp"]))
    out = {}
    for trait, stamps in by_trait.items():
        days = [s.date() for s in stamps]
        out[trait] = {
            "count": len(stamps),
            "first_seen": sm.iso(min(stamps)),
            "last_seen": sm.iso(max(stamps)),
            "last_7_days": sum(d > today - timedelta(days=7) for d in days),
            "last_30_days": sum(d > today - timedelta(days=30) for d in days),
        }
    return out


def count_requests(client: Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)

    def hook(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    client.meta.events.register("before-call.dynamodb", hook)
    return counts


def test_months_of_late_and_redelivered_messages_roll_up_exactly(
    make_runtime: Callable[..., Runtime], dynamodb: Any, table: str
) -> None:
    rng = random.Random(20261123)
    clock = Clock(START)
    runtime = runtime_with(make_runtime, clock)
    user = "rollup-user"
    unique: dict[str, dict[str, Any]] = {}
    held: list[tuple[date, dict[str, Any]]] = []  # (day it arrives, message)
    late_to_folded = late_to_open_closed_day = 0
    for n in range(150):
        clock.day = START + timedelta(days=n)
        today = [
            sm.track(rng.choice(EVENTS), user_id=user, at=at(clock.day, rng))
            for _ in range(rng.randint(1, 4))
        ]
        unique.update((m["messageId"], m) for m in today)
        arriving = []
        for message in today:
            roll = rng.random()
            if roll < 0.08:  # a device offline for weeks: arrives 35-70 days later
                held.append((clock.day + timedelta(days=rng.randint(35, 70)), message))
            elif roll < 0.2:  # a little late: arrives 1-3 days later
                held.append((clock.day + timedelta(days=rng.randint(1, 3)), message))
            else:
                arriving.append(message)
        arriving += [m for when, m in held if when == clock.day]
        held = [(when, m) for when, m in held if when != clock.day]
        if n > 40 and rng.random() < 0.3:  # Segment replays an old message (often a folded day)
            arriving.append(rng.choice(list(unique.values())))
        rng.shuffle(arriving)
        stored = runtime.store.get(user_pk(user), ROLLUP_SK)
        folded_through = stored["w"]["S"] if stored else ""
        for message in arriving:
            day = message["timestamp"][:10]
            if days.is_closed(day, clock.day) and message["messageId"] in unique:
                late_to_folded += day <= folded_through
                late_to_open_closed_day += day > folded_through
        deliver(runtime, arriving, path=rng.choice(["direct", "sqs"]))
    last_daily = clock.day
    for when, message in held:  # whatever is still held arrives at the end
        clock.day = max(clock.day, when)
        deliver(runtime, [message])

    final = clock.day
    view = Reader(dynamodb, table).user(user, today=final).as_dict()
    assert view["usage"] == expected_view(unique, final)
    assert view["messagesRecorded"] == len(unique)
    # The paths this test is about were all taken.
    assert runtime.recorder.compactor.compactions >= 20
    assert late_to_folded >= 3 and late_to_open_closed_day >= 3, (
        late_to_folded,
        late_to_open_closed_day,
    )
    stored = runtime.store.get(user_pk(user), ROLLUP_SK)
    # Kept current while the user was active: behind by at most one check interval.
    behind = days.FOLD_AFTER_DAYS + days.CHECK_EVERY_DAYS
    assert stored["w"]["S"] >= (last_daily - timedelta(days=behind)).isoformat()


def test_a_read_is_two_requests_over_a_bounded_number_of_days(
    make_runtime: Callable[..., Runtime], dynamodb: Any, table: str
) -> None:
    """400 days of daily use: the view reads the rollup and the buckets of at most
    FOLD_AFTER_DAYS + CHECK_EVERY_DAYS + 1 days, in two requests."""
    rng = random.Random(3)
    clock = Clock(START)
    runtime = runtime_with(make_runtime, clock)
    user = "daily-user"
    for n in range(400):
        clock.day = START + timedelta(days=n)
        messages = [sm.track(rng.choice(EVENTS), user_id=user, at=at(clock.day, rng))]
        deliver(runtime, messages, path="sqs")
    requests = count_requests(dynamodb)
    days_read: set[str] = set()

    def note_days(parsed: dict[str, Any], **_: Any) -> None:
        days_read.update(
            i["sk"]["S"][2:12] for i in parsed.get("Items", []) if i["sk"]["S"][:2] == "D#"
        )

    dynamodb.meta.events.register("after-call.dynamodb.Query", note_days)
    view = Reader(dynamodb, table).user(user, today=clock.day).as_dict()
    dynamodb.meta.events.unregister("after-call.dynamodb.Query", note_days)
    assert sum(u["count"] for u in view["usage"].values()) == 400
    assert dict(requests) == {"GetItem": 1, "Query": 1}
    assert len(days_read) <= days.FOLD_AFTER_DAYS + days.CHECK_EVERY_DAYS + 1, len(days_read)


def test_a_late_write_racing_a_compaction_is_folded_once(
    make_runtime: Callable[..., Runtime], dynamodb: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A late message lands in a closed day after a compaction read the buckets but before it
    wrote the rollup: the late transaction bumped the rollup's version, so the compaction's write
    fails, it reads again, and the message is counted once."""
    rng = random.Random(11)
    clock = Clock(START)
    runtime = runtime_with(make_runtime, clock)
    user = "racing-user"
    for n in range(10):
        clock.day = START + timedelta(days=n)
        deliver(runtime, [sm.track("Report Exported", user_id=user, at=at(clock.day, rng))])
    clock.day = START + timedelta(days=60)
    late = sm.track("Report Exported", user_id=user, at=at(START + timedelta(days=5), rng))
    store = runtime.store
    original = store.buckets_between
    raced = []

    def buckets_then_a_late_write(*args: Any) -> Any:
        buckets = original(*args)
        if not raced:  # once (the late write reads through here too, to catch the rollup up)
            raced.append(None)
            raced[0] = runtime.recorder.late.record([runtime_message(runtime, late)])
        return buckets

    monkeypatch.setattr(store, "buckets_between", buckets_then_a_late_write)
    folded = runtime.recorder.compactor.compact(Rollup(user_pk(user)), clock.day)
    assert raced == [[("accepted", None)]]
    assert folded is not None and folded.usage["report_exported"][0] == 11
    view = Reader(dynamodb, table).user(user, today=clock.day).as_dict()
    assert view["usage"]["report_exported"]["count"] == 11
    assert view["messagesRecorded"] == 11
    # And its redelivery, now that its day is folded, is a duplicate.
    assert deliver(runtime, [late])[0]["status"] == "duplicate"
    assert Reader(dynamodb, table).user(user, today=clock.day).as_dict()["messagesRecorded"] == 11


def runtime_message(runtime: Runtime, message: dict[str, Any]) -> Any:
    from segment_usage.ingest.messages import Message

    return Message.from_valid(message, runtime.trackers)
