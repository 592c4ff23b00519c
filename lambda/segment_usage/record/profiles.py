"""Identify traits, group membership and identity links: idempotent merges, latest timestamp wins.

Pure logic over DynamoDB wire-format items. A trait is stored as ``[json, ts_ms]``; a newer
``ts_ms`` replaces it, and equal timestamps keep the larger JSON string, so applying the same
messages in any order, any number of times, gives the same item.
"""

from __future__ import annotations

from typing import Any

from ..ingest.messages import Message
from ..table.item_size import item_size
from ..table.keys import PROFILE_SK, group_sk

Key = tuple[str, str]

# The per-profile (and per-group) trait budget: DynamoDB items stop at 400 KB (409,600 bytes). An
# identify that would grow a profile past this many bytes is kept as rejected (the reason names
# the budget) instead of failing on every retry; the traits already stored stay as they are.
MAX_PROFILE_BYTES = 350_000


def effect_keys(message: Message) -> list[Key]:
    """The items (other than day buckets) a message changes: its group, or its profile."""
    if message.type == "group" and message.group_id:
        return [(message.pk, group_sk(message.group_id))]
    if message.traits or message.link_from:
        return [(message.pk, PROFILE_SK)]
    return []


def _merge_traits(stored: dict[str, Any], traits: dict[str, str], ts_ms: int) -> bool:
    changed = False
    for name, value in traits.items():
        current = stored.get(name)
        if current is not None:
            old_value, old_ts = current["L"][0]["S"], int(current["L"][1]["N"])
            if (old_ts, old_value) >= (ts_ms, value):
                continue
        stored[name] = {"L": [{"S": value}, {"N": str(ts_ms)}]}
        changed = True
    return changed


def _merge_link(links: dict[str, Any], anonymous_id: str, ts_ms: int) -> bool:
    """Remember an anonymous id as this user's, with the earliest time it was linked."""
    current = links.get(anonymous_id)
    if current is not None and int(current["N"]) <= ts_ms:
        return False
    links[anonymous_id] = {"N": str(ts_ms)}
    return True


def apply(key: Key, item: dict[str, Any] | None, messages: list[Message]) -> dict[str, Any] | None:
    """The item after applying ``messages`` to it, or None if nothing changes.

    A profile (``sk`` PROFILE) holds ``t`` (trait -> [json, ts_ms]) and ``a`` (linked anonymous
    id -> ts_ms; each names an ``A#`` partition), so an identify that also links costs one write.
    ``l``, the links of v0.2 (into the shared ``U#`` key space), is kept but no longer written
    nor followed. A group item holds ``t`` and ``last_ms``.
    """
    pk, sk = key
    new = dict(item or {"pk": {"S": pk}, "sk": {"S": sk}})
    traits = dict(new.get("t", {}).get("M", {}))
    links = dict(new.get("a", {}).get("M", {}))
    changed = False
    for message in messages:
        changed |= _merge_traits(traits, message.traits, message.ts_ms)
        if message.link_from and sk == PROFILE_SK:
            changed |= _merge_link(links, message.link_from, message.ts_ms)
        if sk.startswith("G#"):
            new.setdefault("group_id", {"S": message.group_id or ""})
            if message.ts_ms > int(new.get("last_ms", {"N": "0"})["N"]):
                new["last_ms"] = {"N": str(message.ts_ms)}
                changed = True
    if not changed:
        return None
    new["t"] = {"M": traits}
    if links:
        new["a"] = {"M": links}
    new["v"] = {"N": str(version(item) + 1)}
    return new


def version(item: dict[str, Any] | None) -> int:
    return int(item["v"]["N"]) if item else 0


def apply_within_budget(
    key: Key, item: dict[str, Any] | None, messages: list[Message]
) -> tuple[dict[str, Any] | None, list[int]]:
    """``apply``, leaving out the messages that would grow the item past ``MAX_PROFILE_BYTES``.

    Returns (the new item or None, positions in ``messages`` of those left out).
    """
    new = apply(key, item, messages)
    if new is None or item_size(new) <= MAX_PROFILE_BYTES:
        return new, []
    over: list[int] = []
    current = item
    for n, message in enumerate(messages):
        candidate = apply(key, current, [message])
        if candidate is None:
            continue
        if item_size(candidate) > MAX_PROFILE_BYTES:
            over.append(n)
            continue
        current = candidate
    return (current if current is not item else None), over


def over_budget_reason(key: Key) -> str:
    what = "group" if key[1].startswith("G#") else "profile"
    return (
        f"traits: this message would grow the {what} item past its {MAX_PROFILE_BYTES:,}-byte "
        "trait budget (DynamoDB items stop at 400 KB); the stored traits were left as they are"
    )
