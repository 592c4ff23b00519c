"""Write cost and correctness of each variant, against a moto server.

moto runs in process (``moto.mock_aws``): the same DynamoDB emulation as moto's server, without
an HTTP hop per request (about 3x faster here), which keeps ``make bench`` under 3 minutes.
Each variant gets fresh tables and a real boto3 client carrying a ``WriteMeter``. Pass 1 delivers
every message once (new events), pass 2 delivers them all again in the same order (duplicates).
A second, unmetered run on fresh tables delivers the same 2N deliveries shuffled together, so
duplicates arrive interleaved with first deliveries (and, on the SQS path, in the same batch).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import writer_today  # noqa: F401  (pins the writer's today: see that module)
from baselines import plain_counter, powertools_counter
from lambda_context import LambdaContext
from meter import WriteMeter
from segment_usage.handler import Runtime
from segment_usage.ingest.trackers import default_trait
from segment_usage.read.view import Reader
from segment_usage.settings import Settings
from support import segment_messages as sm
from support.moto_server import FAKE_CREDENTIALS, boto3_client
from support.tables import create_table
from workload import Workload

DIRECT, SQS = "direct", "sqs"
BATCH_SIZE = 100
_names = itertools.count()

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
Readout = Callable[[], Counter]


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    path: str
    setup: Callable[[Any, Any, Workload], tuple[Invoke, Readout]]


def _table(prefix: str) -> str:
    return f"bench-{prefix}-{os.getpid()}-{next(_names)}"


def _setup_handler(client: Any, probe: Any, workload: Workload) -> tuple[Invoke, Readout]:
    table = _table("handler")
    create_table(probe, table)
    runtime = Runtime(Settings.from_env({"SEGMENT_USAGE_TABLE": table}), client)
    subjects = {(t, n): default_trait(t, n) for _, t, n in workload.expected}
    by_trait = {trait: key for key, trait in subjects.items()}
    users = sorted({u for u, _, _ in workload.expected})

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        return runtime.handle(event, LambdaContext())

    def readout() -> Counter:
        reader = Reader(probe, table)
        counts: Counter = Counter()
        for user in users:
            for trait, usage in reader.user(user).usage.items():
                call_type, name = by_trait.get(trait, ("?", trait))
                counts[(user, call_type, name)] += usage.count
        return counts

    return invoke, readout


def _setup_plain(client: Any, probe: Any, workload: Workload) -> tuple[Invoke, Readout]:
    table = _table("plain")
    plain_counter.create_table(probe, table)
    counter = plain_counter.PlainCounter(client, table)

    def readout() -> Counter:
        return Counter(plain_counter.read_counts(probe, table))

    return (lambda event: counter.handle(event, LambdaContext())), readout


def _setup_powertools(client: Any, probe: Any, workload: Workload) -> tuple[Invoke, Readout]:
    table, idempotency = _table("pt-counter"), _table("pt-idempotency")
    plain_counter.create_table(probe, table)
    powertools_counter.create_idempotency_table(probe, idempotency)
    counter = powertools_counter.PowertoolsCounter(client, table, idempotency)

    def readout() -> Counter:
        return Counter(plain_counter.read_counts(probe, table))

    return (lambda event: counter.handle(event, LambdaContext())), readout


VARIANTS = (
    Variant("handler_direct", "this handler, direct (1 msg/invoke)", DIRECT, _setup_handler),
    Variant("handler_sqs", f"this handler, SQS x{BATCH_SIZE}", SQS, _setup_handler),
    Variant("plain_direct", "plain ADD counter, direct", DIRECT, _setup_plain),
    Variant("plain_sqs", f"plain ADD counter, SQS x{BATCH_SIZE}", SQS, _setup_plain),
    Variant("powertools_direct", "Powertools idempotency, direct", DIRECT, _setup_powertools),
    Variant("powertools_sqs", f"Powertools idem.+batch, SQS x{BATCH_SIZE}", SQS, _setup_powertools),
)


def invocations(path: str, messages: list[dict[str, Any]]) -> list[tuple[int, str, dict[str, Any]]]:
    """(events, label, payload) for each invocation delivering ``messages`` in order."""
    if path == DIRECT:
        return [(1, m["type"], json.loads(json.dumps(m))) for m in messages]
    out = []
    for start in range(0, len(messages), BATCH_SIZE):
        chunk = messages[start : start + BATCH_SIZE]
        out.append((len(chunk), "batch", sm.sqs_event([sm.eventbridge_event(m) for m in chunk])))
    return out


def _deliver(invoke: Invoke, payloads: list[tuple[int, str, dict[str, Any]]], meter: Any) -> int:
    """Run every invocation; the number of events reported failed (or raised)."""
    failed = 0
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for events, label, payload in payloads:
            meter.begin(events, label)
            try:
                response = invoke(payload)
                failed += len(response.get("batchItemFailures", []))
            except Exception:
                failed += events
            finally:
                meter.end()
    return failed


def _per_invocation(meter: WriteMeter, first: int, last: int) -> dict[str, Any]:
    chosen = meter.invocations[first:last]
    written = [inv for inv in chosen if inv.items_written]
    ratios = [inv.requests / len(inv.items_written) for inv in written]
    write_ratios = [inv.write_requests / len(inv.items_written) for inv in written]
    count = max(len(chosen), 1)
    return {
        "invocations": len(chosen),
        "events_per_invocation_min": min((i.events for i in chosen), default=0),
        "events_per_invocation_max": max((i.events for i in chosen), default=0),
        "round_trips_per_invocation_mean": sum(i.requests for i in chosen) / count,
        "write_requests_per_invocation_mean": sum(i.write_requests for i in chosen) / count,
        "distinct_items_written_per_invocation_mean": sum(len(i.items_written) for i in chosen)
        / count,
        "round_trips_per_item_written_max": max(ratios, default=0.0),
        "round_trips_per_item_written_mean": sum(ratios) / len(ratios) if ratios else 0.0,
        "write_requests_per_item_written_max": max(write_ratios, default=0.0),
    }


def _wcu_by_label(meter: WriteMeter, first: int, last: int) -> dict[str, float]:
    """Mean WCU per invocation by label (the call type, on the direct path)."""
    totals: Counter = Counter()
    counts: Counter = Counter()
    for inv in meter.invocations[first:last]:
        totals[inv.label] += inv.wcu
        counts[inv.label] += inv.events
    return {label: totals[label] / counts[label] for label in sorted(counts)}


def run_variant(
    variant: Variant, workload: Workload, shuffled: Workload, seed: int = 7
) -> dict[str, Any]:
    """One variant, metered; call inside ``moto.mock_aws()``.

    ``workload``: delivered once, then again in the same order. ``shuffled`` (fresh tables): its
    messages twice, all 2N deliveries shuffled together.
    """
    n = len(workload.messages)
    probe = boto3_client("dynamodb", None)

    client = boto3_client("dynamodb", None)
    meter = WriteMeter(client, probe)
    invoke, readout = variant.setup(client, probe, workload)
    meter.phase = "new"
    failed_new = _deliver(invoke, invocations(variant.path, workload.messages), meter)
    split = len(meter.invocations)
    meter.phase = "dup"
    failed_dup = _deliver(invoke, invocations(variant.path, workload.messages), meter)
    meter.phase = "readout"
    correct_in_order = readout() == workload.expected
    new, dup = meter.phases["new"], meter.phases["dup"]

    client2 = boto3_client("dynamodb", None)
    meter2 = WriteMeter(client2, probe)
    invoke2, readout2 = variant.setup(client2, probe, shuffled)
    deliveries = shuffled.messages * 2
    random.Random(seed).shuffle(deliveries)
    meter2.phase = "shuffled"
    failed_shuffled = _deliver(invoke2, invocations(variant.path, deliveries), meter2)
    meter2.phase = "readout"
    correct_shuffled = readout2() == shuffled.expected
    mixed = meter2.phases["shuffled"]
    n_shuffled = len(shuffled.messages)

    return {
        "label": variant.label,
        "path": variant.path,
        "events_new": n,
        "events_duplicate": n,
        "write_requests_per_event": (new.write_requests + dup.write_requests) / (2 * n),
        "write_requests_per_new_event": new.write_requests / n,
        "write_requests_per_duplicate": dup.write_requests / n,
        "round_trips_per_new_event": sum(new.requests.values()) / n,
        "round_trips_per_duplicate": sum(dup.requests.values()) / n,
        "wcu_per_new_event": new.total_wcu / n,
        "wcu_per_duplicate": dup.total_wcu / n,
        "wcu_per_message_two_deliveries_in_order": (new.total_wcu + dup.total_wcu) / n,
        "wcu_per_message_two_deliveries_shuffled": mixed.total_wcu / n_shuffled,
        "wcu_per_new_event_by_type": _wcu_by_label(meter, 0, split),
        "failed_conditional_writes": {
            "new": new.failed_conditions,
            "duplicate": dup.failed_conditions,
            "shuffled": mixed.failed_conditions,
        },
        "requests_by_operation": {
            "new": dict(new.requests),
            "duplicate": dict(dup.requests),
            "shuffled": dict(mixed.requests),
        },
        "wcu_by_operation": {
            "new": dict(new.wcu),
            "duplicate": dict(dup.wcu),
            "shuffled": dict(mixed.wcu),
        },
        "shuffled_messages": n_shuffled,
        "failed_events": failed_new + failed_dup + failed_shuffled,
        "correct_in_order_redelivery": correct_in_order,
        "correct_shuffled_redelivery": correct_shuffled,
        "correct": correct_in_order and correct_shuffled,
        "batching_new": _per_invocation(meter, 0, split),
        "batching_duplicate": _per_invocation(meter, split, len(meter.invocations)),
    }


BY_KEY = {v.key: v for v in VARIANTS}
# The baselines process record by record, so their per-event cost is the same on both paths
# (checked: --variants all); the default set keeps `make bench` under 3 minutes.
DEFAULT_VARIANTS = ("handler_direct", "handler_sqs", "plain_direct", "powertools_sqs")


def run_isolated(key: str, users: int, per_user: int, shuffled_users: int) -> dict[str, Any]:
    """Entry point for a worker process: its own workload copy and its own moto."""
    import logging

    from moto import mock_aws

    import workload as wl

    logging.getLogger("aws_lambda_powertools").setLevel(logging.ERROR)
    logging.getLogger("segment_usage").setLevel(logging.CRITICAL)
    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("POWERTOOLS_IDEMPOTENCY_DISABLED", None)
    main = wl.build(users=users, per_user=per_user)
    shuffled = wl.build(users=shuffled_users, per_user=per_user)
    started = time.perf_counter()
    with mock_aws():
        result = run_variant(BY_KEY[key], main, shuffled)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
