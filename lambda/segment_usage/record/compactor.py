"""Compaction: closed days folded into one rollup item per user, so that reading a user costs
about the same at two years of history as at thirty days.

A day bucket holds a user-day's messageId digests (the dedup ledger) and its usage counts. Lifetime
counts need every day, but the 7- and 30-day windows only the last 30. So days older than
``FOLD_AFTER_DAYS`` are folded into one ``ROLLUP`` item per user partition: ``w`` (the last folded
day), ``u`` (trait -> [count, first_ms, last_ms], + the sum of a summed trait), ``d`` (per
trait, the count and sum of each folded day of the last 365 up to ``w``: windows of any length,
regularity) and ``n`` (messages folded); ``table/rollups.py`` has the encoding and its size
bound. The buckets stay: they are the ledger that recognises a retry, whatever its age. Readers
read the rollup and only the buckets after ``w``.

The rules that keep every message counted exactly once (UTC dates; ``today`` is the writer's):
- A message for a day of the last ``OPEN_DAYS`` days is recorded as ever: one conditional bucket
  write (``recorder.py``); which days are open is ``days.py``.
- Messages for older, *closed* days (a Segment replay, a device offline for weeks, a backfill) take
  the late path (``late.py``), a partition's whole batch at once: its bucket writes, the rollup and
  the catalog in one TransactWriteItems. The late path first catches the rollup up to
  ``fold_through(today)`` (folding in the same transaction what a compaction would), then adds the
  new messages of foldable days to it: a loaded history is folded the moment it lands, and its
  reads are bounded at once. Only the one closed day not yet foldable keeps its counts in buckets.
  Every late transaction writes the rollup on its version, so a compaction or another late write
  that read before it fails its conditional write and starts again.
- Compaction (here, or the late path's catch-up) folds only days up to ``today - FOLD_AFTER_DAYS``
  (two days past closing): a normal write for such a day would have been decided two calendar days
  ago, and an invocation lives at most 15 minutes; no writer's clock is two days off, so no
  open-path write lands in a folded day. It writes the rollup on a version condition, so a retry or
  a race folds nothing twice.
- Compaction runs from the write path, on a partition's check days: every ``CHECK_EVERY_DAYS``
  days, staggered by a hash of the partition key so compactions spread over the days, when a
  message of that day opens a new bucket chain (one BatchGetItem of the rollups concerned, then a
  Query and a conditional Put per partition that has days to fold; nothing is written when nothing
  is to fold). A user active every day is folded every ``CHECK_EVERY_DAYS`` days, so a reader reads
  at most ``FOLD_AFTER_DAYS + CHECK_EVERY_DAYS + 1`` days of buckets; a rarely active user has few
  buckets to read anyway, and right after a history arrived late the user reads its
  ``FOLD_AFTER_DAYS`` newest days of buckets. Compaction only makes reads cheaper: reads are exact
  whatever ``w`` is, so a compaction that fails is simply tried again on a later check day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from ..table.errors import AWS_ERRORS, error_text
from ..table.keys import ROLLUP_SK
from ..table.rollups import Rollup, buckets_after
from . import days

logger = logging.getLogger(__name__)

MAX_RACES = 5


def is_due(rollup: Rollup, today: date) -> bool:
    """Whether ``rollup`` has days a compaction running ``today`` may fold."""
    return rollup.through is None or rollup.through < days.fold_through(today)


class Compactor:
    """Folds closed days of users' partitions into their rollups (see the module docstring)."""

    def __init__(self, store: Any, clock: Callable[[], date] | None = None) -> None:
        self.store = store
        # The writer's "today", looked up on each call (tests pin ``days.utc_today``).
        self.clock = clock or (lambda: days.utc_today())
        self.compactions = 0  # rollups written by this container (observability, tests)

    def after_new_chains(self, user_days: Iterable[tuple[str, str]]) -> None:
        """Called with the (partition, day) pairs whose first bucket of a chain was just created:
        compacts the partitions whose check day it is, when a message of today opened the chain."""
        today = self.clock()
        self.compact_due(
            pk for pk, day in user_days if day == today.isoformat() and days.is_check_day(pk, today)
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
            if is_due(rollup, today):
                self.compact(rollup, today)

    def compact(self, rollup: Rollup, today: date) -> Rollup | None:
        """Fold every day up to ``fold_through(today)`` into ``rollup``; None if it gave up."""
        through = days.fold_through(today)
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
