"""One JSON summary line per invocation, EMF metrics by call type, and no PII in any line."""

from __future__ import annotations

from segment_usage.handler import RecordingFailed
from support import segment_messages as sm
from support.delivery import log_lines
from support.faults import failing

PII = ["ada@example.com", "Ada Lovelace", "+44 20 7946 0958", "203.0.113.7", "10 Downing"]


def identify_with_pii(**kw) -> dict:
    traits = {"email": PII[0], "name": PII[1], "phone": PII[2], "address": {"street": PII[4]}}
    return sm.identify(traits, user_id="u1", **kw)


def test_summary_line_and_emf_per_call_type(make_runtime) -> None:
    runtime = make_runtime()
    track = sm.track("Clicked", user_id="u1")
    bad = sm.page("Home", user_id="u1", timestamp="soon")
    event = sm.sqs_event(
        [sm.eventbridge_event(m) for m in (track, track, identify_with_pii(), bad)]
    )
    response, lines = log_lines(runtime, event)
    assert response == {"batchItemFailures": []}
    summary, *emf = lines
    assert summary == {
        "level": "INFO",
        "message": "segment-usage invocation",
        "path": "sqs",
        "requestId": None,
        "accepted": 2,
        "duplicate": 1,
        "rejected": 1,
        "failed": 0,
        "rejections": [{"messageId": bad["messageId"], "fields": ["timestamp"]}],
    }
    by_type = {doc["CallType"]: doc for doc in emf}
    assert sorted(by_type) == ["identify", "page", "track"]
    assert (by_type["track"]["Accepted"], by_type["track"]["Duplicate"]) == (1, 1)
    assert by_type["page"]["Rejected"] == 1
    directive = by_type["identify"]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "SegmentUsage" and directive["Dimensions"] == [["CallType"]]
    assert {m["Name"] for m in directive["Metrics"]} == {
        "Accepted",
        "Duplicate",
        "Rejected",
        "Failed",
    }


def test_no_pii_in_any_log_line(make_runtime, dynamodb) -> None:
    runtime = make_runtime(
        tracking_plan='{"identify": {"properties": {"email": {"type": "integer"}}}}'
    )
    invalid = identify_with_pii()
    invalid["traits"]["name"] = {"not": PII[1]}  # so the schema error would quote a value
    invalid["userId"] = 12345
    messages = [
        identify_with_pii(),
        invalid,
        sm.track("Signed In", {"email": PII[0]}, user_id="u1"),
    ]
    text = ""
    for message in messages:
        _, lines = log_lines(runtime, message)
        text += str(lines)
    with failing(dynamodb, "PutItem"):
        try:
            log_lines(runtime, identify_with_pii())
        except RecordingFailed as exc:
            text += str(exc)
    for value in PII:
        assert value not in text
