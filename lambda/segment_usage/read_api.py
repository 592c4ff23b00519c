"""The read API: ``segment_usage.read_api.handler``, behind a Lambda function URL with AWS_IAM auth.

    GET /v1/users/{userId}               -> {user_id, traits, usage, segments, groups, external_ids}
    GET /v1/users/{userId}?segment=NAME  -> {user_id, segment, member} (+ reason when unknown)

``traits`` is a flat map of identify traits, as Segment's Profile API ``/traits`` returns them;
``usage`` holds the usage traits; ``segments`` maps each defined segment to true, false or null
(unknown: a condition's window reaches before the deployment's coverage, ``read/segments.py``),
evaluated on this read, with ``segment_reasons`` (segment -> why) when any is null; ``?segment=``
answers ``"member": null`` with a ``reason`` then. Errors are JSON ``{"error": {"code",
"message"}}`` with a 4xx status for anything the caller can fix (bad id 400, unknown user or
segment 404, unsigned 403, not GET 405); 5xx only when DynamoDB fails (503 on throttling, with
Retry-After).

Environment: ``SEGMENT_USAGE_TABLE`` and, when segments are defined,
``SEGMENT_USAGE_SEGMENTS_SHA256`` (the definitions live in the table, item CONFIG/SEGMENTS). With
segments, the coverage start (item CONFIG/COVERAGE, ``table/coverage.py``) is read with them: one
GetItem per container, again after ``COVERAGE_TTL_S`` (a backfill may lower it).
The function's role may only GetItem/Query/BatchGetItem the table. One log line per request,
without the user id (no PII in logs).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.exceptions import BotoCoreError, ClientError

from .read.segments import SEGMENT_NAME, SegmentDefinitionError, load_from_table, reasons
from .read.view import Reader
from .settings import READ_DYNAMODB, TABLE, ReadSettings, aws_client
from .table.coverage import load_coverage

ROUTE = re.compile(r"^/v1/users/([^/]+)$")
MAX_ID_CHARS = 512  # Segment sets no limit; longer ids are hashed in keys (table.keys)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
QUERY_PARAMETERS = {"segment"}
COVERAGE_TTL_S = 600.0  # how long a container trusts the coverage start it read
THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
}


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "content-type": "application/json",
            "cache-control": "no-store",
            **(headers or {}),
        },
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _error(exc: HttpError, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return _response(exc.status, {"error": {"code": exc.code, "message": exc.message}}, headers)


def _user_id(raw_path: str) -> str:
    match = ROUTE.match(raw_path)
    if match is None:
        raise HttpError(404, "no_route", "no such route: use GET /v1/users/{userId}")
    try:
        user_id = unquote(match.group(1), errors="strict")
    except UnicodeDecodeError as exc:
        raise HttpError(400, "bad_user_id", "userId: not valid percent-encoded UTF-8") from exc
    if not user_id.strip():
        raise HttpError(400, "bad_user_id", "userId: must not be blank")
    if len(user_id) > MAX_ID_CHARS:
        raise HttpError(400, "bad_user_id", f"userId: longer than {MAX_ID_CHARS} characters")
    if CONTROL.search(user_id):
        raise HttpError(400, "bad_user_id", "userId: contains control characters")
    return user_id


def _segment_parameter(raw_query: str) -> str | None:
    try:
        params = parse_qs(raw_query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError as exc:
        raise HttpError(400, "bad_query", "query: not valid percent-encoded UTF-8") from exc
    unknown = sorted(set(params) - QUERY_PARAMETERS)
    if unknown:
        raise HttpError(400, "bad_query", f"query: unknown parameters {', '.join(unknown)}")
    values = params.get("segment")
    if values is None:
        return None
    if len(values) != 1:
        raise HttpError(400, "bad_segment", "segment: give one segment name")
    if not SEGMENT_NAME.match(values[0]):
        raise HttpError(400, "bad_segment", f"segment: the name must match {SEGMENT_NAME.pattern}")
    return values[0]


def _authorized(event: Mapping[str, Any]) -> bool:
    """AWS_IAM function URLs put the signer in requestContext.authorizer.iam; Lambda refuses an
    unsigned request before the function runs, so its absence means the URL's auth type was
    changed to NONE (or someone invoked the function another way): refuse, do not serve."""
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    iam = authorizer.get("iam") if isinstance(authorizer, Mapping) else None
    http = context.get("http") if isinstance(context, Mapping) else None
    return (
        isinstance(iam, Mapping)
        and bool(iam.get("accountId") or iam.get("userArn"))
        and isinstance(http, Mapping | None)
    )


def profile(view: Any, why: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The profile answer; ``why``: segment -> reason, for the segments the view answers null."""
    data = view.as_dict()
    body = {
        "user_id": view.user_id,
        "traits": data["traits"],
        "usage": data["usage"],
        "segments": data["segments"],
        "groups": data["groups"],
        "external_ids": [{"type": "user_id", "id": view.user_id}]
        + [{"type": "linked_id", "id": linked} for linked in view.linked_ids],
    }
    if why:
        body["segment_reasons"] = dict(sorted(why.items()))
    return body


def unknown_reasons(reader: Reader, view: Any, now: datetime | None) -> dict[str, str]:
    """Segment -> why it is unknown, for the view's null segments (none: no work)."""
    if not any(member is None for member in view.segments.values()):
        return {}
    return reasons(
        reader.segments,
        view.usage,
        view.traits,
        now,
        coverage_start=view.coverage_start,
        user_id=view.user_id,
    )


class ReadApi:
    """Per-container state: the client, the table, the segment definitions (checked by hash)."""

    def __init__(self, env: Mapping[str, str], client: Any | None = None) -> None:
        settings = ReadSettings.from_env(env)
        self.table = settings.table
        self.sha256 = settings.segments_sha256
        self.client = client or aws_client("dynamodb", READ_DYNAMODB)
        self.reader: Reader | None = None
        self.coverage_read_at = time.monotonic()  # of the last coverage read (or of the start)

    def _reader(self) -> Reader:
        # Loaded on first use and kept; a mismatch (deployment in progress) is retried next time.
        # The coverage start only matters to segments: read with them, and again after the TTL.
        reader = self.reader
        stale = time.monotonic() - self.coverage_read_at > COVERAGE_TTL_S
        if reader is not None and reader.segments and stale:
            reader.coverage_start = load_coverage(self.client, self.table)
            self.coverage_read_at = time.monotonic()
        if self.reader is None:
            segments = {}
            if self.sha256:
                try:
                    segments = load_from_table(self.client, self.table, self.sha256)[0]
                except SegmentDefinitionError as exc:  # a deployment in progress: no internals
                    raise HttpError(
                        503, "segments_unavailable", "segment definitions are being deployed"
                    ) from exc
            coverage = load_coverage(self.client, self.table) if segments else None
            self.coverage_read_at = time.monotonic()
            self.reader = Reader(self.client, self.table, segments, coverage)
        return self.reader

    def route(self, event: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
        if not _authorized(event):
            raise HttpError(403, "forbidden", "requests must be signed with SigV4 (AWS_IAM)")
        http = event["requestContext"].get("http") or {}
        method, raw_path = http.get("method", ""), event.get("rawPath") or http.get("path") or ""
        query = event.get("rawQueryString") or ""
        if not all(isinstance(v, str) for v in (method, raw_path, query)):
            raise HttpError(400, "bad_event", "expected a Lambda function URL event")
        user_id = _user_id(raw_path)
        if method != "GET":
            raise HttpError(405, "method_not_allowed", f"{method or 'this method'}: use GET")
        segment = _segment_parameter(query)
        reader = self._reader()
        if segment is not None and segment not in reader.segments:
            raise HttpError(404, "unknown_segment", f"segment {segment!r} is not defined")
        view = reader.user(user_id, now=now)
        if not view.found:
            raise HttpError(404, "unknown_user", "nothing is recorded for this userId")
        why = unknown_reasons(reader, view, now)
        if segment is not None:
            answer = {"user_id": user_id, "segment": segment, "member": view.segments[segment]}
            return answer | ({"reason": why[segment]} if segment in why else {})
        return profile(view, why)

    def handle(self, event: Any, context: Any = None, now: datetime | None = None) -> dict:
        started = time.perf_counter()
        status, code, headers = 200, None, None
        try:
            if not isinstance(event, Mapping):
                raise HttpError(400, "bad_event", "expected a Lambda function URL event")
            response = _response(200, self.route(event, now))
        except HttpError as exc:
            status, code = exc.status, exc.code
            headers = {"retry-after": "1"} if exc.status == 503 else None
            response = _error(exc, headers)
        except ClientError as exc:
            aws_code = exc.response.get("Error", {}).get("Code", "")
            status, code = (503, "throttled") if aws_code in THROTTLING else (500, "aws_error")
            response = _error(
                HttpError(status, code, "the table is busy" if status == 503 else "table error"),
                {"retry-after": "1"} if status == 503 else None,
            )
        except BotoCoreError:
            status, code = 503, "unavailable"
            response = _error(
                HttpError(503, code, "the table did not answer"), {"retry-after": "1"}
            )
        except Exception:  # a fault of ours: answered, never a 502, never with internals
            status, code = 500, "internal"
            response = _error(HttpError(500, code, "internal error"))
        _log(status, code, started, context)
        return response


def _log(status: int, code: str | None, started: float, context: Any) -> None:
    line = {
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": "INFO" if status < 500 else "ERROR",
        "message": "read",
        "status": status,
        "error": code,
        "ms": round((time.perf_counter() - started) * 1000, 1),
        "requestId": getattr(context, "aws_request_id", None),
    }
    sys.stdout.write(json.dumps(line) + "\n")


_api: ReadApi | None = ReadApi(os.environ) if os.environ.get(TABLE) else None


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    global _api
    if _api is None:
        _api = ReadApi(os.environ)
    return _api.handle(event, context)
