"""``segment-usage backfill``: a Segment S3 archive (moto's S3, Segment's layout) loaded through the
buffer queue (moto's SQS) and recorded by the real batch handler, overlapping live traffic, run
interrupted, resumed and run again: every user counted once, malformed lines kept with their
reason, an erased person kept out, coverage lowered; a dry run sends nothing.
Plus the pieces as properties: archive lines, SendMessageBatch packing, received-day folders."""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from segment_usage.cli import main
from segment_usage.ops import archive as arc
from segment_usage.ops import backfill as bf
from segment_usage.ops import progress
from segment_usage.read.view import Reader
from segment_usage.table.coverage import load_coverage
from support import segment_archive as sa
from support import segment_messages as sm
from support.cli import run_json
from support.delivery import TODAY, deliver
from support.late_history import expected_usage
from support.moto_server import boto3_client
from support.moto_sqs_speed import patch_moto_sqs_receive

BUCKET = "acme-segment-archive"
ARCHIVE = f"s3://{BUCKET}/segment-logs/{sm.SOURCE_ID}/"
ERASED = "Zoë"
PARTITIONS = 3


class Crash(Exception):
    """The operator's machine dying mid-run."""


def _queue(moto_url: str, name: str) -> tuple[Any, str, str]:
    sqs = boto3_client("sqs", moto_url)
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return sqs, url, arn


def _waiting(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"
    ]
    return int(attrs["ApproximateNumberOfMessages"])


def drain(runtime: Any, sqs: Any, url: str, arn: str, batch: int = 100) -> int:
    """What the batch function's event source mapping does: receive up to ``batch`` records, hand
    them to the handler as one SQS event, delete those it did not report failed. Returns how many
    records went through; asserts none failed."""
    total = 0
    while True:
        received: list[dict[str, Any]] = []
        while len(received) < batch:
            page = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not page:
                break
            received += page
        if not received:
            return total
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": "us-east-1",
                }
                for m in received
            ]
        }
        with contextlib.redirect_stdout(io.StringIO()):
            answer = runtime.handle(event)
        assert answer == {"batchItemFailures": []}
        for start in range(0, len(received), 10):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(received[start : start + 10])
                ],
            )
        total += len(received)


def crash_after(client: Any, service: str, operation: str, calls: int) -> None:
    """``operation`` succeeds ``calls`` times on this (real) client, then the machine dies."""
    seen = {"n": 0}

    def hook(**_: Any) -> None:
        seen["n"] += 1
        if seen["n"] > calls:
            raise Crash(f"killed after {calls} {operation} requests")

    client.meta.events.register(f"before-call.{service}.{operation}", hook)


def _lines_per_partition(history: list[Any], malformed: list[bytes], other: Any) -> list[int]:
    """How many archive lines fall in each partition (by the user each names)."""
    sizes = [0] * PARTITIONS
    for message in [*history, other]:
        key = message["userId"] or message["anonymousId"] or ""
        sizes[bf.partition_of(str(key), PARTITIONS)] += 1
    sizes[bf.partition_of("", PARTITIONS)] += len(malformed)
    return sizes


def test_backfill_overlapping_live_traffic_twice_counts_once(
    cli_env, moto_url, make_runtime, dynamodb, table, tmp_path, monkeypatch
) -> None:
    patch_moto_sqs_receive()  # moto's receive time grows with the queue; SQS's does not
    s3 = boto3_client("s3", moto_url)
    s3.create_bucket(Bucket=BUCKET)
    sqs, queue_url, queue_arn = _queue(moto_url, f"buffer-{table}")
    days = [TODAY - timedelta(days=back) for back in range(40, 0, -1)]  # 40 days to yesterday
    history = sa.traffic(days, active_share=0.2)
    overlap = TODAY - timedelta(days=1)  # live traffic recorded first, then in the archive too
    live = [m for m in history if sa.received_day(m) == overlap and m["userId"] != ERASED]
    # half of that day came live (the archive holds it too), and one message only live (its
    # archive file not copied yet)
    live = [*live[: len(live) // 2], sm.track(sa.DOMINANT, user_id="ada", at=_noon(overlap))]
    malformed = [line for line, _ in sa.MALFORMED]
    no_ids = sm.track(sa.DOMINANT, user_id=None, anonymous_id=None, at=_noon(days[3]))
    extra = {days[3]: [*malformed, json.dumps(no_ids).encode(), b"", b"   "]}
    keys = sa.write_archive(s3, BUCKET, history, extra_lines=extra)
    s3.put_object(Bucket=BUCKET, Key=f"segment-logs/{sm.SOURCE_ID}/manifest.json", Body=b"{}")

    live_runtime = make_runtime()
    deliver(live_runtime, live)
    erased_live = sm.track(sa.DOMINANT, user_id=ERASED, at=_noon(overlap))
    deliver(live_runtime, [erased_live])
    assert run_json("forget", ERASED, "--apply")[0] == 0
    batch = make_runtime(accept='["sqs"]', queue_arns=json.dumps([queue_arn]))

    # Dry run (the default): counts, sends nothing, writes no checkpoint, touches no table.
    checkpoint = tmp_path / "checkpoint.json"
    code, dry = run_json(
        "backfill", ARCHIVE, "--queue-url", queue_url, "--checkpoint", str(checkpoint)
    )
    lines = len(history) + len(malformed) + 1
    assert code == 0 and dry["applied"] is False
    assert dry["files"]["total"] == len(keys) and dry["files"]["skippedObjects"] == 1
    held = sorted({sa.received_day(m) for m in history} | set(extra))  # days with files
    assert dry["days"] == {"first": held[0].isoformat(), "last": held[-1].isoformat(),
                           "count": len(held)}  # fmt: skip
    assert dry["lines"] == lines and dry["messages"] == lines and dry["unsendable"] == 0
    assert dry["notJson"] == len(malformed)
    assert dry["sqsRequests"] >= lines / 10
    assert _waiting(sqs, queue_url) == 0 and not checkpoint.exists()
    assert load_coverage(dynamodb, table) is None

    # --apply, killed while reading (after 5 objects): nothing sent, those 5 checkpointed.
    archive = arc.Archive.parse(ARCHIVE)
    apply = {"queue_url": queue_url, "apply": True, "checkpoint_path": str(checkpoint),
             "dynamodb": dynamodb, "table": table}  # fmt: skip
    reading = boto3_client("s3", moto_url)
    crash_after(reading, "s3", "GetObject", 5)
    with pytest.raises(Crash):
        bf.backfill(reading, archive, sqs=sqs, partitions=PARTITIONS, **apply)
    saved = json.loads(checkpoint.read_text())
    assert len(saved["files"]) == 5 and saved["sent"] == [] and _waiting(sqs, queue_url) == 0

    # Resumed, killed while sending, after the first non-empty partition: that one is recorded.
    sizes = _lines_per_partition(history, malformed, no_ids)
    first = next(i for i, n in enumerate(sizes) if n)
    sending = boto3_client("sqs", moto_url)
    crash_after(sending, "sqs", "SendMessageBatch", -(-sizes[first] // 10) + 1)
    with pytest.raises(Crash):
        bf.backfill(boto3_client("s3", moto_url), archive, sqs=sending, senders=1, **apply)
    saved = json.loads(checkpoint.read_text())
    assert len(saved["files"]) == len(keys) and saved["sent"] == list(range(first + 1))
    recorded = drain(batch, sqs, queue_url, queue_arn)
    assert sizes[first] <= recorded <= sizes[first] + 10
    assert load_coverage(dynamodb, table) is None  # not complete: coverage unchanged

    # Resumed by the same command: the partitions not sent are sent; coverage lowered.
    code, resumed = run_json(
        "backfill", ARCHIVE, "--apply", "--queue-url", queue_url, "--checkpoint", str(checkpoint),
    )  # fmt: skip
    assert code == 0 and resumed["files"]["alreadyDone"] == len(keys)
    assert resumed["sent"] == lines - sum(sizes[: first + 1])
    assert resumed["coverage"] == {"day": held[0].isoformat(), "extended": True}
    assert recorded + drain(batch, sqs, queue_url, queue_arn) >= lines
    assert not (tmp_path / "checkpoint.json.parts").exists()  # the spill is deleted once sent
    after_once = _views(dynamodb, table)

    # Again from another machine (no checkpoint): everything re-sent, nothing counted twice.
    code, again = run_json(
        "backfill", ARCHIVE, "--apply", "--queue-url", queue_url,
        "--checkpoint", str(tmp_path / "other.json"),
    )  # fmt: skip
    assert code == 0 and again["sent"] == lines and again["coverage"]["extended"] is False
    assert drain(batch, sqs, queue_url, queue_arn) == lines
    views = _views(dynamodb, table)
    assert views == after_once

    # Every user equals a model of archive + live, each messageId once.
    unique = {m["messageId"]: m for m in [*history, *live]}.values()
    for user in sa.USERS:
        view = views[user]
        if user == ERASED:
            assert view["found"] is False
            continue
        usage_messages = [m for m in unique if m["type"] in ("track", "page")]
        assert view["usage"] == expected_usage(usage_messages, user, TODAY), user
        assert view["messagesRecorded"] == sum(m["userId"] == user for m in unique)
        plans = sorted(
            (m["timestamp"], m["traits"]["plan"])
            for m in unique
            if m["userId"] == user and m["type"] == "identify"
        )
        assert view["traits"].get("plan") == (plans[-1][1] if plans else None), user

    # Malformed lines are kept with their reason, once each, whatever the number of runs.
    kept = Reader(dynamodb, table).rejected(include_warnings=False)
    for line, reason in sa.MALFORMED:
        rows = [r for r in kept if r["raw"] == line.decode()]
        assert len(rows) == 1 and rows[0]["reasons"][0].startswith(reason), (line, rows)
    (missing,) = [r for r in kept if r["messageId"] == no_ids["messageId"]]
    assert any("userId or anonymousId" in reason for reason in missing["reasons"])
    assert load_coverage(dynamodb, table) == held[0].isoformat()


def _noon(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def _views(client: Any, table: str) -> dict[str, Any]:
    reader = Reader(client, table)
    out = {}
    for user in sa.USERS:
        view = reader.user(user, today=TODAY)
        out[user] = {**view.as_dict(), "found": view.found}
    return out


def test_bad_arguments_say_what_is_wrong(cli_env, tmp_path) -> None:
    with pytest.raises(SystemExit, match="not an S3 URL"):
        run_json("backfill", "https://bucket/prefix")
    with pytest.raises(SystemExit, match="--since: '2026-13-01' is not a day"):
        run_json("backfill", ARCHIVE, "--since", "2026-13-01")
    with pytest.raises(SystemExit, match="no queue"):
        run_json("backfill", ARCHIVE, "--apply", "--checkpoint", str(tmp_path / "c.json"))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"version": 1, "archive": "s3://elsewhere/", "files": {}}))
    with pytest.raises(SystemExit, match="is for 's3://elsewhere/'"):
        run_json("backfill", ARCHIVE, "--checkpoint", str(other))


def test_since_and_until_pick_received_days(cli_env, moto_url, tmp_path) -> None:
    s3 = boto3_client("s3", moto_url)
    s3.create_bucket(Bucket="days-bucket")
    days = [TODAY - timedelta(days=back) for back in (50, 40, 30)]
    sa.write_archive(s3, "days-bucket", sa.traffic(days, active_share=1.0), files_per_day=1)
    code, report = run_json(
        "backfill", "s3://days-bucket/segment-logs/", "--since", days[1].isoformat(),
        "--until", days[1].isoformat(), "--checkpoint", str(tmp_path / "c.json"),
    )  # fmt: skip
    assert code == 0 and report["days"]["count"] == 1 and report["files"]["total"] == 1
    assert report["days"]["first"] == days[1].isoformat()
    out = io.StringIO()  # what an operator reads without --json
    assert main(["backfill", "s3://days-bucket/segment-logs/", "--no-progress"], out) == 0
    text = out.getvalue()
    assert (
        "3 received days" in text
        and "would send" in text
        and text.endswith("(dry run: pass --apply to send)\n")
    )


def test_a_damaged_object_is_named_and_read_again(cli_env, moto_url, dynamodb, table, tmp_path):
    s3 = boto3_client("s3", moto_url)
    s3.create_bucket(Bucket="damaged")
    sqs, queue_url, _ = _queue(moto_url, f"damaged-{table}")
    days = [TODAY - timedelta(days=back) for back in (60, 50, 40)]
    history = sa.traffic(days, users=sa.USERS[:4], active_share=1.0)
    keys = sa.write_archive(s3, "damaged", history, files_per_day=1)
    good = s3.get_object(Bucket="damaged", Key=keys[1])["Body"].read()
    s3.put_object(Bucket="damaged", Key=keys[1], Body=good[: len(good) // 2])  # cut short
    per_day = [sum(sa.received_day(m) == day for m in history) for day in days]
    argv = ["backfill", "s3://damaged/segment-logs/", "--apply", "--queue-url", queue_url,
            "--checkpoint", str(tmp_path / "c.json")]  # fmt: skip

    code, report = run_json(*argv)
    assert code == 1 and report["files"]["failed"] == 1 and report["files"]["done"] == 2
    (problem,) = report["problems"]
    assert problem["file"] == keys[1] and problem["reason"].startswith("unreadable: EOFError")
    assert report["sent"] == per_day[0] + per_day[2] == _waiting(sqs, queue_url)
    assert report["coverage"]["day"] is None and load_coverage(dynamodb, table) is None

    s3.put_object(Bucket="damaged", Key=keys[1], Body=good)  # the object mended (a new ETag)
    code, report = run_json(*argv)
    assert code == 0 and report["files"]["alreadyDone"] == 2 and report["sent"] == per_day[1]
    assert _waiting(sqs, queue_url) == len(history)
    assert load_coverage(dynamodb, table) == days[0].isoformat()


# -- the pieces, as properties ------------------------------------------------------------------
LINE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=60
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(LINE, max_size=30), cuts=st.lists(st.integers(0, 30), max_size=3),
       skip=st.integers(0, 35))  # fmt: skip
@example(lines=["", "  ", '{"a":1}'], cuts=[], skip=0)
def test_archive_lines_are_every_non_blank_line_numbered(lines, cuts, skip) -> None:
    """Any text lines, in one gzip member or several (Segment's files may be concatenated), read
    back as the non-blank lines with their 1-based numbers, after ``skip`` lines."""
    data = [line.encode("utf-8") for line in lines]
    edges = sorted({0, len(data), *[c for c in cuts if c <= len(data)]})
    blob = b"".join(sa.gzip_lines(data[a:b]) for a, b in itertools.pairwise(edges))
    got = list(arc.archive_lines(io.BytesIO(blob or gzip.compress(b"")), skip))
    want = [(n, line) for n, line in enumerate(data, start=1) if n > skip and line.strip()]
    assert got == want


def test_a_line_over_sqs_limit_is_named_not_held() -> None:
    long = b'{"type":"track","pad":"' + b"x" * (bf.SQS_MAX_BYTES + 10) + b'"}'
    blob = sa.gzip_lines([b'{"type":"page"}', long, b'{"type":"screen"}'])
    got = list(arc.archive_lines(io.BytesIO(blob)))
    assert got == [(1, b'{"type":"page"}'), (2, None), (3, b'{"type":"screen"}')]
    assert bf.unsendable_reason(None)[0] == "longer than SQS's 256 KiB message limit"
    assert bf.unsendable_reason(b"\xff\xfe")[0] == "not UTF-8"
    assert bf.unsendable_reason(b'{"a":"\x00"}')[0].startswith("holds characters SQS refuses")


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 40_000), max_size=60))
def test_sqs_batches_keep_order_and_sqs_quotas(sizes) -> None:
    bodies = [str(i % 10) * size for i, size in enumerate(sizes)]
    batches = bf.sqs_batches(bodies)
    assert [body for batch in batches for body in batch] == bodies
    for batch in batches:
        assert 1 <= len(batch) <= bf.SQS_BATCH_ENTRIES
        assert sum(len(b.encode()) for b in batch) <= bf.SQS_MAX_BYTES


@given(st.datetimes(min_value=datetime(2001, 9, 10), max_value=datetime(2286, 11, 19)))
def test_received_day_folder_is_the_utc_day(moment) -> None:
    day = moment.date()
    key = f"segment-logs/src/{sa.day_folder(day)}/1.abc.gz"
    assert arc.received_day(key) == day.isoformat()
    assert arc.received_day(key[:-3]) is None  # not .gz
    assert arc.received_day(f"segment-logs/src/{day.isoformat()}/1.gz") is None  # not ms


@given(st.sampled_from(["userId", "anonymousId"]), st.text(min_size=1, max_size=20))
def test_lines_group_by_user_then_anonymous_id(field, value) -> None:
    assert bf.user_key(json.dumps({"type": "track", field: value})) == value
    assert bf.user_key(json.dumps({"userId": value, "anonymousId": "other"})) == value
    assert bf.user_key("[1]") is None and bf.user_key("{cut") is None
    assert bf.user_key('{"type": "track"}') == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_on_a_terminal_and_prints_lines_elsewhere(monkeypatch) -> None:
    clock = {"now": 100.0}
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock["now"])
    plain, tty = io.StringIO(), _Terminal()
    bars = [progress.Progress(stream, "files", 4, "sending") for stream in (plain, tty)]
    for step in range(1, 41):  # 40 updates, 0.1 s apart: 4 s
        clock["now"] += 0.1
        for bar in bars:
            bar.update(step // 10, step * 100, step / 40)
    for bar in bars:
        bar.update(4, 4000, 1.0, final=True)
    assert plain.getvalue().count("\n") == 2  # the first at once, then one per 10 s, the final
    assert "sending 4/4 files  4,000 messages  1,000/s" in plain.getvalue()
    redraws = tty.getvalue().count("\r")
    assert 14 <= redraws <= 18 and tty.getvalue().endswith("ETA 00:00:00\n")
    halfway = bars[0].line(2, 2000, 0.5)
    assert "[############            ]" in halfway and "ETA 00:00:04" in halfway
