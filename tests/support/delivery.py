"""Deliver messages to the handler by each path and read back what a user of the product sees."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from typing import Any

from segment_usage.handler import Runtime
from segment_usage.read.view import Reader
from support import segment_messages as sm

TODAY = date(2026, 11, 22)  # "now" for the 7/30-day windows; BASE_TIME is two days earlier


def deliver(
    runtime: Runtime, messages: list[Any], path: str = "direct", batch: int = 10
) -> list[Any]:
    """Deliver by one path; returns the handler's responses. Logs are captured, not printed."""
    responses = []
    with contextlib.redirect_stdout(io.StringIO()):
        if path == "direct":
            responses = [runtime.handle(m) for m in messages]
        elif path == "eventbridge":
            responses = [runtime.handle(sm.eventbridge_event(m)) for m in messages]
        elif path == "sqs":
            for start in range(0, len(messages), batch):
                chunk = messages[start : start + batch]
                responses.append(
                    runtime.handle(sm.sqs_event([sm.eventbridge_event(m) for m in chunk]))
                )
        else:
            raise ValueError(path)
    return responses


def state(client: Any, table: str, user_ids: list[str]) -> dict[str, Any]:
    """Everything a user of the product can read: user views and the event catalog."""
    reader = Reader(client, table)
    return {
        "users": {uid: reader.user(uid, today=TODAY).as_dict() for uid in user_ids},
        "catalog": reader.events(),
    }


def log_lines(runtime: Runtime, event: Any) -> tuple[Any, list[dict[str, Any]]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        response = runtime.handle(event)
    return response, [json.loads(line) for line in out.getvalue().splitlines()]


def burst(
    moto_url: str, table: str, queue_url: str | None, work: list[list[dict[str, Any]]]
) -> dict[str, Any]:
    """Each list of messages through the direct path in its own thread, client and Runtime (a
    container of its own), all starting at once. Returns the statuses, what raised, and the
    conditional writes lost (optimistic-lock conflicts) over all requests."""
    import threading

    from segment_usage.settings import Settings
    from support.faults import count_conflicts
    from support.moto_server import boto3_client

    barrier = threading.Barrier(len(work))
    statuses: list[str] = []
    raised: list[BaseException] = []
    counters: list[dict[str, int]] = []
    lock = threading.Lock()
    env = {"SEGMENT_USAGE_TABLE": table}
    if queue_url:
        env["SEGMENT_USAGE_BUFFER_QUEUE_URL"] = queue_url

    def container(messages: list[dict[str, Any]]) -> None:
        client = boto3_client("dynamodb", moto_url)
        counter = count_conflicts(client)
        runtime = Runtime(Settings.from_env(env), client)
        with lock:
            counters.append(counter)
        barrier.wait()
        for message in messages:
            try:
                response = runtime.handle(message)
            except BaseException as exc:  # reported to the caller, which decides
                with lock:
                    raised.append(exc)
                continue
            with lock:
                statuses.append(response["status"])

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
