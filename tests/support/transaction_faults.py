"""Cancel TransactWriteItems calls the way DynamoDB does: ``TransactionCanceledException`` with one
cancellation reason per item (``TransactionConflict``, ``ThrottlingError``, ``None``, ...), for a
real boto3 client (a ``before-call`` hook answers instead of the server, as support/faults.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse


@contextmanager
def cancelled(client: Any, reason: str, times: int | None = None) -> Iterator[dict[str, int]]:
    """The next ``times`` transactions (every one if None) cancelled: their first item for
    ``reason``, the others ``None``. Yields a counter of the calls cancelled."""
    counter = {"cancelled": 0}

    def hook(params: dict[str, Any], **_: Any) -> Any:
        if times is not None and counter["cancelled"] >= times:
            return None
        counter["cancelled"] += 1
        items = json.loads(params["body"])["TransactItems"]
        reasons = [{"Code": reason, "Message": "injected"}] + [{"Code": "None"}] * (len(items) - 1)
        response = {
            "Error": {
                "Code": "TransactionCanceledException",
                "Message": f"Transaction cancelled, please refer cancellation reasons [{reason}]",
            },
            "CancellationReasons": reasons,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse("https://dynamodb.invalid", 400, {}, None), response

    event = "before-call.dynamodb.TransactWriteItems"
    client.meta.events.register(event, hook, unique_id=f"cancel-{id(hook)}")
    try:
        yield counter
    finally:
        client.meta.events.unregister(event, unique_id=f"cancel-{id(hook)}")
