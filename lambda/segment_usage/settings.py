"""Every setting the functions read: the ``SEGMENT_USAGE_*`` environment variables the Terraform
module sets, and every AWS client configuration. Nothing else in the package reads ``os.environ``
for configuration or builds a ``botocore.config.Config``.

Imports nothing of the package: both the ingest and the read function start here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

# -- environment variable names (modules/segment-usage sets them) ----------------------------------
TABLE = "SEGMENT_USAGE_TABLE"
TRACKERS = "SEGMENT_USAGE_TRACKERS"
TRACKING_PLAN = "SEGMENT_USAGE_TRACKING_PLAN"
TRACKING_PLAN_SHA256 = "SEGMENT_USAGE_TRACKING_PLAN_SHA256"
TRACKING_PLAN_MODE = "SEGMENT_USAGE_TRACKING_PLAN_MODE"
REJECTED_RETENTION_DAYS = "SEGMENT_USAGE_REJECTED_RETENTION_DAYS"
# Users inactive this many days expire (DynamoDB TTL on their partitions' items); unset: kept.
DATA_RETENTION_DAYS = "SEGMENT_USAGE_DATA_RETENTION_DAYS"
# The shortest data retention: longer than every redelivery window (Segment's 4 h, EventBridge's
# 24 h, SQS's 14-day maximum retention), so a retry never finds its day's ledger expired.
MIN_DATA_RETENTION_DAYS = 30
METRICS_NAMESPACE = "SEGMENT_USAGE_METRICS_NAMESPACE"
BUFFER_QUEUE_URL = "SEGMENT_USAGE_BUFFER_QUEUE_URL"
SEGMENTS_SHA256 = "SEGMENT_USAGE_SEGMENTS_SHA256"
MAX_USERS_PER_ANONYMOUS_ID = "SEGMENT_USAGE_MAX_USERS_PER_ANONYMOUS_ID"
BLOCKED_IDS = "SEGMENT_USAGE_BLOCKED_IDS"
ENGAGE_SPACE_IDS = "SEGMENT_USAGE_ENGAGE_SPACE_IDS"
# What a function takes, set by the module per function (never decided by a payload):
ACCEPT = "SEGMENT_USAGE_ACCEPT"  # JSON list among "segment", "eventbridge", "sqs"
PARTNER_SOURCES = "SEGMENT_USAGE_PARTNER_SOURCES"  # JSON list: aws.partner/segment.com/<id>
QUEUE_ARNS = "SEGMENT_USAGE_QUEUE_ARNS"  # JSON list: the SQS queues its records may come from
# The alias EventBridge invokes the direct function through: an invocation through it takes only
# EventBridge events, every other invocation only Segment messages (Lambda sets the invoked ARN).
EVENTBRIDGE_QUALIFIER = "SEGMENT_USAGE_EVENTBRIDGE_QUALIFIER"
ACCEPT_KINDS = ("segment", "eventbridge", "sqs")
# "true": a {"type": "delete", "userId": ...} message erases that person (record/erasure.py). Off by
# default: the deployment decides whether its sources may carry erasures at all.
DELETE_MESSAGES = "SEGMENT_USAGE_DELETE_MESSAGES"

# Identity rules (Segment Unify's identity resolution: a limit per identifier type, blocked values
# that never merge). Values client libraries send by mistake for "no id"; compared case-folded.
DEFAULT_BLOCKED_IDS = frozenset(
    {"", "null", "undefined", "0", "-1", "anonymous", "none", "nil", "unknown", "n/a", "guest",
     "[object object]"}
)  # fmt: skip

PLAN_MODES = ("warn", "block")  # what a tracking-plan violation does: recorded + kept, or kept only

# -- AWS client configurations -----------------------------------------------------------------
# Ingest: Segment allows 5 s per message: fail fast and let Segment (or EventBridge, or SQS) retry.
INGEST_DYNAMODB = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=1, read_timeout=2
)
# The hand-off happens after DynamoDB already used part of Segment's 5 s: short timeouts again.
HANDOFF_SQS = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=1, read_timeout=1
)
# Read API: an app waits on this call; answer or fail within a few seconds rather than retry long.
READ_DYNAMODB = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=1, read_timeout=2
)
# Backfill (an operator's machine reading the S3 archive and filling the buffer queue): nobody
# waits on one call, so retry throttling long (adaptive: the client slows itself down) and let a
# streamed S3 object take its time.
BACKFILL_AWS = Config(
    retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=5, read_timeout=60
)


def aws_client(service: str, config: Config) -> Any:
    """A low-level client with boto3's standard configuration chain (region, credentials,
    ``AWS_ENDPOINT_URL``), made with botocore directly: ``import boto3`` also imports s3transfer,
    ~150 ms of every cold start for nothing the functions use."""
    import botocore.session

    return botocore.session.get_session().create_client(service, config=config)


class ConfigError(ValueError):
    """A missing or malformed setting; the message names the environment variable."""


def _table(env: Mapping[str, str], what: str) -> str:
    table = env.get(TABLE, "").strip()
    if not table:
        raise ConfigError(f"{TABLE} is not set: the DynamoDB table the {what}")
    return table


@dataclass(frozen=True)
class Settings:
    """The ingest function's settings (direct and batch functions alike).

    ``trackers`` is the raw ``SEGMENT_USAGE_TRACKERS`` text (``all``, empty or a JSON list),
    parsed by ``ingest.trackers.Trackers.parse`` when the processor is built.
    """

    table: str
    trackers: str | None = None
    tracking_plan_json: str | None = None  # inline plan (small plans, local use)
    tracking_plan_sha256: str | None = None  # plan stored in the table (any size)
    tracking_plan_mode: str = "warn"
    rejected_retention_days: int = 90
    metrics_namespace: str = "SegmentUsage"
    buffer_queue_url: str | None = None  # where the direct path hands off what it cannot record
    max_users_per_anonymous_id: int = 1  # how many userIds one anonymousId may link to
    blocked_ids: frozenset[str] = DEFAULT_BLOCKED_IDS  # ids that never identify anyone
    engage_space_ids: frozenset[str] = frozenset()  # Engage spaces whose tracks may set traits
    accept: frozenset[str] | None = None  # None: every kind (local use, operator commands)
    partner_sources: frozenset[str] | None = None  # None: any aws.partner/segment.com/ source
    queue_arns: frozenset[str] | None = None  # None: any queue
    eventbridge_qualifier: str | None = None
    delete_messages: bool = False
    data_retention_days: int | None = None  # None: users never expire

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check the variables; raises ConfigError naming the variable."""
        env = os.environ if env is None else env
        table = _table(env, "handler records into")
        mode = env.get(TRACKING_PLAN_MODE, "warn").strip() or "warn"
        if mode not in PLAN_MODES:
            raise ConfigError(f"{TRACKING_PLAN_MODE}: {mode!r} is not one of {list(PLAN_MODES)}")
        retention = env.get(REJECTED_RETENTION_DAYS, "90").strip() or "90"
        if not retention.isdigit() or not 1 <= int(retention) <= 3650:
            raise ConfigError(
                f"{REJECTED_RETENTION_DAYS}: {retention!r} is not a whole number 1..3650"
            )
        return cls(
            table=table,
            trackers=env.get(TRACKERS),
            tracking_plan_json=env.get(TRACKING_PLAN) or None,
            tracking_plan_sha256=(env.get(TRACKING_PLAN_SHA256) or "").strip().lower() or None,
            tracking_plan_mode=mode,
            rejected_retention_days=int(retention),
            metrics_namespace=env.get(METRICS_NAMESPACE, "").strip() or "SegmentUsage",
            buffer_queue_url=_queue_url(env.get(BUFFER_QUEUE_URL)),
            max_users_per_anonymous_id=_whole(env, MAX_USERS_PER_ANONYMOUS_ID, 1, 1, 100),
            blocked_ids=_id_list(env, BLOCKED_IDS, DEFAULT_BLOCKED_IDS),
            engage_space_ids=_id_list(env, ENGAGE_SPACE_IDS, frozenset()),
            accept=_accept(env),
            partner_sources=_strings(env, PARTNER_SOURCES),
            queue_arns=_strings(env, QUEUE_ARNS),
            eventbridge_qualifier=env.get(EVENTBRIDGE_QUALIFIER, "").strip() or None,
            delete_messages=_flag(env, DELETE_MESSAGES),
            data_retention_days=(
                _whole(env, DATA_RETENTION_DAYS, 0, MIN_DATA_RETENTION_DAYS, 3650)
                if (env.get(DATA_RETENTION_DAYS) or "").strip()
                else None
            ),
        )


@dataclass(frozen=True)
class ReadSettings:
    """The read API function's settings: its table and the segment definitions' sha256."""

    table: str
    segments_sha256: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReadSettings:
        env = os.environ if env is None else env
        return cls(
            table=_table(env, "read API reads"),
            segments_sha256=(env.get(SEGMENTS_SHA256) or "").strip().lower() or None,
        )


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name, "").strip() or str(default)
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"{name}: {text!r} is not a whole number {low}..{high}")
    return int(text)


def _id_list(env: Mapping[str, str], name: str, default: frozenset[str]) -> frozenset[str]:
    """A JSON list of ids (case-folded, empty allowed), or ``default`` when it is unset."""
    values = _strings(env, name, allow_empty=True)
    return default if values is None else frozenset(v.strip().casefold() for v in values)


def _strings(env: Mapping[str, str], name: str, allow_empty: bool = False) -> frozenset[str] | None:
    """A JSON list of strings as given, or None when the variable is unset."""
    text = env.get(name)
    if text is None or not text.strip():
        return None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}: not a JSON list of strings ({exc.msg})") from exc
    if not isinstance(values, list) or not all(
        isinstance(v, str) and (v or allow_empty) for v in values
    ):
        raise ConfigError(f"{name}: expected a JSON list of non-empty strings")
    return frozenset(values)


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower() or "false"
    if text not in ("true", "false"):
        raise ConfigError(f"{name}: {text!r} is not true or false")
    return text == "true"


def _accept(env: Mapping[str, str]) -> frozenset[str] | None:
    kinds = _strings(env, ACCEPT)
    if kinds is not None and not kinds <= set(ACCEPT_KINDS):
        raise ConfigError(f"{ACCEPT}: {sorted(kinds)} is not a list among {list(ACCEPT_KINDS)}")
    return kinds


def _queue_url(value: str | None) -> str | None:
    url = (value or "").strip()
    if url and not url.startswith(("https://", "http://")):
        raise ConfigError(f"{BUFFER_QUEUE_URL}: {url!r} is not an SQS queue URL (https://...)")
    return url or None
