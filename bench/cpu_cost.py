"""Handler CPU per event with AWS I/O excluded, against json.loads + the same validators alone.

Handler: what a direct invocation computes before and between its DynamoDB calls: ``json.loads``
of the payload (the Lambda runtime's work, also in the baseline), ``unwrap``, ``ingest.check.check``
(Spec validation, tracking plan, ``Message.from_valid``) and ``ledger.plan_day`` against the
user-day's buckets, kept in memory as the store would return them (the plan's buckets replace
them, as the write would). The Runtime's store is never touched.
Baseline: ``json.loads`` + the reused Draft7 validators of the same schemas (common + type).
Each repeat runs every message once on fresh buckets; the median repeat is reported.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from typing import Any

import writer_today  # noqa: F401  (pins the writer's today: see that module)
from segment_usage.handler import Runtime
from segment_usage.ingest.check import check
from segment_usage.ingest.envelopes import unwrap
from segment_usage.ingest.messages import Message
from segment_usage.ingest.spec import oversize, spec_validators, validate_message
from segment_usage.record.ledger import plan_day
from segment_usage.settings import Settings
from segment_usage.table.buckets import Bucket
from segment_usage.table.keys import day_shard


class _Untouched:
    """No AWS: the one read a container makes at start (the erasure key) finds nothing."""

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the CPU bench must not reach AWS (client.{name})")


def _handler_pass(
    runtime: Runtime, texts: list[str], buckets: dict[Any, list[Bucket]] | None = None
) -> float:
    # (pk, day, chain) -> the chain's buckets, as the handler's one BatchGetItem returns them:
    # only the chain the message falls in (recorder._first_buckets).
    buckets = {} if buckets is None else buckets
    policy, now_ms = runtime.policy, int(time.time() * 1000)
    start = time.process_time()
    for text in texts:
        _, items = unwrap(json.loads(text))
        checked = check(items[0], policy, now_ms)
        message = checked.message
        if message is None:
            raise AssertionError(f"bench message rejected: {checked.errors}")
        key = (message.pk, message.day, day_shard(message.hash))
        plan = plan_day(key[0], key[1], buckets.get(key, ()), [message])
        for write in plan.writes:
            _store(buckets.setdefault(key, []), write.after)
    return time.process_time() - start


def _store(chain: list[Bucket], bucket: Bucket) -> None:
    """The write, in memory: the bucket replaces its stored version (or joins the chain)."""
    for n, stored in enumerate(chain):
        if stored.index == bucket.index:
            chain[n] = bucket
            return
    chain.append(bucket)


def _breakdown_pass(runtime: Runtime, texts: list[str]) -> dict[str, float]:
    """Seconds per stage of the handler pass (the steps of ``ingest.check``, timed one by one)."""
    clock = time.perf_counter
    stages = (
        "json.loads",
        "unwrap",
        "validate_message (all of it)",
        "32 KB check alone (part of validate_message)",
        "Message.from_valid",
        "plan_day",
    )
    spent = dict.fromkeys(stages, 0.0)
    buckets: dict[tuple[str, str, int], list[Bucket]] = {}
    trackers = runtime.trackers
    for text in texts:
        t0 = clock()
        event = json.loads(text)
        t1 = clock()
        _, items = unwrap(event)
        t2 = clock()
        validate_message(items[0].payload)
        t3 = clock()
        oversize(items[0].payload)
        t4 = clock()
        message = Message.from_valid(items[0].payload, trackers)
        t5 = clock()
        key = (message.pk, message.day, day_shard(message.hash))
        plan = plan_day(key[0], key[1], buckets.get(key, ()), [message])
        t6 = clock()
        for write in plan.writes:
            _store(buckets.setdefault(key, []), write.after)
        laps = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)
        for name, seconds in zip(stages, laps, strict=True):
            spent[name] += seconds
    return spent


def _baseline_pass(texts: list[str]) -> float:
    validators = spec_validators()
    common = validators["common"]
    start = time.process_time()
    for text in texts:
        message = json.loads(text)
        errors = list(common.iter_errors(message))
        errors += validators[message["type"]].iter_errors(message)
        if errors:
            raise AssertionError(f"bench message invalid: {errors[0].message}")
    return time.process_time() - start


CHUNK = 100  # messages per timed slice


def measure(messages: list[dict[str, Any]], repeats: int = 7) -> dict[str, Any]:
    """Interleaved at a fine grain: every slice of CHUNK messages is timed through the handler and
    through the baseline back to back (in alternating order), so load from other processes and
    clock drift hit both alike; the ratio is the median of the per-slice ratios of all repeats."""
    texts = [json.dumps(m) for m in messages]
    runtime = Runtime(Settings.from_env({"SEGMENT_USAGE_TABLE": "bench-cpu"}), _Untouched())
    _handler_pass(runtime, texts)  # warm up (first-use caches: regexes, format checker...)
    _baseline_pass(texts)
    chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
    handler, baseline, ratios = [], [], []
    gc.collect()
    for repeat in range(repeats):
        buckets: dict[Any, list[Bucket]] = {}  # each repeat starts from an empty table
        h_total = b_total = 0.0
        for n, chunk in enumerate(chunks):
            if (repeat + n) % 2:
                b = _baseline_pass(chunk)
                h = _handler_pass(runtime, chunk, buckets)
            else:
                h = _handler_pass(runtime, chunk, buckets)
                b = _baseline_pass(chunk)
            h_total, b_total = h_total + h, b_total + b
            if h > 0 and b > 0:
                ratios.append(h / b)
        handler.append(h_total)
        baseline.append(b_total)
    n = len(texts)
    breakdowns = [_breakdown_pass(runtime, texts) for _ in range(max(1, repeats // 2))]
    breakdown = {
        stage: statistics.median(b[stage] for b in breakdowns) / n * 1e6 for stage in breakdowns[0]
    }
    handler_us = statistics.median(handler) / n * 1e6
    baseline_us = statistics.median(baseline) / n * 1e6
    return {
        "events_per_repeat": n,
        "repeats": repeats,
        "timer": f"time.process_time; slices of {CHUNK} interleaved; medians",
        "ratio_slices": len(ratios),
        "ratio_quartiles": statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios,
        "handler_us_per_event": handler_us,
        "handler_events_per_s": 1e6 / handler_us,
        "baseline_us_per_event": baseline_us,
        "baseline_events_per_s": 1e6 / baseline_us,
        "ratio": statistics.median(ratios),
        "ratio_of_medians": handler_us / baseline_us,
        "handler_breakdown_us_per_event": breakdown,
    }
