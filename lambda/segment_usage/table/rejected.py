"""The rejected list: what was not recorded (invalid, blocked by the plan, a bad envelope, a write
DynamoDB refuses) and plan violations let through in warn mode, each with the reason, the path and
the raw message, where ``segment-usage rejected`` lists them and ``segment-usage replay`` re-runs
them. Keys derive from the content, so a retried rejection overwrites itself instead of piling up.

Item shape: pk ``REJECTED#nnn`` (``VIOLATION#nnn`` for warnings; ``nnn`` a shard of the content
hash), sk the content hash; ``kind``, ``path``, ``at`` (ISO-8601), ``reasons`` (list), ``raw``
(the message as received), ``parts`` (when ``raw`` goes on in part items), ``message_id``,
``type``, ``expires_at`` (TTL, epoch seconds).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .keys import REJECTED_PK, VIOLATION_PK
from .pages import query_items

# What was not recorded; "warning" items (recorded anyway) are listed beside them.
# limit: deferred by this product's own limit (an over-long JSON array), recorded by replay;
# plan: the tracking plan could not be applied in block mode, recorded by replay once it is fixed.
KINDS = ("invalid", "blocked", "envelope", "unrecordable", "limit", "plan")
WARNING = "warning"  # recorded, with fields that were malformed or broke the plan (warn mode)
IDENTITY = "identity"  # recorded, but the link it asked for broke an identity rule
RECORDED_KINDS = (WARNING, IDENTITY)

# Kept messages are spread over SHARDS partition keys by their content hash: a flood of invalid
# messages (anyone with the write key can send one) puts no more than ~1/SHARDS of its writes on
# one key, where DynamoDB serves ~1,000 WCU/s per partition key. Listing reads every shard.
SHARDS = 256

# A kept item must always fit DynamoDB's 400 KB (409,600 bytes), or keeping it would fail on every
# retry: raw text <= 300,000 bytes per item, reasons <= 20 x 500 characters (<= 40,000 bytes in
# UTF-8), the rest < 2 KB. A longer raw text (only what is not a Segment message can be: Segment's
# limit is 32 KB) goes on in part items (sk "<sk>#<n>"), never cut: replay reads it whole.
MAX_RAW_BYTES = 300_000
MAX_REASONS = 20
MAX_REASON_CHARS = 500


def shard_pk(base: str, digest: str) -> str:
    """The partition key of a kept item: ``REJECTED#nnn`` / ``VIOLATION#nnn`` by its hash."""
    return f"{base}#{int(digest[:4], 16) % SHARDS:03d}"


def _text(value: str) -> str:
    """``value`` as DynamoDB can store it: lone surrogates written as ``\\udXXX`` escapes."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _parts(encoded: bytes) -> list[str]:
    """UTF-8 text cut into pieces of at most MAX_RAW_BYTES, never inside a character."""
    pieces, start = [], 0
    while True:
        end = min(start + MAX_RAW_BYTES, len(encoded))
        while end < len(encoded) and (encoded[end] & 0xC0) == 0x80:
            end -= 1  # back to a character boundary
        pieces.append(encoded[start:end].decode("utf-8"))
        if end >= len(encoded):
            return pieces
        start = end


def rejection_items(
    *,
    kind: str,
    path: str,
    raw: str,
    reasons: list[str],
    payload: Any,
    retention_days: int,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """The items that keep one message: its item, then a part item per further 300,000 bytes of
    ``raw``. ``kind`` one of ``KINDS`` (not recorded) or ``warning`` (recorded anyway); ``raw``
    the text as received; ``retention_days`` sets the TTL (epoch seconds in ``expires_at``)."""
    now = time.time() if now is None else now
    encoded = _text(raw).encode("utf-8")
    message_id = payload.get("messageId") if isinstance(payload, dict) else None
    call_type = payload.get("type") if isinstance(payload, dict) else None
    if kind in RECORDED_KINDS and isinstance(message_id, str):
        keyed = (message_id if kind == WARNING else f"{kind}#{message_id}").encode()
        base, sk = VIOLATION_PK, hashlib.sha256(_text(keyed.decode()).encode()).hexdigest()[:32]
    else:
        base, sk = REJECTED_PK, hashlib.sha256(encoded).hexdigest()[:32]
    pk = shard_pk(base, sk)
    pieces = _parts(encoded)
    expires = {"N": str(int(now) + retention_days * 86400)}
    item: dict[str, Any] = {
        "pk": {"S": pk},
        "sk": {"S": sk},
        "kind": {"S": kind},
        "path": {"S": path},
        "at": {"S": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")},
        "reasons": {
            "L": [{"S": _text(r[:MAX_REASON_CHARS])} for r in reasons[:MAX_REASONS]]
            or [{"S": "unknown"}]
        },
        "raw": {"S": pieces[0]},
        "expires_at": expires,
    }
    if len(pieces) > 1:
        item["parts"] = {"N": str(len(pieces))}
    if isinstance(message_id, str) and message_id:
        item["message_id"] = {"S": _text(message_id[:200])}
    if isinstance(call_type, str) and call_type:
        item["type"] = {"S": _text(call_type[:50])}
    parts = [
        {"pk": {"S": pk}, "sk": {"S": f"{sk}#{n}"}, "raw": {"S": piece}, "expires_at": expires}
        for n, piece in enumerate(pieces[1:], start=1)
    ]
    return [item, *parts]


@dataclass
class Kept:
    """One kept message (its parts joined), as stored."""

    pk: str
    sk: str
    kind: str
    path: str
    at: str  # ISO-8601, when it was kept
    message_id: str | None
    type: str | None
    reasons: list[str]
    raw: str
    parts: int = 1

    @classmethod
    def from_item(cls, item: dict[str, Any], rest: list[str] | None = None) -> Kept:
        return cls(
            pk=item["pk"]["S"],
            sk=item["sk"]["S"],
            kind=item["kind"]["S"],
            path=item["path"]["S"],
            at=item["at"]["S"],
            message_id=item.get("message_id", {}).get("S"),
            type=item.get("type", {}).get("S"),
            reasons=[r["S"] for r in item["reasons"]["L"]],
            raw=item["raw"]["S"] + "".join(rest or []),
            parts=int(item.get("parts", {"N": "1"})["N"]),
        )


def _partition(client: Any, table: str, pk: str) -> list[Kept]:
    items = list(
        query_items(
            client,
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True,
        )
    )
    parts: dict[str, dict[int, str]] = {}
    for item in items:
        base, _, n = item["sk"]["S"].partition("#")
        if n:
            parts.setdefault(base, {})[int(n)] = item["raw"]["S"]
    return [
        Kept.from_item(item, [p for _, p in sorted(parts.get(item["sk"]["S"], {}).items())])
        for item in items
        if "#" not in item["sk"]["S"]
    ]


def list_kept(client: Any, table: str, include_warnings: bool = False) -> list[Kept]:
    """Every kept message (and, with ``include_warnings``, every warning), strongly consistent:
    one Query per shard, 16 at a time, plus the unsharded ``REJECTED``/``VIOLATION`` of v0.2."""
    from concurrent.futures import ThreadPoolExecutor  # operator commands only, not the handler

    bases = (REJECTED_PK, VIOLATION_PK) if include_warnings else (REJECTED_PK,)
    pks = [pk for base in bases for pk in (base, *(f"{base}#{n:03d}" for n in range(SHARDS)))]
    with ThreadPoolExecutor(16) as pool:
        found = pool.map(lambda pk: _partition(client, table, pk), pks)
        return [kept for page in found for kept in page]


def delete_kept(client: Any, table: str, kept: Kept) -> None:
    """Take one kept message, with its part items, off the list (a replay recorded it)."""
    for sk in [kept.sk, *(f"{kept.sk}#{n}" for n in range(1, kept.parts))]:
        client.delete_item(TableName=table, Key={"pk": {"S": kept.pk}, "sk": {"S": sk}})
