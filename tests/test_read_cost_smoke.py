"""bench/read_cost.py in miniature: every figure measured and plausible, exact counts, goals named."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import read_cost  # noqa: E402


def test_quick_read_cost() -> None:
    result = read_cost.measure(quick=True)
    rows = {(r["days"], r["messages_per_day"]): r for r in result["rows"]}
    assert set(rows) == {(1, 5), (30, 5)}
    short, month = rows[(1, 5)], rows[(30, 5)]
    assert all(r["exact"] for r in rows.values())
    assert short["messages"] == 6 and month["messages"] == 151
    # As many requests either way (one Query page today); more bytes for the month.
    assert short["requests"] == month["requests"] >= 1
    assert month["bytes"] > short["bytes"] > 0
    assert month["rcu"] >= short["rcu"] >= 0.5
    for row in rows.values():
        assert 0 < row["handler_cpu_ms"] < 100 and 0 < row["segments_us"] < 10_000
    goals = {g["goal"]: g for g in read_cost.goals(result)}
    assert any("ten segments" in goal for goal in goals)
    text = "\n".join(read_cost.render(result))
    assert "30 days @ 5/d" in text and "handler CPU ms" in text
