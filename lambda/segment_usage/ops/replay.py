"""``segment-usage replay``: kept messages (the rejected list) through validation and recording.

Dry by default: says what each kept message would become with today's schemas, tracking plan and
trackers (``ingest.check``). With ``apply``, records them through ``Processor.process``, the
handler's own call, so exactly once holds: a message recorded meanwhile counts as a duplicate, and
replaying twice counts once. What records (or turns out already recorded) leaves the rejected
list; what is still rejected stays, with its original reasons; a transient failure stays and is
reported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..ingest.check import check
from ..ingest.envelopes import unwrap
from ..process import DUPLICATE, FAILED, REJECTED, Processor
from ..table.errors import AWS_ERRORS, error_text
from ..table.rejected import Kept, delete_kept, list_kept


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


def kept_messages(processor: Processor, filters: Filters) -> Iterator[Kept]:
    """The kept messages (not the plan warnings) that ``filters`` match."""
    for kept in list_kept(processor.store.client, processor.store.table):
        if filters.match(kept):
            yield kept


def _parse(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # unwrap reports it as not valid JSON


def _dry(processor: Processor, kept: Kept) -> Result:
    reasons: list[str] = []
    _, items = unwrap(_parse(kept.raw))
    now_ms = int(time.time() * 1000)
    for item in items:
        checked = check(item, processor.policy, now_ms)
        reasons += checked.errors
    if reasons:
        return Result(kept.message_id, kept.kind, kept.at, "still rejected", reasons)
    if kept.kind == "unrecordable":  # valid, but the table refused it: only a real run can tell
        last = [f"last time: {r}" for r in kept.reasons]
        return Result(kept.message_id, kept.kind, kept.at, "would retry", last)
    return Result(kept.message_id, kept.kind, kept.at, "would record")


def _apply(processor: Processor, kept: Kept) -> Result:
    processed = processor.process(_parse(kept.raw), keep_rejected=False, hand_off=False)
    outcomes = processed.outcomes
    failed = [e for o in outcomes if o.status == FAILED for e in o.errors]
    if failed:
        return Result(kept.message_id, kept.kind, kept.at, "failed", failed)
    rejected = [e for o in outcomes if o.status == REJECTED for e in o.errors]
    if rejected:
        return Result(kept.message_id, kept.kind, kept.at, "still rejected", rejected)
    try:  # recorded: off the rejected list
        delete_kept(processor.store.client, processor.store.table, kept)
    except AWS_ERRORS as error:
        reason = f"recorded, but still listed: {error_text(error)}"
        return Result(kept.message_id, kept.kind, kept.at, "failed", [reason])
    outcome = "duplicate" if all(o.status == DUPLICATE for o in outcomes) else "recorded"
    return Result(kept.message_id, kept.kind, kept.at, outcome)


def replay(processor: Processor, filters: Filters, apply: bool = False) -> list[Result]:
    """Each matching kept message, oldest first, dry (``apply`` False) or for real."""
    chosen = sorted(kept_messages(processor, filters), key=lambda k: k.at)
    return [(_apply if apply else _dry)(processor, kept) for kept in chosen]
