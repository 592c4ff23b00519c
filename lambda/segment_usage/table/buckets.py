"""The day-bucket item: per user and UTC day, the messageId digests recorded (the dedup ledger)
and the usage counts they added. Item shape: ``h`` (binary set of 8-byte digests), ``u`` (trait ->
[count, first_ms, last_ms]), ``v`` (version, for optimistic locking), ``c`` (closed by a take-back).

Buckets stay near 1 KB so that a write costs 1 WCU (DynamoDB: 1 WCU per started KB): a bucket takes
new messages while it is at most ``OPEN_LIMIT`` bytes, sized by AWS's documented item-size rules
(``item_size.py``). Whether a bucket is open depends only on its own size, which never shrinks by
recording, so two writers that saw the same state make the same choice and their conditional
writes collide instead of both succeeding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from .item_size import KB, int_size
from .keys import bucket_sk

# The most one message can add: a digest (8 B), a new trait entry (name <= 100 B + list of three
# 13-digit numbers + overheads, ~130 B) and a longer version number. Kept with a margin.
MAX_INCREMENT = 176
OPEN_LIMIT = KB - MAX_INCREMENT


class Counted(Protocol):
    """What a bucket or a rollup counts of a message (``ingest.messages.Message`` is one)."""

    hash: bytes  # 8-byte messageId digest
    usage_trait: str | None
    ts_ms: int  # message time, epoch milliseconds


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

    def add(self, message: Counted) -> None:
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

    def remove(self, message: Counted) -> None:
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
