"""The day-bucket item: per user and UTC day, the messageId digests recorded (the dedup ledger)
and the usage counts they added. Item shape: ``h`` (binary set of 8-byte digests), ``u`` (trait ->
[count, first_ms, last_ms], and a fourth element, the day's summed amount as an exact decimal, for
the trait of a ``sum`` tracker: ``table/amounts.py``), ``v`` (version, for optimistic locking),
``c`` (closed by a take-back).

Buckets stay near 1 KB so that a write costs 1 WCU (DynamoDB: 1 WCU per started KB): a bucket takes
new messages while it is at most ``OPEN_LIMIT`` bytes, sized by AWS's documented item-size rules
(``item_size.py``). Whether a bucket is open depends only on its own size, which never shrinks by
recording, so two writers that saw the same state make the same choice and their conditional
writes collide instead of both succeeding.

What one message may add is bounded by ``MAX_INCREMENT`` (so a bucket never passes 1 KB): its
digest, a longer version number, and its usage traits, at most ``MAX_TRAITS_PER_MESSAGE`` whose
``use_bytes`` add up to at most ``MESSAGE_USAGE_BYTES`` (``ingest/trackers.py`` keeps a message's
traits within both; ``tests/record/test_trackers_record.py`` checks the bound on random buckets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from .amounts import micros_text, text_micros
from .item_size import KB, int_size
from .keys import bucket_sk

# The most one message can add: a digest (8 B), a longer version number (1 B), the ``u`` attribute
# when the bucket had none (4 B), its traits' entries (``MESSAGE_USAGE_BYTES``) and a 13 B margin.
# Unchanged since the first version: OPEN_LIMIT must be the same for every writer of a table.
MAX_INCREMENT = 176
OPEN_LIMIT = KB - MAX_INCREMENT
# A new trait entry beyond its name: map element 1, list 3, count 1 + 3 (a bucket holds < 128
# messages), first and last 1 + 9 each (epoch ms of datetime's range); an existing entry grows less
# (count +1, first/last at most +7 each). A summed trait adds its amount: 1 + 13 (a bucket's sum is
# under 1.3e23 micros, 24 digits; amounts.py).
ENTRY_BYTES = 28
SUM_BYTES = 14
MESSAGE_USAGE_BYTES = MAX_INCREMENT - 8 - 1 - 4 - 13  # 150
MAX_TRAITS_PER_MESSAGE = 4

Use = tuple[str, int | None]  # (usage trait, amount in micros for a sum tracker's trait, else None)


def use_bytes(trait: str, summed: bool) -> int:
    """The most a message's use of ``trait`` adds to a bucket (bytes, AWS's item-size rules)."""
    return len(trait.encode("utf-8")) + ENTRY_BYTES + (SUM_BYTES if summed else 0)


class Counted(Protocol):
    """What a bucket or a rollup counts of a message (``ingest.messages.Message`` is one)."""

    hash: bytes  # 8-byte messageId digest
    usage: tuple[Use, ...]  # every usage trait it counts towards (within the bound above)
    ts_ms: int  # message time, epoch milliseconds
    day: str  # its UTC day (yyyy-mm-dd)


@dataclass
class Bucket:
    pk: str
    day: str
    shard: int
    index: int
    version: int = 0  # 0: not yet stored
    hashes: set[bytes] = field(default_factory=set)
    # trait -> [count, first_ms, last_ms] (+ [micros] for a summed trait)
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
                    trait: {"L": usage_numbers(counts)}
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
                trait: parse_usage(value["L"])
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
            for trait, counts in self.usage.items():
                # name, list overhead (3), its elements (1 each) and the numbers themselves
                size += 1 + len(trait.encode("utf-8")) + 3 + len(counts)
                size += sum(map(int_size, counts))
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
        summed = sum(map(len, self.usage.values())) - 3 * len(self.usage)
        bound += SUM_BYTES * summed
        return bound > OPEN_LIMIT and self.size() > OPEN_LIMIT

    def add(self, message: Counted) -> None:
        self.hashes.add(message.hash)
        for trait, micros in message.usage:
            self.usage[trait] = add_use(self.usage.get(trait), message.ts_ms, micros)

    def remove(self, message: Counted) -> None:
        """Undo ``add`` (compensation). first/last stay as they were; a retry restores them."""
        if message.hash not in self.hashes:
            return
        self.hashes.discard(message.hash)
        for trait, micros in message.usage:
            counts = self.usage.get(trait)
            if counts is None:
                continue
            if counts[0] <= 1:
                del self.usage[trait]
            else:
                less = [counts[0] - 1, counts[1], counts[2]]
                if len(counts) > 3:
                    less.append(counts[3] - (micros or 0))
                self.usage[trait] = less


def add_use(counts: list[int] | None, ts: int, micros: int | None) -> list[int]:
    """A trait entry ([count, first_ms, last_ms] (+ [micros])) with one use at ``ts`` added;
    ``micros`` is the use's amount for a summed trait (None: a counted one). A new list: entries
    are never changed in place (``Bucket.copy`` relies on it)."""
    if counts is None:
        return [1, ts, ts] if micros is None else [1, ts, ts, micros]
    new = [counts[0] + 1, min(counts[1], ts), max(counts[2], ts)]
    if micros is not None or len(counts) > 3:
        new.append((counts[3] if len(counts) > 3 else 0) + (micros or 0))
    return new


def usage_numbers(counts: list[int]) -> list[dict[str, str]]:
    """A trait entry as a DynamoDB list of numbers (its amount as exact fixed-point text)."""
    numbers = [{"N": str(n)} for n in counts[:3]]
    if len(counts) > 3:
        numbers.append({"N": micros_text(counts[3])})
    return numbers


def parse_usage(numbers: list[dict[str, str]]) -> list[int]:
    """The inverse of ``usage_numbers``."""
    counts = [int(n["N"]) for n in numbers[:3]]
    if len(numbers) > 3:
        counts.append(text_micros(numbers[3]["N"]))
    return counts
