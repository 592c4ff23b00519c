"""Data retention (record/retention.py): with ``data_retention_days`` N, every item of a person's
partitions carries a TTL, an active person's items keep moving forward, and an inactive person's
all expire between N and N + SLACK_DAYS days after their last message. Off by default."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from segment_usage.handler import Runtime
from segment_usage.record.recorder import Recorder
from segment_usage.record.retention import SLACK_DAYS
from segment_usage.settings import ConfigError, Settings
from segment_usage.table.keys import anonymous_pk, user_pk
from segment_usage.table.pages import query_items
from support import segment_messages as sm
from support.delivery import TODAY, deliver

DAY = 86_400
N = 30
START = TODAY - timedelta(days=20)


class Clock:
    """The writer's today and the wall clock's epoch seconds (noon of that day), moved together."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day

    def epoch(self) -> int:
        return int(datetime.combine(self.day, time(12), UTC).timestamp())


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(START)
    monkeypatch.setattr("segment_usage.table.store.epoch_seconds", clock.epoch)
    return clock


def runtime(make_runtime: Callable[..., Runtime], clock: Clock, **env: str) -> Runtime:
    made = make_runtime(**env)
    made.recorder = Recorder(made.store, clock)
    return made


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def partition(dynamodb: Any, table: str, pk: str) -> dict[str, int | None]:
    """sk -> expires_at (None when the item has none) of every item in ``pk``."""
    items = query_items(
        dynamodb,
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    return {
        item["sk"]["S"]: int(item["expires_at"]["N"]) if "expires_at" in item else None
        for item in items
    }


def activity(day: date, user: str, anonymous: str | None = None) -> list[dict[str, Any]]:
    """A person's day: identify (linking their anonymous id), a group call, tracks."""
    messages = [
        sm.identify(
            {"email": f"{user}@example.com", "plan": "pro"},
            user_id=user,
            anonymous_id=anonymous,
            at=at(day, 9),
        ),
        sm.group("acme", {"name": "Acme"}, user_id=user, at=at(day, 10)),
    ]
    messages += [
        sm.track(event, user_id=user, at=at(day, 11 + i))
        for i, event in enumerate(["Report Exported", "Search Run", "Search Run"])
    ]
    if anonymous:
        messages.append(sm.track("Page Viewed", anonymous_id=anonymous, at=at(day, 8)))
    return messages


def test_an_active_person_moves_forward_and_an_inactive_one_expires(
    make_runtime: Callable[..., Runtime], dynamodb: Any, table: str, clock: Clock
) -> None:
    ingest = runtime(make_runtime, clock, data_retention_days=str(N))
    deliver(ingest, activity(START, "ana", "anon-ana") + activity(START, "bo"))
    first = clock.epoch()
    for pk in (user_pk("ana"), anonymous_pk("anon-ana"), user_pk("bo")):
        stamped = partition(dynamodb, table, pk)
        assert stamped, pk
        # Every item of a person's partitions, whatever wrote it (bucket, profile, group, claim).
        assert set(stamped.values()) == {first + N * DAY}, (pk, stamped)

    # Ten days later ana is active again (a track only: her profile and group are not rewritten).
    clock.day = START + timedelta(days=10)
    later = clock.epoch()
    deliver(ingest, [sm.track("Search Run", user_id="ana", at=at(clock.day, 9))])
    ana = partition(dynamodb, table, user_pk("ana"))
    for sk, expires in ana.items():
        if sk.startswith("D#" + START.isoformat()):
            assert expires == first + N * DAY  # old buckets: their counts live on in the rollup
        elif sk.startswith("D#"):
            assert expires == later + N * DAY
        else:  # profile, group: moved forward with slack, so the next refresh is a week away
            assert expires == later + (N + SLACK_DAYS) * DAY, sk
    assert ingest.recorder.retention.refreshes == 2  # PROFILE and G#acme

    # bo was not seen again: everything of his expires N days after his last message.
    assert set(partition(dynamodb, table, user_pk("bo")).values()) == {first + N * DAY}
    # ana's anonymous partition was not active either: it ages out on its own.
    assert set(partition(dynamodb, table, anonymous_pk("anon-ana")).values()) == {first + N * DAY}

    # A second message the same day refreshes nothing again (one Query a partition a day).
    calls: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb.Query", lambda **_: calls.append("q"))
    deliver(ingest, [sm.track("Report Exported", user_id="ana", at=at(clock.day, 10))])
    assert calls.count("q") == 0
    # The invariant the module docs promise: no item of ana's outlives her last activity by more
    # than N + SLACK_DAYS days, and none expires before N days after it.
    assert all(
        later + N * DAY <= e <= later + (N + SLACK_DAYS) * DAY
        for sk, e in partition(dynamodb, table, user_pk("ana")).items()
        if e is not None and not sk.startswith("D#" + START.isoformat())
    )


def test_off_by_default_no_item_expires(
    make_runtime: Callable[..., Runtime], dynamodb: Any, table: str, clock: Clock
) -> None:
    deliver(runtime(make_runtime, clock), activity(START, "cy", "anon-cy"))
    for pk in (user_pk("cy"), anonymous_pk("anon-cy")):
        stamped = partition(dynamodb, table, pk)
        assert stamped and set(stamped.values()) == {None}


@pytest.mark.parametrize("value", ["29", "0", "3651", "-5", "thirty", "30.5"])
def test_retention_shorter_than_the_redelivery_windows_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="SEGMENT_USAGE_DATA_RETENTION_DAYS"):
        Settings.from_env({"SEGMENT_USAGE_TABLE": "t", "SEGMENT_USAGE_DATA_RETENTION_DAYS": value})


def test_retention_is_read_from_the_environment() -> None:
    env = {"SEGMENT_USAGE_TABLE": "t"}
    assert Settings.from_env(env).data_retention_days is None
    assert (
        Settings.from_env({**env, "SEGMENT_USAGE_DATA_RETENTION_DAYS": "30"}).data_retention_days
        == 30
    )
    assert (
        Settings.from_env({**env, "SEGMENT_USAGE_DATA_RETENTION_DAYS": " "}).data_retention_days
        is None
    )
