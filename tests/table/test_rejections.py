"""Bad input: a clear error naming the field, kept with its reason, path and raw text; never a crash."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from segment_usage.read.view import Reader
from support import segment_messages as sm
from support.delivery import deliver

GOOD = sm.track("Clicked", user_id="u1")
ENVELOPE_CASES = {"not json", "unknown envelope"}

BAD = {
    "not json": (
        "{oops",
        "not valid JSON (Expecting property name enclosed in double quotes at 1)",
    ),
    "wrong types": (
        sm.track(["not", "a", "string"], user_id="u1", properties=7),
        "event: ['not', 'a', 'string'] is not of type 'string'",
    ),
    "missing ids": (
        sm.track("Clicked", user_id=None, anonymous_id=None),
        "message: userId or anonymousId is required (a JSON null counts as absent)",
    ),
    "oversized": (
        sm.track("Clicked", {"blob": "x" * 40_000}, user_id="u1"),
        "bytes exceeds Segment's 32768-byte (32 KB) limit",
    ),
    "101-character messageId": (
        sm.track("Clicked", user_id="u1", message_id="m" * 101),
        f"messageId: {'m' * 101!r} is too long",
    ),
    "no usable time": (
        sm.track(
            "Clicked",
            user_id="u1",
            timestamp="2026-11-31T10:00:00Z",
            originalTimestamp=None,
            sentAt="soon",
            receivedAt=None,
        ),
        "timestamp: no usable time: timestamp, receivedAt, originalTimestamp and sentAt are all "
        "missing or not ISO-8601 date-times",
    ),
    "unknown type": (
        sm.message("purchase", user_id="u1"),
        "type: 'purchase' is not one of ['track', 'page', 'screen', 'identify', 'group', 'alias']",
    ),
    "unknown envelope": (
        {"Message": "hi", "Subject": "sns?"},
        "envelope: expected a Segment message",
    ),
}


def _cases() -> list[tuple[str, str]]:
    """Every bad input by every path that can carry it (EventBridge carries only JSON objects)."""
    cases = [(path, case) for path in ("direct", "sqs") for case in sorted(BAD)]
    return cases + [
        ("eventbridge", c) for c in sorted(BAD) if c not in ("not json", "unknown envelope")
    ]


def _wrap(path: str, payload):
    if path == "direct":
        return payload
    if path == "eventbridge":
        return sm.eventbridge_event(payload)
    body = sm.eventbridge_event(payload) if _is_message(payload) else payload
    return sm.sqs_event([body, sm.eventbridge_event(GOOD)])


def _is_message(payload) -> bool:
    return isinstance(payload, dict) and "type" in payload


@pytest.mark.parametrize(("path", "case"), _cases())
def test_bad_input_rejected_and_kept(path, case, make_runtime, dynamodb, table) -> None:
    payload, expected = BAD[case]
    with contextlib.redirect_stdout(io.StringIO()):
        response = make_runtime().handle(_wrap(path, payload))
    if path == "sqs":
        assert response == {"batchItemFailures": []}  # acknowledged: retrying cannot fix it
    else:
        assert response["status"] == "rejected"
        assert any(expected in e for e in response["errors"]), response
    (kept,) = Reader(dynamodb, table).rejected()
    assert any(expected in reason for reason in kept["reasons"]), kept
    assert (kept["path"], kept["kind"]) == (
        path,
        "envelope" if case in ENVELOPE_CASES else "invalid",
    )
    if isinstance(payload, str):
        assert kept["raw"] == payload
    else:
        assert json.loads(kept["raw"]) == payload  # the message itself, ready to replay


def test_rejection_retried_is_kept_once(make_runtime, dynamodb, table) -> None:
    payload = BAD["missing ids"][0]
    deliver(make_runtime(), [payload, payload, payload])
    assert len(Reader(dynamodb, table).rejected()) == 1


def test_first_error_names_field_for_each_call_type(make_runtime) -> None:
    bad_group = sm.group("g", user_id="u1")
    del bad_group["groupId"]
    (response,) = deliver(make_runtime(), [bad_group])
    assert response["errors"] == ["groupId: is required"]


@pytest.mark.all_shards
def test_a_flood_of_invalid_messages_puts_no_key_above_one_percent() -> None:
    """Anyone with the write key can send invalid messages: 5,000 distinct ones (a second of a
    flood) land on the 256 shards with no partition key over 1% of the writes."""
    from collections import Counter

    from segment_usage.table.rejected import SHARDS, rejection_items

    keys = Counter()
    for n in range(5_000):
        message = sm.track("Clicked", user_id=None, anonymous_id=None, message_id=f"flood-{n}")
        (item,) = rejection_items(
            kind="invalid",
            path="direct",
            raw=json.dumps(message),
            reasons=["message: userId or anonymousId is required"],
            payload=message,
            retention_days=90,
        )
        keys[item["pk"]["S"]] += 1
    assert SHARDS == 256 and len(keys) == SHARDS
    assert max(keys.values()) / 5_000 < 0.01, keys.most_common(3)
