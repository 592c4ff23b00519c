"""Issue 19, items 3 and 4: the platform settings, applied for real against moto in one deployment,
and what must fail at plan time.

One apply sets every new setting at once (VPC placement, a KMS key for the functions' environments,
code signing, reserved concurrency for the read API, managed policies on the roles, the table's
class and stream, caller tags that reuse the module's own keys), then reads each back from moto
with boto3 and checks the grouped outputs against what exists; a second plan must show nothing but
moto's known misreports. Two plans with no apply: a partner event source that does not exist
fails the plan (not the apply), and each setting's bad values fail with a message naming it.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aws_checks as chk
import pytest
from plan_checks import unexplained_changes

from support.moto_server import ACCOUNT_ID, boto3_client, create_segment_partner_source
from support.terraform import REPO_ROOT, run_terraform, terraform_env
from support.tf_overrides import provider_block

pytestmark = pytest.mark.terraform

MODULE = REPO_ROOT / "modules" / "segment-usage"
REGION = "us-east-1"
SOURCE_ID = "settings0src"
ENV_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555"
SIGNING = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:code-signing-config:csc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
GROUPS = ["sg-0123456789abcdef0"]
CALLER_TAGS = {"Environment": "production", "Module": "platform-ingest", "Team": "data"}

# Every new setting in one module block; the extra policies are created beside it, so their ARNs
# are unknown until the apply (the attachments must still plan).
ALL_SETTINGS = f"""
resource "aws_iam_policy" "extra" {{
  for_each = toset(["every", "read"])
  name     = "settings-extra-${{each.key}}"
  policy   = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Deny", Action = "s3:DeleteBucket", Resource = "*" }}] }})
}}

module "segment_usage" {{
  source               = "{MODULE}"
  environment          = "set"
  segment_external_ids = ["ws-settings"]
  tags                 = {json.dumps(CALLER_TAGS).replace(":", " =")}
  vpc                  = {{ subnet_ids = {json.dumps(SUBNETS)}, security_group_ids = {json.dumps(GROUPS)} }}
  lambda = {{
    alias_name              = "live"
    kms_key_arn             = "{ENV_KEY}"
    code_signing_config_arn = "{SIGNING}"
  }}
  read_api = {{ enabled = true, reserved_concurrency = 5 }}
  iam = {{
    additional_policy_arns = [aws_iam_policy.extra["every"].arn]
    function_policy_arns   = {{ read = [aws_iam_policy.extra["read"].arn] }}
  }}
  dynamodb = {{
    deletion_protection    = false
    point_in_time_recovery = false
    table_class            = "STANDARD_INFREQUENT_ACCESS"
    stream_view_type       = "NEW_AND_OLD_IMAGES"
  }}
  eventbridge = {{
    enabled           = true
    segment_source_id = "{SOURCE_ID}"
    rules             = {{ all = {{}}, track = {{ detail_types = ["track"], target = "sqs" }} }}
  }}
}}

output "module" {{
  value = module.segment_usage
}}
output "extra_policy_arns" {{
  value = {{ for key, policy in aws_iam_policy.extra : key => policy.arn }}
}}
"""


def root_text(endpoint: str, body: str) -> str:
    provider = provider_block(endpoint).replace(
        'provider "aws" {', f'provider "aws" {{\n  region = "{REGION}"'
    )
    return provider + "\n" + textwrap.dedent(body)


@pytest.fixture(scope="module")
def applied(terraform_ready: Path, tf_moto_url: str, tmp_path_factory) -> Iterator[dict[str, Any]]:
    where = tmp_path_factory.mktemp("settings")
    (where / "main.tf").write_text(root_text(tf_moto_url, ALL_SETTINGS))
    create_segment_partner_source(tf_moto_url, SOURCE_ID)
    env = terraform_env()
    run_terraform(["init", "-backend=false", "-input=false", "-no-color"], where, env)
    run_terraform(["apply", "-auto-approve", "-input=false", "-no-color"], where, env)
    try:
        out = json.loads(run_terraform(["output", "-json"], where, env).stdout)
        run_terraform(["plan", "-input=false", "-no-color", "-out=again.tfplan"], where, env)
        plan = json.loads(run_terraform(["show", "-json", "again.tfplan"], where, env).stdout)
        state = json.loads(run_terraform(["show", "-json"], where, env).stdout)
        changes = [
            rc
            for rc in plan.get("resource_changes", [])
            if set(rc["change"]["actions"]) - {"no-op", "read"}
        ]
        yield {
            **out["module"]["value"],
            "_extra": out["extra_policy_arns"]["value"],
            "_second_plan": changes,
            "_state": state,
        }
    finally:
        run_terraform(["destroy", "-auto-approve", "-input=false", "-no-color"], where, env)


def test_second_plan_changes_nothing(applied: dict[str, Any]) -> None:
    assert unexplained_changes(applied["_second_plan"]) == []


def test_functions_in_the_vpc_with_the_key_and_code_signing(
    applied: dict[str, Any], tf_moto_url: str
) -> None:
    lam = boto3_client("lambda", tf_moto_url, REGION)
    functions = applied["functions"]
    assert set(functions) == {"direct", "batch", "read"}
    for key, fn in functions.items():
        config = lam.get_function_configuration(FunctionName=fn["name"])
        assert config["FunctionArn"] == fn["arn"], key
        assert sorted(config["VpcConfig"]["SubnetIds"]) == SUBNETS, key
        assert config["VpcConfig"]["SecurityGroupIds"] == GROUPS, key
        assert config["KMSKeyArn"] == ENV_KEY, key
        signing = lam.get_function_code_signing_config(FunctionName=fn["name"])
        assert signing["CodeSigningConfigArn"] == SIGNING, key
        assert config["Role"] == fn["role_arn"], key
        assert fn["log_group_name"] == f"/aws/lambda/{fn['name']}"
        # The shipped layer, as the output names it.
        assert [layer["Arn"] for layer in config["Layers"]] == [applied["layer_arn"]], key
    # Reserved concurrency: the read API only (the direct function is unreserved by default).
    read = lam.get_function_concurrency(FunctionName=functions["read"]["name"])
    assert read["ReservedConcurrentExecutions"] == 5
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName=functions["direct"]["name"]
    )
    # The grouped output agrees with the flat ones it stands beside.
    assert functions["direct"]["arn"] == applied["function_arn"]
    assert functions["direct"]["alias_arn"] == applied["function_alias_arn"]
    assert functions["direct"]["invoke_arn"] == applied["function_alias_arn"]
    assert functions["direct"]["role_arn"] == applied["execution_role_arn"]
    assert functions["batch"]["arn"] == applied["batch_function_arn"]
    assert functions["read"]["name"] == applied["read_api_function_name"]


def test_roles_get_the_vpc_and_key_actions_and_the_extra_policies(
    applied: dict[str, Any], tf_moto_url: str
) -> None:
    iam = boto3_client("iam", tf_moto_url, REGION)
    extra = applied["_extra"]
    expected_attached = {
        "direct": {extra["every"]},
        "batch": {extra["every"]},
        "read": {extra["every"], extra["read"]},
    }
    for key, fn in applied["functions"].items():
        name = fn["role_name"]
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        assert {p["PolicyArn"] for p in attached} == expected_attached[key], key
        (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
        doc = chk.policy_doc(
            iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        )
        found = chk.granted(doc)
        # What Lambda does with the role in a VPC (AWSLambdaVPCAccessExecutionRole's EC2 actions).
        for action in (
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ):
            assert found.pop(action) == {"*"}, (key, action)
        # The environment key: decrypt only, for this function only.
        assert found.pop("kms:Decrypt") == {ENV_KEY}, key
        (stmt,) = [s for s in chk.statements(doc) if s.get("Sid") == "EnvironmentKey"]
        assert stmt["Condition"] == {
            "StringEquals": {"kms:EncryptionContext:LambdaFunctionName": fn["name"]}
        }
        # Nothing else new: every other action is on the table, a queue or the log group.
        assert not {a for a in found if a.split(":")[0] in ("ec2", "kms")}, key
    # The role Segment assumes gets none of it: it may only invoke.
    segment = applied["segment_role_name"]
    assert iam.list_attached_role_policies(RoleName=segment)["AttachedPolicies"] == []


def test_table_class_stream_and_tags(applied: dict[str, Any], tf_moto_url: str) -> None:
    ddb = boto3_client("dynamodb", tf_moto_url, REGION)
    table = ddb.describe_table(TableName=applied["table_name"])["Table"]
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert table["LatestStreamArn"] == applied["table_stream_arn"]
    assert table["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    # The caller's Environment and Module tags win over the module's own.
    tags = {
        t["Key"]: t["Value"]
        for t in ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    }
    assert tags == {**CALLER_TAGS, "Name": applied["table_name"]}
    lam = boto3_client("lambda", tf_moto_url, REGION)
    for fn in applied["functions"].values():
        assert lam.list_tags(Resource=fn["arn"])["Tags"] == CALLER_TAGS
    iam = boto3_client("iam", tf_moto_url, REGION)
    role_tags = iam.list_role_tags(RoleName=applied["segment_role_name"])["Tags"]
    assert {t["Key"]: t["Value"] for t in role_tags} == CALLER_TAGS


def test_the_dashboard_is_there_as_planned(applied: dict[str, Any], tf_moto_url: str) -> None:
    """test_dashboard.py checks what the body names; here: it was created, and every function,
    queue and rule it names is one that exists."""
    cloudwatch = boto3_client("cloudwatch", tf_moto_url, REGION)
    body = json.loads(
        cloudwatch.get_dashboard(DashboardName=applied["dashboard_name"])["DashboardBody"]
    )
    resources = {
        r["address"]: r["values"]
        for r in applied["_state"]["values"]["root_module"]["child_modules"][0]["resources"]
    }
    planned = json.loads(
        resources["module.segment_usage.aws_cloudwatch_dashboard.this[0]"]["dashboard_body"]
    )
    assert body == planned
    lam, sqs = boto3_client("lambda", tf_moto_url, REGION), boto3_client("sqs", tf_moto_url, REGION)
    events = boto3_client("events", tf_moto_url, REGION)
    functions = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    queues = {url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]}
    bus = applied["event_bus_name"]
    rules = {r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]}
    named: dict[str, set[str]] = {}
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            strings = [x for x in row if isinstance(x, str)]
            for dim, value in zip(strings[2::2], strings[3::2], strict=True):
                named.setdefault(dim, set()).add(value)
    assert named["FunctionName"] <= functions
    assert named["QueueName"] <= queues
    assert named["RuleName"] <= rules and named["EventBusName"] == {bus}
    assert named["TableName"] == {applied["table_name"]}


# --------------------------------------------------------------------------------------------------
# Plan-time failures (no apply)
# --------------------------------------------------------------------------------------------------

# name -> (module arguments, the text its error must contain)
INVALID = {
    "vpc_subnet": (
        'vpc = { subnet_ids = ["sub-1"], security_group_ids = ["sg-0123456789abcdef0"] }',
        "vpc.subnet_ids must list 1-16 subnet IDs",
    ),
    "vpc_groups": (
        'vpc = { subnet_ids = ["subnet-0123456789abcdef0"], security_group_ids = [] }',
        "vpc.security_group_ids must list 1-5 security group IDs",
    ),
    "env_key_alias": (
        f'lambda = {{ kms_key_arn = "arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/mine" }}',
        "lambda.kms_key_arn must be a KMS key ARN",
    ),
    "code_signing": (
        'lambda = { code_signing_config_arn = "csc-0123456789abcdef0" }',
        "lambda.code_signing_config_arn must be a Lambda code signing configuration ARN",
    ),
    "read_concurrency": (
        "read_api = { enabled = true, reserved_concurrency = 0 }",
        "read_api.reserved_concurrency must be null (unreserved) or a whole number 1-1000",
    ),
    "policy_key": (
        f'iam = {{ function_policy_arns = {{ recorder = ["arn:aws:iam::{ACCOUNT_ID}:policy/x"] }} }}',
        "iam.function_policy_arns keys must be direct, batch or read, not recorder",
    ),
    "policy_arn": (
        'iam = { additional_policy_arns = ["AdministratorAccess"] }',
        "must hold managed IAM policy ARNs",
    ),
    "table_class": (
        'dynamodb = { table_class = "INFREQUENT" }',
        "dynamodb.table_class must be STANDARD or STANDARD_INFREQUENT_ACCESS",
    ),
    "stream": (
        'dynamodb = { stream_view_type = "NEW" }',
        "dynamodb.stream_view_type must be null (no stream), KEYS_ONLY",
    ),
    "dashboard_period": (
        "dashboard = { period_seconds = 120 }",
        "dashboard.period_seconds must be 60, 300, 900 or 3600",
    ),
}
MISSING_SOURCE = """
module "missing_source" {{
  source               = "{module}"
  environment          = "nosrc"
  segment_external_ids = ["ws"]
  eventbridge          = {{ enabled = true, segment_source_id = "neverCreated42" }}
}}
module "longer_source_only" {{
  source               = "{module}"
  environment          = "longer"
  segment_external_ids = ["ws"]
  eventbridge          = {{ enabled = true, segment_source_id = "{prefix}" }}
}}
"""


def module_block(name: str, body: str) -> str:
    return (
        f'module "{name}" {{\n  source = "{MODULE}"\n  environment = "test"\n'
        '  segment_external_ids = ["ws"]\n'
        + textwrap.indent(textwrap.dedent(body).strip(), "  ")
        + "\n}\n"
    )


def failed_plan(where: Path, text: str) -> str:
    where.mkdir(parents=True)
    (where / "main.tf").write_text(text)
    env = terraform_env()
    run_terraform(["init", "-backend=false", "-input=false", "-no-color"], where, env)
    proc = run_terraform(["plan", "-input=false", "-no-color"], where, env, ok_codes=(1,))
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def failed_plans(terraform_ready: Path, tf_moto_url: str, tmp_path_factory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("settings-invalid")
    # Only a longer source ID exists for the second case: a prefix lookup finds it, the module
    # must not take it for the one it was given.
    create_segment_partner_source(tf_moto_url, "longerSourceId7")
    roots = {
        "validations": root_text(
            tf_moto_url, "\n".join(module_block(n, body) for n, (body, _) in INVALID.items())
        ),
        "sources": root_text(
            tf_moto_url, MISSING_SOURCE.format(module=MODULE, prefix="longerSource")
        ),
    }
    with ThreadPoolExecutor(max_workers=len(roots)) as pool:
        futures = {k: pool.submit(failed_plan, base / k, text) for k, text in roots.items()}
        return {key: future.result() for key, future in futures.items()}


def diagnostics(output: str) -> list[str]:
    return [" ".join(d.split()) for d in output.split("Error: ")[1:]]


@pytest.mark.parametrize("case", INVALID)
def test_bad_settings_fail_the_plan_naming_the_setting(
    failed_plans: dict[str, str], case: str
) -> None:
    mine = [d for d in diagnostics(failed_plans["validations"]) if f'module "{case}"' in d]
    assert any(INVALID[case][1] in d for d in mine), failed_plans["validations"]


def test_a_partner_source_that_does_not_exist_fails_the_plan(failed_plans: dict[str, str]) -> None:
    output = failed_plans["sources"]
    found = diagnostics(output)
    missing = [d for d in found if "module.missing_source." in d]
    # The provider's own lookup fails, at plan time, on the check named for what is wrong.
    assert any(
        "segment_partner_source_must_exist" in d and "no matching EventBridge Source found" in d
        for d in missing
    ), output
    # (A postcondition names the module's directory, .terraform/modules/longer_source_only/.)
    longer = [d for d in found if "longer_source_only" in d]
    assert any(
        "the partner event source aws.partner/segment.com/longerSource does not exist" in d
        and "only aws.partner/segment.com/longerSourceId7 starts with that name" in d
        for d in longer
    ), output
