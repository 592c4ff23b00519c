"""Errors a retry can never fix keep the message as rejected (kind ``unrecordable``) with a reason
naming the limit, and the invocation succeeds (the SQS record is acknowledged). No message fails
forever: a profile that would pass 400 KB is held to a documented trait budget instead."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from segment_usage.read.view import Reader
from segment_usage.record.profiles import MAX_PROFILE_BYTES
from segment_usage.table.errors import is_permanent
from segment_usage.table.item_size import item_size
from segment_usage.table.keys import PROFILE_SK, user_pk
from support import segment_messages as sm
from support.delivery import deliver, state
from support.faults import failing, key_startswith

TOO_LARGE = "Item size has exceeded the maximum allowed size"


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutItem",
    )


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (client_error("ValidationException", 400), True),
        (client_error("AccessDeniedException", 400), True),
        (client_error("ResourceNotFoundException", 400), True),
        (client_error("ProvisionedThroughputExceededException", 400), False),
        (client_error("ThrottlingException", 400), False),
        (client_error("RequestLimitExceeded", 400), False),
        (client_error("InternalServerError", 500), False),
        (client_error("ServiceUnavailable", 503), False),
        (ReadTimeoutError(endpoint_url="https://dynamodb"), False),
    ],
)
def test_classification(error, permanent) -> None:
    assert is_permanent(error) is permanent


@pytest.mark.parametrize("path", ["direct", "eventbridge", "sqs"])
def test_validation_exception_keeps_the_message_and_succeeds(
    path, make_runtime, dynamodb, table
) -> None:
    runtime = make_runtime()
    msg = sm.track("Exported", user_id="u1")
    with failing(
        dynamodb,
        "PutItem",
        code="ValidationException",
        message=TOO_LARGE,
        when=key_startswith("sk", "D#"),
    ) as injected:
        (response,) = deliver(runtime, [msg], path=path)
    assert injected["failed"] == 1  # tried once: never retried
    if path == "sqs":
        assert response == {"batchItemFailures": []}  # acknowledged
    else:
        assert response["status"] == "rejected"
    (kept,) = Reader(dynamodb, table).rejected()
    assert kept["kind"] == "unrecordable" and kept["messageId"] == msg["messageId"]
    assert kept["reasons"] == [
        "DynamoDB PutItem: ValidationException: the item would exceed DynamoDB's 400 KB item "
        "size limit"
    ]
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["messagesRecorded"] == 0
    assert state(dynamodb, table, [])["catalog"] == []


def test_item_too_large_names_the_400_kb_limit(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    msg = sm.identify({"plan": "pro"}, user_id="u1")
    with failing(
        dynamodb,
        "PutItem",
        code="ValidationException",
        message=TOO_LARGE,
        when=key_startswith("sk", "P"),
    ):
        (response,) = deliver(runtime, [msg])
    assert response["status"] == "rejected"
    assert "400 KB item size limit" in response["errors"][0]


def test_another_4xx_is_permanent_and_says_a_retry_cannot_help(make_runtime) -> None:
    runtime = make_runtime()
    with failing(
        runtime.store.client,
        "PutItem",
        code="AccessDeniedException",
        when=key_startswith("sk", "D#"),
    ):
        (response,) = deliver(runtime, [sm.track("Exported", user_id="u1")])
    assert response["status"] == "rejected"
    assert "AccessDeniedException" in response["errors"][0]
    assert "a retry cannot change that" in response["errors"][0]


def test_catalog_validation_exception_takes_the_message_back(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    msg = sm.page("Home", user_id="u1")
    with failing(dynamodb, "UpdateItem", code="ValidationException"):
        (response,) = deliver(runtime, [msg])
    assert response["status"] == "rejected"
    assert response["errors"][0].startswith("event catalog: DynamoDB UpdateItem")
    # taken back out of its bucket: a replay after the fix records it, and counts it once
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["messagesRecorded"] == 0
    assert deliver(runtime, [msg])[0]["status"] == "accepted"


def test_profile_never_passes_its_trait_budget(make_runtime, dynamodb, table) -> None:
    """Identifies each under Segment's 32 KB that together would pass 400 KB (real moto, no fault
    injected): the one that would pass the budget is kept as rejected; the rest record."""
    runtime = make_runtime()
    big = "x" * 30_000
    messages = [sm.identify({f"notes_{n}": big, "plan": "pro"}, user_id="u1") for n in range(14)]
    responses = deliver(runtime, messages)
    statuses = [r["status"] for r in responses]
    fits = (MAX_PROFILE_BYTES - 1_000) // 30_020
    assert statuses == ["accepted"] * fits + ["rejected"] * (14 - fits)
    reason = responses[-1]["errors"][0]
    assert "350,000-byte trait budget" in reason and "400 KB" in reason
    item = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": user_pk("u1")}, "sk": {"S": PROFILE_SK}}
    )["Item"]
    assert item_size(item) <= MAX_PROFILE_BYTES
    # Redelivered: rejected again at once (acknowledged), never a failure; usage unaffected.
    assert deliver(runtime, messages[-1:])[0]["status"] == "rejected"
    assert deliver(runtime, [sm.identify({"plan": "team"}, user_id="u1")])[0]["status"] == (
        "accepted"
    )
    assert state(dynamodb, table, ["u1"])["users"]["u1"]["traits"]["plan"] == "team"
    kinds = {k["kind"] for k in Reader(dynamodb, table).rejected()}
    assert kinds == {"unrecordable"}


def test_sqs_batch_with_one_over_budget_acknowledges_everything(
    make_runtime, dynamodb, table
) -> None:
    runtime = make_runtime()
    big = "y" * 30_000
    messages = [sm.identify({f"t{n}": big}, user_id="u2") for n in range(13)]
    messages.append(sm.track("Clicked", user_id="u2"))
    responses = deliver(runtime, messages, path="sqs", batch=14)
    assert responses == [{"batchItemFailures": []}]
    rejected = Reader(dynamodb, table).rejected()
    assert len(rejected) >= 1 and {k["kind"] for k in rejected} == {"unrecordable"}
    assert state(dynamodb, table, ["u2"])["users"]["u2"]["usage"]["clicked"]["count"] == 1


def test_a_kept_item_always_fits_dynamodb_whatever_it_keeps() -> None:
    """Otherwise keeping a rejection would itself fail on every retry; and nothing is cut: the
    raw text goes on in part items that join back to exactly what came."""
    from segment_usage.table.rejected import Kept, rejection_items

    raw = "\U0001f600" * 200_000  # 800 KB of 4-byte characters
    items = rejection_items(
        kind="envelope",
        path="direct",
        raw=raw,
        reasons=["\u20ac" * 5_000] * 100,
        payload={"messageId": "\u20ac" * 500, "type": "\u20ac" * 500},
        retention_days=3650,
    )
    assert all(item_size(item) <= 400 * 1024 for item in items)
    assert len(items) == 3
    kept = Kept.from_item(items[0], [item["raw"]["S"] for item in items[1:]])
    assert kept.raw == raw and kept.parts == 3
