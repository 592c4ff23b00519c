"""Coverage: the first UTC day this deployment could have seen anyone (item ``CONFIG/COVERAGE``).

A segment condition whose window reaches before that day cannot be answered from what was recorded
("not seen for 14 days" of a deployment that started yesterday), so segments answer ``unknown``
there (``read/segments.py``). Two writers, one attribute each, never the same one:

- ``deployed``: the UTC day the module created the item (Terraform, written once: the item's
  ``lifecycle.ignore_changes`` keeps the first apply's day), or the module's ``coverage_start``
  input when the team knows its history reaches further back.
- ``backfilled``: the earliest day a completed ``segment-usage backfill --apply`` loaded from the
  Segment S3 archive; only ever lowered (a conditional UpdateItem).

Coverage is the earlier of the two. A table without the item (a deployment older than coverage)
has unknown coverage: ``None``, and conditions are answered from the data alone, as before.
"""

from __future__ import annotations

import re
from typing import Any

from .keys import CONFIG_PK

COVERAGE_SK = "COVERAGE"
DEPLOYED = "deployed"
BACKFILLED = "backfilled"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day(value: Any) -> str | None:
    text = value.get("S") if isinstance(value, dict) else None
    return text if isinstance(text, str) and _DAY.match(text) else None


def load_coverage(client: Any, table: str) -> str | None:
    """The coverage start as ``yyyy-mm-dd`` (UTC), or None when the table has no coverage item.

    One eventually consistent GetItem (0.5 RCU). Raises what boto3 raises (ClientError).
    """
    got = client.get_item(TableName=table, Key={"pk": {"S": CONFIG_PK}, "sk": {"S": COVERAGE_SK}})
    item = got.get("Item") or {}
    days = [day for day in (_day(item.get(DEPLOYED)), _day(item.get(BACKFILLED))) if day]
    return min(days) if days else None


def extend_coverage(client: Any, table: str, day: str) -> bool:
    """Record that history from ``day`` (``yyyy-mm-dd``, UTC) on has been loaded (backfill).

    Lowers ``backfilled`` only (never raises it), with one conditional UpdateItem. Returns whether
    it changed the item. Raises ValueError for a malformed day, and what boto3 raises otherwise.
    """
    if not _DAY.match(day):
        raise ValueError(f"coverage day {day!r} is not yyyy-mm-dd")
    try:
        client.update_item(
            TableName=table,
            Key={"pk": {"S": CONFIG_PK}, "sk": {"S": COVERAGE_SK}},
            UpdateExpression="SET #b = :day",
            ConditionExpression="attribute_not_exists(#b) OR #b > :day",
            ExpressionAttributeNames={"#b": BACKFILLED},
            ExpressionAttributeValues={":day": {"S": day}},
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True
