"""Which page, screen and track messages become usage traits, and under which trait name."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

USAGE_TYPES = ("track", "page", "screen")
MAX_TRAIT_BYTES = 100  # bounds the growth of a day bucket per message (see ledger.MAX_INCREMENT)
_TRAIT = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def snake_case(name: str) -> str:
    """``"Order Completed"`` and ``"orderCompleted"`` -> ``order_completed``; at most 100 bytes."""
    words = _NON_WORD.sub("_", _CAMEL.sub("_", name).lower()).strip("_") or "unnamed"
    if not words[0].isalpha():
        words = f"t_{words}"
    if len(words) > MAX_TRAIT_BYTES:
        digest = hashlib.blake2b(name.encode("utf-8"), digest_size=4).hexdigest()
        words = f"{words[: MAX_TRAIT_BYTES - 9].rstrip('_')}_{digest}"
    return words


def subject_name(message: dict[str, Any]) -> str | None:
    """What a usage message is tracked by: its event, page name (or category), or screen name."""
    if message["type"] == "track":
        return message["event"]
    return message.get("name") or message.get("category") or None


@lru_cache(maxsize=4096)  # event names repeat: compute each trait name once per container
def default_trait(call_type: str, name: str | None) -> str:
    if call_type == "track":
        return snake_case(name or "")
    if not name:
        return f"{call_type}_view"
    return snake_case(f"{call_type} {name}")


@dataclass(frozen=True)
class Tracker:
    type: str
    name: str
    trait: str


class Trackers:
    """``all`` (every usage message, default trait names) or an explicit list of trackers."""

    def __init__(self, trackers: list[Tracker] | None) -> None:
        self.track_all = trackers is None
        self._by_key = {(t.type, t.name): t.trait for t in trackers or []}

    @classmethod
    def parse(cls, text: str | None) -> Trackers:
        """Parse ``SEGMENT_USAGE_TRACKERS``: ``all`` / empty, or a JSON list of tracker objects."""
        if text is None or text.strip() in ("", "all"):
            return cls(None)
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"SEGMENT_USAGE_TRACKERS: not 'all' nor valid JSON: {exc}") from exc
        if not isinstance(items, list):
            raise ValueError("SEGMENT_USAGE_TRACKERS: expected 'all' or a JSON list of trackers")
        trackers = []
        for i, item in enumerate(items):
            where = f"SEGMENT_USAGE_TRACKERS[{i}]"
            if not isinstance(item, dict) or item.get("type") not in USAGE_TYPES:
                raise ValueError(f"{where}.type: expected one of {list(USAGE_TYPES)}")
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{where}.name: expected a non-empty string")
            trait = item.get("trait") or default_trait(item["type"], name)
            if not _TRAIT.match(trait):
                raise ValueError(f"{where}.trait: {trait!r} must match {_TRAIT.pattern}")
            trackers.append(Tracker(item["type"], name, trait))
        return cls(trackers)

    def trait_for(self, message: dict[str, Any]) -> str | None:
        """The usage trait a valid message counts towards, or None if it is not tracked."""
        call_type = message["type"]
        if call_type not in USAGE_TYPES:
            return None
        if self.track_all:
            return default_trait(call_type, subject_name(message))
        if call_type == "page":  # a page tracker may name the page or its category
            for key in (message.get("name"), message.get("category")):
                if key and (call_type, key) in self._by_key:
                    return self._by_key[(call_type, key)]
            return None
        return self._by_key.get((call_type, subject_name(message) or ""))
