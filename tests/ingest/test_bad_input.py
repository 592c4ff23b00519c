"""Bad input gets a clear first error: NaN/Infinity, a numeric userId, deep nesting, and a JSON array
of events (handled element by element, on purpose)."""

from __future__ import annotations

import json

import pytest

from segment_usage.ingest.spec import MAX_DEPTH, validate_message
from segment_usage.read.view import Reader
from support import segment_messages as sm
from support.delivery import deliver, state


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_rejected_with_their_path(bad, make_runtime, dynamodb, table) -> None:
    # Lambda's json.loads accepts NaN/Infinity: the handler sees a float that JSON cannot carry.
    msg = json.loads(json.dumps(sm.track("Paid", {"amount": 3, "items": [1, bad]}, user_id="u1")))
    assert validate_message(msg) == [
        "properties.items[1]: NaN and Infinity are not JSON numbers (rejected, never stored altered)"
    ]
    (response,) = deliver(make_runtime(), [msg])
    assert response["status"] == "rejected"
    (kept,) = Reader(dynamodb, table).rejected()
    assert kept["kind"] == "invalid" and kept["reasons"] == response["errors"]
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["messagesRecorded"] == 0


def test_nan_in_identify_traits_never_reaches_the_profile(make_runtime, dynamodb, table) -> None:
    msg = sm.identify({"score": float("nan"), "plan": "pro"}, user_id="u1")
    (response,) = deliver(make_runtime(), [msg])
    assert response["errors"][0].startswith("traits.score: NaN and Infinity")
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["traits"] == {}


@pytest.mark.parametrize("field", ["userId", "anonymousId"])
def test_a_numeric_id_says_it_must_be_a_string(field) -> None:
    msg = sm.track("Clicked", user_id="u1")
    msg["userId"], msg["anonymousId"] = None, None
    msg[field] = 12345
    assert validate_message(msg) == [f"{field}: {field} must be a string"]


def test_no_id_at_all_still_says_one_is_required() -> None:
    msg = sm.track("Clicked", user_id=None, anonymous_id=None)
    assert validate_message(msg) == [
        "message: userId or anonymousId is required (a JSON null counts as absent)"
    ]


def nested(levels: int) -> dict:
    """An object ``levels`` deep: {"n": {"n": ... {}}}."""
    value: dict = {}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


def test_nesting_up_to_the_limit_is_fine_and_past_it_is_rejected_with_its_path() -> None:
    # The message is level 1 and properties level 2: properties may hold MAX_DEPTH - 1 levels.
    assert validate_message(sm.track("Deep", nested(MAX_DEPTH - 1), user_id="u1")) == []
    errors = validate_message(sm.track("Deep", nested(MAX_DEPTH), user_id="u1"))
    path = "properties" + ".n" * (MAX_DEPTH - 1)
    assert errors == [f"{path}: nested deeper than {MAX_DEPTH} levels (the limit)"]


def test_many_brackets_but_shallow_is_not_too_deep() -> None:
    msg = sm.track("Wide", {"items": [{"a": [1]} for _ in range(50)]}, user_id="u1")
    assert validate_message(msg) == []


def test_a_json_array_of_eventbridge_events_records_each(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    first, second = sm.track("A", user_id="u1"), sm.track("B", user_id="u1")
    invalid = sm.track("C", user_id=7)
    event = [sm.eventbridge_event(m) for m in (first, second, invalid)]
    (response,) = deliver(runtime, [event])
    assert [r["status"] for r in response["results"]] == ["accepted", "accepted", "rejected"]
    assert response["results"][2]["errors"] == ["userId: userId must be a string"]
    (again,) = deliver(runtime, [event])
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate", "rejected"]
    usage = state(dynamodb, table, ["u1"])["users"]["u1"]["usage"]
    assert {name: t["count"] for name, t in usage.items()} == {"a": 1, "b": 1}
