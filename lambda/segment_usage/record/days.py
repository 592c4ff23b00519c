"""Which days are open, closed and foldable: the time rules of recording (UTC dates; ``today`` is
the writer's). The reasons behind each number are in ``record/compactor.py``'s docstring.

- open: the last ``OPEN_DAYS`` days; a message for one is recorded by one conditional bucket write;
- closed: older; its messages take the late path (``record/late.py``);
- foldable: up to ``today - FOLD_AFTER_DAYS``; compaction folds those days into the rollup, and
  the late path adds its messages for them to the rollup at once (its buckets are then only the
  dedup ledger, written dense: ``record/ledger.py``);
- check days: every ``CHECK_EVERY_DAYS`` days per partition, staggered by a hash of its key.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

OPEN_DAYS = 32  # the 30-day window, plus two days for messages that arrive a little late
FOLD_AFTER_DAYS = OPEN_DAYS + 2
CHECK_EVERY_DAYS = 4  # a partition's rollup is checked (and folded if behind) every N days


def utc_today() -> date:
    return datetime.now(UTC).date()


def is_closed(day: str, today: date) -> bool:
    """True for a day older than the last OPEN_DAYS: its messages take the late path."""
    return day < (today - timedelta(days=OPEN_DAYS)).isoformat()


def fold_through(today: date) -> str:
    """The newest day a compaction running ``today`` may fold."""
    return (today - timedelta(days=FOLD_AFTER_DAYS)).isoformat()


def is_check_day(pk: str, today: date) -> bool:
    """Whether ``today`` is one of ``pk``'s check days (staggered over partitions by a hash)."""
    offset = int.from_bytes(hashlib.blake2b(pk.encode("utf-8"), digest_size=4).digest(), "big")
    return (offset + today.toordinal()) % CHECK_EVERY_DAYS == 0
