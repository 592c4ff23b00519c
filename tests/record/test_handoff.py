"""The direct path's hand-off: what cannot be recorded for a transient reason goes onto the buffer
queue and the invocation succeeds; draining the queue later records it exactly once."""

from __future__ import annotations

import contextlib
import io

import pytest

from segment_usage.handler import RecordingFailed
from segment_usage.ops.redrive import redrive
from segment_usage.read.view import Reader
from support import segment_messages as sm
from support.delivery import deliver, state
from support.faults import failing, key_startswith, outage
from support.moto_server import boto3_client


@pytest.fixture
def buffer(moto_url, table, monkeypatch) -> tuple[object, str]:
    """The buffer queue, and AWS_ENDPOINT_URL so the handler's own (lazy) SQS client finds moto."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    sqs = boto3_client("sqs", moto_url)
    return sqs, sqs.create_queue(QueueName=f"{table}-buffer")["QueueUrl"]


def queued(sqs, url) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def drain(make_runtime, sqs, url) -> dict[str, int]:
    """The batched function draining the buffer queue (the handler's SQS path)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return redrive(make_runtime(), sqs, url, visibility=30)


def test_no_sqs_client_until_a_hand_off_is_needed(make_runtime, buffer) -> None:
    _, url = buffer
    runtime = make_runtime(buffer_queue_url=url)
    deliver(runtime, [sm.track("Clicked", user_id="u1")])
    assert runtime.handoff._client is None  # cold init and the happy path never pay for it


@pytest.mark.parametrize(
    ("operation", "when"),
    [
        ("PutItem", key_startswith("sk", "D#")),  # the day-bucket commit
        ("UpdateItem", key_startswith("pk", "CATALOG")),  # the event catalog
    ],
)
@pytest.mark.parametrize("path", ["direct", "eventbridge"])
def test_throttled_write_is_handed_off_then_drained_exactly_once(
    operation, when, path, make_runtime, buffer, dynamodb, table
) -> None:
    sqs, url = buffer
    runtime = make_runtime(buffer_queue_url=url)
    msg = sm.track("Exported", user_id="u1")
    with failing(dynamodb, operation, when=when) as injected:
        (response,) = deliver(runtime, [msg], path=path)
    assert injected["failed"] >= 1
    assert response["status"] == "buffered"
    assert "ProvisionedThroughputExceededException" in response["errors"][0]
    assert queued(sqs, url) == 1
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["messagesRecorded"] == 0  # taken back
    assert drain(make_runtime, sqs, url)["recorded"] == 1
    assert deliver(runtime, [msg], path=path)[0]["status"] == "duplicate"  # Segment's own retry
    now = state(dynamodb, table, ["u1"])
    assert now["users"]["u1"]["usage"]["exported"]["count"] == 1
    assert [e["count"] for e in now["catalog"]] == [1]


def test_outage_on_the_direct_path_loses_nothing_and_doubles_nothing(
    make_runtime, buffer, dynamodb, table
) -> None:
    sqs, url = buffer
    runtime = make_runtime(buffer_queue_url=url)
    before = [sm.track("Viewed", user_id=f"u{i % 3}") for i in range(6)]
    deliver(runtime, before)
    during = [sm.track("Viewed", user_id=f"u{i % 3}") for i in range(9)]
    during.append(sm.identify({"plan": "team"}, user_id="u0"))
    with outage(dynamodb):
        responses = deliver(runtime, during + before[:2])  # new ones, and two late retries
    assert {r["status"] for r in responses} == {"buffered"}  # not one invocation raised
    assert queued(sqs, url) == 12
    # After the outage Segment still retries some; the buffer holds them too.
    assert [r["status"] for r in deliver(runtime, during[:3])] == ["accepted"] * 3
    report = drain(make_runtime, sqs, url)
    assert report == {
        "received": 12,
        "moved": 12,
        "recorded": 7,
        "duplicate": 5,
        "kept": 0,
        "failed": 0,
    }
    assert queued(sqs, url) == 0
    now = state(dynamodb, table, ["u0", "u1", "u2"])
    assert {u: v["usage"]["viewed"]["count"] for u, v in now["users"].items()} == {
        "u0": 5,
        "u1": 5,
        "u2": 5,
    }
    assert now["users"]["u0"]["traits"] == {"plan": "team"}
    assert [e["count"] for e in now["catalog"]] == [15]


def test_raises_only_when_the_enqueue_fails_too(make_runtime, buffer, dynamodb) -> None:
    _, url = buffer
    runtime = make_runtime(buffer_queue_url=url + "-missing")
    with outage(dynamodb), pytest.raises(RecordingFailed) as raised:
        deliver(runtime, [sm.track("Viewed", user_id="u1")])
    assert "handing off to the buffer queue failed" in str(raised.value)


def test_without_a_buffer_queue_the_invocation_raises_as_before(make_runtime, dynamodb) -> None:
    with outage(dynamodb), pytest.raises(RecordingFailed):
        deliver(make_runtime(), [sm.track("Viewed", user_id="u1")])


def test_the_sqs_path_never_hands_off(make_runtime, buffer, dynamodb) -> None:
    sqs, url = buffer
    runtime = make_runtime(buffer_queue_url=url)
    with outage(dynamodb):
        (response,) = deliver(runtime, [sm.track("Viewed", user_id="u1")], path="sqs")
    assert len(response["batchItemFailures"]) == 1  # SQS itself redelivers it
    assert queued(sqs, url) == 0


def test_a_rejection_that_could_not_be_kept_is_handed_off_and_kept_later(
    make_runtime, buffer, dynamodb, table
) -> None:
    sqs, url = buffer
    runtime = make_runtime(buffer_queue_url=url)
    bad_envelope = {"detail-type": "track", "source": "elsewhere", "detail": {}}
    invalid = sm.track("Clicked", user_id=None, anonymous_id=None)
    with outage(dynamodb):
        responses = deliver(runtime, [bad_envelope, invalid])
    assert [r["status"] for r in responses] == ["buffered", "buffered"]
    report = drain(make_runtime, sqs, url)
    assert (report["received"], report["kept"], report["failed"]) == (2, 2, 0)
    kept = {k["kind"] for k in Reader(dynamodb, table).rejected()}
    assert kept == {"envelope", "invalid"}
