"""Record valid messages exactly once: the order of writes that makes retries safe.

1. Idempotent effects first (identify traits, groups, links): re-applying them changes nothing.
2. The day-bucket commit: the messageId digest and the usage counts in one conditional write.
   This is the exactly-once point; a message whose digest is already there is a duplicate.
3. The event catalog (ADD, not idempotent), only for messages step 2 newly recorded, on one of
   ``keys.CATALOG_SHARDS`` shard items per name (picked by the first message of that name in the
   invocation, so a batch adds up into one item per name). If it fails, those messages are taken
   back out of their buckets and reported failed, so a retry redoes both.

Messages for closed days take the late path instead of steps 2 and 3 (``late.py``): per user
partition, one transaction of its buckets, its rollup and its catalog counts.

Reads: one BatchGetItem per invocation fetches the profiles and groups of step 1, the first bucket
of every chain the messages fall in, the catalog items they add to and the rollups of the
partitions with closed-day messages; only a chain whose first bucket is full needs a Query (and a
lost race a fresh read of its user-day), and the late path one Query per run of closed days.

Errors (``errors.py``): a transient one (throttling, 5xx, timeout, lost races) reports the messages
it touched ``failed`` (retried: batchItemFailures, the buffer queue, or the caller); a permanent one
(ValidationException, another 4xx, over a budget) reports them ``unrecordable`` with the reason.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..ingest.messages import Message
from ..table.buckets import Bucket
from ..table.errors import AWS_ERRORS, classify, error_text
from ..table.keys import (
    ROLLUP_SK,
    bucket_sk,
    catalog_pk,
    catalog_shard,
    catalog_sk,
    day_shard,
    is_first_bucket,
)
from ..table.store import Key, Store
from . import days, profiles
from .compactor import Compactor
from .late import LateRecorder
from .ledger import back_off, plan_day
from .retention import Retention

logger = logging.getLogger(__name__)
MAX_RACES = 10  # optimistic-lock retries per item before giving up (reported as failed)


class LostRace(RuntimeError):
    """Another writer kept winning the conditional write; the caller should retry later."""


@dataclass
class Outcome:
    status: str  # "accepted" | "duplicate" | "failed" (transient) | "unrecordable" (permanent)
    error: str | None = None


def _failure(error: BaseException, prefix: str = "") -> Outcome:
    return Outcome(*classify(error, prefix))


class Recorder:
    def __init__(self, store: Store, clock: Callable[[], date] | None = None) -> None:
        self.store = store
        # The writer's "today" (which days are closed, days.py); looked up on each call.
        self.clock = clock or (lambda: days.utc_today())
        self.late = LateRecorder(store, self.clock)
        self.compactor = Compactor(store, self.clock)
        self.retention = Retention(store, self.clock)
        self.drift_events = 0  # catalog counts that could not be made right (see README)

    def record(self, messages: list[Message]) -> list[Outcome]:
        """Outcomes in the order of ``messages`` (the same messageId may appear more than once)."""
        outcomes: list[Outcome | None] = [None] * len(messages)
        today = self.clock()
        opened = [not days.is_closed(m.day, today) for m in messages]  # closed days: late.py
        catalog_keys = self._catalog_keys(messages, opened)
        effects = self._effect_keys(messages)
        heads = self._read_heads(messages, opened, catalog_keys, effects)
        self._apply_effects(messages, outcomes, effects, heads)
        self._record_closed_days(messages, outcomes, opened, heads)
        buckets_of = self._commit_days(messages, outcomes, heads)
        self._count_in_catalog(messages, outcomes, buckets_of, catalog_keys, heads)
        if heads is not None:  # chains this invocation opened: their partitions may be due a fold
            opened_chains = [
                (pk, day)
                for pk, day, sk in buckets_of.values()
                if is_first_bucket(sk) and (pk, sk) not in heads
            ]
            self.compactor.after_new_chains(opened_chains)
            self.retention.after_new_chains(opened_chains)
        return [o or Outcome("failed", "not processed") for o in outcomes]

    def _record_closed_days(
        self,
        messages: list[Message],
        outcomes: list[Outcome | None],
        opened: list[bool],
        heads: dict[Key, dict[str, Any]] | None,
    ) -> None:
        """Messages for days older than the open window take the late path (late.py), with the
        rollups the invocation's batch read fetched."""
        late = [i for i, m in enumerate(messages) if outcomes[i] is None and not opened[i]]
        if late:
            rollups = None
            if heads is not None:
                pks = {messages[i].pk for i in late}
                rollups = {pk: heads.get((pk, ROLLUP_SK)) for pk in pks}
            results = self.late.record([messages[i] for i in late], rollups)
            for i, (status, error) in zip(late, results, strict=True):
                outcomes[i] = Outcome(status, error)

    @staticmethod
    def _catalog_keys(messages: list[Message], opened: list[bool]) -> dict[tuple[str, str], Key]:
        """Catalog name -> the shard item this invocation adds to (its first message's shard)."""
        keys: dict[tuple[str, str], Key] = {}
        for i, message in enumerate(messages):
            name = message.catalog
            if name is not None and opened[i] and name not in keys:
                keys[name] = (catalog_pk(catalog_shard(message.hash)), catalog_sk(*name))
        return keys

    @staticmethod
    def _effect_keys(messages: list[Message]) -> dict[Key, list[int]]:
        """Profile or group item -> the messages that change it (step 1)."""
        by_key: dict[Key, list[int]] = defaultdict(list)
        for i, message in enumerate(messages):
            for key in profiles.effect_keys(message):
                by_key[key].append(i)
        return by_key

    def _read_heads(
        self,
        messages: list[Message],
        opened: list[bool],
        catalog_keys: dict[tuple[str, str], Key],
        effects: dict[Key, list[int]],
    ) -> dict[Key, dict[str, Any]] | None:
        """One BatchGetItem for the whole invocation: the profiles and groups step 1 merges into,
        the first bucket of each chain in play, and the catalog items."""
        keys: list[Key] = list(effects)
        for i, message in enumerate(messages):
            if opened[i]:
                shard = day_shard(message.hash)
                keys.append((message.pk, bucket_sk(message.day, shard, 0)))
            else:  # a closed day: the late path starts from the partition's rollup
                keys.append((message.pk, ROLLUP_SK))
        keys += catalog_keys.values()
        if not keys:
            return {}
        try:
            return self.store.batch_get(keys)
        except AWS_ERRORS:
            return None  # each user-day then reads its own buckets (and reports its own failure)

    def _first_buckets(
        self, pk: str, day: str, pending: list[Message], heads: dict[Key, dict[str, Any]] | None
    ) -> list[Bucket]:
        """The buckets ``plan_day`` needs for ``pending``: those of the chains they fall in."""
        if heads is None:
            return self.store.day_buckets(pk, day)
        buckets: list[Bucket] = []
        for shard in sorted({day_shard(m.hash) for m in pending}):
            item = heads.get((pk, bucket_sk(day, shard, 0)))
            if item is None:
                continue  # an empty chain: its first bucket is the one to create
            first = Bucket.from_item(item)
            # A full first bucket: the chain goes on (a new message may be in a later bucket).
            buckets += self.store.chain_buckets(pk, day, shard) if first.is_full() else [first]
        return buckets

    # -- step 1 ------------------------------------------------------------------------------
    def _apply_effects(
        self,
        messages: list[Message],
        outcomes: list[Outcome | None],
        by_key: dict[Key, list[int]],
        read: dict[Key, dict[str, Any]] | None,
    ) -> None:
        if not by_key:
            return
        try:  # read with the chain heads; read again only if that batch read failed
            stored = read if read is not None else self.store.batch_get(by_key)
        except AWS_ERRORS as error:
            for indexes in by_key.values():
                for i in indexes:
                    outcomes[i] = _failure(error)
            return
        for key, indexes in by_key.items():
            item = stored.get(key)
            try:
                for attempt in range(MAX_RACES):
                    back_off(attempt)
                    new, over = profiles.apply_within_budget(
                        key, item, [messages[i] for i in indexes]
                    )
                    if new is None or self.store.put_versioned(new, profiles.version(item)):
                        for n in over:  # kept as rejected: they can never fit
                            outcomes[indexes[n]] = Outcome(
                                "unrecordable", profiles.over_budget_reason(key)
                            )
                        break
                    item = self.store.get(*key)
                else:
                    raise LostRace(f"{key[1]}: lost {MAX_RACES} optimistic-lock races")
            except (*AWS_ERRORS, LostRace) as error:
                for i in indexes:
                    outcomes[i] = _failure(error)

    # -- step 2 ------------------------------------------------------------------------------
    def _commit_days(
        self,
        messages: list[Message],
        outcomes: list[Outcome | None],
        heads: dict[Key, dict[str, Any]] | None,
    ) -> dict[int, tuple[str, str, str]]:
        """Commit each user-day; returns message index -> (pk, day, bucket sk) it landed in."""
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, message in enumerate(messages):
            if outcomes[i] is None:
                groups[(message.pk, message.day)].append(i)
        landed: dict[int, tuple[str, str, str]] = {}
        for (pk, day), indexes in groups.items():
            try:
                self._commit_day(pk, day, messages, indexes, outcomes, landed, heads)
            except (*AWS_ERRORS, LostRace) as error:
                for i in indexes:
                    if outcomes[i] is None:
                        outcomes[i] = _failure(error)
        return landed

    def _commit_day(
        self,
        pk: str,
        day: str,
        messages: list[Message],
        indexes: list[int],
        outcomes: list[Outcome | None],
        landed: dict[int, tuple[str, str, str]],
        heads: dict[Key, dict[str, Any]] | None,
    ) -> None:
        """Commit one user-day, filling ``outcomes`` and ``landed`` as each bucket write lands."""
        pending = list(indexes)
        for attempt in range(MAX_RACES):
            back_off(attempt)
            todo = [messages[i] for i in pending]
            # First attempt: the chains' first buckets read with the whole invocation's batch
            # read; after a lost race, the user-day read again (strongly consistent).
            existing = (
                self._first_buckets(pk, day, todo, heads)
                if attempt == 0
                else self.store.day_buckets(pk, day)
            )
            plan = plan_day(pk, day, existing, todo)
            position = {id(messages[i]): i for i in pending}
            for write in plan.writes:
                expected = write.before.version if write.before else 0
                if not self.store.put_bucket(write.after, expected):
                    break  # another writer changed this user-day: re-read and re-plan the rest
                for message in write.messages:  # recorded now, whatever happens next
                    i = position[id(message)]
                    outcomes[i] = Outcome("accepted")
                    landed[i] = (pk, day, write.after.sk)
            for message in plan.duplicates:
                outcomes[position[id(message)]] = Outcome("duplicate")
            still = [i for i in pending if outcomes[i] is None]
            if not still:
                return
            pending = still
        raise LostRace(f"{pk} {day}: lost {MAX_RACES} optimistic-lock races")

    # -- step 3 ------------------------------------------------------------------------------
    def _count_in_catalog(
        self,
        messages: list[Message],
        outcomes: list[Outcome | None],
        landed: dict[int, tuple[str, str, str]],
        keys: dict[tuple[str, str], Key],
        known: dict[Key, dict[str, Any]] | None,
    ) -> None:
        by_name: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i in landed:
            if messages[i].catalog is not None:
                by_name[messages[i].catalog].append(i)
        if not by_name:
            return
        known = known or {}  # last_seen_ms read: only an optimisation, add_to_catalog is exact
        failed: list[int] = []
        for name, indexes in by_name.items():
            newest = max(messages[i].ts_ms for i in indexes)
            item = known.get(keys[name])
            last = int(item["last_seen_ms"]["N"]) if item and "last_seen_ms" in item else -1
            try:
                self.store.add_to_catalog(
                    keys[name][0], *name, len(indexes), newest,
                    messages[indexes[0]].usage_trait, newest > last,
                )  # fmt: skip
            except AWS_ERRORS as error:
                for i in indexes:
                    outcomes[i] = _failure(error, "event catalog: ")
                failed += indexes
        if failed:
            self._take_back(messages, failed, landed)

    def _take_back(
        self, messages: list[Message], indexes: list[int], landed: dict[int, tuple[str, str, str]]
    ) -> None:
        """Remove messages from their buckets so that their retry is not taken for a duplicate."""
        by_bucket: dict[tuple[str, str, str], list[Message]] = defaultdict(list)
        for i in indexes:
            by_bucket[landed[i]].append(messages[i])
        for (pk, day, sk), taken in by_bucket.items():
            try:
                for attempt in range(MAX_RACES):
                    back_off(attempt)
                    bucket = next(b for b in self.store.day_buckets(pk, day) if b.sk == sk)
                    after = bucket.copy()
                    after.closed = bucket.is_full()  # its chain may go on past it: keep saying so
                    for message in taken:
                        after.remove(message)
                    if self.store.put_bucket(after, bucket.version):
                        break
                else:
                    raise LostRace("lost every race while taking messages back")
            except (*AWS_ERRORS, LostRace, StopIteration) as error:
                # Usage stays recorded; the catalog misses these messages. Logged, ids only.
                self.drift_events += len(taken)
                logger.error(
                    "catalog drift: could not take back %d message(s) from %s %s: %s",
                    len(taken),
                    pk.split("#", 1)[0],
                    day,
                    error_text(error) if not isinstance(error, StopIteration) else "bucket gone",
                )
