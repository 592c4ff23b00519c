"""History delivered late in bulk (issue 20; record/late.py): users with a month and two years of
daily history, sent to the batch path in SQS batches of 100 newest-first, oldest-first or shuffled,
each batch once. No record fails on its first delivery, every count is exact (against a model
computed from the messages), a redelivery is a duplicate whatever its day's age, what a late batch
costs does not grow with the history already written, and the view is bounded right after the load.

Scaled down from the issue's five messages a day to two (a page and a track): the same paths (every
closed day takes the late path, written dense, one transaction per partition and batch), a third
of the time.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segment_usage.handler import Runtime
from segment_usage.read.view import Reader
from segment_usage.record import days
from segment_usage.settings import Settings
from segment_usage.table.item_size import item_size
from support import late_history as lh
from support import segment_messages as sm
from support.delivery import TODAY
from support.moto_server import boto3_client
from support.moto_speed import patch_moto_dynamodb_costs
from support.tables import create_table
from support.transaction_faults import cancelled

PER_DAY = 2
HISTORIES = {"month-user": 30, "two-year-user": 730}
BATCH = 100
_tables = itertools.count()


@pytest.fixture(autouse=True, scope="module")
def _dynamodb_cost_shape() -> None:
    """Years of history in one table: moto's per-request work must not grow with it (see
    support/moto_speed.py; the answers do not change)."""
    patch_moto_dynamodb_costs()


def sqs(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return sm.sqs_event([sm.eventbridge_event(m) for m in messages])


def handle(runtime: Runtime, messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One SQS batch through the handler (its log lines captured); the batchItemFailures."""
    with contextlib.redirect_stdout(io.StringIO()):
        return runtime.handle(sqs(messages))["batchItemFailures"]


def statuses(runtime: Runtime, messages: list[dict[str, Any]]) -> list[str]:
    """One SQS batch through the processing call; the status of each record."""
    return [outcome.status for outcome in runtime.process(sqs(messages)).outcomes]


def count_requests(client: Any) -> Counter:
    counts: Counter = Counter()

    def hook(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    client.meta.events.register("before-call.dynamodb", hook, unique_id=f"count-{id(counts)}")
    return counts


def read_cost(client: Any, table: str, user: str) -> tuple[dict[str, Any], int, int]:
    """The user's view, and the requests and bytes (DynamoDB's item-size rules) it read."""
    cost = {"requests": 0, "bytes": 0}

    def hook(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        items = parsed.get("Items") or ([parsed["Item"]] if "Item" in parsed else [])
        items += [i for t in parsed.get("Responses", {}).values() for i in t]
        cost["requests"] += 1
        cost["bytes"] += sum(item_size(i) for i in items)

    client.meta.events.register("after-call.dynamodb", hook, unique_id="late-bulk-read-cost")
    try:
        view = Reader(client, table).user(user, today=TODAY).as_dict()
    finally:
        client.meta.events.unregister("after-call.dynamodb", unique_id="late-bulk-read-cost")
    return view, cost["requests"], cost["bytes"]


def history() -> list[dict[str, Any]]:
    return [m for user, n in HISTORIES.items() for m in lh.daily_history(user, n, TODAY, PER_DAY)]


def assert_exact(client: Any, table: str, messages: list[dict[str, Any]]) -> None:
    reader = Reader(client, table)
    for user in {m["userId"] for m in messages}:
        view = reader.user(user, today=TODAY).as_dict()
        assert view["usage"] == lh.expected_usage(messages, user, TODAY), user
        assert view["messagesRecorded"] == len(
            {m["messageId"] for m in messages if m["userId"] == user}
        )
    catalog = Counter({(e["type"], e["name"]): e["count"] for e in reader.events()})
    assert catalog == lh.expected_catalog(messages)


@pytest.mark.parametrize("order", lh.ORDERS)
def test_history_in_bulk_is_recorded_once_in_any_order(
    order: str, make_runtime: Callable[..., Runtime], moto_url: str, table: str
) -> None:
    client = boto3_client("dynamodb", moto_url)
    requests = count_requests(client)
    runtime = make_runtime(client)
    messages = lh.in_order(history(), order, seed=20)
    batches = [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]
    per_batch = []
    for batch in batches:
        before = sum(requests.values())
        failed = handle(runtime, batch)
        assert failed == [], f"{len(failed)} records failed on their first delivery ({order})"
        late_only = all(days.is_closed(m["timestamp"][:10], TODAY) for m in batch)
        per_batch.append((late_only, sum(requests.values()) - before))

    # Read right after the load: the two-year user's view costs about what a month's does.
    reader_client = boto3_client("dynamodb", moto_url)
    month, month_requests, month_bytes = read_cost(reader_client, table, "month-user")
    years, years_requests, years_bytes = read_cost(reader_client, table, "two-year-user")
    assert years_requests == month_requests
    assert years_bytes <= 1.5 * month_bytes, (years_bytes, month_bytes)
    assert years["messagesRecorded"] == 730 * PER_DAY and month["messagesRecorded"] == 30 * PER_DAY
    assert_exact(client, table, messages)

    # What a late batch costs does not grow with the history: days in order need one Query a
    # batch (one run of days), so a batch is a BatchGetItem, a Query and one transaction.
    late = [n for late_only, n in per_batch if late_only]
    if order != "shuffled":  # (shuffled, every batch holds a few open days too)
        assert late and set(late) == {3}, late

    # Redelivered, any batch of it, whatever its days' age: duplicates, nothing counted twice.
    for batch in batches[::4]:
        assert set(statuses(runtime, batch)) == {"duplicate"}
    assert_exact(client, table, messages)


def fresh(dynamodb: Any) -> tuple[Runtime, str]:
    table = f"segment-usage-late-{next(_tables)}"
    create_table(dynamodb, table)
    return Runtime(Settings.from_env({"SEGMENT_USAGE_TABLE": table}), dynamodb), table


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    order=st.sampled_from(lh.ORDERS),
    seed=st.integers(0, 2**32 - 1),
    history_days=st.integers(40, 160),
    batch=st.integers(10, 100),
    redelivered=st.lists(st.integers(0, 10**6), max_size=80),
)
def test_late_history_with_redeliveries_in_any_batching_counts_once(
    dynamodb: Any, order: str, seed: int, history_days: int, batch: int, redelivered: list[int]
) -> None:
    """Random orders and batch sizes, copies of random messages anywhere in the stream (in the same
    batch as the original, before it, long after it): each messageId accepted exactly once, none
    failed, the counts exact."""
    runtime, table = fresh(dynamodb)
    messages = lh.daily_history("u-long", history_days, TODAY, PER_DAY)
    messages += lh.daily_history("u-short", 5, TODAY, PER_DAY, skip=40)
    stream = lh.in_order(messages, order, seed)
    rng = random.Random(seed)
    for n in redelivered:
        stream.insert(rng.randrange(len(stream) + 1), messages[n % len(messages)])
    accepted: Counter = Counter()
    for start in range(0, len(stream), batch):
        chunk = stream[start : start + batch]
        for message, status in zip(chunk, statuses(runtime, chunk), strict=True):
            assert status in ("accepted", "duplicate"), status
            accepted[message["messageId"]] += status == "accepted"
    assert set(accepted.values()) == {1} and len(accepted) == len(messages)
    assert_exact(dynamodb, table, messages)


def late_batch(user: str) -> list[dict[str, Any]]:
    return lh.in_order(lh.daily_history(user, 20, TODAY, PER_DAY, skip=60), "newest-first")


def test_a_transaction_cancelled_by_a_conflict_is_a_lost_race_retried(
    make_runtime: Callable[..., Runtime], moto_url: str, table: str
) -> None:
    """Another transaction on one of its items (TransactionConflict) wrote nothing: read again,
    retry, recorded once, no record failed."""
    client = boto3_client("dynamodb", moto_url)
    runtime = make_runtime(client)
    messages = late_batch("conflicted")
    with cancelled(client, "TransactionConflict", times=2) as counter:
        assert handle(runtime, messages) == []
    assert counter["cancelled"] == 2
    assert_exact(client, table, messages)


def test_a_throttled_transaction_fails_its_records_for_a_retry(
    make_runtime: Callable[..., Runtime], moto_url: str, table: str
) -> None:
    """Cancelled for capacity (ThrottlingError): transient, so the records fail and SQS retries
    them (never kept as unrecordable); the retry records each once."""
    client = boto3_client("dynamodb", moto_url)
    runtime = make_runtime(client)
    messages = late_batch("throttled")
    with cancelled(client, "ThrottlingError"):
        assert set(statuses(runtime, messages)) == {"failed"}
    assert handle(runtime, messages) == []
    assert_exact(client, table, messages)


def test_two_containers_loading_one_users_history_at_once_count_each_message_once(
    moto_url: str, table: str
) -> None:
    """Two batch containers record the same user's late days at the same time, overlapping (the
    same messages in both): every late transaction moves the user's rollup version, so one of two
    racing writers re-reads and re-plans. Each messageId accepted once, nothing failed."""
    messages = lh.in_order(lh.daily_history("raced", 120, TODAY, PER_DAY, skip=40), "shuffled", 3)
    halves = [messages[: len(messages) * 2 // 3], messages[len(messages) // 3 :]]
    barrier = threading.Barrier(2)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def container(share: list[dict[str, Any]]) -> None:
        client = boto3_client("dynamodb", moto_url)
        runtime = Runtime(Settings.from_env({"SEGMENT_USAGE_TABLE": table}), client)
        barrier.wait()
        for start in range(0, len(share), 40):
            chunk = share[start : start + 40]
            done = zip(chunk, statuses(runtime, chunk), strict=True)
            with lock:
                outcomes.extend((m["messageId"], status) for m, status in done)

    threads = [threading.Thread(target=container, args=(half,)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for _, status in outcomes} <= {"accepted", "duplicate"}
    accepted = Counter(mid for mid, status in outcomes if status == "accepted")
    assert set(accepted.values()) == {1} and len(accepted) == len(messages)
    assert_exact(boto3_client("dynamodb", moto_url), table, messages)
