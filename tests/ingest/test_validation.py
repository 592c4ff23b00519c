"""The Segment Spec schemas: every rule the issue names, and errors that name path and rule."""

from __future__ import annotations

import pytest
from jsonschema import Draft7Validator

from segment_usage.ingest.spec import (
    CALL_TYPES,
    MAX_MESSAGE_BYTES,
    check_spec,
    encoded_size,
    load_schema,
    spec_validators,
    validate_message,
)
from support import segment_messages as sm

VALID = {
    "track": sm.track("Order Completed", {"revenue": 9.5}, user_id="u1"),
    "page": sm.page("Pricing", "Marketing", anonymous_id="a1"),
    "screen": sm.screen("Home", user_id="u1"),
    "identify": sm.identify({"plan": "pro"}, user_id="u1"),
    "group": sm.group("g1", {"employees": 40}, user_id="u1"),
    "alias": sm.alias("a1", "u1"),
}


@pytest.mark.parametrize("name", ["common", *CALL_TYPES])
def test_shipped_schemas_are_valid_draft_07(name: str) -> None:
    # Not re-checked at cold start (spec_validators), so checked here.
    Draft7Validator.check_schema(load_schema(name))


@pytest.mark.parametrize("call_type", sorted(VALID))
def test_every_call_type_is_valid(call_type: str) -> None:
    assert validate_message(VALID[call_type]) == []


def test_null_anonymous_id_counts_as_absent_when_user_id_present() -> None:
    assert validate_message(sm.track("Signed In", user_id="u1", anonymous_id=None)) == []


@pytest.mark.parametrize("ids", [{"userId": None, "anonymousId": None}, {}, {"userId": ""}])
def test_missing_ids_rejected(ids: dict) -> None:
    msg = sm.track("Signed In", user_id="x")
    del msg["userId"], msg["anonymousId"]
    msg.update(ids)
    assert validate_message(msg) == [
        "message: userId or anonymousId is required (a JSON null counts as absent)"
    ]


@pytest.mark.parametrize(
    ("call_type", "field", "expected"),
    [
        ("track", "event", "event: is required"),
        ("group", "groupId", "groupId: is required"),
        ("alias", "previousId", "previousId: is required"),
        ("track", "messageId", "messageId: is required"),
        ("track", "type", "type: is required"),
    ],
)
def test_required_fields_per_type(call_type: str, field: str, expected: str) -> None:
    msg = dict(VALID[call_type])
    del msg[field]
    assert expected in validate_message(msg)


def test_alias_needs_user_id_even_with_anonymous_id() -> None:
    msg = dict(VALID["alias"], anonymousId="a9")
    del msg["userId"]
    assert "userId: is required" in validate_message(msg)


def test_message_id_at_most_100_characters() -> None:
    assert validate_message(sm.track("E", user_id="u", message_id="m" * 100)) == []
    errors = validate_message(sm.track("E", user_id="u", message_id="m" * 101))
    assert errors == [f"messageId: {'m' * 101!r} is too long"]


@pytest.mark.parametrize(
    "stamp",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-11-20",
        "",
        "20261120T1000",
    ],
)
def test_timestamps_are_really_checked(stamp: str) -> None:
    """A malformed timestamp is a warning with its field, not a rejection, while another time
    field is usable (Segment is that lenient: it corrects ``timestamp`` from the others)."""
    message = sm.track("E", user_id="u", timestamp=stamp)
    warnings = check_spec(message).warnings
    assert len(warnings) == 1 and warnings[0].startswith(
        f"timestamp: {stamp!r} is not a valid date-time"
    )
    assert validate_message(message) == []


@pytest.mark.parametrize(
    "stamp", ["2026-11-20T09:30:00Z", "2026-11-20T09:30:00.123+02:00", "2026-11-20 09:30:00"]
)
def test_iso_timestamps_accepted(stamp: str) -> None:
    assert validate_message(sm.track("E", user_id="u", timestamp=stamp)) == []


def test_some_usable_time_is_required() -> None:
    msg = sm.track("E", user_id="u")
    for field in ("timestamp", "originalTimestamp", "sentAt", "receivedAt"):
        del msg[field]
    assert validate_message(msg) == [
        "timestamp: no usable time: timestamp, receivedAt, originalTimestamp and sentAt are all "
        "missing or not ISO-8601 date-times"
    ]


def test_unknown_fields_accepted() -> None:
    msg = sm.track("E", user_id="u", somethingNew={"x": 1}, _metadata={"bundled": []})
    assert validate_message(msg) == []


def test_wrong_types_name_path_and_rule() -> None:
    """Fields recording does not need: warnings that name path and rule; the message records."""
    msg = sm.track("E", user_id="u", properties="not an object", context=[1])
    assert validate_message(msg) == []
    assert check_spec(msg).warnings == [
        "context: [1] is not of type 'object', 'null'",
        "properties: 'not an object' is not of type 'object', 'null'",
    ]


def test_unknown_type() -> None:
    errors = validate_message(sm.message("purchase", user_id="u"))
    assert errors == [
        "type: 'purchase' is not one of ['track', 'page', 'screen', 'identify', 'group', 'alias']"
    ]


def test_oversized_message_rejected() -> None:
    msg = sm.track("Big", {"blob": "x" * MAX_MESSAGE_BYTES}, user_id="u")
    (error,) = validate_message(msg)
    assert error == f"message: {encoded_size(msg)} bytes exceeds Segment's 32768-byte (32 KB) limit"


def test_message_just_under_32_kb_accepted() -> None:
    msg = sm.track("Big", {"blob": ""}, user_id="u")
    msg["properties"]["blob"] = "x" * (MAX_MESSAGE_BYTES - encoded_size(msg))
    assert encoded_size(msg) == MAX_MESSAGE_BYTES
    assert validate_message(msg) == []


def test_size_is_utf8_bytes_not_escaped_json() -> None:
    # 2-byte characters: 32 KB of UTF-8, but 3x that once escaped as \u00e9 by ensure_ascii.
    msg = sm.track("Accents", {"text": ""}, user_id="u")
    msg["properties"]["text"] = "é" * ((MAX_MESSAGE_BYTES - encoded_size(msg)) // 2)
    assert MAX_MESSAGE_BYTES - 1 <= encoded_size(msg) <= MAX_MESSAGE_BYTES
    assert validate_message(msg) == []
    msg["properties"]["text"] += "éé"
    (error,) = validate_message(msg)
    assert error.startswith(f"message: {encoded_size(msg)} bytes exceeds")


def test_not_an_object() -> None:
    assert validate_message(["a"]) == ["message: expected a JSON object, got list"]


def test_validators_built_once_per_process() -> None:
    spec_validators()
    before = spec_validators.cache_info().misses
    for msg in VALID.values():
        validate_message(msg)
    assert spec_validators.cache_info().misses == before  # no rebuild, whatever ran first
