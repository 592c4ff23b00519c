"""Transient AWS failures fail the invocation (or just the SQS records they touched); the retry
then records exactly once. Invalid messages are the only thing acknowledged without recording."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from segment_usage.handler import RecordingFailed
from segment_usage.read.view import Reader
from support import segment_messages as sm
from support.delivery import state
from support.faults import failing, key_startswith


def quiet(runtime, event):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        return runtime.handle(event), [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("operation", "when", "what"),
    [
        (("BatchGetItem", "Query"), None, "reading the user-day"),
        ("PutItem", key_startswith("sk", "D#"), "the day-bucket commit"),
        ("UpdateItem", key_startswith("pk", "CATALOG"), "the event catalog"),
    ],
)
@pytest.mark.parametrize("path", ["direct", "eventbridge"])
def test_throttled_call_fails_invocation_and_retry_counts_once(
    operation, when, what, path, make_runtime, dynamodb, table
) -> None:
    runtime = make_runtime()
    msg = sm.track("Exported", user_id="u1")
    event = msg if path == "direct" else sm.eventbridge_event(msg)
    operations = operation if isinstance(operation, tuple) else (operation,)
    with contextlib.ExitStack() as faults, pytest.raises(RecordingFailed) as raised:
        injected = [faults.enter_context(failing(dynamodb, op, when=when)) for op in operations]
        quiet(runtime, event)
    assert all(counter["failed"] >= 1 for counter in injected), what
    assert "ProvisionedThroughputExceededException" in str(raised.value)
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["messagesRecorded"] == 0  # taken back
    assert state(dynamodb, table, [])["catalog"] == []
    response, _ = quiet(runtime, event)  # Segment / EventBridge retry
    assert response["status"] == "accepted"
    response, _ = quiet(runtime, event)
    assert response["status"] == "duplicate"
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["usage"]["exported"]["count"] == 1
    assert [e["count"] for e in state(dynamodb, table, [])["catalog"]] == [1]


def test_throttled_profile_write_fails_identify(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    msg = sm.identify({"plan": "pro"}, user_id="u1")
    with (
        failing(dynamodb, "PutItem", when=key_startswith("sk", "PROFILE")),
        pytest.raises(RecordingFailed),
    ):
        quiet(runtime, msg)
    assert quiet(runtime, msg)[0]["status"] == "accepted"
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["traits"] == {"plan": "pro"}


def test_sqs_reports_only_the_records_that_failed(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    messages = [sm.track("Clicked", user_id=f"u{i % 3}") for i in range(9)]
    event = sm.sqs_event([sm.eventbridge_event(m) for m in messages])
    with failing(dynamodb, "PutItem", when=key_startswith("pk", "U#u2")):
        response, logs = quiet(runtime, event)
    failed_ids = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    expected = {
        r["messageId"]
        for r, m in zip(event["Records"], messages, strict=True)
        if m["userId"] == "u2"
    }
    assert failed_ids == expected and len(failed_ids) == 3
    assert logs[0]["level"] == "ERROR" and (logs[0]["accepted"], logs[0]["failed"]) == (6, 3)
    # The event source mapping redelivers only the failed records (and, being SQS, maybe more).
    retry = {
        "Records": [r for r in event["Records"] if r["messageId"] in failed_ids]
        + event["Records"][:2]
    }
    response, logs = quiet(runtime, retry)
    assert response == {"batchItemFailures": []}
    assert (logs[0]["accepted"], logs[0]["duplicate"]) == (3, 2)
    users = state(dynamodb, table, ["u0", "u1", "u2"])
    assert {u: v["usage"]["clicked"]["count"] for u, v in users["users"].items()} == {
        "u0": 3,
        "u1": 3,
        "u2": 3,
    }
    assert [e["count"] for e in users["catalog"]] == [9]


def test_sqs_catalog_failure_fails_only_that_event_name(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    messages = [
        sm.track("A", user_id="u1"),
        sm.track("B", user_id="u1"),
        sm.track("A", user_id="u2"),
    ]
    event = sm.sqs_event([sm.eventbridge_event(m) for m in messages])
    with failing(dynamodb, "UpdateItem", when=lambda r: r["Key"]["sk"]["S"] == "track#A"):
        response, _ = quiet(runtime, event)
    assert len(response["batchItemFailures"]) == 2
    assert quiet(runtime, event)[0] == {"batchItemFailures": []}
    assert {e["name"]: e["count"] for e in state(dynamodb, table, [])["catalog"]} == {
        "A": 2,
        "B": 1,
    }
    users = state(dynamodb, table, ["u1", "u2"])["users"]
    assert users["u1"]["usage"]["a"]["count"] == 1 and users["u2"]["usage"]["a"]["count"] == 1


def test_catalog_and_take_back_both_failing_is_logged_as_drift(
    make_runtime, dynamodb, table
) -> None:
    """The documented limit: usage stays exact; the catalog misses the message; the log says so."""
    runtime = make_runtime()
    msg = sm.track("Exported", user_id="u1")
    take_back = runtime.recorder._take_back

    def take_back_while_throttled(*args, **kwargs):  # the commit lands; its take-back does not
        with failing(dynamodb, "PutItem", when=key_startswith("sk", "D#")):
            return take_back(*args, **kwargs)

    runtime.recorder._take_back = take_back_while_throttled
    with failing(dynamodb, "UpdateItem", when=key_startswith("pk", "CATALOG")):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(RecordingFailed):
            runtime.handle(msg)
    summary = json.loads(out.getvalue().splitlines()[0])
    assert (summary["catalogDrift"], summary["failed"]) == (1, 1)
    assert quiet(runtime, msg)[0]["status"] == "duplicate"
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["usage"]["exported"]["count"] == 1
    assert state(dynamodb, table, [])["catalog"] == []


def test_failing_to_keep_a_rejection_is_a_failure_not_a_drop(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    bad = sm.track("X", user_id=None, anonymous_id=None)
    with (
        failing(dynamodb, "PutItem", when=key_startswith("pk", "REJECTED")),
        pytest.raises(RecordingFailed),
    ):
        quiet(runtime, bad)
    event = sm.sqs_event([sm.eventbridge_event(bad)])
    with failing(dynamodb, "PutItem", when=key_startswith("pk", "REJECTED")):
        response, _ = quiet(runtime, event)
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert quiet(runtime, event)[0] == {"batchItemFailures": []}
    assert len(Reader(dynamodb, table).rejected()) == 1


def test_server_errors_are_transient_too(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    msg = sm.page("Home", user_id="u1")
    with (
        failing(dynamodb, "BatchGetItem", code="InternalServerError", status=500),
        failing(dynamodb, "Query", code="InternalServerError", status=500),
        pytest.raises(RecordingFailed),
    ):
        quiet(runtime, msg)
    assert quiet(runtime, msg)[0]["status"] == "accepted"
