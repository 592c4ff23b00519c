"""Each function accepts only what its trigger delivers, decided by the deployment: a Segment
message (anyone with the write key can send one) cannot pose as an SQS batch or an EventBridge
event carrying other people's messages."""

from __future__ import annotations

import contextlib
import io
import json
from types import SimpleNamespace

from segment_usage.read.view import Reader
from support import segment_messages as sm
from support.delivery import TODAY

DIRECT_ARN = "arn:aws:lambda:us-east-1:123456789012:function:segment-usage"
DIRECT_ENV = {
    "accept": json.dumps(["segment", "eventbridge"]),
    "eventbridge_qualifier": "eventbridge",
    "partner_sources": json.dumps([sm.PARTNER_SOURCE]),
}
QUEUE = "arn:aws:sqs:us-east-1:123456789012:segment-usage-buffer"


def invoke(runtime, event, arn=DIRECT_ARN):
    with contextlib.redirect_stdout(io.StringIO()):
        return runtime.handle(event, SimpleNamespace(invoked_function_arn=arn, aws_request_id="r"))


def usage(dynamodb, table, user):
    return Reader(dynamodb, table).user(user, today=TODAY).usage


def test_a_message_with_records_is_that_message_not_a_batch(make_runtime, dynamodb, table):
    runtime = make_runtime(**DIRECT_ENV)
    victim = sm.track("Password Reset", user_id="alice")
    outer = sm.track("Clicked", user_id="mallory")
    outer["Records"] = [sm.sqs_event([sm.eventbridge_event(victim)])["Records"][0]]
    assert invoke(runtime, outer)["status"] == "accepted"
    assert "clicked" in usage(dynamodb, table, "mallory")
    assert usage(dynamodb, table, "alice") == {}


def test_a_message_dressed_as_an_eventbridge_event_is_that_message(make_runtime, dynamodb, table):
    runtime = make_runtime(**DIRECT_ENV)
    victim = sm.track("Password Reset", user_id="alice")
    outer = {**sm.track("Clicked", user_id="mallory"), **sm.eventbridge_event(victim)}
    outer["type"], outer["messageId"] = "track", "smuggler-1"
    assert invoke(runtime, outer)["status"] == "accepted"
    assert usage(dynamodb, table, "alice") == {}
    # Without type/messageId of its own it is kept whole as a bad envelope, not unwrapped.
    bare = sm.eventbridge_event(victim)
    assert invoke(runtime, bare)["status"] == "rejected"
    assert usage(dynamodb, table, "alice") == {}


def test_eventbridge_events_come_through_the_qualifier_from_the_partner_source(
    make_runtime, dynamodb, table
):
    runtime = make_runtime(**DIRECT_ENV)
    via_rule = f"{DIRECT_ARN}:eventbridge"
    good = sm.track("Clicked", user_id="u1")
    assert invoke(runtime, sm.eventbridge_event(good), via_rule)["status"] == "accepted"
    other = sm.eventbridge_event(sm.track("Clicked", user_id="u2"), "aws.partner/segment.com/x")
    assert invoke(runtime, other, via_rule)["status"] == "rejected"
    raw = sm.track("Clicked", user_id="u3")  # a raw message never comes through the rule
    assert invoke(runtime, raw, via_rule)["status"] == "rejected"
    assert list(usage(dynamodb, table, "u1")) == ["clicked"]
    assert usage(dynamodb, table, "u2") == usage(dynamodb, table, "u3") == {}


def test_the_batch_function_takes_records_of_its_own_queues_only(make_runtime, dynamodb, table):
    runtime = make_runtime(accept=json.dumps(["sqs"]), queue_arns=json.dumps([QUEUE]))
    mine = sm.sqs_event([sm.eventbridge_event(sm.track("Clicked", user_id="u1"))])
    mine["Records"][0]["eventSourceARN"] = QUEUE
    theirs = sm.sqs_event([sm.eventbridge_event(sm.track("Clicked", user_id="u2"))])
    theirs["Records"][0]["eventSourceARN"] = QUEUE + "-elsewhere"
    assert invoke(runtime, mine) == invoke(runtime, theirs) == {"batchItemFailures": []}
    assert invoke(runtime, sm.track("Clicked", user_id="u3"))["status"] == "rejected"
    assert "clicked" in usage(dynamodb, table, "u1")
    assert usage(dynamodb, table, "u2") == usage(dynamodb, table, "u3") == {}
