"""Segment evaluation CPU per user (issue 18): ten segments using the new conditions (any window,
regularity, tri-state coverage, holdouts, nested segments) against users with a year of history,
beside a baseline in the same run: one simple segment (one identify-trait condition) on the same
users, and ten segments in the previous grammar (7/30-day windows, recency, identify traits).

What is timed is ``read.segments.membership`` per user view, as ``Reader.user`` calls it on every
read (nothing is stored per segment): CPU time (``time.process_time``), the median of several
repeats, per user. Goal: <= 2 ms per user for the ten new-grammar segments.

    .venv/bin/python bench/segment_cpu.py [--quick]
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lambda") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambda"))

from segment_usage.read.segments import membership, parse_segments  # noqa: E402
from segment_usage.read.view import UsageTrait  # noqa: E402

GOAL_MS_PER_USER = 2.0
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
COVERAGE = (TODAY - timedelta(days=120)).isoformat()  # windows of 180/365 days reach before it
TRAITS = 30  # usage traits per user
FULL = {"users": 300, "repeats": 7}
QUICK = {"users": 30, "repeats": 2}

# Ten segments, every new kind of condition, several per segment, two levels of nesting.
NEW = {
    "regular_searchers": {"all": [
        {"trait": "search", "active_days": {"at_least": 3, "in_last_days": 7}},
        {"trait": "search", "in_last_days": 90, "at_least": 10},
    ]},
    "heavy_exporters": {"all": [
        {"trait": "report_exported", "in_last_days": 180, "at_least": 20},
        {"identify_trait": "plan", "in": ["pro", "team"]},
    ]},
    "quiet_month": {"all": [
        {"trait": "*", "not_seen_for_days": 30},
        {"trait": "*", "active_days": {"at_most": 2, "in_last_days": 60}},
    ]},
    "new_this_quarter": {"any": [
        {"trait": "*", "first_seen_in_last_days": 90},
        {"trait": "signed_up", "in_last_days": 90, "at_least": 1},
    ]},
    "yearly_power": {"all": [
        {"trait": "*", "active_days": {"at_least": 100, "in_last_days": 365}},
        {"trait": "t7", "in_last_days": 365, "at_most": 400},
    ]},
    "checkout_holdout": {"salt": "checkout-2026", "all": [{"percent": {"from": 0, "to": 10}}]},
    "pricing_rollout": {"all": [
        {"segment": "heavy_exporters"},
        {"segment": "checkout_holdout", "member": False},
        {"percent": {"from": 0, "to": 25.5}},
    ]},
    "engaged": {"any": [
        {"segment": "regular_searchers"},
        {"all": [{"trait": "t3", "in_last_days": 14, "at_least": 2},
                 {"trait": "t4", "active_days": {"at_least": 2, "in_last_days": 30}}]},
    ]},
    "at_risk": {"all": [
        {"segment": "engaged", "member": False},
        {"trait": "*", "seen_in_last_days": 45},
        {"trait": "t9", "in_last_days": 200, "at_most": 3},
    ]},
    "targeted": {"any": [{"segment": "pricing_rollout"}, {"segment": "at_risk"}]},
}  # fmt: skip
OLD = {
    f"old_{i}": {"all": [
        {"trait": f"t{i}", "in_last_days": 30, "at_least": 2},
        {"trait": "*", "seen_in_last_days": 7},
        {"identify_trait": "plan", "equals": "pro"},
    ]}
    for i in range(10)
}  # fmt: skip
SIMPLE = {"pro": {"all": [{"identify_trait": "plan", "equals": "pro"}]}}


def _user(rng: random.Random) -> tuple[dict[str, UsageTrait], dict[str, Any]]:
    """A year of history: 30 usage traits, each used on ~10-40% of the last 365 days."""
    now_ms = int(NOW.timestamp() * 1000)
    names = ["search", "report_exported", "signed_up"] + [f"t{i}" for i in range(TRAITS - 3)]
    usage = {}
    for name in names:
        share = rng.uniform(0.1, 0.4)
        daily = {
            (TODAY - timedelta(days=back)).isoformat(): rng.randint(1, 5)
            for back in range(365)
            if rng.random() < share
        }
        if not daily:
            continue
        backs = [(TODAY - datetime.fromisoformat(d).date()).days for d in daily]
        usage[name] = UsageTrait(
            sum(daily.values()),
            now_ms - max(backs) * 86_400_000,
            now_ms - min(backs) * 86_400_000,
            daily=daily,
        )
    traits = {"plan": rng.choice(["free", "pro", "team"]), "seats": rng.randint(1, 50)}
    return usage, traits


def _per_user_ms(segments: dict[str, Any], users: list[Any], repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        started = time.process_time()
        for user_id, usage, traits in users:
            membership(segments, usage, traits, NOW, coverage_start=COVERAGE, user_id=user_id)
        runs.append((time.process_time() - started) * 1000 / len(users))
    return {"median_ms": statistics.median(runs), "min_ms": min(runs), "max_ms": max(runs)}


def measure(quick: bool = False) -> dict[str, Any]:
    """Per-user CPU of the three definitions over the same users; ``answers`` counts each
    segment's true/false/unknown answers over them (that the conditions were exercised)."""
    cfg = QUICK if quick else FULL
    rng = random.Random(18)
    users = [(f"user-{i}", *_user(rng)) for i in range(cfg["users"])]
    definitions = {"new_ten": NEW, "old_ten": OLD, "one_simple": SIMPLE}
    parsed = {key: parse_segments(value) for key, value in definitions.items()}
    result: dict[str, Any] = {
        "users": len(users),
        "repeats": cfg["repeats"],
        "usage_traits_per_user": TRAITS,
        "days_per_trait_mean": statistics.mean(
            len(t.daily) for _, usage, _ in users for t in usage.values()
        ),
        "coverage_start": COVERAGE,
    }
    for key, segments in parsed.items():
        result[key] = _per_user_ms(segments, users, cfg["repeats"])
    answers: dict[str, dict[str, int]] = {}
    for user_id, usage, traits in users:
        got = membership(
            parsed["new_ten"], usage, traits, NOW, coverage_start=COVERAGE, user_id=user_id
        )
        for name, met in got.items():
            key = {True: "true", False: "false", None: "unknown"}[met]
            answers.setdefault(name, {"true": 0, "false": 0, "unknown": 0})[key] += 1
    result["answers"] = answers
    base = result["one_simple"]["median_ms"]
    result["ratio_to_simple"] = result["new_ten"]["median_ms"] / base if base else None
    old = result["old_ten"]["median_ms"]
    result["ratio_to_old_ten"] = result["new_ten"]["median_ms"] / old if old else None
    return result


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    if not result or "error" in result:
        figure = result.get("error", "not run") if result else "not run"
        return [{"goal": "segment evaluation CPU measured", "pass": False, "figure": figure}]
    new = result["new_ten"]["median_ms"]
    return [
        {
            "goal": f"ten segments (new conditions) <= {GOAL_MS_PER_USER:g} ms CPU per user",
            "pass": new <= GOAL_MS_PER_USER,
            "figure": f"{new:.3f} ms/user ({result['ratio_to_simple']:.1f}x one simple segment, "
            f"{result['ratio_to_old_ten']:.2f}x ten 7/30-day segments; {result['users']} users, "
            f"{result['usage_traits_per_user']} traits, a year of days each)",
        }
    ]


def render(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "9. Segment evaluation CPU per user (issue 18; membership() as every read runs it)",
    ]
    if not result or "error" in result:
        return [
            *lines,
            f"  not measured: {result.get('error', 'not run') if result else 'not run'}",
        ]
    header = f"  {'definitions':<64}{'ms/user':>9}{'min':>8}{'max':>8}{'ratio':>8}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    base = result["one_simple"]["median_ms"]
    for key, label in (
        ("one_simple", "baseline: one segment, one identify-trait condition"),
        ("old_ten", "ten segments, 7/30-day windows (previous grammar)"),
        ("new_ten", "ten segments: windows to 365 d, regularity, holdouts, nesting"),
    ):
        r = result[key]
        ratio = r["median_ms"] / base if base else float("inf")
        figures = f"{r['median_ms']:>9.3f}{r['min_ms']:>8.3f}{r['max_ms']:>8.3f}{ratio:>7.1f}x"
        lines.append(f"  {label:<64}{figures}")
    unknown = sum(a["unknown"] for a in result["answers"].values())
    total = sum(sum(a.values()) for a in result["answers"].values())
    lines.append(
        f"  ({result['users']} users x {result['usage_traits_per_user']} usage traits, "
        f"{result['days_per_trait_mean']:.0f} days each on average; coverage from "
        f"{result['coverage_start']}: {unknown} of {total} answers unknown)"
    )
    return lines


if __name__ == "__main__":
    measured = measure("--quick" in sys.argv)
    print("\n".join(render(measured)))
    print(json.dumps(goals(measured), indent=2))
