"""The late path: messages for closed days (older than ``rollup.OPEN_DAYS``), recorded exactly once
whether or not compaction has folded their day into the user's rollup yet.

Each bucket write goes in one TransactWriteItems with
- the rollup, on its version: the late messages' counts added when their day is already folded
  (readers no longer read that day's buckets), else only its version bumped, so that a compaction
  that read the buckets before this write fails its conditional write and folds again;
- the catalog counts of those messages (ADD), so no take-back is ever needed on this path.
Duplicates are found as on the normal path, in the day's buckets (the ledger is never folded away).
A transaction costs twice the WCU of its items; only messages weeks late pay it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from ..ingest.messages import Message
from ..table.catalog import IF_MISSING, catalog_update
from ..table.errors import AWS_ERRORS, classify
from ..table.keys import ROLLUP_SK, catalog_pk, catalog_shard
from ..table.rollups import Rollup
from .compactor import MAX_RACES
from .ledger import BucketWrite, plan_day

Result = tuple[str, str | None]  # (status, error): accepted | duplicate | failed | unrecordable


def catalog_updates(messages: list[Message]) -> list[dict[str, Any]]:
    """The catalog ADDs of ``messages``, one per catalog item, as transaction Update entries."""
    counts: Counter[tuple[str, str, str]] = Counter()
    newest: dict[tuple[str, str, str], Message] = {}
    for message in messages:
        if message.catalog is None:
            continue
        key = (catalog_pk(catalog_shard(message.hash)), *message.catalog)
        counts[key] += 1
        if key not in newest or message.ts_ms > newest[key].ts_ms:
            newest[key] = message
    return [
        catalog_update(
            pk, call_type, name, count, newest[key].ts_ms, newest[key].usage_trait, IF_MISSING
        )
        for key, count in sorted(counts.items())
        for pk, call_type, name in [key]
    ]


class LateRecorder:
    def __init__(self, store: Any) -> None:
        self.store = store

    def record(self, messages: list[Message]) -> list[Result]:
        """Results in the order of ``messages`` (all for closed days)."""
        results: list[Result | None] = [None] * len(messages)
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, message in enumerate(messages):
            groups[(message.pk, message.day)].append(i)
        for (pk, day), indexes in groups.items():
            try:
                self._commit_day(pk, day, messages, indexes, results)
            except AWS_ERRORS as error:
                failure = classify(error)
                for i in indexes:
                    if results[i] is None:
                        results[i] = failure
        return [r or ("failed", "late path: lost every optimistic-lock race") for r in results]

    def _commit_day(
        self,
        pk: str,
        day: str,
        messages: list[Message],
        indexes: list[int],
        results: list[Result | None],
    ) -> None:
        pending = list(indexes)
        for _ in range(MAX_RACES):
            todo = [messages[i] for i in pending]
            rollup = Rollup.from_item(pk, self.store.get(pk, ROLLUP_SK))
            plan = plan_day(pk, day, self.store.day_buckets(pk, day), todo)
            position = {id(messages[i]): i for i in pending}
            for message in plan.duplicates:
                results[position[id(message)]] = ("duplicate", None)
            for write in plan.writes:
                rollup = self._write(rollup, day, write)
                if rollup is None:
                    break  # a race: read everything again and re-plan what is left
                for message in write.messages:
                    results[position[id(message)]] = ("accepted", None)
            pending = [i for i in pending if results[i] is None]
            if not pending:
                return

    def _write(self, rollup: Rollup, day: str, write: BucketWrite) -> Rollup | None:
        """One transaction; the rollup as it now stands, or None when a condition failed."""
        after = rollup.with_messages(write.messages) if rollup.covers(day) else rollup.copy()
        expected = write.before.version if write.before else 0
        done = self.store.transact(
            puts=[
                (write.after.to_item(expected + 1), expected),
                (after.to_item(rollup.version + 1), rollup.version),
            ],
            updates=catalog_updates(write.messages),
        )
        if not done:
            return None
        after.version = rollup.version + 1
        return after
