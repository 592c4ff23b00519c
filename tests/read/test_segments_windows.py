"""Any window of 1-365 rolling UTC days on counts, and regularity (``active_days``): the answers
agree with the view's own per-day arithmetic (``UsageTrait.in_last_days``/``active_days``) for any
history, window and bound; malformed windows are refused naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segment_usage.read.segments import SegmentDefinitionError, explain, membership, parse_segments
from segment_usage.read.view import UsageTrait

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def trait(daily: dict[str, int]) -> UsageTrait:
    ms = int(NOW.timestamp() * 1000)
    return UsageTrait(sum(daily.values()) + 5, ms - 500 * 86_400_000, ms, daily=dict(daily))


dailies = st.dictionaries(
    st.integers(-3, 420).map(lambda back: (TODAY - timedelta(days=back)).isoformat()),
    st.integers(1, 5),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    search=dailies,
    export=dailies,
    days=st.integers(1, 365),
    bound=st.integers(0, 40),
    op=st.sampled_from(["at_least", "at_most"]),
)
def test_windows_and_active_days_agree_with_the_view(
    search: dict, export: dict, days: int, bound: int, op: str
) -> None:
    usage = {"search": trait(search), "export": trait(export)}
    active_bound = min(bound, days)
    segments = parse_segments(
        {
            "count": {"all": [{"trait": "search", "in_last_days": days, op: bound}]},
            "active": {"all": [{"trait": "search", "active_days": {op: active_bound, "in_last_days": days}}]},
            "any_count": {"all": [{"trait": "*", "in_last_days": days, op: bound}]},
            "any_active": {"all": [{"trait": "*", "active_days": {op: active_bound, "in_last_days": days}}]},
        }
    )  # fmt: skip
    answer = membership(segments, usage, {}, NOW)
    compare = (lambda a, b: a >= b) if op == "at_least" else (lambda a, b: a <= b)
    count = usage["search"].in_last_days(days, TODAY)
    active = usage["search"].active_days(days, TODAY)
    both = UsageTrait(daily={d: search.get(d, 0) + export.get(d, 0) for d in {*search, *export}})
    assert answer["count"] is compare(count, bound)
    assert answer["active"] is compare(active, active_bound)
    assert answer["any_count"] is compare(both.in_last_days(days, TODAY), bound)
    assert answer["any_active"] is compare(both.active_days(days, TODAY), active_bound)
    rows = {r["segment"]: r["conditions"][0]["actual"] for r in explain(segments, usage, {}, NOW)}
    assert rows["count"] == {f"last_{days}_days": count}
    assert rows["active"] == {f"active_days_in_last_{days}_days": active}


def test_the_issue_examples() -> None:
    """Recurly Engage's "visits >= 2 over the last 7 days"; PostHog's "regularly": on at least 3
    distinct days of the last 7; a 90-day count."""
    days = {(TODAY - timedelta(days=back)).isoformat(): 2 for back in (0, 3, 8, 60)}
    usage = {"search": trait(days)}
    segments = parse_segments(
        {
            "visits": {"all": [{"trait": "search", "in_last_days": 7, "at_least": 2}]},
            "regular": {"all": [{"trait": "search", "active_days": {"at_least": 3, "in_last_days": 7}}]},
            "quarter": {"all": [{"trait": "search", "in_last_days": 90, "at_least": 8, "at_most": 8}]},
            "not_daily": {"all": [{"trait": "search", "active_days": {"at_most": 2, "in_last_days": 9}}]},
        }
    )  # fmt: skip
    assert membership(segments, usage, {}, NOW) == {
        "visits": True,
        "regular": False,
        "quarter": True,
        "not_daily": False,
    }
    described = [r["conditions"][0]["condition"] for r in explain(segments, usage, {}, NOW)]
    assert described == [
        "trait search: count in last 7 days >= 2",
        "trait search: active on >= 3 of the last 7 days",
        "trait search: count in last 90 days >= 8 and count in last 90 days <= 8",
        "trait search: active on <= 2 of the last 9 days",
    ]


def test_as_of_another_day_moves_the_windows() -> None:
    usage = {"search": trait({(TODAY - timedelta(days=10)).isoformat(): 1})}
    segments = parse_segments(
        {"s": {"all": [{"trait": "search", "in_last_days": 3, "at_least": 1}]}}
    )
    assert membership(segments, usage, {}, NOW)["s"] is False
    earlier = NOW - timedelta(days=9)
    assert membership(segments, usage, {}, earlier)["s"] is True
    assert membership(segments, usage, {}, NOW, today=earlier.date())["s"] is True


@pytest.mark.parametrize(
    ("condition", "error"),
    [
        ({"in_last_days": 0, "at_least": 1}, "all[0].in_last_days: 0 is not whole days 1-365"),
        ({"in_last_days": 7.5, "at_least": 1}, "all[0].in_last_days: 7.5 is not whole days"),
        ({"in_last_days": True, "at_least": 1}, "all[0].in_last_days: True is not whole days"),
        ({"active_days": 3}, "all[0].active_days: expected an object"),
        ({"active_days": {"at_least": 3}}, "all[0].active_days.in_last_days: required"),
        ({"active_days": {"in_last_days": 7}}, "all[0].active_days: needs at_least or at_most"),
        (
            {"active_days": {"at_least": 8, "in_last_days": 7}},
            "all[0].active_days.at_least: expected whole days 0..in_last_days",
        ),
        (
            {"active_days": {"at_least": 1, "in_last_days": 400}},
            "all[0].active_days.in_last_days: 400 is not whole days 1-365",
        ),
        (
            {"active_days": {"at_least": 1, "in_last_days": 7, "days": 2}},
            "all[0].active_days: unknown fields days",
        ),
    ],
)
def test_bad_windows_name_the_field(condition: dict, error: str) -> None:
    with pytest.raises(SegmentDefinitionError) as info:
        parse_segments({"s": {"all": [{"trait": "search", **condition}]}})
    assert f"segments.s.{error}" in str(info.value)


def summed(daily_sums: dict[str, Decimal]) -> UsageTrait:
    """The trait of a ``sum`` tracker as the view holds it (branch windows: ``UsageTrait.sum`` and
    ``daily_sums``; set here as attributes, so this test runs before and after that merge)."""
    trait = UsageTrait(
        len(daily_sums), 0, int(NOW.timestamp() * 1000), daily=dict.fromkeys(daily_sums, 1)
    )
    trait.sum = sum(daily_sums.values(), Decimal(0))
    trait.daily_sums = dict(daily_sums)
    return trait


amounts = st.decimals(min_value=0, max_value=500, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(
    daily_sums=st.dictionaries(
        st.integers(0, 400).map(lambda back: (TODAY - timedelta(days=back)).isoformat()),
        amounts,
        max_size=40,
    ),
    days=st.integers(1, 365),
    bound=st.one_of(
        amounts.filter(lambda d: d > 0),
        st.sampled_from([Decimal("0.1"), Decimal("0.3"), Decimal("99.99")]),  # no exact float
    ),
    op=st.sampled_from(["at_least", "at_most"]),
    coverage_back=st.integers(0, 400),
)
def test_at_least_and_at_most_on_a_sum_trackers_trait_compare_its_sum(
    daily_sums: dict, days: int, bound: Decimal, op: str, coverage_back: int
) -> None:
    usage = {"revenue": summed(daily_sums)}
    window = [(TODAY - timedelta(days=back)).isoformat() for back in range(days)]
    in_window = sum((daily_sums.get(d, Decimal(0)) for d in window), Decimal(0))
    compare = (lambda a, b: a >= b) if op == "at_least" else (lambda a, b: a <= b)
    segments = parse_segments(
        {
            "window": {"all": [{"trait": "revenue", "in_last_days": days, op: float(bound)}]},
            "lifetime": {"all": [{"trait": "revenue", op: float(bound)}]},
        }
    )
    answer = membership(segments, usage, {}, NOW)
    assert answer["window"] is compare(in_window, Decimal(str(float(bound))))
    assert answer["lifetime"] is compare(usage["revenue"].sum, Decimal(str(float(bound))))
    # A sum can fall (refunds): a window reaching before coverage is unknown, inside it decided.
    coverage = (TODAY - timedelta(days=coverage_back)).isoformat()
    covered = membership(segments, usage, {}, NOW, coverage_start=coverage)
    assert covered["window"] is (answer["window"] if days - 1 <= coverage_back else None)
    assert covered["lifetime"] is None
    (row,) = [r for r in explain(segments, usage, {}, NOW) if r["segment"] == "window"]
    value = row["conditions"][0]["actual"][f"sum_last_{days}_days"]
    assert value == (int(in_window) if in_window == int(in_window) else float(in_window))
    json.dumps(row)  # JSON-ready: no Decimal
