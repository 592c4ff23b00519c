"""``segment-usage redrive --queue URL``: move a dead-letter queue's messages back through the
handler's own logic (the batched SQS path), whichever of the module's queues it is (``_body``).

Each received batch is handed to ``Processor.process`` as an SQS event, exactly as the event
source mapping would: records it reports failed stay on the queue (made visible again at the end),
every other record is deleted. Reported: received, moved (deleted from the queue), recorded,
duplicate, kept (rejected, now in ``segment-usage rejected``) and failed (left on the queue).
SQS's own StartMessageMoveTask is the other way to redrive (to the source queue, unprocessed).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ..process import FAILED, Processor

BATCH = 10  # ReceiveMessage's maximum


def _body(text: str) -> str:
    """What a dead-letter record holds, as the batch path reads it. The module's queues hold three
    shapes: a Segment message or an EventBridge event (buffer and rule DLQs: as they are), and a
    Lambda on-failure destination record (``{requestContext, requestPayload, responseContext,
    ...}``, the EventBridge-to-Lambda failure queue) whose ``requestPayload`` is the event the
    function failed on."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text
    if isinstance(value, dict) and "requestContext" in value and "requestPayload" in value:
        return json.dumps(value["requestPayload"], separators=(",", ":"))
    return text


def _event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": _body(m["Body"]),
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
    }


def redrive(
    processor: Processor,
    sqs: Any,
    queue_url: str,
    limit: int | None = None,
    visibility: int = 300,
) -> dict[str, int]:
    """Drain ``queue_url`` (at most ``limit`` messages) through ``processor``; the counts."""
    totals: Counter[str] = Counter()
    seen: set[str] = set()
    left: list[str] = []  # receipt handles of failed records, made visible again at the end
    while limit is None or totals["received"] < limit:
        want = BATCH if limit is None else min(BATCH, limit - totals["received"])
        page = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=want,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        fresh = [m for m in page if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update(m["MessageId"] for m in fresh)
        totals["received"] += len(fresh)
        processed = processor.process(_event(fresh), hand_off=False)
        failed = set()
        for item, outcome in zip(processed.items, processed.outcomes, strict=True):
            totals[outcome.status] += 1
            if outcome.status == FAILED:
                failed.add(item.record_id)
        done = [m for m in fresh if m["MessageId"] not in failed]
        left += [m["ReceiptHandle"] for m in fresh if m["MessageId"] in failed]
        for start in range(0, len(done), BATCH):
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                for n, m in enumerate(done[start : start + BATCH])
            ]
            result = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
            totals["moved"] += len(result.get("Successful", []))
    for handle in left:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return {
        "received": totals["received"],
        "moved": totals["moved"],
        "recorded": totals["accepted"],
        "duplicate": totals["duplicate"],
        "kept": totals["rejected"],
        "failed": totals["failed"],
    }
