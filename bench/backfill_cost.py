"""`make bench` section 8, backfill from the Segment S3 archive (issue 18, item 6): what loading
history costs per message, and per million, for days older than the open window.

In one process (moto's S3, SQS and DynamoDB, the writer's today pinned like the tests'): an archive
in Segment's layout (tests/support/segment_archive.py: users active on about a third of the days,
1-6 messages an active day, most of them one dominant event) over ``days`` received days that all
end more than ``record.days.OPEN_DAYS`` days ago, so every message takes the late path. The same
archive is loaded twice, each into a fresh table through a real queue and the real batch handler
(SQS batches of 100, as the module's event source mapping delivers them):

- baseline, the archive's order: each line enqueued as the archive holds it (received order: one
  message per user in a row), which is what a loader that streams file by file sends;
- ``segment-usage backfill --apply`` (ops/backfill.py): lines grouped by user over the range.

Metered (bench/meter.py on the batch function's DynamoDB client; SQS requests by hook on the real
clients): WCU, DynamoDB requests and transactions per message, SendMessageBatch requests per
message (the CLI's), and ReceiveMessage + DeleteMessageBatch per message (the event source
mapping's, 10 a request). Goals: <= 1.5 WCU per message grouped; counts exact (every user's view
equals a model of the archive, each messageId once).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections import Counter
from datetime import timedelta
from typing import Any

import writer_today  # noqa: F401  (pins the writer's today: see that module)

# Sized for moto, whose SendMessage counts the whole queue and whose TransactWriteItems copies the
# whole table (time quadratic in the load): ~750 messages take minutes. Per-message costs depend on
# each user's messages per batch, not on the number of users, so more users would not change them.
FULL = {"users": 16, "days": 40, "gap_days": 40}
QUICK = {"users": 8, "days": 12, "gap_days": 40}
BATCH = 100  # the module's default SQS batch size for the batch function
GOAL_WCU = 1.5
BUCKET = "bench-archive"


def measure(quick: bool = False) -> dict[str, Any]:
    from meter import keeping_environ

    return keeping_environ(_measure, QUICK if quick else FULL)


def _count_sqs(client: Any) -> Counter:
    counts: Counter = Counter()

    def hook(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    client.meta.events.register("after-call.sqs", hook)
    return counts


def _measure(cfg: dict[str, Any]) -> dict[str, Any]:
    import json

    from moto import mock_aws

    from meter import WriteMeter
    from segment_usage.handler import Runtime
    from segment_usage.ops import archive as arc
    from segment_usage.ops import backfill as bf
    from segment_usage.read.view import Reader
    from segment_usage.settings import Settings
    from support import segment_archive as sa
    from support.delivery import TODAY
    from support.late_history import expected_usage
    from support.moto_server import FAKE_CREDENTIALS, boto3_client
    from support.moto_speed import patch_moto_dynamodb_costs
    from support.moto_sqs_speed import patch_moto_sqs_receive
    from support.tables import create_table

    patch_moto_dynamodb_costs()
    patch_moto_sqs_receive()  # a receive's time must not grow with the queue (same answers)
    logging.getLogger("segment_usage").setLevel(logging.CRITICAL)
    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    first_back = cfg["gap_days"] + cfg["days"]
    days = [TODAY - timedelta(days=back) for back in range(first_back, cfg["gap_days"], -1)]
    users = tuple(f"{sa.USERS[n % len(sa.USERS)]} {n}" for n in range(cfg["users"]))
    history = sa.traffic(days, users=users, seed=3)
    unique = list({m["messageId"]: m for m in history}.values())
    out: dict[str, Any] = {"config": cfg, "messages": len(history), "users": len(users)}
    with mock_aws():
        s3 = boto3_client("s3", None)
        s3.create_bucket(Bucket=BUCKET)
        keys = sa.write_archive(s3, BUCKET, history, files_per_day=3)
        out["files"] = len(keys)
        archive = arc.Archive.parse(f"s3://{BUCKET}/segment-logs/")

        def load(variant: str) -> dict[str, Any]:
            probe = boto3_client("dynamodb", None)
            client = boto3_client("dynamodb", None)
            table = f"bench-backfill-{variant}"
            create_table(probe, table)
            meter = WriteMeter(client, probe)
            meter.phase = variant
            sender = boto3_client("sqs", None)
            sent = _count_sqs(sender)
            url = sender.create_queue(QueueName=f"buffer-{variant}")["QueueUrl"]
            arn = sender.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            if variant == "archive_order":
                for file in arc.list_archive(s3, archive)[0]:
                    body = s3.get_object(Bucket=BUCKET, Key=file.key)["Body"]
                    lines = [line.decode() for _, line in arc.archive_lines(body) if line]
                    for batch in bf.sqs_batches(lines):
                        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch)]
                        sender.send_message_batch(QueueUrl=url, Entries=entries)
            else:
                with tempfile.TemporaryDirectory() as work:
                    bf.backfill(
                        s3, archive, sqs=sender, queue_url=url, apply=True,
                        checkpoint_path=os.path.join(work, "checkpoint.json"),
                    )  # fmt: skip
            env = {
                "SEGMENT_USAGE_TABLE": table,
                "SEGMENT_USAGE_ACCEPT": '["sqs"]',
                "SEGMENT_USAGE_QUEUE_ARNS": json.dumps([arn]),
            }
            runtime = Runtime(Settings.from_env(env), client)
            poller = boto3_client("sqs", None)
            polled = _count_sqs(poller)
            failed = 0
            while True:
                received: list[dict[str, Any]] = []
                while len(received) < BATCH:
                    page = poller.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
                    if not page.get("Messages"):
                        break
                    received += page["Messages"]
                if not received:
                    break
                event = {"Records": [_record(m, arn) for m in received]}
                with contextlib.redirect_stdout(io.StringIO()):
                    failed += len(runtime.handle(event)["batchItemFailures"])
                for start in range(0, len(received), 10):
                    poller.delete_message_batch(
                        QueueUrl=url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(received[start : start + 10])
                        ],
                    )
            spent = meter.phases[variant]
            n = len(history)
            reader = Reader(boto3_client("dynamodb", None), table)
            exact = all(
                reader.user(u, today=TODAY).as_dict()["usage"]
                == expected_usage([m for m in unique if m["type"] != "identify"], u, TODAY)
                for u in users
            )
            return {
                "messages": n,
                "failed": failed,
                "exact": exact,
                "wcu_per_message": spent.total_wcu / n,
                "dynamodb_requests_per_message": sum(spent.requests.values()) / n,
                "transactions_per_message": spent.requests["TransactWriteItems"] / n,
                "wcu_per_message_by_operation": {op: w / n for op, w in sorted(spent.wcu.items())},
                "send_requests_per_message": sent["SendMessageBatch"] / n,
                "poll_requests_per_message": (
                    polled["ReceiveMessage"] + polled["DeleteMessageBatch"]
                )
                / n,
            }

        out["archive_order"] = load("archive_order")
        out["grouped"] = load("grouped")
    return out


def _record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    """An SQS record as the event source mapping builds it."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    if not result or "error" in result:
        return [{"goal": "backfill measured", "pass": False, "figure": result.get("error", "none")}]
    grouped, base = result["grouped"], result["archive_order"]
    ratio = grouped["wcu_per_message"] / base["wcu_per_message"] if base["wcu_per_message"] else 0
    return [
        {
            "goal": f"backfill: <= {GOAL_WCU:g} WCU per historical message (days older than the "
            "open window)",
            "pass": grouped["wcu_per_message"] <= GOAL_WCU,
            "figure": f"{grouped['wcu_per_message']:.3f} WCU/message grouped by user, "
            f"{base['wcu_per_message']:.3f} in the archive's order ({ratio:.2f}x); "
            f"{grouped['wcu_per_message'] * 1e6:,.0f} WCU per million",
        },
        {
            "goal": "backfill: no record failed, counts exact (each messageId once)",
            "pass": grouped["failed"] == 0 and grouped["exact"] and base["exact"],
            "figure": f"{grouped['failed']} failed, exact grouped {_yes(grouped['exact'])}, "
            f"archive order {_yes(base['exact'])}",
        },
    ]


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def render(result: dict[str, Any]) -> list[str]:
    lines = ["", "8. Backfill from the S3 archive (issue 18; days older than the open window)"]
    if not result or "error" in result:
        return [*lines, f"  not measured: {result.get('error', 'not run')}"]
    cfg = result["config"]
    lines.append(
        f"  {result['messages']:,} messages of {result['users']} users over {cfg['days']} received "
        f"days, {result['files']} files; SQS batches of {BATCH}; per message (per million):"
    )
    header = f"  {'order':<28}{'WCU':>8}{'DDB req':>9}{'txn':>7}{'send':>7}{'poll':>7}{'failed':>8}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for label, key in (
        ("archive's order (baseline)", "archive_order"),
        ("grouped by user", "grouped"),
    ):
        r = result[key]
        lines.append(
            f"  {label:<28}{r['wcu_per_message']:>8.3f}{r['dynamodb_requests_per_message']:>9.3f}"
            f"{r['transactions_per_message']:>7.3f}{r['send_requests_per_message']:>7.3f}"
            f"{r['poll_requests_per_message']:>7.3f}{r['failed']:>8}"
        )
    g = result["grouped"]
    lines.append(
        f"  per million messages grouped: {g['wcu_per_message'] * 1e6:,.0f} WCU, "
        f"{g['dynamodb_requests_per_message'] * 1e6:,.0f} DynamoDB requests, "
        f"{g['send_requests_per_message'] * 1e6:,.0f} SendMessageBatch, "
        f"{g['poll_requests_per_message'] * 1e6:,.0f} ReceiveMessage + DeleteMessageBatch"
    )
    return lines


if __name__ == "__main__":  # this section alone, at any size (users, days):
    # PYTHONPATH=lambda:tests .venv/bin/python bench/backfill_cost.py 40 60
    import sys

    if len(sys.argv) == 3:
        FULL.update(users=int(sys.argv[1]), days=int(sys.argv[2]))
    print("\n".join(render(measure())))
