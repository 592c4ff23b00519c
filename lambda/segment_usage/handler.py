"""Lambda entry point: ``segment_usage.handler.lambda_handler``.

Everything expensive (the DynamoDB client, JSON Schema validators, the tracking plan) is built
once per container, in the init phase when the table is configured, else on the first invocation.
"""

from __future__ import annotations

import os
from typing import Any

import botocore.session
from botocore.config import Config

from .config import ConfigError, Settings
from .envelopes import SQS, Incoming, unwrap
from .errors import AWS_ERRORS, error_text
from .handoff import Handoff
from .keys import TRACKING_PLAN_SK
from .messages import Message
from .observability import InvocationSummary
from .recorder import Recorder
from .rejections import rejection_item
from .store import Store
from .stored_config import load_text
from .tracking_plan import TrackingPlan
from .validation import spec_validators, validate_message

# Segment allows 5 s per message: fail fast and let Segment (or EventBridge, or SQS) retry.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=1, read_timeout=2
)


def dynamodb_client() -> Any:
    """A DynamoDB client with boto3's standard configuration chain (region, credentials,
    ``AWS_ENDPOINT_URL``), made with botocore directly: ``import boto3`` also imports s3transfer,
    ~150 ms of every cold start for nothing the handler uses."""
    return botocore.session.get_session().create_client("dynamodb", config=CLIENT_CONFIG)


class RecordingFailed(RuntimeError):
    """Raised so that Segment or EventBridge retries: some work was not done."""


def _load_plan(settings: Settings, store: Store) -> TrackingPlan | None:
    if settings.tracking_plan_json:
        return TrackingPlan.from_json(settings.tracking_plan_json)
    if not settings.tracking_plan_sha256:
        return None
    text = load_text(
        store.client,
        store.table,
        TRACKING_PLAN_SK,
        "plan",
        settings.tracking_plan_sha256,
        "SEGMENT_USAGE_TRACKING_PLAN_SHA256",
        ConfigError,
    )
    return TrackingPlan.from_json(text or "")


class Runtime:
    """The per-container state: settings, client, validators, plan."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.settings = settings
        self.store = Store(client or dynamodb_client(), settings.table)
        self.recorder = Recorder(self.store)
        self.plan = _load_plan(settings, self.store)
        self.handoff = Handoff(settings.buffer_queue_url)  # its SQS client is made on first use
        spec_validators()

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        path, items = unwrap(event)
        summary = InvocationSummary(path, getattr(context, "aws_request_id", None))
        results: list[tuple[str, list[str]]] = [("", [])] * len(items)
        valid: list[tuple[int, Message]] = []
        for i, item in enumerate(items):
            message, errors, kind = self._check(item)
            if message is not None:
                valid.append((i, message))
                continue
            results[i] = self._keep(item, kind, errors)
        outcomes = self.recorder.record([m for _, m in valid])
        for (i, _), outcome in zip(valid, outcomes, strict=True):
            if outcome.status == "unrecordable":  # permanent: kept, acknowledged, replayable
                results[i] = self._keep(items[i], "unrecordable", [outcome.error or "unknown"])
            else:
                results[i] = (outcome.status, [outcome.error] if outcome.error else [])
        if path != SQS and self.handoff.enabled:
            for i, (status, errors) in enumerate(results):
                if status == "failed":
                    results[i] = self._hand_off(items[i], errors)
        for item, (status, errors) in zip(items, results, strict=True):
            payload = item.payload if isinstance(item.payload, dict) else {}
            summary.add(status, payload.get("type"), payload.get("messageId"), errors)
        summary.catalog_drift = self.recorder.drift_events
        self.recorder.drift_events = 0
        summary.emit(self.settings.metrics_namespace)
        return self._respond(path, items, results)

    def _check(self, item: Incoming) -> tuple[Message | None, list[str], str]:
        """(message, errors, rejection kind): a Message to record, or why not."""
        if item.error:
            return None, [item.error], "envelope"
        errors = validate_message(item.payload)
        if errors:
            return None, errors, "invalid"
        violations = self.plan.violations(item.payload) if self.plan else []
        if violations and self.settings.tracking_plan_mode == "block":
            return None, violations, "blocked"
        try:
            message = Message.from_valid(item.payload, self.settings.trackers)
        except (ValueError, OverflowError) as exc:  # e.g. a timestamp outside datetime's range
            return None, [f"timestamp: {exc}"], "invalid"
        if violations:  # warn mode: recorded, and the violations kept beside it
            status, errors = self._keep(item, "warning", violations)
            if status == "failed":
                return None, errors, "failed"
        return message, [], ""

    def _hand_off(self, item: Incoming, errors: list[str]) -> tuple[str, list[str]]:
        """Transient failure on the direct or EventBridge path: onto the buffer queue, if it takes
        it (then the invocation succeeds); else still failed, and the caller retries."""
        try:
            # A message that failed only to be kept (DynamoDB down) goes as it came: the batched
            # path validates it again and keeps it then.
            body = item.payload if item.payload is not None else item.original
            self.handoff.send(body, "; ".join(errors))
        except (*AWS_ERRORS, ValueError) as error:
            return "failed", [
                *errors,
                f"handing off to the buffer queue failed: {error_text(error)}",
            ]
        return "buffered", errors

    def _keep(self, item: Incoming, kind: str, errors: list[str]) -> tuple[str, list[str]]:
        if kind == "failed":
            return "failed", errors
        record = rejection_item(
            kind=kind,
            path=item.path,
            raw=item.raw,
            reasons=errors,
            payload=item.payload,
            retention_days=self.settings.rejected_retention_days,
        )
        try:
            self.store.put(record)
        except AWS_ERRORS as error:
            return "failed", [f"keeping the rejected message failed: {type(error).__name__}"]
        return ("rejected", errors) if kind != "warning" else ("accepted", [])

    @staticmethod
    def _respond(
        path: str, items: list[Incoming], results: list[tuple[str, list[str]]]
    ) -> dict[str, Any]:
        if path == SQS:
            failed = [
                {"itemIdentifier": item.record_id}
                for item, (status, _) in zip(items, results, strict=True)
                if status == "failed" and item.record_id
            ]
            unidentifiable = [
                item for item, (status, _) in zip(items, results, strict=True)
                if status == "failed" and not item.record_id
            ]  # fmt: skip
            if unidentifiable:
                raise RecordingFailed("failed SQS records without a messageId: retry the batch")
            return {"batchItemFailures": failed}
        failures = [errors for status, errors in results if status == "failed"]
        if failures:
            raise RecordingFailed(f"message not recorded, retry: {'; '.join(failures[0])}")
        responses = [
            _response(item, status, errors)
            for item, (status, errors) in zip(items, results, strict=True)
        ]
        if len(responses) == 1:
            return responses[0]
        return {"results": responses}  # a JSON array of events: one result each, in order


def _response(item: Incoming, status: str, errors: list[str]) -> dict[str, Any]:
    payload = item.payload if isinstance(item.payload, dict) else {}
    response: dict[str, Any] = {"status": status, "messageId": payload.get("messageId")}
    if errors:
        response["errors"] = errors
    return response


_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(Settings.from_env())
    return _runtime


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    return runtime().handle(event, context)


if os.environ.get("SEGMENT_USAGE_TABLE"):  # build in the init phase, which Lambda runs at full CPU
    runtime()
