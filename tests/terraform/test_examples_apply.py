"""Every example, applied for real with the real AWS provider against one moto server.

All examples are applied (and re-planned) in parallel in a module fixture: the AWS provider spends
~25 s confirming each new SQS queue, so running them one after another would take minutes. Then
boto3 checks what exists, the second plan must show no changes except attributes moto is known to
misreport (named in plan_checks.py, checked semantically where possible), and teardown destroys
everything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_checks as chk
import pytest
from plan_checks import unexplained_changes

from support.moto_server import ACCOUNT_ID, boto3_client, create_segment_partner_source
from support.terraform import Workspace
from support.tf_overrides import write_moto_override

pytestmark = pytest.mark.terraform

SOURCE_ID = "qSg3xMpL9a"
ARCH, RUNTIME = "x86_64", "python3.12"


@dataclass
class Example:
    name: str
    variables: Callable[[str, Path], dict[str, Any]]
    partner_regions: tuple[str, ...] = ()
    provider_aliases: tuple[str | None, ...] | None = (None,)  # None: example has its own endpoints
    workspace: Workspace | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def _common(zip_path: Path) -> dict[str, Any]:
    return {
        "lambda_package_path": str(zip_path),
        "lambda_architecture": ARCH,
        "lambda_runtime": RUNTIME,
    }


EXAMPLES = {
    "local": Example(
        "local",
        lambda url, z: {**_common(z), "aws_endpoint": url, "segment_source_id": SOURCE_ID},
        partner_regions=("us-east-1",),
        provider_aliases=None,
    ),
    "lambda-destination": Example(
        "lambda-destination",
        lambda url, z: {
            **_common(z),
            "environment": "ldex",
            "segment_external_ids": ["ws-1234", "src-5678"],
        },
    ),
    "eventbridge": Example(
        "eventbridge",
        lambda url, z: {**_common(z), "environment": "ebex", "segment_source_id": SOURCE_ID},
        partner_regions=("us-west-2",),
    ),
    "multi-environment": Example(
        "multi-environment",
        lambda url, z: {
            **_common(z),
            "segment_workspace_id": "ws-multi",
            "prod_segment_source_id": SOURCE_ID,
        },
        partner_regions=("eu-west-1",),
        provider_aliases=("dev", "prod"),
    ),
}


def _deploy(example: Example, url: str, zip_path: Path) -> None:
    try:
        ws = Workspace.copy_of(f"examples/{example.name}")
        example.workspace = ws
        if example.provider_aliases is not None:
            write_moto_override(ws.root, url, example.provider_aliases)
        variables = example.variables(url, zip_path)
        ws.init()
        start = time.monotonic()
        ws.apply(variables)
        example.seconds["apply"] = time.monotonic() - start
        example.outputs = ws.outputs()
        start = time.monotonic()
        example.changes = ws.plan(variables)
        example.seconds["plan"] = time.monotonic() - start
    except BaseException as exc:
        example.error = exc


def _destroy(example: Example, url: str, zip_path: Path) -> BaseException | None:
    if example.workspace is None:
        return None
    try:
        start = time.monotonic()
        example.workspace.destroy(example.variables(url, zip_path))
        example.seconds["destroy"] = time.monotonic() - start
        print(f"{example.name}: " + ", ".join(f"{k} {v:.0f}s" for k, v in example.seconds.items()))
    except BaseException as exc:
        return exc
    finally:
        example.workspace.cleanup()
    return None


@pytest.fixture(scope="module")
def deployed(
    terraform_ready: Path, tf_moto_url: str, lambda_zip: Path
) -> Iterator[dict[str, Example]]:
    before = _inventory(tf_moto_url)  # the moto backend is shared with other tests in this process
    for example in EXAMPLES.values():
        for region in example.partner_regions:
            # What Segment does on its first event; AWS (and moto) refuse the bus before it.
            create_segment_partner_source(tf_moto_url, SOURCE_ID, region)
    with ThreadPoolExecutor(max_workers=len(EXAMPLES)) as pool:
        list(pool.map(lambda e: _deploy(e, tf_moto_url, lambda_zip), EXAMPLES.values()))
    yield EXAMPLES
    with ThreadPoolExecutor(max_workers=len(EXAMPLES)) as pool:
        errors = list(pool.map(lambda e: _destroy(e, tf_moto_url, lambda_zip), EXAMPLES.values()))
    failed = [f"{e.name}: {err}" for e, err in zip(EXAMPLES.values(), errors, strict=True) if err]
    assert not failed, "terraform destroy failed:\n" + "\n".join(failed)
    # Nothing the examples created is left behind.
    assert _inventory(tf_moto_url) == before


def _inventory(url: str) -> dict[str, set[str]]:
    """Functions, queues, tables, buses and segment-usage roles in every region the examples use."""
    found: dict[str, set[str]] = {}
    for region in ("us-east-1", "us-west-2", "eu-west-1"):
        lam = boto3_client("lambda", url, region)
        found[f"{region} functions"] = {
            f["FunctionName"] for f in lam.list_functions()["Functions"]
        }
        sqs = boto3_client("sqs", url, region)
        found[f"{region} queues"] = set(sqs.list_queues().get("QueueUrls", []))
        ddb = boto3_client("dynamodb", url, region)
        pages = ddb.get_paginator("list_tables").paginate()
        found[f"{region} tables"] = {name for page in pages for name in page["TableNames"]}
        events = boto3_client("events", url, region)
        found[f"{region} buses"] = {b["Name"] for b in events.list_event_buses()["EventBuses"]}
    roles = boto3_client("iam", url).list_roles()["Roles"]
    found["roles"] = {r["RoleName"] for r in roles if r["RoleName"].startswith("segment-usage")}
    return found


def log_group_arn(region: str, function: str) -> str:
    return f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:/aws/lambda/{function}"


def actions(handler_calls: dict[str, Any], function: str) -> set[str]:
    """The IAM actions the handler made in real runs as the direct or the batch function."""
    return set(handler_calls[function].calls)


def check_batch(
    lam: Any, sqs: Any, iam: Any, out: dict[str, Any], region: str, table_arn: str, calls: Any
) -> dict[str, Any]:
    """The batch function drains the buffer: same code, its own timeout, role and log group."""
    batch = out["batch_function_name"]
    assert batch == f"{out['function_name']}-batch"
    direct = lam.get_function_configuration(FunctionName=out["function_name"])
    config = lam.get_function_configuration(FunctionName=batch)
    assert config["Handler"] == direct["Handler"] and config["CodeSha256"] == direct["CodeSha256"]
    assert config["Role"] == out["batch_execution_role_arn"] != direct["Role"]
    variables = dict(direct["Environment"]["Variables"])
    assert variables.pop("SEGMENT_USAGE_BUFFER_QUEUE_URL").endswith(
        f"/{ACCOUNT_ID}/{out['buffer_queue_url'].split('/')[-1]}"
    )
    # What each accepts (issue 17): the batch function SQS records of its buffer only.
    batch_variables = dict(config["Environment"]["Variables"])
    assert json.loads(batch_variables.pop("SEGMENT_USAGE_ACCEPT")) == ["sqs"]
    assert json.loads(batch_variables.pop("SEGMENT_USAGE_QUEUE_ARNS")) == [out["buffer_queue_arn"]]
    for key in ("SEGMENT_USAGE_ACCEPT", "SEGMENT_USAGE_EVENTBRIDGE_QUALIFIER"):
        variables.pop(key, None)
    assert batch_variables.pop("SEGMENT_USAGE_PARTNER_SOURCES") == variables.pop(
        "SEGMENT_USAGE_PARTNER_SOURCES", "[]"
    )
    assert batch_variables == variables  # the batch function never hands off
    buffer_dlq_arn = sqs.get_queue_attributes(
        QueueUrl=out["buffer_dlq_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    mapping = chk.check_buffer(
        sqs, lam, batch, out["buffer_queue_url"], out["buffer_queue_arn"], buffer_dlq_arn
    )
    # The timeouts derive from the batch: 10 s + 0.1 s per message; 6x that plus the window.
    assert config["Timeout"] == 10 + -(-mapping["BatchSize"] // 10)
    visibility = sqs.get_queue_attributes(
        QueueUrl=out["buffer_queue_url"], AttributeNames=["VisibilityTimeout"]
    )["Attributes"]["VisibilityTimeout"]
    assert int(visibility) == 6 * config["Timeout"] + mapping["MaximumBatchingWindowInSeconds"]
    chk.check_batch_role(
        iam,
        out["batch_execution_role_arn"],
        table_arn,
        log_group_arn(region, batch),
        actions(calls, "batch"),
        out["buffer_queue_arn"],
    )
    return mapping


def _get(deployed: dict[str, Example], name: str) -> Example:
    example = deployed[name]
    if example.error is not None:
        raise example.error
    return example


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_second_plan_shows_no_changes(deployed: dict[str, Example], name: str) -> None:
    example = _get(deployed, name)
    assert unexplained_changes(example.changes) == []


def test_local(deployed: dict[str, Example], tf_moto_url: str, handler_calls: dict) -> None:
    out = _get(deployed, "local").outputs
    region = "us-east-1"
    iam = boto3_client("iam", tf_moto_url, region)
    lam = boto3_client("lambda", tf_moto_url, region)
    events = boto3_client("events", tf_moto_url, region)
    sqs = boto3_client("sqs", tf_moto_url, region)
    ddb = boto3_client("dynamodb", tf_moto_url, region)

    settings = out["segment_lambda_destination_settings"]
    assert settings == {
        "region": region,
        "role_address": out["segment_role_arn"],
        "lambda_arn": out["function_arn"],
        "external_id": "local-workspace-id",
        "external_ids": ["local-workspace-id"],
    }
    chk.check_segment_role(
        iam, out["segment_role_arn"], {out["function_arn"]}, ["local-workspace-id"]
    )
    function = out["function_name"]
    chk.check_function(
        lam,
        function,
        ARCH,
        RUNTIME,
        out["table_name"],
        env={"SEGMENT_USAGE_TRACKERS": "all", "SEGMENT_USAGE_REJECTED_RETENTION_DAYS": "90"},
        absent=("SEGMENT_USAGE_TRACKING_PLAN_SHA256",),
    )
    chk.check_table(ddb, out["table_name"])

    bus = out["event_bus_name"]
    chk.check_partner_bus(events, bus, SOURCE_ID)
    dlq_arn = out["events_dlq_arn"]
    # EventBridge invokes the direct function through its eventbridge alias (issue 17).
    assert out["eventbridge_alias_arn"] == f"{out['function_arn']}:eventbridge"
    direct = chk.check_lambda_target(
        events,
        lam,
        bus,
        out["rule_names"]["direct"],
        function,
        out["eventbridge_alias_arn"],
        dlq_arn,
        qualifier="eventbridge",
    )
    buffer_arn = sqs.get_queue_attributes(
        QueueUrl=out["buffer_queue_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    track = chk.check_sqs_target(events, bus, out["rule_names"]["track"], buffer_arn, dlq_arn)
    assert {direct, track} == set(out["rule_arns"].values())
    # The extra target on the track rule, and the direct rule's mirror queue.
    chk.check_sqs_target(
        events, bus, out["rule_names"]["track"], out["extra_target_queue_arn"], dlq_arn
    )
    chk.check_queue_policy(
        sqs, out["extra_target_queue_url"], out["extra_target_queue_arn"], {track}
    )
    chk.check_queue_policy(sqs, out["events_dlq_url"], dlq_arn, {direct, track})
    chk.check_queue_policy(sqs, out["buffer_queue_url"], buffer_arn, {track})
    table_arn = ddb.describe_table(TableName=out["table_name"])["Table"]["TableArn"]
    out_with_arn = {**out, "buffer_queue_arn": buffer_arn}
    # The local example allows erasure by delete messages: its roles hold what those runs call.
    erasing = {"direct": handler_calls["direct_erasure"], "batch": handler_calls["batch_erasure"]}
    mapping = check_batch(lam, sqs, iam, out_with_arn, region, table_arn, erasing)
    assert mapping["BatchSize"] == 10
    failures_arn = sqs.get_queue_attributes(
        QueueUrl=out["lambda_failures_queue_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    chk.check_failure_destination(lam, function, failures_arn, qualifier="eventbridge")
    for url in (out["events_dlq_url"], out["buffer_dlq_url"], out["lambda_failures_queue_url"]):
        chk.check_encrypted_queue(sqs, url)
    chk.check_execution_role(
        iam,
        out["execution_role_arn"],
        table_arn,
        log_group_arn(region, function),
        actions(erasing, "direct"),
        buffer_arn=buffer_arn,
        async_failure_queue_arn=failures_arn,
    )
    chk.check_alarms(
        boto3_client("cloudwatch", tf_moto_url, region),
        "segment-usage-local-",
        {
            "lambda-errors",
            "lambda-throttles",
            "events-dlq-not-empty",
            "buffer-dlq-not-empty",
            "lambda-failures-not-empty",
            "batch-errors",
            "batch-throttles",
            "batch-buffer-age",
            "lambda-async-events-dropped",
            "lambda-destination-delivery-failures",
            "rule-direct-failed-invocations",
            "rule-track-failed-invocations",
            "rules-match-nothing",
        },
    )


def test_lambda_destination(
    deployed: dict[str, Example], tf_moto_url: str, handler_calls: dict
) -> None:
    out = _get(deployed, "lambda-destination").outputs
    region = "us-west-2"
    iam = boto3_client("iam", tf_moto_url, region)
    lam = boto3_client("lambda", tf_moto_url, region)
    alias_arn = out["function_alias_arn"]
    assert alias_arn == f"{out['function_arn']}:live"
    settings = out["segment_lambda_destination_settings"]
    assert settings["region"] == region
    assert settings["role_address"] == out["segment_role_arn"]
    assert settings["lambda_arn"] == alias_arn
    assert settings["external_id"] == "ws-1234"
    assert settings["external_ids"] == ["ws-1234", "src-5678"]
    assert "us-west-2" in out["segment_role_arn"] and "ldex" in out["segment_role_arn"]
    chk.check_segment_role(
        iam, out["segment_role_arn"], {out["function_arn"], alias_arn}, ["ws-1234", "src-5678"]
    )
    trackers = [
        {"type": "track", "name": "Report Exported"},
        {"type": "page", "name": "Pricing", "trait": "pricing_page_views"},
    ]
    config = chk.check_function(lam, out["function_name"], ARCH, RUNTIME, out["table_name"], env={})
    assert json.loads(config["Environment"]["Variables"]["SEGMENT_USAGE_TRACKERS"]) == trackers
    alias = lam.get_alias(FunctionName=out["function_name"], Name="live")
    assert alias["FunctionVersion"] != "$LATEST"
    chk.check_table(boto3_client("dynamodb", tf_moto_url, region), out["table_name"])
    table_arn = boto3_client("dynamodb", tf_moto_url, region).describe_table(
        TableName=out["table_name"]
    )["Table"]["TableArn"]
    # The Lambda destination alone also gets the buffer: the direct path hands off to it.
    chk.check_execution_role(
        iam,
        out["execution_role_arn"],
        table_arn,
        log_group_arn(region, out["function_name"]),
        actions(handler_calls, "direct"),
        buffer_arn=out["buffer_queue_arn"],
    )
    mapping = check_batch(
        lam, boto3_client("sqs", tf_moto_url, region), iam, out, region, table_arn, handler_calls
    )
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (100, 5)


def test_eventbridge(deployed: dict[str, Example], tf_moto_url: str, handler_calls: dict) -> None:
    out = _get(deployed, "eventbridge").outputs
    region = "us-west-2"
    lam = boto3_client("lambda", tf_moto_url, region)
    events = boto3_client("events", tf_moto_url, region)
    sqs = boto3_client("sqs", tf_moto_url, region)
    iam = boto3_client("iam", tf_moto_url, region)
    function = out["function_name"]
    assert out["segment_eventbridge_destination_settings"] == {
        "account_id": "123456789012",
        "region": region,
        "event_bus_name": f"aws.partner/segment.com/{SOURCE_ID}",
    }
    assert iam.list_roles()["Roles"]  # the execution role exists ...
    assert not [
        r for r in iam.list_roles()["Roles"] if r["RoleName"].endswith("ebex-us-west-2-segment")
    ]

    bus = out["event_bus_name"]
    chk.check_partner_bus(events, bus, SOURCE_ID)
    rules = out["rule_arns"]
    assert set(rules) == {"profiles", "usage", "orders"}
    names = {key: arn.split("/")[-1] for key, arn in rules.items()}
    dlq = out["events_dlq_arn"]
    profiles = chk.check_lambda_target(
        events,
        lam,
        bus,
        names["profiles"],
        function,
        f"{out['function_arn']}:eventbridge",
        dlq,
        retry=(3600, 10),
        qualifier="eventbridge",
    )
    usage = chk.check_sqs_target(events, bus, names["usage"], out["buffer_queue_arn"], dlq)
    orders = chk.check_sqs_target(events, bus, names["orders"], out["orders_queue_arn"], dlq)
    # The orders rule has no module target: only the caller's queue.
    assert set(chk.targets_of(events, bus, names["orders"])) == {out["orders_queue_arn"]}
    # Patterns on the Segment message's own type: a remapped DetailType cannot empty them.
    pattern = json.loads(chk.rule_of(events, bus, names["orders"])["EventPattern"])
    assert pattern == {
        "source": [bus],
        "detail": {"type": ["track"], "event": ["Order Completed"]},
    }
    profiles_pattern = json.loads(chk.rule_of(events, bus, names["profiles"])["EventPattern"])
    assert profiles_pattern == {"source": [bus], "detail": {"type": ["identify", "group", "alias"]}}
    chk.check_queue_policy(sqs, out["buffer_queue_url"], out["buffer_queue_arn"], {usage})
    chk.check_queue_policy(sqs, out["orders_queue_url"], out["orders_queue_arn"], {orders})
    dlq_url = sqs.get_queue_url(QueueName=dlq.split(":")[-1])["QueueUrl"]
    chk.check_queue_policy(sqs, dlq_url, dlq, {profiles, usage, orders})
    ddb = boto3_client("dynamodb", tf_moto_url, region)
    table_arn = ddb.describe_table(TableName=out["table_name"])["Table"]["TableArn"]
    mapping = check_batch(lam, sqs, iam, out, region, table_arn, handler_calls)
    assert mapping["BatchSize"] == 100
    assert mapping["MaximumBatchingWindowInSeconds"] == 5
    chk.check_table(ddb, out["table_name"])
    failures_arn = sqs.get_queue_attributes(
        QueueUrl=out["lambda_failures_queue_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    chk.check_execution_role(
        iam,
        out["execution_role_arn"],
        table_arn,
        log_group_arn(region, function),
        actions(handler_calls, "direct"),
        buffer_arn=out["buffer_queue_arn"],
        async_failure_queue_arn=failures_arn,
    )


def test_multi_environment(deployed: dict[str, Example], tf_moto_url: str) -> None:
    out = _get(deployed, "multi-environment").outputs
    regions = {"dev": "us-east-1", "prod": "eu-west-1"}
    settings = out["segment_lambda_destination_settings"]
    roles = out["segment_role_arns"]
    assert roles["dev"] != roles["prod"]
    plan_text = (
        Path(__file__).parents[2] / "examples/multi-environment/tracking-plan.json"
    ).read_text()
    for env, region in regions.items():
        assert settings[env]["region"] == region
        assert settings[env]["lambda_arn"] == out["function_arns"][env]
        assert f":{region}:" in out["function_arns"][env]
        assert roles[env].split("/")[-1] == f"segment-usage-{env}-{region}-segment"
        iam = boto3_client("iam", tf_moto_url, region)
        chk.check_segment_role(iam, roles[env], {out["function_arns"][env]}, ["ws-multi"])
        lam = boto3_client("lambda", tf_moto_url, region)
        ddb = boto3_client("dynamodb", tf_moto_url, region)
        table = out["table_names"][env]
        chk.check_table(ddb, table, pitr=(env == "prod"))
        if env == "prod":
            import hashlib

            sha = hashlib.sha256(plan_text.encode()).hexdigest()
            config = chk.check_function(
                lam,
                f"segment-usage-{env}",
                ARCH,
                RUNTIME,
                table,
                env={
                    "SEGMENT_USAGE_TRACKING_PLAN_SHA256": sha,
                    "SEGMENT_USAGE_TRACKING_PLAN_MODE": "warn",
                },
            )
            assert config["MemorySize"] == 512
            item = ddb.get_item(
                TableName=table, Key={"pk": {"S": "CONFIG"}, "sk": {"S": "TRACKING_PLAN"}}
            )["Item"]
            assert item["plan"]["S"] == plan_text
            events = boto3_client("events", tf_moto_url, region)
            chk.check_partner_bus(events, out["prod_event_bus_name"], SOURCE_ID)
            (rule_arn,) = out["prod_rule_arns"].values()
            pattern = json.loads(
                chk.rule_of(events, out["prod_event_bus_name"], rule_arn.split("/")[-1])[
                    "EventPattern"
                ]
            )
            assert pattern == {"source": [out["prod_event_bus_name"]]}  # every Segment event
        else:
            chk.check_function(
                lam,
                f"segment-usage-{env}",
                ARCH,
                RUNTIME,
                table,
                absent=("SEGMENT_USAGE_TRACKING_PLAN_SHA256", "SEGMENT_USAGE_TRACKING_PLAN_MODE"),
            )
            cw = boto3_client("cloudwatch", tf_moto_url, region)
            assert cw.describe_alarms(AlarmNamePrefix="segment-usage-dev-")["MetricAlarms"] == []
