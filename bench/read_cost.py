"""Read cost against history, the read handler's CPU, and segment evaluation (issue 12, item 5).

For each history length (1, 30, 365 and 730 days of usage at 5 messages a day; 730 days at 20 a
day in the full run) one user's history is recorded by the real handler into moto as it accrues:
one SQS-path invocation per day, with the writer's clock on that day, so the rollup of closed days
is compacted along the way exactly as in production (rollup.py). Then:

- read cost: one ``Reader.user`` (what ``segment-usage traits`` and the read API do) with a real
  boto3 client whose requests are metered by hooks on its own event system: requests, items,
  bytes (DynamoDB's item-size rules) and RCU (eventually consistent, per Query page);
- read handler CPU per request, I/O excluded: ``ReadApi.handle`` of a function URL event with ten
  segments, ``time.process_time``; the DynamoDB answers of that same request, recorded from moto,
  are replayed by botocore's own Stubber, so neither the network nor moto nor HTTP parsing is
  timed (the handler's own work: building requests, aggregating buckets, segments, JSON);
- segment evaluation alone: ``segments.membership`` with ten segments over that user's view.

The Reader reads the user's rollup and the day buckets after it (two requests), so the cost is
bounded by about FOLD_AFTER_DAYS + CHECK_EVERY_DAYS days of buckets whatever the history's length.

Windows of any length (issue 18): the view read above holds each trait's per-day counts for the
last 365 days (the recent buckets, and the rollup's per-day series of folded days), so the same
read answers ``in_last_days``/``active_days`` for any N in 1..365; each row checks them for
``WINDOW_CHECKS`` against the history itself (``windows_exact``). The 730-day row's bytes against
the 30-day row's are then the cost of a full view with 365-day windows at two years of history.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import writer_today  # noqa: F401  (pins the writer's today: see that module)
from segment_usage.handler import Runtime
from segment_usage.ingest.trackers import default_trait
from segment_usage.read.segments import SEGMENTS_SK, membership, parse_segments
from segment_usage.read.view import Reader
from segment_usage.read_api import ReadApi
from segment_usage.record.recorder import Recorder
from segment_usage.settings import Settings
from segment_usage.table.item_size import item_size, read_units
from support import segment_messages as sm
from support.delivery import deliver
from support.function_url import url_event
from support.moto_server import FAKE_CREDENTIALS
from support.tables import create_table

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FULL = {"histories": [(1, 5), (30, 5), (365, 5), (730, 5), (730, 20)], "repeats": 30}
QUICK = {"histories": [(1, 5), (30, 5)], "repeats": 3}
GOAL_BYTES_RATIO = 1.5  # bytes read at 730 days / at 30 days
GOAL_CPU_MS = 2.0  # read handler CPU per request with ten segments
WINDOW_CHECKS = (1, 7, 30, 90, 180, 365)  # windows (days) checked against the history per row
EVENTS = (
    "Report Exported",
    "Dashboard Viewed",
    "Invite Sent",
    "Search Performed",
    "File Uploaded",
    "Comment Added",
    "Filter Applied",
    "Export Scheduled",
)
TEN_SEGMENTS = {
    "power_exporters": {
        "all": [
            {"trait": "report_exported", "in_last_days": 30, "at_least": 5},
            {"identify_trait": "plan", "equals": "pro"},
        ]
    },
    "lapsed": {"all": [{"trait": "*", "not_seen_for_days": 14}]},
    "new_this_week": {"all": [{"trait": "*", "first_seen_in_last_days": 7}]},
    "searchers": {"all": [{"trait": "search_performed", "at_least": 100}]},
    "big_accounts": {"all": [{"identify_trait": "seats", "at_least": 50}]},
    "paid": {"any": [{"identify_trait": "plan", "in": ["pro", "team", "enterprise"]}]},
    "beta": {"all": [{"audience": "beta_testers"}]},
    "collaborators": {
        "any": [
            {"trait": "invite_sent", "in_last_days": 30, "at_least": 1},
            {"trait": "comment_added", "in_last_days": 7, "at_least": 3},
        ]
    },
    "uploader_not_exporter": {
        "all": [
            {"trait": "file_uploaded", "at_least": 1},
            {"trait": "report_exported", "in_last_days": 30, "at_most": 0},
        ]
    },
    "engaged_pro": {
        "all": [
            {"identify_trait": "plan", "equals": "pro"},
            {
                "any": [
                    {"trait": "dashboard_viewed", "in_last_days": 7, "at_least": 3},
                    {"trait": "filter_applied", "seen_in_last_days": 2},
                ]
            },
        ]
    },
}


class ReadMeter:
    """Requests, items, bytes and RCU of every read a real boto3 client makes (its own hooks)."""

    def __init__(self, client: Any) -> None:
        self.reset()
        self._consistent = False
        self.active = (
            True  # off while CPU is timed: metering is the bench's work, not the handler's
        )
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def reset(self) -> None:
        self.requests = self.items = self.bytes = 0
        self.rcu = 0.0

    def _before(self, params: dict[str, Any], **_: Any) -> None:
        self._consistent = bool(params.get("ConsistentRead"))

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.active:
            return
        if model.name == "Query":
            items = parsed.get("Items", [])
        elif model.name == "GetItem":
            items = [parsed["Item"]] if "Item" in parsed else []
        elif model.name == "BatchGetItem":
            items = [i for table in parsed.get("Responses", {}).values() for i in table]
        else:
            return
        size = sum(item_size(item) for item in items)
        self.requests += 1
        self.items += len(items)
        self.bytes += size
        self.rcu += read_units(size, self._consistent)  # per request, i.e. per Query page


def _history(user: str, days: int, per_day: int) -> list[tuple[date, list[dict[str, Any]]]]:
    """(day, that day's messages) for ``days`` days ending today (NOW)."""
    start = NOW - timedelta(days=days - 1)
    traits = {"plan": "pro", "seats": 60, "beta_testers": True}
    history = [(start.date(), [sm.identify(traits, user_id=user, at=start)])]
    n = 0
    for day in range(days):
        base = start.replace(hour=9) + timedelta(days=day)
        messages = []
        for i in range(per_day):
            messages.append(
                sm.track(EVENTS[n % len(EVENTS)], user_id=user, at=base + timedelta(minutes=i))
            )
            n += 1
        history.append((base.date(), messages))
    return history


def windows_exact(view: Any, messages: list[dict[str, Any]], today: date) -> bool:
    """Whether the view's ``in_last_days`` and ``active_days`` match the history for every trait
    and every window of ``WINDOW_CHECKS`` (the history's own per-day counts, not the reader's)."""
    per_day: Counter[tuple[str, str]] = Counter(
        (default_trait("track", m["event"]), m["timestamp"][:10])
        for m in messages
        if m["type"] == "track"
    )
    traits = {trait for trait, _ in per_day}
    for days in WINDOW_CHECKS:
        first = (today - timedelta(days=days - 1)).isoformat()
        for trait in traits:
            inside = {d: n for (t, d), n in per_day.items() if t == trait and first <= d}
            usage = view.usage.get(trait)
            got = (
                (usage.in_last_days(days, today), usage.active_days(days, today))
                if usage
                else (0, 0)
            )
            if got != (sum(inside.values()), len(inside)):
                return False
    return True


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def _cpu(api: ReadApi, client: Any, event: dict[str, Any], repeats: int) -> float:
    """Median CPU of one request, its DynamoDB answers replayed by botocore's Stubber."""
    from botocore.stub import Stubber

    recorded: list[tuple[str, dict[str, Any]]] = []

    def record(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        recorded.append((model.name, parsed))

    client.meta.events.register("after-call.dynamodb", record, unique_id="read-cost-record")
    with contextlib.redirect_stdout(io.StringIO()):
        api.handle(event, now=NOW)
    client.meta.events.unregister("after-call.dynamodb", unique_id="read-cost-record")
    stubber = Stubber(client)
    samples = []
    sink = io.StringIO()
    for _ in range(repeats):
        for operation, parsed in recorded:
            response = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
            stubber.add_response(_method(client, operation), response)
        with stubber, contextlib.redirect_stdout(sink):
            started = time.process_time()
            api.handle(event, now=NOW)
            samples.append(time.process_time() - started)
        sink.seek(0)
        sink.truncate()
    return _median_ms(samples)


def _method(client: Any, operation: str) -> str:
    """Stubber wants the client method name (query); botocore maps it the other way only."""
    return {v: k for k, v in client.meta.method_to_api_mapping.items()}[operation]


def measure(quick: bool = False) -> dict[str, Any]:
    cfg = QUICK if quick else FULL
    saved = dict(os.environ)  # restored at the end: moto's fake credentials stay local
    try:
        return _measure(cfg, quick)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _measure(cfg: dict[str, Any], quick: bool) -> dict[str, Any]:
    from moto import mock_aws

    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    rows = []
    with mock_aws():
        import boto3

        client = boto3.client("dynamodb", region_name="us-east-1")
        table = "bench-read-cost"
        create_table(client, table)
        text = json.dumps(TEN_SEGMENTS)
        client.put_item(
            TableName=table,
            Item={"pk": {"S": "CONFIG"}, "sk": {"S": SEGMENTS_SK}, "segments": {"S": text}},
        )
        segments = parse_segments(text)
        runtime = Runtime(Settings.from_env({"SEGMENT_USAGE_TABLE": table}), client)
        api = ReadApi({"SEGMENT_USAGE_TABLE": table}, client)
        api.reader = Reader(client, table, segments)  # as loaded at a container's first request
        meter = ReadMeter(client)
        clock = {"today": NOW.date()}
        runtime.recorder = Recorder(runtime.store, clock=lambda: clock["today"])
        for days, per_day in cfg["histories"]:
            user = f"user-{days}d-{per_day}pd"
            history = _history(user, days, per_day)
            for day, todays in history:  # one SQS batch a day, the writer's clock on that day
                clock["today"] = day
                deliver(runtime, todays, path="sqs", batch=100)
            messages = [m for _, todays in history for m in todays]
            meter.reset()
            view = Reader(client, table).user(user, now=NOW)
            row = {
                "days": days,
                "messages_per_day": per_day,
                "messages": len(messages),
                "requests": meter.requests,
                "items": meter.items,
                "bytes": meter.bytes,
                "rcu": meter.rcu,
                # Every message is in the dedup ledger; the identify is no usage.
                "exact": view.messages_recorded == len(messages)
                and sum(t.count for t in view.usage.values()) == len(messages) - 1,
                "windows_exact": windows_exact(view, messages, NOW.date()),
            }
            meter.active = False
            row["handler_cpu_ms"] = _cpu(
                api, client, url_event(f"/v1/users/{user}"), cfg["repeats"]
            )
            meter.active = True
            reps = 200 if not quick else 20
            started = time.process_time()
            for _ in range(reps):
                membership(segments, view.usage, view.traits, NOW)
            row["segments_us"] = round((time.process_time() - started) / reps * 1e6, 1)
            rows.append(row)
    return {"rows": rows, "segments": len(TEN_SEGMENTS)}


def _row(result: dict[str, Any], days: int, per_day: int = 5) -> dict[str, Any] | None:
    return next(
        (
            r
            for r in result.get("rows", [])
            if (r["days"], r["messages_per_day"]) == (days, per_day)
        ),
        None,
    )


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    if "error" in result or not result:
        return [
            {"goal": "read cost measured", "pass": False, "figure": result.get("error", "not run")}
        ]
    out = []
    short, long = _row(result, 30), _row(result, 730)
    if short and long:
        ratio = long["bytes"] / short["bytes"]
        out.append(
            {
                "goal": f"read at 730 days <= {GOAL_BYTES_RATIO:g}x the bytes at 30 days, same "
                "requests",
                "pass": ratio <= GOAL_BYTES_RATIO and long["requests"] == short["requests"],
                "figure": f"{ratio:.1f}x bytes ({long['bytes']:,} vs {short['bytes']:,}), "
                f"{long['requests']} vs {short['requests']} requests, {long['rcu']:g} vs "
                f"{short['rcu']:g} RCU",
            }
        )
    worst = max(result["rows"], key=lambda r: r["handler_cpu_ms"])
    out.append(
        {
            "goal": f"read handler <= {GOAL_CPU_MS:g} ms CPU per read with ten segments, at every "
            "history length",
            "pass": all(r["handler_cpu_ms"] <= GOAL_CPU_MS for r in result["rows"]),
            "figure": ", ".join(
                f"{r['days']}d@{r['messages_per_day']}/d {r['handler_cpu_ms']:.2f} ms"
                for r in result["rows"]
            )
            + f" (worst {worst['handler_cpu_ms']:.2f} ms)",
        }
    )
    slowest = max(r["segments_us"] for r in result["rows"])
    out.append(
        {
            "goal": f"ten segments evaluated in <= {GOAL_CPU_MS:g} ms CPU per user",
            "pass": slowest <= GOAL_CPU_MS * 1000,
            "figure": f"{slowest:.0f} us at most",
        }
    )
    if short and long:
        out.append(
            {
                "goal": "windows of 1-365 days exact at two years of history, read with 365-day "
                f"windows <= {GOAL_BYTES_RATIO:g}x the bytes of 30 days of history, same requests",
                "pass": all(r.get("windows_exact") for r in result["rows"])
                and long["bytes"] / short["bytes"] <= GOAL_BYTES_RATIO
                and long["requests"] == short["requests"],
                "figure": f"windows {', '.join(map(str, WINDOW_CHECKS))} days exact at "
                + ", ".join(
                    f"{r['days']}d {'yes' if r.get('windows_exact') else 'NO'}"
                    for r in result["rows"]
                )
                + f"; {long['bytes'] / short['bytes']:.2f}x bytes, {long['requests']} vs "
                f"{short['requests']} requests",
            }
        )
    out.append(
        {
            "goal": "exact counts at every history length",
            "pass": all(r["exact"] for r in result["rows"]),
            "figure": ", ".join(
                f"{r['days']}d {'yes' if r['exact'] else 'NO'}" for r in result["rows"]
            ),
        }
    )
    return out


def render(result: dict[str, Any]) -> list[str]:
    lines = ["", "5. Read cost against history (one user's full view; Reader.user / the read API)"]
    if "error" in result or not result:
        return [*lines, f"  not measured: {result.get('error', 'not run')}"]
    lines.append(
        f"  {'history':<16}{'messages':>9}{'requests':>9}{'items':>7}{'KB read':>9}{'RCU':>7}"
        f"{'vs 30d':>8}{'handler CPU ms':>16}{'segments us':>13}"
    )
    base = _row(result, 30)
    for r in result["rows"]:
        label = f"{r['days']} days @ {r['messages_per_day']}/d"
        ratio = f"{r['bytes'] / base['bytes']:.1f}x" if base else "-"
        lines.append(
            f"  {label:<16}{r['messages']:>9}{r['requests']:>9}{r['items']:>7}"
            f"{r['bytes'] / 1024:>9.1f}{r['rcu']:>7g}{ratio:>8}{r['handler_cpu_ms']:>16.2f}"
            f"{r['segments_us']:>13.1f}"
        )
    lines.append(
        f"  RCU: eventually consistent, per Query page; handler CPU: ReadApi.handle with "
        f"{result['segments']} segments, DynamoDB answers replayed by botocore's Stubber (median); "
        "segments: membership() alone"
    )
    lines.append(
        "  A read is the user's rollup (days folded by compaction) and the buckets after it; "
        "the 730-day rows read ~38 days of buckets, the 20/day row 4x as many messages a day."
    )
    lines.append(
        "  The same read holds every trait's per-day counts of the last 365 days (the rollup's "
        f"per-day series): windows {', '.join(map(str, WINDOW_CHECKS))} days exact: "
        + ", ".join(
            f"{r['days']}d@{r['messages_per_day']}/d {'yes' if r.get('windows_exact') else 'NO'}"
            for r in result["rows"]
        )
    )
    return lines
