"""The customer's tracking plan: warn records and keeps violations; block keeps the message as
rejected; a plan over Lambda's 4 KB environment limit is read from the table and verified."""

from __future__ import annotations

import hashlib
import json

import pytest

from segment_usage.handler import Runtime
from segment_usage.ingest.tracking_plan import TrackingPlan, TrackingPlanError
from segment_usage.read.view import Reader
from segment_usage.settings import Settings
from support import segment_messages as sm
from support.delivery import deliver, state

PLAN = {
    "common": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "properties": {"context": {"required": ["library"]}},
    },
    "track": {
        "Order Completed": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "required": ["revenue"],
            "properties": {"revenue": {"type": "number"}, "currency": {"enum": ["USD", "EUR"]}},
        }
    },
    "identify": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "properties": {"plan": {"enum": ["free", "pro"]}},
    },
}
GOOD = sm.track("Order Completed", {"revenue": 12.5, "currency": "EUR"}, user_id="u1")
BAD = sm.track("Order Completed", {"revenue": "x", "currency": "GBP"}, user_id="u1")
BAD_ERRORS = [
    "properties.currency: 'GBP' is not one of ['USD', 'EUR']",
    "properties.revenue: 'x' is not of type 'number'",
]


def test_warn_records_and_keeps_violations(make_runtime, dynamodb, table) -> None:
    responses = deliver(make_runtime(tracking_plan=json.dumps(PLAN)), [GOOD, BAD, BAD])
    assert [r["status"] for r in responses] == ["accepted", "accepted", "duplicate"]
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["usage"]["order_completed"]["count"] == 2
    (kept,) = Reader(dynamodb, table).rejected()
    assert (kept["kind"], kept["messageId"], kept["reasons"]) == (
        "warning",
        BAD["messageId"],
        BAD_ERRORS,
    )


def test_block_keeps_the_message_as_rejected(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime(tracking_plan=json.dumps(PLAN), tracking_plan_mode="block")
    bad_identify = sm.identify({"plan": "enterprise"}, user_id="u1")
    responses = deliver(runtime, [GOOD, BAD, bad_identify], "eventbridge")
    assert [r["status"] for r in responses] == ["accepted", "rejected", "rejected"]
    assert responses[1]["errors"] == BAD_ERRORS
    assert responses[2]["errors"] == ["traits.plan: 'enterprise' is not one of ['free', 'pro']"]
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["usage"]["order_completed"]["count"] == 1
    kept = Reader(dynamodb, table).rejected()
    assert sorted(k["kind"] for k in kept) == ["blocked", "blocked"]
    assert {json.loads(k["raw"])["messageId"] for k in kept} == {
        BAD["messageId"],
        bad_identify["messageId"],
    }


def test_common_schema_and_unplanned_events(make_runtime) -> None:
    plan = dict(PLAN, unplanned_events="violation")
    runtime = make_runtime(tracking_plan=json.dumps(plan), tracking_plan_mode="block")
    no_library = sm.track("Order Completed", {"revenue": 1}, user_id="u1")
    no_library["context"] = {}
    (first, second) = deliver(runtime, [no_library, sm.track("Unplanned Thing", user_id="u1")])
    assert first["errors"] == ["context.library: is required"]
    assert second["errors"] == ["event: 'Unplanned Thing' is not in the tracking plan"]


def big_plan() -> str:
    events = {
        f"Feature {i} Used": {
            "type": "object",
            "properties": {"variant": {"enum": ["a", "b"]}, "duration_ms": {"type": "integer"}},
        }
        for i in range(120)
    }
    return json.dumps({"track": events, **{k: v for k, v in PLAN.items() if k != "track"}})


def store_plan(dynamodb, table: str, text: str) -> str:
    """What the Terraform module does: the plan in the table, its sha256 in the environment."""
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": "CONFIG"}, "sk": {"S": "TRACKING_PLAN"}, "plan": {"S": text}},
    )
    return hashlib.sha256(text.encode()).hexdigest()


def test_plan_over_4_kb_is_read_from_the_table(dynamodb, table) -> None:
    text = big_plan()
    assert len(text.encode()) > 4096
    env = {
        "SEGMENT_USAGE_TABLE": table,
        "SEGMENT_USAGE_TRACKING_PLAN_SHA256": store_plan(dynamodb, table, text),
        "SEGMENT_USAGE_TRACKING_PLAN_MODE": "block",
    }
    runtime = Runtime(Settings.from_env(env), dynamodb)
    bad = sm.track("Feature 7 Used", {"variant": "c"}, user_id="u1")
    (response,) = deliver(runtime, [bad])
    assert response["errors"] == ["properties.variant: 'c' is not one of ['a', 'b']"]


def test_a_plan_that_cannot_load_never_stops_ingest(dynamodb, table, monkeypatch) -> None:
    """A stored plan of another sha256 (a deployment in progress) or none at all: block mode
    keeps every message as kind "plan" (replayable), warn mode records it with a warning; no
    delivery raises; once the plan is there, the next load applies it."""
    store_plan(dynamodb, table, big_plan())
    env = {
        "SEGMENT_USAGE_TABLE": table,
        "SEGMENT_USAGE_TRACKING_PLAN_SHA256": "0" * 64,
        "SEGMENT_USAGE_TRACKING_PLAN_MODE": "block",
    }
    runtime = Runtime(Settings.from_env(env), dynamodb)
    assert "does not match SEGMENT_USAGE_TRACKING_PLAN_SHA256" in runtime.plan_problem
    ok = sm.track("Feature 7 Used", {"variant": "a"}, user_id="u1")
    (response,) = deliver(runtime, [ok])
    assert response["status"] == "rejected" and response["errors"][0].startswith("tracking plan:")
    (kept,) = Reader(dynamodb, table).rejected()
    assert kept["kind"] == "plan"
    warn = Runtime(Settings.from_env({**env, "SEGMENT_USAGE_TRACKING_PLAN_MODE": "warn"}), dynamodb)
    (response,) = deliver(warn, [sm.track("Feature 7 Used", user_id="u2")])
    assert response["status"] == "accepted"
    # The deployment finishes: the right hash; the next load (after the retry pause) applies it.
    env["SEGMENT_USAGE_TRACKING_PLAN_SHA256"] = store_plan(dynamodb, table, big_plan())
    fixed = Runtime(
        Settings.from_env({**env, "SEGMENT_USAGE_TRACKING_PLAN_SHA256": "ab" * 32}), dynamodb
    )
    assert "is missing" not in (fixed.plan_problem or "x")  # the item exists, another hash
    object.__setattr__(fixed, "settings", Settings.from_env(env))
    monkeypatch.setattr(fixed, "PLAN_RETRY_SECONDS", -1.0)
    (response,) = deliver(fixed, [sm.track("Feature 7 Used", {"variant": "c"}, user_id="u3")])
    assert fixed.plan_problem is None and response["status"] == "rejected"
    assert response["errors"] == ["properties.variant: 'c' is not one of ['a', 'b']"]


def test_missing_stored_plan_is_a_plan_problem_not_a_crash(dynamodb, table) -> None:
    env = {"SEGMENT_USAGE_TABLE": table, "SEGMENT_USAGE_TRACKING_PLAN_SHA256": "ab" * 32}
    runtime = Runtime(Settings.from_env(env), dynamodb)
    assert "is missing from table" in runtime.plan_problem


@pytest.mark.parametrize(
    ("plan", "error"),
    [
        ("{", "tracking plan: not valid JSON"),
        ("7", "tracking plan: expected a JSON object"),
        ('{"tracks": {}}', "tracking plan: unknown keys ['tracks']"),
        ('{"track": {"A": {"type": "nope"}}}', "tracking plan: track['A']: /type: 'nope' is not"),
        ('{"track": {"A": {"type": ["objekt"]}}}', "tracking plan: track['A']: /type: 'objekt'"),
        ('{"track": {"A": {"minimum": "x"}}}', "tracking plan: track['A']: invalid schema"),
        ('{"identify": 3}', "tracking plan: identify: expected a JSON Schema object"),
        (
            '{"unplanned_events": "drop"}',
            "tracking plan: unplanned_events: 'drop' is not one of ['allow', 'violation']",
        ),
    ],
)
def test_malformed_plans_are_named(plan: str, error: str) -> None:
    with pytest.raises(TrackingPlanError, match=error.replace("[", r"\[").replace("]", r"\]")):
        TrackingPlan.from_json(plan)
