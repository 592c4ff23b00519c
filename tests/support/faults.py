"""Inject AWS failures into a real boto3 client, the way DynamoDB reports them, for chosen calls.

A ``before-call`` hook answers instead of the server, after botocore's own retries would have run
out: the code under test sees exactly the ClientError a throttled or failing DynamoDB gives it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse

THROTTLED = "ProvisionedThroughputExceededException"


@contextmanager
def failing(
    client: Any,
    operation: str,
    *,
    code: str = THROTTLED,
    status: int = 400,
    when: Callable[[dict[str, Any]], bool] | None = None,
    times: int | None = None,
    message: str = "injected by tests/support/faults.py",
) -> Iterator[dict[str, int]]:
    """Make ``operation`` (e.g. "PutItem") fail with ``code`` while the block runs.

    ``when`` picks calls by their request parameters; ``times`` caps how many calls fail.
    Yields a counter of the calls that were failed.
    """
    counter = {"failed": 0}

    def hook(params: dict[str, Any], **_: Any) -> Any:
        if times is not None and counter["failed"] >= times:
            return None
        if when is not None and not when(json.loads(params["body"])):
            return None
        counter["failed"] += 1
        response = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return AWSResponse("https://dynamodb.invalid", status, {}, None), response

    event = f"before-call.dynamodb.{operation}"
    client.meta.events.register(event, hook, unique_id=f"fault-{id(hook)}")
    try:
        yield counter
    finally:
        client.meta.events.unregister(event, unique_id=f"fault-{id(hook)}")


def key_startswith(attribute: str, prefix: str) -> Callable[[dict[str, Any]], bool]:
    """Match requests whose Item/Key ``attribute`` (pk or sk) starts with ``prefix``."""

    def match(request: dict[str, Any]) -> bool:
        key = request.get("Item") or request.get("Key") or {}
        if "ExpressionAttributeValues" in request and not key:
            values = request["ExpressionAttributeValues"]
            return any(v.get("S", "").startswith(prefix) for v in values.values())
        return key.get(attribute, {}).get("S", "").startswith(prefix)

    return match


def count_conflicts(client: Any) -> dict[str, int]:
    """Count, from now on, the conditional writes this client loses (optimistic-lock conflicts)."""
    counter = {"conflicts": 0, "requests": 0}

    def hook(parsed: dict[str, Any], **_: Any) -> None:
        counter["requests"] += 1
        if parsed.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            counter["conflicts"] += 1

    client.meta.events.register("after-call.dynamodb", hook, unique_id=f"conflicts-{id(hook)}")
    return counter


@contextmanager
def outage(client: Any, code: str = "InternalServerError", status: int = 500) -> Iterator[None]:
    """Every DynamoDB operation the handler uses fails, as during a regional outage."""
    operations = ("Query", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem")
    with contextlib.ExitStack() as stack:
        for operation in operations:
            stack.enter_context(failing(client, operation, code=code, status=status))
        yield
