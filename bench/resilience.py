"""Issue 10's resilience figures: a hot user's burst, and what the permanent-error path costs.

Burst: 480 messages for one user and UTC day through 24 concurrent direct-path containers (threads,
each with its own client and Runtime) against a moto server, with the buffer queue configured;
conflicts (conditional writes lost) counted per client, then the queue drained through the
handler's SQS path and the count checked.

Permanent errors: per message, the round trips and WCU of (a) a message invalid by the Spec,
(b) a ValidationException from DynamoDB on the bucket write (injected), (c) an identify that would
grow the profile past its trait budget (real, no fault injected). Each is kept as rejected and the
invocation succeeds, so Segment does not retry it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from typing import Any

import writer_today  # noqa: F401  (pins the writer's today: see that module)

CONTAINERS = 24
PER_CONTAINER = 20


def burst(containers: int = CONTAINERS, per_container: int = PER_CONTAINER) -> dict[str, Any]:
    from segment_usage.handler import Runtime
    from segment_usage.ops.redrive import redrive
    from segment_usage.read.view import Reader
    from segment_usage.settings import Settings
    from support import segment_messages as sm
    from support.delivery import burst as run_burst
    from support.moto_server import FAKE_CREDENTIALS, boto3_client, moto_server
    from support.tables import create_table

    started = time.perf_counter()
    saved = dict(os.environ)
    try:
        with moto_server() as url:
            os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"})
            os.environ["AWS_ENDPOINT_URL"] = url  # the handler's own (lazy) SQS client
            dynamodb, sqs = boto3_client("dynamodb", url), boto3_client("sqs", url)
            table = "bench-burst"
            create_table(dynamodb, table)
            queue = sqs.create_queue(QueueName="bench-burst-buffer")["QueueUrl"]
            work = [
                [sm.track("Api Called", user_id="bot-1") for _ in range(per_container)]
                for _ in range(containers)
            ]
            result = run_burst(url, table, queue, work)
            runtime = Runtime(Settings.from_env({"SEGMENT_USAGE_TABLE": table}), dynamodb)
            with contextlib.redirect_stdout(io.StringIO()):
                drained = redrive(runtime, sqs, queue, visibility=30)
            view = Reader(dynamodb, table).user("bot-1")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    total = containers * per_container
    counted = view.usage["api_called"].count if "api_called" in view.usage else 0
    return {
        "messages": total,
        "containers": containers,
        "raised": len(result["raised"]),
        "accepted_directly": result["statuses"].count("accepted"),
        "handed_off": result["statuses"].count("buffered"),
        "conflicts": result["conflicts"],
        "requests": result["requests"],
        "conflicts_per_message": result["conflicts"] / total,
        "drained": drained,
        "count_after_drain": counted,
        "exact": counted == total and view.messages_recorded == total,
        "seconds": round(time.perf_counter() - started, 1),
    }


def permanent_errors(samples: int = 20) -> dict[str, Any]:
    """Round trips and WCU per permanently failing message, direct path, moto in process."""
    from moto import mock_aws

    from meter import WriteMeter
    from segment_usage.handler import Runtime
    from segment_usage.settings import Settings
    from support import segment_messages as sm
    from support.faults import failing, key_startswith
    from support.moto_server import boto3_client
    from support.tables import create_table

    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        | {"AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    saved_endpoint = os.environ.pop("AWS_ENDPOINT_URL", None)
    out: dict[str, Any] = {}
    try:
        with mock_aws():
            probe = boto3_client("dynamodb", None)
            cases = {
                "invalid by the Spec (kept as invalid)": None,
                "ValidationException on the bucket write (kept as unrecordable)": "validation",
                "identify over the profile's trait budget (kept as unrecordable)": "budget",
            }
            for label, case in cases.items():
                client = boto3_client("dynamodb", None)
                table = f"bench-errors-{len(out)}"
                create_table(probe, table)
                runtime = Runtime(Settings.from_env({"SEGMENT_USAGE_TABLE": table}), client)
                meter = WriteMeter(client, probe)
                if case == "budget":  # a profile just under its budget first (not metered)
                    big = "x" * 30_000
                    with contextlib.redirect_stdout(io.StringIO()):
                        for n in range(11):
                            runtime.handle(sm.identify({f"notes_{n}": big}, user_id="u1"))
                statuses = []
                for n in range(samples):
                    if case is None:
                        message = sm.track("Clicked", user_id=None, anonymous_id=None)
                    elif case == "validation":
                        message = sm.track("Clicked", user_id=f"u{n}")
                    else:
                        message = sm.identify({f"more_{n}": "y" * 30_000}, user_id="u1")
                    fault = (
                        failing(
                            client,
                            "PutItem",
                            code="ValidationException",
                            message="Item size has exceeded the maximum allowed size",
                            when=key_startswith("sk", "D#"),
                        )
                        if case == "validation"
                        else contextlib.nullcontext()
                    )
                    meter.begin(1)
                    with fault, contextlib.redirect_stdout(io.StringIO()):
                        statuses.append(runtime.handle(json.loads(json.dumps(message)))["status"])
                    meter.end()
                chosen = meter.invocations[-samples:]
                out[label] = {
                    "statuses": sorted(set(statuses)),
                    "round_trips_per_message": sum(i.requests for i in chosen) / samples,
                    "wcu_per_message": sum(i.wcu for i in chosen) / samples,
                }
    finally:
        if saved_endpoint is not None:
            os.environ["AWS_ENDPOINT_URL"] = saved_endpoint
    return out
