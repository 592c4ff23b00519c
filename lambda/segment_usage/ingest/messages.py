"""A valid Segment message reduced to what recording needs: ids, time, and its effects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..table.keys import message_hash
from .spec import TIMESTAMP_FIELDS, parse_timestamp_ms
from .trackers import Trackers, subject_name

ENGAGE_AUDIENCE_EVENTS = {"Audience Entered": True, "Audience Exited": False}
ENGAGE_TRAIT_EVENT = "Trait Computed"


def trait_json(value: Any) -> str:
    """Canonical JSON of a trait value, so equal values compare equal as strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Treated as immutable, but not frozen: a frozen dataclass's __init__ costs ~4 us per message on
# the hot path (object.__setattr__ per field), ~7x a plain slotted one.
@dataclass(slots=True)
class Message:
    message_id: str
    hash: bytes
    type: str
    subject: str  # userId when present, else anonymousId: the partition its usage lands in
    user_id: str | None
    anonymous_id: str | None
    ts_ms: int
    day: str  # UTC date of the message timestamp (yyyy-mm-dd)
    usage_trait: str | None = None
    catalog: tuple[str, str] | None = None  # (call type, name) for the event catalog
    traits: dict[str, str] = field(default_factory=dict)  # user (or group) trait -> JSON
    group_id: str | None = None
    link_from: str | None = None  # an anonymous/previous id to link under user_id

    @classmethod
    def from_valid(cls, message: dict[str, Any], trackers: Trackers) -> Message:
        """Build from a message that passed ``validate_message``."""
        user_id = message.get("userId") or None
        anonymous_id = message.get("anonymousId") or None
        stamp = message.get("timestamp")
        if not isinstance(stamp, str):
            stamp = next(message[f] for f in TIMESTAMP_FIELDS if isinstance(message.get(f), str))
        ts_ms = parse_timestamp_ms(stamp)
        call_type = message["type"]
        traits: dict[str, str] = {}
        catalog = None
        link_from = None
        group_id = None
        if call_type in ("track", "page", "screen"):
            catalog = (call_type, subject_name(message) or "")
        if call_type == "identify":
            traits = {k: trait_json(v) for k, v in (message.get("traits") or {}).items()}
            if user_id and anonymous_id and anonymous_id != user_id:
                link_from = anonymous_id
        elif call_type == "track":
            traits = _engage_traits(message)
        elif call_type == "group":
            group_id = str(message["groupId"])
            traits = {k: trait_json(v) for k, v in (message.get("traits") or {}).items()}
        elif call_type == "alias" and message["previousId"] != user_id:
            link_from = message["previousId"]
        return cls(
            message_id=message["messageId"],
            hash=message_hash(message["messageId"]),
            type=call_type,
            subject=user_id or anonymous_id or "",
            user_id=user_id,
            anonymous_id=anonymous_id,
            ts_ms=ts_ms,
            day=_utc_day(stamp, ts_ms),
            usage_trait=trackers.trait_for(message),
            catalog=catalog,
            traits=traits,
            group_id=group_id,
            link_from=link_from,
        )


def _utc_day(stamp: str, ts_ms: int) -> str:
    """The UTC date of a timestamp: its own first 10 characters when it is in UTC already."""
    if stamp.endswith(("Z", "z", "+00:00")):
        return stamp[:10]
    return datetime.fromtimestamp(ts_ms / 1000, UTC).date().isoformat()  # strftime: 4x slower


def _engage_traits(message: dict[str, Any]) -> dict[str, str]:
    """Engage's "Audience Entered/Exited" and "Trait Computed" tracks set a trait, like identify."""
    props = message.get("properties") or {}
    event = message["event"]
    if event in ENGAGE_AUDIENCE_EVENTS and isinstance(props.get("audience_key"), str):
        key = props["audience_key"]
        value = props.get(key, ENGAGE_AUDIENCE_EVENTS[event])
        return {key: trait_json(value)}
    if event == ENGAGE_TRAIT_EVENT and isinstance(props.get("trait_key"), str):
        key = props["trait_key"]
        if key in props:
            return {key: trait_json(props[key])}
    return {}
