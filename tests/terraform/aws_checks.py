"""boto3 checks that what Terraform created is what the module promises (run against moto)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

SEGMENT_PRINCIPAL = "arn:aws:iam::595280932656:role/customer-lambda-prod-destination-access"
HANDLER = "segment_usage.handler.lambda_handler"
# What Lambda itself calls with an execution role, which no handler run can record:
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}  # the function's log stream
# The SQS event source mapping polls with the function's role (the actions of AWS's managed
# AWSLambdaSQSQueueExecutionRole); the handler answers batchItemFailures and deletes nothing.
EVENT_SOURCE_MAPPING_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
# Lambda sends failed asynchronous invocations to the on-failure destination with the role.
ASYNC_DESTINATION_ACTIONS = {"sqs:SendMessage"}


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


def granted(doc: dict[str, Any]) -> dict[str, set[str]]:
    """Action -> the resources an identity policy allows it on."""
    found: dict[str, set[str]] = {}
    for stmt in statements(doc):
        assert stmt["Effect"] == "Allow", stmt
        for action in as_list(stmt["Action"]):
            found.setdefault(action, set()).update(as_list(stmt["Resource"]))
    return found


def check_execution_role(
    iam: Any,
    role_arn: str,
    table_arn: str,
    log_group_arn: str,
    handler_actions: set[str],
    buffer_arn: str | None = None,
    async_failure_queue_arn: str | None = None,
    path: str = "/",
) -> None:
    """The role grants exactly what the function's code calls (``handler_actions``, recorded from
    real handler runs by handler_calls.py) plus what Lambda calls with it: nothing more, and
    each action only on its own resource."""
    name = role_arn.split("/")[-1]
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Path"] == path
    (trust,) = statements(policy_doc(role["AssumeRolePolicyDocument"]))
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    doc = policy_doc(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
    expected: dict[str, set[str]] = {}
    for action in handler_actions:
        if action.startswith("dynamodb:"):
            expected[action] = {table_arn}
        elif action == "sqs:SendMessage" and buffer_arn:  # the direct path's hand-off
            expected[action] = {buffer_arn}
        else:
            raise AssertionError(f"the handler calls {action}, which this role must not grant")
    for action in LOG_ACTIONS:
        expected[action] = {f"{log_group_arn}:*"}
    if async_failure_queue_arn:
        for action in ASYNC_DESTINATION_ACTIONS:
            expected.setdefault(action, set()).add(async_failure_queue_arn)
    found = granted(doc)
    found.pop("xray:PutTraceSegments", None), found.pop("xray:PutTelemetryRecords", None)
    assert found == expected


def check_batch_role(
    iam: Any,
    role_arn: str,
    table_arn: str,
    log_group_arn: str,
    handler_actions: set[str],
    buffer_arn: str,
    path: str = "/",
) -> None:
    """The batch function's role: its handler's calls, its logs, and the event source mapping's
    polling of the buffer; it sends to no queue."""
    assert not {a for a in handler_actions if a.startswith("sqs:")}
    name = role_arn.split("/")[-1]
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Path"] == path
    (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    doc = policy_doc(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
    expected = {action: {table_arn} for action in handler_actions}
    expected.update({action: {f"{log_group_arn}:*"} for action in LOG_ACTIONS})
    expected.update({action: {buffer_arn} for action in EVENT_SOURCE_MAPPING_ACTIONS})
    found = granted(doc)
    found.pop("xray:PutTraceSegments", None), found.pop("xray:PutTelemetryRecords", None)
    assert found == expected


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
    assert config["Timeout"] <= 4  # Segment gives the direct path 5 s
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
    mappings = lam.list_event_source_mappings(EventSourceArn=buffer_arn)["EventSourceMappings"]
    assert len(mappings) == 1
    (mapping,) = mappings
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["FunctionArn"].split(":")[6] == function_name
    # AWS's guidance for SQS event sources: visibility >= 6 x function timeout + batching window.
    config = lam.get_function_configuration(FunctionName=function_name)
    window = mapping.get("MaximumBatchingWindowInSeconds", 0)
    assert int(attrs["VisibilityTimeout"]) >= 6 * config["Timeout"] + window
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
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible":
            assert alarm["Threshold"] == 0
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        if alarm["AlarmName"].endswith("-rules-match-nothing"):
            # Metric math: Segment delivered (Events of the partner source) and no rule matched.
            queries = {q["Id"]: q for q in alarm["Metrics"]}
            ingested = queries["ingested"]["MetricStat"]["Metric"]
            assert (ingested["Namespace"], ingested["MetricName"]) == ("AWS/Events", "Events")
            matched = [q for i, q in queries.items() if i.startswith("matched")]
            assert matched and all(
                q["MetricStat"]["Metric"]["MetricName"] == "MatchedEvents" for q in matched
            )
            assert "FILL(ingested, 0) > 0" in queries["unmatched"]["Expression"]
