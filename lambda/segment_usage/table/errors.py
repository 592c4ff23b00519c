"""Classify AWS errors: transient ones are retried; permanent ones can never succeed on retry.

Permanent: ``ValidationException`` (item over 400 KB, bad key or expression) and any other 4xx a
retry cannot fix. The message is kept as rejected (kind ``unrecordable``) with a reason naming the
limit, and acknowledged, so it neither fails forever nor disappears (``segment-usage replay``
re-runs it after a fix). Transient: throttling, 5xx, timeouts and connection errors, lost
optimistic-lock races: retried (by the caller, the buffer queue, Segment or EventBridge).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

AWS_ERRORS = (ClientError, BotoCoreError)

# 4xx codes that a retry can fix (AWS documents them as retryable, or they pass by themselves).
TRANSIENT_4XX = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",
        "TransactionConflictException",
        "TransactionInProgressException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ConditionalCheckFailedException",  # a lost race, when it reaches this far
        "ExpiredTokenException",
        "UnrecognizedClientException",  # credentials being rotated
        "IDPCommunicationError",
    }
)


class Permanent(Exception):
    """Data the table cannot hold (found before any request): e.g. a profile over its budget."""


def is_permanent(error: BaseException) -> bool:
    if isinstance(error, Permanent):
        return True
    if not isinstance(error, ClientError):
        return False  # BotoCoreError: timeouts, connection resets, ... are transient
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code == "ValidationException":
        return True
    return 400 <= status < 500 and code not in TRANSIENT_4XX


def permanent_reason(error: BaseException) -> str:
    """A reason for the rejected list that names the limit (never quotes stored values)."""
    if isinstance(error, Permanent):
        return str(error)
    assert isinstance(error, ClientError)
    code = error.response.get("Error", {}).get("Code", "")
    text = error.response.get("Error", {}).get("Message", "")
    where = f"DynamoDB {error.operation_name}: {code}"
    if "size" in text.lower() and ("item" in text.lower() or "exceed" in text.lower()):
        return f"{where}: the item would exceed DynamoDB's 400 KB item size limit"
    if "key" in text.lower():
        return f"{where}: a key this message produces is not valid for the table ({text[:200]})"
    return f"{where}: DynamoDB refused the write and a retry cannot change that ({text[:200]})"


def error_text(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return f"DynamoDB {error.operation_name}: {error.response['Error'].get('Code')}"
    return f"{type(error).__name__}: {error}"


def classify(error: BaseException, prefix: str = "") -> tuple[str, str]:
    """("unrecordable", the limit it hit) for a permanent error, else ("failed", what failed)."""
    if is_permanent(error):
        return "unrecordable", prefix + permanent_reason(error)
    return "failed", prefix + error_text(error)
