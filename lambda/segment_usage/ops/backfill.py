"""``segment-usage backfill s3://BUCKET/PREFIX/``: load history from a Segment S3 archive through
the module's buffer queue, so the batch function records it by the same exactly-once path as live
traffic (overlap with live traffic and re-runs count once: the ledger dedups on ``messageId``).

The archive is Segment's AWS S3 / Amazon S3 destination layout (Segment's docs, "Data format"):
``s3://{bucket}/segment-logs/{source-id}/{received-day}/{file}.gz``, where ``received-day`` is the
UTC day Segment received the messages, as Unix milliseconds of its midnight, and each file is
gzipped newline-delimited JSON, one full Segment message a line. Objects under the prefix whose
folder is not such a day, or whose name does not end ``.gz``, are skipped (and counted).

What this machine does: list, stream-decompress, group and enqueue. It never writes usage to the
table: Lambda's concurrency (the batch function on the buffer queue) records, at whatever scale the
queue is filled. The one table write is ``table.coverage.extend_coverage`` after a completed
``--apply``: history now reaches back to the first received day loaded.

- Each archived line becomes one SQS message whose body is the line's text as it is, so a malformed
  line reaches the batch function and is kept on the rejected list with its reason ("body: not
  valid JSON ..."), like any rejection. A line SQS cannot carry (over 256 KiB, not UTF-8, or with
  characters SQS refuses) is not sent: it is counted and named (file and line number, never its
  content) in the report.
- Lines are grouped by user (``userId``, else ``anonymousId``) over the whole run, so that a
  user's messages of many days reach the batch function together: the late path
  (``record/late.py``) writes one transaction per user and batch, whose cost (a bucket per day, the
  rollup, a catalog item per name, x2) is then shared by all of that user's messages in the batch
  (bench/backfill_cost.py). In the archive's own order a batch holds one message per user and pays
  those items for each. Grouping a range of any size takes two phases: read (each line spilled,
  gzipped, into the local partition of its user's hash) and send (one partition in memory at a
  time, sorted by user). Correctness never depends on the grouping or on SQS's order.
- SendMessageBatch: at most 10 entries and 256 KiB a request (SQS's quotas); entries SQS reports
  failed for a reason of its own (``SenderFault`` false) are retried with back-off, up to
  ``SEND_ATTEMPTS``; a sender fault makes the line unsendable.
- Checkpoint: a local JSON file (``Checkpoint``), written by rename (never half-written) after each
  object read and each partition sent. A re-run skips finished objects, cuts the partitions back
  to their size after the last finished object, and sends the partitions not yet sent; what a
  crash sent twice is a duplicate, recorded once.
- Progress on stderr: files (then partitions) done/total, messages, rate and ETA (by bytes), redrawn
  at most ``Progress.TTY_EVERY`` seconds apart on a terminal, a plain line every
  ``Progress.PLAIN_EVERY`` seconds otherwise.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import shutil
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ..table.coverage import extend_coverage
from .archive import (
    Archive,
    ArchiveFile,
    BackfillError,
    CountingReader,
    archive_lines,
    list_archive,
)
from .progress import Progress

SQS_BATCH_ENTRIES = 10  # SendMessageBatch's maximum entries
SQS_MAX_BYTES = 256 * 1024  # SQS's maximum message size, and a SendMessageBatch's total
PARTITION_BYTES = 64 * 1024 * 1024  # lines per spill partition (one is in memory at a time)
COMPRESSION = 10  # how much Segment's gzipped JSON lines shrink (to size the partitions)
MAX_PARTITIONS = 4096
SPILL_BUFFER_BYTES = 8 * 1024 * 1024  # lines held per object before they are appended to disk
DEFAULT_SENDERS = 4  # concurrent SendMessageBatch requests
SEND_ATTEMPTS = 8  # per entry, after botocore's own retries of the whole request
CHECKPOINT_VERSION = 1
MAX_NAMED_PROBLEMS = 100  # unsendable lines and unreadable files named in the report; all counted
# SQS errors no retry mends: the queue is wrong or this identity may not send to it.
_FINAL_SQS_ERRORS = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "AccessDenied",
     "AccessDeniedException", "InvalidAddress", "KMS.AccessDeniedException"}
)  # fmt: skip
# Characters an SQS message body may hold (SQS's MessageBody documentation): the rest is refused.
_NOT_SQS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def parse_day(text: str | None, flag: str) -> str | None:
    """A ``--since``/``--until`` day as ``yyyy-mm-dd``; raises BackfillError naming ``flag``."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError as exc:
        raise BackfillError(f"{flag}: {text!r} is not a day (yyyy-mm-dd)") from exc


def default_checkpoint(archive: Archive) -> str:
    """``./segment-usage-backfill-<bucket>-<prefix>.json`` (unsafe characters as ``-``)."""
    name = re.sub(r"[^A-Za-z0-9._]+", "-", f"{archive.bucket}-{archive.prefix}").strip("-.")
    return f"segment-usage-backfill-{name[:150]}.json"


class Checkpoint:
    """The local record of a backfill (``--apply``), so that a re-run resumes where a crash left:

    - ``files``: per object ``{"etag", "done"}``, set once all its lines are in the partitions;
    - ``partitions``: how many spill partitions this backfill uses (fixed at its first run);
    - ``sizes``: each partition file's size after the last finished object (a resume truncates the
      partition to it, so an object read half-way before a crash is not spilled twice);
    - ``sent``: the partitions completely sent (phase 2).

    Loaded from ``path`` if it exists; written by ``save`` (write then rename, never half-written).
    Raises BackfillError when the file is unreadable or belongs to another archive."""

    def __init__(self, path: str, archive: Archive) -> None:
        self.path = path
        self.archive = archive.url
        self.files: dict[str, dict[str, Any]] = {}
        self.partitions = 0
        self.sizes: list[int] = []
        self.sent: list[int] = []
        if os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
            except (OSError, ValueError) as exc:
                raise BackfillError(f"checkpoint {path}: unreadable ({exc})") from exc
            if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
                raise BackfillError(f"checkpoint {path}: not a version {CHECKPOINT_VERSION} file")
            if data.get("archive") != self.archive:
                raise BackfillError(
                    f"checkpoint {path} is for {data.get('archive')!r}, not {self.archive!r}: "
                    "pass --checkpoint with another path"
                )
            self.files = dict(data.get("files") or {})
            self.partitions = int(data.get("partitions") or 0)
            self.sizes = [int(n) for n in data.get("sizes") or []]
            self.sent = [int(n) for n in data.get("sent") or []]

    @property
    def parts_dir(self) -> str:
        """Where the spill partitions live: beside the checkpoint, ``<path>.parts/``."""
        return f"{self.path}.parts"

    def part_path(self, index: int) -> str:
        return os.path.join(self.parts_dir, f"{index:05d}.jsonl.gz")

    def is_done(self, file: ArchiveFile) -> bool:
        """Whether ``file`` (at this ETag: a changed object is read again) is in the partitions."""
        entry = self.files.get(file.key)
        return bool(entry and entry.get("etag") == file.etag and entry.get("done"))

    def save(self) -> None:
        data = {
            "version": CHECKPOINT_VERSION,
            "archive": self.archive,
            "files": self.files,
            "partitions": self.partitions,
            "sizes": self.sizes,
            "sent": self.sent,
        }
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        temporary = f"{self.path}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


def unsendable_reason(line: bytes | None) -> tuple[str | None, str]:
    """(why SQS cannot carry this line, or None; its text). SQS refuses bodies over 256 KiB and
    characters outside its allowed set (SQS MessageBody documentation)."""
    if line is None or len(line) > SQS_MAX_BYTES:
        return "longer than SQS's 256 KiB message limit", ""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8", ""
    if _NOT_SQS.search(text):
        return "holds characters SQS refuses in a message body", ""
    return None, text


def user_key(text: str) -> str | None:
    """What a line is grouped by: its ``userId``, else its ``anonymousId``, else ``""``; None
    when the line is not a JSON object (the batch function keeps it as a rejection)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    for name in ("userId", "anonymousId"):
        found = value.get(name)
        if isinstance(found, str | int | float) and not isinstance(found, bool) and found != "":
            return str(found)
    return ""


def sqs_batches(bodies: list[str]) -> list[list[str]]:
    """``bodies`` in order, cut into SendMessageBatch requests of at most 10 entries and 256 KiB
    in all (each body is at most 256 KiB: ``unsendable_reason``)."""
    batches: list[list[str]] = []
    size = 0
    for body in bodies:
        length = len(body.encode("utf-8"))
        if not batches or len(batches[-1]) == SQS_BATCH_ENTRIES or size + length > SQS_MAX_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(body)
        size += length
    return batches


@dataclass
class Report:
    """What a backfill found and did; ``as_dict`` is the CLI's ``--json`` output. Counts are of
    this run: files read by an earlier run are ``files_already_done``, and ``messages`` are the
    lines this run sent (dry: would send)."""

    archive: str
    applied: bool
    queue_url: str | None
    first_day: str | None = None
    last_day: str | None = None
    days: int = 0
    files: int = 0
    files_already_done: int = 0
    files_done: int = 0
    files_failed: int = 0
    skipped_objects: int = 0
    compressed_bytes: int = 0
    lines: int = 0
    line_bytes: int = 0
    messages: int = 0  # sendable lines read (dry: what would be sent)
    sent: int = 0  # lines sent (phase 2, this run: a resumed run may send lines read before)
    not_json: int = 0  # lines that are not a JSON object (sent: kept as rejected)
    unsendable: int = 0
    partitions: int = 0
    sqs_requests: int = 0
    resent_entries: int = 0
    coverage_day: str | None = None
    coverage_extended: bool = False
    problems: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, **entry: Any) -> None:
        if len(self.problems) < MAX_NAMED_PROBLEMS:
            self.problems.append(entry)

    def as_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "applied": self.applied,
            "queueUrl": self.queue_url,
            "days": {"first": self.first_day, "last": self.last_day, "count": self.days},
            "files": {
                "total": self.files,
                "alreadyDone": self.files_already_done,
                "done": self.files_done,
                "failed": self.files_failed,
                "skippedObjects": self.skipped_objects,
            },
            "bytes": {"compressed": self.compressed_bytes, "lines": self.line_bytes},
            "lines": self.lines,
            "messages": self.messages,
            "sent": self.sent,
            "notJson": self.not_json,
            "unsendable": self.unsendable,
            "partitions": self.partitions,
            "sqsRequests": self.sqs_requests,
            "resentEntries": self.resent_entries,
            "coverage": {"day": self.coverage_day, "extended": self.coverage_extended},
            "problems": self.problems,
        }


class Sender:
    """SendMessageBatch to one queue, retrying what SQS failed on its side; thread-safe."""

    def __init__(
        self, sqs: Any, queue_url: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.sleep = sleep

    def send(self, bodies: list[str]) -> tuple[int, int, list[str]]:
        """(requests made, entries resent, SQS's codes of the entries it refused as the sender's
        fault). Raises BackfillError when SQS still fails entries after SEND_ATTEMPTS, or answers
        an error no retry mends (no such queue, access denied)."""
        waiting = list(range(len(bodies)))
        refused: list[str] = []
        requests = resent = 0
        for attempt in range(SEND_ATTEMPTS):
            if attempt:
                resent += len(waiting)
                self.sleep(min(5.0, 0.1 * 2**attempt) * (0.5 + random.random() / 2))
            entries = [{"Id": str(i), "MessageBody": bodies[i]} for i in waiting]
            requests += 1
            try:
                answer = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:  # botocore's own retries ran out
                code = exc.response["Error"].get("Code", "") if isinstance(exc, ClientError) else ""
                if attempt == SEND_ATTEMPTS - 1 or code in _FINAL_SQS_ERRORS:
                    raise BackfillError(
                        f"SendMessageBatch to {self.queue_url}: {code or type(exc).__name__}"
                    ) from exc
                continue
            retry = []
            for failed in answer.get("Failed", []):
                if failed.get("SenderFault"):
                    refused.append(str(failed.get("Code", "refused")))
                else:
                    retry.append(int(failed["Id"]))
            waiting = sorted(retry)
            if not waiting:
                return requests, resent, refused
        raise BackfillError(
            f"SendMessageBatch to {self.queue_url}: {len(waiting)} entries still failed after "
            f"{SEND_ATTEMPTS} attempts"
        )


def partition_count(compressed_bytes: int) -> int:
    """Spill partitions for ``compressed_bytes`` of archive: each ~``PARTITION_BYTES`` of lines
    (Segment's files compress ~``COMPRESSION``x), at least 1, at most ``MAX_PARTITIONS``."""
    wanted = -(-compressed_bytes * COMPRESSION // PARTITION_BYTES)
    return max(1, min(MAX_PARTITIONS, wanted))


def partition_of(key: str, partitions: int) -> int:
    """A user key's partition: CRC-32 of its UTF-8 (stable across runs and machines)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % partitions


class _Counter:
    """SendMessageBatch requests a stream of bodies takes, packed as ``sqs_batches`` packs."""

    def __init__(self) -> None:
        self.requests = 0
        self._entries = SQS_BATCH_ENTRIES
        self._bytes = 0

    def add(self, length: int) -> None:
        if self._entries == SQS_BATCH_ENTRIES or self._bytes + length > SQS_MAX_BYTES:
            self.requests += 1
            self._entries = self._bytes = 0
        self._entries += 1
        self._bytes += length


def backfill(
    s3: Any,
    archive: Archive,
    *,
    sqs: Any = None,
    queue_url: str | None = None,
    apply: bool = False,
    since: str | None = None,
    until: str | None = None,
    checkpoint_path: str | None = None,
    partitions: int | None = None,
    senders: int = DEFAULT_SENDERS,
    dynamodb: Any = None,
    table: str | None = None,
    progress: TextIO | None = None,
) -> Report:
    """Read the archive's ``.gz`` objects with a received day in [``since``, ``until``] (inclusive
    ``yyyy-mm-dd``; None: unbounded) and, with ``apply``, enqueue each line on ``queue_url``. A dry
    run (the default) reads and counts the same, sends nothing and writes nothing.

    ``apply`` works in two phases, both resumable from the checkpoint (``checkpoint_path``,
    default ``default_checkpoint``):
    1. read: each object's lines are spilled, gzipped, to the local partition of their user
       (``partition_of``: ``partitions`` of them, default ``partition_count`` of the compressed
       bytes), the checkpoint written after each object;
    2. send: each partition is loaded, its lines grouped by user (received-day order kept within a
       user) and sent with SendMessageBatch by ``senders`` threads, the checkpoint written after
       each partition. Then the partitions are deleted and, when every object of the range is done,
       ``extend_coverage(dynamodb, table, first received day)`` (if ``dynamodb`` and ``table``).

    So a user's messages of the whole range reach the batch function together whatever the
    archive's size, with one partition (~``PARTITION_BYTES``) in memory at a time; disk holds the
    range's lines gzipped. Raises BackfillError (arguments, checkpoint, SQS), and what boto3
    raises when listing S3; an object that cannot be read or decompressed is counted in
    ``files_failed``, named in ``problems``, and read again by the next run.
    """
    if senders < 1 or (partitions is not None and not 1 <= partitions <= MAX_PARTITIONS):
        raise BackfillError(f"senders must be >= 1 and partitions 1..{MAX_PARTITIONS}")
    if since and until and since > until:
        raise BackfillError(f"--since {since} is after --until {until}")
    if apply and not (sqs and queue_url):
        raise BackfillError(
            "no queue: pass --queue-url (the module's output buffer_queue_url) or set "
            "SEGMENT_USAGE_BUFFER_QUEUE_URL"
        )
    report = Report(archive.url, apply, queue_url if apply else None)
    checkpoint = Checkpoint(checkpoint_path or default_checkpoint(archive), archive)
    files, report.skipped_objects = list_archive(s3, archive, since, until)
    report.files = len(files)
    if files:
        report.first_day, report.last_day = files[0].day, files[-1].day
        report.days = len({f.day for f in files})
    todo = [f for f in files if not (apply and checkpoint.is_done(f))]
    report.files_already_done = len(files) - len(todo)
    if not apply:
        _read(s3, archive, todo, report, None, progress)
        return report
    assert sqs is not None and queue_url is not None
    sender = Sender(sqs, queue_url)
    if checkpoint.sent:  # a crash during phase 2: finish sending before reading more
        _send(checkpoint, sender, senders, report, progress)
    if todo:
        if not checkpoint.partitions:
            checkpoint.partitions = partitions or partition_count(sum(f.size for f in todo))
            checkpoint.sizes = [0] * checkpoint.partitions
        _truncate(checkpoint)
        _read(s3, archive, todo, report, checkpoint, progress)
    if checkpoint.partitions:  # read now or before a crash, not sent yet
        _send(checkpoint, sender, senders, report, progress)
    report.partitions = checkpoint.partitions or report.partitions
    if report.files_failed == 0 and files and dynamodb is not None and table:
        report.coverage_day = files[0].day
        report.coverage_extended = extend_coverage(dynamodb, table, files[0].day)
    return report


def _truncate(checkpoint: Checkpoint) -> None:
    """Cut each partition back to its size after the last finished object (resume)."""
    os.makedirs(checkpoint.parts_dir, exist_ok=True)
    for index, size in enumerate(checkpoint.sizes):
        path = checkpoint.part_path(index)
        actual = os.path.getsize(path) if os.path.exists(path) else 0
        if actual < size:
            raise BackfillError(
                f"{path} is shorter than {checkpoint.path} recorded: the read lines are gone; "
                "delete the checkpoint to read the archive again"
            )
        if actual > size:
            with open(path, "r+b") as handle:
                handle.truncate(size)


def _read(
    s3: Any,
    archive: Archive,
    todo: list[ArchiveFile],
    report: Report,
    checkpoint: Checkpoint | None,
    progress: TextIO | None,
) -> None:
    """Phase 1 (or the whole dry run): read ``todo``; spill into ``checkpoint``'s partitions."""
    total_bytes = max(sum(f.size for f in todo), 1)
    bar = Progress(progress, "files", len(todo), "reading" if checkpoint else "counting")
    read_bytes = [0]
    counter = _Counter()

    def count_read(n: int) -> None:
        read_bytes[0] += n

    for file in todo:
        spill: dict[int, list[bytes]] = {}
        spilled = 0
        committed = list(checkpoint.sizes) if checkpoint is not None else []
        try:
            body = s3.get_object(Bucket=archive.bucket, Key=file.key)["Body"]
            for number, line in archive_lines(CountingReader(body, count_read)):
                report.lines += 1
                reason, text = unsendable_reason(line)
                if reason is not None or line is None:
                    report.unsendable += 1
                    report.problem(file=file.key, line=number, reason=reason)
                    continue
                key = user_key(text)
                report.not_json += key is None
                report.messages += 1
                report.line_bytes += len(line)
                counter.add(len(line))
                if checkpoint is not None:
                    spill.setdefault(partition_of(key or "", checkpoint.partitions), []).append(
                        line
                    )
                    spilled += len(line)
                    if spilled >= SPILL_BUFFER_BYTES:
                        _spill(checkpoint, spill)
                        spill, spilled = {}, 0
                bar.update(report.files_done, report.messages, read_bytes[0] / total_bytes)
            body.close()
        except (OSError, EOFError, zlib.error) as exc:
            report.files_failed += 1
            report.problem(file=file.key, reason=f"unreadable: {type(exc).__name__}: {exc}")
            if checkpoint is not None:  # what this object spilled goes; the next run reads it
                checkpoint.sizes = committed
                _truncate(checkpoint)
            continue
        except ClientError as exc:  # S3 refused the object (gone, no access): the others go on
            report.files_failed += 1
            code = exc.response.get("Error", {}).get("Code", "error")
            report.problem(file=file.key, reason=f"GetObject: {code}")
            if checkpoint is not None:
                checkpoint.sizes = committed
                _truncate(checkpoint)
            continue
        if checkpoint is not None:
            _spill(checkpoint, spill)
            checkpoint.files[file.key] = {"etag": file.etag, "done": True}
            checkpoint.save()
        report.files_done += 1
        report.compressed_bytes += file.size
    if checkpoint is None:
        report.sqs_requests = counter.requests  # what sending would take (before grouping)
    bar.update(report.files_done, report.messages, 1.0, final=True)


def _spill(checkpoint: Checkpoint, spill: dict[int, list[bytes]]) -> None:
    """Append each partition's lines as one gzip member; record the partitions' new sizes."""
    for index, lines in sorted(spill.items()):
        path = checkpoint.part_path(index)
        with open(path, "ab") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            out.write(b"\n".join(lines) + b"\n")
        checkpoint.sizes[index] = os.path.getsize(path)


def _send(
    checkpoint: Checkpoint,
    sender: Sender,
    senders: int,
    report: Report,
    progress: TextIO | None,
) -> None:
    """Phase 2: each partition not yet sent, its lines grouped by user, then the spill deleted."""
    total_bytes = max(sum(checkpoint.sizes), 1)
    done_bytes = sum(checkpoint.sizes[i] for i in checkpoint.sent)
    bar = Progress(progress, "partitions", checkpoint.partitions, "sending")
    messages = 0
    with ThreadPoolExecutor(senders) as pool:
        for index in range(checkpoint.partitions):
            if index in checkpoint.sent:
                continue
            path = checkpoint.part_path(index)
            texts: list[tuple[str, str]] = []
            if checkpoint.sizes[index]:
                with open(path, "rb") as raw:
                    for _, line in archive_lines(raw):
                        text = (line or b"").decode("utf-8")
                        texts.append((user_key(text) or "", text))
            texts.sort(key=lambda entry: entry[0])  # stable: received-day order within a user
            for requests, resent, refused in pool.map(
                sender.send, sqs_batches([text for _, text in texts])
            ):
                report.sqs_requests += requests
                report.resent_entries += resent
                for code in refused:
                    report.unsendable += 1
                    report.problem(partition=index, reason=f"SQS refused a line: {code}")
            messages += len(texts)
            checkpoint.sent.append(index)
            checkpoint.save()
            done_bytes += checkpoint.sizes[index]
            bar.update(len(checkpoint.sent), messages, done_bytes / total_bytes)
    report.sent += messages
    bar.update(len(checkpoint.sent), messages, 1.0, final=True)
    report.partitions = checkpoint.partitions
    shutil.rmtree(checkpoint.parts_dir, ignore_errors=True)
    checkpoint.partitions, checkpoint.sizes, checkpoint.sent = 0, [], []
    checkpoint.save()
