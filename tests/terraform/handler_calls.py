"""The AWS operations the handler really makes, recorded from real handler runs against moto.

The execution roles must grant exactly these (tests/terraform/test_least_privilege.py and the
role checks of test_examples_apply.py): the list is derived from what the code calls, never
restated from the policy. Every botocore client created while ``recorded_runs`` runs (the
handler makes its own DynamoDB client at init and its SQS client on first hand-off) gets a
``before-call`` hook through ``client.meta.events.register``; the hook notes the IAM action
(``<signing name>:<operation>``) and the resource parameter of every call.

Each function runs the workload of its path, as Lambda would invoke it:
- direct: Segment's direct invocations and EventBridge events of every call type, a rejected
  message, a duplicate, a stored tracking plan, a lost race for a day bucket (the user-day is read
  again), and a DynamoDB write that fails for a transient reason so that the message is handed off
  to the buffer queue;
- batch: SQS batches from the buffer, with a lost race (no hand-off URL in its environment);
- direct_erasure, batch_erasure: the same, plus, with SEGMENT_USAGE_DELETE_MESSAGES=true (the
  module's erasure.delete_messages), a Segment delete message for a recorded user on that path:
  what the roles of a deployment that allows erasure must grant (DeleteItem), and only those.

The CLI is not in here: operators run it with their own credentials, not with these roles.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import botocore.session

from segment_usage.handler import Runtime
from segment_usage.record import days
from segment_usage.settings import Settings
from segment_usage.table.keys import user_pk
from support import segment_messages as sm
from support.faults import failing, key_startswith
from support.moto_server import FAKE_CREDENTIALS, boto3_client
from support.tables import create_table

_names = itertools.count()
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
PLAN = '{"track": {"Signed Up": {"properties": {"plan": {"type": "string"}}}}}'


@dataclass
class Recorded:
    """IAM action -> the resources (TableName, QueueUrl) it was called on."""

    calls: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    transactions: int = 0  # TransactWriteItems calls, recorded as the actions of their entries

    def actions(self, prefix: str) -> set[str]:
        return {a for a in self.calls if a.startswith(prefix + ":")}


@contextlib.contextmanager
def recording(into: Recorded) -> Iterator[list[Any]]:
    """Hook every botocore client created in the block; yields the clients as they are made."""
    created: list[Any] = []
    original = botocore.session.Session.create_client

    def hook(model: Any, params: dict[str, Any], **_: Any) -> None:
        action = f"{model.service_model.signing_name}:{model.name}"
        body = params.get("body")
        request: dict[str, Any] = {}
        if isinstance(body, (bytes, str)) and body:
            try:
                request = json.loads(body)
            except ValueError:
                request = {}
        if model.name == "TransactWriteItems":
            # IAM authorises each entry as its own action: Put as dynamodb:PutItem, and so on.
            into.transactions += 1
            for entry in request.get("TransactItems", []):
                ((kind, body_of_entry),) = entry.items()
                into.calls[f"dynamodb:{TRANSACT_ACTIONS[kind]}"].add(body_of_entry["TableName"])
            return
        resource = request.get("TableName") or request.get("QueueUrl") or ""
        if not resource and "RequestItems" in request:
            resource = ",".join(sorted(request["RequestItems"]))
        into.calls[action].add(resource)

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-call", hook, unique_id="record-iam-actions")
        created.append(client)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    try:
        yield created
    finally:
        botocore.session.Session.create_client = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _client_of(created: list[Any], service: str) -> Any:
    (client,) = [c for c in created if c.meta.service_model.service_name == service]
    return client


def _lose_a_race(client: Any, run: Any) -> None:
    """Another writer takes the day bucket first, once: the handler re-reads the user-day (Query)."""
    with failing(
        client,
        "PutItem",
        code="ConditionalCheckFailedException",
        when=key_startswith("sk", "D#"),
        times=1,
    ) as failed:
        run()
    assert failed["failed"] == 1, "the lost race was not provoked"


def _user_on_check_day(today: date, prefix: str = "iam-late") -> str:
    """A user id whose partition has its rollup check day today (days.is_check_day)."""
    return next(
        uid
        for uid in (f"{prefix}-{i}" for i in range(100))
        if days.is_check_day(user_pk(uid), today)
    )


def recorded_runs(moto_url: str) -> dict[str, Any]:
    """Run each function's workload; returns its recorded calls, the table name and queue URL."""
    table = f"segment-usage-iam-{next(_names)}"
    ddb = boto3_client("dynamodb", moto_url)
    create_table(ddb, table)
    ddb.put_item(
        TableName=table,
        Item={
            "pk": {"S": "CONFIG"},
            "sk": {"S": "TRACKING_PLAN"},
            "plan": {"S": PLAN},
            "sha256": {"S": hashlib.sha256(PLAN.encode()).hexdigest()},
        },
    )
    sqs = boto3_client("sqs", moto_url)
    queue_url = sqs.create_queue(QueueName=f"{table}-buffer")["QueueUrl"]
    base = {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_url,
        "SEGMENT_USAGE_TABLE": table,
        "SEGMENT_USAGE_TRACKING_PLAN_SHA256": hashlib.sha256(PLAN.encode()).hexdigest(),
    }
    users = [f"iam-user-{i}" for i in range(3)]
    messages = [
        m
        for uid in users
        for m in (
            sm.identify({"plan": "pro"}, user_id=uid),
            sm.track("Signed Up", {"plan": "pro"}, user_id=uid),
            sm.page("Home", user_id=uid),
            sm.screen("Settings", user_id=uid),
            sm.group("g-1", {"name": "Acme"}, user_id=uid),
        )
    ] + [sm.alias("anon-1", users[0]), sm.page("Home", user_id=users[0], **sm.NO_TIME)]

    direct, batch = Recorded(), Recorded()
    erase_direct, erase_batch = Recorded(), Recorded()
    try:
        _run(base, queue_url, messages, users, direct, batch)
        _run_erasure(base, users, erase_direct, erase_batch)
    finally:  # the moto backend is shared by every server in this process: leave nothing behind
        sqs.delete_queue(QueueUrl=queue_url)
        ddb.delete_table(TableName=table)
    return {
        "direct": direct,
        "batch": batch,
        "direct_erasure": _union(direct, erase_direct),
        "batch_erasure": _union(batch, erase_batch),
        "table": table,
        "queue_url": queue_url,
    }


def _union(*recorded: Recorded) -> Recorded:
    merged = Recorded()
    for r in recorded:
        for action, resources in r.calls.items():
            merged.calls[action] |= resources
        merged.transactions += r.transactions
    return merged


def _delete_message(user_id: str) -> dict[str, Any]:
    """What Segment's webhooks and destination functions forward for a deletion request."""
    return {
        "type": "delete",
        "userId": user_id,
        "messageId": f"delete-{user_id}-{next(_names)}",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


def _run_erasure(base: dict[str, str], users: list[str], direct: Recorded, batch: Recorded) -> None:
    """A delete message erases a recorded user, on the direct path and on the batched path."""
    erasing = {**base, "SEGMENT_USAGE_DELETE_MESSAGES": "true"}
    with contextlib.redirect_stdout(io.StringIO()):
        with _environment(erasing), recording(direct):
            runtime = Runtime(Settings.from_env())
            runtime.handle(_delete_message(users[0]))
            assert "dynamodb:DeleteItem" in direct.calls, "the delete message erased nothing"
        with _environment(erasing), recording(batch):
            runtime = Runtime(Settings.from_env())
            response = runtime.handle(
                sm.sqs_event([sm.eventbridge_event(_delete_message(users[1]))])
            )
            assert response["batchItemFailures"] == [], response
            assert "dynamodb:DeleteItem" in batch.calls, "the delete message erased nothing"


def _run(
    base: dict[str, str],
    queue_url: str,
    messages: list[dict[str, Any]],
    users: list[str],
    direct: Recorded,
    batch: Recorded,
) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        with (
            _environment({**base, "SEGMENT_USAGE_BUFFER_QUEUE_URL": queue_url}),
            recording(direct) as created,
        ):
            runtime = Runtime(Settings.from_env())
            for m in messages:
                runtime.handle(m)
            runtime.handle(messages[0])  # a duplicate
            for m in messages:
                runtime.handle(sm.eventbridge_event(dict(m, messageId=m["messageId"] + "-eb")))
            client = _client_of(created, "dynamodb")
            _lose_a_race(client, lambda: runtime.handle(sm.track("Raced", user_id=users[2])))
            # Two months late: the late path (one transaction: bucket, rollup, catalog). Then a
            # message of today, on that user's check day, opens a chain: the compaction runs.
            today = days.utc_today()
            old = _user_on_check_day(today)
            months_ago = datetime.combine(today, time(9), UTC) - timedelta(days=60)
            runtime.handle(sm.track("Imported", user_id=old, at=months_ago))
            # A day recorded while it was open (the writer's clock three days back), then, on
            # that user's check day, a message of today opens a chain: the compaction folds it.
            folding = _user_on_check_day(today, "iam-fold")
            then = lambda: today - timedelta(days=3)  # noqa: E731
            runtime.recorder.clock = runtime.recorder.compactor.clock = then
            runtime.handle(
                sm.track("Imported", user_id=folding, at=months_ago + timedelta(days=26))
            )
            runtime.recorder.clock = runtime.recorder.compactor.clock = lambda: today
            runtime.handle(
                sm.track("Imported", user_id=folding, at=months_ago + timedelta(days=60))
            )
            assert runtime.recorder.compactor.compactions == 1, "the compaction did not run"
            # A transient write failure: the direct path hands the message off to the buffer.
            with failing(client, "PutItem", when=key_startswith("sk", "D#")):
                runtime.handle(sm.track("Exported", user_id=users[1]))
        with _environment(base), recording(batch) as created:
            runtime = Runtime(Settings.from_env())
            raced = sm.sqs_event([sm.eventbridge_event(sm.track("Raced", user_id=users[0]))])
            _lose_a_race(_client_of(created, "dynamodb"), lambda: runtime.handle(raced))
            fresh = [dict(m, messageId=m["messageId"] + "-sqs") for m in messages]
            for start in range(0, len(fresh), 10):
                chunk = fresh[start : start + 10]
                runtime.handle(sm.sqs_event([sm.eventbridge_event(m) for m in chunk]))
