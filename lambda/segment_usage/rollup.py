"""Per-user rollups: closed days folded into one item, so that reading a user costs about the same
at two years of history as at thirty days.

A day bucket holds a user-day's messageId digests (the dedup ledger) and its usage counts. Lifetime
counts need every day, but the 7- and 30-day windows only the last 30. So days older than
``FOLD_AFTER_DAYS`` are folded into one ``ROLLUP`` item per user partition: ``w`` (the last folded
day), ``u`` (trait -> [count, first_ms, last_ms]) and ``n`` (messages folded). The buckets stay:
they are the ledger that recognises a retry, whatever its age. Readers read the rollup and only the
buckets after ``w``.

The rules that keep every message counted exactly once (UTC dates; ``today`` is the writer's):
- A message for a day of the last ``OPEN_DAYS`` days is recorded as ever: one conditional bucket
  write (``recorder.py``).
- A message for an older, *closed* day (a Segment replay, a device offline for weeks) takes the
  late path (``late.py``): its bucket write, the rollup and the catalog in one TransactWriteItems,
  so it counts once whether its day is already folded or not, and a compaction running meanwhile
  fails its conditional write and starts again.
- Compaction folds only days up to ``today - FOLD_AFTER_DAYS`` (two days past closing): a normal
  write for such a day would have been decided two calendar days ago, and an invocation lives at
  most 15 minutes. It writes the rollup on a version condition, so a retry or a race folds nothing
  twice.
- It runs from the write path, on a partition's check days: every ``CHECK_EVERY_DAYS`` days,
  staggered by a hash of the partition key so compactions spread over the days, when a message of
  that day opens a new bucket chain (one BatchGetItem of the rollups concerned, then a Query and a
  conditional Put per partition that has days to fold; nothing is written when nothing is to fold).
  A user active every day is folded every ``CHECK_EVERY_DAYS`` days, so a reader reads at most
  ``FOLD_AFTER_DAYS + CHECK_EVERY_DAYS + 1`` days of buckets; a rarely active user has few
  buckets to read anyway. Compaction only makes reads cheaper: reads are exact whatever ``w`` is,
  so a compaction that fails is simply tried again on a later check day.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .errors import AWS_ERRORS, error_text
from .keys import ROLLUP_SK, day_end_sk
from .ledger import Bucket
from .messages import Message

logger = logging.getLogger(__name__)

OPEN_DAYS = 32  # the 30-day window, plus two days for messages that arrive a little late
FOLD_AFTER_DAYS = OPEN_DAYS + 2
CHECK_EVERY_DAYS = 4  # a partition's rollup is checked (and folded if behind) every N days
MAX_RACES = 5


def utc_today() -> date:
    return datetime.now(UTC).date()


def is_closed(day: str, today: date) -> bool:
    """True for a day older than the last OPEN_DAYS: its messages take the late path."""
    return day < (today - timedelta(days=OPEN_DAYS)).isoformat()


def fold_through(today: date) -> str:
    """The newest day a compaction running ``today`` may fold."""
    return (today - timedelta(days=FOLD_AFTER_DAYS)).isoformat()


@dataclass
class Rollup:
    pk: str
    through: str | None = None  # last folded day; None: nothing folded yet
    usage: dict[str, list[int]] = field(default_factory=dict)  # trait -> [count, first, last]
    messages: int = 0
    version: int = 0  # 0: not stored yet

    @classmethod
    def from_item(cls, pk: str, item: dict[str, Any] | None) -> Rollup:
        if item is None:
            return cls(pk)
        return cls(
            pk=pk,
            through=item["w"]["S"] if "w" in item else None,
            usage={
                trait: [int(n["N"]) for n in value["L"]]
                for trait, value in item.get("u", {}).get("M", {}).items()
            },
            messages=int(item.get("n", {"N": "0"})["N"]),
            version=int(item["v"]["N"]),
        )

    def to_item(self, version: int) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": self.pk},
            "sk": {"S": ROLLUP_SK},
            "v": {"N": str(version)},
            "n": {"N": str(self.messages)},
            "u": {
                "M": {
                    trait: {"L": [{"N": str(x)} for x in counts]}
                    for trait, counts in sorted(self.usage.items())
                }
            },
        }
        if self.through is not None:
            item["w"] = {"S": self.through}
        return item

    def covers(self, day: str) -> bool:
        return self.through is not None and day <= self.through

    def is_due(self, today: date) -> bool:
        return self.through is None or self.through < fold_through(today)

    def _add(self, trait: str, count: int, first: int, last: int) -> None:
        current = self.usage.get(trait)
        if current is None:
            self.usage[trait] = [count, first, last]
        else:
            current[0] += count
            current[1] = min(current[1], first)
            current[2] = max(current[2], last)

    def copy(self) -> Rollup:
        usage = {trait: list(counts) for trait, counts in self.usage.items()}
        return Rollup(self.pk, self.through, usage, self.messages, self.version)

    def folded(self, buckets: Iterable[Bucket], through: str) -> Rollup:
        """A copy with ``buckets`` (the days after ``self.through`` up to ``through``) added."""
        new = self.copy()
        new.through = through
        for bucket in buckets:
            new.messages += len(bucket.hashes)
            for trait, (count, first, last) in bucket.usage.items():
                new._add(trait, count, first, last)
        return new

    def with_messages(self, messages: Iterable[Message]) -> Rollup:
        """A copy with late messages for already folded days added (the late path)."""
        new = self.copy()
        for message in messages:
            new.messages += 1
            if message.usage_trait:
                new._add(message.usage_trait, 1, message.ts_ms, message.ts_ms)
        return new


def is_check_day(pk: str, today: date) -> bool:
    """Whether ``today`` is one of ``pk``'s check days (staggered over partitions by a hash)."""
    offset = int.from_bytes(hashlib.blake2b(pk.encode("utf-8"), digest_size=4).digest(), "big")
    return (offset + today.toordinal()) % CHECK_EVERY_DAYS == 0


def buckets_after(rollup: Rollup) -> str:
    """The lowest sort key a reader still reads for ``rollup``'s partition: buckets after ``w``."""
    return day_end_sk(rollup.through) if rollup.through else "D#"


class Compactor:
    """Folds closed days of users' partitions into their rollups (see the module docstring)."""

    def __init__(self, store: Any, clock: Callable[[], date] = utc_today) -> None:
        self.store = store
        self.clock = clock
        self.compactions = 0  # rollups written by this container (observability, tests)

    def after_new_chains(self, user_days: Iterable[tuple[str, str]]) -> None:
        """Called with the (partition, day) pairs whose first bucket of a chain was just created:
        compacts the partitions whose check day it is, when a message of today opened the chain."""
        today = self.clock()
        self.compact_due(
            pk for pk, day in user_days if day == today.isoformat() and is_check_day(pk, today)
        )

    def compact_due(self, pks: Iterable[str]) -> None:
        """Compact each partition whose rollup is due; errors are logged, never raised."""
        pks = sorted(set(pks))
        if not pks:
            return
        today = self.clock()
        try:
            stored = self.store.batch_get([(pk, ROLLUP_SK) for pk in pks])
        except AWS_ERRORS as error:
            logger.warning("rollup: could not read rollups: %s", error_text(error))
            return
        for pk in pks:
            rollup = Rollup.from_item(pk, stored.get((pk, ROLLUP_SK)))
            if rollup.is_due(today):
                self.compact(rollup, today)

    def compact(self, rollup: Rollup, today: date) -> Rollup | None:
        """Fold every day up to ``fold_through(today)`` into ``rollup``; None if it gave up."""
        through = fold_through(today)
        try:
            for _ in range(MAX_RACES):
                if rollup.through is not None and rollup.through >= through:
                    return rollup
                buckets = self.store.buckets_between(rollup.pk, buckets_after(rollup), through)
                if not buckets and rollup.version == 0:
                    return None  # a new user: nothing to fold, and nothing worth writing
                new = rollup.folded(buckets, through)
                if self.store.put_versioned(new.to_item(rollup.version + 1), rollup.version):
                    self.compactions += 1
                    new.version = rollup.version + 1
                    return new
                # A late write or another compaction changed the rollup: read it and fold again.
                rollup = Rollup.from_item(rollup.pk, self.store.get(rollup.pk, ROLLUP_SK))
        except AWS_ERRORS as error:
            logger.warning("rollup: compaction failed (reads stay exact): %s", error_text(error))
            return None
        logger.warning("rollup: compaction lost %d races; it is tried again later", MAX_RACES)
        return None
