"""Keep what was not recorded (invalid, blocked by the plan) and plan violations let through in
warn mode, with the reason, the path and the raw message, where ``segment-usage rejected`` finds
them. Keys derive from the content, so a retried rejection overwrites itself instead of piling up.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from .keys import REJECTED_PK, VIOLATION_PK

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
    """``kind``: envelope | invalid | blocked (not recorded) or warning (recorded anyway)."""
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
