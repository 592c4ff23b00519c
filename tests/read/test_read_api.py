"""The read API handler, in-process against moto, with the exact event a Lambda function URL
(AWS_IAM auth, payload format 2.0) delivers: answers, and a clear 4xx for everything a caller can
get wrong (never a 5xx)."""

from __future__ import annotations

import hashlib
import io
import json
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from segment_usage.read.segments import SEGMENTS_SK
from segment_usage.read_api import COVERAGE_TTL_S, ReadApi
from segment_usage.table.coverage import extend_coverage
from support import segment_messages as sm
from support.delivery import deliver
from support.faults import failing
from support.function_url import url_event

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SEGMENTS = {
    "power_exporters": {
        "all": [
            {"trait": "report_exported", "in_last_days": 30, "at_least": 2},
            {"identify_trait": "plan", "equals": "pro"},
        ]
    },
    "beta": {"any": [{"audience": "beta_testers"}]},
}


@pytest.fixture
def api(make_runtime, dynamodb, table) -> ReadApi:
    day = NOW - timedelta(days=1)
    deliver(
        make_runtime(),
        [
            sm.page("Pricing", anonymous_id="anon-1", at=day),
            sm.identify(
                {"plan": "pro", "email": "ada@example.com"},
                user_id="ada@example.com",
                anonymous_id="anon-1",
                at=day,
            ),
            sm.track("Report Exported", user_id="ada@example.com", at=day),
            sm.track("Report Exported", user_id="ada@example.com", at=day - timedelta(days=3)),
            sm.engage_audience_identify("lin", "beta_testers", True, at=day),
        ],
    )
    text = json.dumps(SEGMENTS)
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": "CONFIG"}, "sk": {"S": SEGMENTS_SK}, "segments": {"S": text}},
    )
    env = {
        "SEGMENT_USAGE_TABLE": table,
        "SEGMENT_USAGE_SEGMENTS_SHA256": hashlib.sha256(text.encode()).hexdigest(),
    }
    return ReadApi(env, dynamodb)


def call(api: ReadApi, event: Any) -> tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]:
    out = io.StringIO()
    with redirect_stdout(out):
        response = api.handle(event, now=NOW)
    (log,) = [json.loads(line) for line in out.getvalue().splitlines()]
    return response["statusCode"], json.loads(response["body"]), response["headers"], log


def test_profile(api) -> None:
    status, body, headers, log = call(api, url_event("/v1/users/" + quote("ada@example.com")))
    assert status == 200 and headers["content-type"] == "application/json"
    assert body["user_id"] == "ada@example.com"
    assert body["traits"] == {"email": "ada@example.com", "plan": "pro"}
    assert body["usage"]["report_exported"] == {
        "count": 2,
        "first_seen": sm.iso(NOW - timedelta(days=4)),
        "last_seen": sm.iso(NOW - timedelta(days=1)),
        "last_7_days": 2,
        "last_30_days": 2,
    }
    assert body["usage"]["page_pricing"]["count"] == 1  # from the linked anonymous id
    assert body["segments"] == {"beta": False, "power_exporters": True}
    assert body["external_ids"] == [
        {"type": "user_id", "id": "ada@example.com"},
        {"type": "linked_id", "id": "anon-1"},
    ]
    assert log["status"] == 200 and "ada" not in json.dumps(log)  # no user id in logs


def test_segment_yes_no(api) -> None:
    assert call(api, url_event("/v1/users/lin", "segment=beta"))[1] == {
        "user_id": "lin",
        "segment": "beta",
        "member": True,
    }
    assert call(api, url_event("/v1/users/lin", "segment=power_exporters"))[1]["member"] is False


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        (url_event("/v1/users/ada", iam=None), 403, "forbidden"),
        (url_event("/v1/users/ada", iam={}), 403, "forbidden"),
        ({**url_event("/v1/users/ada"), "requestContext": None}, 403, "forbidden"),
        (url_event("/v1/users/nobody"), 404, "unknown_user"),
        (url_event("/v1/users/nobody", "segment=beta"), 404, "unknown_user"),
        (url_event("/v1/users/lin", "segment=nope"), 404, "unknown_segment"),
        (url_event("/v1/users/lin", "segment=Bad-Name"), 400, "bad_segment"),
        (url_event("/v1/users/lin", "segment=beta&segment=power_exporters"), 400, "bad_segment"),
        (url_event("/v1/users/lin", "limit=5"), 400, "bad_query"),
        (url_event("/v1/users/%20%20"), 400, "bad_user_id"),
        (url_event("/v1/users/%ff%fe"), 400, "bad_user_id"),
        (url_event("/v1/users/a%00b"), 400, "bad_user_id"),
        (url_event("/v1/users/" + "x" * 513), 400, "bad_user_id"),
        (url_event("/v1/users/"), 404, "no_route"),
        (url_event("/v1/users/lin/events"), 404, "no_route"),
        (url_event("/"), 404, "no_route"),
        (url_event("/v1/users/lin", method="POST"), 405, "method_not_allowed"),
        ("not an event", 400, "bad_event"),
    ],
)
def test_client_errors_are_clear_4xx(api, event, status, code) -> None:
    got_status, body, _, log = call(api, event)
    assert (got_status, body["error"]["code"]) == (status, code)
    assert body["error"]["message"]
    assert log["status"] == status and log["level"] == "INFO"


def test_definitions_changed_under_the_function_answer_503_then_recover(
    api, dynamodb, table
) -> None:
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": "CONFIG"}, "sk": {"S": SEGMENTS_SK}, "segments": {"S": "{}"}},
    )
    status, body, headers, _ = call(api, url_event("/v1/users/lin"))
    assert (status, body["error"]["code"], headers["retry-after"]) == (
        503,
        "segments_unavailable",
        "1",
    )
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": "CONFIG"},
            "sk": {"S": SEGMENTS_SK},
            "segments": {"S": json.dumps(SEGMENTS)},
        },
    )
    assert call(api, url_event("/v1/users/lin"))[0] == 200


def test_dynamodb_failures_are_5xx_and_say_so(api, dynamodb) -> None:
    with failing(dynamodb, "Query"):
        status, body, headers, log = call(api, url_event("/v1/users/lin"))
    assert (status, body["error"]["code"], headers["retry-after"]) == (503, "throttled", "1")
    assert log["level"] == "ERROR"
    with failing(dynamodb, "Query", code="AccessDeniedException"):
        status, body, _, _ = call(api, url_event("/v1/users/lin"))
    assert (status, body["error"]) == (500, {"code": "aws_error", "message": "table error"})


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "GET /v1/users/lin",
        {"requestContext": "x"},
        {"requestContext": {"authorizer": {"iam": {"accountId": "1"}}, "http": []}},
        {"requestContext": {"authorizer": {"iam": {"accountId": "1"}}}, "rawPath": 7},
        {"requestContext": {"authorizer": {"iam": {"accountId": "1"}}}, "rawQueryString": {}},
    ],
)
def test_malformed_events_are_4xx_never_a_crash(api, event) -> None:
    status, body, _, _ = call(api, event)
    assert 400 <= status < 500 and set(body["error"]) == {"code", "message"}


def test_no_internals_in_5xx_and_never_a_502(api, dynamodb, table, monkeypatch) -> None:
    """A fault of ours is a 500 that names nothing (no table, no exception text)."""
    monkeypatch.setattr(type(api), "_reader", lambda self: 1 / 0)
    status, body, _, log = call(api, url_event("/v1/users/lin"))
    assert (status, body["error"]) == (500, {"code": "internal", "message": "internal error"})
    assert table not in json.dumps(body) and log["level"] == "ERROR"


def test_a_trait_beyond_any_float_still_answers(dynamodb, table, make_runtime) -> None:
    """plan = 10**400 (an int no float holds) beside an identify_trait segment: 200, not 502."""
    deliver(make_runtime(), [sm.identify({"plan": 10**400, "seats": 10**400}, user_id="big")])
    segments = {
        "big_plans": {"all": [{"identify_trait": "seats", "at_least": 5}]},
        "pro": {"any": [{"identify_trait": "plan", "equals": "pro"}]},
    }
    text = json.dumps(segments)
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": "CONFIG"}, "sk": {"S": SEGMENTS_SK}, "segments": {"S": text}},
    )
    sha = hashlib.sha256(text.encode()).hexdigest()
    api = ReadApi({"SEGMENT_USAGE_TABLE": table, "SEGMENT_USAGE_SEGMENTS_SHA256": sha}, dynamodb)
    status, body, _, _ = call(api, url_event("/v1/users/big"))
    assert status == 200 and body["segments"] == {"big_plans": True, "pro": False}


def test_without_segments(dynamodb, table, make_runtime) -> None:
    deliver(make_runtime(), [sm.track("Signed Up", user_id="u1")])
    api = ReadApi({"SEGMENT_USAGE_TABLE": table}, dynamodb)
    status, body, _, _ = call(api, url_event("/v1/users/u1"))
    assert status == 200 and body["segments"] == {} and body["usage"]["signed_up"]["count"] == 1
    assert (
        call(api, url_event("/v1/users/u1", "segment=beta"))[1]["error"]["code"]
        == "unknown_segment"
    )


def test_requires_the_table() -> None:
    with pytest.raises(ValueError, match="SEGMENT_USAGE_TABLE is not set"):
        ReadApi({})


# -- unknown answers: the deployment's coverage (item CONFIG/COVERAGE, as Terraform writes it) ---

COVERED = {
    "lapsed": {"all": [{"trait": "report_exported", "not_seen_for_days": 14}]},
    "exporters": {"all": [{"trait": "report_exported", "in_last_days": 90, "at_least": 2}]},
}


@pytest.fixture
def covered_api(make_runtime, dynamodb, table) -> ReadApi:
    day = NOW - timedelta(days=1)
    deliver(
        make_runtime(),
        [
            sm.track("Report Exported", user_id="ada", at=day),
            sm.track("Report Exported", user_id="ada", at=day - timedelta(days=3)),
            sm.track("Signed Up", user_id="lin", at=day),
        ],
    )
    text = json.dumps(COVERED)
    for sk, attribute, value in (
        (SEGMENTS_SK, "segments", text),
        ("COVERAGE", "deployed", (NOW - timedelta(days=5)).date().isoformat()),
    ):
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": "CONFIG"}, "sk": {"S": sk}, attribute: {"S": value}},
        )
    env = {
        "SEGMENT_USAGE_TABLE": table,
        "SEGMENT_USAGE_SEGMENTS_SHA256": hashlib.sha256(text.encode()).hexdigest(),
    }
    return ReadApi(env, dynamodb)


def test_unknown_segments_answer_null_with_the_reason(covered_api, dynamodb, table) -> None:
    status, body, _, log = call(covered_api, url_event("/v1/users/lin", "segment=lapsed"))
    assert status == 200 and body["member"] is None
    assert body["reason"] == (
        "trait report_exported: not seen for 14 days: coverage starts 2026-11-17; the last 14 "
        "days reach before it"
    )
    assert "lin" not in json.dumps(log)
    # What was seen decides where it can: ada exported yesterday (not lapsed), twice (>= 2).
    status, body, _, _ = call(covered_api, url_event("/v1/users/ada"))
    assert body["segments"] == {"exporters": True, "lapsed": False}
    assert "segment_reasons" not in body
    status, body, _, _ = call(covered_api, url_event("/v1/users/lin"))
    assert body["segments"] == {"exporters": None, "lapsed": None}
    assert set(body["segment_reasons"]) == {"exporters", "lapsed"}
    assert body["segment_reasons"]["exporters"].startswith(
        "trait report_exported: count in last 90 days >= 2: coverage starts 2026-11-17; 0 in"
    )


def test_a_backfill_lowers_coverage_and_the_answers_follow(covered_api, dynamodb, table) -> None:
    assert call(covered_api, url_event("/v1/users/lin", "segment=lapsed"))[1]["member"] is None
    assert extend_coverage(dynamodb, table, (NOW - timedelta(days=400)).date().isoformat())
    # A running container keeps the coverage it read until COVERAGE_TTL_S passes...
    assert call(covered_api, url_event("/v1/users/lin", "segment=lapsed"))[1]["member"] is None
    covered_api.coverage_read_at -= COVERAGE_TTL_S + 1
    body = call(covered_api, url_event("/v1/users/lin", "segment=lapsed"))[1]
    assert body == {"user_id": "lin", "segment": "lapsed", "member": True}
    # ... and without the item (a deployment older than coverage) answers from the data alone.
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "CONFIG"}, "sk": {"S": "COVERAGE"}})
    covered_api.coverage_read_at -= COVERAGE_TTL_S + 1
    assert call(covered_api, url_event("/v1/users/lin"))[1]["segments"] == {
        "exporters": False,
        "lapsed": True,
    }
