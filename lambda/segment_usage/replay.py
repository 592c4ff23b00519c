"""``segment-usage replay``: kept messages (the REJECTED list) through validation and recording.

Dry by default: says what each kept message would become with today's schemas, tracking plan and
trackers. With ``apply``, records them through the handler's own logic (``Runtime._check`` and the
Recorder), so exactly once holds: a message recorded meanwhile counts as a duplicate, and replaying
twice counts once. What records (or turns out already recorded) leaves the rejected list; what is
still rejected stays, with its original reasons; a transient failure stays and is reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .envelopes import unwrap
from .errors import AWS_ERRORS, error_text
from .handler import Runtime
from .keys import REJECTED_PK
from .messages import Message
from .validation import validate_message

KINDS = ("invalid", "blocked", "envelope", "unrecordable")


@dataclass
class Kept:
    """One item of the rejected list."""

    sk: str
    kind: str
    path: str
    at: str
    message_id: str | None
    reasons: list[str]
    raw: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Kept:
        return cls(
            sk=item["sk"]["S"],
            kind=item["kind"]["S"],
            path=item["path"]["S"],
            at=item["at"]["S"],
            message_id=item.get("message_id", {}).get("S"),
            reasons=[r["S"] for r in item["reasons"]["L"]],
            raw=item["raw"]["S"],
        )


@dataclass
class Filters:
    kinds: tuple[str, ...] = ()  # empty: every kind
    reason: str | None = None  # a case-insensitive substring of one of the reasons
    since: datetime | None = None
    until: datetime | None = None

    def match(self, kept: Kept) -> bool:
        if self.kinds and kept.kind not in self.kinds:
            return False
        if self.reason and not any(self.reason.lower() in r.lower() for r in kept.reasons):
            return False
        at = datetime.fromisoformat(kept.at)
        if self.since and at < self.since:
            return False
        return not (self.until and at >= self.until)


@dataclass
class Result:
    messageId: str | None  # the JSON output's field name
    kind: str
    at: str
    outcome: str  # would record | would retry | recorded | duplicate | still rejected | failed
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def kept_messages(runtime: Runtime, filters: Filters) -> Iterator[Kept]:
    client, table = runtime.store.client, runtime.store.table
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": REJECTED_PK}},
        "ConsistentRead": True,
    }
    while True:
        page = client.query(**kwargs)
        for item in page.get("Items", []):
            kept = Kept.from_item(item)
            if filters.match(kept):
                yield kept
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _parse(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # unwrap reports it as not valid JSON


def _dry(runtime: Runtime, kept: Kept) -> Result:
    reasons: list[str] = []
    _, items = unwrap(_parse(kept.raw))
    for item in items:
        errors = [item.error] if item.error else validate_message(item.payload)
        if not errors and runtime.plan and runtime.settings.tracking_plan_mode == "block":
            errors = runtime.plan.violations(item.payload)
        reasons += errors
    if reasons:
        return Result(kept.message_id, kept.kind, kept.at, "still rejected", reasons)
    if kept.kind == "unrecordable":  # valid, but the table refused it: only a real run can tell
        last = [f"last time: {r}" for r in kept.reasons]
        return Result(kept.message_id, kept.kind, kept.at, "would retry", last)
    return Result(kept.message_id, kept.kind, kept.at, "would record")


def _apply(runtime: Runtime, kept: Kept) -> Result:
    _, items = unwrap(_parse(kept.raw))
    messages: list[Message] = []
    reasons: list[str] = []
    for item in items:
        message, errors, kind = runtime._check(item)  # the handler's own checks
        if message is None:
            reasons += errors
            if kind == "failed":
                return Result(kept.message_id, kept.kind, kept.at, "failed", errors)
        else:
            messages.append(message)
    if reasons:
        return Result(kept.message_id, kept.kind, kept.at, "still rejected", reasons)
    outcomes = runtime.recorder.record(messages)
    failed = [o.error or "" for o in outcomes if o.status == "failed"]
    if failed:
        return Result(kept.message_id, kept.kind, kept.at, "failed", failed)
    permanent = [o.error or "" for o in outcomes if o.status == "unrecordable"]
    if permanent:
        return Result(kept.message_id, kept.kind, kept.at, "still rejected", permanent)
    try:  # recorded: off the rejected list
        runtime.store.client.delete_item(
            TableName=runtime.store.table, Key={"pk": {"S": REJECTED_PK}, "sk": {"S": kept.sk}}
        )
    except AWS_ERRORS as error:
        reason = f"recorded, but still listed: {error_text(error)}"
        return Result(kept.message_id, kept.kind, kept.at, "failed", [reason])
    outcome = "duplicate" if all(o.status == "duplicate" for o in outcomes) else "recorded"
    return Result(kept.message_id, kept.kind, kept.at, outcome)


def replay(runtime: Runtime, filters: Filters, apply: bool = False) -> list[Result]:
    """Each matching kept message, oldest first, dry (``apply`` False) or for real."""
    chosen = sorted(kept_messages(runtime, filters), key=lambda k: k.at)
    return [(_apply if apply else _dry)(runtime, kept) for kept in chosen]
