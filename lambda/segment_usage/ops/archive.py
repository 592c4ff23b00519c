"""Segment's S3 archive: where its objects are and how to read their lines.

Layout (Segment's AWS S3 / Amazon S3 destination docs, "Data format"):
``s3://{bucket}/segment-logs/{source-id}/{received-day}/{file}.gz``, where ``received-day`` is the
UTC day Segment received the messages, as Unix milliseconds of its midnight, and each file is
gzipped newline-delimited JSON, one full Segment message a line, files up to 100 MB, copied about
hourly. Used by ``ops/backfill.py``.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LONGEST_LINE = 256 * 1024  # SQS's message limit: a longer line is reported, never held whole
_DAY_FOLDER = re.compile(r"^\d{13}$")  # Unix milliseconds (13 digits from 2001 to 2286)


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


class CountingReader:
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
            line = lines.readline(LONGEST_LINE + 1)
            if not line:
                return
            number += 1
            if len(line) > LONGEST_LINE and not line.endswith(b"\n"):
                while True:  # the rest of the over-long line
                    more = lines.readline(LONGEST_LINE)
                    if not more or more.endswith(b"\n"):
                        break
                if number > skip:
                    yield number, None
                continue
            line = line.rstrip(b"\r\n")
            if number > skip and line.strip():
                yield number, line
