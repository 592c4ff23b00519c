"""Which time a message is recorded at: the one rule that decides its day, first/last seen and
windows. Pure (no I/O, no jsonschema).

Segment's own rule (segment-docs, "Timestamps, Time Zones and Clock Skew"): ``timestamp`` is the
client's ``originalTimestamp`` corrected for the client's clock skew,
``receivedAt - (sentAt - originalTimestamp)``; ``originalTimestamp`` and ``sentAt`` are passed
through as the client sent them (any format); ``receivedAt`` is Segment's server clock. So:

1. ``timestamp`` when it is an ISO-8601 date-time;
2. else Segment's correction, computed here, when ``receivedAt``, ``sentAt`` and
   ``originalTimestamp`` all are;
3. else ``receivedAt`` (a server clock);
4. else ``originalTimestamp``, else ``sentAt`` (client clocks, uncorrected).

A time later than the reference clock (``receivedAt`` when usable, else the processing time) by
more than ``FUTURE_TOLERANCE_MS`` is a client clock running ahead: the message is recorded at the
reference instead, with a warning, so that it cannot sit in "the last 7 days" for months. A
message with no usable time at all cannot be placed on a day and is rejected. Malformed time
fields other than the one used are warnings, never rejections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TIMESTAMP_FIELDS = ("timestamp", "originalTimestamp", "receivedAt", "sentAt")
FUTURE_TOLERANCE_MS = 60 * 60 * 1000  # an hour of clock skew passes as it is

_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


class NoUsableTime(ValueError):
    """None of the four time fields is an ISO-8601 date-time; the message has no day."""


def parse_timestamp_ms(value: str) -> int:
    """Epoch milliseconds of an ISO-8601 string; a value without an offset is taken as UTC.

    Raises ValueError (not ISO-8601, or outside datetime's range) or OverflowError.
    """
    if not _ISO_DATETIME.match(value):
        raise ValueError("not an ISO-8601 date-time (expected YYYY-MM-DDTHH:MM...)")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _ms(message: dict[str, Any], name: str) -> int | None:
    value = message.get(name)
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp_ms(value)
    except (ValueError, OverflowError):
        return None


def utc_day(ts_ms: int) -> str:
    """The UTC date (yyyy-mm-dd) of epoch milliseconds."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).date().isoformat()


@dataclass(slots=True)
class EventTime:
    """When a message happened: epoch ms, its UTC day, the field it came from, and warnings."""

    ts_ms: int
    day: str
    source: str  # timestamp | corrected | receivedAt | originalTimestamp | sentAt
    warnings: list[str] = field(default_factory=list)


def event_time(message: dict[str, Any], now_ms: int) -> EventTime:
    """The time ``message`` is recorded at (rules in the module docstring); ``now_ms`` is the
    processing time, the reference when ``receivedAt`` is unusable. Raises NoUsableTime."""
    stamp = message.get("timestamp")
    ts = _ms(message, "timestamp")
    if ts is not None:
        source = "timestamp"
    else:
        received, sent, original = (
            _ms(message, "receivedAt"),
            _ms(message, "sentAt"),
            _ms(message, "originalTimestamp"),
        )
        if received is not None and sent is not None and original is not None:
            ts, source = received - (sent - original), "corrected"
        elif received is not None:
            ts, source = received, "receivedAt"
        elif original is not None:
            ts, source = original, "originalTimestamp"
        elif sent is not None:
            ts, source = sent, "sentAt"
        else:
            raise NoUsableTime(
                "timestamp: no usable time: timestamp, receivedAt, originalTimestamp and sentAt "
                "are all missing or not ISO-8601 date-times"
            )
    warnings = []
    reference = _ms(message, "receivedAt")
    reference = now_ms if reference is None else reference
    if ts > reference + FUTURE_TOLERANCE_MS:
        warnings.append(
            f"{source}: more than an hour after "
            f"{'receivedAt' if reference != now_ms else 'the time it was processed'}; "
            "recorded at that time instead (a client clock running ahead)"
        )
        ts = reference
        source = "receivedAt" if reference != now_ms else "processed"
    # The day of a UTC timestamp is its own first 10 characters: 4x faster than datetime.
    if source == "timestamp" and not warnings and stamp.endswith(("Z", "z", "+00:00")):
        day = stamp[:10]
    else:
        try:
            day = utc_day(ts)
        except (ValueError, OverflowError, OSError) as exc:
            raise NoUsableTime(f"{source}: outside the range of dates ({exc})") from exc
    return EventTime(ts, day, source, warnings)
