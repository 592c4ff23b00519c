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
- Lines are grouped by user (``userId``, else ``anonymousId``) within a window of ``window_lines``
  lines read in received-day order, so that a user's messages of many days reach the batch
  function together: the late path (``record/late.py``) then writes one transaction per user and
  batch, whose cost is shared by every message of that user in the batch (bench/backfill_cost.py).
  Correctness never depends on the grouping or on SQS's order.
- SendMessageBatch: at most 10 entries and 256 KiB a request (SQS's quotas); entries SQS reports
  failed for a reason of its own (``SenderFault`` false) are retried with back-off, up to
  ``SEND_ATTEMPTS``; a sender fault makes the line unsendable.
- Checkpoint: a local JSON file records, per object (and its ETag), how many of its lines are in
  windows that were completely sent, and whether it is done. It is written after every window, by
  rename (never half-written). A re-run skips finished files and resumes a file after its last sent
  window; what a crash sent twice is a duplicate, recorded once.
- Progress on stderr: files done/total, messages, rate and ETA (by compressed bytes read), redrawn
  at most ``Progress.TTY_EVERY`` seconds apart on a terminal, a plain line every
  ``Progress.PLAIN_EVERY`` seconds otherwise.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ..table.coverage import extend_coverage

SQS_BATCH_ENTRIES = 10  # SendMessageBatch's maximum entries
SQS_MAX_BYTES = 256 * 1024  # SQS's maximum message size, and a SendMessageBatch's total
DEFAULT_WINDOW_LINES = 20_000  # lines grouped by user at once (~20-40 MB of Segment messages)
DEFAULT_SENDERS = 4  # concurrent SendMessageBatch requests
SEND_ATTEMPTS = 8  # per entry, after botocore's own retries of the whole request
CHECKPOINT_VERSION = 1
MAX_NAMED_PROBLEMS = 100  # unsendable lines and unreadable files named in the report; all counted
_DAY_FOLDER = re.compile(r"^\d{13}$")  # Unix milliseconds (13 digits from 2001 to 2286)
# SQS errors no retry mends: the queue is wrong or this identity may not send to it.
_FINAL_SQS_ERRORS = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "AccessDenied",
     "AccessDeniedException", "InvalidAddress", "KMS.AccessDeniedException"}
)  # fmt: skip
# Characters an SQS message body may hold (SQS's MessageBody documentation): the rest is refused.
_NOT_SQS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class BackfillError(Exception):
    """What stops a backfill: a bad argument, an unusable checkpoint, SQS refusing a batch after
    ``SEND_ATTEMPTS``. The message says what and where; what was sent before stays sent and
    checkpointed, so the same command resumes."""


@dataclass(frozen=True)
class Archive:
    """Where the archive is: ``bucket`` and ``prefix`` (``""`` or ending ``/``)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Archive:
        """``s3://BUCKET/PREFIX/`` (prefix optional). Raises BackfillError for anything else."""
        match = re.match(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(.*))?$", url.strip())
        if not match:
            raise BackfillError(
                f"{url!r} is not an S3 URL: expected s3://BUCKET/PREFIX/ (e.g. "
                "s3://my-archive/segment-logs/<source-id>/)"
            )
        prefix = match.group(2) or ""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(match.group(1), prefix)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class ArchiveFile:
    """One archived object: its key, received day (``yyyy-mm-dd``, UTC), size in bytes, ETag."""

    key: str
    day: str
    size: int
    etag: str


def received_day(key: str) -> str | None:
    """The UTC received day (``yyyy-mm-dd``) of an archive key ``.../<received-day-ms>/<f>.gz``,
    or None when the key is not in Segment's layout (the folder must be 13 digits of Unix ms)."""
    parts = key.split("/")
    if len(parts) < 2 or not parts[-1].endswith(".gz") or not _DAY_FOLDER.match(parts[-2]):
        return None
    return datetime.fromtimestamp(int(parts[-2]) / 1000, UTC).date().isoformat()


def parse_day(text: str | None, flag: str) -> str | None:
    """A ``--since``/``--until`` day as ``yyyy-mm-dd``; raises BackfillError naming ``flag``."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError as exc:
        raise BackfillError(f"{flag}: {text!r} is not a day (yyyy-mm-dd)") from exc


def list_archive(
    s3: Any, archive: Archive, since: str | None = None, until: str | None = None
) -> tuple[list[ArchiveFile], int]:
    """(files in the day range, oldest day first; objects skipped as not in Segment's layout).
    ``since`` and ``until`` are inclusive ``yyyy-mm-dd`` days. One ListObjectsV2 per 1,000 keys."""
    files: list[ArchiveFile] = []
    skipped = 0
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=archive.bucket, Prefix=archive.prefix
    )
    for page in pages:
        for obj in page.get("Contents", []):
            day = received_day(obj["Key"])
            if day is None:
                skipped += 1
                continue
            if (since and day < since) or (until and day > until):
                continue
            files.append(ArchiveFile(obj["Key"], day, int(obj["Size"]), obj.get("ETag", "")))
    files.sort(key=lambda f: (f.day, f.key))
    return files, skipped


def default_checkpoint(archive: Archive) -> str:
    """``./segment-usage-backfill-<bucket>-<prefix>.json`` (unsafe characters as ``-``)."""
    name = re.sub(r"[^A-Za-z0-9._]+", "-", f"{archive.bucket}-{archive.prefix}").strip("-.")
    return f"segment-usage-backfill-{name[:150]}.json"


class Checkpoint:
    """Per object: ``{"etag", "lines", "done"}``: the lines (counted from the file's first,
    blank ones included) that are in completely sent windows. Loaded from ``path`` if it exists;
    written by ``save`` (write then rename). Raises BackfillError when the file is unreadable or
    belongs to another archive."""

    def __init__(self, path: str, archive: Archive) -> None:
        self.path = path
        self.archive = archive.url
        self.files: dict[str, dict[str, Any]] = {}
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

    def lines_done(self, file: ArchiveFile) -> int | None:
        """Lines of ``file`` already sent (0: none), or None when the whole file is done. A file
        whose ETag changed since starts over."""
        entry = self.files.get(file.key)
        if not entry or entry.get("etag") != file.etag:
            return 0
        return None if entry.get("done") else int(entry.get("lines", 0))

    def advance(self, file: ArchiveFile, lines: int, done: bool) -> None:
        self.files[file.key] = {"etag": file.etag, "lines": lines, "done": done}

    def save(self) -> None:
        data = {"version": CHECKPOINT_VERSION, "archive": self.archive, "files": self.files}
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        temporary = f"{self.path}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


class _CountingReader:
    """A stream's ``read`` that counts the bytes read (compressed bytes, for the ETA)."""

    def __init__(self, stream: Any, count: Callable[[int], None]) -> None:
        self.stream = stream
        self.count = count

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.count(len(chunk))
        return chunk


def archive_lines(stream: Any, skip: int = 0) -> Iterator[tuple[int, bytes | None]]:
    """(line number from 1, the line without its newline) for each non-blank line of a gzipped
    stream (several gzip members allowed), after the first ``skip`` lines; the line is None when
    it is longer than SQS's 256 KiB (read in pieces, never held whole). Raises OSError, EOFError
    or zlib.error for a damaged file."""
    number = 0
    with gzip.GzipFile(fileobj=stream, mode="rb") as lines:
        while True:
            line = lines.readline(SQS_MAX_BYTES + 1)
            if not line:
                return
            number += 1
            if len(line) > SQS_MAX_BYTES and not line.endswith(b"\n"):
                while True:  # the rest of the over-long line
                    more = lines.readline(SQS_MAX_BYTES)
                    if not more or more.endswith(b"\n"):
                        break
                if number > skip:
                    yield number, None
                continue
            line = line.rstrip(b"\r\n")
            if number > skip and line.strip():
                yield number, line


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


class Progress:
    """Progress on a text stream (stderr): a bar redrawn in place on a terminal, plain lines
    otherwise. ``update`` is cheap to call per line: it draws only when enough time passed."""

    TTY_EVERY = 0.25  # seconds between redraws on a terminal (a few a second)
    PLAIN_EVERY = 10.0  # seconds between plain lines (a log, a CI job)

    def __init__(self, stream: TextIO | None, files: int, total_bytes: int, verb: str) -> None:
        self.stream = stream
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self.files = files
        self.total_bytes = max(total_bytes, 1)
        self.verb = verb
        self.started = time.monotonic()
        self.drawn = 0.0

    def line(self, files_done: int, messages: int, bytes_done: int) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        share = min(bytes_done / self.total_bytes, 1.0)
        eta = elapsed * (1 - share) / share if share > 0 else None
        eta_text = "--:--:--" if eta is None else time.strftime("%H:%M:%S", time.gmtime(eta))
        bar = "#" * int(share * 24)
        return (
            f"[{bar:<24}] {files_done}/{self.files} files  {messages:,} messages {self.verb}  "
            f"{messages / elapsed:,.0f}/s  ETA {eta_text}"
        )

    def update(self, files_done: int, messages: int, bytes_done: int, final: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        every = self.TTY_EVERY if self.tty else self.PLAIN_EVERY
        if not final and now - self.drawn < every:
            return
        self.drawn = now
        text = self.line(files_done, messages, bytes_done)
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


@dataclass
class Report:
    """What a backfill found and did; ``as_dict`` is the CLI's ``--json`` output. Counts are of
    this run (files skipped as done by an earlier run are ``files_already_done``)."""

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
    messages: int = 0  # lines sent (or, dry, that would be sent)
    not_json: int = 0  # of those, lines that are not a JSON object (kept as rejections)
    unsendable: int = 0
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
            "notJson": self.not_json,
            "unsendable": self.unsendable,
            "sqsRequests": self.sqs_requests,
            "resentEntries": self.resent_entries,
            "coverage": {"day": self.coverage_day, "extended": self.coverage_extended},
            "problems": self.problems,
        }


@dataclass
class _Pending:
    """A window's lines and, per file, how far it reached (lines, whether to the end)."""

    bodies: list[tuple[str, str, ArchiveFile, int]] = field(default_factory=list)
    reached: dict[str, tuple[ArchiveFile, int, bool]] = field(default_factory=dict)


class Sender:
    """SendMessageBatch to one queue, retrying what SQS failed on its side; thread-safe."""

    def __init__(self, sqs: Any, queue_url: str, sleep: Callable[[float], None] = time.sleep):
        self.sqs = sqs
        self.queue_url = queue_url
        self.sleep = sleep

    def send(self, bodies: list[str]) -> tuple[int, int, list[tuple[int, str]]]:
        """(requests made, entries resent, [(index in ``bodies``, SQS's code)] refused as the
        sender's fault). Raises BackfillError when SQS still fails entries after SEND_ATTEMPTS."""
        waiting = list(range(len(bodies)))
        refused: list[tuple[int, str]] = []
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
                index = int(failed["Id"])
                if failed.get("SenderFault"):
                    refused.append((index, str(failed.get("Code", "refused"))))
                else:
                    retry.append(index)
            waiting = sorted(retry)
            if not waiting:
                return requests, resent, refused
        raise BackfillError(
            f"SendMessageBatch to {self.queue_url}: {len(waiting)} entries still failed after "
            f"{SEND_ATTEMPTS} attempts"
        )


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
    window_lines: int = DEFAULT_WINDOW_LINES,
    senders: int = DEFAULT_SENDERS,
    dynamodb: Any = None,
    table: str | None = None,
    progress: TextIO | None = None,
) -> Report:
    """Read the archive's ``.gz`` objects with a received day in [``since``, ``until``] (inclusive
    ``yyyy-mm-dd``; None: unbounded) and enqueue each line on ``queue_url`` when ``apply``; a dry
    run (the default) reads and counts the same, sends nothing and writes no checkpoint.

    With ``apply``: ``sqs`` and ``queue_url`` are required; a checkpoint at ``checkpoint_path``
    (default ``default_checkpoint``) is read and written; after a run in which every file is done,
    ``extend_coverage(dynamodb, table, first received day)`` when ``dynamodb`` and ``table`` are
    given. Raises BackfillError (arguments, checkpoint, SQS), and what boto3 raises for S3 listing;
    an object that cannot be read or decompressed is counted in ``files_failed`` and named.
    """
    if window_lines < 1 or senders < 1:
        raise BackfillError("window lines and senders must be at least 1")
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
    todo = []
    for file in files:
        done = checkpoint.lines_done(file)
        if done is None:
            report.files_already_done += 1
        else:
            todo.append((file, done))
    total_bytes = sum(f.size for f, _ in todo)
    bar = Progress(progress, len(todo), total_bytes, "sent" if apply else "counted")
    read_bytes = [0]
    sender = Sender(sqs, queue_url) if apply and sqs and queue_url else None
    pool = ThreadPoolExecutor(senders) if sender else None
    pending = _Pending()

    def count_read(n: int) -> None:
        read_bytes[0] += n

    def flush() -> None:
        grouped = sorted(pending.bodies, key=lambda entry: entry[0])  # stable: file order kept
        bodies = [body for _, body, _, _ in grouped]
        origins = [(origin, number) for _, _, origin, number in grouped]
        batches = sqs_batches(bodies)
        if sender and pool:
            offsets, start = [], 0
            for batch in batches:
                offsets.append(start)
                start += len(batch)
            for offset, (requests, resent, refused) in zip(
                offsets, pool.map(sender.send, batches), strict=True
            ):
                report.sqs_requests += requests
                report.resent_entries += resent
                for index, code in refused:
                    origin, number = origins[offset + index]
                    report.messages -= 1
                    report.unsendable += 1
                    report.problem(file=origin.key, line=number, reason=f"SQS refused it: {code}")
            for file, lines, done in pending.reached.values():
                checkpoint.advance(file, lines, done)
            checkpoint.save()
        else:
            report.sqs_requests += len(batches)
        pending.bodies.clear()
        pending.reached.clear()

    try:
        for file, skip in todo:
            last = skip
            try:
                body = s3.get_object(Bucket=archive.bucket, Key=file.key)["Body"]
                stream = _CountingReader(body, count_read)
                for number, line in archive_lines(stream, skip):
                    last = number
                    report.lines += 1
                    reason, text = unsendable_reason(line)
                    if reason is not None:
                        report.unsendable += 1
                        report.problem(file=file.key, line=number, reason=reason)
                    else:
                        key = user_key(text)
                        report.not_json += key is None
                        report.messages += 1
                        report.line_bytes += len(line or b"")
                        pending.bodies.append((key or "", text, file, number))
                    pending.reached[file.key] = (file, number, False)
                    if len(pending.bodies) >= window_lines:
                        flush()
                    bar.update(report.files_done, report.messages, read_bytes[0])
                body.close()
            except (OSError, EOFError, zlib.error) as exc:
                report.files_failed += 1
                report.problem(file=file.key, reason=f"unreadable: {type(exc).__name__}: {exc}")
                pending.reached[file.key] = (file, last, False)
                continue
            except ClientError as exc:  # S3 refused the object (gone, no access): others go on
                report.files_failed += 1
                code = exc.response.get("Error", {}).get("Code", "error")
                report.problem(file=file.key, reason=f"GetObject: {code}")
                continue
            pending.reached[file.key] = (file, last, True)
            report.files_done += 1
            report.compressed_bytes += file.size
        flush()
    finally:
        if pool:
            pool.shutdown(wait=True)
        bar.update(report.files_done, report.messages, read_bytes[0], final=True)
    if apply and report.files_failed == 0 and files and dynamodb is not None and table:
        report.coverage_day = files[0].day
        report.coverage_extended = extend_coverage(dynamodb, table, files[0].day)
    return report
