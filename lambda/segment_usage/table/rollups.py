"""The rollup item (``sk = ROLLUP``): a user partition's folded days in one item, so that reading a
user costs about the same at two years of history as at thirty days (``record/compactor.py``).

Item shape: ``w`` (the last folded day), ``u`` (trait -> [count, first_ms, last_ms]), ``n``
(messages folded), ``v`` (version, for optimistic locking).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .buckets import Bucket, Counted
from .keys import ROLLUP_SK, day_end_sk


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

    def with_messages(self, messages: Iterable[Counted]) -> Rollup:
        """A copy with late messages for already folded days added (the late path)."""
        new = self.copy()
        for message in messages:
            new.messages += 1
            if message.usage_trait:
                new._add(message.usage_trait, 1, message.ts_ms, message.ts_ms)
        return new


def buckets_after(rollup: Rollup) -> str:
    """The lowest sort key a reader still reads for ``rollup``'s partition: buckets after ``w``."""
    return day_end_sk(rollup.through) if rollup.through else "D#"
