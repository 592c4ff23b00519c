"""A moto server on 127.0.0.1 for Terraform and boto3, plus helpers that play Segment's part.

with moto_server() as url:
    client = boto3_client("dynamodb", url)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
SEGMENT_PARTNER_PREFIX = "aws.partner/segment.com"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """Start a ThreadedMotoServer on a free loopback port; yield its URL; stop it."""
    # Imported late so modules that only need the helpers below do not require moto.
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or free_port(), verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.stop()


def aws_env(url: str, region: str = "us-east-1") -> dict[str, str]:
    """Environment variables that point an AWS SDK at the moto server with fake credentials."""
    return {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": url,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


def boto3_client(service: str, url: str, region: str = "us-east-1") -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def segment_partner_source_name(source_id: str) -> str:
    return f"{SEGMENT_PARTNER_PREFIX}/{source_id}"


def create_segment_partner_source(
    url: str, source_id: str, region: str = "us-east-1", account_id: str = ACCOUNT_ID
) -> str:
    """Do what Segment does on the first event: create the partner event source in the account.

    In AWS the event bus ``aws.partner/segment.com/<id>`` can only be created once that partner
    source exists, and moto enforces the same rule, so tests and the demo call this before
    ``terraform apply``. Returns the source name.
    """
    name = segment_partner_source_name(source_id)
    events = boto3_client("events", url, region)
    events.create_partner_event_source(Name=name, Account=account_id)
    return name


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
