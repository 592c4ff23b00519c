"""Identify traits, group membership and identity links: idempotent merges, latest timestamp wins.

Pure logic over DynamoDB wire-format items. A trait is stored as ``[json, ts_ms]``; a newer
``ts_ms`` replaces it, and equal timestamps keep the larger JSON string, so applying the same
messages in any order, any number of times, gives the same item.
"""

from __future__ import annotations

from typing import Any

from .keys import PROFILE_SK, group_sk, link_sk, user_pk
from .messages import Message

Key = tuple[str, str]


def effect_keys(message: Message) -> list[Key]:
    """The items (other than day buckets) a message changes."""
    keys: list[Key] = []
    if message.type == "group" and message.group_id:
        keys.append((user_pk(message.subject), group_sk(message.group_id)))
    elif message.traits:
        keys.append((user_pk(message.subject), PROFILE_SK))
    if message.link_from and message.user_id:
        keys.append((user_pk(message.user_id), link_sk(message.link_from)))
    return keys


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


def apply(key: Key, item: dict[str, Any] | None, messages: list[Message]) -> dict[str, Any] | None:
    """The item after applying ``messages`` to it, or None if nothing changes."""
    pk, sk = key
    new = {k: v for k, v in (item or {}).items()}
    changed = item is None
    if sk.startswith("L#"):
        if item is not None:
            return None
        first = min(messages, key=lambda m: m.ts_ms)
        return {
            "pk": {"S": pk},
            "sk": {"S": sk},
            "v": {"N": "1"},
            "anonymous_id": {"S": first.link_from or ""},
            "linked_ms": {"N": str(first.ts_ms)},
        }
    new.setdefault("pk", {"S": pk})
    new.setdefault("sk", {"S": sk})
    traits = {name: value for name, value in new.get("t", {}).get("M", {}).items()}
    for message in messages:
        changed |= _merge_traits(traits, message.traits, message.ts_ms)
        if sk.startswith("G#"):
            new.setdefault("group_id", {"S": message.group_id or ""})
            last = int(new.get("last_ms", {"N": "0"})["N"])
            if message.ts_ms > last:
                new["last_ms"] = {"N": str(message.ts_ms)}
                changed = True
    if not changed:
        return None
    new["t"] = {"M": traits}
    new["v"] = {"N": str(int((item or {}).get("v", {"N": "0"})["N"]) + 1)}
    return new


def version(item: dict[str, Any] | None) -> int:
    return int(item["v"]["N"]) if item else 0
