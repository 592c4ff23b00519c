"""Deliver messages to the handler by each path and read back what a user of the product sees."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from typing import Any

from segment_usage.handler import Runtime
from segment_usage.reader import Reader
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
