"""`make bench` section 5, production volume (issue 10): hot keys and the modeled ceiling on both
paths, a hot user's burst, and the cost of the permanent-error path. Figures by counting, not
timing, so this runs before the timed sections. See hot_keys.py and resilience.py."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import traceback
from typing import Any

import hot_keys
import resilience

FULL = {"users": 1000, "messages": 3000, "containers": 24, "per_container": 20, "flood": 5000}
QUICK = {"users": 100, "messages": 300, "containers": 4, "per_container": 5, "flood": 500}

GOAL_SHARE = 0.01  # no item or partition key above 1% of write units
GOAL_CEILING = 50_000  # events/s
GOAL_WCU_DIRECT = 2.0


def measure(quick: bool = False) -> dict[str, Any]:
    cfg = QUICK if quick else FULL
    out: dict[str, Any] = {"config": cfg}
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        futures = {
            path: pool.submit(hot_keys.run_isolated, path, cfg["users"], cfg["messages"])
            for path in ("direct", "sqs")
        }
        futures["flood"] = pool.submit(hot_keys.run_isolated, "flood", cfg["flood"], cfg["flood"])
        for path, future in futures.items():
            try:
                out[f"hot_{path}"] = future.result()
            except Exception as error:
                traceback.print_exc()
                out[f"hot_{path}"] = {"error": f"{type(error).__name__}: {error}"}
    for key, fn, args in (
        ("burst", resilience.burst, (cfg["containers"], cfg["per_container"])),
        ("permanent_errors", resilience.permanent_errors, ()),
    ):
        try:
            out[key] = fn(*args)
        except Exception as error:
            traceback.print_exc()
            out[key] = {"error": f"{type(error).__name__}: {error}"}
    return out


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(goal: str, passed: bool, figure: str) -> None:
        out.append({"goal": goal, "pass": passed, "figure": figure})

    hot = [results.get(f"hot_{p}", {"error": "not run"}) for p in ("direct", "sqs")]
    if all("error" not in h for h in hot):
        direct, sqs = hot
        add(
            f"hottest item and partition key <= {GOAL_SHARE:.0%} of write units "
            f"({direct['users']:,} users, page Home {direct['hot_page_share']:.0%} of traffic)",
            all(max(h["hottest_item_share"], h["hottest_pk_share"]) <= GOAL_SHARE for h in hot),
            ", ".join(
                f"{h['path']} item {h['hottest_item_share']:.2%} / key {h['hottest_pk_share']:.2%}"
                for h in hot
            ),
        )
        add(
            f"modeled ceiling >= {GOAL_CEILING:,} events/s",
            all(h["ceiling_events_per_s"] >= GOAL_CEILING for h in hot),
            ", ".join(f"{h['path']} {h['ceiling_events_per_s']:,.0f}/s" for h in hot),
        )
        add(
            f"<= {GOAL_WCU_DIRECT:g} WCU per new event direct, fewer batched (many users)",
            direct["wcu_per_event"] <= GOAL_WCU_DIRECT
            and sqs["wcu_per_event"] < direct["wcu_per_event"],
            f"direct {direct['wcu_per_event']:.3f}, SQS x100 {sqs['wcu_per_event']:.3f}",
        )
        add(
            "catalog exact with sharded counters (every name's count = messages sent)",
            all(h["catalog_exact"] and h["failed_events"] == 0 for h in hot),
            ", ".join(f"{h['path']} {'exact' if h['catalog_exact'] else 'WRONG'}" for h in hot),
        )
    else:
        add("hot keys measured", False, "; ".join(h.get("error", "") for h in hot))
    flood = results.get("hot_flood", {"error": "not run"})
    if "error" not in flood:
        add(
            f"rejection flood: no key above {GOAL_SHARE:.0%} of write units, under "
            f"{hot_keys.PARTITION_WCU_PER_S:,} WCU/s at {hot_keys.FLOOD_PER_S:,} invalid "
            "messages/s, every one kept",
            flood["hottest_pk_share"] <= GOAL_SHARE
            and flood["flood_hot_key_wcu_per_s"] < hot_keys.PARTITION_WCU_PER_S
            and flood["kept"] == flood["messages"],
            f"{flood['messages']:,} invalid: hottest key {flood['hottest_pk_share']:.2%} "
            f"({flood['hottest_pk']}), {flood['flood_hot_key_wcu_per_s']:.0f} WCU/s modeled, "
            f"{flood['kept']:,} kept",
        )
    else:
        add("rejection flood measured", False, flood["error"])
    burst = results.get("burst", {"error": "not run"})
    if "error" not in burst:
        add(
            "hot user burst: no invocation raises, exact after draining the buffer queue",
            burst["raised"] == 0 and burst["exact"] and burst["drained"]["failed"] == 0,
            f"{burst['messages']} messages, {burst['containers']} containers: "
            f"{burst['conflicts']} conflicts, {burst['handed_off']} handed off, "
            f"count {burst['count_after_drain']}",
        )
    else:
        add("hot user burst measured", False, burst["error"])
    errors = results.get("permanent_errors", {"error": "not run"})
    if "error" not in errors:
        add(
            "permanent errors kept as rejected, invocation succeeds (never retried)",
            all(v["statuses"] == ["rejected"] for v in errors.values()),
            ", ".join(
                f"{v['round_trips_per_message']:.0f} trips/{v['wcu_per_message']:.0f} WCU"
                for v in errors.values()
            ),
        )
    else:
        add("permanent-error path measured", False, errors["error"])
    return out


def render(results: dict[str, Any]) -> list[str]:
    lines = ["", "6. Production volume (issue 10; WCU by DynamoDB's size rules, moto)"]
    add = lines.append
    hot = [results.get(f"hot_{p}", {}) for p in ("direct", "sqs")]
    if hot[0] and "error" not in hot[0]:
        h = hot[0]
        add(
            f"  {h['users']:,} users, {h['messages']:,} messages, page Home "
            f"{h['hot_page_share']:.1%} of traffic, other names Zipf; ceiling = 1,000 WCU/s / "
            "(hottest key share x WCU/event)"
        )
        header = (
            f"  {'path':<14}{'WCU/event':>10}{'trips/event':>12}{'hottest item':>14}"
            f"{'hottest key':>13}{'ceiling ev/s':>14}  hottest key"
        )
        add(header)
        add("  " + "-" * (len(header) - 2))
        for h in hot:
            if "error" in h:
                add(f"  ERROR {h['error']}")
                continue
            add(
                f"  {h['path']:<14}{h['wcu_per_event']:>10.3f}{h['round_trips_per_event']:>12.3f}"
                f"{h['hottest_item_share']:>14.2%}{h['hottest_pk_share']:>13.2%}"
                f"{h['ceiling_events_per_s']:>14,.0f}  {h['hottest_pk']}"
            )
    else:
        add(f"  ERROR {hot[0].get('error', 'not run') if hot[0] else 'not run'}")
    flood = results.get("hot_flood", {})
    if flood and "error" not in flood:
        add(
            f"  rejection flood (issue 17): {flood['messages']:,} invalid messages from "
            f"{flood['users']:,} senders, direct: {flood['wcu_per_event']:.2f} WCU each, "
            f"hottest key {flood['hottest_pk_share']:.2%} ({flood['hottest_pk']}) of "
            f"{flood['distinct_pks_written']} keys; at {hot_keys.FLOOD_PER_S:,}/s it takes "
            f"{flood['flood_hot_key_wcu_per_s']:.0f} of its 1,000 WCU/s; {flood['kept']:,} kept"
        )
    elif flood:
        add(f"  rejection flood ERROR {flood['error']}")
    burst = results.get("burst", {})
    if burst and "error" not in burst:
        add(
            f"  hot user burst: {burst['messages']} messages for one user-day from "
            f"{burst['containers']} concurrent direct containers: {burst['raised']} raised, "
            f"{burst['accepted_directly']} recorded at once, {burst['handed_off']} handed off"
        )
        add(
            f"    {burst['conflicts']} conflicts (conditional writes lost) in "
            f"{burst['requests']} requests ({burst['conflicts_per_message']:.2f} per message); "
            f"after the drain: {burst['count_after_drain']} counted "
            f"({'exact' if burst['exact'] else 'NOT exact'})"
        )
    elif burst:
        add(f"  burst ERROR {burst['error']}")
    errors = results.get("permanent_errors", {})
    if errors and "error" not in errors:
        add("  permanent-error path, per message (kept as rejected; the invocation succeeds):")
        for label, v in errors.items():
            add(
                f"    {label:<66}{v['round_trips_per_message']:>4.1f} trips "
                f"{v['wcu_per_message']:>5.1f} WCU"
            )
    elif errors:
        add(f"  permanent errors ERROR {errors['error']}")
    return lines
