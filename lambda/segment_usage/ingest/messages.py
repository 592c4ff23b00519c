"""A valid Segment message reduced to what recording needs: ids, time, and its effects.

Engage (Segment docs, "Engage destinations" / "Computed traits"): audiences and computed traits
reach a destination in three shapes, all recognised here:

- an ``identify`` whose ``traits`` hold the audience key (``true``/``false``) or the computed
  trait's value (Engage sets ``"sentAt": null`` on these; a null counts as absent);
- a ``track`` "Audience Entered" / "Audience Exited" whose key is in ``properties.audience_key``,
  or only in ``context.personas.computation_key`` (``computation_class`` "audience"), the value
  in ``properties[<key>]`` when present, else true/false by the event;
- a ``track`` "Trait Computed" whose key is in ``properties.trait_key`` or
  ``context.personas.computation_key``, the value in ``properties[<key>]``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ..table.keys import anonymous_pk, message_hash, user_pk
from .text import is_text
from .timestamps import EventTime, event_time
from .trackers import Trackers, subject_name

ENGAGE_AUDIENCE_EVENTS = {"Audience Entered": True, "Audience Exited": False}
ENGAGE_TRAIT_EVENT = "Trait Computed"


def trait_json(value: Any) -> str:
    """Canonical JSON of a trait value, so equal values compare equal as strings. A value holding
    a lone surrogate (not Unicode text) is stored JSON-escaped, which reads back the same."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text


def _traits(value: Any) -> dict[str, str]:
    """Name -> canonical JSON of an identify's or group's ``traits`` (not an object: none; a key
    that is not Unicode text is left out: the Spec check warned of both)."""
    if not isinstance(value, dict):
        return {}
    return {k: trait_json(v) for k, v in value.items() if isinstance(k, str) and is_text(k)}


# Treated as immutable, but not frozen: a frozen dataclass's __init__ costs ~4 us per message on
# the hot path (object.__setattr__ per field), ~7x a plain slotted one.
@dataclass(slots=True)
class Message:
    message_id: str
    hash: bytes
    type: str
    subject: str  # userId when present, else anonymousId
    pk: str  # the partition its usage lands in: the user's (U#), else the anonymous id's (A#)
    user_id: str | None
    anonymous_id: str | None
    ts_ms: int
    day: str  # UTC date of the message timestamp (yyyy-mm-dd)
    usage_trait: str | None = None  # the first of ``usage`` (the catalog names it)
    # every (usage trait, amount in micros or None) it counts towards (ingest/trackers.py)
    usage: tuple[tuple[str, int | None], ...] = ()
    catalog: tuple[str, str] | None = None  # (call type, name) for the event catalog
    traits: dict[str, str] = field(default_factory=dict)  # user (or group) trait -> JSON
    group_id: str | None = None
    link_from: str | None = None  # an anonymous/previous id to link under user_id

    @classmethod
    def from_valid(
        cls,
        message: dict[str, Any],
        trackers: Trackers,
        when: EventTime | None = None,
        blocked: frozenset[str] = frozenset(),
        engage_spaces: frozenset[str] | None = None,
    ) -> Message:
        """Build from a message that passed the Spec check (``spec.check_spec``), recorded at
        ``when`` (default: ``timestamps.event_time`` of it now; raises NoUsableTime).

        ``blocked``: id values that identify nobody (``settings.DEFAULT_BLOCKED_IDS``): such a
        userId or anonymousId counts as absent and never links. ``engage_spaces``: the Engage
        spaces whose tracks may set traits (None: any); see ``engage_traits``.
        """
        when = when or event_time(message, int(time.time() * 1000))
        user_id = identity(message.get("userId"), blocked)
        anonymous_id = identity(message.get("anonymousId"), blocked)
        call_type = message["type"]
        traits: dict[str, str] = {}
        catalog = None
        link_from = None
        group_id = None
        if call_type in ("track", "page", "screen"):
            catalog = (call_type, subject_name(message) or "")
        if call_type == "identify":
            traits = _traits(message.get("traits"))
            if user_id and anonymous_id and anonymous_id != user_id:
                link_from = anonymous_id
        elif call_type == "track":
            traits = engage_traits(message, engage_spaces)
        elif call_type == "group":
            group_id = str(message["groupId"])
            traits = _traits(message.get("traits"))
        elif call_type == "alias" and message["previousId"] != user_id:
            link_from = identity(message["previousId"], blocked)
        usage = trackers.uses_for(message)
        return cls(
            message_id=message["messageId"],
            hash=message_hash(message["messageId"]),
            type=call_type,
            subject=user_id or anonymous_id or "",
            pk=user_pk(user_id) if user_id else anonymous_pk(anonymous_id or ""),
            user_id=user_id,
            anonymous_id=anonymous_id,
            ts_ms=when.ts_ms,
            day=when.day,
            usage_trait=usage[0][0] if usage else None,
            usage=usage,
            catalog=catalog,
            traits=traits,
            group_id=group_id,
            link_from=link_from,
        )


def _engage_key(message: dict[str, Any], props: dict[str, Any], field: str, kind: str) -> Any:
    """The audience or computed-trait key: ``properties[field]``, else Engage's
    ``context.personas.computation_key`` when ``computation_class`` says ``kind`` (or is absent)."""
    key = props.get(field)
    if isinstance(key, str) and key:
        return key
    context = message.get("context")
    personas = context.get("personas") if isinstance(context, dict) else None
    if not isinstance(personas, dict):
        return None
    key = personas.get("computation_key")
    klass = personas.get("computation_class")
    if isinstance(key, str) and key and (klass is None or kind in str(klass).lower()):
        return key
    return None


def identity(value: Any, blocked: frozenset[str]) -> str | None:
    """An id as recording uses it: None when absent, empty or a blocked value."""
    if not isinstance(value, str) or not value or value.strip().casefold() in blocked:
        return None
    return value


def engage_space(message: dict[str, Any]) -> str | None:
    """``context.personas.space_id``: the Engage space a message says it comes from."""
    context = message.get("context")
    personas = context.get("personas") if isinstance(context, dict) else None
    space = personas.get("space_id") if isinstance(personas, dict) else None
    return space if isinstance(space, str) else None


def engage_traits(
    message: dict[str, Any], engage_spaces: frozenset[str] | None = None
) -> dict[str, str]:
    """Engage's "Audience Entered/Exited" and "Trait Computed" tracks set a trait, like identify,
    but only when they carry Engage's mark: ``context.personas.space_id`` in ``engage_spaces``
    (None: any). Anyone with a write key can send a track named "Trait Computed"; without the
    mark it counts as usage only, and the trait it names is left as it is."""
    if engage_spaces is not None and (engage_space(message) or "").casefold() not in engage_spaces:
        return {}
    props = message.get("properties")
    props = props if isinstance(props, dict) else {}
    event = message["event"]
    if event in ENGAGE_AUDIENCE_EVENTS:
        key = _engage_key(message, props, "audience_key", "audience")
        if key is not None and is_text(key):
            return {key: trait_json(props.get(key, ENGAGE_AUDIENCE_EVENTS[event]))}
    elif event == ENGAGE_TRAIT_EVENT:
        key = _engage_key(message, props, "trait_key", "trait")
        if key is not None and key in props and is_text(key):
            return {key: trait_json(props[key])}
    return {}
