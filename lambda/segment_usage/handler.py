"""Lambda entry point of the direct and batch functions: ``segment_usage.handler.lambda_handler``.

A thin adapter: ``process.Processor`` decides every message's outcome; this file logs the
invocation (``observability``) and answers Lambda in the shape its trigger expects: the SQS
partial-batch response (``batchItemFailures``), or a status per message for a direct invoke, and
an exception (so that Segment or EventBridge retries) when something was not done.

Everything expensive (the DynamoDB client, JSON Schema validators, the tracking plan) is built
once per container, in the init phase when the table is configured, else on the first invocation.
"""

from __future__ import annotations

import os
from typing import Any

from .ingest.envelopes import SQS, Incoming
from .observability import InvocationSummary
from .process import FAILED, Outcome, Processed, Processor
from .settings import TABLE, Settings


class RecordingFailed(RuntimeError):
    """Raised so that Segment or EventBridge retries: some work was not done."""


class Runtime(Processor):
    """The per-container state, answering Lambda invocations."""

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        """Process one invocation's event; the Lambda response (raises RecordingFailed)."""
        processed = self.process(
            event, accept=self.accept_for(getattr(context, "invoked_function_arn", None))
        )
        summary = InvocationSummary(processed.path, getattr(context, "aws_request_id", None))
        for item, outcome in zip(processed.items, processed.outcomes, strict=True):
            payload = item.payload if isinstance(item.payload, dict) else {}
            summary.add(
                outcome.status, payload.get("type"), payload.get("messageId"), outcome.errors
            )
        summary.catalog_drift = self.take_catalog_drift()
        summary.emit(self.settings.metrics_namespace)
        return respond(processed)


def respond(processed: Processed) -> dict[str, Any]:
    """The Lambda response for ``processed``: SQS's partial-batch shape, else a status per message
    (one object, or ``{"results": [...]}`` for a JSON array). Raises RecordingFailed when a direct
    or EventBridge message failed, or an SQS record without a messageId did."""
    pairs = list(zip(processed.items, processed.outcomes, strict=True))
    if processed.path == SQS:
        failed = [
            {"itemIdentifier": item.record_id}
            for item, outcome in pairs
            if outcome.status == FAILED and item.record_id
        ]
        if any(outcome.status == FAILED and not item.record_id for item, outcome in pairs):
            raise RecordingFailed("failed SQS records without a messageId: retry the batch")
        return {"batchItemFailures": failed}
    failures = [outcome.errors for _, outcome in pairs if outcome.status == FAILED]
    if failures:
        raise RecordingFailed(f"message not recorded, retry: {'; '.join(failures[0])}")
    responses = [_response(item, outcome) for item, outcome in pairs]
    if len(responses) == 1:
        return responses[0]
    return {"results": responses}  # a JSON array of events: one result each, in order


def _response(item: Incoming, outcome: Outcome) -> dict[str, Any]:
    payload = item.payload if isinstance(item.payload, dict) else {}
    response: dict[str, Any] = {"status": outcome.status, "messageId": payload.get("messageId")}
    if outcome.errors:
        response["errors"] = outcome.errors
    return response


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The container's Runtime, built from the environment on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime(Settings.from_env())
    return _runtime


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    """The function's handler: see the module docstring."""
    return runtime().handle(event, context)


if os.environ.get(TABLE):  # build in the init phase, which Lambda runs at full CPU
    runtime()
