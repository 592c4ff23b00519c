"""``segment-usage replay`` and ``segment-usage redrive`` against moto: dry by default, filters,
what records leaves the rejected list, twice counts once; a DLQ redriven through the handler."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from segment_usage.cli import main
from segment_usage.read.view import Reader
from support import segment_messages as sm
from support.cli import run_json
from support.delivery import deliver, state
from support.moto_server import boto3_client

PLAN = json.dumps(
    {
        "track": {
            "Order Completed": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "required": ["revenue"],
            }
        }
    }
)


run = run_json


def test_blocked_messages_replay_after_the_plan_is_relaxed(
    cli_env, make_runtime, dynamodb, table
) -> None:
    blocking = make_runtime(tracking_plan=PLAN, tracking_plan_mode="block")
    order = sm.track("Order Completed", {"currency": "USD"}, user_id="u1")
    deliver(blocking, [order])
    # A second copy, kept apart: an SQS body of the raw message, laid out differently.
    with contextlib.redirect_stdout(io.StringIO()):
        blocking.handle(sm.sqs_event([json.dumps(order, indent=1)]))
    broken = sm.track("Clicked", user_id="u1", **sm.NO_TIME)
    deliver(blocking, [broken])
    assert len(Reader(dynamodb, table).rejected()) == 3

    # Dry run (the default), with the function's config now without the plan: nothing changes.
    code, report = run("replay")
    assert code == 0 and report["applied"] is False
    outcomes = sorted(r["outcome"] for r in report["results"])
    assert outcomes == ["still rejected", "would record", "would record"]
    assert len(Reader(dynamodb, table).rejected()) == 3
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["messagesRecorded"] == 0

    code, report = run("replay", "--kind", "blocked", "--apply")
    assert code == 0
    assert sorted(r["outcome"] for r in report["results"]) == ["duplicate", "recorded"]
    left = Reader(dynamodb, table).rejected()
    assert [k["kind"] for k in left] == ["invalid"]  # what recorded left the list

    code, report = run("replay", "--apply")  # again: only the still-invalid one, still rejected
    assert [r["outcome"] for r in report["results"]] == ["still rejected"]
    now = state(dynamodb, table, ["u1"])
    assert now["users"]["u1"]["usage"]["order_completed"]["count"] == 1
    assert {e["name"]: e["count"] for e in now["catalog"]} == {"Order Completed": 1}
    # and Segment retrying the original now is a duplicate, not a second count
    assert deliver(make_runtime(), [order])[0]["status"] == "duplicate"


def test_filters_by_kind_reason_and_time(cli_env, make_runtime) -> None:
    runtime = make_runtime()
    deliver(runtime, [sm.track("Clicked", user_id="u1", **sm.NO_TIME)])
    deliver(runtime, [sm.track("Clicked", user_id=None, anonymous_id=None)])
    assert len(run("replay")[1]["results"]) == 2
    assert len(run("replay", "--kind", "envelope")[1]["results"]) == 0
    (only,) = run("replay", "--reason", "USERID OR ANONYMOUSID")[1]["results"]
    assert only["reasons"] == [
        "message: userId or anonymousId is required (a JSON null counts as absent)"
    ]
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert run("replay", "--since", later)[1]["results"] == []
    assert len(run("replay", "--until", later)[1]["results"]) == 2


def test_bad_time_filter_names_the_flag(cli_env) -> None:
    with pytest.raises(SystemExit, match="--since: 'yesterday' is not an ISO-8601 time"):
        main(["replay", "--since", "yesterday"], io.StringIO())


def test_redrive_moves_a_dlq_through_the_handler(cli_env, moto_url, dynamodb, table) -> None:
    sqs = boto3_client("sqs", moto_url)
    url = sqs.create_queue(QueueName=f"{table}-dlq")["QueueUrl"]
    good = [sm.track("Exported", user_id="u1") for _ in range(12)]
    bodies = [sm.eventbridge_event(m) for m in good]
    bodies.append(good[0])  # a raw message body, and a duplicate of the first
    bodies.append({"detail-type": "track", "source": "elsewhere", "detail": {}})  # kept
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))

    code, report = run("redrive", "--queue", url)
    assert code == 0
    assert report == {
        "received": 14,
        "moved": 14,
        "recorded": 12,
        "duplicate": 1,
        "kept": 1,
        "failed": 0,
    }
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["usage"]["exported"]["count"] == 12
    assert [k["kind"] for k in Reader(dynamodb, table).rejected()] == ["envelope"]
    assert run("redrive", "--queue", url)[1]["received"] == 0


def test_redrive_recovers_the_eventbridge_to_lambda_failure_queue(
    cli_env, moto_url, dynamodb, table
) -> None:
    """Lambda's on-failure destination wraps the event it failed on: redrive records what is
    inside (it used to keep the wrapper as an envelope rejection that replay could never record)."""
    sqs = boto3_client("sqs", moto_url)
    url = sqs.create_queue(QueueName=f"{table}-lambda-failures")["QueueUrl"]
    failed = [sm.track("Exported", user_id="u7") for _ in range(3)]
    for message in failed:
        record = {
            "version": "1.0",
            "timestamp": "2026-11-22T10:00:00.000Z",
            "requestContext": {
                "requestId": "c0ffee",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:su:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": sm.eventbridge_event(message),
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "message not recorded, retry"},
        }
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
    code, report = run("redrive", "--queue", url)
    assert code == 0 and (report["recorded"], report["kept"], report["moved"]) == (3, 0, 3)
    assert state(dynamodb, table, ["u7"])["users"]["u7"]["usage"]["exported"]["count"] == 3
    assert Reader(dynamodb, table).rejected() == []


def test_unrecordable_messages_replay_once_the_table_takes_them(
    cli_env, make_runtime, dynamodb, table
) -> None:
    from support.faults import failing, key_startswith

    runtime = make_runtime()
    msg = sm.track("Exported", user_id="u1")
    with failing(dynamodb, "PutItem", code="ValidationException", when=key_startswith("sk", "D#")):
        assert deliver(runtime, [msg])[0]["status"] == "rejected"
    (dry,) = run("replay", "--kind", "unrecordable")[1]["results"]
    assert dry["outcome"] == "would retry" and dry["reasons"][0].startswith("last time: DynamoDB")
    (applied,) = run("replay", "--kind", "unrecordable", "--apply")[1]["results"]
    assert applied["outcome"] == "recorded"
    assert Reader(dynamodb, table).rejected() == []
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["usage"]["exported"]["count"] == 1


def test_an_over_long_array_is_kept_whole_and_replays_in_full(
    cli_env, make_runtime, dynamodb, table
) -> None:
    """250 events invoked as one JSON array (347 KB): each kept whole, as kind "limit", and
    ``replay --apply`` records every one of them, once."""
    runtime = make_runtime()
    events = [
        sm.track("Imported", {"pad": "x" * 1_200}, user_id=f"bulk-{n % 5}") for n in range(250)
    ]
    assert len(json.dumps(events)) > 340_000
    (response,) = deliver(runtime, [events])
    assert [r["status"] for r in response["results"]] == ["rejected"] * 250
    kept = Reader(dynamodb, table).rejected()
    assert len(kept) == 250 and {k["kind"] for k in kept} == {"limit"}
    assert sorted(json.loads(k["raw"])["messageId"] for k in kept) == sorted(
        e["messageId"] for e in events
    )
    code, report = run("replay", "--kind", "limit", "--apply")
    assert code == 0 and [r["outcome"] for r in report["results"]] == ["recorded"] * 250
    assert Reader(dynamodb, table).rejected() == []
    users = state(dynamodb, table, [f"bulk-{n}" for n in range(5)])["users"]
    assert sum(u["usage"]["imported"]["count"] for u in users.values()) == 250
    code, report = run("replay", "--kind", "limit", "--apply")
    assert report["results"] == []
