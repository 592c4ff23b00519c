"""Settings from the environment variables the Terraform module sets on the function."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .trackers import Trackers
from .tracking_plan import MODES

TABLE = "SEGMENT_USAGE_TABLE"
TRACKERS = "SEGMENT_USAGE_TRACKERS"
TRACKING_PLAN = "SEGMENT_USAGE_TRACKING_PLAN"
TRACKING_PLAN_SHA256 = "SEGMENT_USAGE_TRACKING_PLAN_SHA256"
TRACKING_PLAN_MODE = "SEGMENT_USAGE_TRACKING_PLAN_MODE"
REJECTED_RETENTION_DAYS = "SEGMENT_USAGE_REJECTED_RETENTION_DAYS"
METRICS_NAMESPACE = "SEGMENT_USAGE_METRICS_NAMESPACE"
BUFFER_QUEUE_URL = "SEGMENT_USAGE_BUFFER_QUEUE_URL"


class ConfigError(ValueError):
    """A missing or malformed setting; the message names the environment variable."""


@dataclass(frozen=True)
class Settings:
    table: str
    trackers: Trackers
    tracking_plan_json: str | None = None  # inline plan (small plans, local use)
    tracking_plan_sha256: str | None = None  # plan stored in the table (any size)
    tracking_plan_mode: str = "warn"
    rejected_retention_days: int = 90
    metrics_namespace: str = "SegmentUsage"
    buffer_queue_url: str | None = None  # where the direct path hands off what it cannot record

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        table = env.get(TABLE, "").strip()
        if not table:
            raise ConfigError(f"{TABLE} is not set: the DynamoDB table the handler records into")
        mode = env.get(TRACKING_PLAN_MODE, "warn").strip() or "warn"
        if mode not in MODES:
            raise ConfigError(f"{TRACKING_PLAN_MODE}: {mode!r} is not one of {list(MODES)}")
        retention = env.get(REJECTED_RETENTION_DAYS, "90").strip() or "90"
        if not retention.isdigit() or not 1 <= int(retention) <= 3650:
            raise ConfigError(
                f"{REJECTED_RETENTION_DAYS}: {retention!r} is not a whole number 1..3650"
            )
        try:
            trackers = Trackers.parse(env.get(TRACKERS))
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        return cls(
            table=table,
            trackers=trackers,
            tracking_plan_json=env.get(TRACKING_PLAN) or None,
            tracking_plan_sha256=(env.get(TRACKING_PLAN_SHA256) or "").strip().lower() or None,
            tracking_plan_mode=mode,
            rejected_retention_days=int(retention),
            metrics_namespace=env.get(METRICS_NAMESPACE, "").strip() or "SegmentUsage",
            buffer_queue_url=_queue_url(env.get(BUFFER_QUEUE_URL)),
        )


def _queue_url(value: str | None) -> str | None:
    url = (value or "").strip()
    if url and not url.startswith(("https://", "http://")):
        raise ConfigError(f"{BUFFER_QUEUE_URL}: {url!r} is not an SQS queue URL (https://...)")
    return url or None
