"""Item 1 of issue 11: the execution roles grant what the handler calls, derived from real runs.

The roles themselves are read back from IAM after a real apply in test_examples_apply.py
(aws_checks.check_execution_role compares them with the ``handler_calls`` fixture). Here: the
recording sees what it must, so that comparison can fail both ways.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.terraform


def test_recording_sees_every_path(handler_calls: dict[str, Any]) -> None:
    direct, batch = handler_calls["direct"], handler_calls["batch"]
    table, queue_url = handler_calls["table"], handler_calls["queue_url"]
    # Writes, reads and the stored tracking plan, on the table only.
    for recorded in (direct, batch):
        actions = recorded.actions("dynamodb")
        assert {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
        } <= actions
        for action in actions:
            assert recorded.calls[action] <= {table}, (action, recorded.calls[action])
    # The late path's transaction ran, and was recorded as the Put and Update it holds.
    assert direct.transactions >= 1
    # The direct path hands off to the buffer queue, and sends nowhere else.
    assert direct.actions("sqs") == {"sqs:SendMessage"}
    assert direct.calls["sqs:SendMessage"] == {queue_url}
    # The batch function is fed by the event source mapping and never calls SQS itself.
    assert batch.actions("sqs") == set()
    # Nothing but DynamoDB and SQS.
    assert {a.split(":")[0] for r in (direct, batch) for a in r.calls} <= {"dynamodb", "sqs"}


def test_delete_messages_need_delete_item_and_nothing_else_new(
    handler_calls: dict[str, Any],
) -> None:
    """Issue 17: with erasure.delete_messages a delete message erases on either ingest path; that
    takes dynamodb:DeleteItem (on the table only), which the roles get only then, and no action
    beyond those the functions already make (test_examples_apply compares the local example's
    roles, which enable it, with these recordings)."""
    table = handler_calls["table"]
    for name in ("direct", "batch"):
        plain, erasing = handler_calls[name], handler_calls[f"{name}_erasure"]
        assert set(erasing.calls) - set(plain.calls) == {"dynamodb:DeleteItem"}, name
        assert erasing.calls["dynamodb:DeleteItem"] == {table}
        assert "dynamodb:DeleteItem" not in plain.calls


def test_handler_makes_no_call_the_module_stopped_granting(handler_calls: dict[str, Any]) -> None:
    """DeleteItem (unless delete messages are enabled: see above), ConditionCheckItem
    (transactions) and KMS calls were granted and never made."""
    made = set(handler_calls["direct"].calls) | set(handler_calls["batch"].calls)
    assert not made & {
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:TransactWriteItems",
        "dynamodb:BatchWriteItem",
    }
