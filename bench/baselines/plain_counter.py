"""Baseline: the approach of Segment's sample handlers (segmentio/segment-lambda-recipes).

Each track/page/screen message does one ``UpdateItem`` on a per-user item: ``ADD`` 1 to a counter
named after the event (or page/screen name) and ``SET`` last_seen. No dedup: a redelivered message
is counted again.
"""

from __future__ import annotations

import json
from typing import Any

USAGE_TYPES = ("track", "page", "screen")


def create_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def counter_name(message: dict[str, Any]) -> str:
    name = message.get("event") if message["type"] == "track" else message.get("name")
    return f"{message['type']}:{name or ''}"


def count(client: Any, table: str, message: dict[str, Any]) -> bool:
    """ADD 1 to the message's counter; False if it is not a usage message."""
    if message.get("type") not in USAGE_TYPES:
        return False
    subject = message.get("userId") or message.get("anonymousId")
    client.update_item(
        TableName=table,
        Key={"pk": {"S": f"USER#{subject}"}},
        UpdateExpression="ADD #c :one SET #l = :ts",
        ExpressionAttributeNames={"#c": counter_name(message), "#l": "last_seen"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":ts": {"S": message["timestamp"]}},
    )
    return True


def message_of(event: dict[str, Any]) -> dict[str, Any]:
    """The Segment message in a direct payload or an EventBridge event."""
    return event["detail"] if "detail-type" in event else event


class PlainCounter:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        if "Records" in event:
            for record in event["Records"]:
                count(self.client, self.table, message_of(json.loads(record["body"])))
            return {"batchItemFailures": []}
        count(self.client, self.table, message_of(event))
        return {"status": "ok"}


def read_counts(client: Any, table: str) -> dict[tuple[str, str, str], int]:
    """(userId, type, name) -> count, from every counter item."""
    counts: dict[tuple[str, str, str], int] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            user = item["pk"]["S"].removeprefix("USER#")
            for name, value in item.items():
                if ":" in name and "N" in value:
                    call_type, event = name.split(":", 1)
                    counts[(user, call_type, event)] = int(value["N"])
        if "LastEvaluatedKey" not in page:
            return counts
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
