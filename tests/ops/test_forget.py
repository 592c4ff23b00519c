"""Erasure end to end: forget a person, then a late redelivery, a replay and a buffered message
for them: nothing comes back; the suppression is a keyed hash; unsuppress lifts it."""

from __future__ import annotations

import json

from segment_usage.read.view import Reader
from support import segment_messages as sm
from support.cli import run_json
from support.delivery import TODAY, deliver

run = run_json


def everything(dynamodb, table) -> list[dict]:
    return dynamodb.scan(TableName=table)["Items"]


def text_of(items: list[dict]) -> str:
    return json.dumps(items, default=repr)


def test_forget_removes_every_item_and_nothing_comes_back(
    cli_env, make_runtime, dynamodb, table
) -> None:
    runtime = make_runtime()
    jane = [
        sm.page("Pricing", anonymous_id="jane-laptop"),
        sm.identify({"email": "jane@example.com"}, user_id="jane", anonymous_id="jane-laptop"),
        sm.group("acme", {"name": "Acme"}, user_id="jane"),
        sm.track("Report Exported", user_id="jane"),
    ]
    invalid = sm.track("Report Exported", user_id="jane", messageId="m" * 101)
    late = sm.track("Report Exported", user_id="jane")
    deliver(runtime, [*jane, invalid])
    deliver(runtime, [sm.track("Signed In", user_id="joe")])
    assert "jane@example.com" in text_of(everything(dynamodb, table))

    code, dry = run("forget", "jane")
    assert code == 0 and dry["applied"] is False and dry["linkedIds"] == 1
    assert dry["items"]["profile"] == 1 and dry["items"]["kept message"] == 1
    assert "jane@example.com" in text_of(everything(dynamodb, table))  # dry: nothing moved

    code, report = run("forget", "jane", "--apply")
    assert code == 0 and report["suppressionMarkers"] == 2
    assert any("point-in-time" in r for r in report["cannotRemove"])
    text = text_of(everything(dynamodb, table))
    assert "jane" not in text, "an item still names jane"
    assert "joe" in text  # nobody else was touched

    # A late redelivery (direct), a buffered message (SQS) and a replay: dropped, counted, by
    # a container started after the erasure and by one that was running (a minute later).
    runtime.KEY_RETRY_SECONDS = 0.0
    fresh = make_runtime()
    assert deliver(fresh, [jane[3]])[0]["status"] == "suppressed"
    assert deliver(runtime, [late], "sqs") == [{"batchItemFailures": []}]
    assert deliver(runtime, [sm.page("Home", anonymous_id="jane-laptop")])[0]["status"] == (
        "suppressed"
    )
    assert deliver(fresh, [invalid])[0]["status"] == "suppressed"  # not even kept as rejected
    assert Reader(dynamodb, table).user("jane", today=TODAY).found is False
    assert "jane" not in text_of(everything(dynamodb, table))

    code, lifted = run("unsuppress", "jane")
    assert lifted == {"lifted": 1}
    assert deliver(make_runtime(), [late])[0]["status"] == "accepted"


def test_a_delete_message_erases_on_any_path_when_the_deployment_allows(
    make_runtime, dynamodb, table
) -> None:
    delete = {"type": "delete", "userId": "ann", "timestamp": "2026-11-22T10:00:00Z"}
    off = make_runtime()
    deliver(off, [sm.identify({"email": "ann@example.com"}, user_id="ann")])
    assert deliver(off, [delete])[0]["status"] == "rejected"  # not allowed: kept for an operator
    on = make_runtime(delete_messages="true")
    (response,) = deliver(on, [sm.eventbridge_event({**delete, "messageId": "del-1"})], "direct")
    assert response["status"] == "erased"
    assert Reader(dynamodb, table).user("ann", today=TODAY).traits == {}
    assert deliver(on, [sm.identify({"email": "again"}, user_id="ann")])[0]["status"] == (
        "suppressed"
    )
