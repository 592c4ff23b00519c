"""boto3 checks that what Terraform created is what the module promises (run against moto)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

SEGMENT_PRINCIPAL = "arn:aws:iam::595280932656:role/customer-lambda-prod-destination-access"
HANDLER = "segment_usage.handler.lambda_handler"
TABLE_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_doc(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    return json.loads(unquote(raw))


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(doc["Statement"])


def check_segment_role(
    iam: Any, role_arn: str, invoke_arns: set[str], external_ids: list[str]
) -> None:
    name = role_arn.split("/")[-1]
    role = iam.get_role(RoleName=name)["Role"]
    trust = statements(policy_doc(role["AssumeRolePolicyDocument"]))
    assert len(trust) == 1
    (stmt,) = trust
    assert stmt["Effect"] == "Allow"
    assert stmt["Action"] == "sts:AssumeRole"
    assert as_list(stmt["Principal"]["AWS"]) == [SEGMENT_PRINCIPAL]
    assert sorted(as_list(stmt["Condition"]["StringEquals"]["sts:ExternalId"])) == sorted(
        external_ids
    )
    # Only inline policy: lambda:InvokeFunction on this function (and its alias), nothing attached.
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    names = iam.list_role_policies(RoleName=name)["PolicyNames"]
    assert len(names) == 1
    doc = policy_doc(iam.get_role_policy(RoleName=name, PolicyName=names[0])["PolicyDocument"])
    (allow,) = statements(doc)
    assert allow["Effect"] == "Allow"
    assert as_list(allow["Action"]) == ["lambda:InvokeFunction"]
    assert set(as_list(allow["Resource"])) == invoke_arns


def check_execution_role(
    iam: Any,
    role_arn: str,
    table_arn: str,
    log_group: str,
    queue_reads: set[str],
    queue_sends: set[str],
) -> None:
    name = role_arn.split("/")[-1]
    role = iam.get_role(RoleName=name)["Role"]
    (trust,) = statements(policy_doc(role["AssumeRolePolicyDocument"]))
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    doc = policy_doc(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
    by_sid = {s["Sid"]: s for s in statements(doc)}
    assert set(as_list(by_sid["Table"]["Action"])) == TABLE_ACTIONS
    assert as_list(by_sid["Table"]["Resource"]) == [table_arn]
    assert set(as_list(by_sid["Logs"]["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    (logs_resource,) = as_list(by_sid["Logs"]["Resource"])
    assert logs_resource.endswith(f":log-group:{log_group}:*")
    if queue_reads:
        assert set(as_list(by_sid["BufferQueue"]["Resource"])) == queue_reads
        assert "sqs:SendMessage" not in as_list(by_sid["BufferQueue"]["Action"])
    else:
        assert "BufferQueue" not in by_sid
    if queue_sends:
        assert as_list(by_sid["AsyncFailureDestination"]["Action"]) == ["sqs:SendMessage"]
        assert set(as_list(by_sid["AsyncFailureDestination"]["Resource"])) == queue_sends
    else:
        assert "AsyncFailureDestination" not in by_sid
    for stmt in statements(doc):
        if stmt["Sid"] != "XRay":  # X-Ray has no resource-level permissions
            assert "*" not in as_list(stmt["Resource"]), stmt


def check_function(
    lam: Any,
    name: str,
    architecture: str,
    runtime: str,
    table: str,
    env: dict[str, str] | None = None,
    absent: tuple[str, ...] = (),
) -> dict[str, Any]:
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Architectures"] == [architecture]
    assert config["Runtime"] == runtime
    assert config["Handler"] == HANDLER
    assert config["Timeout"] <= 4
    variables = config["Environment"]["Variables"]
    assert variables["SEGMENT_USAGE_TABLE"] == table
    for key, value in (env or {}).items():
        assert variables.get(key) == value, key
    for key in absent:
        assert key not in variables, key
    return config


def check_table(ddb: Any, name: str, pitr: bool = True) -> None:
    table = ddb.describe_table(TableName=name)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        "pk": "S",
        "sk": "S",
    }
    assert not table.get("GlobalSecondaryIndexes")
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    assert ttl["AttributeName"] == "expires_at"
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    status = backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    assert status == ("ENABLED" if pitr else "DISABLED")


def check_partner_bus(events: Any, bus_name: str, source_id: str) -> dict[str, Any]:
    expected = f"aws.partner/segment.com/{source_id}"
    assert bus_name == expected
    bus = events.describe_event_bus(Name=bus_name)
    assert bus["Name"] == expected
    source = events.describe_event_source(Name=expected)
    assert source["Name"] == expected
    return bus


def rule_of(events: Any, bus: str, rule_name: str) -> dict[str, Any]:
    assert "/" not in rule_name and len(rule_name) <= 64
    return events.describe_rule(Name=rule_name, EventBusName=bus)


def targets_of(events: Any, bus: str, rule_name: str) -> dict[str, dict[str, Any]]:
    found = events.list_targets_by_rule(Rule=rule_name, EventBusName=bus)["Targets"]
    return {t["Arn"]: t for t in found}


def check_lambda_target(
    events: Any,
    lam: Any,
    bus: str,
    rule_name: str,
    function_name: str,
    target_arn: str,
    dlq_arn: str,
    retry: tuple[int, int] = (86400, 185),
    qualifier: str | None = None,
) -> str:
    rule = rule_of(events, bus, rule_name)
    target = targets_of(events, bus, rule_name)[target_arn]
    assert target["RetryPolicy"] == {
        "MaximumEventAgeInSeconds": retry[0],
        "MaximumRetryAttempts": retry[1],
    }
    assert target["DeadLetterConfig"] == {"Arn": dlq_arn}
    kwargs = {"FunctionName": function_name}
    if qualifier:
        kwargs["Qualifier"] = qualifier
    policy = policy_doc(lam.get_policy(**kwargs)["Policy"])
    mine = [
        s
        for s in statements(policy)
        if s["Principal"] == {"Service": "events.amazonaws.com"}
        and s["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]
    ]
    assert len(mine) == 1, policy
    assert mine[0]["Action"] == "lambda:InvokeFunction"
    return rule["Arn"]


def check_sqs_target(
    events: Any, bus: str, rule_name: str, queue_arn: str, dlq_arn: str | None
) -> str:
    rule = rule_of(events, bus, rule_name)
    target = targets_of(events, bus, rule_name)[queue_arn]
    if dlq_arn is not None:
        assert target["DeadLetterConfig"] == {"Arn": dlq_arn}
        assert "RetryPolicy" in target
    return rule["Arn"]


def check_queue_policy(sqs: Any, queue_url: str, queue_arn: str, rule_arns: set[str]) -> None:
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    (stmt,) = statements(json.loads(attrs["Policy"]))
    assert stmt["Effect"] == "Allow"
    assert stmt["Principal"] == {"Service": "events.amazonaws.com"}
    assert as_list(stmt["Action"]) == ["sqs:SendMessage"]
    assert as_list(stmt["Resource"]) == [queue_arn]
    assert set(as_list(stmt["Condition"]["ArnEquals"]["aws:SourceArn"])) == rule_arns


def check_encrypted_queue(sqs: Any, queue_url: str) -> dict[str, str]:
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attrs.get("SqsManagedSseEnabled") == "true" or "KmsMasterKeyId" in attrs
    return attrs


def check_buffer(
    sqs: Any, lam: Any, function_name: str, buffer_url: str, buffer_arn: str, dlq_arn: str
) -> None:
    attrs = check_encrypted_queue(sqs, buffer_url)
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) >= 1
    config = lam.get_function_configuration(FunctionName=function_name)
    assert int(attrs["VisibilityTimeout"]) >= 6 * config["Timeout"]
    mappings = lam.list_event_source_mappings(EventSourceArn=buffer_arn)["EventSourceMappings"]
    assert len(mappings) == 1
    (mapping,) = mappings
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["FunctionArn"].split(":")[6] == function_name
    return mapping


def check_failure_destination(
    lam: Any, function_name: str, queue_arn: str, qualifier: str | None = None
) -> None:
    kwargs = {"FunctionName": function_name}
    if qualifier:
        kwargs["Qualifier"] = qualifier
    config = lam.get_function_event_invoke_config(**kwargs)
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn


def check_alarms(cloudwatch: Any, prefix: str, expected_suffixes: set[str]) -> None:
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    names = {a["AlarmName"].removeprefix(prefix) for a in alarms}
    assert expected_suffixes <= names, names
    for alarm in alarms:
        if alarm["MetricName"] == "ApproximateNumberOfMessagesVisible":
            assert alarm["Threshold"] == 0
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
