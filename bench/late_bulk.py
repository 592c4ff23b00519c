"""`make bench` section 7, history delivered late in bulk (issue 20): what a message for a closed
day costs when it comes with many others (a backfill, a source replaying old days), beside the
open-day path, at 30 and at 730 days of history already recorded; and what reading a user costs
right after such a load.

In one table (moto in process, the writer's today pinned like the tests'), five messages a day
(pages and tracks), always newest-first in SQS batches of 100, each batch delivered once:
- open-day path: one user's 20 newest days (100 messages, all in the open window);
- for each history length H (30 and 730 days; 30 and 180 in the quick run), a user's newest H days
  are loaded first (the days older than the open window take the late path), then the user's view
  is read (Reader.user: what the read API does); then a bulk of 40 older days (200 messages) is
  delivered and metered: DynamoDB requests, RCU (by the item-size rules, strongly consistent reads
  as the writer makes them) and WCU (bench/meter.py) per message.

Goals: the late bulk costs the same per message at 730 days of history as at 30, and <= 1.5 WCU per
message; the view right after a 730-day load costs <= 1.5x the bytes of a 30-day user's, in the
same number of requests; no record fails on its first delivery; counts exact.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from typing import Any

import writer_today  # noqa: F401  (pins the writer's today: see that module)

FULL = {"histories": (30, 730), "bulk_days": 40, "per_day": 5}
QUICK = {"histories": (30, 180), "bulk_days": 20, "per_day": 5}
BATCH = 100
GOAL_WCU = 1.5
GOAL_SAME = 1.05  # "the same" cost per message at the long history: within 5%
GOAL_READ_RATIO = 1.5


class ReadCapacity:
    """RCU of every read a boto3 client makes, by DynamoDB's rules: a GetItem per item, a Query per
    page (the sum of its items), a BatchGetItem per key; half for eventually consistent reads. A
    key read and not found still costs the minimum (1 RCU strongly consistent), a Query too."""

    def __init__(self, client: Any) -> None:
        from segment_usage.table.item_size import item_size, read_units

        self._size, self._units = item_size, read_units
        self.requests = 0
        self.bytes = 0
        self.rcu = 0.0
        self._consistent = False
        self._keys = 0
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, params: dict[str, Any], **_: Any) -> None:
        batch = [v for v in params.get("RequestItems", {}).values() if isinstance(v, dict)]
        self._consistent = bool(params.get("ConsistentRead")) or any(
            v.get("ConsistentRead") for v in batch
        )
        self._keys = sum(len(v.get("Keys", [])) for v in batch)

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        name = model.name
        if name == "Query":
            sizes = [sum(self._size(i) for i in parsed.get("Items", []))]
        elif name == "GetItem":
            sizes = [self._size(parsed.get("Item"))]
        elif name == "BatchGetItem":
            sizes = [self._size(i) for t in parsed.get("Responses", {}).values() for i in t]
            unprocessed = sum(
                len(v.get("Keys", [])) for v in parsed.get("UnprocessedKeys", {}).values()
            )
            sizes += [0] * (self._keys - unprocessed - len(sizes))  # keys not found
        else:
            return
        self.requests += 1
        self.bytes += sum(sizes)
        self.rcu += sum(self._units(size, self._consistent) for size in sizes)

    def snapshot(self) -> tuple[int, int, float]:
        return self.requests, self.bytes, self.rcu


def measure(quick: bool = False) -> dict[str, Any]:
    from meter import keeping_environ

    return keeping_environ(_measure, QUICK if quick else FULL)


def _measure(cfg: dict[str, Any]) -> dict[str, Any]:
    from moto import mock_aws

    from meter import WriteMeter
    from segment_usage.handler import Runtime
    from segment_usage.read.view import Reader
    from segment_usage.record import days
    from segment_usage.settings import Settings
    from support import late_history as lh
    from support import segment_messages as sm
    from support.delivery import TODAY
    from support.moto_server import FAKE_CREDENTIALS, boto3_client
    from support.moto_speed import patch_moto_dynamodb_costs
    from support.tables import create_table

    # Years of history in one table: moto's per-request work must not grow with it (counts and
    # answers unchanged: tests/support/moto_speed.py).
    patch_moto_dynamodb_costs()
    logging.getLogger("segment_usage").setLevel(logging.CRITICAL)
    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    per_day = cfg["per_day"]
    out: dict[str, Any] = {"config": {**cfg, "histories": list(cfg["histories"])}, "rows": []}
    with mock_aws():
        probe = boto3_client("dynamodb", None)
        client = boto3_client("dynamodb", None)
        table = "bench-late-bulk"
        create_table(probe, table)
        writes = WriteMeter(client, probe)
        reads = ReadCapacity(client)
        runtime = Runtime(Settings.from_env({"SEGMENT_USAGE_TABLE": table}), client)
        reader_client = boto3_client("dynamodb", None)
        view_reads = ReadCapacity(reader_client)
        reader = Reader(reader_client, table)

        def deliver(phase: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
            """Newest-first batches of 100; the phase's cost per message and failed records."""
            writes.phase = phase
            before = reads.snapshot()
            failed = 0
            for start in range(0, len(messages), BATCH):
                chunk = messages[start : start + BATCH]
                event = sm.sqs_event([sm.eventbridge_event(m) for m in chunk])
                with contextlib.redirect_stdout(io.StringIO()):
                    failed += len(runtime.handle(event)["batchItemFailures"])
            spent = writes.phases[phase]
            n = len(messages)
            return {
                "messages": n,
                "failed": failed,
                "requests_per_message": sum(spent.requests.values()) / n,
                "rcu_per_message": (reads.snapshot()[2] - before[2]) / n,
                "wcu_per_message": spent.total_wcu / n,
                "transactions_per_message": spent.requests["TransactWriteItems"] / n,
            }

        def view(user: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
            before = view_reads.snapshot()
            shown = reader.user(user, today=TODAY).as_dict()
            after = view_reads.snapshot()
            return {
                "requests": after[0] - before[0],
                "bytes": after[1] - before[1],
                "rcu": after[2] - before[2],
                "exact": shown["usage"] == lh.expected_usage(messages, user, TODAY)
                and shown["messagesRecorded"] == len({m["messageId"] for m in messages}),
            }

        opened = lh.daily_history("bench-open", 20, TODAY, per_day)
        out["open"] = deliver("open", lh.in_order(opened, "newest-first"))
        out["open"]["exact"] = view("bench-open", opened)["exact"]
        for history in cfg["histories"]:
            user = f"bench-late-{history}d"
            loaded = lh.daily_history(user, history, TODAY, per_day)
            load = deliver(f"load-{history}", lh.in_order(loaded, "newest-first"))
            after_load = view(user, loaded)
            # The measured bulk: older days than the history (and than the open window).
            skip = max(history, days.OPEN_DAYS + 3)
            bulk = lh.daily_history(user, cfg["bulk_days"], TODAY, per_day, skip=skip)
            row = deliver(f"late-{history}", lh.in_order(bulk, "newest-first"))
            row.update(
                history_days=history,
                load_failed=load["failed"],
                read_after_load=after_load,
                exact=view(user, loaded + bulk)["exact"],
            )
            out["rows"].append(row)
    return out


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _rows(result: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    rows = sorted(result.get("rows", []), key=lambda r: r["history_days"])
    return (rows[0], rows[-1]) if len(rows) >= 2 else (None, None)


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    if not result or "error" in result:
        return [
            {"goal": "late bulk measured", "pass": False, "figure": result.get("error", "not run")}
        ]
    out: list[dict[str, Any]] = []

    def add(goal: str, passed: bool, figure: str) -> None:
        out.append({"goal": goal, "pass": passed, "figure": figure})

    short, long = _rows(result)
    if short is None or long is None:
        return [{"goal": "late bulk measured", "pass": False, "figure": "fewer than two rows"}]
    keys = ("requests_per_message", "rcu_per_message", "wcu_per_message")
    ratios = {k: long[k] / short[k] if short[k] else float("inf") for k in keys}
    add(
        f"late bulk: the same cost per message at {long['history_days']} days of history as at "
        f"{short['history_days']} (within {GOAL_SAME - 1:.0%})",
        all(r <= GOAL_SAME for r in ratios.values()),
        ", ".join(
            f"{k.split('_')[0]} {long[k]:.3f} vs {short[k]:.3f} ({ratios[k]:.2f}x)" for k in keys
        ),
    )
    worst = max(r["wcu_per_message"] for r in result["rows"])
    add(
        f"late bulk: <= {GOAL_WCU:g} WCU per message",
        worst <= GOAL_WCU,
        f"{worst:.3f} WCU/message at worst (open-day path {result['open']['wcu_per_message']:.3f})",
    )
    s, lg = short["read_after_load"], long["read_after_load"]
    ratio = lg["bytes"] / s["bytes"] if s["bytes"] else float("inf")
    add(
        f"read right after a {long['history_days']}-day load <= {GOAL_READ_RATIO:g}x the bytes of "
        f"{short['history_days']} days, same requests",
        ratio <= GOAL_READ_RATIO and lg["requests"] == s["requests"],
        f"{ratio:.2f}x ({lg['bytes']:,} vs {s['bytes']:,} bytes), {lg['requests']} vs "
        f"{s['requests']} requests, {lg['rcu']:g} vs {s['rcu']:g} RCU",
    )
    failed = sum(r["failed"] + r["load_failed"] for r in result["rows"]) + result["open"]["failed"]
    add(
        "late bulk: no record failed on its first delivery, counts exact",
        failed == 0
        and result["open"]["exact"]
        and all(r["exact"] and r["read_after_load"]["exact"] for r in result["rows"]),
        f"{failed} failed, exact "
        + ", ".join(f"{r['history_days']}d {_yes(r['exact'])}" for r in result["rows"]),
    )
    return out


def render(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "7. Late history in bulk (issue 20; 5 messages/day, newest-first, SQS batches of 100)",
    ]
    if not result or "error" in result:
        return [*lines, f"  not measured: {result.get('error', 'not run')}"]
    header = (
        f"  {'path':<34}{'messages':>9}{'req/msg':>9}{'RCU/msg':>9}{'WCU/msg':>9}"
        f"{'txn/msg':>9}{'failed':>8}"
    )
    lines += [header, "  " + "-" * (len(header) - 2)]
    rows = [("open-day path (20 open days)", result["open"])]
    rows += [
        (f"late bulk at {r['history_days']} days of history", r)
        for r in sorted(result["rows"], key=lambda r: r["history_days"])
    ]
    for label, r in rows:
        lines.append(
            f"  {label:<34}{r['messages']:>9}{r['requests_per_message']:>9.3f}"
            f"{r['rcu_per_message']:>9.3f}{r['wcu_per_message']:>9.3f}"
            f"{r['transactions_per_message']:>9.3f}{r['failed']:>8}"
        )
    lines.append("  Read right after the load (one user's full view, eventually consistent):")
    base = _rows(result)[0]
    for r in sorted(result["rows"], key=lambda r: r["history_days"]):
        read = r["read_after_load"]
        ratio = read["bytes"] / base["read_after_load"]["bytes"] if base else 0
        lines.append(
            f"    {r['history_days']:>4} days: {read['requests']} requests, "
            f"{read['bytes']:,} bytes ({ratio:.2f}x), {read['rcu']:g} RCU"
        )
    return lines
