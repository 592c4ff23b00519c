"""Validate Segment messages against the JSON Schemas shipped in ``schemas/``.

Validators are built once per process (``functools.cache``), never per message. Every error names
the JSON path and the rule, e.g. ``properties.revenue: 'x' is not of type 'number'``.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from .formats import FORMAT_CHECKER
from .text import surrogate_paths
from .timestamps import NoUsableTime, event_time

MAX_MESSAGE_BYTES = 32 * 1024  # Segment rejects messages over 32 KB.
# Objects and arrays nested deeper than this are rejected with the path where the limit is passed
# (the message itself is level 1). DynamoDB's own limit for nested attributes is 32; real Segment
# messages nest 4-6 levels.
MAX_DEPTH = 32
CALL_TYPES = ("track", "page", "screen", "identify", "group", "alias")
# Top-level fields recording needs: a fault in one of them rejects the message. A fault anywhere
# else (a malformed sentAt, a context that is not an object, ...) is a warning: recorded anyway,
# and kept beside the record with the field (schemas mark those fields "x-warning": true).
RECORDING_FIELDS = frozenset(
    {"type", "messageId", "userId", "anonymousId", "event", "name", "category", "groupId",
     "previousId"}
)  # fmt: skip


def format_path(path: Iterable[Any]) -> str:
    """``["properties", "items", 0, "sku"]`` -> ``properties.items[0].sku``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def format_error(error: ValidationError, prefix: str = "") -> str:
    """One line naming where (JSON path) and what (the rule that failed)."""
    path = list(error.absolute_path)
    if prefix:
        path = [prefix, *path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else str(error.message)
        return f"{format_path([*path, missing])}: is required"
    custom = error.schema.get("x-message", {}) if isinstance(error.schema, Mapping) else {}
    message = custom.get(error.validator) if isinstance(custom, Mapping) else None
    if message is None and error.validator == "format" and error.cause is not None:
        message = f"{error.instance!r} is not a valid {error.validator_value}: {error.cause}"
    where = format_path(path) or "message"
    return f"{where}: {message or error.message}"


def _sorted(errors: Iterable[ValidationError]) -> list[ValidationError]:
    return sorted(errors, key=lambda e: list(map(str, e.absolute_path)))


def iter_errors(validator: Draft7Validator, instance: Any, prefix: str = "") -> list[str]:
    """Every error of ``instance`` against ``validator``, formatted, in path order."""
    return [format_error(e, prefix) for e in _sorted(validator.iter_errors(instance))]


def _is_warning(error: ValidationError) -> bool:
    return isinstance(error.schema, Mapping) and error.schema.get("x-warning") is True


def load_schema(name: str) -> dict[str, Any]:
    text = (
        resources.files("segment_usage.ingest")
        .joinpath("schemas", f"{name}.json")
        .read_text("utf-8")
    )
    return json.loads(text)


@cache
def spec_validators() -> dict[str, Draft7Validator]:
    """The Segment Spec validators: ``common`` plus one per call type, built once.

    The shipped schemas are checked against the draft-07 meta-schema by the tests, not here: that
    check would add ~5 ms to every cold start for files that cannot change after the build.
    """
    validators = {}
    for name in ("common", *CALL_TYPES):
        validators[name] = Draft7Validator(load_schema(name), format_checker=FORMAT_CHECKER)
    return validators


def encoded_size(message: Any) -> int:
    """Bytes of the compact UTF-8 JSON encoding, the measure Segment's 32 KB limit applies to."""
    return len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def oversize(message: Any, ascii_text: str | None = None) -> int | None:
    """The encoded size if over ``MAX_MESSAGE_BYTES``, else None.

    The ASCII-escaped encoding is never shorter than the UTF-8 one (an escape is 6 or 12 bytes for
    a character of 2-4), so it decides almost every message without the slower exact encoding.
    """
    if ascii_text is None:
        ascii_text = json.dumps(message, separators=(",", ":"))
    if len(ascii_text) <= MAX_MESSAGE_BYTES:
        return None
    size = encoded_size(message)
    return size if size > MAX_MESSAGE_BYTES else None


def non_finite_paths(value: Any, path: tuple[Any, ...] = ()) -> list[str]:
    """Where NaN or +/-Infinity sit (Lambda's ``json.loads`` accepts them; JSON does not)."""
    if isinstance(value, float) and not math.isfinite(value):
        return [format_path(path) or "message"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in non_finite_paths(v, (*path, i))]
    return []


def too_deep(value: Any, path: tuple[Any, ...] = (), depth: int = 1) -> str | None:
    """The path of the first object or array nested deeper than ``MAX_DEPTH``, or None."""
    if not isinstance(value, dict | list):
        return None
    if depth > MAX_DEPTH:
        return format_path(path)
    children = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in children:
        found = too_deep(child, (*path, key), depth + 1)
        if found is not None:
            return found
    return None


# Built once: json.dumps with arguments builds an encoder per call. No cycle check: the message
# came out of json.loads, which cannot make one.
_STRICT_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False)


def _shape_errors(message: dict[str, Any]) -> tuple[list[str], str | None]:
    """(errors, compact ASCII JSON text): NaN/Infinity and nesting, before the schemas run."""
    try:
        text = _STRICT_COMPACT.encode(message)
    except ValueError:
        return [
            f"{path}: NaN and Infinity are not JSON numbers (rejected, never stored altered)"
            for path in non_finite_paths(message)
        ], None
    except RecursionError:
        text = None
    # Cheap first: a message with at most MAX_DEPTH brackets in all cannot nest deeper.
    if text is None or text.count("{") + text.count("[") > MAX_DEPTH:
        path = too_deep(message)
        if path is not None:
            return [f"{path}: nested deeper than {MAX_DEPTH} levels (the limit)"], None
    return [], text


def _first_errors(errors: list[str], message: dict[str, Any]) -> list[str]:
    """Drop "userId or anonymousId is required" when an id is there but not a string: the type
    error says what is wrong ("userId must be a string")."""
    present = any(
        message.get(f) is not None and not isinstance(message.get(f), str)
        for f in ("userId", "anonymousId")
    )
    if not present:
        return errors
    return [e for e in errors if not e.startswith("message: userId or anonymousId is required")]


_SURROGATE_ESCAPE = re.compile(r"\\ud[89a-f][0-9a-f]{2}")


def _surrogate_faults(message: dict[str, Any], text: str | None) -> tuple[list[str], list[str]]:
    """(errors, warnings) for lone surrogates: in a field recording needs, an error; elsewhere a
    warning (the value is stored JSON-escaped). ``text`` (ASCII JSON) spares the walk when it has
    no surrogate escape at all, which is almost every message."""
    if text is not None and not _SURROGATE_ESCAPE.search(text):
        return [], []
    errors, warnings = [], []
    for path in surrogate_paths(message):
        reason = f"{path}: holds a lone UTF-16 surrogate, which is not Unicode text"
        top = path.split(".", 1)[0].split("[", 1)[0].split("{", 1)[0]
        if top in RECORDING_FIELDS:
            errors.append(reason)
        else:
            warnings.append(reason + " (stored JSON-escaped)")
    return errors, warnings


@dataclass(slots=True)
class SpecResult:
    """The Segment Spec's verdict: ``errors`` reject the message; ``warnings`` name malformed
    fields recording does not need (recorded anyway); ``text`` is its compact ASCII JSON."""

    errors: list[str]
    warnings: list[str]
    text: str | None = None


def check_spec(message: Any) -> SpecResult:
    """``message`` against the Segment Spec and this product's limits (no time rule here:
    ``timestamps.event_time`` decides the time)."""
    if not isinstance(message, dict):
        return SpecResult([f"message: expected a JSON object, got {type(message).__name__}"], [])
    errors, text = _shape_errors(message)
    if errors:
        return SpecResult(errors, [])
    size = oversize(message, text)
    if size is not None:
        return SpecResult(
            [f"message: {size} bytes exceeds Segment's {MAX_MESSAGE_BYTES}-byte (32 KB) limit"], []
        )
    validators = spec_validators()
    found = list(validators["common"].iter_errors(message))
    call_type = message.get("type")
    if isinstance(call_type, str) and call_type in validators and call_type != "common":
        found += validators[call_type].iter_errors(message)
    errors = [format_error(e) for e in _sorted(e for e in found if not _is_warning(e))]
    warnings = [format_error(e) for e in _sorted(e for e in found if _is_warning(e))]
    bad, odd = _surrogate_faults(message, text)
    errors, warnings = errors + bad, warnings + odd
    return SpecResult(_first_errors(errors, message) if errors else errors, warnings, text)


def validate_message(message: Any, now_ms: int | None = None) -> list[str]:
    """Errors that reject ``message``: the Segment Spec's, then the time rule's (no usable time).
    An empty list means it is recordable; warnings are not errors (``check_spec`` has them)."""
    result = check_spec(message)
    if result.errors:
        return result.errors
    try:
        event_time(message, now_ms if now_ms is not None else int(time.time() * 1000))
    except NoUsableTime as exc:
        return [str(exc)]
    return []
