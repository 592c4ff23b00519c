"""A moto server on 127.0.0.1 for Terraform and boto3, plus helpers that play Segment's part.

with moto_server() as url:
    client = boto3_client("dynamodb", url)
"""

from __future__ import annotations

import functools
import os
import socket
import threading
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


_PATCHED = False


def patch_moto_partner_bus_names() -> None:
    """Work around moto 5.x bugs with event bus names that contain "/" (every partner bus does).

    1. ``EventsBackend._normalize_event_bus_arn`` keeps only the text after the last "/" of an
       ``EventBusName`` (meant to turn an ARN into a name), so PutRule, PutTargets, DescribeRule,
       ListTargetsByRule, PutEvents ... on the bus ``aws.partner/segment.com/<id>`` look for a bus
       called "<id>" and answer ResourceNotFoundException.
    2. ``tag_resource``/``untag_resource``/``list_tags_for_resource`` do the same with the bus ARN,
       which the AWS provider calls on every read of aws_cloudwatch_event_bus.

    AWS accepts the full name (and the ARN) in both places. The patch resolves an existing bus by
    its whole name or by the part of its ARN after ``:event-bus/`` and leaves every other case to
    moto. The server runs in this process (ThreadedMotoServer), so patching the backend class is
    enough. Neither the module nor any example changes for it.
    """
    global _PATCHED
    if _PATCHED:
        return
    from moto.events.models import EventsBackend

    def bus_name(arn: str) -> str | None:
        marker = ":event-bus/"
        return arn.split(marker, 1)[1] if marker in arn else None

    original_normalize = EventsBackend._normalize_event_bus_arn

    def normalize_event_bus_arn(self: Any, event_bus_arn: str | None) -> str:
        if event_bus_arn is not None:
            name = bus_name(event_bus_arn) or event_bus_arn
            if name in self.event_buses:
                return name
        return original_normalize(self, event_bus_arn)

    original_list = EventsBackend.list_tags_for_resource
    original_tag = EventsBackend.tag_resource
    original_untag = EventsBackend.untag_resource

    def list_tags_for_resource(self: Any, arn: str) -> Any:
        name = bus_name(arn)
        if name is not None and name in self.event_buses:
            return self.tagger.list_tags_for_resource(self.event_buses[name].arn)
        return original_list(self, arn)

    def tag_resource(self: Any, arn: str, tags: Any) -> None:
        name = bus_name(arn)
        if name is not None and name in self.event_buses:
            tag_list = (
                self.tagger.convert_dict_to_tags_input(tags) if isinstance(tags, dict) else tags
            )
            self.tagger.tag_resource(self.event_buses[name].arn, tag_list)
            return
        original_tag(self, arn, tags)

    def untag_resource(self: Any, arn: str, tag_keys: list[str]) -> None:
        name = bus_name(arn)
        if name is not None and name in self.event_buses:
            self.tagger.untag_resource_using_names(self.event_buses[name].arn, tag_keys)
            return
        original_untag(self, arn, tag_keys)

    EventsBackend._normalize_event_bus_arn = normalize_event_bus_arn  # type: ignore[method-assign]
    EventsBackend.list_tags_for_resource = list_tags_for_resource  # type: ignore[method-assign]
    EventsBackend.tag_resource = tag_resource  # type: ignore[method-assign]
    EventsBackend.untag_resource = untag_resource  # type: ignore[method-assign]
    _PATCHED = True


_DYNAMODB_WRITES = (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
)
_dynamodb_lock = threading.RLock()
_ATOMIC = False


def patch_moto_dynamodb_atomic_writes() -> None:
    """Make moto's DynamoDB writes atomic, as DynamoDB's are.

    moto evaluates a ConditionExpression and then stores the item with no lock, while its server
    answers each request on its own thread: two conditional PutItems on the same version can both
    pass the check, and the second silently overwrites the first (a lost update DynamoDB never
    allows). The concurrency tests saw exactly that under load (79 of 80 racing messages counted).
    Serialising the backend's write operations restores DynamoDB's per-item atomicity.
    """
    global _ATOMIC
    if _ATOMIC:
        return
    from moto.dynamodb.models import DynamoDBBackend

    def atomic(method: Any) -> Any:
        @functools.wraps(method)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with _dynamodb_lock:
                return method(*args, **kwargs)

        return locked

    for name in _DYNAMODB_WRITES:
        if hasattr(DynamoDBBackend, name):
            setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))
    _ATOMIC = True


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """Start a ThreadedMotoServer on a free loopback port; yield its URL; stop it."""
    # Imported late so modules that only need the helpers below do not require moto.
    from moto.server import ThreadedMotoServer

    patch_moto_partner_bus_names()
    patch_moto_dynamodb_atomic_writes()
    # EventBridge's ListEventSources (the module's plan-time partner source check) and a
    # DynamoDB table's class, which moto lacks (support/tf_overrides.py).
    from support.tf_overrides import patch_moto_list_event_sources, patch_moto_table_class

    patch_moto_list_event_sources()
    patch_moto_table_class()
    # moto copies the whole table per transaction item and sorts it per Query, so its time grows
    # with the table (DynamoDB's does not): support/moto_speed.py, answers unchanged.
    from support.moto_speed import patch_moto_dynamodb_costs

    patch_moto_dynamodb_costs()

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
