#!/usr/bin/env python3
"""`make bench`: what the handler costs (DynamoDB capacity, CPU, cold init, zip) against what users
would pick instead, side by side. Prints a table and a Goals section, writes bench/results.json.

    .venv/bin/python bench/run.py            # the full run (< 3 minutes)
    .venv/bin/python bench/run.py --quick    # a seconds-long smoke run (tests/test_bench_smoke.py)

Always exits 0: a failing goal is a finding, reported in the Goals section and results.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import logging
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _path in (str(ROOT / "tests"), str(BENCH)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import backfill_cost  # noqa: E402
import cold_init  # noqa: E402
import cpu_cost  # noqa: E402
import late_bulk  # noqa: E402
import read_cost  # noqa: E402
import segment_cpu  # noqa: E402
import volume  # noqa: E402
import workload  # noqa: E402
import write_cost  # noqa: E402
import zip_check  # noqa: E402

FULL = {"users": 20, "per_user": 50, "shuffled_users": 10, "cpu_repeats": 7, "cold_runs": 7}
QUICK = {"users": 4, "per_user": 25, "shuffled_users": 2, "cpu_repeats": 2, "cold_runs": 1}

GOAL_WCU_NEW = 2.0
GOAL_WCU_DUP = 1.0
GOAL_CPU_US = 1000.0
GOAL_CPU_RATIO = 1.5
GOAL_COLD_RATIO = 1.3
GOAL_READ_COLD_RATIO = 1.1
GOAL_BATCH_EVENTS = 100
# A batch reads before it writes: one BatchGetItem (chain heads, catalog items), then one write per
# item. So 1 + 1/items is the floor, never 1.0 itself; 1.05 holds for batches writing >= 20 items.
GOAL_ROUND_TRIPS_PER_ITEM = 1.05


# -- machine ---------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("boto3", "botocore", "moto", "jsonschema", "aws-lambda-powertools"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions,
    }


# -- sections --------------------------------------------------------------------------------
def write_costs(cfg: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """Each variant in its own process (counts, not timings: parallel runs do not skew them)."""
    results: dict[str, Any] = {}
    workers = max(1, min(os.cpu_count() or 1, len(keys)))
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = {
            pool.submit(
                write_cost.run_isolated,
                key,
                cfg["users"],
                cfg["per_user"],
                cfg["shuffled_users"],
            ): key
            for key in keys
        }
        for future in concurrent.futures.as_completed(futures):
            key = futures[future]
            try:
                results[key] = future.result()
            except Exception as error:
                results[key] = {
                    "label": write_cost.BY_KEY[key].label,
                    "error": f"{type(error).__name__}: {error}",
                }
    return {key: results[key] for key in keys}


def cold(cfg: dict[str, Any]) -> dict[str, Any]:
    from support.moto_server import aws_env, boto3_client, moto_server
    from support.tables import create_table

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    python, interpreter = cold_init.lambda_like_python()
    with moto_server() as url, tempfile.TemporaryDirectory() as tmp:
        table = "bench-cold-init"
        create_table(boto3_client("dynamodb", url), table)
        package_dir = None
        if python != sys.executable:  # the shipped artifacts, unpacked as Lambda does
            artifacts = ROOT / "modules" / "segment-usage" / "artifacts"
            task = cold_init.unpack(artifacts / "handler.zip", Path(tmp) / "task")
            layer = f"dependencies-x86_64-python{cold_init.LAMBDA_PYTHON}.zip"
            opt = cold_init.unpack(artifacts / layer, Path(tmp) / "opt")
            package_dir = os.pathsep.join([str(task), str(opt / "python")])
        return cold_init.measure(
            aws_env(url), table, cfg["cold_runs"], python, package_dir, interpreter
        )


def guarded(name: str, fn: Any, *args: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        out = fn(*args)
    except Exception as error:
        traceback.print_exc()
        out = {"error": f"{type(error).__name__}: {error}"}
    print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return out


# -- goals -----------------------------------------------------------------------------------
def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(goal: str, passed: bool | None, figure: str) -> None:
        out.append({"goal": goal, "pass": passed, "figure": figure})

    costs = results["write_cost"]
    handler = [costs[k] for k in ("handler_direct", "handler_sqs") if k in costs]
    if handler and all("error" not in v for v in handler):
        worst_new = max(v["wcu_per_new_event"] for v in handler)
        worst_dup = max(v["wcu_per_duplicate"] for v in handler)
        figures = ", ".join(
            f"{v['path']} {v['wcu_per_new_event']:.3f} new / {v['wcu_per_duplicate']:.3f} dup"
            for v in handler
        )
        add(f"<= {GOAL_WCU_NEW:g} WCU per new event", worst_new <= GOAL_WCU_NEW, figures)
        add(f"<= {GOAL_WCU_DUP:g} WCU per duplicate", worst_dup <= GOAL_WCU_DUP, figures)
        add(
            "exactly once: counts right after every message delivered twice",
            all(v["correct"] and v["failed_events"] == 0 for v in handler),
            ", ".join(
                f"{v['path']} in order {_yes(v['correct_in_order_redelivery'])}, "
                f"shuffled {_yes(v['correct_shuffled_redelivery'])}, failed {v['failed_events']}"
                for v in handler
            ),
        )
    else:
        add("write cost measured", False, "; ".join(v.get("error", "") for v in handler))

    cpu = results["cpu"]
    if "error" not in cpu:
        add(
            f"CPU <= {GOAL_CPU_US:g} us per event",
            cpu["handler_us_per_event"] <= GOAL_CPU_US,
            f"{cpu['handler_us_per_event']:.0f} us/event ({cpu['handler_events_per_s']:.0f}/s)",
        )
        add(
            f"CPU <= {GOAL_CPU_RATIO:g}x json.loads + validators alone",
            cpu["ratio"] <= GOAL_CPU_RATIO,
            f"{cpu['ratio']:.2f}x ({cpu['handler_us_per_event']:.0f} vs "
            f"{cpu['baseline_us_per_event']:.0f} us/event)",
        )
    else:
        add("CPU measured", False, cpu["error"])

    init = results["cold_init"]
    if "error" not in init:
        add(
            f"cold init <= {GOAL_COLD_RATIO:g}x bare boto3",
            init["ratio"] <= GOAL_COLD_RATIO and init["handler"]["built"],
            f"{init['ratio']:.2f}x ({init['handler']['init_ms_median']:.0f} vs "
            f"{init['boto3']['init_ms_median']:.0f} ms, median of {init['runs']})",
        )
        add(
            f"read API cold init <= {GOAL_READ_COLD_RATIO:g}x bare boto3",
            init["read_ratio"] <= GOAL_READ_COLD_RATIO and init["read_api"]["built"],
            f"{init['read_ratio']:.2f}x ({init['read_api']['init_ms_median']:.0f} vs "
            f"{init['boto3']['init_ms_median']:.0f} ms, median of {init['runs']})",
        )
    else:
        add("cold init measured", False, init["error"])

    sqs = costs.get("handler_sqs", {})
    if "error" not in sqs and sqs:
        batching = sqs["batching_new"]
        events_ok = (
            batching["events_per_invocation_min"] >= GOAL_BATCH_EVENTS and sqs["failed_events"] == 0
        )
        add(
            f"batched: >= {GOAL_BATCH_EVENTS} events per invocation",
            events_ok,
            f"{batching['events_per_invocation_min']}..{batching['events_per_invocation_max']} "
            f"events/invocation, {sqs['failed_events']} failed",
        )
        add(
            f"batched: <= {GOAL_ROUND_TRIPS_PER_ITEM:g} DynamoDB round trips per distinct item "
            "written",
            batching["round_trips_per_item_written_max"] <= GOAL_ROUND_TRIPS_PER_ITEM,
            f"{batching['round_trips_per_item_written_mean']:.2f} mean, "
            f"{batching['round_trips_per_item_written_max']:.2f} worst invocation, reads "
            f"included (writes alone: "
            f"{batching['write_requests_per_item_written_max']:.2f} per item written)",
        )
    else:
        add("batched path measured", False, sqs.get("error", "not run"))

    package = results["zip"]
    if "error" not in package:
        add(
            f"every artifact <= 1 MB ({package['limit_bytes']:,} bytes)",
            package["largest_bytes"] <= package["limit_bytes"],
            f"largest {package['largest_bytes']:,} bytes of {len(package['artifacts'])}",
        )
        add(
            "artifacts byte-identical across two builds and to the committed ones",
            package["identical"] and package["matches_committed"],
            "identical" if package["matches_committed"] else "; ".join(package["stale"]),
        )
    else:
        add("artifacts built", False, package["error"])
    out += read_cost.goals(results.get("read_cost", {}))
    out += volume.goals(results.get("volume", {}))  # issue 10: bench/volume.py
    out += late_bulk.goals(results.get("late_bulk", {}))  # issue 20: bench/late_bulk.py
    out += backfill_cost.goals(results.get("backfill", {}))  # issue 18: bench/backfill_cost.py
    out += segment_cpu.goals(results.get("segment_cpu", {}))  # issue 18: bench/segment_cpu.py
    return out


# -- printing --------------------------------------------------------------------------------
def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _ratio(value: float, base: float) -> str:
    if base == 0:
        return "-"
    return f"{value / base:.2f}x"


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    m = results["machine"]
    cfg = results["config"]
    add(f"segment-usage bench{' (QUICK smoke run: not the figures)' if results['quick'] else ''}")
    add(f"machine: {m['cpu_model']}, {m['cores']} cores, Python {m['python']}, {m['date']}")
    w = results["workload"]
    add(
        f"workload: {w['messages']} messages ({w['usage_messages']} track/page/screen, rest "
        f"identify) from {cfg['users']} users over one UTC day, each delivered twice"
    )
    add("")
    add("1. Write cost (WCU by DynamoDB's size rules; moto in-process)")
    costs = results["write_cost"]
    pt = costs.get("powertools_sqs") or costs.get("powertools_direct") or {}
    base = pt.get("wcu_per_message_two_deliveries_in_order", 0) if "error" not in pt else 0
    header = (
        f"  {'variant':<38}{'wr/event':>9}{'WCU/new':>9}{'WCU/dup':>9}"
        f"{'WCU/msg x2':>11}{'vs PT':>7}{'shuffled':>9}  correct"
    )
    add(header)
    add("  " + "-" * (len(header) - 2))
    for value in costs.values():
        if "error" in value:
            add(f"  {value['label']:<38}ERROR {value['error']}")
            continue
        both = value["wcu_per_message_two_deliveries_in_order"]
        correct = (
            f"{_yes(value['correct'])} (in order {_yes(value['correct_in_order_redelivery'])}, "
            f"shuffled {_yes(value['correct_shuffled_redelivery'])})"
        )
        add(
            f"  {value['label']:<38}{value['write_requests_per_event']:>9.3f}"
            f"{value['wcu_per_new_event']:>9.3f}{value['wcu_per_duplicate']:>9.3f}"
            f"{both:>11.3f}{_ratio(both, base):>7}"
            f"{value['wcu_per_message_two_deliveries_shuffled']:>9.3f}  {correct}"
        )
    add(
        "  wr/event: write requests per delivery; WCU/msg x2: WCU per message for its two "
        "deliveries (in order);"
    )
    add(
        "  vs PT: that, against the Powertools baseline; shuffled: the same for 2 deliveries "
        "shuffled together"
    )
    direct = costs.get("handler_direct", {})
    if direct and "error" not in direct:
        by_type = ", ".join(f"{k} {v:.3f}" for k, v in direct["wcu_per_new_event_by_type"].items())
        add(f"  this handler, direct, WCU per new event by type: {by_type}")
    add("")
    add("   Batched path (first deliveries), per SQS invocation")
    header = (
        f"  {'variant':<38}{'events':>8}{'round trips':>13}{'items written':>15}"
        f"{'trips/item':>12}{'worst':>7}{'writes/item':>13}"
    )
    add(header)
    add("  " + "-" * (len(header) - 2))
    for value in costs.values():
        if "error" in value or value["path"] != write_cost.SQS:
            continue
        b = value["batching_new"]
        add(
            f"  {value['label']:<38}{b['events_per_invocation_min']:>8}"
            f"{b['round_trips_per_invocation_mean']:>13.1f}"
            f"{b['distinct_items_written_per_invocation_mean']:>15.1f}"
            f"{b['round_trips_per_item_written_mean']:>12.2f}"
            f"{b['round_trips_per_item_written_max']:>7.2f}"
            f"{b['write_requests_per_item_written_max']:>13.2f}"
        )
    add("")
    cpu = results["cpu"]
    add(
        "2. CPU per event, AWS I/O excluded (time.process_time; slices of 100 messages, handler "
        "and baseline back to back; ratio: median of per-slice ratios)"
    )
    if "error" in cpu:
        add(f"  ERROR {cpu['error']}")
    else:
        add(f"  {'':<44}{'us/event':>10}{'events/s':>10}{'ratio':>8}")
        add(
            f"  {'this handler (unwrap+check+plan_day)':<44}"
            f"{cpu['handler_us_per_event']:>10.1f}{cpu['handler_events_per_s']:>10.0f}"
            f"{cpu['ratio']:>7.2f}x"
        )
        add(
            f"  {'json.loads + Draft7Validator alone':<44}"
            f"{cpu['baseline_us_per_event']:>10.1f}{cpu['baseline_events_per_s']:>10.0f}"
            f"{1:>7.2f}x"
        )
        stages = ", ".join(
            f"{stage} {us:.0f}" for stage, us in cpu["handler_breakdown_us_per_event"].items()
        )
        add(f"  handler stages, us/event (perf_counter per stage): {stages}")
    add("")
    init = results["cold_init"]
    add(f"3. Cold init, fresh interpreter (median of {init.get('runs', '?')} runs)")
    add(f"  interpreter: {init.get('interpreter', '?')}")
    if "error" in init:
        add(f"  ERROR {init['error']}")
    else:
        add(f"  {'':<52}{'init ms':>9}{'process ms':>12}{'ratio':>8}")
        rows = (
            ("handler", "import segment_usage.handler (runtime built)"),
            ("read_api", "import segment_usage.read_api (client built)"),
            ("boto3", 'import boto3; boto3.client("dynamodb")'),
            ("jsonschema_import", "  (part of it) import jsonschema alone"),
            ("validators", "  (part of it) import + build the Spec validators"),
        )
        boto = init["boto3"]["init_ms_median"]
        for key, label in rows:
            row = init[key]
            add(
                f"  {label:<52}{row['init_ms_median']:>9.0f}"
                f"{row['process_wall_ms_median']:>12.0f}{row['init_ms_median'] / boto:>7.2f}x"
            )
    add("")
    package = results["zip"]
    add("4. Shipped artifacts (lambda/build_package.py, built twice, against the committed ones)")
    if "error" in package:
        add(f"  ERROR {package['error']}")
    else:
        for name, artifact in package["artifacts"].items():
            add(
                f"  {name:<36}{artifact['bytes']:>10,} bytes  sha256 {artifact['sha256'][:16]}...  "
                f"identical: {_yes(artifact['identical'])}"
            )
        add(f"  committed artifacts match the source: {_yes(package['matches_committed'])}")
    lines += read_cost.render(results.get("read_cost", {}))
    lines += volume.render(results.get("volume", {}))  # issue 10: bench/volume.py
    lines += late_bulk.render(results.get("late_bulk", {}))  # issue 20: bench/late_bulk.py
    lines += backfill_cost.render(results.get("backfill", {}))  # issue 18: bench/backfill_cost.py
    lines += segment_cpu.render(results.get("segment_cpu", {}))  # issue 18: bench/segment_cpu.py
    add("")
    add("Goals")
    for goal in results["goals"]:
        verdict = "PASS" if goal["pass"] else "FAIL"
        add(f"  [{verdict}] {goal['goal']}: {goal['figure']}")
    add("")
    add(f"({results['elapsed_s']:.0f} s; results in {results['out']})")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    parser.add_argument(
        "--variants",
        default=",".join(write_cost.DEFAULT_VARIANTS),
        help=f"comma-separated, or 'all' ({', '.join(write_cost.BY_KEY)})",
    )
    args = parser.parse_args(argv)
    keys = list(write_cost.BY_KEY) if args.variants == "all" else args.variants.split(",")
    unknown = [k for k in keys if k not in write_cost.BY_KEY]
    if unknown:
        parser.error(f"unknown variants {unknown}")
    cfg = QUICK if args.quick else FULL
    started = time.perf_counter()
    os.environ.pop("POWERTOOLS_IDEMPOTENCY_DISABLED", None)
    work = workload.build(users=cfg["users"], per_user=cfg["per_user"])

    print("running (progress on stderr)...", file=sys.stderr)
    # Counting sections first, side by side; the timed sections after, on a quiet machine.
    with concurrent.futures.ThreadPoolExecutor(1) as side:
        zip_future = side.submit(guarded, "zip", zip_check.measure)
        costs = guarded("write cost", write_costs, cfg, keys)
        package = zip_future.result()
    scale = guarded("volume", volume.measure, args.quick)  # issue 10: bench/volume.py
    late = guarded("late bulk", late_bulk.measure, args.quick)  # issue 20: bench/late_bulk.py
    backfill = guarded("backfill", backfill_cost.measure, args.quick)  # issue 18
    cpu = guarded("cpu", cpu_cost.measure, work.messages, cfg["cpu_repeats"])
    init = guarded("cold init", cold, cfg)
    reads = guarded("read cost", read_cost.measure, args.quick)  # issue 12: bench/read_cost.py
    segment_cpu_result = guarded("segment cpu", segment_cpu.measure, args.quick)  # issue 18

    results: dict[str, Any] = {
        "quick": args.quick,
        "config": cfg,
        "machine": machine(),
        "workload": {
            "messages": len(work.messages),
            "usage_messages": work.usage_messages,
            "deliveries_per_message": 2,
            "sqs_batch_size": write_cost.BATCH_SIZE,
            "shuffled_run_messages": None,
        },
        "write_cost": costs,
        "cpu": cpu,
        "cold_init": init,
        "read_cost": reads,
        "volume": scale,
        "late_bulk": late,
        "backfill": backfill,
        "segment_cpu": segment_cpu_result,
        "zip": package,
        "out": str(args.out),
    }
    for value in costs.values():
        if "shuffled_messages" in value:
            results["workload"]["shuffled_run_messages"] = value["shuffled_messages"]
    results["goals"] = goals(results)
    results["elapsed_s"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    print(render(results))
    return 0


if __name__ == "__main__":
    try:
        main()
    except SystemExit as exit_:
        if exit_.code not in (0, None):  # argparse usage errors stay errors
            raise
    except Exception:
        traceback.print_exc()
    sys.exit(0)
