"""The three ways a Segment message reaches the handler, unwrapped into one shape.

- direct: Segment's Amazon Lambda destination invokes with one raw Segment message;
- eventbridge: an EventBridge event from the partner source ``aws.partner/segment.com/<id>``,
  the message in ``detail``;
- sqs: an SQS event whose record bodies are such EventBridge events (the buffered path).

What a function accepts is decided by its deployment (``Accept``), never by the payload alone: a
Segment message anyone can send with the write key may carry a top-level ``Records`` array or
``source``/``detail-type``/``detail``; on a function that accepts only Segment messages it is
that message (unknown fields and all), never an envelope of other people's messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PARTNER_SOURCE_PREFIX = "aws.partner/segment.com/"
DIRECT, EVENTBRIDGE, SQS = "direct", "eventbridge", "sqs"
MAX_ARRAY_ITEMS = 100  # a JSON array of events in one invocation (neither Segment nor EventBridge
# sends one: a person or a script does). Each element is handled as if it came alone. The elements
# of a longer array are kept one by one (kind "limit"), so one invocation stays within Segment's
# 5 s and ``segment-usage replay --kind limit`` records every one of them later.
LIMIT = "limit"  # the rejection kind of what this product deferred by its own limit
SEGMENT = "segment"  # what ``Accept.kinds`` names: raw Segment messages (and arrays of them)


@dataclass(frozen=True)
class Accept:
    """What one function takes, from its deployment (``settings``): ``kinds`` among segment,
    eventbridge and sqs; the partner ``sources`` its EventBridge events may come from and the
    ``queues`` (ARNs) its SQS records may come from (None: any)."""

    kinds: frozenset[str] = frozenset({SEGMENT, EVENTBRIDGE, SQS})
    sources: frozenset[str] | None = None
    queues: frozenset[str] | None = None

    def source_error(self, source: Any) -> str | None:
        if not isinstance(source, str) or not source.startswith(PARTNER_SOURCE_PREFIX):
            return (
                f"source: {source!r} is not a Segment partner source ({PARTNER_SOURCE_PREFIX}<id>)"
            )
        if self.sources is not None and source not in self.sources:
            return "source: not a partner source this deployment accepts"
        return None


ANY = Accept()


# Treated as immutable, but not frozen: a frozen dataclass's __init__ is several times slower
# (object.__setattr__ per field), on every message.
@dataclass(slots=True)
class Incoming:
    path: str  # how it came: direct | eventbridge | sqs
    payload: Any  # the candidate Segment message (None when the envelope was unusable)
    original: Any  # what to keep if it is rejected (serialised only then: see ``raw``)
    error: str | None = None  # why the envelope itself is unusable
    record_id: str | None = None  # SQS messageId, for batchItemFailures
    kind: str | None = None  # the rejection kind when ``error`` is set (default: envelope)

    @property
    def raw(self) -> str:
        return _raw(self.original)


def _raw(value: Any) -> str:
    """The text to keep: compact JSON, UTF-8 where it can be, JSON-escaped where it holds text
    that is not Unicode (a lone surrogate), so that replay reads back exactly what came."""
    if isinstance(value, str):
        return value
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _is_eventbridge(value: Any) -> bool:
    return isinstance(value, dict) and "detail-type" in value and "source" in value


def _is_segment(value: Any) -> bool:
    return isinstance(value, dict) and ("type" in value or "messageId" in value)


def _from_eventbridge(
    event: dict[str, Any], path: str, accept: Accept, record_id: str | None = None
) -> Incoming:
    error = accept.source_error(event.get("source"))
    if error is not None:
        return Incoming(path, None, event, error, record_id)
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return Incoming(path, None, event, "detail: expected the Segment message object", record_id)
    return Incoming(path, detail, detail, None, record_id)


def _from_sqs_record(record: Any, accept: Accept) -> Incoming:
    if not isinstance(record, dict) or not isinstance(record.get("messageId"), str):
        return Incoming(SQS, None, record, "Records[]: not an SQS record (no messageId)")
    record_id = record["messageId"]
    if accept.queues is not None and record.get("eventSourceARN") not in accept.queues:
        error = "eventSourceARN: not a queue this deployment accepts"
        return Incoming(SQS, None, record.get("body"), error, record_id)
    body = record.get("body")
    try:
        value = json.loads(body) if isinstance(body, str) else None
    except json.JSONDecodeError as exc:
        return Incoming(
            SQS, None, body, f"body: not valid JSON ({exc.msg} at {exc.pos})", record_id
        )
    if _is_eventbridge(value):
        return _from_eventbridge(value, SQS, accept, record_id)
    if _is_segment(value):  # a raw message sent to the queue by another producer
        return Incoming(SQS, value, body, None, record_id)
    error = (
        "envelope: expected a Segment message, or an EventBridge event from a Segment partner "
        f"source, in the SQS record body; got {_describe(value)}"
    )
    return Incoming(SQS, None, body, error, record_id)


def unwrap(event: Any, accept: Accept = ANY) -> tuple[str, list[Incoming]]:
    """(path, items): the path the invocation came by and each candidate message in it, among
    the kinds of envelope ``accept`` allows."""
    if SQS in accept.kinds and isinstance(event, dict) and isinstance(event.get("Records"), list):
        records = event["Records"]
        if records and all(
            isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records
        ):
            return SQS, [_from_sqs_record(r, accept) for r in records]
    if EVENTBRIDGE in accept.kinds and _is_eventbridge(event):
        return EVENTBRIDGE, [_from_eventbridge(event, EVENTBRIDGE, accept)]
    if SEGMENT not in accept.kinds:
        return DIRECT, [
            Incoming(
                DIRECT, None, event,
                f"envelope: this invocation takes {' and '.join(sorted(accept.kinds)) or 'nothing'}"
                f" only; got {_describe(event)}",
            )
        ]  # fmt: skip
    if isinstance(event, str):  # a payload that was a JSON string rather than an object
        try:
            event = json.loads(event)
        except json.JSONDecodeError as exc:
            return DIRECT, [
                Incoming(DIRECT, None, event, f"message: not valid JSON ({exc.msg} at {exc.pos})")
            ]
        if EVENTBRIDGE in accept.kinds and _is_eventbridge(event):
            return EVENTBRIDGE, [_from_eventbridge(event, EVENTBRIDGE, accept)]
    if isinstance(event, list):
        return _from_array(event, accept)
    if _is_segment(event):
        return DIRECT, [Incoming(DIRECT, event, event)]
    return DIRECT, [
        Incoming(
            DIRECT, None, event,
            "envelope: expected a Segment message (with type and messageId), an EventBridge event "
            f"from a Segment partner source, or an SQS event; got {_describe(event)}",
        )
    ]  # fmt: skip


def _from_array(events: list[Any], accept: Accept) -> tuple[str, list[Incoming]]:
    """A JSON array of EventBridge events or Segment messages: each one, as if it came alone."""
    if not events:
        return DIRECT, [Incoming(DIRECT, None, events, "envelope: an empty JSON array")]
    if len(events) > MAX_ARRAY_ITEMS:
        error = (
            f"envelope: element {{n}} of a JSON array of {len(events)} events, over the "
            f"{MAX_ARRAY_ITEMS} one invocation handles; kept whole, to record with "
            "segment-usage replay --kind limit"
        )
        return DIRECT, [
            Incoming(DIRECT, element, element, error.format(n=n), kind=LIMIT)
            for n, element in enumerate(events)
        ]
    items = []
    for n, element in enumerate(events):
        if EVENTBRIDGE in accept.kinds and _is_eventbridge(element):
            items.append(_from_eventbridge(element, EVENTBRIDGE, accept))
        elif _is_segment(element):
            items.append(Incoming(DIRECT, element, element))
        else:
            error = (
                f"[{n}]: expected an EventBridge event from a Segment partner source or a Segment "
                f"message; got {_describe(element)}"
            )
            items.append(Incoming(DIRECT, None, element, error))
    path = EVENTBRIDGE if all(item.path == EVENTBRIDGE for item in items) else DIRECT
    return path, items


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = sorted(map(str, value))[:8]
        return f"an object with keys {keys}"
    return f"a JSON {type(value).__name__}"
