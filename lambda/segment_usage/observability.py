"""One structured log line per invocation, and CloudWatch EMF metrics by call type.

Nothing here prints a trait value, a property value, an email, a name or an IP, nor a key a sender
chose: only counts, messageIds, call types and the top-level field of each validation error (never
its message, which can quote the offending value, nor the rest of its path).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

METRICS = {
    "accepted": "Accepted",
    "duplicate": "Duplicate",
    "rejected": "Rejected",
    "failed": "Failed",
    "buffered": "Buffered",  # direct path: handed off to the buffer queue (handoff.py)
    "plan_error": "PlanErrors",  # the tracking plan could not be applied (ingest/check.py)
    "suppressed": "Suppressed",  # for a person whose data was erased: dropped (record/erasure.py)
    "erased": "Erased",  # delete messages carried out
}


# Lambda's levels, lowest first. With the JSON log format and an application log level, Lambda drops
# every JSON line whose "level" ranks below the configured one, and a line without a valid "level"
# and RFC 3339 "timestamp" counts as INFO: so every line carries both.
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
LOG_LEVEL_ENV = "AWS_LAMBDA_LOG_LEVEL"  # set by Lambda to the function's application log level


def metrics_level(env: Any = None) -> str:
    """The level of EMF lines: the configured level, never below INFO.

    Metrics are not events of a severity: they must reach CloudWatch whatever level the operator
    picked, or the alarms built on them go blind at WARN or ERROR. A line at exactly the configured
    level always passes Lambda's filter, so metric lines take that level (INFO when none is set).
    """
    configured = (env if env is not None else os.environ).get(LOG_LEVEL_ENV, "").upper()
    if configured not in LEVELS or LEVELS.index(configured) < LEVELS.index("INFO"):
        return "INFO"
    return configured


def rfc3339(now_ms: int) -> str:
    """``2026-11-22T10:00:00.123Z``: the timestamp form Lambda's JSON log format accepts."""
    moment = datetime.fromtimestamp(now_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_FIELD_END = re.compile(r"[.\[{:]")


def error_paths(errors: list[str]) -> list[str]:
    """The top-level fields of errors: ``["traits.jane@example.com: 1 is not ..."]`` ->
    ``["traits"]``. Only the first segment: every later one is a key the sender chose (a trait,
    a property), and a key can be personal data, so neither keys nor values reach a log."""
    return sorted({_FIELD_END.split(e, 1)[0] or "message" for e in errors})


@dataclass
class InvocationSummary:
    path: str
    request_id: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    by_type: dict[str, Counter[str]] = field(default_factory=dict)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    catalog_drift: int = 0

    def add(
        self, status: str, call_type: Any, message_id: Any, errors: list[str] | None = None
    ) -> None:
        kind = call_type if isinstance(call_type, str) and len(call_type) <= 20 else "unknown"
        self.counts[status] += 1
        self.by_type.setdefault(kind, Counter())[status] += 1
        mid = message_id if isinstance(message_id, str) else None
        if status == "rejected":
            self.rejections.append({"messageId": mid, "fields": error_paths(errors or [])})
        elif status == "failed":
            self.failures.append({"messageId": mid, "error": (errors or ["unknown"])[0]})

    def add_plan_error(self, call_type: Any) -> None:
        """Count a message the tracking plan could not be applied to (its own metric, alarmed)."""
        kind = call_type if isinstance(call_type, str) and len(call_type) <= 20 else "unknown"
        self.counts["plan_error"] += 1
        self.by_type.setdefault(kind, Counter())["plan_error"] += 1

    def level(self) -> str:
        """ERROR when work was not done (a retry follows); WARN when messages were rejected, or
        handed off to the buffer queue because recording failed (they are safe, DynamoDB is not)."""
        if self.counts["failed"] or self.counts["plan_error"]:
            return "ERROR"
        return "WARN" if self.counts["rejected"] or self.counts["buffered"] else "INFO"

    def log_line(self, now_ms: int | None = None) -> dict[str, Any]:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        line: dict[str, Any] = {
            "level": self.level(),
            "timestamp": rfc3339(now_ms),
            "message": "segment-usage invocation",
            "path": self.path,
            "requestId": self.request_id,
            **{status: self.counts[status] for status in METRICS},
        }
        if self.rejections:
            line["rejections"] = self.rejections[:20]
        if self.failures:
            line["failures"] = self.failures[:20]
        if self.catalog_drift:
            line["catalogDrift"] = self.catalog_drift
        return line

    def emf_documents(
        self, namespace: str, now_ms: int | None = None, level: str | None = None
    ) -> list[dict[str, Any]]:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        level = level or metrics_level()
        documents = []
        for call_type, counts in sorted(self.by_type.items()):
            document: dict[str, Any] = {
                # EMF ignores these two members; Lambda's level filter reads them.
                "level": level,
                "timestamp": rfc3339(now_ms),
                "_aws": {
                    "Timestamp": now_ms,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": namespace,
                            "Dimensions": [["CallType"]],
                            "Metrics": [
                                {"Name": name, "Unit": "Count"} for name in METRICS.values()
                            ],
                        }
                    ],
                },
                "CallType": call_type,
            }
            document.update({name: counts[status] for status, name in METRICS.items()})
            documents.append(document)
        return documents

    def emit(self, namespace: str, stream: TextIO | None = None) -> None:
        out = stream or sys.stdout
        now_ms = int(time.time() * 1000)
        for document in [self.log_line(now_ms), *self.emf_documents(namespace, now_ms)]:
            out.write(json.dumps(document, separators=(",", ":")) + "\n")
        out.flush()
