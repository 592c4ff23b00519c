"""The rollup item (``sk = ROLLUP``): a user partition's folded days in one item, so that reading a
user costs about the same at two years of history as at thirty days (``record/compactor.py``).

Item shape: ``w`` (the last folded day), ``u`` (trait -> [count, first_ms, last_ms] (+ [sum]) over
every folded day: ``table/buckets.py``), ``d`` (trait -> its per-day series, below), ``n``
(messages folded), ``v`` (version, for optimistic locking).

The per-day series (``d``) keeps, for each usage trait, the count (and, for a summed trait, the
sum) of each folded day within the last ``SERIES_DAYS`` days up to ``w``, so that windows of any
length up to ``SERIES_DAYS`` days (and "on K distinct days of the last N") are exact at any history
length. Encoding, one DynamoDB binary per trait, an entry per day with a use, newest first: its
step (days from the previous entry's day; for the first, days from ``w`` plus one) and its count.
A step of 1-8 with a count of 1-16 (a trait used most days, a few times a day) is one byte,
``(step - 1) << 4 | (count - 1)`` (below 0x80); any other entry is 0x80 followed by the step and
the count as varints (unsigned LEB128). A summed trait's entry is followed by the day's sum in
micros (zigzag varint). Days older than ``w - SERIES_DAYS + 1`` are dropped at each write (they
are outside every window: a reader's today is after ``w``).
Size: at most ``SERIES_DAYS`` entries per trait: 365 bytes for a trait used every day of a year
(up to 16 times a day), ~2.2 KB at millions of uses every day (~6.6 KB summed). So one user's
rollup reaches DynamoDB's 400 KB item limit (``ROLLUP_BUDGET``) only past ~1,000 traits each used
every day of a year (~180 at millions of uses every day, ~60 summed);
``tests/read/test_view_windows.py`` checks 180 traits at millions of uses every day fit.

A rollup written before the series existed has no ``d``: its folded days have no per-day history
(windows count only the days after ``w`` until a year of new folds has filled the series); the
next fold keeps adding to it from there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from itertools import accumulate, islice
from typing import Any

from .buckets import Bucket, Counted, add_use, parse_usage, usage_numbers
from .keys import ROLLUP_SK, day_end_sk

SERIES_DAYS = 365  # the longest window a reader may ask for (read/view.py MAX_WINDOW_DAYS)
ROLLUP_BUDGET = 400 * 1024  # DynamoDB's item size limit

Daily = dict[str, list[int]]  # UTC day -> [count] or [count, micros]


def _varint(n: int, out: bytearray) -> None:
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = data[i]
        i += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, i


def encode_series(daily: Daily, through: str, summed: bool) -> bytes:
    """``daily`` (days up to ``through``) as the binary described in the module docstring; days
    older than ``SERIES_DAYS`` before ``through`` and days with a zero count are left out."""
    end = date.fromisoformat(through)
    out = bytearray()
    previous = -1
    for day in sorted(daily, reverse=True):
        counts = daily[day]
        back = (end - date.fromisoformat(day)).days
        if back >= SERIES_DAYS:
            break
        if back < 0 or counts[0] <= 0:
            continue
        step, count = back - previous, counts[0]
        if step <= 8 and count <= 16:
            out.append((step - 1) << 4 | (count - 1))
        else:
            out.append(0x80)
            _varint(step, out)
            _varint(count, out)
        if summed:
            micros = counts[1] if len(counts) > 1 else 0
            _varint(micros * 2 if micros >= 0 else -micros * 2 - 1, out)
        previous = back
    return bytes(out)


# The one-byte form's step and count for every byte below 0x80 (bytes.translate tables).
_STEPS = bytes(((b >> 4) + 1) if b < 0x80 else 0 for b in range(256))
_COUNTS = bytes(((b & 0x0F) + 1) if b < 0x80 else 0 for b in range(256))


@lru_cache(maxsize=64)
def _days_back(through: str) -> tuple[str, ...]:
    """``through`` and the SERIES_DAYS - 1 days before it, newest first (yyyy-mm-dd)."""
    end = date.fromisoformat(through)
    return tuple((end - timedelta(days=back)).isoformat() for back in range(SERIES_DAYS))


def series_counts(data: bytes, through: str, summed: bool) -> dict[str, int]:
    """Day -> count of a series (what a reader needs), without building per-day lists: for the
    usual series (every entry one byte, no sums) in C-level loops, since every read decodes every
    trait's series (read/view.py; ``make bench`` section 5 times the read handler)."""
    if summed or 0x80 in data or not data:
        return {day: entry[0] for day, entry in decode_series(data, through, summed).items()}
    days = _days_back(through)
    backs = islice(accumulate(data.translate(_STEPS), initial=-1), 1, None)
    return dict(zip(map(days.__getitem__, backs), data.translate(_COUNTS), strict=True))


def decode_series(data: bytes, through: str, summed: bool) -> Daily:
    """The inverse of ``encode_series``."""
    end = date.fromisoformat(through)
    daily: Daily = {}
    i, back = 0, -1
    while i < len(data):
        head = data[i]
        i += 1
        if head < 0x80:
            step, count = (head >> 4) + 1, (head & 0x0F) + 1
        else:
            step, i = _read_varint(data, i)
            count, i = _read_varint(data, i)
        back += step
        entry = [count]
        if summed:
            zigzag, i = _read_varint(data, i)
            entry.append(zigzag // 2 if zigzag % 2 == 0 else -(zigzag + 1) // 2)
        daily[(end - timedelta(days=back)).isoformat()] = entry
    return daily


@dataclass
class Rollup:
    pk: str
    through: str | None = None  # last folded day; None: nothing folded yet
    # trait -> [count, first, last] (+ [micros] for a summed trait)
    usage: dict[str, list[int]] = field(default_factory=dict)
    messages: int = 0
    version: int = 0  # 0: not stored yet
    # trait -> UTC day -> [count] (+ [micros]): folded days of the last SERIES_DAYS up to through
    daily: dict[str, Daily] = field(default_factory=dict)
    # trait -> the stored series, not yet decoded into ``daily`` (readers decode what they need:
    # ``series_counts``; writers decode it all before changing anything)
    raw: dict[str, bytes] = field(default_factory=dict)

    def summed(self, trait: str) -> bool:
        """Whether ``trait`` keeps a sum (its lifetime entry has a fourth element)."""
        return len(self.usage.get(trait, ())) > 3

    def _decode(self) -> None:
        for trait, data in self.raw.items():
            if self.through is not None:
                self.daily[trait] = decode_series(data, self.through, self.summed(trait))
        self.raw = {}

    @classmethod
    def from_item(cls, pk: str, item: dict[str, Any] | None) -> Rollup:
        """Parse a stored rollup (None: there is none yet). Raises KeyError on a malformed one."""
        if item is None:
            return cls(pk)
        through = item["w"]["S"] if "w" in item else None
        usage = {
            trait: parse_usage(value["L"])
            for trait, value in item.get("u", {}).get("M", {}).items()
        }
        raw = {}
        if through is not None:
            raw = {trait: bytes(v["B"]) for trait, v in item.get("d", {}).get("M", {}).items()}
        return cls(
            pk=pk,
            through=through,
            usage=usage,
            messages=int(item.get("n", {"N": "0"})["N"]),
            version=int(item["v"]["N"]),
            raw=raw,
        )

    def to_item(self, version: int) -> dict[str, Any]:
        """The item to store at ``version`` (``d`` trimmed to the last SERIES_DAYS up to ``w``)."""
        self._decode()
        item: dict[str, Any] = {
            "pk": {"S": self.pk},
            "sk": {"S": ROLLUP_SK},
            "v": {"N": str(version)},
            "n": {"N": str(self.messages)},
            "u": {
                "M": {
                    trait: {"L": usage_numbers(counts)}
                    for trait, counts in sorted(self.usage.items())
                }
            },
        }
        if self.through is not None:
            item["w"] = {"S": self.through}
            series = {}
            for trait, daily in sorted(self.daily.items()):
                data = encode_series(daily, self.through, self.summed(trait))
                if data:
                    series[trait] = {"B": data}
            if series:
                item["d"] = {"M": series}
        return item

    def covers(self, day: str) -> bool:
        return self.through is not None and day <= self.through

    def _add(self, trait: str, counts: list[int], day: str) -> None:
        """Add a bucket's (or one message's) entry for ``trait`` on ``day`` (series decoded)."""
        current = self.usage.get(trait)
        if current is None:
            self.usage[trait] = list(counts)
        else:
            new = [current[0] + counts[0], min(current[1], counts[1]), max(current[2], counts[2])]
            if len(current) > 3 or len(counts) > 3:
                new.append(
                    (current[3] if len(current) > 3 else 0) + (counts[3] if len(counts) > 3 else 0)
                )
            self.usage[trait] = new
        entry = self.daily.setdefault(trait, {}).get(day)
        amount = counts[3] if len(counts) > 3 else None
        if entry is None:
            entry = [0] if amount is None else [0, 0]
        new_entry = [entry[0] + counts[0]]
        if amount is not None or len(entry) > 1:
            new_entry.append((entry[1] if len(entry) > 1 else 0) + (amount or 0))
        self.daily[trait][day] = new_entry

    def _trim(self) -> None:
        """Drop per-day entries outside the last SERIES_DAYS up to ``through``."""
        if self.through is None:
            return
        oldest = (date.fromisoformat(self.through) - timedelta(days=SERIES_DAYS - 1)).isoformat()
        for trait in list(self.daily):
            kept = {day: c for day, c in self.daily[trait].items() if day >= oldest}
            if kept:
                self.daily[trait] = kept
            else:
                del self.daily[trait]

    def copy(self) -> Rollup:
        """A deep copy, its series decoded (what a writer changes)."""
        self._decode()
        usage = {trait: list(counts) for trait, counts in self.usage.items()}
        daily = {trait: dict(days) for trait, days in self.daily.items()}
        return Rollup(self.pk, self.through, usage, self.messages, self.version, daily)

    def folded(self, buckets: Iterable[Bucket], through: str) -> Rollup:
        """A copy with ``buckets`` (the days after ``self.through`` up to ``through``) added: to
        the lifetime counts, and per day to the series (trimmed to SERIES_DAYS up to it)."""
        new = self.copy()
        new.through = through
        for bucket in buckets:
            new.messages += len(bucket.hashes)
            for trait, counts in bucket.usage.items():
                new._add(trait, counts, bucket.day)
        new._trim()
        return new

    def with_messages(self, messages: Iterable[Counted]) -> Rollup:
        """A copy with late messages for already folded days added (the late path): lifetime
        counts, and the series for the days within it."""
        new = self.copy()
        for message in messages:
            new.messages += 1
            for trait, micros in message.usage:
                new._add(trait, add_use(None, message.ts_ms, micros), message.day)
        new._trim()
        return new


def buckets_after(rollup: Rollup) -> str:
    """The lowest sort key a reader still reads for ``rollup``'s partition: buckets after ``w``."""
    return day_end_sk(rollup.through) if rollup.through else "D#"
