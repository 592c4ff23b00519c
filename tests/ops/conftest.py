"""Operator commands run against the test's table on the moto server."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli_env(moto_url, table, monkeypatch) -> str:
    """The environment an operator's shell has: the endpoint, the table, no function settings."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("SEGMENT_USAGE_TABLE", table)
    for name in ("TRACKING_PLAN", "TRACKING_PLAN_MODE", "TRACKING_PLAN_SHA256", "TRACKERS"):
        monkeypatch.delenv(f"SEGMENT_USAGE_{name}", raising=False)
    monkeypatch.setattr("segment_usage.ops.forget.KEY_PROPAGATION_SECONDS", 0.0)
    return table
