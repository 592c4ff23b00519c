"""Day buckets: per user and UTC day, the messages already recorded and the usage counts they added.

Pure logic, no I/O. A bucket item holds ``h`` (a binary set of 8-byte messageId digests: the dedup
ledger), ``u`` (trait -> [count, first_ms, last_ms]) and ``v`` (version for optimistic locking).
A retry of a message always lands on the same user-day, so checking that day's buckets decides
exactly once, for any retry window.

Buckets stay near 1 KB so a write costs 1 WCU: new messages go into the highest bucket of their
chain (``keys.day_shard`` of the digest) while it is at most ``OPEN_LIMIT`` bytes, else into a new
one. Chains let concurrent writers for one user-day mostly touch different items. Whether a
bucket is open depends only on its own size, which never shrinks by recording, so two writers
that saw the same state make the same choice and their conditional writes collide instead of
both succeeding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .item_size import KB, int_size
from .keys import bucket_sk, day_shard
from .messages import Message

# The most one message can add: a digest (8 B), a new trait entry (name <= 100 B + list of three
# 13-digit numbers + overheads, ~130 B) and a longer version number. Kept with a margin.
MAX_INCREMENT = 176
OPEN_LIMIT = KB - MAX_INCREMENT
MAX_BUCKETS_PER_CHAIN = 10_000


@dataclass
class Bucket:
    pk: str
    day: str
    shard: int
    index: int
    version: int = 0  # 0: not yet stored
    hashes: set[bytes] = field(default_factory=set)
    usage: dict[str, list[int]] = field(default_factory=dict)
    # Set when a take-back shrank a full bucket: its chain goes on past it, whatever its size now.
    closed: bool = False

    @cached_property
    def sk(self) -> str:
        return bucket_sk(self.day, self.shard, self.index)

    def to_item(self, version: int | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": self.pk},
            "sk": {"S": self.sk},
            "v": {"N": str(self.version if version is None else version)},
        }
        if self.hashes:
            item["h"] = {"BS": sorted(self.hashes)}
        if self.closed:
            item["c"] = {"BOOL": True}
        if self.usage:
            item["u"] = {
                "M": {
                    trait: {"L": [{"N": str(n)} for n in counts]}
                    for trait, counts in sorted(self.usage.items())
                }
            }
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Bucket:
        _, day, shard, index = item["sk"]["S"].split("#")
        return cls(
            pk=item["pk"]["S"],
            day=day,
            shard=int(shard),
            index=int(index),
            version=int(item["v"]["N"]),
            hashes={bytes(b) for b in item.get("h", {}).get("BS", [])},
            usage={
                trait: [int(n["N"]) for n in value["L"]]
                for trait, value in item.get("u", {}).get("M", {}).items()
            },
            closed="c" in item,
        )

    def size(self) -> int:
        """``item_size(self.to_item(self.version + 1))``, without building the item (hot path)."""
        size = 2 + len(self.pk.encode("utf-8")) + 2 + len(self.sk) + 1
        size += int_size(self.version + 1)
        if self.closed:
            size += 2
        if self.hashes:
            size += 1 + sum(map(len, self.hashes))
        if self.usage:
            size += 1 + 3
            for trait, (count, first, last) in self.usage.items():
                # name, list overhead (3), three elements (1 each) and the numbers themselves
                size += 1 + len(trait.encode("utf-8")) + 6
                size += int_size(count) + int_size(first) + int_size(last)
        return size

    def copy(self) -> Bucket:
        # The count lists are never changed in place (add/remove replace them), so a shallow
        # copy of the map is enough: cheaper on the hot path than copying every list.
        return Bucket(
            self.pk,
            self.day,
            self.shard,
            self.index,
            self.version,
            set(self.hashes),
            dict(self.usage),
            self.closed,
        )

    def is_full(self) -> bool:
        """No more messages go in: the chain continues in the next bucket (if there is one).

        Decided by the exact ``size()``; a cheap upper bound first spares most buckets that work
        (hot path). The bound: a version or number here has at most 21 digits (12 bytes); counts
        and ms timestamps (datetime's range) at most 15 (9 bytes), so a trait entry is at most
        its name + 34 bytes.
        """
        if self.closed:
            return True
        # len(sk) is len(day) + 9 ("D#", "#<chain>", "#<4 digits>"): not self.sk, whose cached
        # property costs more than this whole bound.
        bound = 5 + len(self.pk.encode("utf-8")) + len(self.day) + 9 + 12 + 2 + 1 + 4
        bound += sum(map(len, self.hashes)) + sum(map(len, map(str.encode, self.usage)))
        bound += 34 * len(self.usage)
        return bound > OPEN_LIMIT and self.size() > OPEN_LIMIT

    def add(self, message: Message) -> None:
        self.hashes.add(message.hash)
        trait = message.usage_trait
        if trait:
            ts = message.ts_ms
            counts = self.usage.get(trait)
            self.usage[trait] = (
                [1, ts, ts]
                if counts is None
                else [counts[0] + 1, min(counts[1], ts), max(counts[2], ts)]
            )

    def remove(self, message: Message) -> None:
        """Undo ``add`` (compensation). first/last stay as they were; a retry restores them."""
        if message.hash not in self.hashes:
            return
        self.hashes.discard(message.hash)
        trait = message.usage_trait or ""
        counts = self.usage.get(trait)
        if counts is not None:
            if counts[0] <= 1:
                del self.usage[trait]
            else:
                self.usage[trait] = [counts[0] - 1, counts[1], counts[2]]


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


def plan_day(pk: str, day: str, existing: Iterable[Bucket], messages: Iterable[Message]) -> DayPlan:
    """Decide which messages are new and the bucket writes that record them (one per bucket)."""
    if isinstance(messages, list) and len(messages) == 1:
        return _plan_one(pk, day, existing, messages[0])
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
        shard = day_shard(message.hash)
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


def _plan_one(pk: str, day: str, existing: Iterable[Bucket], message: Message) -> DayPlan:
    """``plan_day`` for one message (the direct path, every invocation): the same decision,
    without the bookkeeping a batch needs."""
    digest = message.hash
    shard = day_shard(digest)
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
