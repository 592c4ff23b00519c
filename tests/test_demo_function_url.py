"""``make demo KEEP=1``'s loopback stand-in for the AWS_IAM function URL: a correctly SigV4-signed
request reaches the read handler with the caller in requestContext.authorizer.iam; an unsigned or
wrongly signed one is refused with 403 before the handler runs, as Lambda does."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "local"))

import targeting

from segment_usage.read_api import ReadApi
from support import segment_messages as sm
from support.delivery import deliver


def get(url: str, secret: str | None = "testing") -> tuple[int, dict]:
    request = AWSRequest("GET", url)
    if secret is not None:
        SigV4Auth(Credentials("testing", secret, "testing"), "lambda", "us-east-1").add_auth(
            request
        )
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=dict(request.headers))
        ) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def stand_in(make_runtime, dynamodb, table):
    deliver(make_runtime(), [sm.identify({"plan": "pro"}, user_id="ada")])
    server = targeting.FunctionUrlStandIn(
        ReadApi({"SEGMENT_USAGE_TABLE": table}, dynamodb), "123456789012"
    )
    yield server.url
    server.close()


def test_signed_request_reaches_the_handler(stand_in) -> None:
    status, body = get(f"{stand_in}/v1/users/ada")
    assert status == 200 and body["traits"] == {"plan": "pro"}
    assert get(f"{stand_in}/v1/users/nobody")[0] == 404  # the handler's own answer


def test_unsigned_and_badly_signed_requests_are_refused(stand_in) -> None:
    assert get(f"{stand_in}/v1/users/ada", secret=None) == (403, {"Message": "Forbidden"})
    assert get(f"{stand_in}/v1/users/ada", secret="not-the-secret") == (
        403,
        {"Message": "Forbidden"},
    )
