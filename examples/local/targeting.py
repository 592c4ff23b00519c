"""The demo's targeting part: segment membership explained, and the read API answering.

moto cannot run a Lambda, so the read function runs here, in-process, with the environment
Terraform gave it (read back from the emulator) and the exact event its function URL would deliver.
With ``make demo KEEP=1`` a loopback HTTP server plays the function URL: it checks each request's
SigV4 signature (the emulator's test credentials), builds the payload format 2.0 event with the
caller in ``requestContext.authorizer.iam``, and returns the handler's answer.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import urlsplit

from segment_usage.read.segments import explain, load_from_table
from segment_usage.read.view import Reader
from segment_usage.read_api import ReadApi
from support.function_url import url_event
from support.moto_server import FAKE_CREDENTIALS, boto3_client

SEGMENT_ASKED = "power_exporters"


@dataclass
class TargetingResult:
    read_env: dict[str, str]
    explained: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # user -> segments
    api: dict[str, tuple[int, Any]] = field(default_factory=dict)  # request -> (status, body)


def read_function_env(url: str, outputs: dict[str, Any]) -> dict[str, str]:
    lam = boto3_client("lambda", url, outputs["region"])
    config = lam.get_function_configuration(FunctionName=outputs["read_api_function_name"])
    return config["Environment"]["Variables"]


def call(api: ReadApi, path: str, query: str = "", now: datetime | None = None) -> tuple[int, Any]:
    with contextlib.redirect_stdout(io.StringIO()):  # the handler's one log line per request
        response = api.handle(url_event(path, query), now=now)
    return response["statusCode"], json.loads(response["body"])


def exercise(
    url: str, outputs: dict[str, Any], now: datetime, users: list[str], client: Any
) -> TargetingResult:
    env = read_function_env(url, outputs)
    result = TargetingResult(read_env=env)
    segments, _ = load_from_table(
        client, env["SEGMENT_USAGE_TABLE"], env.get("SEGMENT_USAGE_SEGMENTS_SHA256")
    )
    api = ReadApi(env, client)
    for user in users:
        status, body = call(api, f"/v1/users/{user}", now=now)
        result.api[f"GET /v1/users/{user}"] = (status, body)
        view = Reader(client, env["SEGMENT_USAGE_TABLE"]).user(user, now=now)
        result.explained[user] = explain(segments, view.usage, view.traits, now)
        request = f"GET /v1/users/{user}?segment={SEGMENT_ASKED}"
        result.api[request] = call(api, f"/v1/users/{user}", f"segment={SEGMENT_ASKED}", now)
    result.api["GET /v1/users/nobody"] = call(api, "/v1/users/nobody", now=now)
    unsigned = url_event(f"/v1/users/{users[0]}", iam=None)
    with contextlib.redirect_stdout(io.StringIO()):
        response = api.handle(unsigned, now=now)
    result.api["GET (no requestContext.authorizer.iam)"] = (
        response["statusCode"],
        json.loads(response["body"]),
    )
    return result


def print_targeting(result: TargetingResult, out: TextIO) -> None:
    w = out.write
    w("\n=== segments (declared in examples/local/main.tf, evaluated on read) ===\n")
    for user, segments in result.explained.items():
        w(f"\nuser {user}\n")
        for seg in segments:
            w(f"  {'IN ' if seg['member'] else 'OUT'} {seg['segment']} ({seg['match']} of):\n")
            _rows(seg["conditions"], w, 2)
    w("\n=== read API (the read function, in-process, with its own environment) ===\n")
    for i, (request, (status, body)) in enumerate(result.api.items()):
        if i == 0:  # one whole answer, the rest shortened
            w(f"  {request} -> {status}\n")
            w("    " + json.dumps(body, indent=2).replace("\n", "\n    ") + "\n")
            continue
        text = json.dumps(body)
        w(f"  {request} -> {status} {text[:160]}{'...' if len(text) > 160 else ''}\n")


def _rows(rows: list[dict[str, Any]], w: Any, depth: int) -> None:
    for row in rows:
        actual = f" (actual {json.dumps(row['actual'])})" if "actual" in row else ""
        w(f"{'  ' * depth}{'yes' if row['met'] else 'no '} {row['condition']}{actual}\n")
        _rows(row.get("conditions", []), w, depth + 1)


# -- make demo KEEP=1: a loopback stand-in for the function URL ---------------------------------


def sigv4_caller(method: str, raw_url: str, headers: dict[str, str], body: bytes) -> str | None:
    """The access key of a request correctly signed with the emulator's test credentials, or None.

    Recomputes the signature with botocore over the headers the request says it signed.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth_header = headers.get("authorization", "")
    if not auth_header.startswith("AWS4-HMAC-SHA256 "):
        return None
    fields = dict(
        part.strip().split("=", 1) for part in auth_header[len("AWS4-HMAC-SHA256 ") :].split(",")
    )
    try:
        key, day, region, service, _ = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        stamp = headers["x-amz-date"]
    except (KeyError, ValueError):
        return None
    if key != FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"] or service != "lambda" or stamp[:8] != day:
        return None
    request = AWSRequest(method, raw_url, {h: headers.get(h, "") for h in signed}, body)
    signer = SigV4Auth(
        Credentials(
            key, FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], headers.get("x-amz-security-token")
        ),
        service,
        region,
    )
    request.context["timestamp"] = stamp
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    return key if hmac.compare_digest(expected, fields.get("Signature", "")) else None


class FunctionUrlStandIn:
    """``http://127.0.0.1:PORT`` in front of the read handler, refusing unsigned requests (403) as
    an AWS_IAM function URL does before the function runs."""

    def __init__(self, api: ReadApi, account_id: str) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.serve(self)

            def log_message(self, *args: Any) -> None:
                return

        self.api, self.account_id = api, account_id
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, request: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        parts = urlsplit(request.path)
        caller = sigv4_caller("GET", self.url + request.path, headers, b"")
        if caller is None:
            status, body = 403, {"Message": "Forbidden"}  # what Lambda answers, not the function
        else:
            iam = {
                "accessKey": caller,
                "accountId": self.account_id,
                "callerId": caller,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{self.account_id}:user/demo",
                "userId": caller,
            }
            event = url_event(parts.path, parts.query, iam=iam)
            event["headers"] = headers
            with contextlib.redirect_stdout(io.StringIO()):
                response = self.api.handle(event)
            status, body = response["statusCode"], json.loads(response["body"])
        data = json.dumps(body, indent=2).encode() + b"\n"
        request.send_response(status)
        request.send_header("content-type", "application/json")
        request.send_header("content-length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def explore_commands(
    moto_url: str, outputs: dict[str, Any], stand_in_url: str, user: str, pid: int
) -> str:
    region = outputs["region"]
    env = (
        f"export AWS_ENDPOINT_URL={moto_url} AWS_DEFAULT_REGION={region} "
        f"AWS_ACCESS_KEY_ID={FAKE_CREDENTIALS['AWS_ACCESS_KEY_ID']} "
        f"AWS_SECRET_ACCESS_KEY={FAKE_CREDENTIALS['AWS_SECRET_ACCESS_KEY']} "
        f"AWS_SESSION_TOKEN={FAKE_CREDENTIALS['AWS_SESSION_TOKEN']} "
        f"SEGMENT_USAGE_TABLE={outputs['table_name']}"
    )
    signed = (
        '.venv/bin/python -c "import sys,urllib.request as u,botocore.session as s;'
        "from botocore.auth import SigV4Auth;from botocore.awsrequest import AWSRequest;"
        "r=AWSRequest('GET',sys.argv[1]);"
        f"SigV4Auth(s.get_session().get_credentials(),'lambda','{region}').add_auth(r);"
        'print(u.urlopen(u.Request(r.url,headers=dict(r.headers))).read().decode())"'
    )
    return "\n".join(
        [
            "\n=== KEEP=1: the emulator and the stack stay up; in another shell, from the repo ===",
            env,
            f".venv/bin/segment-usage traits {user}",
            f".venv/bin/segment-usage segments {user}",
            ".venv/bin/segment-usage events",
            ".venv/bin/segment-usage rejected",
            "# the read API, SigV4-signed (the function URL is played on loopback;",
            "# against AWS: terraform output read_api_url, your own credentials and region):",
            f"{signed} {stand_in_url}/v1/users/{user}",
            f"{signed} '{stand_in_url}/v1/users/{user}?segment={SEGMENT_ASKED}'",
            f"curl -s {stand_in_url}/v1/users/{user}   # unsigned: 403 from the URL",
            "# the function URL AWS would serve, as Terraform created it on the emulator:",
            f"#   {outputs.get('read_api_url')}",
            f"tear down: Ctrl-C here, or kill -TERM {pid}",
            "           (terraform destroy, then the emulator stops)",
            "",
        ]
    )
