"""Issue 19, item 6: the CloudWatch dashboard charts only what exists.

One plan (no apply: test_settings.py applies the dashboard against moto and checks the names
against the resources created) of four deployments: every path on; EventBridge to the buffer only;
Segment's Lambda destination only (the default); and the dashboard turned off. For each planned
dashboard body:
  - it is JSON, its widgets fit the 24-column grid without overlapping;
  - every AWS metric is one AWS documents for its namespace, with its documented dimensions, on a
    function, queue, rule, bus or table this very plan creates; and every metric an alarm of the
    plan watches is charted;
  - the handler's metrics are the names and the dimension its EMF documents carry
    (observability.py, from a real InvocationSummary), in the deployment's namespace;
  - the Logs Insights widgets read the planned functions' log groups and only fields of the
    invocation line the handler writes (the same summary, flattened as Logs Insights flattens JSON),
    one widget per path the deployment has, on the log group of the function serving it.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from segment_usage.ingest.envelopes import DIRECT, EVENTBRIDGE, SQS
from segment_usage.ingest.spec import validate_message
from segment_usage.observability import InvocationSummary
from support import segment_messages as sm
from support.moto_server import create_segment_partner_source
from support.terraform import REPO_ROOT, run_terraform, terraform_env
from support.tf_overrides import provider_block

pytestmark = pytest.mark.terraform

MODULE = REPO_ROOT / "modules" / "segment-usage"
SOURCE_ID = "dashboard0src"
NAMESPACE = "SegmentUsageDash"

CASES = {
    "everything": f"""
        segment_external_ids = ["ws"]
        metrics_namespace    = "{NAMESPACE}"
        read_api             = {{ enabled = true }}
        tracking_plan        = jsonencode({{ track = {{}} }})
        eventbridge = {{
          enabled           = true
          segment_source_id = "{SOURCE_ID}"
          rules             = {{ direct = {{}}, track = {{ detail_types = ["track"], target = "sqs" }} }}
        }}
    """,
    "buffer_only": f"""
        segment_lambda_destination = {{ enabled = false }}
        eventbridge = {{
          enabled           = true
          segment_source_id = "{SOURCE_ID}"
          rules             = {{ all = {{ target = "sqs" }} }}
        }}
    """,
    "destination_only": """
        segment_external_ids = ["ws"]
    """,
    "off": """
        segment_external_ids = ["ws"]
        dashboard            = { enabled = false }
    """,
}
# The paths each deployment has, and which function's log group serves each.
PATHS = {
    "everything": {DIRECT: "direct", EVENTBRIDGE: "direct", SQS: "batch"},
    "buffer_only": {SQS: "batch"},
    "destination_only": {DIRECT: "direct", SQS: "batch"},
}

# The metrics AWS publishes that the dashboard may chart, with the dimensions each is published
# with: AWS Lambda "Types of metrics for Lambda functions", Amazon SQS "Available CloudWatch
# metrics for Amazon SQS", Amazon EventBridge "Monitoring Amazon EventBridge" (a rule on a custom
# bus: EventBusName and RuleName; partner events: EventSourceName), Amazon DynamoDB "DynamoDB
# Metrics and dimensions" (SuccessfulRequestLatency per TableName and Operation).
AWS_METRICS: dict[str, dict[str, set[frozenset[str]]]] = {
    "AWS/Lambda": {
        name: {frozenset({"FunctionName"})}
        for name in (
            "Invocations",
            "Errors",
            "Throttles",
            "Duration",
            "ConcurrentExecutions",
            "AsyncEventsDropped",
            "DestinationDeliveryFailures",
        )
    },
    "AWS/SQS": {
        name: {frozenset({"QueueName"})}
        for name in ("ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible")
    },
    "AWS/Events": {
        "Events": {frozenset({"EventSourceName"})},
        **{
            name: {frozenset({"EventBusName", "RuleName"})}
            for name in ("MatchedEvents", "Invocations", "FailedInvocations")
        },
    },
    "AWS/DynamoDB": {
        **{
            name: {frozenset({"TableName"})}
            for name in (
                "WriteThrottleEvents",
                "ReadThrottleEvents",
                "ConsumedWriteCapacityUnits",
                "ConsumedReadCapacityUnits",
            )
        },
        "SuccessfulRequestLatency": {frozenset({"TableName", "Operation"})},
    },
}
DIMENSION_OF = {"FunctionName", "QueueName", "RuleName", "EventBusName", "EventSourceName"}


def module_block(name: str, body: str) -> str:
    return (
        f'module "{name}" {{\n  source = "{MODULE}"\n  environment = "dash"\n'
        f'  name = "su-{name.replace("_", "-")}"\n'
        + textwrap.indent(textwrap.dedent(body).strip(), "  ")
        + "\n}\n"
    )


@pytest.fixture(scope="module")
def plan(terraform_ready: Path, tf_moto_url: str, tmp_path_factory) -> dict[str, Any]:
    where = tmp_path_factory.mktemp("dashboard")
    provider = provider_block(tf_moto_url).replace(
        'provider "aws" {', 'provider "aws" {\n  region = "us-east-1"'
    )
    modules = "\n".join(module_block(name, body) for name, body in CASES.items())
    (where / "main.tf").write_text(provider + "\n" + modules)
    create_segment_partner_source(tf_moto_url, SOURCE_ID)
    env = terraform_env()
    run_terraform(["init", "-backend=false", "-input=false", "-no-color"], where, env)
    run_terraform(["plan", "-input=false", "-no-color", "-out=dash.tfplan"], where, env)
    return json.loads(run_terraform(["show", "-json", "dash.tfplan"], where, env).stdout)


def resources_of(module: dict[str, Any]) -> list[dict[str, Any]]:
    return module.get("resources", []) + [
        r for child in module.get("child_modules", []) for r in resources_of(child)
    ]


def planned(plan: dict[str, Any], case: str) -> list[dict[str, Any]]:
    (module,) = [
        m
        for m in plan["planned_values"]["root_module"]["child_modules"]
        if m["address"] == f"module.{case}"
    ]
    return resources_of(module)


def of_type(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r["values"] for r in resources if r["type"] == kind and r["mode"] == "managed"]


def body_of(plan: dict[str, Any], case: str) -> dict[str, Any]:
    (dashboard,) = of_type(planned(plan, case), "aws_cloudwatch_dashboard")
    return json.loads(dashboard["dashboard_body"])


def handler_lines() -> tuple[dict[str, Any], dict[str, Any]]:
    """The invocation line and an EMF document as the handler writes them, for real messages of
    every outcome (a rejection with the errors the Segment Spec check gives)."""
    summary = InvocationSummary(SQS, "request-1")
    invalid = sm.track("Signed Up")
    del invalid["userId"], invalid["anonymousId"]
    errors = validate_message(invalid)
    assert errors
    for status, msg, errs in [
        ("accepted", sm.track("Report Exported"), None),
        ("duplicate", sm.identify({"plan": "pro"}), None),
        ("rejected", invalid, errors),
        ("buffered", sm.page("Pricing"), None),
        ("failed", sm.screen("Home"), ["dynamodb: ProvisionedThroughputExceededException"]),
    ]:
        summary.add(status, msg["type"], msg["messageId"], errs)
    line = summary.log_line()
    (emf, *_) = summary.emf_documents(NAMESPACE)
    return line, emf


def flattened(value: Any, prefix: str = "") -> dict[str, Any]:
    """JSON keys as Logs Insights discovers them: nested objects and arrays joined by dots."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, inner in items:
        out.update(flattened(inner, f"{prefix}.{key}" if prefix else key))
    return out


def metric_rows(body: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    rows = []
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            strings = [x for x in row if isinstance(x, str)]
            if not strings:
                continue  # an expression (checked below)
            namespace, name, *pairs = strings
            assert len(pairs) % 2 == 0, row
            rows.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return rows


SEARCH = re.compile(r"SUM\(SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\"', 'Sum', (\d+)\)\)")


@pytest.mark.parametrize("case", ["everything", "buffer_only", "destination_only"])
def test_the_body_is_json_on_the_grid(plan: dict[str, Any], case: str) -> None:
    body = body_of(plan, case)
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["type"] in {"text", "metric", "log"}
        assert widget["x"] >= 0 and widget["x"] + widget["width"] <= 24, widget
        area = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not area & cells, f"overlapping widget {widget['properties'].get('title')}"
        cells |= area
        if widget["type"] != "text":
            assert widget["properties"]["region"] == "us-east-1"


@pytest.mark.parametrize("case", ["everything", "buffer_only", "destination_only"])
def test_every_aws_metric_exists_on_a_planned_resource(plan: dict[str, Any], case: str) -> None:
    resources = planned(plan, case)
    names = {
        "FunctionName": {v["function_name"] for v in of_type(resources, "aws_lambda_function")},
        "QueueName": {v["name"] for v in of_type(resources, "aws_sqs_queue")},
        "RuleName": {v["name"] for v in of_type(resources, "aws_cloudwatch_event_rule")},
        "EventBusName": {v["name"] for v in of_type(resources, "aws_cloudwatch_event_bus")},
        "EventSourceName": {
            v["event_source_name"] for v in of_type(resources, "aws_cloudwatch_event_bus")
        },
        "TableName": {v["name"] for v in of_type(resources, "aws_dynamodb_table")},
    }
    rows = metric_rows(body_of(plan, case))
    for namespace, name, dimensions in rows:
        assert frozenset(dimensions) in AWS_METRICS[namespace][name], (namespace, name)
        for key, value in dimensions.items():
            if key != "Operation":
                assert value in names[key], (namespace, name, key, value)
    charted = {(ns, name, tuple(sorted(dims.items()))) for ns, name, dims in rows}
    # Every function, queue and rule the deployment has is on the dashboard.
    assert {d["FunctionName"] for _, _, d in rows if "FunctionName" in d} == names["FunctionName"]
    assert {d["RuleName"] for _, _, d in rows if "RuleName" in d} == names["RuleName"]
    assert {d["QueueName"] for _, _, d in rows if "QueueName" in d} == names["QueueName"]
    # What the alarms watch (alarms.tf and each function's own), the dashboard charts.
    for alarm in of_type(resources, "aws_cloudwatch_metric_alarm"):
        if alarm.get("metric_name"):
            watched = [(alarm["namespace"], alarm["metric_name"], alarm["dimensions"])]
        else:
            watched = [
                (
                    q["metric"][0]["namespace"],
                    q["metric"][0]["metric_name"],
                    q["metric"][0]["dimensions"],
                )
                for q in alarm["metric_query"]
                if q.get("metric")
            ]
        for namespace, name, dimensions in watched:
            if namespace.startswith("AWS/"):
                assert (namespace, name, tuple(sorted(dimensions.items()))) in charted, alarm[
                    "alarm_name"
                ]


def test_the_handler_metrics_are_those_it_writes(plan: dict[str, Any]) -> None:
    _, emf = handler_lines()
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    written = {m["Name"] for m in directive["Metrics"]}
    (dimensions,) = directive["Dimensions"]
    for case, namespace in [("everything", NAMESPACE), ("destination_only", "SegmentUsage")]:
        expressions = [
            row[0]["expression"]
            for widget in body_of(plan, case)["widgets"]
            for row in widget["properties"].get("metrics", [])
            if isinstance(row[0], dict)
        ]
        found = [SEARCH.fullmatch(e) for e in expressions]
        assert expressions and all(found), expressions
        assert {m.group(2) for m in found if m} == written
        for match in found:
            assert match is not None
            assert match.group(1).split(",") == [namespace, *dimensions]
        # Also what the PlanErrors alarm watches, when a tracking plan is set.
        for alarm in of_type(planned(plan, case), "aws_cloudwatch_metric_alarm"):
            for query in alarm.get("metric_query") or []:
                for metric in query.get("metric") or []:
                    if metric["namespace"] == namespace:
                        assert metric["metric_name"] in written
                        assert list(metric["dimensions"]) == dimensions


SOURCE = re.compile(r"SOURCE '([^']+)'")


def query_fields(query: str) -> set[str]:
    """The fields of the log line a query reads (aliases it defines are not fields)."""
    body = SOURCE.sub("", query)
    aliases = set(re.findall(r"\bas (\w+)", body))
    fields = set(re.findall(r"sum\((\w+)\)", body))
    fields |= set(re.findall(r"filter (\w+)", body))
    fields |= set(re.findall(r"`([^`]+)`", body))
    fields |= {f.strip() for m in re.findall(r"\bby ([\w, ]+)", body) for f in m.split(",")}
    fields |= {
        f.strip()
        for m in re.findall(r"fields ([\w, ]+?)(?:,\s*`|\s*\||$)", body)
        for f in m.split(",")
    }
    return {f for f in fields if f and f not in aliases and not f.startswith("bin")}


@pytest.mark.parametrize("case", ["everything", "buffer_only", "destination_only"])
def test_log_widgets_read_the_invocation_line_per_path(plan: dict[str, Any], case: str) -> None:
    line, _ = handler_lines()
    keys = set(flattened(line))
    # The functions by key, from their addresses (module.function["direct"], ...).
    functions: dict[str, str] = {}
    for r in planned(plan, case):
        if r["type"] == "aws_lambda_function":
            key = re.search(r'module\.function\["(\w+)"\]', r["address"])
            assert key
            functions[key.group(1)] = r["values"]["function_name"]
    per_path: dict[str, str] = {}
    for widget in body_of(plan, case)["widgets"]:
        if widget["type"] != "log":
            continue
        query = widget["properties"]["query"]
        groups = SOURCE.findall(query)
        assert groups and all(g in {f"/aws/lambda/{f}" for f in functions.values()} for g in groups)
        assert f'filter message = "{line["message"]}"' in query
        assert query_fields(query) <= keys, query_fields(query) - keys
        path = re.search(r'filter path = "(\w+)"', query)
        if path:
            (group,) = groups
            per_path[path.group(1)] = group
    assert per_path == {p: f"/aws/lambda/{functions[f]}" for p, f in PATHS[case].items()}


def test_no_dashboard_when_turned_off(plan: dict[str, Any]) -> None:
    assert of_type(planned(plan, "off"), "aws_cloudwatch_dashboard") == []
    assert of_type(planned(plan, "destination_only"), "aws_cloudwatch_dashboard") != []
