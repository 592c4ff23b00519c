"""Validate Segment messages against the JSON Schemas shipped in ``schemas/``.

Validators are built once per process (``functools.cache``), never per message. Every error names
the JSON path and the rule, e.g. ``properties.revenue: 'x' is not of type 'number'``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError

MAX_MESSAGE_BYTES = 32 * 1024  # Segment rejects messages over 32 KB.
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
    text = resources.files("segment_usage").joinpath("schemas", f"{name}.json").read_text("utf-8")
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


def oversize(message: Any) -> int | None:
    """The encoded size if over ``MAX_MESSAGE_BYTES``, else None.

    The ASCII-escaped encoding is never shorter than the UTF-8 one (an escape is 6 or 12 bytes for
    a character of 2-4), so it decides almost every message without the slower exact encoding.
    """
    if len(json.dumps(message, separators=(",", ":"))) <= MAX_MESSAGE_BYTES:
        return None
    size = encoded_size(message)
    return size if size > MAX_MESSAGE_BYTES else None


def validate_message(message: Any) -> list[str]:
    """Errors of ``message`` against the Segment Spec; an empty list means valid."""
    if not isinstance(message, dict):
        return [f"message: expected a JSON object, got {type(message).__name__}"]
    size = oversize(message)
    if size is not None:
        return [f"message: {size} bytes exceeds Segment's {MAX_MESSAGE_BYTES}-byte (32 KB) limit"]
    validators = spec_validators()
    errors = iter_errors(validators["common"], message)
    call_type = message.get("type")
    if call_type in validators and call_type != "common":
        errors += iter_errors(validators[call_type], message)
    if not any(isinstance(message.get(f), str) for f in TIMESTAMP_FIELDS):
        errors.append("timestamp: is required (or one of originalTimestamp, receivedAt, sentAt)")
    return errors
