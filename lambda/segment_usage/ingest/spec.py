"""Validate Segment messages against the JSON Schemas shipped in ``schemas/``.

Validators are built once per process (``functools.cache``), never per message. Every error names
the JSON path and the rule, e.g. ``properties.revenue: 'x' is not of type 'number'``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError

MAX_MESSAGE_BYTES = 32 * 1024  # Segment rejects messages over 32 KB.
# Objects and arrays nested deeper than this are rejected with the path where the limit is passed
# (the message itself is level 1). DynamoDB's own limit for nested attributes is 32; real Segment
# messages nest 4-6 levels.
MAX_DEPTH = 32
CALL_TYPES = ("track", "page", "screen", "identify", "group", "alias")
TIMESTAMP_FIELDS = ("timestamp", "originalTimestamp", "receivedAt", "sentAt")

_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")

# jsonschema only checks "date-time" when rfc3339-validator is installed and silently passes
# otherwise. This checker is always present, so the check always runs.
FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def is_iso8601_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True  # the "type" keyword reports non-strings
    if not _ISO_DATETIME.match(value):
        raise ValueError("not an ISO-8601 date-time (expected YYYY-MM-DDTHH:MM...)")
    datetime.fromisoformat(value)  # raises ValueError with the reason
    return True


def parse_timestamp_ms(value: str) -> int:
    """Epoch milliseconds of an ISO-8601 string; a value without an offset is taken as UTC."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


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


def iter_errors(validator: Draft7Validator, instance: Any, prefix: str = "") -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    return [format_error(e, prefix) for e in errors]


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


def validate_message(message: Any) -> list[str]:
    """Errors of ``message`` against the Segment Spec; an empty list means valid."""
    if not isinstance(message, dict):
        return [f"message: expected a JSON object, got {type(message).__name__}"]
    errors, text = _shape_errors(message)
    if errors:
        return errors
    size = oversize(message, text)
    if size is not None:
        return [f"message: {size} bytes exceeds Segment's {MAX_MESSAGE_BYTES}-byte (32 KB) limit"]
    validators = spec_validators()
    errors = iter_errors(validators["common"], message)
    call_type = message.get("type")
    if call_type in validators and call_type != "common":
        errors += iter_errors(validators[call_type], message)
    if not (
        isinstance(message.get("timestamp"), str)
        or any(isinstance(message.get(f), str) for f in TIMESTAMP_FIELDS)
    ):
        errors.append("timestamp: is required (or one of originalTimestamp, receivedAt, sentAt)")
    return _first_errors(errors, message) if errors else errors
