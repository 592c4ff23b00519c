"""`make bench` in miniature: bench/run.py --quick runs, exits 0 and reports every section."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("handler_direct", "handler_sqs", "plain_direct", "powertools_sqs")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_quick_bench_runs_and_reports_every_section(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Goals" in done.stdout
    results = json.loads(out.read_text())
    assert results["quick"] is True

    machine = results["machine"]
    assert machine["cpu_model"] and machine["cores"] >= 1 and machine["python"] and machine["date"]

    costs = results["write_cost"]
    assert set(VARIANTS) <= set(costs)
    for key in VARIANTS:
        variant = costs[key]
        assert "error" not in variant, variant
        for field in ("write_requests_per_event", "wcu_per_new_event", "wcu_per_duplicate"):
            assert _number(variant[field]), (key, field)
        assert isinstance(variant["correct"], bool)
    # What the bench is for: the handler counts exactly once, the plain ADD counter does not.
    assert costs["handler_direct"]["correct"] and costs["handler_sqs"]["correct"]
    assert costs["powertools_sqs"]["correct"]
    assert not costs["plain_direct"]["correct"]
    assert costs["plain_direct"]["wcu_per_duplicate"] > 0
    assert costs["handler_sqs"]["batching_new"]["events_per_invocation_min"] == 100

    cpu = results["cpu"]
    for field in ("handler_us_per_event", "handler_events_per_s", "baseline_us_per_event", "ratio"):
        assert _number(cpu[field]) and cpu[field] > 0, field

    init = results["cold_init"]
    assert init["handler"]["built"] and init["boto3"]["built"]
    assert _number(init["ratio"]) and init["ratio"] > 0

    package = results["zip"]
    assert "error" not in package, package
    assert package["largest_bytes"] > 0 and len(package["artifacts"]) == 5
    assert all(len(a["sha256"]) == 64 for a in package["artifacts"].values())
    assert isinstance(package["identical"], bool) and isinstance(package["matches_committed"], bool)

    volume = results["volume"]  # issue 10: hot keys, burst, permanent-error path
    for path in ("direct", "sqs"):
        hot = volume[f"hot_{path}"]
        assert "error" not in hot, hot
        assert 0 < hot["hottest_item_share"] <= hot["hottest_pk_share"] <= 1
        assert _number(hot["ceiling_events_per_s"]) and hot["catalog_exact"]
    assert volume["burst"]["exact"] and volume["burst"]["raised"] == 0
    assert all(v["statuses"] == ["rejected"] for v in volume["permanent_errors"].values())

    backfill = results["backfill"]  # issue 18: bench/backfill_cost.py
    assert "error" not in backfill, backfill
    for loaded in (backfill["archive_order"], backfill["grouped"]):
        assert loaded["exact"] and loaded["failed"] == 0
        assert _number(loaded["wcu_per_message"]) and loaded["wcu_per_message"] > 0
    segment_cpu = results["segment_cpu"]  # issue 18: bench/segment_cpu.py
    assert "error" not in segment_cpu, segment_cpu
    assert _number(segment_cpu["new_ten"]["median_ms"]) and segment_cpu["ratio_to_simple"] > 1
    answers = segment_cpu["answers"].values()  # every answer, unknown included, was given
    assert all(a["true"] + a["false"] + a["unknown"] == segment_cpu["users"] for a in answers)
    assert sum(a["unknown"] for a in answers) > 0

    goals = results["goals"]
    assert len(goals) >= 10
    assert all(isinstance(g["pass"], bool) and g["figure"] for g in goals)
