"""Which page, screen and track messages become usage traits, and under which trait name."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

USAGE_TYPES = ("track", "page", "screen")
MAX_TRAIT_BYTES = 100  # bounds the growth of a day bucket per message (see ledger.MAX_INCREMENT)
_TRAIT = re.compile(r"^[a-z][a-z0-9_]{0,99}$")  # what an explicit tracker's trait must match
_ASCII_KEPT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ZWJ = "\u200d"  # joins emoji sequences: part of the name, not a separator


def _kept(char: str) -> bool:
    """Whether a (normalised, case-folded) character is part of a trait name rather than a
    separator. ASCII: letters and digits only (today's names). Beyond ASCII: letters, marks,
    numbers and symbols of every script (Unicode categories L, M, N, S: 注, é, ६, 🍔), the
    zero-width joiner of emoji sequences; spaces, punctuation and controls separate."""
    if char < "\x80":
        return char in _ASCII_KEPT
    return char == _ZWJ or unicodedata.category(char)[0] in "LMNS"


def _split_camel(text: str) -> str:
    """``orderCompleted`` -> ``order Completed``: a lower-case letter or digit followed by an
    upper-case letter starts a word (for ASCII exactly ``(?<=[a-z0-9])(?=[A-Z])``)."""
    out = []
    previous = ""
    for char in text:
        if char.isupper() and (previous.islower() or previous.isdigit()):
            out.append(" ")
        out.append(char)
        previous = char
    return "".join(out)


def snake_case(name: str) -> str:
    """The trait name of an event, page or screen name; at most 100 UTF-8 bytes.

    ``"Order Completed"`` and ``"orderCompleted"`` -> ``order_completed``; ``"注文完了"`` ->
    ``注文完了``; ``"Café Visited"`` -> ``café_visited``; ``"Player Create 🍔"`` ->
    ``player_create_🍔``. The rule: Unicode NFKC normalisation, camelCase split, case folding,
    then every run of characters that are not letters, marks, numbers or symbols (``_kept``)
    becomes one ``_``; a name that does not start with a letter gets ``t_``; over 100 bytes, it
    is cut and ends with 8 hex digits of a hash of the whole name. So two names that differ in a
    letter, digit or symbol never share a trait; names that differ only in case, spacing or
    punctuation do (``segment-usage events`` lists every name behind a trait). ASCII names get
    the same trait names as every earlier version; a name with no letter, digit or symbol at all
    (``"!!!"``) is ``unnamed``, as before.
    """
    text = _split_camel(unicodedata.normalize("NFKC", name)).casefold()
    words = (
        "_".join(part for part in "".join(c if _kept(c) else " " for c in text).split(" ") if part)
        or "unnamed"
    )
    if not words[0].isalpha():
        words = f"t_{words}"
    if len(words.encode("utf-8")) > MAX_TRAIT_BYTES:
        digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
        cut = words.encode("utf-8")[: MAX_TRAIT_BYTES - 9].decode("utf-8", "ignore")
        words = f"{cut.rstrip('_')}_{digest}"
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
