"""Segment messages shaped like the ones Segment delivers (Spec common fields plus the undocumented
top-level fields real deliveries carry), and the envelopes of the three delivery paths."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

SOURCE_ID = "qSg3xMpL9a"
PARTNER_SOURCE = f"aws.partner/segment.com/{SOURCE_ID}"
BASE_TIME = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
ENGAGE_SPACE = "spa_9u3Lqz"  # the Engage space of the test workspace (engage_space_ids)
_sequence = itertools.count()
# No usable time in any of the four fields: the one time-related fault that rejects a message.
NO_TIME = {"timestamp": "soon", "originalTimestamp": None, "sentAt": None, "receivedAt": None}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message(
    call_type: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    at: datetime | None = None,
    message_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A delivered Segment message; ``at`` is the corrected client time (``timestamp``)."""
    at = at or BASE_TIME + timedelta(seconds=next(_sequence))
    received = at + timedelta(milliseconds=850)
    body: dict[str, Any] = {
        "type": call_type,
        "messageId": message_id or f"ajs-next-{uuid.uuid4().hex}",
        "userId": user_id,
        "anonymousId": anonymous_id,
        "channel": "client",
        "context": {
            "library": {"name": "analytics.js", "version": "next-1.72.0"},
            "ip": "203.0.113.7",
            "locale": "en-US",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "page": {"path": "/app", "url": "https://app.example.com/app", "title": "App"},
        },
        "integrations": {},
        "originalTimestamp": iso(at - timedelta(milliseconds=120)),
        "timestamp": iso(at),
        "sentAt": iso(at + timedelta(milliseconds=200)),
        "receivedAt": iso(received),
        "projectId": SOURCE_ID,
        "version": 2,
    }
    body.update(fields)
    return body


def track(event: str, properties: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return message("track", event=event, properties=properties or {}, **kw)


def page(name: str | None = None, category: str | None = None, **kw: Any) -> dict[str, Any]:
    return message("page", name=name, category=category, properties={"path": "/app"}, **kw)


def screen(name: str, **kw: Any) -> dict[str, Any]:
    return message("screen", name=name, properties={}, **kw)


def identify(traits: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return message("identify", traits=traits, **kw)


def group(group_id: str, traits: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return message("group", groupId=group_id, traits=traits or {}, **kw)


def alias(previous_id: str, user_id: str, **kw: Any) -> dict[str, Any]:
    return message("alias", previousId=previous_id, user_id=user_id, **kw)


def engage_audience_identify(
    user_id: str, audience_key: str, member: bool, **kw: Any
) -> dict[str, Any]:
    """Engage syncing an audience to a destination as an identify trait."""
    personas = {
        "computation_class": "audience",
        "computation_id": "aud_2GxKJ9",
        "computation_key": audience_key,
        "namespace": ENGAGE_SPACE,
        "space_id": ENGAGE_SPACE,
    }
    msg = identify({audience_key: member}, user_id=user_id, **kw)
    msg["context"] = {**msg["context"], "personas": personas}
    return msg


def engage_audience_track(
    user_id: str, audience_key: str, entered: bool, **kw: Any
) -> dict[str, Any]:
    event = "Audience Entered" if entered else "Audience Exited"
    msg = track(event, {"audience_key": audience_key, audience_key: entered}, user_id=user_id, **kw)
    msg["context"] = {
        **msg["context"],
        "personas": {
            "computation_class": "audience",
            "computation_key": audience_key,
            "space_id": ENGAGE_SPACE,
        },
    }
    return msg


def eventbridge_event(msg: dict[str, Any], source: str = PARTNER_SOURCE) -> dict[str, Any]:
    """What the partner source puts on the bus: the message in ``detail``."""
    resources = [f"identifiedUser/{msg['userId']}"] if msg.get("userId") else []
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": msg.get("type", "track"),
        "source": source,
        "account": "123456789012",
        "time": msg.get("receivedAt", iso(BASE_TIME)),
        "region": "us-east-1",
        "resources": resources,
        "detail": msg,
    }


def sqs_event(
    bodies: list[Any], queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:buffer"
) -> dict[str, Any]:
    """An SQS event as the event source mapping builds it; dict bodies are JSON-encoded."""
    records = []
    for body in bodies:
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1763631000000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}
