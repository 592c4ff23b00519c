"""One JSON summary line per invocation, EMF metrics by call type, and no PII in any line."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from segment_usage.handler import RecordingFailed
from segment_usage.observability import LEVELS, LOG_LEVEL_ENV
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
    bad = sm.page("Home", user_id="u1", **sm.NO_TIME)
    event = sm.sqs_event(
        [sm.eventbridge_event(m) for m in (track, track, identify_with_pii(), bad)]
    )
    response, lines = log_lines(runtime, event)
    assert response == {"batchItemFailures": []}
    summary, *emf = lines
    assert datetime.fromisoformat(summary.pop("timestamp")).utcoffset().total_seconds() == 0
    assert summary == {
        "level": "WARN",  # a message was rejected
        "message": "segment-usage invocation",
        "path": "sqs",
        "requestId": None,
        "accepted": 2,
        "duplicate": 1,
        "rejected": 1,
        "failed": 0,
        "buffered": 0,
        "plan_error": 0,
        "suppressed": 0,
        "erased": 0,
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
        "Buffered",
        "PlanErrors",
        "Suppressed",
        "Erased",
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


def test_no_sender_chosen_key_in_any_log_line(make_runtime) -> None:
    """A trait or property *key* can be personal data: it never reaches a log line, whether the
    message is rejected by the plan, rejected by the Spec or recorded with a warning."""
    key = "jane.doe@example.com"
    runtime = make_runtime(
        tracking_plan=json.dumps({"identify": {"additionalProperties": {"type": "integer"}}}),
        tracking_plan_mode="block",
    )
    blocked = sm.identify({key: "x"}, user_id="u1")
    spec = sm.identify({key: 1}, user_id=None, anonymous_id=None)
    odd = sm.track("Clicked", {key: "\ud800"}, user_id="u1")
    text = "".join(str(log_lines(runtime, m)[1]) for m in (blocked, spec, odd))
    assert "jane" not in text and "example.com" not in text
    assert "traits" in text  # the top-level field is named


def lambda_keeps(line: str, configured: str) -> bool:
    """Lambda's application log-level filter for a JSON line (JSON log format).

    As documented (Lambda > Log-level filtering): a line whose "level" is missing or invalid, or
    whose "timestamp" is not RFC 3339, counts as INFO; a line below the configured level is dropped.
    """
    document = json.loads(line)
    level = str(document.get("level", "")).upper()
    try:
        datetime.fromisoformat(str(document.get("timestamp")).replace("Z", "+00:00"))
    except ValueError:
        level = "INFO"
    if level not in LEVELS:
        level = "INFO"
    return LEVELS.index(level) >= LEVELS.index(configured)


def emitted(runtime, event, monkeypatch, configured: str | None) -> tuple[list[str], object]:
    import contextlib
    import io

    if configured is None:
        monkeypatch.delenv(LOG_LEVEL_ENV, raising=False)
    else:
        monkeypatch.setenv(LOG_LEVEL_ENV, configured)
    out = io.StringIO()
    outcome: object = None
    with contextlib.redirect_stdout(out):
        try:
            outcome = runtime.handle(event)
        except RecordingFailed as exc:
            outcome = exc
    return out.getvalue().splitlines(), outcome


@pytest.mark.parametrize("configured", LEVELS)
def test_lines_survive_lambdas_level_filter(
    make_runtime, dynamodb, monkeypatch, configured
) -> None:
    """Metrics pass every configured level; failures pass WARN and ERROR; routine lines are INFO."""
    runtime = make_runtime()
    ok = sm.sqs_event([sm.eventbridge_event(sm.track("Clicked", user_id="u1"))])
    lines, _ = emitted(runtime, ok, monkeypatch, configured)
    summary, *metrics = lines
    assert metrics, "no EMF line"
    for line in lines:
        document = json.loads(line)
        assert document["level"] in LEVELS and "timestamp" in document
    # The metric lines reach CloudWatch whatever the level (else the alarms on them go blind).
    assert all(lambda_keeps(m, configured) for m in metrics)
    assert lambda_keeps(summary, configured) == (LEVELS.index(configured) <= LEVELS.index("INFO"))

    with failing(dynamodb, "PutItem"), failing(dynamodb, "UpdateItem"):
        lines, outcome = emitted(runtime, identify_with_pii(), monkeypatch, configured)
    summary, *metrics = lines
    assert json.loads(summary)["level"] == "ERROR" and json.loads(summary)["failed"] == 1, outcome
    assert lambda_keeps(summary, configured) == (configured != "FATAL")
    assert all(lambda_keeps(m, configured) for m in metrics)


def test_metric_lines_are_info_without_a_configured_level(make_runtime, monkeypatch) -> None:
    lines, _ = emitted(make_runtime(), sm.track("Clicked", user_id="u1"), monkeypatch, None)
    _, *metrics = lines
    assert metrics and {json.loads(m)["level"] for m in metrics} == {"INFO"}


def test_a_hand_off_is_a_warning(make_runtime, dynamodb, moto_url, table, monkeypatch) -> None:
    """Recording failed but the message is safe on the buffer queue: WARN, kept at WARN."""
    from support.moto_server import boto3_client

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    url = boto3_client("sqs", moto_url).create_queue(QueueName=f"{table}-buffer")["QueueUrl"]
    runtime = make_runtime(buffer_queue_url=url)
    with failing(dynamodb, "PutItem"), failing(dynamodb, "UpdateItem"):
        lines, outcome = emitted(runtime, sm.track("Clicked", user_id="u1"), monkeypatch, "WARN")
    summary = json.loads(lines[0])
    assert (summary["level"], summary["buffered"], summary["failed"]) == ("WARN", 1, 0), outcome
    assert lambda_keeps(lines[0], "WARN") and not lambda_keeps(lines[0], "ERROR")
