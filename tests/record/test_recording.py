"""Recording against DynamoDB (moto server): every call type by every path, exactly once."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from support import segment_messages as sm
from support.delivery import deliver, state

PATHS = ["direct", "eventbridge", "sqs"]
T0 = sm.BASE_TIME


def session() -> list[dict]:
    """Anonymous browsing, sign-up (identify with both ids), usage, a group, an alias."""
    return [
        sm.page("Pricing", "Marketing", anonymous_id="anon-1", at=T0),
        sm.page("Pricing", "Marketing", anonymous_id="anon-1", at=T0 + timedelta(minutes=1)),
        sm.identify(
            {"plan": "trial", "email": "ada@example.com"},
            user_id="u1",
            anonymous_id="anon-1",
            at=T0 + timedelta(minutes=2),
        ),
        sm.track("Report Exported", {"format": "csv"}, user_id="u1", at=T0 + timedelta(minutes=3)),
        sm.track("Report Exported", {"format": "pdf"}, user_id="u1", at=T0 + timedelta(days=-20)),
        sm.screen("Dashboard", user_id="u1", at=T0 + timedelta(minutes=4)),
        sm.group(
            "acme", {"name": "Acme", "employees": 40}, user_id="u1", at=T0 + timedelta(minutes=5)
        ),
        sm.track("Signed Up", user_id=None, anonymous_id="anon-2", at=T0 - timedelta(days=40)),
        sm.alias("anon-2", "u1", at=T0 + timedelta(minutes=6)),
        sm.identify({"plan": "pro"}, user_id="u1", at=T0 + timedelta(minutes=7)),
    ]


EXPECTED_USAGE = {
    "page_pricing": {
        "count": 2, "first_seen": "2026-11-20T09:30:00.000Z", "last_seen": "2026-11-20T09:31:00.000Z",
        "last_7_days": 2, "last_30_days": 2,
    },
    "report_exported": {
        "count": 2, "first_seen": "2026-10-31T09:30:00.000Z", "last_seen": "2026-11-20T09:33:00.000Z",
        "last_7_days": 1, "last_30_days": 2,
    },
    "screen_dashboard": {
        "count": 1, "first_seen": "2026-11-20T09:34:00.000Z", "last_seen": "2026-11-20T09:34:00.000Z",
        "last_7_days": 1, "last_30_days": 1,
    },
    "signed_up": {
        "count": 1, "first_seen": "2026-10-11T09:30:00.000Z", "last_seen": "2026-10-11T09:30:00.000Z",
        "last_7_days": 0, "last_30_days": 0,
    },
}  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_session_by_each_path(path, make_runtime, dynamodb, table) -> None:
    responses = deliver(make_runtime(), session(), path)
    if path == "sqs":
        assert responses == [{"batchItemFailures": []}]
    else:
        assert [r["status"] for r in responses] == ["accepted"] * 10
    user = state(dynamodb, table, ["u1"])["users"]["u1"]
    assert user["linkedIds"] == ["anon-1", "anon-2"]
    assert user["usage"] == EXPECTED_USAGE
    assert user["traits"] == {"plan": "pro", "email": "ada@example.com"}
    assert user["groups"] == {"acme": {"name": "Acme", "employees": 40}}
    assert user["messagesRecorded"] == 10


@pytest.mark.parametrize("path", PATHS)
def test_three_deliveries_in_shuffled_order_equal_one(path, make_runtime, dynamodb, table) -> None:
    messages = session()
    copies = messages * 3
    random.Random(7).shuffle(copies)
    responses = deliver(make_runtime(), copies, path, batch=7)
    if path != "sqs":
        statuses = [r["status"] for r in responses]
        assert statuses.count("accepted") == 10 and statuses.count("duplicate") == 20
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["usage"] == EXPECTED_USAGE
    catalog = {(e["type"], e["name"]): e["count"] for e in state(dynamodb, table, [])["catalog"]}
    assert catalog == {
        ("page", "Pricing"): 2, ("track", "Report Exported"): 2,
        ("screen", "Dashboard"): 1, ("track", "Signed Up"): 1,
    }  # fmt: skip


def test_duplicates_hours_apart_after_other_traffic(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    first = sm.track("Exported", user_id="u1", at=T0)
    deliver(
        runtime,
        [first]
        + [sm.track(f"E{i}", user_id="u1", at=T0 + timedelta(minutes=i)) for i in range(60)],
    )
    # Segment retries for 4 h, EventBridge for 24 h: by then the user-day has several buckets.
    later = deliver(make_runtime(), [first, first], "eventbridge")
    assert [r["status"] for r in later] == ["duplicate", "duplicate"]
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["usage"]["exported"]["count"] == 1


def test_out_of_order_timestamps(make_runtime, dynamodb, table) -> None:
    late = sm.track("Viewed", user_id="u1", at=T0 - timedelta(hours=5))
    early_arrival = sm.track("Viewed", user_id="u1", at=T0)
    latest = sm.identify({"plan": "pro"}, user_id="u1", at=T0 + timedelta(hours=1))
    stale = sm.identify({"plan": "free", "seats": 3}, user_id="u1", at=T0 - timedelta(days=2))
    deliver(make_runtime(), [early_arrival, latest, late, stale])
    user = state(dynamodb, table, ["u1"])["users"]["u1"]
    assert user["usage"]["viewed"]["first_seen"] == "2026-11-20T04:30:00.000Z"
    assert user["usage"]["viewed"]["last_seen"] == "2026-11-20T09:30:00.000Z"
    assert user["traits"] == {"plan": "pro", "seats": 3}  # the stale identify only adds "seats"
    (entry,) = state(dynamodb, table, [])["catalog"]
    assert entry["last_seen"] == "2026-11-20T09:30:00.000Z"


def test_alias_merges_anonymous_usage_into_user(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    deliver(
        runtime, [sm.page("Home", anonymous_id="anon-9", at=T0), sm.alias("anon-9", "u9", at=T0)]
    )
    deliver(runtime, [sm.page("Home", user_id="u9", at=T0 + timedelta(hours=1))])
    user = state(dynamodb, table, ["u9"])["users"]["u9"]
    assert user["linkedIds"] == ["anon-9"]
    assert user["usage"]["page_home"]["count"] == 2


def test_engage_audiences_and_computed_traits(make_runtime, dynamodb, table) -> None:
    deliver(
        make_runtime(),
        [
            sm.engage_audience_identify("u1", "power_users", True, at=T0),
            sm.engage_audience_track("u1", "churn_risk", True, at=T0),
            sm.engage_audience_track("u1", "power_users", False, at=T0 + timedelta(hours=1)),
            sm.track(
                "Trait Computed",
                {"trait_key": "orders_90d", "orders_90d": 12},
                user_id="u1",
                at=T0,
                context={"personas": {"space_id": sm.ENGAGE_SPACE}},
            ),
        ],
    )
    user = state(dynamodb, table, ["u1"])["users"]["u1"]
    assert user["traits"] == {"power_users": False, "churn_risk": True, "orders_90d": 12}


def test_event_catalog(make_runtime, dynamodb, table) -> None:
    deliver(
        make_runtime(),
        [
            sm.track("Order Completed", user_id="u1", at=T0),
            sm.track("Order Completed", user_id="u2", at=T0 + timedelta(hours=2)),
            sm.page(None, "Docs", user_id="u1", at=T0),
            sm.page(user_id="u1", at=T0),
            sm.screen("Settings", user_id="u2", at=T0),
            sm.identify({"plan": "pro"}, user_id="u1", at=T0),
        ],
        "sqs",
    )
    assert state(dynamodb, table, [])["catalog"] == [
        {"type": "track", "name": "Order Completed", "count": 2,
         "last_seen": "2026-11-20T11:30:00.000Z", "trait": "order_completed"},
        {"type": "page", "name": "", "count": 1, "last_seen": "2026-11-20T09:30:00.000Z", "trait": "page_view"},
        {"type": "page", "name": "Docs", "count": 1, "last_seen": "2026-11-20T09:30:00.000Z",
         "trait": "page_docs"},
        {"type": "screen", "name": "Settings", "count": 1, "last_seen": "2026-11-20T09:30:00.000Z",
         "trait": "screen_settings"},
    ]  # fmt: skip


def test_explicit_trackers(make_runtime, dynamodb, table) -> None:
    trackers = '[{"type": "track", "name": "Order Completed", "trait": "orders"}, {"type": "page", "name": "Docs"}]'
    deliver(
        make_runtime(trackers=trackers),
        [
            sm.track("Order Completed", user_id="u1", at=T0),
            sm.track("Something Else", user_id="u1", at=T0),
            sm.page("Intro", "Docs", user_id="u1", at=T0),
        ],
    )
    user = state(dynamodb, table, ["u1"])["users"]["u1"]
    assert sorted(user["usage"]) == ["orders", "page_docs"]
    assert user["messagesRecorded"] == 3
    # the catalog still lists every event, so the user can choose more trackers
    assert len(state(dynamodb, table, [])["catalog"]) == 3


def test_sqs_batch_with_the_same_message_twice(make_runtime, dynamodb, table) -> None:
    msg = sm.track("Clicked", user_id="u1", at=T0)
    (response,) = deliver(
        make_runtime(), [msg, msg, sm.track("Clicked", user_id="u1", at=T0)], "sqs"
    )
    assert response == {"batchItemFailures": []}
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["usage"]["clicked"]["count"] == 2


@pytest.mark.parametrize("first", ["a1", "a2"])
def test_a_group_set_from_two_linked_ids_at_once_reads_the_same_either_way(
    first, make_runtime, dynamodb, table
) -> None:
    """Found by the redelivery property: two anonymous ids set one group's trait with the same
    timestamp, then both are linked to one user. The view must not depend on the order the linked
    partitions are read in (latest timestamp wins, the larger JSON on a tie, as on the write side)."""
    at = sm.BASE_TIME
    groups = {
        "a1": sm.group("g1", {"tier": 0}, anonymous_id="a1", at=at),
        "a2": sm.group("g1", {"tier": 2}, anonymous_id="a2", at=at),
    }
    second = "a2" if first == "a1" else "a1"
    runtime = make_runtime()
    deliver(
        runtime,
        [
            groups[first],
            groups[second],
            sm.identify({}, user_id="u2", anonymous_id=first, at=at),
            sm.identify({}, user_id="u2", anonymous_id=second, at=at),
        ],
    )
    view = state(dynamodb, table, ["u2"])["users"]["u2"]
    assert view["linkedIds"] == ["a1", "a2"]
    assert view["groups"] == {"g1": {"tier": 2}}
