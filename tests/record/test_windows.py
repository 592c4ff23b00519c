"""Windows of any length (1-365 days) and regularity (issue 18): Hypothesis-generated streams of
real Segment track messages over up to two years, delivered late (days to a year), out of order and
redelivered, by both paths, with compactions interleaved; the view read at several points must
match a model computed from the unique messages delivered so far, for random windows N in 1..365:
``in_last_days``, ``active_days`` and, for a ``sum`` tracker, ``sum_in_last_days``, exactly."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segment_usage.handler import Runtime
from segment_usage.read.view import MAX_WINDOW_DAYS, Reader
from segment_usage.record.recorder import Recorder
from segment_usage.table.keys import user_pk
from support import segment_messages as sm
from support.delivery import deliver

START = date(2025, 1, 1)
HISTORY_DAYS = 730
TRACKERS = [
    {"type": "track", "name": "Report Exported"},
    {"type": "track", "name": "Report Exported", "trait": "pdf_exports",
     "where": {"format": {"equals": "pdf"}}},
    {"type": "track", "name": "Order Completed", "trait": "revenue", "sum": "revenue"},
]  # fmt: skip
# Amounts as a sender writes them, and what each must add (None: not an amount, not counted).
AMOUNTS: list[tuple[Any, Decimal | None]] = [
    (19.99, Decimal("19.99")),
    (0.01, Decimal("0.01")),
    (5, Decimal(5)),
    (-2.5, Decimal("-2.5")),
    (1234567.891, Decimal("1234567.891")),
    ("12", None),
    (None, None),
    (True, None),
    (1e-7, None),
]


class Clock:
    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


# One generated message: (day offset in the history, lateness in days, kind, amount index,
# redelivered copies' extra delays).
lateness = st.one_of(
    st.just(0), st.integers(1, 3), st.integers(30, 45), st.integers(46, 400)
)  # fmt: skip
message_spec = st.tuples(
    st.integers(0, HISTORY_DAYS - 1),
    lateness,
    st.sampled_from(["csv", "pdf", "none", "order"]),
    st.integers(0, len(AMOUNTS) - 1),
    st.lists(st.integers(0, 400), max_size=2),
)
stream = st.fixed_dictionaries(
    {
        "messages": st.lists(message_spec, min_size=1, max_size=40),
        # clock days (offsets) on which the user's partition is compacted, besides the write path
        "compactions": st.lists(st.integers(0, HISTORY_DAYS + 400), max_size=8),
        "checks": st.lists(st.integers(1, MAX_WINDOW_DAYS), min_size=3, max_size=6),
        "paths": st.lists(st.sampled_from(["direct", "sqs"]), min_size=1, max_size=4),
    }
)


def build(spec: tuple[Any, ...], user: str, n: int) -> tuple[dict[str, Any], str | None]:
    """A real track message and the kind the model counts it as."""
    offset, _, kind, amount, _ = spec
    day = START + timedelta(days=offset)
    at = datetime.combine(day, time(1), UTC) + timedelta(minutes=n)
    if kind == "order":
        value = AMOUNTS[amount][0]
        properties = {"currency": "USD"} if value is None else {"revenue": value}
        return sm.track("Order Completed", properties, user_id=user, at=at), "order"
    properties = {} if kind == "none" else {"format": kind}
    return sm.track("Report Exported", properties, user_id=user, at=at), kind


def model(delivered: dict[str, tuple[date, str, int]], today: date, days: int) -> dict[str, Any]:
    """What the view must say of the unique delivered messages over the last ``days`` days."""
    first = today - timedelta(days=days - 1)
    inside = [(d, kind, a) for d, kind, a in delivered.values() if first <= d <= today]
    report = [d for d, kind, _ in inside if kind != "order"]
    pdf = [d for d, kind, _ in inside if kind == "pdf"]
    orders = [(d, AMOUNTS[a][1]) for d, kind, a in inside if kind == "order"]
    orders = [(d, amount) for d, amount in orders if amount is not None]
    return {
        "report_exported": (len(report), len(set(report))),
        "pdf_exports": (len(pdf), len(set(pdf))),
        "revenue": (
            len(orders),
            len({d for d, _ in orders}),
            sum((a for _, a in orders), Decimal(0)),
        ),
    }


def check_view(
    reader: Reader, user: str, delivered: dict[str, Any], today: date, windows: list[int]
) -> None:
    view = reader.user(user, now=datetime.combine(today, time(23), UTC))
    for days in windows:
        expected = model(delivered, today, days)
        for trait in ("report_exported", "pdf_exports", "revenue"):
            usage = view.usage.get(trait)
            count = usage.in_last_days(days, today) if usage else 0
            active = usage.active_days(days, today) if usage else 0
            assert (count, active) == expected[trait][:2], (trait, days, today)
        usage = view.usage.get("revenue")
        total = usage.sum_in_last_days(days, today) if usage else Decimal(0)
        assert total == expected["revenue"][2], (days, today)
    orders = [AMOUNTS[a][1] for _, kind, a in delivered.values() if kind == "order"]
    counted = [a for a in orders if a is not None]
    usage = view.usage.get("revenue")
    assert (usage.count if usage else 0) == len(counted)
    assert (usage.sum if usage else None) == (sum(counted, Decimal(0)) if counted else None)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=stream)
def test_any_window_is_exact_under_late_out_of_order_and_redelivered_messages(
    make_runtime: Callable[..., Runtime], dynamodb: Any, table: str, data: dict[str, Any]
) -> None:
    clock = Clock(START)
    runtime = make_runtime(trackers=json.dumps(TRACKERS))
    runtime.recorder = Recorder(runtime.store, clock)
    reader = Reader(dynamodb, table)
    user = f"windows-{uuid.uuid4()}"
    arrivals: dict[int, list[dict[str, Any]]] = {}
    kinds: dict[str, tuple[date, str, int]] = {}
    for n, spec in enumerate(data["messages"]):
        message, kind = build(spec, user, n)
        offset, late, _, amount, copies = spec
        kinds[message["messageId"]] = (START + timedelta(days=offset), kind, amount)
        arrivals.setdefault(offset + late, []).append(message)
        for extra in copies:  # redelivered: the same message again, later
            arrivals.setdefault(offset + late + extra, []).append(message)
    compactions = set(data["compactions"])
    checks = data["checks"]
    delivered: dict[str, tuple[date, str, int]] = {}
    final = max([*arrivals, *compactions, HISTORY_DAYS])
    reads = sorted({max(arrivals), final, *list(arrivals)[::7]})
    for turn, offset in enumerate(sorted({*arrivals, *compactions, *reads})):
        clock.day = START + timedelta(days=offset)
        batch = arrivals.get(offset, [])
        if batch:
            path = data["paths"][turn % len(data["paths"])]
            deliver(runtime, batch, path=path)
            delivered.update((m["messageId"], kinds[m["messageId"]]) for m in batch)
        if offset in compactions:
            runtime.recorder.compactor.compact_due([user_pk(user)])
        if offset in reads:
            check_view(reader, user, delivered, clock.day, checks)
