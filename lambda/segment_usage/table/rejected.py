"""The rejected list: what was not recorded (invalid, blocked by the plan, a bad envelope, a write
DynamoDB refuses) and plan violations let through in warn mode, each with the reason, the path and
the raw message, where ``segment-usage rejected`` lists them and ``segment-usage replay`` re-runs
them. Keys derive from the content, so a retried rejection overwrites itself instead of piling up.

Item shape: pk ``REJECTED`` (or ``VIOLATION`` for warnings), sk a content hash; ``kind``, ``path``,
``at`` (ISO-8601), ``reasons`` (list), ``raw`` (the message as received), ``message_id``, ``type``,
``expires_at`` (TTL, epoch seconds).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .keys import REJECTED_PK, VIOLATION_PK
from .pages import query_items

# What was not recorded; "warning" items (recorded anyway, pk VIOLATION) are listed beside them.
KINDS = ("invalid", "blocked", "envelope", "unrecordable")

# A kept item must always fit DynamoDB's 400 KB (409,600 bytes), or keeping it would fail on every
# retry: raw text <= 300,000 bytes, reasons <= 20 x 500 characters (<= 40,000 bytes in UTF-8),
# the rest < 2 KB. Segment's own limit is 32 KB, so only envelopes that are not Segment's get cut.
MAX_RAW_BYTES = 300_000
MAX_REASONS = 20
MAX_REASON_CHARS = 500


def rejection_item(
    *,
    kind: str,
    path: str,
    raw: str,
    reasons: list[str],
    payload: Any,
    retention_days: int,
    now: float | None = None,
) -> dict[str, Any]:
    """The item that keeps one message: ``kind`` one of ``KINDS`` (not recorded) or ``warning``
    (recorded anyway); ``raw`` the text as received; ``retention_days`` sets the TTL."""
    now = time.time() if now is None else now
    encoded = raw.encode("utf-8")
    message_id = payload.get("messageId") if isinstance(payload, dict) else None
    call_type = payload.get("type") if isinstance(payload, dict) else None
    if kind == "warning" and isinstance(message_id, str):
        pk, sk = VIOLATION_PK, hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:32]
    else:
        pk, sk = REJECTED_PK, hashlib.sha256(encoded).hexdigest()[:32]
    item: dict[str, Any] = {
        "pk": {"S": pk},
        "sk": {"S": sk},
        "kind": {"S": kind},
        "path": {"S": path},
        "at": {"S": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")},
        "reasons": {
            "L": [{"S": r[:MAX_REASON_CHARS]} for r in reasons[:MAX_REASONS]] or [{"S": "unknown"}]
        },
        "raw": {"S": encoded[:MAX_RAW_BYTES].decode("utf-8", errors="ignore")},
        "expires_at": {"N": str(int(now) + retention_days * 86400)},
    }
    if len(encoded) > MAX_RAW_BYTES:
        item["raw_truncated_from"] = {"N": str(len(encoded))}
    if isinstance(message_id, str) and message_id:
        item["message_id"] = {"S": message_id[:200]}
    if isinstance(call_type, str) and call_type:
        item["type"] = {"S": call_type[:50]}
    return item


@dataclass
class Kept:
    """One item of the rejected list, as stored."""

    pk: str
    sk: str
    kind: str
    path: str
    at: str  # ISO-8601, when it was kept
    message_id: str | None
    type: str | None
    reasons: list[str]
    raw: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Kept:
        return cls(
            pk=item["pk"]["S"],
            sk=item["sk"]["S"],
            kind=item["kind"]["S"],
            path=item["path"]["S"],
            at=item["at"]["S"],
            message_id=item.get("message_id", {}).get("S"),
            type=item.get("type", {}).get("S"),
            reasons=[r["S"] for r in item["reasons"]["L"]],
            raw=item["raw"]["S"],
        )


def list_kept(client: Any, table: str, include_warnings: bool = False) -> Iterator[Kept]:
    """Every kept message (and, with ``include_warnings``, every plan warning), strongly
    consistent, in key order."""
    for pk in (REJECTED_PK, VIOLATION_PK) if include_warnings else (REJECTED_PK,):
        items = query_items(
            client,
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True,
        )
        for item in items:
            yield Kept.from_item(item)


def delete_kept(client: Any, table: str, kept: Kept) -> None:
    """Take one item off the list (it was recorded by a replay)."""
    client.delete_item(TableName=table, Key={"pk": {"S": kept.pk}, "sk": {"S": kept.sk}})
