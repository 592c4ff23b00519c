"""A hot user: one user's burst (a bot, a server-side import) through two dozen concurrent direct
invocations. No invocation raises; conflicts that outlast the in-invocation retries go to the
buffer queue; once it is drained, the count is exact."""

from __future__ import annotations

import contextlib
import io

from segment_usage.handler import Runtime
from segment_usage.ops.redrive import redrive
from segment_usage.settings import Settings
from support import segment_messages as sm
from support.delivery import burst, state
from support.moto_server import boto3_client

CONTAINERS = 24
PER_CONTAINER = 20


def test_burst_for_one_user_day_records_exactly(moto_url, dynamodb, table, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)  # the handler's lazy SQS client
    sqs = boto3_client("sqs", moto_url)
    queue_url = sqs.create_queue(QueueName=f"{table}-buffer")["QueueUrl"]
    work = [
        [sm.track("Api Called", user_id="bot-1") for _ in range(PER_CONTAINER)]
        for _ in range(CONTAINERS)
    ]
    result = burst(moto_url, table, queue_url, work)
    assert result["raised"] == []
    statuses = result["statuses"]
    total = CONTAINERS * PER_CONTAINER
    assert len(statuses) == total and set(statuses) <= {"accepted", "buffered"}
    with contextlib.redirect_stdout(io.StringIO()):
        settings = Settings.from_env({"SEGMENT_USAGE_TABLE": table})
        drained = redrive(Runtime(settings, dynamodb), sqs, queue_url, visibility=120)
    # At least every hand-off arrives; more when a SendMessage whose answer was slow was sent
    # again by the SDK's retry (SQS is at-least-once): the ledger makes the extra copy a duplicate,
    # and the counts below stay exact either way.
    assert drained["received"] >= statuses.count("buffered") and drained["failed"] == 0
    print(
        f"\nhot user: {total} messages, {CONTAINERS} containers: "
        f"{result['conflicts']} conflicts in {result['requests']} requests, "
        f"{statuses.count('buffered')} handed off, drained: {drained}"
    )
    now = state(dynamodb, table, ["bot-1"])
    assert now["users"]["bot-1"]["usage"]["api_called"]["count"] == total
    assert now["users"]["bot-1"]["messagesRecorded"] == total
    assert [e["count"] for e in now["catalog"]] == [total]
