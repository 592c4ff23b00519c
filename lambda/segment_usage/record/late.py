"""The late path: messages for closed days (older than ``days.OPEN_DAYS``), recorded exactly once
and folded into the user's rollup at once, in bulk: what a backfill, a source replaying old days
or a device offline for weeks sends.

Per user partition and invocation, whatever the number of days its messages fall on:
1. Reads: the rollup (with the invocation's one BatchGetItem, ``recorder.py``) and every bucket of
   the message days, one strongly consistent Query per run of consecutive days (``RUN_GAP_DAYS``).
   When the rollup is behind (``w`` < ``days.fold_through(today)``), it is caught up first: the
   buckets after ``w`` up to ``fold_through`` are read (one Query, which also serves as the dedup
   read of the message days in that range) and folded, as a compaction would (``compactor.py``).
2. The dedup decision per day (``ledger.plan_day``): a duplicate is a digest already in one of its
   day's buckets, whatever the day's age (the ledger is never folded away). A foldable day is
   written dense: all its new messages into one bucket (~80 a KB), not one per hash chain.
3. One TransactWriteItems (more only past ``MAX_TRANSACTION_ITEMS``) holding every new or changed
   bucket, the rollup on its version with the new messages of foldable days added (and the catch-up
   fold, and ``w`` moved to ``fold_through``), and one catalog ADD per name. So a loaded history is
   folded the moment it lands: a reader reads the rollup and the buckets after ``w`` (at most the
   ``FOLD_AFTER_DAYS`` newest days), never the history. The one closed day that is not yet foldable
   (``today - OPEN_DAYS - 1``) keeps its counts in its buckets, written by hash chain; the rollup's
   version still moves with it.

Why each message counts once:
- the buckets and the rollup change together or not at all, on their versions: another late
  writer of the same partition (any day) or a compaction that read before this write fails its
  conditional write, reads again and re-plans (``MAX_RACES``, with jittered back-off); a
  transaction cancelled by another transaction on one of its items is the same lost race;
- an open-path writer never writes a foldable day (it is closed to any clock within two days of
  the truth), and for the not-yet-foldable day both write by hash chain, so they collide on the
  chain's bucket version as two open-path writers do;
- readers skip the buckets up to ``w``, whose counts are in the rollup, and read those after it;
- the catalog ADDs commit with the buckets: nothing to take back;
- botocore retries a timed-out transaction with the same ClientRequestToken, which DynamoDB
  answers as done without writing again (and a retry after that token expired fails its version
  conditions, is re-planned, and finds the messages recorded: duplicates).

Windows of any length (1-365 days) and regularity: every late message reaches the rollup through
``Rollup.with_messages`` with its day and amounts, which adds it to the lifetime counts and to the
rollup's per-day series (the days within ``SERIES_DAYS`` of ``w``), and the catch-up fold adds
whole buckets per day the same way (``table/rollups.py``); the dedup decision above comes first,
so a redelivered message adds to neither. A backfill from the S3 archive goes through this path
unchanged (grouped by user upstream: see the cost below).

Cost: a transaction costs twice the WCU of its items, but here its items are one bucket per day
(of ~5-80 messages), one rollup and one catalog item per name for the whole partition's batch: at
5 messages a day ~0.5 WCU per message, whatever the history already recorded. Messages of many
users one each (an archive's order) cost ~3 items each: group them by user upstream.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from ..ingest.messages import Message
from ..table.buckets import Bucket
from ..table.catalog import IF_MISSING, catalog_update
from ..table.errors import AWS_ERRORS, classify
from ..table.keys import ROLLUP_SK, catalog_pk, catalog_shard
from ..table.rollups import Rollup, buckets_after
from . import days
from .ledger import BucketWrite, back_off, plan_day

Result = tuple[str, str | None]  # (status, error): accepted | duplicate | failed | unrecordable

MAX_RACES = 10
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit (items <= ~1 KB buckets + a rollup: far under 4 MB)
RUN_GAP_DAYS = 3  # days between two message days read in the same Query rather than two


def catalog_updates(messages: list[Message]) -> list[dict[str, Any]]:
    """The catalog ADDs of ``messages``, one per name (on the shard of its first message, as the
    open path does), as transaction Update entries."""
    counts: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], Message] = {}
    newest: dict[tuple[str, str], int] = {}
    for message in messages:
        if message.catalog is None:
            continue
        name = message.catalog
        counts[name] += 1
        first.setdefault(name, message)
        newest[name] = max(newest.get(name, message.ts_ms), message.ts_ms)
    return [
        catalog_update(
            catalog_pk(catalog_shard(first[name].hash)),
            *name,
            count,
            newest[name],
            first[name].usage_trait,
            IF_MISSING,  # late messages are older than what set last_seen_ms, if anything did
        )
        for name, count in sorted(counts.items())
    ]


def day_runs(message_days: list[str]) -> list[tuple[str, str]]:
    """Sorted days as (first, last) runs, days at most ``RUN_GAP_DAYS`` apart in the same run."""
    runs: list[tuple[str, str]] = []
    for day in sorted(set(message_days)):
        if runs:
            gap = date.fromisoformat(day) - date.fromisoformat(runs[-1][1])
            if gap <= timedelta(days=RUN_GAP_DAYS):
                runs[-1] = (runs[-1][0], day)
                continue
        runs.append((day, day))
    return runs


def transactions(writes: list[BucketWrite]) -> list[list[BucketWrite]]:
    """``writes`` split so that each transaction holds at most ``MAX_TRANSACTION_ITEMS`` items:
    its buckets, the rollup and one catalog item per name of its messages."""
    chunks: list[list[BucketWrite]] = [[]]
    names: set[tuple[str, str]] = set()
    for write in writes:
        more = {m.catalog for m in write.messages if m.catalog is not None}
        if len(chunks[-1]) + 1 + len(names | more) + 1 > MAX_TRANSACTION_ITEMS and chunks[-1]:
            chunks.append([])
            names = set()
        chunks[-1].append(write)
        names |= more
    return chunks


class LateRecorder:
    def __init__(self, store: Any, clock: Callable[[], date] | None = None) -> None:
        self.store = store
        # The writer's "today" (which days are foldable), looked up on each call.
        self.clock = clock or (lambda: days.utc_today())

    def record(
        self, messages: list[Message], rollups: Mapping[str, dict[str, Any] | None] | None = None
    ) -> list[Result]:
        """Results in the order of ``messages`` (all for closed days). ``rollups``: partition ->
        its rollup item (None: there is none), as the caller already read them strongly
        consistent; the partitions it does not hold are read here, in one BatchGetItem."""
        results: list[Result | None] = [None] * len(messages)
        partitions: dict[str, list[int]] = defaultdict(list)
        for i, message in enumerate(messages):
            partitions[message.pk].append(i)
        known = dict(rollups or {})
        unread = [pk for pk in partitions if pk not in known]
        if unread:
            try:
                found = self.store.batch_get([(pk, ROLLUP_SK) for pk in unread])
                known.update((pk, found.get((pk, ROLLUP_SK))) for pk in unread)
            except AWS_ERRORS:
                pass  # each partition then reads its own (and reports its own failure)
        for pk, indexes in partitions.items():
            try:
                self._commit_partition(pk, known, messages, indexes, results)
            except (*AWS_ERRORS, OverflowError) as error:
                failure = (
                    ("unrecordable", f"late path: {error}")
                    if isinstance(error, OverflowError)
                    else classify(error)
                )
                for i in indexes:
                    if results[i] is None:
                        results[i] = failure
        return [r or ("failed", "late path: lost every optimistic-lock race") for r in results]

    def _commit_partition(
        self,
        pk: str,
        known: Mapping[str, dict[str, Any] | None],
        messages: list[Message],
        indexes: list[int],
        results: list[Result | None],
    ) -> None:
        pending = list(indexes)
        for attempt in range(MAX_RACES):
            back_off(attempt)
            # The batch read first; after a lost race (or without it) the rollup read again.
            fresh = attempt == 0 and pk in known
            rollup = Rollup.from_item(pk, known[pk] if fresh else self.store.get(pk, ROLLUP_SK))
            by_day: dict[str, list[Message]] = defaultdict(list)
            for i in pending:
                by_day[messages[i].day].append(messages[i])
            through = days.fold_through(self.clock())
            existing, folded = self._read(pk, rollup, list(by_day), through)
            position = {id(messages[i]): i for i in pending}
            writes: list[BucketWrite] = []
            for day, todays in sorted(by_day.items()):
                plan = plan_day(pk, day, existing.get(day, ()), todays, dense=day <= through)
                for message in plan.duplicates:
                    results[position[id(message)]] = ("duplicate", None)
                writes += plan.writes
            if not writes and folded.through == rollup.through:
                return  # only duplicates, and the rollup is current: nothing to write
            expected = rollup.version
            for chunk in transactions(writes):
                recorded = [m for write in chunk for m in write.messages]
                after = folded.with_messages([m for m in recorded if folded.covers(m.day)])
                done = self.store.transact(
                    puts=[
                        *((w.after.to_item(_version(w) + 1), _version(w)) for w in chunk),
                        (after.to_item(expected + 1), expected),
                    ],
                    updates=catalog_updates(recorded),
                )
                if not done:
                    break  # a race: read everything again and re-plan what is left
                for message in recorded:
                    results[position[id(message)]] = ("accepted", None)
                folded, expected = after, expected + 1
            pending = [i for i in pending if results[i] is None]
            if not pending:
                return

    def _read(
        self, pk: str, rollup: Rollup, message_days: list[str], through: str
    ) -> tuple[dict[str, list[Bucket]], Rollup]:
        """The buckets of ``message_days`` by day, and ``rollup`` caught up to ``through``."""
        existing: dict[str, list[Bucket]] = defaultdict(list)
        folded = rollup
        to_read = message_days
        if not rollup.covers(through):
            # Catch up: fold what sorts after ``w`` up to ``through``. That Query also reads the
            # message days after ``w`` (up to the newest closed one, at most a day past
            # ``through``): every bucket of theirs, so no second read for them.
            newest = max([through, *message_days])
            caught = self.store.buckets_between(pk, buckets_after(rollup), newest)
            folded = rollup.folded([b for b in caught if b.day <= through], through)
            for bucket in caught:
                existing[bucket.day].append(bucket)
            to_read = [d for d in message_days if rollup.covers(d)]
        for first, last in day_runs(to_read):
            for bucket in self.store.buckets_of_days(pk, first, last):
                existing[bucket.day].append(bucket)
        return existing, folded


def _version(write: BucketWrite) -> int:
    return write.before.version if write.before else 0
