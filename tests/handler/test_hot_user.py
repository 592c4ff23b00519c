"""A hot user: one user's burst (a bot, a server-side import) through two dozen concurrent direct
invocations. No invocation raises; conflicts that outlast the in-invocation retries go to the
buffer queue; once it is drained, the count is exact."""

from __future__ import annotations

import contextlib
import io
import threading

from segment_usage.config import Settings
from segment_usage.handler import Runtime
from segment_usage.redrive import redrive
from support import segment_messages as sm
from support.delivery import state
from support.faults import count_conflicts
from support.moto_server import boto3_client

CONTAINERS = 24
PER_CONTAINER = 20


def burst(moto_url: str, table: str, queue_url: str, work: list[list[dict]]) -> dict[str, object]:
    """Each list of messages in its own thread, client and Runtime (its own container)."""
    barrier = threading.Barrier(len(work))
    statuses: list[str] = []
    raised: list[BaseException] = []
    counters: list[dict[str, int]] = []
    lock = threading.Lock()

    def container(messages: list[dict]) -> None:
        client = boto3_client("dynamodb", moto_url)
        counter = count_conflicts(client)
        env = {"SEGMENT_USAGE_TABLE": table, "SEGMENT_USAGE_BUFFER_QUEUE_URL": queue_url}
        runtime = Runtime(Settings.from_env(env), client)
        barrier.wait()
        for message in messages:
            try:
                response = runtime.handle(message)
            except BaseException as exc:  # an invocation that raised: the test fails below
                with lock:
                    raised.append(exc)
                continue
            with lock:
                statuses.append(response["status"])
        with lock:
            counters.append(counter)

    threads = [threading.Thread(target=container, args=(m,)) for m in work]
    with contextlib.redirect_stdout(io.StringIO()):  # process-wide: set once, not per thread
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return {
        "statuses": statuses,
        "raised": raised,
        "conflicts": sum(c["conflicts"] for c in counters),
        "requests": sum(c["requests"] for c in counters),
    }


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
        drained = redrive(Runtime(settings, dynamodb), sqs, queue_url, visibility=30)
    assert drained["received"] == statuses.count("buffered") and drained["failed"] == 0
    print(
        f"\nhot user: {total} messages, {CONTAINERS} containers: "
        f"{result['conflicts']} conflicts in {result['requests']} requests, "
        f"{statuses.count('buffered')} handed off, drained: {drained}"
    )
    now = state(dynamodb, table, ["bot-1"])
    assert now["users"]["bot-1"]["usage"]["api_called"]["count"] == total
    assert now["users"]["bot-1"]["messagesRecorded"] == total
    assert [e["count"] for e in now["catalog"]] == [total]
