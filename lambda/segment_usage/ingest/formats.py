"""The JSON Schema ``format`` values this product checks, with the standard library only.

jsonschema checks most formats only when optional libraries are installed (rfc3339-validator,
rfc3987, fqdn, ...) and silently passes a value otherwise, so a plan's ``"format": "uri"`` would
check in one environment and not in another. This checker has every format below always, the
same in tests and on Lambda; any other format is not checked (the README lists them).

Checked (the formats Segment Protocols offers for string properties, and their drafts' kin):
``date-time``, ``date``, ``time`` (ISO-8601 / RFC 3339), ``email``, ``idn-email``, ``hostname``,
``idn-hostname``, ``ipv4``, ``ipv6``, ``uri``, ``uri-reference``, ``iri``, ``iri-reference``,
``uuid``, ``regex``.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import date, datetime

from jsonschema import FormatChecker

FORMAT_CHECKER = FormatChecker(formats=())
CHECKED_FORMATS: tuple[str, ...] = (
    "date-time",
    "date",
    "time",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "regex",
)

_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_HEX_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None  # "type" reports non-strings


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def is_datetime(value: object) -> bool:
    text = _text(value)
    if text is None:
        return True
    if not _ISO_DATETIME.match(text):
        raise ValueError("not an ISO-8601 date-time (expected YYYY-MM-DDTHH:MM...)")
    datetime.fromisoformat(text)  # raises ValueError with the reason
    return True


@FORMAT_CHECKER.checks("date", raises=ValueError)
def is_date(value: object) -> bool:
    text = _text(value)
    if text is None:
        return True
    if len(text) != 10:
        raise ValueError("expected YYYY-MM-DD")
    date.fromisoformat(text)
    return True


@FORMAT_CHECKER.checks("time")
def is_time(value: object) -> bool:
    text = _text(value)
    return text is None or bool(_TIME.match(text))


@FORMAT_CHECKER.checks("email")
@FORMAT_CHECKER.checks("idn-email")
def is_email(value: object) -> bool:
    text = _text(value)
    if text is None:
        return True
    local, at, domain = text.rpartition("@")
    return bool(at and local and domain and not any(c.isspace() for c in text))


@FORMAT_CHECKER.checks("hostname")
@FORMAT_CHECKER.checks("idn-hostname")
def is_hostname(value: object) -> bool:
    text = _text(value)
    if text is None:
        return True
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_name.rstrip(".").split(".")
    return len(ascii_name) <= 253 and all(_LABEL.match(label) for label in labels)


@FORMAT_CHECKER.checks("ipv4")
def is_ipv4(value: object) -> bool:
    text = _text(value)
    if text is None:
        return True
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("ipv6")
def is_ipv6(value: object) -> bool:
    text = _text(value)
    if text is None:
        return True
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("uri")
@FORMAT_CHECKER.checks("iri")
def is_uri(value: object) -> bool:
    """An absolute URI (RFC 3986): a scheme, and no whitespace or control characters."""
    text = _text(value)
    return text is None or (bool(_SCHEME.match(text)) and is_uri_reference(text))


@FORMAT_CHECKER.checks("uri-reference")
@FORMAT_CHECKER.checks("iri-reference")
def is_uri_reference(value: object) -> bool:
    text = _text(value)
    return text is None or not any(c.isspace() or ord(c) < 32 or c in '<>"{}|\\^`' for c in text)


@FORMAT_CHECKER.checks("uuid")
def is_uuid(value: object) -> bool:
    text = _text(value)
    if text is None:
        return True
    if not _HEX_UUID.match(text):
        return False
    uuid.UUID(text)
    return True


@FORMAT_CHECKER.checks("regex")
def is_regex(value: object) -> bool:
    text = _text(value)
    if text is None:
        return True
    try:
        re.compile(text)
    except re.error:
        return False
    return True
