"""The read side of windows of any length (issue 18): the rollup's per-day series (encoding,
trimming, size), rollups written before the series existed, and the view's sums."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segment_usage.read.view import MAX_WINDOW_DAYS, Reader, UsageTrait
from segment_usage.table.item_size import item_size
from segment_usage.table.keys import ROLLUP_SK, bucket_sk, user_pk
from segment_usage.table.rollups import (
    ROLLUP_BUDGET,
    SERIES_DAYS,
    Rollup,
    decode_series,
    encode_series,
)

THROUGH = "2026-10-01"
END = date.fromisoformat(THROUGH)

# Days back from ``w``: dense runs (one-byte entries), the edge of the year, and anywhere.
backs = st.one_of(
    st.integers(0, 40), st.integers(SERIES_DAYS - 10, SERIES_DAYS + 2), st.integers(0, 800)
)
daily_entries = st.dictionaries(
    backs.map(lambda back: (END - timedelta(days=back)).isoformat()),
    st.tuples(
        st.one_of(st.integers(1, 17), st.integers(1, 5_000_000)),
        st.integers(-(10**23), 10**23),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(daily=daily_entries, summed=st.booleans())
def test_series_round_trip_keeps_exactly_the_last_365_days(
    daily: dict[str, tuple[int, int]], summed: bool
) -> None:
    series = {day: [count, micros] if summed else [count] for day, (count, micros) in daily.items()}
    decoded = decode_series(encode_series(series, THROUGH, summed), THROUGH, summed)
    oldest = (END - timedelta(days=SERIES_DAYS - 1)).isoformat()
    assert decoded == {day: entry for day, entry in series.items() if day >= oldest}


def test_series_size_bound_a_year_of_daily_use() -> None:
    """The bound the docs state: a byte a day for a trait used up to 16 times a day; 365 entries
    at most; 180 traits at their worst encoding (millions of uses every day) fit in one item."""
    year = {(END - timedelta(days=back)).isoformat(): [5] for back in range(SERIES_DAYS + 30)}
    assert len(encode_series(year, THROUGH, False)) == SERIES_DAYS
    weekly = {day: [16] for n, day in enumerate(sorted(year, reverse=True)) if n % 8 == 0}
    assert len(encode_series(weekly, THROUGH, False)) == len(range(0, SERIES_DAYS, 8))
    worst = {day: [5_000_000] for day in year}
    assert len(encode_series(worst, THROUGH, False)) <= 7 * SERIES_DAYS
    summed = {day: [5_000_000, -(10**23)] for day in year}
    assert len(encode_series(summed, THROUGH, True)) <= 18 * SERIES_DAYS
    rollup = Rollup("U#heavy", THROUGH)
    for t in range(180):
        name = f"trait_{t:03d}_" + "x" * 20
        rollup.usage[name] = [365 * 5_000_000, 1, 2]
        rollup.daily[name] = dict(worst)
    rollup._trim()
    assert item_size(rollup.to_item(1)) < ROLLUP_BUDGET


def rollup_item(pk: str, through: str, usage: dict[str, list[int]]) -> dict[str, Any]:
    """A rollup as versions before issue 18 wrote it: ``w``, ``u``, ``n``, ``v``; no ``d``."""
    return {
        "pk": {"S": pk},
        "sk": {"S": ROLLUP_SK},
        "w": {"S": through},
        "v": {"N": "3"},
        "n": {"N": str(sum(c[0] for c in usage.values()))},
        "u": {"M": {t: {"L": [{"N": str(n)} for n in c]} for t, c in usage.items()}},
    }


def test_a_rollup_without_a_series_still_reads(dynamodb: Any, table: str) -> None:
    """Upgrade: folded days of an old rollup count in lifetime figures only (no per-day history);
    the days after ``w`` come from their buckets, and a later fold starts the series."""
    user, today = "old-rollup-user", date(2026, 11, 20)
    pk = user_pk(user)
    ms = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp() * 1000)
    dynamodb.put_item(
        TableName=table, Item=rollup_item(pk, "2026-10-10", {"report_exported": [40, ms, ms]})
    )
    recent = today - timedelta(days=3)
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": pk},
            "sk": {"S": bucket_sk(recent.isoformat(), 0, 0)},
            "v": {"N": "1"},
            "h": {"BS": [b"\x01" * 8, b"\x02" * 8]},
            "u": {"M": {"report_exported": {"L": [{"N": "2"}, {"N": str(ms)}, {"N": str(ms)}]}}},
        },
    )
    view = Reader(dynamodb, table).user(user, today=today)
    trait = view.usage["report_exported"]
    assert trait.count == 42 and view.messages_recorded == 42
    assert trait.in_last_days(MAX_WINDOW_DAYS, today) == 2  # the folded days: no per-day history
    assert trait.active_days(7, today) == 1
    # Parsed and written again by new code: the series starts empty and the lifetime stays.
    rollup = Rollup.from_item(pk, rollup_item(pk, "2026-10-10", {"report_exported": [40, ms, ms]}))
    assert (
        rollup.daily == {}
        and rollup.to_item(4)["u"]
        == rollup_item(pk, "2026-10-10", {"report_exported": [40, ms, ms]})["u"]
    )


def test_sums_and_windows_on_a_usage_trait() -> None:
    today = date(2026, 11, 20)
    trait = UsageTrait(
        count=3,
        daily={"2026-11-20": 1, "2026-11-14": 1, "2025-11-21": 1},
        sum=Decimal("40.00"),
        daily_sums={"2026-11-20": Decimal("19.99"), "2026-11-14": Decimal("0.01"),
                    "2025-11-21": Decimal("20")},
    )  # fmt: skip
    assert trait.sum_in_last_days(1, today) == Decimal("19.99")
    assert trait.sum_in_last_days(7, today) == Decimal("20.00")
    assert trait.sum_in_last_days(365, today) == Decimal(40)
    assert trait.in_last_days(365, today) == 3 and trait.active_days(6, today) == 1
    for days in (0, 366):
        with pytest.raises(ValueError, match="1 to 365"):
            trait.sum_in_last_days(days, today)
    assert trait.as_dict()["sum"] == 40
    assert UsageTrait(sum=Decimal("0.3")).as_dict()["sum"] == 0.3
    assert "sum" not in UsageTrait().as_dict()
