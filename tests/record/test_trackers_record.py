"""Property filters and sums on trackers (issue 18, item 2), recorded from real Segment track
payloads: a message counts towards every trait whose tracker it matches, sums are exact decimals,
and a property that is missing or of another kind is simply not counted, never a failed batch.
The per-message bound that keeps a day bucket under 1 KB holds for any configuration."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segment_usage.handler import Runtime
from segment_usage.ingest.messages import Message
from segment_usage.ingest.trackers import Trackers
from segment_usage.read.view import Reader
from segment_usage.table.buckets import (
    MAX_INCREMENT,
    MAX_TRAITS_PER_MESSAGE,
    MESSAGE_USAGE_BYTES,
    OPEN_LIMIT,
    Bucket,
    use_bytes,
)
from segment_usage.table.item_size import KB, item_size
from support import segment_messages as sm
from support.delivery import deliver

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TRACKERS = [
    {"type": "track", "name": "Report Exported"},
    {"type": "track", "name": "Report Exported", "trait": "pdf_exports",
     "where": {"format": {"equals": "pdf"}}},
    {"type": "track", "name": "Report Exported", "trait": "big_office_exports",
     "where": {"format": {"in": ["docx", "xlsx"]}, "pages": {"gte": 10, "lt": 100}}},
    {"type": "track", "name": "Order Completed", "trait": "revenue", "sum": "revenue"},
    {"type": "track", "name": "Order Completed", "trait": "eur_cart_total", "sum": "cart.total",
     "where": {"cart.currency": {"equals": "EUR"}}},
]  # fmt: skip


def view_of(dynamodb: Any, table: str, user: str) -> dict[str, Any]:
    return Reader(dynamodb, table).user(user, now=NOW).usage


def test_filters_and_exact_sums_from_real_track_payloads(
    make_runtime: Callable[..., Runtime], dynamodb: Any, table: str
) -> None:
    runtime = make_runtime(trackers=json.dumps(TRACKERS))
    user = "filters-user"
    at = NOW - timedelta(hours=1)

    def track(event: str, properties: dict[str, Any]) -> dict[str, Any]:
        return sm.track(event, properties, user_id=user, at=at)

    messages = [
        track("Report Exported", {"format": "pdf", "pages": 3}),
        track("Report Exported", {"format": "csv"}),
        track("Report Exported", {"format": "docx", "pages": 10}),  # gte 10: in
        track("Report Exported", {"format": "xlsx", "pages": 100}),  # lt 100: out
        track("Report Exported", {"format": "docx", "pages": "12"}),  # a string: out
        track("Report Exported", {}),
        # multipleOf-style decimals: 19.99 + 0.01 must be exactly 20
        track("Order Completed", {"revenue": 19.99, "cart": {"currency": "EUR", "total": 19.99}}),
        track("Order Completed", {"revenue": 0.01, "cart": {"currency": "EUR", "total": 0.01}}),
        track("Order Completed", {"revenue": "12.00", "cart": {"currency": "USD", "total": 5}}),
        track("Order Completed", {"revenue": None}),
        track("Order Completed", {"revenue": True, "cart": "not an object"}),
        track("Order Completed", {"revenue": 1e-9}),  # more than 6 decimals: not an amount
        track("Order Completed", {"revenue": 1e300}),  # too large: not an amount
        track("Order Completed", {}),
    ]
    responses = deliver(runtime, messages, path="sqs", batch=10)
    assert all(not r.get("batchItemFailures") for r in responses)
    usage = view_of(dynamodb, table, user)
    assert usage["report_exported"].count == 6  # the unfiltered tracker counts every call
    assert usage["pdf_exports"].count == 1
    assert usage["big_office_exports"].count == 1
    assert usage["revenue"].count == 2
    assert usage["revenue"].sum == Decimal("20") and str(usage["revenue"].sum) in ("20", "20.00")
    assert usage["eur_cart_total"].count == 2 and usage["eur_cart_total"].sum == Decimal(20)
    today = NOW.date()
    assert usage["revenue"].sum_in_last_days(1, today) == Decimal(20)
    assert usage["report_exported"].sum is None
    assert usage["report_exported"].sum_in_last_days(30, today) == 0
    assert usage["revenue"].as_dict()["sum"] == 20
    # Redelivered: nothing counts twice, sums included.
    deliver(runtime, messages, path="direct")
    again = view_of(dynamodb, table, user)
    assert again["revenue"].sum == Decimal(20) and again["report_exported"].count == 6


scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**18), 10**18),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(places=2, min_value=-10_000, max_value=10_000).map(float),
    st.sampled_from(["pdf", "csv", "docx", "10", "", "PDF"]),
)
properties = st.fixed_dictionaries(
    {},
    optional={
        "format": st.one_of(scalar, st.lists(scalar, max_size=2)),
        "pages": scalar,
        "revenue": scalar,
        "cart": st.one_of(scalar, st.fixed_dictionaries({}, optional={"total": scalar})),
    },
)


def model_amount(value: Any) -> Decimal | None:
    """What a sum tracker must add for ``value``: the number the sender wrote, when it has at most
    6 decimal places and is under 1e15 in absolute value (written independently of the code)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if abs(number) >= 10**15 or number != number.quantize(
        Decimal("0.000001"), rounding="ROUND_DOWN"
    ):
        return None
    return number


def is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batch=st.lists(
        st.tuples(st.sampled_from(["Report Exported", "Order Completed"]), properties),
        min_size=1,
        max_size=12,
    )
)
def test_any_property_values_count_by_the_rules_and_never_fail_a_batch(
    make_runtime: Callable[..., Runtime], dynamodb: Any, table: str, batch: list[Any]
) -> None:
    runtime = make_runtime(trackers=json.dumps(TRACKERS))
    user = f"props-{uuid.uuid4()}"
    messages = [
        sm.track(event, props, user_id=user, at=NOW - timedelta(minutes=i))
        for i, (event, props) in enumerate(batch)
    ]
    responses = deliver(runtime, messages, path="sqs", batch=10)
    assert all(not r.get("batchItemFailures") for r in responses)
    expected: dict[str, list[Decimal | None]] = {}
    for event, props in batch:
        if event == "Report Exported":
            expected.setdefault("report_exported", []).append(None)
            fmt, pages = props.get("format"), props.get("pages")
            if fmt == "pdf":
                expected.setdefault("pdf_exports", []).append(None)
            if fmt in ("docx", "xlsx") and is_number(pages) and 10 <= pages < 100:
                expected.setdefault("big_office_exports", []).append(None)
        else:
            amount = model_amount(props.get("revenue"))
            if amount is not None:
                expected.setdefault("revenue", []).append(amount)
            # cart.currency is never EUR here: the filtered sum never matches
    usage = view_of(dynamodb, table, user)
    assert {name: t.count for name, t in usage.items()} == {
        name: len(uses) for name, uses in expected.items()
    }
    if "revenue" in expected:
        assert usage["revenue"].sum == sum(expected["revenue"], Decimal(0))


# -- the per-message bound --------------------------------------------------------------------
trait_names = st.from_regex(r"[a-z][a-z0-9_]{0,99}", fullmatch=True)
tracker_lists = st.lists(
    st.tuples(trait_names, st.booleans()), min_size=1, max_size=8, unique_by=lambda t: t[0]
)


@settings(max_examples=100, deadline=None)
@given(
    trackers=tracker_lists,
    existing=st.lists(st.tuples(trait_names, st.integers(1, 127), st.booleans()), max_size=12),
    amount=st.integers(-(10**21) + 1, 10**21 - 1),
    hashes=st.integers(0, 100),
)
def test_a_message_matching_many_trackers_stays_within_the_bucket_bound(
    trackers: list[tuple[str, bool]], existing: list[Any], amount: int, hashes: int
) -> None:
    config = Trackers.parse(
        json.dumps(
            [
                {"type": "track", "name": "Order Completed", "trait": trait}
                | ({"sum": "revenue"} if summed else {})
                for trait, summed in trackers
            ]
        )
    )
    revenue = float(Decimal(amount).scaleb(-6)) if abs(amount) < 10**15 else 1.5
    message = Message.from_valid(
        sm.track("Order Completed", {"revenue": revenue}, user_id="u", at=NOW), config
    )
    uses = message.usage
    assert 1 <= len(uses) <= MAX_TRAITS_PER_MESSAGE
    assert sum(use_bytes(t, m is not None) for t, m in uses) <= MESSAGE_USAGE_BYTES
    # The rule: trackers in order, each kept while the message stays within both bounds.
    kept, spent = [], 0
    for trait, summed in trackers:
        cost = use_bytes(trait, summed)
        if len(kept) < MAX_TRAITS_PER_MESSAGE and spent + cost <= MESSAGE_USAGE_BYTES:
            kept.append(trait)
            spent += cost
    assert [t for t, _ in uses] == kept
    # A bucket in any state (open or just at the limit) grows by at most MAX_INCREMENT.
    bucket = Bucket(pk="U#u", day="2026-11-20", shard=0, index=0, version=7)
    bucket.hashes = {i.to_bytes(8, "big") for i in range(hashes)}
    for trait, count, summed in existing:
        first = 1_700_000_000_000 + count
        bucket.usage[trait] = [count, first, first + 1] + ([amount] if summed else [])
    before = item_size(bucket.to_item(bucket.version + 1))
    assert before == bucket.size()
    bucket.add(message)
    after = item_size(bucket.to_item(bucket.version + 2))
    assert after - before <= MAX_INCREMENT
    assert bucket.size() == item_size(bucket.to_item(bucket.version + 1))
    if before <= OPEN_LIMIT:
        assert after <= KB


@pytest.mark.parametrize(
    ("tracker", "error"),
    [
        ({"where": {"format": {"equals": "pdf"}}}, r"\[0\]\.trait: a tracker with where or sum"),
        ({"sum": "revenue"}, r"\[0\]\.trait: a tracker with where or sum"),
        (
            {"trait": "t", "where": {"format": {"equals": "pdf", "in": ["x"]}}},
            r"where\.format: set",
        ),
        ({"trait": "t", "where": {"format": {"in": []}}}, r"where\.format\.in: expected 1 to 100"),
        ({"trait": "t", "where": {"pages": {"gt": "10"}}}, r"where\.pages\.gt: expected a number"),
        ({"trait": "t", "where": {"a..b": {"gt": 1}}}, r"where key 'a\.\.b': expected a property"),
        ({"trait": "t", "where": {"a": {"like": "x"}}}, r"where\.a: unknown operator"),
        ({"trait": "t", "sum": ".revenue"}, r"\[0\]\.sum: expected a property path"),
    ],
)
def test_the_function_refuses_what_terraform_refuses(tracker: dict[str, Any], error: str) -> None:
    """The same rules as the plan-time validation (tests/terraform/test_variables.py), for an
    environment set some other way: the error names the tracker and the field."""
    with pytest.raises(ValueError, match=error):
        Trackers.parse(json.dumps([{"type": "track", "name": "Report Exported", **tracker}]))


def test_unset_members_terraform_sends_as_null_count_as_absent() -> None:
    trackers = Trackers.parse(
        json.dumps(
            [
                {
                    "type": "track",
                    "name": "Report Exported",
                    "trait": "big_exports",
                    "where": {"pages": {"equals": None, "in": None, "gt": 9, "lt": None}},
                    "sum": None,
                }
            ]
        )
    )
    big = sm.track("Report Exported", {"pages": 10}, user_id="u")
    small = sm.track("Report Exported", {"pages": 9}, user_id="u")
    assert trackers.uses_for(big) == (("big_exports", None),) and trackers.uses_for(small) == ()
