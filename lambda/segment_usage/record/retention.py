"""Data retention: a person inactive for ``data_retention_days`` expires, by DynamoDB TTL.

Every item of a person's partition (``U#``/``A#``: day buckets, profile, groups, rollup, identity
claims) carries ``expires_at`` (epoch seconds, the table's TTL attribute). Writes stamp it
``now + N days`` (``table/store.py``). Items that activity does not rewrite (the profile when no
trait changes, groups, the rollup between compactions, old buckets) are moved forward here: on a
partition's first new bucket chain of a UTC day (a day it was active), one Query lists its
non-bucket items with their TTL and each whose TTL is less than ``N`` days away is set to
``N + SLACK_DAYS`` days away (UpdateItem, only if the item still exists). So a person's items
all expire between ``N`` and ``N + SLACK_DAYS`` days after their last message, and DynamoDB
deletes them within a few days after that (its TTL sweep: "typically within a few days", AWS).

Cost, only with retention on: per active partition and day one eventually consistent Query of its
few non-bucket items (0.5-1 RCU), and every ``SLACK_DAYS`` days one UpdateItem per such item.
Old day buckets are not refreshed: their counts live on in the rollup; a bucket's ledger expires
``N`` days (at least 30, ``settings.MIN_DATA_RETENTION_DAYS``) after its last write, beyond every
redelivery window. A refresh that fails is logged and tried again on the next active day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from ..table.errors import AWS_ERRORS, error_text
from ..table.keys import TTL_ATTRIBUTE
from ..table.pages import query_items
from ..table.store import Store, is_condition_failure
from . import days

logger = logging.getLogger(__name__)

SLACK_DAYS = 7  # a refreshed item's TTL is this much further out, so refreshes come weekly
REFRESHED_CACHE = 10_000  # partitions this container remembers having refreshed today
_AFTER_BUCKETS = "D$"  # sorts after every "D#..." bucket key and before "G#", "OWNERS", ...


class Retention:
    """Moves an active person's TTLs forward (see the module docstring). A no-op when the store
    has no retention (``Store.expire_after_days`` None)."""

    def __init__(self, store: Store, clock: Callable[[], date] | None = None) -> None:
        self.store = store
        self.clock = clock or (lambda: days.utc_today())
        self._refreshed: dict[str, str] = {}  # pk -> the UTC day it was refreshed
        self.refreshes = 0  # items whose TTL this container moved forward (tests, observability)

    def after_new_chains(self, user_days: Iterable[tuple[str, str]]) -> None:
        """Called with the (partition, day) pairs whose first bucket of a chain was just created:
        refreshes each partition active today, once a day per container. Never raises."""
        if self.store.expire_after_days is None:
            return
        today = self.clock().isoformat()
        for pk in sorted({pk for pk, day in user_days if day == today}):
            if self._refreshed.get(pk) == today:
                continue
            try:
                self.refresh(pk)
            except AWS_ERRORS as error:
                logger.warning(
                    "retention: refresh failed (tried again on its next active day): %s",
                    error_text(error),
                )
                continue
            self._refreshed[pk] = today
            if len(self._refreshed) > REFRESHED_CACHE:
                self._refreshed.pop(next(iter(self._refreshed)))

    def refresh(self, pk: str) -> int:
        """Move forward the TTL of ``pk``'s non-bucket items that expire within N days; returns
        how many it updated. Raises what boto3 raises."""
        due_before = self.store.expires_at()
        if due_before is None:
            return 0
        new_ttl = str(due_before + SLACK_DAYS * 86_400)
        items = query_items(
            self.store.client,
            TableName=self.store.table,
            KeyConditionExpression="pk = :pk AND sk > :after",
            ExpressionAttributeValues={":pk": {"S": pk}, ":after": {"S": _AFTER_BUCKETS}},
            ProjectionExpression="sk, #e",
            ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
        )
        updated = 0
        for item in items:
            expires = item.get(TTL_ATTRIBUTE, {}).get("N")
            if expires is not None and int(expires) >= due_before:
                continue
            try:
                self.store.client.update_item(
                    TableName=self.store.table,
                    Key={"pk": {"S": pk}, "sk": item["sk"]},
                    UpdateExpression="SET #e = :e",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
                    ExpressionAttributeValues={":e": {"N": new_ttl}},
                )
            except Exception as error:
                if not is_condition_failure(error):
                    raise
                continue  # erased or expired meanwhile: nothing to keep
            updated += 1
        self.refreshes += updated
        return updated


def ttl_update(expires_at: int | None) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The ``SET`` clause, names and values that stamp an UpdateItem of a person's item with
    ``expires_at`` (epoch seconds); empty when retention is off. Shape:
    (clause such as ``" SET #ttl = :ttl"``, ExpressionAttributeNames, ExpressionAttributeValues)."""
    if expires_at is None:
        return "", {}, {}
    return " SET #ttl = :ttl", {"#ttl": TTL_ATTRIBUTE}, {":ttl": {"N": str(expires_at)}}
