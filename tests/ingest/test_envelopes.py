"""The three ways in are told apart, and anything else gets an error that says what was expected."""

from __future__ import annotations

import json

from segment_usage.ingest.envelopes import DIRECT, EVENTBRIDGE, SQS, unwrap
from support import segment_messages as sm


def test_direct_message() -> None:
    msg = sm.track("E", user_id="u")
    path, (item,) = unwrap(msg)
    assert (path, item.path, item.payload, item.error) == (DIRECT, DIRECT, msg, None)


def test_direct_message_as_json_string() -> None:
    msg = sm.track("E", user_id="u")
    path, (item,) = unwrap(json.dumps(msg))
    assert (path, item.payload, item.error) == (DIRECT, msg, None)


def test_eventbridge_partner_event() -> None:
    msg = sm.identify({"plan": "pro"}, user_id="u")
    path, (item,) = unwrap(sm.eventbridge_event(msg))
    assert (path, item.payload, item.error) == (EVENTBRIDGE, msg, None)


def test_eventbridge_from_another_source_is_refused() -> None:
    path, (item,) = unwrap(sm.eventbridge_event(sm.track("E", user_id="u"), source="aws.ec2"))
    assert path == EVENTBRIDGE and item.payload is None
    assert (
        item.error
        == "source: 'aws.ec2' is not a Segment partner source (aws.partner/segment.com/<id>)"
    )


def test_sqs_records_of_eventbridge_events_keep_record_ids() -> None:
    first, second = sm.track("A", user_id="u"), sm.page("P", user_id="u")
    event = sm.sqs_event([sm.eventbridge_event(first), sm.eventbridge_event(second)])
    path, items = unwrap(event)
    assert path == SQS
    assert [i.payload for i in items] == [first, second]
    assert [i.record_id for i in items] == [r["messageId"] for r in event["Records"]]


def test_sqs_record_that_is_not_json() -> None:
    path, (item,) = unwrap(sm.sqs_event(["{not json"]))
    assert path == SQS and item.record_id
    assert (
        item.error
        == "body: not valid JSON (Expecting property name enclosed in double quotes at 1)"
    )
    assert item.raw == "{not json"


def test_direct_payload_that_is_not_json() -> None:
    path, (item,) = unwrap("hello")
    assert (path, item.raw) == (DIRECT, "hello")
    assert item.error == "message: not valid JSON (Expecting value at 0)"


def test_unknown_envelopes() -> None:
    for event in ({"hello": "world"}, None, 42, {"Records": [{"eventSource": "aws:s3"}]}):
        path, (item,) = unwrap(event)
        assert path == DIRECT and item.payload is None
        assert item.error.startswith("envelope: expected a Segment message"), event


def test_a_json_array_is_handled_element_by_element() -> None:
    message = sm.track("Clicked", user_id="u1")
    path, items = unwrap([sm.eventbridge_event(message), sm.eventbridge_event(message)])
    assert path == EVENTBRIDGE and [i.payload for i in items] == [message, message]
    path, (good, bad) = unwrap([message, 7])
    assert path == DIRECT and good.payload == message and bad.payload is None
    assert bad.error.startswith("[1]: expected an EventBridge event")
    path, (item,) = unwrap([])
    assert item.payload is None and item.error == "envelope: an empty JSON array"


def test_an_array_over_the_limit_is_kept_element_by_element_never_cut() -> None:
    """Every element of an over-long array is kept whole, as its own item, kind "limit", so that
    ``segment-usage replay --kind limit`` records each one; nothing is cut or lost."""
    messages = [sm.track("Clicked", user_id=f"u{n}") for n in range(101)]
    path, items = unwrap(messages)
    assert path == DIRECT and len(items) == 101
    assert all(
        item.kind == "limit" and item.payload == m for item, m in zip(items, messages, strict=True)
    )
    assert items[7].error.startswith("envelope: element 7 of a JSON array of 101 events")
