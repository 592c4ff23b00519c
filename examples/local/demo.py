#!/usr/bin/env python3
"""``make demo``: the whole product on a local AWS emulator, no AWS account needed.

1. builds the Lambda zip, starts moto's server on 127.0.0.1 and ``terraform apply``s this example
   with the real hashicorp/aws provider;
2. prints what to paste into Segment and the partner bus name;
3. sends a realistic session by both paths: directly to the handler, as Segment's Amazon Lambda
   destination invokes it, with the environment Terraform gave the function; and as partner
   events on the bus, draining what the rules delivered to SQS into the handler the way the event
   source mapping (buffer queue) and the Lambda target (mirror queue) would;
4. prints usage and identify traits, the event catalog, the rejection and the duplicates ignored;
5. shows each demo user's segment membership, condition by condition, and the read API's answers
   (targeting.py: the read function in-process, with its own environment);
6. destroys everything and stops the emulator, also when interrupted; with ``--keep``
   (``make demo KEEP=1``) it first leaves both running, prints commands to explore them (the CLI, a
   SigV4-signed request) and waits for Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO / "tests"), str(HERE)]

import session as demo_session  # noqa: E402
import targeting  # noqa: E402

from segment_usage.handler import Runtime  # noqa: E402
from segment_usage.read.view import Reader  # noqa: E402
from segment_usage.settings import Settings  # noqa: E402
from support.moto_server import (  # noqa: E402
    aws_env,
    boto3_client,
    create_segment_partner_source,
    moto_server,
)
from support.moto_without_lambda_runs import never_run_lambdas  # noqa: E402
from support.terraform import TerraformError, Workspace, terraform_binary  # noqa: E402

SOURCE_ID = "qSg3xMpL9a"
PATHS = ("direct", "eventbridge")


@dataclass
class PathResult:
    counts: Counter[str] = field(default_factory=Counter)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    invocations: int = 0


@dataclass
class DemoResult:
    settings: dict[str, Any]
    event_bus_name: str
    paths: dict[str, PathResult]
    catalog: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    extra_target_messages: int
    targeting: targeting.TargetingResult | None = None


class Progress:
    def __init__(self, out: TextIO) -> None:
        self.out, self.start = out, time.monotonic()

    def step(self, text: str) -> None:
        self.out.write(f"[{time.monotonic() - self.start:5.1f}s] {text}\n")
        self.out.flush()


# What Terraform prints when it has finished with one resource, and its plan's totals.
DONE = re.compile(r"^(?P<address>\S+): (?:Creation|Modifications|Destruction) complete after")
PLANNED = re.compile(r"^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy")
STILL = re.compile(
    r"^(?P<address>\S+): Still (?:creating|modifying|destroying)\.\.\. \[(?P<t>[^\]]+)\]"
)
QUIET_SECONDS = 10  # with nothing finished for this long, say which resource is still going


def terraform_with_progress(
    ws: Workspace, command: str, variables: dict[str, Any], progress: Progress
) -> None:
    """``terraform apply|destroy -auto-approve`` in ``ws``, with a progress line for every resource
    Terraform finishes (``[n/total] address``), and which one it is still waiting on whenever none
    finished for QUIET_SECONDS (the AWS provider spends ~25 s confirming each new SQS queue).
    Raises TerraformError with the last lines of Terraform's output if it fails."""
    args = [terraform_binary() or "terraform", command, "-auto-approve", "-no-color"]
    for key, value in variables.items():
        args += ["-var", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    proc = subprocess.Popen(
        args, cwd=ws.root, env=ws.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    tail: deque[str] = deque(maxlen=30)
    total, done, last = "?", 0, time.monotonic()
    for line in proc.stdout:
        tail.append(line)
        line = line.strip()
        if planned := PLANNED.match(line):
            add, change, destroy = (int(n) for n in planned.groups())
            total = str(destroy if command == "destroy" else add + change)
            progress.step(f"terraform {command}: {line}")
        elif finished := DONE.match(line):
            done += 1
            last = time.monotonic()
            progress.step(f"  [{done}/{total}] {finished['address']}")
        elif (still := STILL.match(line)) and time.monotonic() - last >= QUIET_SECONDS:
            last = time.monotonic()
            progress.step(f"  ... still waiting on {still['address']} ({still['t']})")
    if proc.wait() != 0:
        raise TerraformError(f"terraform {command} exited {proc.returncode}", "".join(tail))


@dataclass(frozen=True)
class Context:
    """What the handler reads of Lambda's context: the ARN it was invoked through (qualified when
    invoked through an alias), which decides what the invocation may carry."""

    invoked_function_arn: str
    aws_request_id: str = "demo"


def invoke(runtime: Runtime, event: Any, result: PathResult, context: Any = None) -> Any:
    """Invoke the handler as Lambda would, tallying the counts from its one summary log line."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        response = runtime.handle(event, context)
    summary = json.loads(out.getvalue().splitlines()[0])
    result.counts.update({k: summary[k] for k in ("accepted", "duplicate", "rejected", "failed")})
    result.invocations += 1
    return response


def drain(sqs: Any, queue_url: str, handle: Any) -> int:
    """Receive until the queue is empty; delete what the handler did not report as failed."""
    drained = 0
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return drained
        failed = handle(messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        drained += len(messages)


def as_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event an SQS event source mapping hands the function for one batch."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def send_eventbridge(
    url: str,
    outputs: dict[str, Any],
    runtimes: dict[str, Runtime],
    session: Any,
    result: PathResult,
) -> int:
    """PutEvents to the partner bus; the buffer is drained as the batch function (its own
    environment), the direct rule's events go to the direct function through its EventBridge
    alias."""
    runtime = runtimes["direct"]
    region = outputs["region"]
    events, sqs = boto3_client("events", url, region), boto3_client("sqs", url, region)
    source = f"aws.partner/segment.com/{SOURCE_ID}"
    for start in range(0, len(session.messages), 10):  # PutEvents takes 10 entries a call
        entries = [
            {
                "EventBusName": outputs["event_bus_name"],
                "Source": source,
                "DetailType": str(message.get("type")),
                "Detail": json.dumps(message),
                "Resources": [f"identifiedUser/{message['userId']}"]
                if message.get("userId")
                else [],
            }
            for message in session.messages[start : start + 10]
        ]
        response = events.put_events(Entries=entries)
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents failed: {response['Entries']}")
    buffer_arn = sqs.get_queue_attributes(
        QueueUrl=outputs["buffer_queue_url"], AttributeNames=["QueueArn"]
    )
    buffer_arn = buffer_arn["Attributes"]["QueueArn"]

    def buffered(batch: list[dict[str, Any]]) -> set[str]:  # the event source mapping
        response = invoke(runtimes["batch"], as_sqs_event(batch, buffer_arn, region), result)
        return {f["itemIdentifier"] for f in response["batchItemFailures"]}

    # The rule's Lambda target: the alias EventBridge invokes (module output eventbridge_alias_arn).
    through_alias = Context(outputs["eventbridge_alias_arn"])

    def lambda_target(batch: list[dict[str, Any]]) -> set[str]:
        for message in batch:
            invoke(runtime, json.loads(message["Body"]), result, through_alias)
        return set()

    drain(sqs, outputs["buffer_queue_url"], buffered)
    drain(sqs, outputs["direct_rule_mirror_queue_url"], lambda_target)
    return drain(sqs, outputs["extra_target_queue_url"], lambda batch: set())


def print_results(result: DemoResult, out: TextIO) -> None:
    w = out.write
    for path in PATHS:
        pr = result.paths[path]
        w(f"\n=== {path} path: {pr.invocations} invocations, {pr.counts['accepted']} recorded, "
          f"{pr.counts['duplicate']} duplicates ignored, {pr.counts['rejected']} rejected, "
          f"{pr.counts['failed']} failed ===\n")  # fmt: skip
        for user_id, view in pr.users.items():
            linked = (
                f" (linked anonymous ids: {', '.join(view['linkedIds'])})"
                if view["linkedIds"]
                else ""
            )
            w(f"\nuser {user_id}{linked}\n")
            w(f"  {'usage trait':<20} {'count':>5}  {'first seen':<24} {'last seen':<24} ")
            w(f"{'7d':>3} {'30d':>4}\n")
            for name, t in view["usage"].items():
                w(f"  {name:<20} {t['count']:>5}  {t['first_seen']:<24} {t['last_seen']:<24} "
                  f"{t['last_7_days']:>3} {t['last_30_days']:>4}\n")  # fmt: skip
            w(
                "  identify traits: "
                + ", ".join(f"{k}={json.dumps(v)}" for k, v in view["traits"].items())
                + "\n"
            )
            for group_id, traits in view["groups"].items():
                w(f"  group {group_id}: {json.dumps(traits)}\n")
    w("\n=== event catalog (both paths) ===\n")
    for entry in result.catalog:
        w(f"  {entry['type']:<7} {entry['name'] or '(unnamed)':<18} count {entry['count']:>3}  "
          f"last seen {entry['last_seen']}  -> trait {entry['trait']}\n")  # fmt: skip
    w("\n=== rejected (kept for replay: segment-usage rejected) ===\n")
    for row in result.rejected:
        w(f"  {row['path']:<11} {row['kind']:<8} {row['messageId']}: {'; '.join(row['reasons'])}\n")
    routed = result.extra_target_messages
    w(f"\nselective routing: the extra SQS target on the track rule received {routed} events\n")


def run_demo(
    out: TextIO = sys.stdout, now: datetime | None = None, keep: bool = False
) -> DemoResult:
    now = now or datetime.now(UTC)
    progress = Progress(out)
    # Nothing to build: the module deploys the artifacts it ships (modules/segment-usage/artifacts).
    never_run_lambdas()  # moto cannot run a Lambda: the demo plays the target and the mapping
    with moto_server() as url:
        progress.step(f"moto server listening on {url}")
        create_segment_partner_source(url, SOURCE_ID)  # what Segment does on its first event
        variables = {
            "aws_endpoint": url,
            "segment_source_id": SOURCE_ID,
        }
        with Workspace.copy_of(HERE) as ws:
            progress.step("terraform init (provider from the local mirror)")
            ws.init()
            progress.step("terraform apply examples/local (about a minute)")
            try:
                terraform_with_progress(ws, "apply", variables, progress)
                outputs = ws.outputs()
                result = _exercise(url, outputs, now, progress, out)
                if keep:
                    _keep_running(url, outputs, result, out)
                return result
            finally:
                progress.step("terraform destroy")
                terraform_with_progress(ws, "destroy", variables, progress)
                progress.step("emulator stopped, everything destroyed")


def _exercise(
    url: str, outputs: dict[str, Any], now: datetime, progress: Progress, out: TextIO
) -> DemoResult:
    settings = outputs["segment_lambda_destination_settings"]
    out.write("\nPaste into Segment's Amazon Lambda destination:\n")
    for label, key in (("Region", "region"), ("Role Address", "role_address"),
                       ("Lambda", "lambda_arn"), ("External ID", "external_id")):  # fmt: skip
        out.write(f"  {label:<13} {settings[key]}\n")
    out.write(f"Amazon EventBridge destination: partner event bus {outputs['event_bus_name']}\n\n")

    lam = boto3_client("lambda", url, outputs["region"])
    env = lam.get_function_configuration(FunctionName=outputs["function_name"])["Environment"][
        "Variables"
    ]
    progress.step(f"handler environment read back from the function: {sorted(env)}")
    batch_env = lam.get_function_configuration(FunctionName=outputs["batch_function_name"])[
        "Environment"
    ]["Variables"]
    with _environment(aws_env(url, outputs["region"])):
        dynamodb = boto3_client("dynamodb", url, outputs["region"])
        runtime = Runtime(Settings.from_env(env), dynamodb)
        runtimes = {"direct": runtime, "batch": Runtime(Settings.from_env(batch_env), dynamodb)}
        paths = {path: PathResult() for path in PATHS}
        direct = demo_session.build("direct", now)
        progress.step(f"direct path: invoking the handler with {len(direct.messages)} raw messages")
        for message in direct.messages:
            invoke(runtime, message, paths["direct"])
        bridged = demo_session.build("eventbridge", now)
        progress.step(
            f"EventBridge path: PutEvents of {len(bridged.messages)} messages, draining SQS"
        )
        extra = send_eventbridge(url, outputs, runtimes, bridged, paths["eventbridge"])
        reader = Reader(runtime.store.client, env["SEGMENT_USAGE_TABLE"])
        for path, session in (("direct", direct), ("eventbridge", bridged)):
            paths[path].users = {
                u: reader.user(u, today=now.date()).as_dict() for u in session.users
            }
        result = DemoResult(
            settings=settings,
            event_bus_name=outputs["event_bus_name"],
            paths=paths,
            catalog=reader.events(),
            rejected=reader.rejected(),
            extra_target_messages=extra,
        )
        progress.step("targeting: segments and the read API, for every demo user")
        users = [*direct.users, *bridged.users]
        result.targeting = targeting.exercise(url, outputs, now, users, runtime.store.client)
    print_results(result, out)
    targeting.print_targeting(result.targeting, out)
    return result


def _keep_running(url: str, outputs: dict[str, Any], result: DemoResult, out: TextIO) -> None:
    """``make demo KEEP=1``: serve until Ctrl-C or SIGTERM; the caller then destroys everything."""
    import os

    client = boto3_client("dynamodb", url, outputs["region"])
    api = targeting.ReadApi(result.targeting.read_env, client)
    stand_in = targeting.FunctionUrlStandIn(api, "123456789012")
    user = next(iter(result.targeting.explained))
    out.write(targeting.explore_commands(url, outputs, stand_in.url, user, os.getpid()))
    out.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        out.write("\ntearing down\n")
    finally:
        stand_in.close()


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    import os

    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # A terminating signal unwinds like Ctrl-C, so the finally blocks destroy and stop the emulator.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the emulator and the stack running, print commands, wait for Ctrl-C",
    )
    args = parser.parse_args()
    started = time.monotonic()
    try:
        run_demo(keep=args.keep)
    except KeyboardInterrupt:
        print("interrupted: resources destroyed and emulator stopped", file=sys.stderr)
        return 130
    print(f"\ndemo finished in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
