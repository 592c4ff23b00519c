"""The read side: what was recorded for a user (their view), the event catalog, and what was kept
as rejected.

A user's view is their own partition (``U#<userId>``) plus the anonymous partitions
(``A#<anonymousId>``) linked to it by an identify carrying both ids or an alias, under the identity
rules of ``record/identity.py``. An anonymous partition links nothing further, so no chain of links
can reach another user's partition.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..table.amounts import micros_decimal
from ..table.buckets import parse_usage
from ..table.catalog import list_events
from ..table.keys import PROFILE_SK, ROLLUP_SK, anonymous_pk, bucket_day, user_pk
from ..table.pages import query_items
from ..table.rejected import list_kept
from ..table.rollups import SERIES_DAYS, Rollup, buckets_after, decode_series, series_counts
from .segments import Segment, membership

WINDOWS = (7, 30)
# The longest rolling window a segment condition may name (days, UTC): the view holds each usage
# trait's per-day counts this far back (the rollup's per-day series: table/rollups.py).
MAX_WINDOW_DAYS = SERIES_DAYS
# The most anonymous partitions one read follows (the most recently linked): a user with more
# linked anonymous ids (cookies cleared, many devices) still reads in a bounded number of requests.
MAX_LINKED_READ = 25


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _window(days: int, today: date) -> list[str]:
    """The ``days`` UTC days ending with ``today``, as yyyy-mm-dd."""
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise ValueError(f"a window is 1 to {MAX_WINDOW_DAYS} days, not {days}")
    return [(today - timedelta(days=back)).isoformat() for back in range(days)]


@dataclass
class UsageTrait:
    """One usage trait of a user's view. Counts are messages; times epoch milliseconds; days UTC.

    ``daily`` holds the count of every day of at least the last ``MAX_WINDOW_DAYS`` days before
    the read (the recent day buckets, and the rollup's per-day series of folded days: exact for
    any window 1..365 at any history length, late, out-of-order and redelivered messages
    included; a rollup written before the series existed has none for its folded days,
    docs/data-model.md). For the trait of a ``sum`` tracker (``trackers`` in Terraform:
    ``sum = "revenue"``), ``sum`` is the exact lifetime sum of that property and ``daily_sums``
    the sum per day (same days as ``daily``); for any other trait ``sum`` is None and
    ``daily_sums`` empty.

    The folded days' series are decoded on first use of ``daily`` or ``daily_sums`` (or of the
    methods below), so a read that needs no window longer than the recent buckets' pays nothing
    for them (``make bench`` section 5 times the read handler).
    """

    count: int = 0
    first_seen_ms: int = 0
    last_seen_ms: int = 0
    windows: dict[int, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))
    # UTC day (yyyy-mm-dd) -> count that day, for the days the view holds per day (at least the
    # last MAX_WINDOW_DAYS); days with no use are absent.
    daily: dict[str, int] = field(default_factory=dict)
    sum: Decimal | None = None  # lifetime sum of a sum tracker's property (exact); else None
    daily_sums: dict[str, Decimal] = field(default_factory=dict)  # UTC day -> that day's sum
    # Rollup series not decoded yet: (series bytes, the rollup's w, summed): see ``folded_series``
    pending: list[tuple[bytes, str, bool]] = field(default_factory=list, repr=False, compare=False)

    def folded_series(self, data: bytes, through: str, summed: bool) -> None:
        """Add a rollup's per-day series (``table/rollups.py``) of this trait, decoded later."""
        self.pending.append((data, through, summed))

    def add_day(self, day: str, count: int, amount: Decimal | None = None) -> None:
        """Add ``count`` uses (and ``amount``) on ``day`` without decoding pending series."""
        daily = self.__dict__["daily"]
        daily[day] = daily.get(day, 0) + count
        if amount is not None:
            sums = self.__dict__["daily_sums"]
            sums[day] = sums.get(day, Decimal(0)) + amount

    def _decode(self) -> None:
        pending, self.pending = self.pending, []
        for data, through, summed in pending:
            for day, count in series_counts(data, through, summed).items():
                self.add_day(day, count)
            if summed:
                for day, entry in decode_series(data, through, True).items():
                    sums = self.__dict__["daily_sums"]
                    sums[day] = sums.get(day, Decimal(0)) + micros_decimal(entry[1])

    def in_last_days(self, days: int, today: date) -> int:
        """The count over the rolling window of ``days`` UTC days ending with ``today`` (1-365).

        Raises ValueError outside 1..MAX_WINDOW_DAYS.
        """
        return sum(self.daily.get(day, 0) for day in _window(days, today))

    def active_days(self, days: int, today: date) -> int:
        """On how many distinct UTC days of the last ``days`` (ending with ``today``) it was used.

        Raises ValueError outside 1..MAX_WINDOW_DAYS.
        """
        return sum(1 for day in _window(days, today) if self.daily.get(day, 0) > 0)

    def sum_in_last_days(self, days: int, today: date) -> Decimal:
        """The exact sum of a ``sum`` tracker's property over the rolling window of ``days`` UTC
        days ending with ``today`` (1-365); ``Decimal(0)`` for a trait that sums nothing.

        Raises ValueError outside 1..MAX_WINDOW_DAYS.
        """
        zero = Decimal(0)
        return sum((self.daily_sums.get(day, zero) for day in _window(days, today)), zero)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: count, first/last seen (ISO-8601), the 7- and 30-day windows, and for a
        summed trait ``sum`` (a JSON number: an int when whole, else a float, which keeps the
        exact value up to 15 significant digits; ``sum`` itself is exact)."""
        out: dict[str, Any] = {
            "count": self.count,
            "first_seen": _iso(self.first_seen_ms),
            "last_seen": _iso(self.last_seen_ms),
            **{f"last_{days}_days": n for days, n in self.windows.items()},
        }
        if self.sum is not None:
            whole = self.sum == self.sum.to_integral_value()
            out["sum"] = int(self.sum) if whole else float(self.sum)
        return out


def _decoded(name: str) -> property:
    """``daily``/``daily_sums`` as properties that decode pending series on first read (a data
    descriptor wins over the instance's dict; the dataclass's __init__ sets them through it)."""

    def get(self: UsageTrait) -> Any:
        if self.__dict__.get("pending"):
            self._decode()
        return self.__dict__[name]

    def put(self: UsageTrait, value: Any) -> None:
        self.__dict__[name] = value

    return property(get, put)


UsageTrait.daily = _decoded("daily")  # type: ignore[assignment]
UsageTrait.daily_sums = _decoded("daily_sums")  # type: ignore[assignment]


@dataclass
class UserView:
    user_id: str
    linked_ids: list[str]
    usage: dict[str, UsageTrait]
    traits: dict[str, Any]
    trait_versions: dict[str, tuple[int, str]]  # name -> (ts_ms, canonical JSON): latest wins
    groups: dict[str, dict[str, Any]]
    messages_recorded: int
    # Segment -> True/False/None (unknown), evaluated on read (segments.py)
    segments: dict[str, bool | None] = field(default_factory=dict)
    # group id -> trait -> (ts_ms, canonical JSON): latest wins across linked partitions too
    group_versions: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)
    links_not_read: int = 0  # linked anonymous ids beyond MAX_LINKED_READ (the oldest)
    # The first UTC day the deployment could have seen anyone (table/coverage.py); None: unknown.
    coverage_start: str | None = None

    @property
    def found(self) -> bool:
        """Whether anything at all was recorded for this user or a linked id."""
        return bool(self.messages_recorded or self.traits or self.groups or self.linked_ids)

    def as_dict(self) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "linkedIds": self.linked_ids,
            "usage": {name: trait.as_dict() for name, trait in sorted(self.usage.items())},
            "traits": dict(sorted(self.traits.items())),
            "groups": self.groups,
            "messagesRecorded": self.messages_recorded,
            "segments": dict(sorted(self.segments.items())),
        }


class Reader:
    def __init__(
        self,
        client: Any,
        table: str,
        segments: Mapping[str, Segment] | None = None,
        coverage_start: str | None = None,
    ) -> None:
        self.client = client
        self.table = table
        self.segments = segments or {}  # definitions the view's membership is evaluated against
        self.coverage_start = coverage_start  # table/coverage.py, loaded once by the caller

    def _partition(self, pk: str) -> tuple[Rollup, Iterator[dict[str, Any]]]:
        """A user partition in two requests, whatever its history: the rollup of its folded days
        (GetItem), then what sorts after them (Query): the recent day buckets, groups, the profile.

        Both eventually consistent: a compaction between the two only means the rollup read is
        older than the buckets, which still adds up (folded buckets are never deleted).
        """
        key = {"pk": {"S": pk}, "sk": {"S": ROLLUP_SK}}
        rollup = Rollup.from_item(
            pk, self.client.get_item(TableName=self.table, Key=key).get("Item")
        )
        return rollup, self._after(rollup)

    def _after(self, rollup: Rollup) -> Iterator[dict[str, Any]]:
        """What sorts after the rollup's folded days: the recent day buckets, groups, the profile
        ("R" sorts after "PROFILE" and before "ROLLUP")."""
        condition = "pk = :pk AND sk BETWEEN :after AND :last"
        values = {
            ":pk": {"S": rollup.pk},
            ":after": {"S": buckets_after(rollup)},
            ":last": {"S": "R"},
        }
        return self._query(condition, values)

    def _query(self, condition: str, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return query_items(
            self.client,
            TableName=self.table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
        )

    def user(
        self, user_id: str, today: date | None = None, now: datetime | None = None
    ) -> UserView:
        """The user's view as of ``now`` (default: the clock); ``today`` only moves the windows.

        Reads the user's partition (``U#``), then the anonymous partitions (``A#``) its profile
        links, at most ``MAX_LINKED_READ`` of them (the most recently linked), all at once: a
        BatchGetItem of their rollups and one Query each, in parallel. Links are not followed
        further (an anonymous partition links nothing), so a read costs at most
        ``3 + MAX_LINKED_READ`` requests whatever the number of links.
        """
        now = now or datetime.now(UTC)
        today = today or now.date()
        window_start = {days: (today - timedelta(days=days - 1)).isoformat() for days in WINDOWS}
        view = UserView(user_id, [], {}, {}, {}, {}, 0)
        rollup, items = self._partition(user_pk(user_id))
        links: dict[str, Any] = {}
        for item in self._add_partition(view, rollup, items, window_start):
            links.update(item.get("a", {}).get("M", {}))
        newest = sorted(links, key=lambda a: (-int(links[a]["N"]), a))
        chosen, view.links_not_read = (
            newest[:MAX_LINKED_READ],
            max(0, len(newest) - MAX_LINKED_READ),
        )
        if chosen:
            pks = [anonymous_pk(anonymous_id) for anonymous_id in chosen]
            rollups = self._rollups(pks)
            with ThreadPoolExecutor(min(len(pks), 8)) as pool:
                pages = list(pool.map(lambda pk: list(self._after(rollups[pk])), pks))
            for pk, page in zip(pks, pages, strict=True):
                self._add_partition(view, rollups[pk], page, window_start)
            view.linked_ids = sorted(chosen)
        view.coverage_start = self.coverage_start
        if self.segments:
            view.segments = membership(
                self.segments,
                view.usage,
                view.traits,
                now,
                today=today,
                coverage_start=view.coverage_start,
                user_id=user_id,
            )
        return view

    def _rollups(self, pks: list[str]) -> dict[str, Rollup]:
        """The rollups of ``pks`` in one BatchGetItem per 100 (eventually consistent)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(pks), 100):
            request = {
                self.table: {
                    "Keys": [{"pk": {"S": pk}, "sk": {"S": ROLLUP_SK}} for pk in pks[start:][:100]]
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item["pk"]["S"]] = item
                request = response.get("UnprocessedKeys") or {}
        return {pk: Rollup.from_item(pk, found.get(pk)) for pk in pks}

    def _add_partition(
        self,
        view: UserView,
        rollup: Rollup,
        items: Iterable[dict[str, Any]],
        window_start: dict[int, str],
    ) -> list[dict[str, Any]]:
        """Add one partition's rollup and items to ``view``; returns its profile items."""
        self._add_rollup(view, rollup)
        profiles = []
        for item in items:
            sk = item["sk"]["S"]
            if sk.startswith("D#"):
                self._add_bucket(view, item, window_start)
            elif sk == PROFILE_SK:
                self._merge_latest(view.traits, view.trait_versions, item)
                profiles.append(item)
            elif sk.startswith("G#"):
                gid = item["group_id"]["S"]
                versions = view.group_versions.setdefault(gid, {})
                self._merge_latest(view.groups.setdefault(gid, {}), versions, item)
        return profiles

    @staticmethod
    def _add_rollup(view: UserView, rollup: Rollup) -> None:
        """Folded days: lifetime counts, first/last seen and sums (never in a 7- or 30-day
        window), and the per-day series of the folded days of the last year into ``daily``."""
        view.messages_recorded += rollup.messages
        Reader._add_usage(view, rollup.usage)
        if rollup.through is None:
            return
        for name, data in rollup.raw.items():
            trait = view.usage.get(name)
            if trait is not None:  # a series always has its lifetime entry
                trait.folded_series(data, rollup.through, rollup.summed(name))

    @staticmethod
    def _add_bucket(view: UserView, item: dict[str, Any], window_start: dict[int, str]) -> None:
        """A day bucket as stored, without building a ledger.Bucket: the view needs only how
        many digests it holds and its usage triples (this is the loop every read runs)."""
        if "h" in item:
            view.messages_recorded += len(item["h"]["BS"])
        if "u" not in item:
            return
        day = bucket_day(item["sk"]["S"])
        windows = [days for days, start in window_start.items() if day >= start]
        usage = {name: parse_usage(value["L"]) for name, value in item["u"]["M"].items()}
        Reader._add_usage(view, usage, windows, day)

    @staticmethod
    def _add_usage(
        view: UserView,
        usage: dict[str, list[int]],
        windows: list[int] | None = None,
        day: str | None = None,
    ) -> None:
        for name, counts in usage.items():
            count, first, last = counts[:3]
            trait = view.usage.get(name)
            if trait is None:
                trait = view.usage[name] = UsageTrait(0, first, last)
            trait.count += count
            trait.first_seen_ms = min(trait.first_seen_ms, first)
            trait.last_seen_ms = max(trait.last_seen_ms, last)
            for days in windows or ():
                trait.windows[days] += count
            amount = micros_decimal(counts[3]) if len(counts) > 3 else None
            if amount is not None:
                trait.sum = (trait.sum or Decimal(0)) + amount
            if day is not None:
                trait.add_day(day, count, amount)

    @staticmethod
    def _merge_latest(
        traits: dict[str, Any], versions: dict[str, tuple[int, str]], item: dict[str, Any]
    ) -> None:
        """Merge a profile's or a group's traits (``t``: name -> [json, ts_ms]) from one of the
        user's partitions: the latest timestamp wins, the larger JSON on a tie, as on the write
        side (profiles.py), so the order the linked partitions are read in never matters."""
        for name, value in item.get("t", {}).get("M", {}).items():
            text, ts = value["L"][0]["S"], int(value["L"][1]["N"])
            if (ts, text) > versions.get(name, (-1, "")):
                traits[name] = json.loads(text)
                versions[name] = (ts, text)

    def events(self) -> list[dict[str, Any]]:
        """The event catalog (``table.catalog``): every event, page and screen name seen, most
        frequent first, as ``{type, name, count, last_seen (ISO-8601 or None), trait}``."""
        return [
            {
                "type": row["type"],
                "name": row["name"],
                "count": row["count"],
                "last_seen": _iso(row["last_seen_ms"]) if row["last_seen_ms"] is not None else None,
                "trait": row["trait"],
            }
            for row in list_events(self.client, self.table)
        ]

    def rejected(self, include_warnings: bool = True) -> list[dict[str, Any]]:
        """Kept messages, newest first: invalid, blocked or bad envelope (and plan warnings)."""
        rows = [
            {
                "at": kept.at,
                "kind": kept.kind,
                "path": kept.path,
                "messageId": kept.message_id,
                "type": kept.type,
                "reasons": kept.reasons,
                "raw": kept.raw,
            }
            for kept in list_kept(self.client, self.table, include_warnings)
        ]
        return sorted(rows, key=lambda r: r["at"], reverse=True)
