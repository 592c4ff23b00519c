"""Erasure: remove every item that holds one person's data, and keep them suppressed.

Segment's deletion regulations never reach the Lambda or EventBridge destinations, so this product
offers its own: ``segment-usage forget USER_ID`` and, on any delivery path, Segment's delete
message ``{"type": "delete", "userId": ...}`` (what its webhooks and destination functions
forward). Both call ``Eraser.forget``. In order:

1. Suppress first: markers for the userId and every anonymousId linked to it
   (``table/suppression.py``), so a retry, a late or buffered message, a replay or a backfill
   arriving meanwhile or later is dropped and counted, never recorded.
2. Delete the user's partition (``U#``: profile, day buckets, rollup, groups), every linked
   anonymous partition (``A#``), those anonymous ids from any other profile that links them, and
   the kept messages (rejected list and warnings) whose ids are the person's.

What it cannot remove: DynamoDB point-in-time-recovery backups (they age out after the table's
recovery window, 35 days at most) and messages still in SQS queues (suppressed when they
arrive). The event catalog holds counts per event name, no person's data.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..table import suppression
from ..table.keys import OWNERS_SK, PROFILE_SK, anonymous_pk, user_pk
from ..table.pages import query_items
from ..table.rejected import Kept, delete_kept, list_kept

PITR_WINDOW_DAYS = 35  # DynamoDB's point-in-time recovery keeps at most 35 days


@dataclass
class Erasure:
    """What ``forget`` found (dry) or removed (applied): item counts by kind, the ids it covers
    (as markers, never in clear), and what it cannot remove."""

    applied: bool
    items: Counter[str] = field(default_factory=Counter)
    linked_ids: int = 0
    markers: list[str] = field(default_factory=list)
    cannot: list[str] = field(
        default_factory=lambda: [
            "DynamoDB point-in-time-recovery backups: they age out after the table's recovery "
            f"window ({PITR_WINDOW_DAYS} days at most)",
            "messages still in SQS queues (buffer, dead-letter queues): dropped and counted "
            "as suppressed when they arrive",
        ]
    )
    key_made: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "items": dict(sorted(self.items.items())),
            "linkedIds": self.linked_ids,
            "suppressionMarkers": len(self.markers),
            "cannotRemove": self.cannot,
        }


class Eraser:
    """Finds and removes one person's items in one table."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def forget(self, user_id: str, apply: bool = False) -> Erasure:
        """Erase ``user_id`` (``apply``) or say what that would remove (dry)."""
        result = Erasure(applied=apply)
        profile = self._get(user_pk(user_id), PROFILE_SK) or {}
        links = set(profile.get("a", {}).get("M", {})) | set(profile.get("l", {}).get("M", {}))
        result.linked_ids = len(links)
        ids = [user_id, *sorted(links)]
        if apply:
            key, result.key_made = suppression.ensure_key(self.client, self.table)
            result.markers = [suppression.token(key, i) for i in ids]
            suppression.mark(self.client, self.table, result.markers)
        pks = [user_pk(user_id), *(anonymous_pk(a) for a in sorted(links))]
        pks += [user_pk(a) for a in sorted(profile.get("l", {}).get("M", {}))]  # v0.2 links
        for pk in pks:
            for item in self._partition(pk):
                result.items[_kind(item["sk"]["S"])] += 1
                if item["sk"]["S"] == OWNERS_SK:
                    self._unlink_others(item, user_id, apply, result)
                if apply:
                    self._delete(item["pk"]["S"], item["sk"]["S"])
        for kept in self._kept_of(ids):
            result.items["kept message"] += 1
            if apply:
                delete_kept(self.client, self.table, kept)
        return result

    def _unlink_others(self, owners: dict[str, Any], user_id: str, apply: bool, result: Erasure):
        """Other users an erased anonymous id is linked to (limit above 1): drop the link."""
        anonymous_id = owners["pk"]["S"][2:]
        for other in owners.get("owners", {}).get("SS", []):
            if other == user_id:
                continue
            result.items["link in another profile"] += 1
            if apply and self._get(user_pk(other), PROFILE_SK) is not None:
                self.client.update_item(
                    TableName=self.table,
                    Key={"pk": {"S": user_pk(other)}, "sk": {"S": PROFILE_SK}},
                    UpdateExpression="REMOVE a.#id",
                    ExpressionAttributeNames={"#id": anonymous_id},
                )

    def _kept_of(self, ids: Iterable[str]) -> list[Kept]:
        wanted = set(ids)
        found = []
        for kept in list_kept(self.client, self.table, include_warnings=True):
            try:
                value = json.loads(kept.raw)
            except json.JSONDecodeError:
                value = None
            if _mentions(value, wanted) or any(json.dumps(i) in kept.raw for i in wanted):
                found.append(kept)
        return found

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self.client.get_item(
            TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")

    def _partition(self, pk: str) -> list[dict[str, Any]]:
        return list(
            query_items(
                self.client,
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ProjectionExpression="pk, sk, #o",
                ExpressionAttributeNames={"#o": "owners"},
                ConsistentRead=True,
            )
        )

    def _delete(self, pk: str, sk: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}})


def _kind(sk: str) -> str:
    if sk.startswith("D#"):
        return "day bucket"
    if sk.startswith("G#"):
        return "group"
    return {PROFILE_SK: "profile", "ROLLUP": "rollup", OWNERS_SK: "link owners"}.get(sk, "other")


def _mentions(value: Any, ids: set[str]) -> bool:
    """Whether a kept message (or an envelope of messages) carries one of ``ids`` as its
    userId, anonymousId or previousId, at any depth (EventBridge ``detail``, SQS bodies)."""
    if isinstance(value, dict):
        if any(value.get(f) in ids for f in ("userId", "anonymousId", "previousId")):
            return True
        return any(_mentions(v, ids) for v in value.values() if isinstance(v, dict | list))
    if isinstance(value, list):
        return any(_mentions(v, ids) for v in value)
    return False
