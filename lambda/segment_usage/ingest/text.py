"""Text that is not Unicode: a lone UTF-16 surrogate (``"\\ud800"``, what a JavaScript
``slice()`` through an emoji leaves) that JSON can carry as an escape but UTF-8, and so DynamoDB,
cannot store as a string."""

from __future__ import annotations

from typing import Any


def _path(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def surrogate_paths(value: Any, path: tuple[Any, ...] = ()) -> list[str]:
    """Where a string (or an object key) holds a lone UTF-16 surrogate, e.g. ``"\\ud800"`` (what a
    JavaScript ``slice()`` through an emoji leaves): not Unicode text, so DynamoDB cannot store it
    as a string and UTF-8 cannot encode it."""
    if isinstance(value, str):
        return [] if is_text(value) else [_path(path) or "message"]
    if isinstance(value, dict):
        found = []
        for key, child in value.items():
            if isinstance(key, str) and not is_text(key):
                found.append(_path(path) + "{key}" if path else "{key}")
            found += surrogate_paths(child, (*path, key))
        return found
    if isinstance(value, list):
        return [p for i, child in enumerate(value) for p in surrogate_paths(child, (*path, i))]
    return []


def is_text(text: str) -> bool:
    """Whether ``text`` is Unicode text (UTF-8 can encode it: no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
