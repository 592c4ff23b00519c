"""The dedup decision for one user-day: which messages are new, and the bucket writes that record
them (pure logic, no I/O; the item itself is ``table.buckets.Bucket``).

A retry of a message always lands on the same user-day, so checking that day's buckets decides
exactly once, for any retry window. New messages go into the highest bucket of their chain
(``keys.day_shard`` of the digest) while it is open, else into a new one. Chains let concurrent
writers for one user-day mostly touch different items, and let the open path read only the first
bucket of the chains its messages fall in.

A day old enough to be folded (``days.fold_through``) is written *dense*: every new message into
one chain (``DENSE_SHARD``), so that a late day costs one bucket write however its messages hash
(the late path, ``late.py``). No writer reads such a day by chain heads any more: it is closed to
every writer whose clock is within two days of the truth, and the late path reads whole days.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..ingest.messages import Message
from ..table.buckets import Bucket
from ..table.keys import day_shard

MAX_BUCKETS_PER_CHAIN = 10_000
DENSE_SHARD = 0  # the chain every new message of a dense (foldable) day goes into


def back_off(attempt: int) -> None:
    """Full-jitter pause after a lost optimistic-lock race, so that racing writers spread out (at
    most ~1 s over ten attempts)."""
    if attempt:
        time.sleep(random.uniform(0, min(0.16, 0.01 * 2**attempt)))


@dataclass(slots=True)
class BucketWrite:
    before: Bucket | None  # None: a new bucket
    after: Bucket
    messages: list[Message] = field(default_factory=list)


@dataclass(slots=True)
class DayPlan:
    writes: list[BucketWrite]
    duplicates: list[Message]

    @property
    def recorded(self) -> list[Message]:
        return [m for w in self.writes for m in w.messages]


def plan_day(
    pk: str,
    day: str,
    existing: Iterable[Bucket],
    messages: Iterable[Message],
    dense: bool = False,
) -> DayPlan:
    """Decide which messages are new and the bucket writes that record them (one per bucket).

    ``existing``: every bucket of the chains the messages may be in (all of the day's buckets
    when ``dense``); ``dense``: new messages all go into chain ``DENSE_SHARD``."""
    if isinstance(messages, list) and len(messages) == 1:
        return _plan_one(pk, day, existing, messages[0], dense)
    seen: set[bytes] = set()
    current: dict[int, Bucket] = {}  # shard -> highest bucket of its chain
    for bucket in existing:
        seen.update(bucket.hashes)
        highest = current.get(bucket.shard)
        if highest is None or bucket.index > highest.index:
            current[bucket.shard] = bucket
    writes: dict[tuple[int, int], BucketWrite] = {}
    duplicates: list[Message] = []
    for message in messages:
        if message.hash in seen:
            duplicates.append(message)
            continue
        shard = DENSE_SHARD if dense else day_shard(message.hash)
        bucket = current.get(shard)
        if bucket is None or bucket.is_full():
            index = bucket.index + 1 if bucket is not None else 0
            if index >= MAX_BUCKETS_PER_CHAIN:
                raise OverflowError(
                    f"{pk} {day}: more than {MAX_BUCKETS_PER_CHAIN} buckets in a chain"
                )
            bucket = Bucket(pk=pk, day=day, shard=shard, index=index)
            writes[(shard, index)] = BucketWrite(before=None, after=bucket)
        elif (shard, bucket.index) not in writes:
            writes[(shard, bucket.index)] = BucketWrite(bucket, bucket.copy())
            bucket = writes[(shard, bucket.index)].after
        current[shard] = bucket
        bucket.add(message)
        writes[(shard, bucket.index)].messages.append(message)
        seen.add(message.hash)
    return DayPlan(writes=list(writes.values()), duplicates=duplicates)


def _plan_one(
    pk: str, day: str, existing: Iterable[Bucket], message: Message, dense: bool
) -> DayPlan:
    """``plan_day`` for one message (the direct path, every invocation): the same decision,
    without the bookkeeping a batch needs."""
    digest = message.hash
    shard = DENSE_SHARD if dense else day_shard(digest)
    top: Bucket | None = None
    for bucket in existing:
        if digest in bucket.hashes:
            return DayPlan([], [message])
        if bucket.shard == shard and (top is None or bucket.index > top.index):
            top = bucket
    if top is None or top.is_full():
        index = top.index + 1 if top is not None else 0
        if index >= MAX_BUCKETS_PER_CHAIN:
            raise OverflowError(f"{pk} {day}: more than {MAX_BUCKETS_PER_CHAIN} buckets in a chain")
        write = BucketWrite(None, Bucket(pk=pk, day=day, shard=shard, index=index), [message])
    else:
        write = BucketWrite(top, top.copy(), [message])
    write.after.add(message)
    return DayPlan([write], [])
