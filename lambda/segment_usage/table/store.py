"""DynamoDB I/O of the write side: every request the recorder makes to its table is in this file.

Errors: botocore's ``ClientError``/``BotoCoreError`` pass through (``errors.py`` classifies them);
a lost optimistic-lock race is a ``False`` return, never an exception.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from .buckets import Bucket
from .catalog import ADVANCE, IF_MISSING, catalog_update
from .keys import PERSON_PREFIXES, TTL_ATTRIBUTE, chain_prefix, day_end_sk, day_prefix
from .pages import query_items

Key = tuple[str, str]
CONDITION_FAILED = "ConditionalCheckFailedException"
# Why a transaction was cancelled without being at fault: a version condition failed (another writer
# got there first) or another transaction held one of its items (TransactionConflict). Nothing of it
# was applied either way: the caller reads again and retries, as after any lost race.
RACE_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict", "None"})
# Cancelled for capacity: transient, though TransactionCanceledException itself is a 400 that
# errors.classify would call permanent. Re-raised as the throttling error it is.
THROTTLED_REASONS = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


def is_condition_failure(error: Exception) -> bool:
    return isinstance(error, ClientError) and error.response["Error"]["Code"] == CONDITION_FAILED


def epoch_seconds() -> int:
    """The wall clock in whole epoch seconds (the TTL's unit); one name for tests to move."""
    return int(time.time())


def is_person_item(pk: str) -> bool:
    """Whether an item of partition ``pk`` holds one person's data (a ``U#`` or ``A#`` partition),
    the items data retention expires."""
    return pk.startswith(PERSON_PREFIXES)


class Store:
    """Thin wrapper over a low-level boto3 DynamoDB client bound to one table.

    ``expire_after_days`` (data retention, None: off): every item of a person's partition this
    store writes carries ``expires_at`` (epoch seconds, the table's TTL attribute) that many days
    from the write; ``record/retention.py`` moves the items not rewritten forward while the person
    is active.
    """

    def __init__(self, client: Any, table: str, expire_after_days: int | None = None) -> None:
        self.client = client
        self.table = table
        self.expire_after_days = expire_after_days

    def expires_at(self) -> int | None:
        """The TTL (epoch seconds) a person's item written now gets; None without retention."""
        if self.expire_after_days is None:
            return None
        return epoch_seconds() + self.expire_after_days * 86_400

    def _stamped(self, item: dict[str, Any]) -> dict[str, Any]:
        """``item`` with ``expires_at`` when retention is on and it is a person's item."""
        expires = self.expires_at()
        if expires is None or not is_person_item(item["pk"]["S"]):
            return item
        return {**item, TTL_ATTRIBUTE: {"N": str(expires)}}

    # -- reads -------------------------------------------------------------------------------
    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        return response.get("Item")

    def batch_get(self, keys: Iterable[Key], consistent: bool = True) -> dict[Key, dict[str, Any]]:
        """Items by key (missing keys absent), 100 keys a request, unprocessed keys retried."""
        wanted = list(dict.fromkeys(keys))
        found: dict[Key, dict[str, Any]] = {}
        for start in range(0, len(wanted), 100):
            request = {
                self.table: {
                    "Keys": [
                        {"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in wanted[start : start + 100]
                    ],
                    "ConsistentRead": consistent,
                }
            }
            for attempt in range(8):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    found[(item["pk"]["S"], item["sk"]["S"])] = item
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise RuntimeError("DynamoDB BatchGetItem left keys unprocessed after 8 attempts")
        return found

    def day_buckets(self, pk: str, day: str) -> list[Bucket]:
        """All buckets of one user-day, strongly consistent (the dedup decision depends on it)."""
        return self._buckets(pk, day_prefix(day))

    def chain_buckets(self, pk: str, day: str, shard: int) -> list[Bucket]:
        """Every bucket of one chain of a user-day (when its first bucket is full)."""
        return self._buckets(pk, chain_prefix(day, shard))

    def _buckets(self, pk: str, prefix: str) -> list[Bucket]:
        items = query_items(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :day)",
            ExpressionAttributeValues={":pk": {"S": pk}, ":day": {"S": prefix}},
            ConsistentRead=True,
        )
        return [Bucket.from_item(item) for item in items]

    def buckets_of_days(self, pk: str, first_day: str, last_day: str) -> list[Bucket]:
        """Every bucket of the days ``first_day`` to ``last_day`` (a run of days), strongly
        consistent: one Query however many days the run holds (the late path's dedup read)."""
        items = query_items(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": pk},
                ":lo": {"S": day_prefix(first_day)},
                ":hi": {"S": day_end_sk(last_day)},
            },
            ConsistentRead=True,
        )
        return [Bucket.from_item(item) for item in items]

    def buckets_between(self, pk: str, after_sk: str, through_day: str) -> list[Bucket]:
        """Buckets sorting after ``after_sk`` up to the last of ``through_day`` (compaction)."""
        items = query_items(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": pk},
                ":lo": {"S": after_sk},
                ":hi": {"S": day_end_sk(through_day)},
            },
            ConsistentRead=True,
        )
        return [Bucket.from_item(item) for item in items if item["sk"]["S"] != after_sk]

    # -- writes ------------------------------------------------------------------------------
    def transact(
        self, puts: list[tuple[dict[str, Any], int]], updates: list[dict[str, Any]]
    ) -> bool:
        """One TransactWriteItems: versioned puts (item, expected version; 0: must not exist) and
        unconditional updates. False when it lost a race (a version condition failed, or another
        transaction held one of its items), and nothing was written; raises otherwise.

        botocore sends one ClientRequestToken for all its retries of the call, so a retry of a
        transaction that went through (a timeout on the way back) succeeds without writing twice.
        """
        entries: list[dict[str, Any]] = []
        for item, expected in puts:
            put: dict[str, Any] = {"TableName": self.table, "Item": self._stamped(item)}
            if expected == 0:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "v = :v"
                put["ExpressionAttributeValues"] = {":v": {"N": str(expected)}}
            entries.append({"Put": put})
        entries += [{"Update": {"TableName": self.table, **update}} for update in updates]
        try:
            self.client.transact_write_items(TransactItems=entries)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = {
                r.get("Code") or "None" for r in error.response.get("CancellationReasons") or []
            }
            if reasons <= RACE_REASONS and reasons - {"None"}:
                return False
            if reasons & THROTTLED_REASONS:
                throttled = {
                    "Error": {
                        "Code": "ThrottlingException",
                        "Message": f"cancelled: {sorted(reasons)}",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                }
                raise ClientError(throttled, error.operation_name) from error  # type: ignore[arg-type]
            raise
        return True

    def put_versioned(self, item: dict[str, Any], expected_version: int) -> bool:
        """Put ``item`` if the stored version is ``expected_version`` (0: must not exist).

        Returns False when another writer got there first; raises on any other error.
        """
        if expected_version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "v = :v",
                "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
            }
        try:
            self.client.put_item(TableName=self.table, Item=self._stamped(item), **condition)
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def put_bucket(self, bucket: Bucket, expected_version: int) -> bool:
        return self.put_versioned(bucket.to_item(expected_version + 1), expected_version)

    def put(self, item: dict[str, Any]) -> None:
        """Unconditional put, for records keyed so that rewriting them is harmless."""
        self.client.put_item(TableName=self.table, Item=self._stamped(item))

    def add_to_catalog(
        self,
        pk: str,
        call_type: str,
        name: str,
        count: int,
        ts_ms: int,
        trait: str | None,
        newer: bool,
    ) -> None:
        """ADD ``count`` to a catalog entry (``catalog.catalog_update``); ``last_seen_ms`` moves
        forward only when ``newer`` and no other writer moved it past ``ts_ms`` meanwhile."""
        args = (pk, call_type, name, count, ts_ms, trait)
        if newer:
            try:
                self.client.update_item(TableName=self.table, **catalog_update(*args, ADVANCE))
                return
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
        self.client.update_item(TableName=self.table, **catalog_update(*args, IF_MISSING))
