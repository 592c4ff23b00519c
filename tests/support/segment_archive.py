"""A Segment S3 archive in Segment's own layout, generated from realistic traffic.

Layout (Segment's AWS S3 / Amazon S3 destination docs, "Data format"):
``s3://{bucket}/segment-logs/{source-id}/{received-day}/{file}.gz``: ``received-day`` is the UTC
day Segment received the messages, as Unix milliseconds of its midnight; each file is gzipped
newline-delimited JSON, one full Segment message a line (``receivedAt``, ``messageId``, ...),
several files a day (Segment copies about hourly, files up to 100 MB).

Traffic: many users whose ids are in several scripts, a dominant event (most messages are
"Report Exported"), a few other tracks, pages and identifies, each user active on a random share
of the days, so the archive looks like a product's history rather than a grid.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from support import segment_messages as sm

# Names in several scripts (Latin with accents, Greek, Cyrillic, Arabic, Devanagari, CJK, Hangul)
USERS = (
    "ada", "José Ñúñez", "Ελένη", "Дмитрий", "محمد", "प्रिया", "王芳", "さくら", "김민준",
    "o'brien+test@example.com", "user 42", "Zoë",
)  # fmt: skip
DOMINANT = "Report Exported"
OTHER_TRACKS = ("Search Performed", "Invite Sent", "Dashboard Shared")
PAGES = ("Home", "Pricing", "Settings")
PLANS = ("free", "pro", "team")

# Lines Segment's archive can hold after damage or a bad producer, and the reason the batch
# function keeps each with (the start of it, as ``segment-usage rejected`` lists it).
MALFORMED = (
    (b'{"type":"track","event":"Report Exported","messageId":"cut-', "body: not valid JSON"),
    (b"[1, 2, 3]", "envelope: expected a Segment message"),
    (b"<html>503 Service Unavailable</html>", "body: not valid JSON"),
)


def day_folder(day: date) -> str:
    """The received-day folder name: Unix milliseconds of the day's UTC midnight."""
    return str(int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000))


def traffic(
    days: list[date], users: tuple[str, ...] = USERS, seed: int = 7, active_share: float = 0.35
) -> list[dict[str, Any]]:
    """Messages of ``users`` over ``days``: each user active on about ``active_share`` of them,
    1-6 messages on an active day between 08:00 and 20:00 UTC (so received the same UTC day);
    ~60% the dominant track, the rest other tracks, pages and identifies (a ``plan`` trait).
    Message ids are stable for a seed."""
    rng = random.Random(seed)
    out = []
    for n, user in enumerate(users):
        for day in days:
            if rng.random() > active_share:
                continue
            for i in range(rng.randint(1, 6)):
                at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(
                    seconds=rng.randrange(12 * 3600)
                )
                ids = {"user_id": user, "at": at, "message_id": f"arc-{n}-{day}-{i}"}
                if rng.random() < 0.3:
                    ids["anonymous_id"] = f"anon-{n}-{rng.randrange(3)}"
                roll = rng.random()
                if roll < 0.6:
                    out.append(sm.track(DOMINANT, {"format": "csv"}, **ids))
                elif roll < 0.75:
                    out.append(sm.track(rng.choice(OTHER_TRACKS), **ids))
                elif roll < 0.95:
                    out.append(sm.page(rng.choice(PAGES), **ids))
                else:
                    out.append(sm.identify({"plan": rng.choice(PLANS)}, **ids))
    return out


def received_day(message: dict[str, Any]) -> date:
    return datetime.fromisoformat(message["receivedAt"]).date()


def gzip_lines(lines: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        for line in lines:
            handle.write(line + b"\n")
    return buffer.getvalue()


def write_archive(
    s3: Any,
    bucket: str,
    messages: list[dict[str, Any]],
    *,
    source_id: str = sm.SOURCE_ID,
    files_per_day: int = 2,
    extra_lines: dict[date, list[bytes]] | None = None,
    seed: int = 11,
) -> list[str]:
    """Put ``messages`` in ``bucket`` under ``segment-logs/<source_id>/``, by received day, in
    received order, each day cut into ``files_per_day`` files named like Segment's
    (``<upload ms>.<uuid>.gz``). ``extra_lines`` (raw lines, e.g. malformed ones) go into the
    day's first file. Returns the keys written, oldest day first."""
    rng = random.Random(seed)
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        by_day[received_day(message)].append(message)
    for day in extra_lines or {}:
        by_day.setdefault(day, [])
    keys = []
    for day in sorted(by_day):
        ordered = sorted(by_day[day], key=lambda m: m["receivedAt"])
        lines = [json.dumps(m, ensure_ascii=False).encode("utf-8") for m in ordered]
        share = max(1, -(-len(lines) // files_per_day))
        chunks = [lines[i : i + share] for i in range(0, len(lines), share)] or [[]]
        chunks[0] = chunks[0] + list((extra_lines or {}).get(day, []))
        folder = day_folder(day)
        for hour, chunk in enumerate(chunks):
            uploaded = int(folder) + (hour + 1) * 3_600_000 + 40 * 60_000
            key = f"segment-logs/{source_id}/{folder}/{uploaded}.{uuid.UUID(int=rng.getrandbits(128))}.gz"
            s3.put_object(Bucket=bucket, Key=key, Body=gzip_lines(chunk))
            keys.append(key)
    return keys
