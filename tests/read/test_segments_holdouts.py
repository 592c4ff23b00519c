"""Holdouts and rollouts: ``percent = {from, to}`` on a bucket of SHA-256(salt, user id).

Stable across reads, processes (Python's ``hash`` is salted per process: never used) and redeploys
(the bucket depends on the salt and the user id only); roughly uniform; [from, to) half-open, so
adjacent ranges split users without overlap or gap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segment_usage.read.segments import (
    BUCKETS,
    SegmentDefinitionError,
    bucket,
    explain,
    membership,
    parse_segments,
)

LAMBDA = Path(__file__).resolve().parents[2] / "lambda"
user_ids = st.text(min_size=1, max_size=80)


def holdout(low: float, high: float, salt: str | None = None) -> dict:
    segment = {"all": [{"percent": {"from": low, "to": high}}]}
    return {"h": {**segment, "salt": salt} if salt else segment}


def member(definitions: dict, user_id: str) -> bool | None:
    return membership(parse_segments(definitions), {}, {}, user_id=user_id)["h"]


@settings(max_examples=200, deadline=None)
@given(user_id=user_ids)
def test_half_open_boundaries(user_id: str) -> None:
    b = bucket("h", user_id)
    assert 0 <= b < BUCKETS
    assert member(holdout(b / 100, (b + 1) / 100), user_id) is True
    if b + 1 < BUCKETS:
        assert member(holdout((b + 1) / 100, 100), user_id) is False
    if b > 0:
        assert member(holdout(0, b / 100), user_id) is False  # to is excluded
    # Adjacent ranges: exactly one of [0, x) and [x, 100) holds every user.
    assert member(holdout(0, 37.5), user_id) != member(holdout(37.5, 100), user_id)
    assert member(holdout(0, 100), user_id) is True


@settings(max_examples=100, deadline=None)
@given(user_id=user_ids, salt=st.text(min_size=1, max_size=40))
def test_the_salt_defaults_to_the_segment_name_and_decides_the_bucket(
    user_id: str, salt: str
) -> None:
    segments = parse_segments(holdout(0, 50, salt) | {"g": holdout(0, 50)["h"]})
    (report_h, report_g) = explain(segments, {}, {}, user_id=user_id)
    assert report_h["salt"] == salt and report_g["salt"] == "g"
    assert report_h["conditions"][0]["actual"] == {"bucket": bucket(salt, user_id) / 100}
    assert report_g["conditions"][0]["actual"] == {"bucket": bucket("g", user_id) / 100}


def test_roughly_uniform_and_independent_across_salts() -> None:
    users = [f"user-{i}" for i in range(20_000)]
    deciles = Counter(bucket("rollout", u) // 1000 for u in users)
    # 2,000 expected per decile; a binomial's sd is ~42: 6 sd either way.
    assert all(abs(deciles[d] - 2000) < 260 for d in range(10)), deciles
    # Another salt is another draw: the users in one 10% holdout are ~10% of another's.
    first = {u for u in users if bucket("checkout_holdout", u) < 1000}
    second = {u for u in users if bucket("pricing_holdout", u) < 1000}
    assert 2000 - 260 < len(first) < 2000 + 260
    assert abs(len(first & second) - 200) < 80


def test_the_same_buckets_in_another_process() -> None:
    """Another interpreter with another hash seed (as a new Lambda container, or after a redeploy)
    computes the same buckets; and these values never change between releases (they would move
    every user between holdout and treatment)."""
    users = ["ada", "lin", "user-42", "ü-ñ", "x" * 500]
    script = (
        "import json, sys; from segment_usage.read.segments import bucket; "
        "print(json.dumps([bucket('beta_rollout', u) for u in json.loads(sys.argv[1])]))"
    )
    env = {**os.environ, "PYTHONPATH": str(LAMBDA), "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(users)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    here = [bucket("beta_rollout", u) for u in users]
    assert json.loads(out) == here
    assert here == PINNED


# Computed once, when buckets were introduced: the contract with every deployed holdout.
PINNED = [3955, 5877, 9408, 3430, 1885]


@pytest.mark.parametrize(
    ("percent", "error"),
    [
        ({"from": 0}, "segments.h.all[0].percent: expected { from, to }"),
        ({"from": 0, "to": 101}, "segments.h.all[0].percent.to: expected a number 0-100"),
        ({"from": -1, "to": 10}, "segments.h.all[0].percent.from: expected a number 0-100"),
        ({"from": 0, "to": 10.005}, "segments.h.all[0].percent.to: two decimals at most"),
        ({"from": 10, "to": 10}, "segments.h.all[0].percent: from must be less than to"),
        ({"from": "0", "to": 10}, "segments.h.all[0].percent.from: expected a number 0-100"),
    ],
)
def test_bad_percent_names_the_field(percent: dict, error: str) -> None:
    with pytest.raises(SegmentDefinitionError) as info:
        parse_segments({"h": {"all": [{"percent": percent}]}})
    assert error in str(info.value)


def test_bad_salt() -> None:
    with pytest.raises(SegmentDefinitionError, match=r"segments\.h\.salt: expected a string"):
        parse_segments({"h": {"salt": 7, "all": [{"percent": {"from": 0, "to": 1}}]}})
