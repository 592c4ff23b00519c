"""Copies of one message delivered at the same moment by several containers: one wins, the rest
are duplicates; distinct messages racing for the same user-day are all counted (no lost update)."""

from __future__ import annotations

import contextlib
import io
import threading

from segment_usage.handler import Runtime
from segment_usage.settings import Settings
from support import segment_messages as sm
from support.delivery import state
from support.moto_server import boto3_client

THREADS = 8


def run_concurrently(moto_url: str, table: str, work: list[list[dict]]) -> list[list[dict]]:
    """One thread per list of messages, each its own client and Runtime (a separate container)."""
    barrier = threading.Barrier(len(work))
    results: list[list[dict]] = [[] for _ in work]
    errors: list[BaseException] = []

    def container(slot: int) -> None:
        try:
            settings = Settings.from_env({"SEGMENT_USAGE_TABLE": table})
            runtime = Runtime(settings, boto3_client("dynamodb", moto_url))
            barrier.wait()
            with contextlib.redirect_stdout(io.StringIO()):
                results[slot] = [runtime.handle(m) for m in work[slot]]
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=container, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def test_same_message_from_many_containers_at_once(moto_url, dynamodb, table) -> None:
    msg = sm.track("Invoice Paid", {"amount": 30}, user_id="u1")
    results = run_concurrently(moto_url, table, [[msg] for _ in range(THREADS)])
    statuses = sorted(r[0]["status"] for r in results)
    assert statuses == ["accepted"] + ["duplicate"] * (THREADS - 1)
    now = state(dynamodb, table, ["u1"])
    assert now["users"]["u1"]["usage"]["invoice_paid"]["count"] == 1
    assert [e["count"] for e in now["catalog"]] == [1]


def test_distinct_messages_racing_for_one_user_day_are_all_counted(
    moto_url, dynamodb, table
) -> None:
    work = [[sm.track("Clicked", user_id="u1") for _ in range(10)] for _ in range(THREADS)]
    for batch in work:  # and each container also gets a copy of a shared message
        batch.append(work[0][0])
    results = run_concurrently(moto_url, table, work)
    statuses = [r["status"] for batch in results for r in batch]
    assert statuses.count("accepted") == THREADS * 10
    assert statuses.count("duplicate") == THREADS
    now = state(dynamodb, table, ["u1"])
    assert now["users"]["u1"]["usage"]["clicked"]["count"] == THREADS * 10
    assert now["users"]["u1"]["messagesRecorded"] == THREADS * 10
    assert [e["count"] for e in now["catalog"]] == [THREADS * 10]
