"""One structured log line per invocation, and CloudWatch EMF metrics by call type.

Nothing here prints a trait value, a property value, an email, a name or an IP: only counts,
messageIds, call types and the JSON paths of validation errors (never their messages, which can
quote the offending value).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

METRICS = {
    "accepted": "Accepted",
    "duplicate": "Duplicate",
    "rejected": "Rejected",
    "failed": "Failed",
}


def error_paths(errors: list[str]) -> list[str]:
    """``["properties.email: 'a@b.c' is not ..."]`` -> ``["properties.email"]`` (no values)."""
    return sorted({e.split(":", 1)[0] for e in errors})


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

    def log_line(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "level": "ERROR" if self.counts["failed"] else "INFO",
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

    def emf_documents(self, namespace: str, now_ms: int | None = None) -> list[dict[str, Any]]:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        documents = []
        for call_type, counts in sorted(self.by_type.items()):
            document: dict[str, Any] = {
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
        for document in [self.log_line(), *self.emf_documents(namespace)]:
            out.write(json.dumps(document, separators=(",", ":")) + "\n")
        out.flush()
