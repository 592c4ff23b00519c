"""Suppression markers: the ids of people whose data was erased, as keyed hashes (no PII).

Items:
- ``CONFIG``/``SUPPRESSION``: ``key`` (32 random bytes), made by the first erasure. The markers are
  HMAC-SHA256 of an id under it, so a marker alone does not tell whose id it is (a dictionary of
  likely ids needs the key too).
- ``SUPPRESSED#<nn>``/``<hmac hex>``: one per erased id (its userId and every anonymousId linked
  to it); ``at`` (ISO-8601). Spread over 256 partition keys by the hash, so checking the ids of
  every invocation reads no hot key.

A deployment that never erased anyone has no key, and checks nothing (no cost per message).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from .keys import CONFIG_PK

SUPPRESSION_SK = "SUPPRESSION"
MARKER_PREFIX = "SUPPRESSED#"


def token(key: bytes, subject_id: str) -> str:
    """The marker of an id: HMAC-SHA256 under the deployment's key, hex."""
    return hmac.new(key, subject_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def marker_key(mark: str) -> tuple[str, str]:
    """(pk, sk) of a marker."""
    return f"{MARKER_PREFIX}{mark[:2]}", mark


def load_key(client: Any, table: str) -> bytes | None:
    """The deployment's suppression key, or None when nobody was ever erased."""
    item = client.get_item(
        TableName=table,
        Key={"pk": {"S": CONFIG_PK}, "sk": {"S": SUPPRESSION_SK}},
        ConsistentRead=True,
    ).get("Item")
    return bytes(item["key"]["B"]) if item else None


def ensure_key(client: Any, table: str) -> tuple[bytes, bool]:
    """(key, whether this call made it): the first erasure makes the key, every later one reads
    it (a conditional put, so two erasures at once agree on one key)."""
    key = load_key(client, table)
    if key is not None:
        return key, False
    try:
        client.put_item(
            TableName=table,
            Item={
                "pk": {"S": CONFIG_PK},
                "sk": {"S": SUPPRESSION_SK},
                "key": {"B": os.urandom(32)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return load_key(client, table) or b"", False
    return load_key(client, table) or b"", True


def mark(client: Any, table: str, marks: Iterable[str], now: datetime | None = None) -> None:
    """Write the markers ``marks`` (idempotent)."""
    at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    for each in marks:
        pk, sk = marker_key(each)
        client.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": sk}, "at": {"S": at}})


def unmark(client: Any, table: str, marks: Iterable[str]) -> int:
    """Delete the markers ``marks``; how many existed."""
    removed = 0
    for each in marks:
        pk, sk = marker_key(each)
        old = client.delete_item(
            TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ReturnValues="ALL_OLD"
        )
        removed += "Attributes" in old
    return removed


def suppressed(client: Any, table: str, marks: Iterable[str]) -> set[str]:
    """Which of ``marks`` have a marker: one BatchGetItem per 100 (strongly consistent)."""
    wanted = sorted(set(marks))
    found: set[str] = set()
    for start in range(0, len(wanted), 100):
        request = {
            table: {
                "Keys": [
                    {"pk": {"S": pk}, "sk": {"S": sk}}
                    for pk, sk in map(marker_key, wanted[start : start + 100])
                ],
                "ConsistentRead": True,
                "ProjectionExpression": "sk",
            }
        }
        while request:
            response = client.batch_get_item(RequestItems=request)
            found.update(item["sk"]["S"] for item in response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or {}
    return found
