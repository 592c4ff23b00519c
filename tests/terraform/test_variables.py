"""Input validation: plans of root modules that call the module with bad (and good) inputs.

All invalid cases are module blocks of one root module, planned once against a moto server (only
the caller identity, region and partition data sources talk to it): Terraform reports every
failed validation and precondition, each naming its module block. The valid case is planned
beside it and its planned values are checked.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from segment_usage.ingest.trackers import Trackers
from support import segment_messages as sm
from support.moto_server import create_segment_partner_source
from support.terraform import REPO_ROOT, run_terraform, terraform_env
from support.tf_overrides import provider_block

pytestmark = pytest.mark.terraform

PLAN_TEXT = '{"track":{"Signed Up":{"properties":{"plan":{"type":["string","null"]}}}}}'
TABLE_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
QUEUE_KEY = "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"

# name -> (extra module arguments in HCL, expected error text or None for a valid plan)
CASES: dict[str, tuple[str, str | None]] = {
    "empty_external_ids": (
        "segment_external_ids = []",
        "segment_external_ids must list at least one external ID",
    ),
    "duplicate_external_ids": (
        'segment_external_ids = ["a1", "a1"]',
        "must not repeat a value",
    ),
    "data_retention_shorter_than_redelivery": (
        "data_retention_days = 29",
        "data_retention_days must be null (keep data) or a whole number of days between 30 and 3650",
    ),
    "rule_name_over_64": (
        """
        name                 = "segment-usage-platform"
        environment          = "production12"
        segment_external_ids = ["ws"]
        eventbridge = {
          enabled           = true
          segment_source_id = "src123"
          rules             = { "a-very-long-rule-key-for-all-track-calls" = {} }
        }
        """,
        "must be at most 64 characters without '/'",
    ),
    "rule_key_with_slash": (
        """
        segment_external_ids = ["ws"]
        eventbridge = {
          enabled           = true
          segment_source_id = "src123"
          rules             = { "segment.com/all" = {} }
        }
        """,
        "rule name, which may not contain /",
    ),
    "eventbridge_without_source": (
        'segment_external_ids = ["ws"]\neventbridge = { enabled = true }',
        "segment_source_id is required when eventbridge.enabled",
    ),
    "bad_extra_target": (
        """
        segment_external_ids = ["ws"]
        eventbridge = {
          enabled           = true
          segment_source_id = "src123"
          rules = { all = { extra_targets = ["arn:aws:lambda:us-east-1:123456789012:function:x"] } }
        }
        """,
        "must be SQS queue or SNS topic ARNs",
    ),
    "timeout_over_segment_limit": (
        'segment_external_ids = ["ws"]\nlambda = { timeout = 5, package_path = var.zip }',
        "Segment gives up on an invocation after 5 seconds",
    ),
    "bad_tracker_type": (
        'segment_external_ids = ["ws"]\ntrackers = [{ type = "identify", name = "x" }]',
        "Every tracker type must be track, page or screen",
    ),
    # Issue 18: property filters and sums, refused at plan time naming the tracker and field.
    "tracker_where_without_trait": (
        """
        segment_external_ids = ["ws"]
        trackers = [{ type = "track", name = "Report Exported", where = { format = { equals = "pdf" } } }]
        """,
        "A tracker with where or sum needs its own trait (it counts only some of its calls): "
        'trackers[0] ("Report Exported").trait',
    ),
    "tracker_where_two_operators": (
        """
        segment_external_ids = ["ws"]
        trackers = [
          { type = "track", name = "Report Exported" },
          { type = "track", name = "Report Exported", trait = "pdf_exports",
            where = { format = { equals = "pdf", in = ["csv"] }, "cart..total" = { gt = 1 } } },
        ]
        """,
        'wrong: trackers[1] ("Report Exported").where["cart..total"], '
        'trackers[1] ("Report Exported").where["format"]',
    ),
    "tracker_bad_sum_path": (
        """
        segment_external_ids = ["ws"]
        trackers = [{ type = "track", name = "Order Completed", trait = "revenue", sum = ".revenue" }]
        """,
        'wrong: trackers[0] ("Order Completed").sum',
    ),
    "tracker_call_over_bucket_budget": (
        """
        segment_external_ids = ["ws"]
        trackers = [for i in range(5) : { type = "track", name = "Order Completed", trait = "t${i}" }]
        """,
        'over it: track "Order Completed" (5 trackers, 150 bytes)',
    ),
    "bad_tracker_trait": (
        'segment_external_ids = ["ws"]\ntrackers = [{ type = "track", name = "x", trait = "Bad" }]',
        "A tracker trait must match",
    ),
    "tracking_plan_not_object": (
        'segment_external_ids = ["ws"]\ntracking_plan = "[1, 2]"',
        "tracking_plan must be a JSON object",
    ),
    # Issue 16 item 9: plans that would stop all ingest at init, refused at plan time.
    "tracking_plan_bad_type_name": (
        """
        segment_external_ids = ["ws"]
        tracking_plan = jsonencode({ track = { "Order Completed" = { type = "objekt" } } })
        """,
        'tracking_plan: unknown JSON Schema type ["objekt"]',
    ),
    "tracking_plan_bad_type_in_list": (
        """
        segment_external_ids = ["ws"]
        tracking_plan = jsonencode({ identify = { properties = { age = { type = ["integer", "nul"] } } } })
        """,
        'tracking_plan: unknown JSON Schema type ["nul"]',
    ),
    "tracking_plan_key_typo": (
        """
        segment_external_ids = ["ws"]
        tracking_plan = jsonencode({ tracks = { "Order Completed" = {} } })
        """,
        'tracking_plan: unknown top-level keys ["tracks"]',
    ),
    "tracking_plan_bad_unplanned_mode": (
        """
        segment_external_ids = ["ws"]
        tracking_plan = jsonencode({ unplanned_events = "violate" })
        """,
        'tracking_plan: unplanned_events "violate" must be "allow" or "violation"',
    ),
    "tracking_plan_not_json": (
        'segment_external_ids = ["ws"]\ntracking_plan = "{track: {}}"',
        "tracking_plan must be valid JSON",
    ),
    "tracking_plan_export_without_rules_list": (
        """
        segment_external_ids = ["ws"]
        tracking_plan = jsonencode({ data = { rules = { type = "TRACK" } } })
        """,
        'a Segment export needs "data.rules"',
    ),
    "bad_max_users_per_anonymous_id": (
        'segment_external_ids = ["ws"]\nidentity = { max_users_per_anonymous_id = 0 }',
        "identity.max_users_per_anonymous_id must be a whole number between 1 and 100",
    ),
    "fractional_max_users_per_anonymous_id": (
        'segment_external_ids = ["ws"]\nidentity = { max_users_per_anonymous_id = 1.5 }',
        "identity.max_users_per_anonymous_id must be a whole number between 1 and 100",
    ),
    "repeated_blocked_values": (
        'segment_external_ids = ["ws"]\nidentity = { blocked_values = ["guest", "Guest"] }',
        "identity.blocked_values must not repeat a value",
    ),
    "bad_engage_space_id": (
        'segment_external_ids = ["ws"]\nengage = { space_ids = ["spa 1"] }',
        "engage.space_ids must be Engage space ids",
    ),
    "alias_named_eventbridge": (
        'segment_external_ids = ["ws"]\nlambda = { alias_name = "eventbridge", package_path = var.zip }',
        'lambda.alias_name cannot be "eventbridge"',
    ),
    "bad_principal": (
        'segment_external_ids = ["ws"]\nsegment_principal_arn = "595280932656"',
        "segment_principal_arn must be an IAM role ARN",
    ),
    "bad_log_retention": (
        'segment_external_ids = ["ws"]\nlogs = { retention_in_days = 31 }',
        "logs.retention_in_days must be one of",
    ),
    "bad_environment": (
        'environment = "Prod_1"\nsegment_external_ids = ["ws"]',
        "environment must be 1-12 lower-case letters",
    ),
    "visibility_timeout_too_short": (
        """
        segment_external_ids = ["ws"]
        sqs_buffer = { visibility_timeout_seconds = 10 }
        eventbridge = {
          enabled           = true
          segment_source_id = "src123"
          rules             = { track = { detail_types = ["track"], target = "sqs" } }
        }
        """,
        "must be at least 125: 6 times the batch function's timeout (20 s) plus the batching window",
    ),
    # 50 trackers: ~2,600 characters of environment but ~4,600 bytes (each name is 20 x "€", 3 bytes).
    "trackers_over_4_kb_in_bytes": (
        """
        segment_external_ids = ["ws"]
        trackers = [for i in range(50) : { type = "track", name = "${i}${join("", [for _ in range(20) : "€"])}" }]
        """,
        "trackers: the function's environment would take",
    ),
    "extra_target_in_another_region": (
        """
        segment_external_ids = ["ws"]
        eventbridge = {
          enabled           = true
          segment_source_id = "src123"
          rules = { all = { extra_targets = ["arn:aws:sqs:eu-west-1:123456789012:elsewhere"] } }
        }
        """,
        "is in eu-west-1, not in the module's region us-east-1",
    ),
    "fifo_extra_target_without_group": (
        """
        segment_external_ids = ["ws"]
        eventbridge = {
          enabled           = true
          segment_source_id = "src123"
          rules = { all = { extra_targets = ["arn:aws:sqs:us-east-1:123456789012:orders.fifo"] } }
        }
        """,
        "message_group_id is required when extra_targets holds a FIFO queue",
    ),
    "sns_fifo_extra_target": (
        """
        segment_external_ids = ["ws"]
        eventbridge = {
          enabled           = true
          segment_source_id = "src123"
          rules = { all = { extra_targets = ["arn:aws:sns:us-east-1:123456789012:t.fifo"] } }
        }
        """,
        "cannot hold an SNS FIFO topic",
    ),
    "bad_iam_path": (
        'segment_external_ids = ["ws"]\niam = { path = "segment-usage" }',
        "iam.path must be / or start and end with /",
    ),
    "bad_permissions_boundary": (
        'segment_external_ids = ["ws"]\niam = { permissions_boundary = "arn:aws:iam::123456789012:role/x" }',
        "iam.permissions_boundary must be a managed IAM policy ARN",
    ),
    "batch_timeout_over_lambda_maximum": (
        'segment_external_ids = ["ws"]\nsqs_buffer = { function_timeout = 901 }',
        "sqs_buffer.function_timeout must be a whole number of seconds, 1-900",
    ),
    "package_path_missing": (
        'segment_external_ids = ["ws"]\nlambda = { package_path = "/nonexistent/segment-usage.zip" }',
        "lambda.package_path must name an existing .zip",
    ),
    # A literal path: Terraform 1.11 does not re-check this rule when the path comes from var.zip.
    "package_path_and_s3": (
        f'segment_external_ids = ["ws"]\nlambda = {{ package_path = "{REPO_ROOT}/modules/segment-usage/artifacts/handler.zip", package_s3 = {{ bucket = "my-artifacts", key = "su.zip", object_version = "v1" }} }}',
        "lambda.package_path and lambda.package_s3 are alternatives",
    ),
    "package_s3_bad_bucket": (
        'segment_external_ids = ["ws"]\nlambda = { package_s3 = { bucket = "My_Artifacts", key = "su.zip", object_version = "v1" } }',
        "lambda.package_s3 needs an S3 bucket name",
    ),
    "package_s3_never_redeployed": (
        'segment_external_ids = ["ws"]\nlambda = { package_s3 = { bucket = "my-artifacts", key = "su.zip" } }',
        "needs object_version or source_code_hash",
    ),
    "package_s3_bad_hash": (
        'segment_external_ids = ["ws"]\nlambda = { package_s3 = { bucket = "my-artifacts", key = "su.zip", source_code_hash = "abc" } }',
        "must be the base64-encoded SHA-256 of the zip",
    ),
    # EventBridge to the function only: no Segment role and no sqs rule, so no buffer queue.
    "eventbridge_lambda_only": (
        """
        segment_lambda_destination = { enabled = false }
        eventbridge = { enabled = true, segment_source_id = "src123" }
        """,
        None,
    ),
    "valid_everything": (
        f"""
        segment_external_ids = ["ws-1", "src-2"]
        trackers = [
          {{ type = "track", name = "Signed Up" }},
          {{ type = "screen", name = "Home", trait = "home_views" }},
          {{ type = "track", name = "Report Exported", trait = "pdf_exports",
             where = {{ format = {{ equals = "pdf" }}, pages = {{ gte = 2, lt = 10.5 }} }} }},
          {{ type = "track", name = "Order Completed", trait = "revenue", sum = "revenue",
             where = {{ currency = {{ in = ["USD", "EUR"] }} }} }},
        ]
        tracking_plan      = {json.dumps(PLAN_TEXT)}
        tracking_plan_mode = "block"
        identity           = {{ max_users_per_anonymous_id = 3, blocked_values = ["guest", "0"] }}
        engage             = {{ space_ids = ["spa_4Bq2XkD8"] }}
        erasure            = {{ delete_messages = true }}
        data_retention_days = 400
        read_api           = {{ enabled = true }}
        dynamodb   = {{ kms_key_arn = "{TABLE_KEY}" }}
        sqs_buffer = {{ kms_key_arn = "{QUEUE_KEY}" }}
        iam = {{
          path                 = "/segment-usage/"
          permissions_boundary = "arn:aws:iam::123456789012:policy/boundary"
        }}
        eventbridge = {{
          enabled           = true
          segment_source_id = "src123"
          rules = {{
            all    = {{}}
            direct = {{ detail_types = ["identify"] }}
            track = {{
              detail_types     = ["track"]
              events           = ["Signed Up"]
              target           = "sqs"
              extra_targets    = ["arn:aws:sqs:us-east-1:123456789012:orders.fifo"]
              message_group_id = "segment-track"
            }}
          }}
        }}
        """,
        None,
    ),
}


def aws_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def module_block(case: str, body: str) -> str:
    arguments = textwrap.dedent(body).strip()
    if not any(line.strip().startswith("environment") for line in arguments.splitlines()):
        arguments = 'environment = "test"\n' + arguments
    if "lambda =" not in arguments:
        arguments += "\nlambda = { package_path = var.zip }"
    return (
        f'module "{case}" {{\n'
        f'  source = "{REPO_ROOT / "modules" / "segment-usage"}"\n'
        + textwrap.indent(arguments, "  ")
        + "\n}\n"
    )


def root_module(cases: list[str], endpoint: str) -> str:
    provider = provider_block(endpoint).replace(
        'provider "aws" {', 'provider "aws" {\n  region = "us-east-1"'
    )
    return (
        provider
        + 'variable "zip" {\n  type = string\n}\n\n'
        + "\n".join(module_block(case, CASES[case][0]) for case in cases)
    )


def run_root(
    cases: list[str], root: Path, endpoint: str, zip_path: Path
) -> tuple[int, str, dict[str, Any]]:
    """Plan one root module holding a module block per case; Terraform reports every failure."""
    root.mkdir(parents=True)
    (root / "main.tf").write_text(root_module(cases, endpoint))
    env = terraform_env()
    run_terraform(["init", "-backend=false", "-input=false", "-no-color"], root, env)
    proc = run_terraform(
        ["plan", "-input=false", "-no-color", "-out=case.tfplan", f"-var=zip={zip_path}"],
        root,
        env,
        ok_codes=(0, 1),
    )
    plan: dict[str, Any] = {}
    if proc.returncode == 0:
        plan = json.loads(run_terraform(["show", "-json", "case.tfplan"], root, env).stdout)
    return proc.returncode, proc.stdout + proc.stderr, plan


INVALID = [c for c, (_, err) in CASES.items() if err is not None]
# Checked by resource preconditions, which Terraform evaluates only once every variable is valid:
# planned in a root of their own.
PRECONDITIONS = [
    "empty_external_ids",
    "rule_name_over_64",
    "visibility_timeout_too_short",
    "trackers_over_4_kb_in_bytes",
    "extra_target_in_another_region",
]
VARIABLES = [c for c in INVALID if c not in PRECONDITIONS]


@pytest.fixture(scope="module")
def results(
    terraform_ready: Path,
    tf_moto_url: str,
    lambda_zip: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[int, str, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("variables")
    # The module looks the Segment partner source up at plan time (issue 19): the valid cases
    # name src123, so it exists, as Segment would have created it.
    create_segment_partner_source(tf_moto_url, "src123")
    roots = {
        "variables": VARIABLES,
        "preconditions": PRECONDITIONS,
        "valid_everything": ["valid_everything", "eventbridge_lambda_only"],
    }
    with ThreadPoolExecutor(max_workers=len(roots)) as pool:
        futures = {
            key: pool.submit(run_root, cases, base / key, tf_moto_url, lambda_zip)
            for key, cases in roots.items()
        }
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_input_is_rejected(results: dict[str, Any], case: str) -> None:
    code, output, _ = results["preconditions" if case in PRECONDITIONS else "variables"]
    expected = CASES[case][1]
    assert code == 1, "the plan of invalid inputs succeeded"
    diagnostics = [" ".join(d.split()) for d in output.split("Error: ")[1:]]
    if case in VARIABLES:
        # A variable's diagnostic names its module block: in module "<case>".
        diagnostics = [d for d in diagnostics if f'module "{case}"' in d]
    # (A precondition's names the resource inside the module; each case's message is distinct.)
    assert any(expected in d for d in diagnostics), output


def module_of(values: dict[str, Any], case: str) -> dict[str, Any]:
    (module,) = [
        m for m in values["root_module"]["child_modules"] if m["address"] == f"module.{case}"
    ]
    return module


def resources_of(module: dict[str, Any]) -> list[dict[str, Any]]:
    """A module's resources and its child modules' (the functions: module.function["..."])."""
    return module.get("resources", []) + [
        r for child in module.get("child_modules", []) for r in resources_of(child)
    ]


def planned(plan: dict[str, Any], case: str) -> dict[str, Any]:
    return {
        r["address"].replace(f"module.{case}.", "module.segment_usage."): r
        for r in resources_of(module_of(plan["planned_values"], case))
    }


DIRECT = 'module.segment_usage.module.function["direct"]'
BATCH = 'module.segment_usage.module.function["batch"]'
READ = 'module.segment_usage.module.function["read"]'


def test_buffer_only_where_something_feeds_it(results: dict[str, Any]) -> None:
    """Issue 10: the buffer (and the batch function) exists for the Lambda destination's hand-off
    or for rules with target = sqs; EventBridge straight to the function needs neither."""
    code, output, plan = results["valid_everything"]
    assert code == 0, output
    resources = planned(plan, "eventbridge_lambda_only")
    assert not [a for a in resources if "buffer" in a or '["batch"]' in a], sorted(resources)
    function = resources[f"{DIRECT}.aws_lambda_function.this"]["values"]
    (env,) = function["environment"]
    assert "SEGMENT_USAGE_BUFFER_QUEUE_URL" not in env["variables"]
    assert f"{DIRECT}.aws_lambda_function_event_invoke_config.this[0]" in resources


def test_valid_inputs_plan_the_promised_function(results: dict[str, Any]) -> None:
    code, output, plan = results["valid_everything"]
    assert code == 0, output
    resources = planned(plan, "valid_everything")
    function = resources[f"{DIRECT}.aws_lambda_function.this"]["values"]
    (env,) = function["environment"]
    variables = env["variables"]
    assert json.loads(variables["SEGMENT_USAGE_TRACKERS"]) == [
        {"type": "track", "name": "Signed Up"},
        {"type": "screen", "name": "Home", "trait": "home_views"},
        {
            "type": "track",
            "name": "Report Exported",
            "trait": "pdf_exports",
            "where": {"format": {"equals": "pdf"}, "pages": {"gte": 2, "lt": 10.5}},
        },
        {
            "type": "track",
            "name": "Order Completed",
            "trait": "revenue",
            "sum": "revenue",
            "where": {"currency": {"in": ["USD", "EUR"]}},
        },
    ]
    # The function parses what the plan puts in its environment (the same rules, in Python).
    parsed = Trackers.parse(variables["SEGMENT_USAGE_TRACKERS"])
    pdf = sm.track("Report Exported", {"format": "pdf", "pages": 3}, user_id="u")
    order = sm.track("Order Completed", {"currency": "EUR", "revenue": 19.99}, user_id="u")
    assert parsed.uses_for(pdf) == (("pdf_exports", None),)
    assert parsed.uses_for(order) == (("revenue", 19_990_000),)
    assert (
        variables["SEGMENT_USAGE_TRACKING_PLAN_SHA256"]
        == hashlib.sha256(PLAN_TEXT.encode()).hexdigest()
    )
    assert variables["SEGMENT_USAGE_TRACKING_PLAN_MODE"] == "block"
    assert variables["SEGMENT_USAGE_DATA_RETENTION_DAYS"] == "400"
    assert "SEGMENT_USAGE_TRACKING_PLAN" not in variables  # the plan itself lives in the table
    assert function["timeout"] == 3
    assert function["architectures"] == ["arm64"]
    assert function["runtime"] == "python3.13"
    stored = resources['module.segment_usage.aws_dynamodb_table_item.config["TRACKING_PLAN"]']
    item = json.loads(stored["values"]["item"])
    assert item["pk"] == {"S": "CONFIG"} and item["sk"] == {"S": "TRACKING_PLAN"}
    assert item["plan"] == {"S": PLAN_TEXT}
    rule = resources['module.segment_usage.aws_cloudwatch_event_rule.this["track"]']["values"]
    assert rule["name"] == "segment-usage-test-track"
    # Patterns match the Segment message's own type, never the remappable detail-type.
    source = "aws.partner/segment.com/src123"
    assert json.loads(rule["event_pattern"]) == {
        "source": [source],
        "detail": {"type": ["track"], "event": ["Signed Up"]},
    }
    rule = resources['module.segment_usage.aws_cloudwatch_event_rule.this["all"]']["values"]
    assert json.loads(rule["event_pattern"]) == {"source": [source]}
    extra = resources['module.segment_usage.aws_cloudwatch_event_target.extra["track-0"]']["values"]
    assert extra["sqs_target"] == [{"message_group_id": "segment-track"}]
    # Every role the module creates carries the IAM path and the permissions boundary.
    roles = {a: r["values"] for a, r in resources.items() if r["type"] == "aws_iam_role"}
    assert set(roles) == {
        f"{DIRECT}.aws_iam_role.this",
        f"{BATCH}.aws_iam_role.this",
        f"{READ}.aws_iam_role.this",
        "module.segment_usage.aws_iam_role.segment[0]",
    }
    for role in roles.values():
        assert role["path"] == "/segment-usage/"
        assert role["permissions_boundary"] == "arn:aws:iam::123456789012:policy/boundary"
    # Timeouts: the direct function stays under Segment's 5 s; the batch function's and the
    # buffer's visibility derive from the batch (100 messages, 5 s window): 10 + 100/10 = 20 s,
    # and 6 x 20 + 5 = 125 s.
    # Customer keys: Decrypt for the table (DynamoDB decrypts the table key with the caller's
    # permission), GenerateDataKey + Decrypt for the queue producer, Decrypt for the consumer;
    # never kms:Encrypt or kms:DescribeKey, which nothing calls. Every function's role, the read
    # API's included: it reads the table, so it decrypts its key, and nothing more.
    data = {
        r["address"].removeprefix("module.valid_everything."): r["values"]
        for r in resources_of(module_of(plan["prior_state"]["values"], "valid_everything"))
        if r["mode"] == "data"
    }
    kms = {
        name: {s["Sid"]: (sorted(aws_list(s["Action"])), s["Resource"]) for s in doc["Statement"]}
        for name in ("direct", "batch", "read")
        for doc in [
            json.loads(data[f'module.function["{name}"].data.aws_iam_policy_document.keys']["json"])
        ]
    }
    assert kms == {
        "direct": {
            "TableKey": (["kms:Decrypt"], TABLE_KEY),
            "QueueKey": (["kms:Decrypt", "kms:GenerateDataKey"], QUEUE_KEY),
        },
        "batch": {
            "TableKey": (["kms:Decrypt"], TABLE_KEY),
            "QueueKey": (["kms:Decrypt"], QUEUE_KEY),
        },
        "read": {"TableKey": (["kms:Decrypt"], TABLE_KEY)},
    }
    batch = resources[f"{BATCH}.aws_lambda_function.this"]["values"]
    assert batch["timeout"] == 20
    queue = resources["module.segment_usage.aws_sqs_queue.buffer[0]"]["values"]
    assert queue["visibility_timeout_seconds"] == 6 * 20 + 5
    mapping = resources["module.segment_usage.aws_lambda_event_source_mapping.buffer[0]"]
    assert mapping["values"]["batch_size"] == 100
    (batch_env,) = batch["environment"]
    # The direct path hands off to the buffer (issue 10); the batch function drains it and never
    # hands off, so its environment is the same without the queue.
    assert variables["SEGMENT_USAGE_BUFFER_QUEUE_URL"] == (
        "https://sqs.us-east-1.amazonaws.com/123456789012/segment-usage-test-buffer"
    )
    # Each function accepts what its trigger delivers, decided here (issue 17): the direct one raw
    # Segment messages, and EventBridge events only through the alias the rules invoke; the batch
    # one SQS records of the buffer only. Both take events of the partner source only.
    source = "aws.partner/segment.com/src123"
    accepts = {
        "SEGMENT_USAGE_ACCEPT": '["segment","eventbridge"]',
        "SEGMENT_USAGE_EVENTBRIDGE_QUALIFIER": "eventbridge",
        "SEGMENT_USAGE_PARTNER_SOURCES": json.dumps([source]),
    }
    assert {k: variables.pop(k) for k in accepts} == accepts
    assert json.loads(batch_env["variables"].pop("SEGMENT_USAGE_ACCEPT")) == ["sqs"]
    assert json.loads(batch_env["variables"].pop("SEGMENT_USAGE_PARTNER_SOURCES")) == [source]
    assert json.loads(batch_env["variables"].pop("SEGMENT_USAGE_QUEUE_ARNS")) == [
        "arn:aws:sqs:us-east-1:123456789012:segment-usage-test-buffer"
    ]
    # Identity, Engage and erasure settings, the same for both.
    assert {
        k: variables[k]
        for k in variables
        if k.startswith("SEGMENT_USAGE_")
        and k
        in {
            "SEGMENT_USAGE_MAX_USERS_PER_ANONYMOUS_ID",
            "SEGMENT_USAGE_BLOCKED_IDS",
            "SEGMENT_USAGE_ENGAGE_SPACE_IDS",
            "SEGMENT_USAGE_DELETE_MESSAGES",
        }
    } == {
        "SEGMENT_USAGE_MAX_USERS_PER_ANONYMOUS_ID": "3",
        "SEGMENT_USAGE_BLOCKED_IDS": '["guest","0"]',
        "SEGMENT_USAGE_ENGAGE_SPACE_IDS": '["spa_4Bq2XkD8"]',
        "SEGMENT_USAGE_DELETE_MESSAGES": "true",
    }
    assert batch_env["variables"] == {
        k: v for k, v in variables.items() if k != "SEGMENT_USAGE_BUFFER_QUEUE_URL"
    }
    # The EventBridge alias: the rules' Lambda targets and their permissions name it.
    alias = resources["module.segment_usage.aws_lambda_alias.eventbridge[0]"]["values"]
    assert alias["name"] == "eventbridge" and alias["function_name"] == "segment-usage-test"
    for key in ("all", "direct"):
        grant = resources[f'module.segment_usage.aws_lambda_permission.eventbridge_alias["{key}"]']
        assert grant["values"]["qualifier"] == "eventbridge"
    invoke = resources[
        "module.segment_usage.aws_lambda_function_event_invoke_config.eventbridge[0]"
    ]
    assert invoke["values"]["qualifier"] == "eventbridge"
    alarms = {
        r["values"]["alarm_name"]
        for r in resources.values()
        if r["type"] == "aws_cloudwatch_metric_alarm"
    }
    assert {
        "segment-usage-test-batch-buffer-age",
        "segment-usage-test-lambda-async-events-dropped",
        "segment-usage-test-lambda-destination-delivery-failures",
        "segment-usage-test-rule-all-failed-invocations",
        "segment-usage-test-rules-match-nothing",
        "segment-usage-test-plan-errors",
    } <= alarms
    (plan_errors,) = [
        r["values"]
        for r in resources.values()
        if r["values"].get("alarm_name") == "segment-usage-test-plan-errors"
    ]
    metrics = [q["metric"][0] for q in plan_errors["metric_query"] if q["metric"]]
    assert {m["namespace"] for m in metrics} == {"SegmentUsage"}
    assert {m["metric_name"] for m in metrics} == {"PlanErrors"}
    assert sorted(m["dimensions"]["CallType"] for m in metrics) == sorted(
        ["track", "page", "screen", "identify", "group", "alias", "unknown"]
    )
    (unmatched,) = [
        r["values"]
        for r in resources.values()
        if r["values"].get("alarm_name") == "segment-usage-test-rules-match-nothing"
    ]
    queries = {q["id"]: q for q in unmatched["metric_query"]}
    assert queries["ingested"]["metric"][0]["dimensions"] == {"EventSourceName": source}
    matched = [q["metric"][0]["dimensions"] for k, q in queries.items() if k.startswith("matched")]
    assert sorted(d["RuleName"] for d in matched) == [
        "segment-usage-test-all",
        "segment-usage-test-direct",
        "segment-usage-test-track",
    ]
    bus = resources["module.segment_usage.aws_cloudwatch_event_bus.segment[0]"]["values"]
    assert bus["name"] == bus["event_source_name"] == "aws.partner/segment.com/src123"
    role = resources["module.segment_usage.aws_iam_role.segment[0]"]["values"]
    assert role["name"] == "segment-usage-test-us-east-1-segment"
    for address, resource in resources.items():
        values = resource.get("values", {})
        if "tags" in values and resource["mode"] == "managed":
            assert values["tags"].get("Module") == "segment-usage", address
