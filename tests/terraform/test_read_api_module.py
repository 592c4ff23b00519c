"""Segments and the read API in Terraform: bad definitions fail the plan with errors naming the
segment, position and field; the read API is applied for real against moto (function, read-only
role, AWS_IAM function URL, definitions item, caller policy) and its handler then answers in-process
with the environment Terraform gave the function, read back from moto (moto cannot run Lambda)."""

from __future__ import annotations

import hashlib
import io
import json
import textwrap
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from segment_usage.read_api import ReadApi
from support import segment_messages as sm
from support.moto_server import boto3_client
from support.terraform import REPO_ROOT, run_terraform, terraform_env
from support.tf_overrides import provider_block

pytestmark = pytest.mark.terraform

MODULE = REPO_ROOT / "modules" / "segment-usage"

SEGMENTS_HCL = """
segments = {
  power_exporters = {
    description = "exports a lot, on the pro plan"
    all = [
      { trait = "report_exported", in_last_days = 30, at_least = 2 },
      { identify_trait = "plan", equals = "pro" },
    ]
  }
  lapsed_or_beta = {
    any = [
      { trait = "*", not_seen_for_days = 14 },
      { all = [{ audience = "beta_testers" }, { identify_trait = "seats", at_least = 3 }] },
    ]
  }
}
"""

# name -> (segments HCL, the text an error must contain)
INVALID = {
    "bad_name": (
        'segments = { "Power" = { all = [{ audience = "x" }] } }',
        "segments: Power: a segment name must match",
    ),
    "both_groups": (
        'segments = { s = { all = [{ audience = "x" }], any = [{ audience = "y" }] } }',
        "segments: s: set exactly one of all, any",
    ),
    "window_400": (
        'segments = { s = { all = [{ trait = "a", in_last_days = 400, at_least = 1 }] } }',
        "segments: s.all[0].in_last_days: in_last_days must be whole days 1-365",
    ),
    "two_kinds": (
        'segments = { s = { any = [{ trait = "a", identify_trait = "b", exists = true }] } }',
        "segments: s.any[0]: set exactly one of trait, identify_trait, audience, percent, "
        "segment, all, any",
    ),
    "no_operator": (
        'segments = { s = { all = [{ audience = "x" }, { identify_trait = "plan" }] } }',
        "segments: s.all[1]: an identify_trait condition needs equals",
    ),
    "equals_on_trait": (
        'segments = { s = { all = [{ any = [{ trait = "a", at_least = 1, equals = "x" }] }] } }',
        "segments: s.all[0].any[0]: equals, in, exists, greater_than and less_than go with identify_trait only",
    ),
    "negative_count": (
        'segments = { s = { all = [{ trait = "a", at_least = -1.5 }] } }',
        "segments: s.all[0]: at_least and at_most on a trait are numbers >= 0",
    ),
    "empty_nested": (
        "segments = { s = { all = [{ all = [] }] } }",
        "segments: s.all[0]: a nested all or any must list at least one condition",
    ),
    "read_api_timeout": (
        "read_api = { enabled = true, timeout = 60 }",
        "read_api.timeout must be 1-30",
    ),
}


def module_block(name: str, body: str) -> str:
    return (
        f'module "{name}" {{\n  source = "{MODULE}"\n  environment = "test"\n'
        '  segment_external_ids = ["ws"]\n'
        + textwrap.indent(textwrap.dedent(body).strip(), "  ")
        + "\n}\n"
    )


def root(endpoint: str, modules: str, outputs: str = "") -> str:
    provider = provider_block(endpoint).replace(
        'provider "aws" {', 'provider "aws" {\n  region = "us-east-1"'
    )
    return provider + "\n" + modules + outputs


# Checked by variable validations; the rest (each condition's rules, segments.tf) by a resource
# precondition, which Terraform evaluates only once every variable is valid: a root of their own.
VALIDATIONS = ["bad_name", "both_groups", "read_api_timeout"]
PRECONDITIONS = [case for case in INVALID if case not in VALIDATIONS]


def _plan(where: Path, endpoint: str, cases: list[str]) -> str:
    where.mkdir(parents=True)
    (where / "main.tf").write_text(
        root(endpoint, "\n".join(module_block(n, INVALID[n][0]) for n in cases))
    )
    env = terraform_env()
    run_terraform(["init", "-backend=false", "-input=false", "-no-color"], where, env)
    proc = run_terraform(["plan", "-input=false", "-no-color"], where, env, ok_codes=(1,))
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def invalid_plans(terraform_ready: Path, tf_moto_url: str, tmp_path_factory) -> dict[str, str]:
    where = tmp_path_factory.mktemp("segments-invalid")
    return {
        "validations": _plan(where / "validations", tf_moto_url, VALIDATIONS),
        "preconditions": _plan(where / "preconditions", tf_moto_url, PRECONDITIONS),
    }


@pytest.mark.parametrize("case", INVALID)
def test_bad_segments_fail_the_plan_naming_segment_and_field(
    invalid_plans: dict[str, str], case: str
) -> None:
    output = invalid_plans["validations" if case in VALIDATIONS else "preconditions"]
    diagnostics = [" ".join(d.split()) for d in output.split("Error: ")[1:]]
    # A validation names the module block; a precondition the module's directory.
    mine = [d for d in diagnostics if f'module "{case}"' in d or f".terraform/modules/{case}/" in d]
    assert any(INVALID[case][1] in d for d in mine), output


APPLIED = """
module "segment_usage" {{
  source                     = "{module}"
  environment                = "api"
  segment_lambda_destination = {{ enabled = false }}
  dynamodb                   = {{ deletion_protection = false, point_in_time_recovery = false }}
  read_api                   = {{ enabled = true, cors_allow_origins = ["https://app.example.com"] }}
{segments}
}}

output "url" {{
  value = module.segment_usage.read_api_url
}}
output "function_name" {{
  value = module.segment_usage.read_api_function_name
}}
output "policy" {{
  value = module.segment_usage.read_api_caller_policy_json
}}
output "table" {{
  value = module.segment_usage.table_name
}}
output "recorder" {{
  value = module.segment_usage.function_name
}}
"""


@pytest.fixture(scope="module")
def applied(terraform_ready: Path, tf_moto_url: str, tmp_path_factory) -> Iterator[dict[str, Any]]:
    where = tmp_path_factory.mktemp("read-api")
    body = APPLIED.format(module=MODULE, segments=textwrap.indent(SEGMENTS_HCL.strip(), "  "))
    (where / "main.tf").write_text(root(tf_moto_url, body))
    env = terraform_env()
    run_terraform(["init", "-backend=false", "-input=false", "-no-color"], where, env)
    run_terraform(["apply", "-auto-approve", "-input=false", "-no-color"], where, env)
    try:
        out = json.loads(run_terraform(["output", "-json"], where, env).stdout)
        run_terraform(["plan", "-input=false", "-no-color", "-out=again.tfplan"], where, env)
        plan = json.loads(run_terraform(["show", "-json", "again.tfplan"], where, env).stdout)
        changes = [
            rc
            for rc in plan.get("resource_changes", [])
            if set(rc["change"]["actions"]) - {"no-op", "read"}
        ]
        yield {**{k: v["value"] for k, v in out.items()}, "_second_plan": changes}
    finally:
        run_terraform(["destroy", "-auto-approve", "-input=false", "-no-color"], where, env)


def test_read_function_role_url_and_definitions(applied: dict[str, Any], tf_moto_url: str) -> None:
    lam, iam = boto3_client("lambda", tf_moto_url), boto3_client("iam", tf_moto_url)
    dynamodb = boto3_client("dynamodb", tf_moto_url)
    fn = lam.get_function_configuration(FunctionName=applied["function_name"])
    assert fn["Handler"] == "segment_usage.read_api.handler"
    recorder = lam.get_function_configuration(FunctionName=applied["recorder"])
    assert fn["CodeSha256"] == recorder["CodeSha256"]  # one package, two entry points
    assert fn["Layers"] == recorder["Layers"]
    env = fn["Environment"]["Variables"]
    assert set(env) == {"SEGMENT_USAGE_TABLE", "SEGMENT_USAGE_SEGMENTS_SHA256"}
    assert env["SEGMENT_USAGE_TABLE"] == applied["table"]
    assert "SEGMENT_USAGE_SEGMENTS_SHA256" not in recorder["Environment"]["Variables"]

    item = dynamodb.get_item(
        TableName=applied["table"], Key={"pk": {"S": "CONFIG"}, "sk": {"S": "SEGMENTS"}}
    )["Item"]
    assert (
        hashlib.sha256(item["segments"]["S"].encode()).hexdigest()
        == env["SEGMENT_USAGE_SEGMENTS_SHA256"]
    )

    url = lam.get_function_url_config(FunctionName=applied["function_name"])
    assert url["AuthType"] == "AWS_IAM"
    assert url["Cors"]["AllowOrigins"] == ["https://app.example.com"]
    assert url["Cors"]["AllowMethods"] == ["GET"]
    assert applied["url"] == url["FunctionUrl"]

    role = fn["Role"].split("/")[-1]
    assert role == "segment-usage-api-us-east-1-read"
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    table_arn = dynamodb.describe_table(TableName=applied["table"])["Table"]["TableArn"]
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert sorted(statements) == ["Logs", "ReadTable"]
    actions = statements["ReadTable"]["Action"]
    assert sorted([actions] if isinstance(actions, str) else actions) == [
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
    ]
    assert statements["ReadTable"]["Resource"] == table_arn
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []

    alarms = boto3_client("cloudwatch", tf_moto_url).describe_alarms(
        AlarmNamePrefix="segment-usage-api-read-"
    )
    assert {
        (a["AlarmName"], a["MetricName"], a["Dimensions"][0]["Value"])
        for a in alarms["MetricAlarms"]
    } == {
        ("segment-usage-api-read-errors", "Errors", "segment-usage-api-read"),
        ("segment-usage-api-read-throttles", "Throttles", "segment-usage-api-read"),
    }


def test_caller_policy(applied: dict[str, Any], tf_moto_url: str) -> None:
    fn_arn = boto3_client("lambda", tf_moto_url).get_function_configuration(
        FunctionName=applied["function_name"]
    )["FunctionArn"]
    statements = {s["Sid"]: s for s in json.loads(applied["policy"])["Statement"]}
    assert statements["InvokeReadApiUrl"] == {
        "Sid": "InvokeReadApiUrl",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunctionUrl",
        "Resource": fn_arn,
        "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
    }
    assert statements["InvokeReadApiViaUrl"] == {
        "Sid": "InvokeReadApiViaUrl",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": fn_arn,
        "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
    }


def test_handler_answers_with_the_functions_own_environment(
    applied: dict[str, Any], tf_moto_url: str, monkeypatch
) -> None:
    from segment_usage.handler import Runtime
    from segment_usage.settings import Settings
    from support.delivery import deliver
    from support.function_url import url_event

    lam = boto3_client("lambda", tf_moto_url)
    dynamodb = boto3_client("dynamodb", tf_moto_url)
    recorder_env = lam.get_function_configuration(FunctionName=applied["recorder"])["Environment"][
        "Variables"
    ]
    deliver(
        Runtime(Settings.from_env(recorder_env), dynamodb),
        [
            sm.identify({"plan": "pro", "seats": 5}, user_id="ada"),
            sm.track("Report Exported", user_id="ada"),
            sm.track("Report Exported", user_id="ada"),
        ],
    )
    env = lam.get_function_configuration(FunctionName=applied["function_name"])["Environment"][
        "Variables"
    ]
    api = ReadApi(env, dynamodb)

    def get(path: str, query: str = "", **kw: Any) -> tuple[int, dict[str, Any]]:
        with redirect_stdout(io.StringIO()):
            response = api.handle(url_event(path, query, **kw), now=sm.BASE_TIME)
        return response["statusCode"], json.loads(response["body"])

    status, body = get("/v1/users/ada")
    assert status == 200
    assert body["traits"] == {"plan": "pro", "seats": 5}
    assert body["usage"]["report_exported"]["count"] == 2
    assert body["segments"] == {"lapsed_or_beta": False, "power_exporters": True}
    assert get("/v1/users/ada", "segment=power_exporters")[1]["member"] is True
    assert get("/v1/users/ada", iam=None)[0] == 403
    assert get("/v1/users/nobody")[0] == 404
    assert get("/v1/users/ada", "segment=unknown")[0] == 404
    assert get("/v1/users/%ff")[0] == 400


def test_second_plan_changes_nothing_of_the_read_api(applied: dict[str, Any]) -> None:
    """Only moto's known Lambda misreport (logging_config, see test_examples_apply.py) may show."""
    unexplained = []
    for rc in applied["_second_plan"]:
        before, after = rc["change"]["before"] or {}, rc["change"]["after"] or {}
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        changed -= set(rc["change"].get("after_unknown") or {})
        if rc["type"] == "aws_lambda_function":
            changed -= {"logging_config"}
        if changed:
            unexplained.append(f"{rc['address']}: {sorted(changed)}")
    assert not unexplained, unexplained


def test_the_shipped_package_has_the_read_entry_point() -> None:
    """The read function runs the module's own handler zip: segment_usage.read_api must be in it
    (and its bytecode for both runtimes), or every request fails at import. `make package`."""
    import zipfile

    with zipfile.ZipFile(MODULE / "artifacts" / "handler.zip") as package:
        names = set(package.namelist())
    for module in ("read_api", "read/segments", "read/view"):
        assert f"segment_usage/{module}.py" in names, f"{module}.py missing: run make package"
        package_dir, _, name = f"segment_usage/{module}".rpartition("/")
        for version in ("312", "313"):
            assert f"{package_dir}/__pycache__/{name}.cpython-{version}.pyc" in names
