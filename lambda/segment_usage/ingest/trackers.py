"""Which page, screen and track messages become usage traits, and under which trait names.

A tracker names a call (type and name) and the trait it counts towards; it may also filter on the
message's ``properties`` (``where``) and sum a numeric property (``sum``): issue 18, declared in
Terraform (``var.trackers``, validated at plan time with the same rules as ``Trackers.parse``). A
message counts towards **every** trait whose tracker it matches, at most
``MAX_TRAITS_PER_MESSAGE`` of them whose ``use_bytes`` add up to at most ``MESSAGE_USAGE_BYTES``
(``table/buckets.py``: what keeps a day bucket under 1 KB); beyond that the first ones in the
trackers' order are kept (Terraform refuses such a configuration for one call name; a page can
still match trackers of its name and of its category).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from ..table.amounts import amount_micros
from ..table.buckets import MAX_TRAITS_PER_MESSAGE, MESSAGE_USAGE_BYTES, Use, use_bytes

USAGE_TYPES = ("track", "page", "screen")
MAX_TRAIT_BYTES = 100  # bounds the growth of a day bucket per message (see buckets.MAX_INCREMENT)
COMPARISONS = ("gt", "gte", "lt", "lte")
MAX_IN_VALUES = 100  # values one ``in`` condition may list
# a dotted path under ``properties``: "format", "cart.total"
_PATH = re.compile(r"^[^.]+(\.[^.]+)*$")
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


def _number(value: Any) -> Decimal | None:
    """A JSON number (not a boolean, finite) as an exact Decimal, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _text(value: Any) -> str:
    """An ``equals``/``in`` value as the text it is compared as (Terraform sends strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equals(value: Any, text: str) -> bool:
    """Whether a property value equals a condition's text: a string exactly, a boolean as
    ``true``/``false``, a number by its decimal value (``5`` equals ``"5.0"``)."""
    if isinstance(value, str):
        return value == text
    if isinstance(value, bool):
        return _text(value) == text
    number = _number(value)
    if number is None:
        return False
    try:
        return number == Decimal(text)
    except InvalidOperation:
        return False


def property_at(properties: Any, path: tuple[str, ...]) -> Any:
    """``properties`` followed along ``path`` (None when a step is missing or not an object)."""
    value = properties
    for step in path:
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


@dataclass(frozen=True)
class Condition:
    """One ``where`` entry: the property at ``path`` (under ``properties``) equals ``equals``, is
    one of ``one_of``, or satisfies every comparison in ``bounds`` ((op, Decimal), op in
    ``COMPARISONS``). A missing property or one of another kind never matches."""

    path: tuple[str, ...]
    equals: str | None = None
    one_of: tuple[str, ...] | None = None
    bounds: tuple[tuple[str, Decimal], ...] = ()

    def matches(self, properties: Any) -> bool:
        value = property_at(properties, self.path)
        if value is None:
            return False
        if self.equals is not None:
            return _equals(value, self.equals)
        if self.one_of is not None:
            return any(_equals(value, text) for text in self.one_of)
        number = _number(value)
        if number is None:
            return False
        return all(
            (number > b) if op == "gt"
            else (number >= b) if op == "gte"
            else (number < b) if op == "lt"
            else (number <= b)
            for op, b in self.bounds
        )  # fmt: skip


@dataclass(frozen=True)
class Tracker:
    """``type``/``name``: the call it counts; ``trait``: the usage trait; ``where``: conditions
    on ``properties`` that must all hold; ``sum``: the path of a numeric property it sums
    (``table/amounts.py`` says which numbers count; a message without one does not match)."""

    type: str
    name: str
    trait: str
    where: tuple[Condition, ...] = field(default=())
    sum: tuple[str, ...] | None = None

    def use(self, message: dict[str, Any]) -> Use | None:
        """(trait, amount in micros or None) if ``message`` matches this tracker, else None."""
        properties = message.get("properties")
        if not all(condition.matches(properties) for condition in self.where):
            return None
        if self.sum is None:
            return (self.trait, None)
        micros = amount_micros(property_at(properties, self.sum))
        return None if micros is None else (self.trait, micros)


def _path(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, str) or not _PATH.match(value):
        raise ValueError(f"{where}: expected a property path under properties, like cart.total")
    return tuple(value.split("."))


def _condition(path: str, spec: Any, where: str) -> Condition:
    """Parse one ``where`` entry (see ``Condition``); null members count as absent."""
    steps = _path(path, f"{where} key {path!r}")
    if not isinstance(spec, dict):
        raise ValueError(f"{where}.{path}: expected an object with equals, in or gt/gte/lt/lte")
    spec = {k: v for k, v in spec.items() if v is not None}
    unknown = set(spec) - {"equals", "in", *COMPARISONS}
    if unknown:
        raise ValueError(f"{where}.{path}: unknown operator(s) {sorted(unknown)}")
    kinds = ("equals" in spec) + ("in" in spec) + any(op in spec for op in COMPARISONS)
    if kinds != 1:
        raise ValueError(f"{where}.{path}: set exactly one of equals, in, or gt/gte/lt/lte")
    if "equals" in spec:
        if not isinstance(spec["equals"], str | int | float | bool):
            raise ValueError(f"{where}.{path}.equals: expected a string, number or boolean")
        return Condition(steps, equals=_text(spec["equals"]))
    if "in" in spec:
        values = spec["in"]
        if (
            not isinstance(values, list)
            or not 1 <= len(values) <= MAX_IN_VALUES
            or not all(isinstance(v, str | int | float | bool) for v in values)
        ):
            raise ValueError(f"{where}.{path}.in: expected 1 to {MAX_IN_VALUES} scalar values")
        return Condition(steps, one_of=tuple(_text(v) for v in values))
    bounds = []
    for op in COMPARISONS:
        if op in spec:
            number = _number(spec[op])
            if number is None:
                raise ValueError(f"{where}.{path}.{op}: expected a number")
            bounds.append((op, number))
    return Condition(steps, bounds=tuple(bounds))


class Trackers:
    """``all`` (every usage message, default trait names) or an explicit list of trackers."""

    def __init__(self, trackers: list[Tracker] | None) -> None:
        self.track_all = trackers is None
        self._by_key: dict[tuple[str, str], list[Tracker]] = {}
        for tracker in trackers or []:
            self._by_key.setdefault((tracker.type, tracker.name), []).append(tracker)

    @classmethod
    def parse(cls, text: str | None) -> Trackers:
        """Parse ``SEGMENT_USAGE_TRACKERS``: ``all`` / empty, or a JSON list of tracker objects
        ``{type, name, trait?, where?, sum?}`` (``where``: property path -> ``{equals}``,
        ``{in: [...]}`` or ``{gt/gte/lt/lte: number}``; ``sum``: a property path). Raises
        ValueError naming the tracker and field that is wrong."""
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
            filters = item.get("where") or {}
            summed = item.get("sum")
            if (filters or summed is not None) and not item.get("trait"):
                raise ValueError(f"{where}.trait: a tracker with where or sum needs its own trait")
            trait = item.get("trait") or default_trait(item["type"], name)
            if not _TRAIT.match(trait):
                raise ValueError(f"{where}.trait: {trait!r} must match {_TRAIT.pattern}")
            if not isinstance(filters, dict):
                raise ValueError(f"{where}.where: expected an object of property path -> condition")
            conditions = tuple(
                _condition(path, spec, f"{where}.where") for path, spec in sorted(filters.items())
            )
            total = None if summed is None else _path(summed, f"{where}.sum")
            trackers.append(Tracker(item["type"], name, trait, conditions, total))
        return cls(trackers)

    def uses_for(self, message: dict[str, Any]) -> tuple[Use, ...]:
        """Every usage trait a valid message counts towards, with its amount for a ``sum``
        tracker (micros) or None, in the trackers' order; each trait once, and within the
        per-message bound of the module docstring. Never raises for any property value."""
        call_type = message["type"]
        if call_type not in USAGE_TYPES:
            return ()
        if self.track_all:
            return ((default_trait(call_type, subject_name(message)), None),)
        if call_type == "page":  # a page tracker may name the page or its category
            keys = [message.get("name"), message.get("category")]
        else:
            keys = [subject_name(message) or ""]
        uses: list[Use] = []
        seen: set[str] = set()
        spent = 0
        for key in dict.fromkeys(k for k in keys if k):
            for tracker in self._by_key.get((call_type, key), ()):
                if tracker.trait in seen or len(uses) >= MAX_TRAITS_PER_MESSAGE:
                    continue
                use = tracker.use(message)
                if use is None:
                    continue
                cost = use_bytes(use[0], use[1] is not None)
                if spent + cost > MESSAGE_USAGE_BYTES:
                    continue
                uses.append(use)
                seen.add(use[0])
                spent += cost
        return tuple(uses)

    def trait_for(self, message: dict[str, Any]) -> str | None:
        """The first usage trait a valid message counts towards, or None if it is not tracked."""
        uses = self.uses_for(message)
        return uses[0][0] if uses else None
