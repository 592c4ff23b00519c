"""The direct path's durable hand-off: a message that could not be recorded for a transient reason
goes onto the module's buffer queue (``SEGMENT_USAGE_BUFFER_QUEUE_URL``), and the invocation answers
success. The batched function drains that queue like any other, so a DynamoDB outage longer than
Segment's 4-hour retry window loses nothing (SQS keeps messages up to 14 days, then its DLQ).

The body is the raw Segment message as JSON, which the SQS path of ``ingest.envelopes.unwrap``
accepts.
The SQS client is made on first use: a container that never hands off never pays for it, and the
cold start does not grow.
"""

from __future__ import annotations

import json
from typing import Any

from ..settings import HANDOFF_SQS, aws_client

MAX_SQS_BYTES = 256 * 1024


class Handoff:
    def __init__(self, queue_url: str | None, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def enabled(self) -> bool:
        return bool(self.queue_url)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("sqs", HANDOFF_SQS)
        return self._client

    def send(self, message: Any, reason: str) -> str:
        """Enqueue one Segment message; returns the SQS MessageId. Raises if SQS refuses it."""
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        if len(body.encode("utf-8")) > MAX_SQS_BYTES:
            raise ValueError(f"message: {len(body)} bytes is over SQS's 256 KB message limit")
        response = self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            MessageAttributes={
                "handoff_reason": {"DataType": "String", "StringValue": reason[:256] or "unknown"}
            },
        )
        return response["MessageId"]
