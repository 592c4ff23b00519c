"""Issue 19, item 1: an ordinary change plans only what it changes, never IAM.

One realistic deployment (Segment's Lambda destination with an alias, EventBridge rules to the
function and to the buffer, the read API) is applied against moto once; then three ordinary changes
are planned one at a time, each against that state: a longer log retention, one more tracker, and a
code upgrade (a new zip). From each plan's JSON: the change itself shows where it belongs, and no
role, inline policy or policy attachment (``aws_iam_*``) has any action but no-op, and no policy
document feeding them is deferred to the apply ("known after apply"), so policy gates and reviewers
no longer see the cross-account role change on every deploy.

moto misreports a Lambda function's logging configuration (plan_checks.MOTO_MISREPORTS), so every
plan here also updates the functions; that only makes the test stricter: the policies must not
wait on a function with a pending change either.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from support.moto_server import create_segment_partner_source
from support.terraform import REPO_ROOT, run_terraform, terraform_env
from support.tf_overrides import provider_block

pytestmark = pytest.mark.terraform

MODULE = REPO_ROOT / "modules" / "segment-usage"
SOURCE_ID = "churn0src"

ROOT = """
variable "retention" {{
  type = number
}}
variable "trackers" {{
  type = list(object({{ type = string, name = string, trait = optional(string) }}))
}}
variable "package_path" {{
  type = string
}}

module "segment_usage" {{
  source               = "{module}"
  environment          = "churn"
  segment_external_ids = ["ws-churn"]
  trackers             = var.trackers
  logs                 = {{ retention_in_days = var.retention }}
  lambda               = {{ package_path = var.package_path, alias_name = "live" }}
  dynamodb             = {{ deletion_protection = false, point_in_time_recovery = false }}
  read_api             = {{ enabled = true }}
  eventbridge = {{
    enabled           = true
    segment_source_id = "{source_id}"
    rules = {{
      direct = {{ detail_types = ["identify"] }}
      track  = {{ detail_types = ["track"], target = "sqs" }}
    }}
  }}
}}
"""

TRACKERS = [{"type": "track", "name": "Report Exported", "trait": "report_exported"}]
MORE_TRACKERS = [*TRACKERS, {"type": "page", "name": "Pricing"}]


def upgraded_zip(original: Path, where: Path) -> Path:
    """The same package with one more file: another build, another hash (a code upgrade)."""
    upgraded = where / "upgraded.zip"
    shutil.copyfile(original, upgraded)
    with zipfile.ZipFile(upgraded, "a") as archive:
        archive.writestr("segment_usage_release.txt", "2\n")
    return upgraded


def tf_vars(values: dict[str, Any]) -> list[str]:
    return [f"-var={key}={v if isinstance(v, str) else json.dumps(v)}" for key, v in values.items()]


@pytest.fixture(scope="module")
def plans(
    terraform_ready: Path, tf_moto_url: str, lambda_zip: Path, tmp_path_factory
) -> Iterator[dict[str, dict[str, Any]]]:
    """Apply once; then plan each ordinary change alone: change name -> plan JSON."""
    where = tmp_path_factory.mktemp("no-churn")
    provider = provider_block(tf_moto_url).replace(
        'provider "aws" {', 'provider "aws" {\n  region = "us-east-1"'
    )
    body = ROOT.format(module=MODULE, source_id=SOURCE_ID)
    (where / "main.tf").write_text(provider + textwrap.dedent(body))
    create_segment_partner_source(tf_moto_url, SOURCE_ID)
    base = {"retention": 30, "trackers": TRACKERS, "package_path": str(lambda_zip)}
    changes = {
        "log_retention": {**base, "retention": 90},
        "tracker_added": {**base, "trackers": MORE_TRACKERS},
        "code_upgrade": {**base, "package_path": str(upgraded_zip(lambda_zip, where))},
    }
    env = terraform_env()
    run_terraform(["init", "-backend=false", "-input=false", "-no-color"], where, env)
    run_terraform(
        ["apply", "-auto-approve", "-input=false", "-no-color", *tf_vars(base)], where, env
    )

    def plan(name: str) -> dict[str, Any]:
        # Plans only read the state: the three run side by side, without the state lock.
        out, values = f"-out={name}.tfplan", tf_vars(changes[name])
        run_terraform(
            ["plan", "-input=false", "-no-color", "-lock=false", out, *values], where, env
        )
        return json.loads(run_terraform(["show", "-json", f"{name}.tfplan"], where, env).stdout)

    try:
        with ThreadPoolExecutor(max_workers=len(changes)) as pool:
            planned = dict(zip(changes, pool.map(plan, changes), strict=True))
        yield planned
    finally:
        run_terraform(
            ["destroy", "-auto-approve", "-input=false", "-no-color", *tf_vars(base)], where, env
        )


def changes_of(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rc["address"]: rc for rc in plan.get("resource_changes", [])}


DIRECT = 'module.segment_usage.module.function["direct"]'
FUNCTIONS = [
    f'module.segment_usage.module.function["{key}"]' for key in ("direct", "batch", "read")
]


def changed(rc: dict[str, Any], attribute: str) -> bool:
    change = rc["change"]
    return (change["before"] or {}).get(attribute) != (change["after"] or {}).get(attribute) or (
        (change.get("after_unknown") or {}).get(attribute) is True
    )


@pytest.mark.parametrize("change", ["log_retention", "tracker_added", "code_upgrade"])
def test_an_ordinary_change_touches_no_iam(plans: dict[str, Any], change: str) -> None:
    resources = changes_of(plans[change])
    # Managed IAM resources only: a data source is read, never changed (checks.tf looks the
    # Segment role up by name in every plan, to warn when iam.path would change its ARN).
    iam = {
        a: rc
        for a, rc in resources.items()
        if rc["type"].startswith("aws_iam_") and rc.get("mode", "managed") == "managed"
    }
    # Every role the module makes, the Segment role among them, with its inline policy.
    assert {a for a, rc in iam.items() if rc["type"] == "aws_iam_role"} == {
        "module.segment_usage.aws_iam_role.segment[0]",
        *(f"{f}.aws_iam_role.this" for f in FUNCTIONS),
    }
    touched = {
        a: rc["change"]["actions"] for a, rc in iam.items() if rc["change"]["actions"] != ["no-op"]
    }
    assert touched == {}, touched
    # No policy document is left to the apply (it would show its policy as known after apply).
    deferred = [
        a
        for a, rc in resources.items()
        if rc["mode"] == "data"
        and "read" in rc["change"]["actions"]
        # A check block's own data source is read on every plan by design (checks.tf: the
        # Segment role looked up by name), never deferred for want of a value.
        and rc.get("action_reason") != "read_because_check_nested"
    ]
    assert deferred == []


def test_each_change_shows_where_it_belongs(plans: dict[str, Any]) -> None:
    retention = changes_of(plans["log_retention"])
    for function in FUNCTIONS:
        rc = retention[f"{function}.aws_cloudwatch_log_group.this"]
        assert rc["change"]["actions"] == ["update"]
        assert (
            rc["change"]["before"]["retention_in_days"],
            rc["change"]["after"]["retention_in_days"],
        ) == (30, 90)

    trackers = changes_of(plans["tracker_added"])[f"{DIRECT}.aws_lambda_function.this"]
    before = trackers["change"]["before"]["environment"][0]["variables"]["SEGMENT_USAGE_TRACKERS"]
    after = trackers["change"]["after"]["environment"][0]["variables"]["SEGMENT_USAGE_TRACKERS"]
    assert len(json.loads(after)) == len(json.loads(before)) + 1

    code = changes_of(plans["code_upgrade"])
    for function in FUNCTIONS:
        assert changed(code[f"{function}.aws_lambda_function.this"], "source_code_hash")
    # A new version behind the alias Segment invokes, whose ARN (in the Segment role's policy) stays.
    assert changed(code[f"{DIRECT}.aws_lambda_alias.this[0]"], "function_version")


# --------------------------------------------------------------------------------------------------
# The kind, not the three examples: no policy document of the module reads a resource or a module
# --------------------------------------------------------------------------------------------------

POLICY_DOCUMENT = re.compile(r'^data "aws_iam_policy_document" "(\w+)" \{$', re.MULTILINE)
# A reference to a managed resource (aws_x.name) or a module's outputs; data sources (data.x.y)
# are read at plan time and are fine.
MANAGED_REFERENCE = re.compile(r"(?<![\w.])(aws_[a-z0-9_]+\.[a-z0-9_]+|module\.[a-z0-9_]+)")


def blocks(text: str) -> dict[str, str]:
    """Each ``data "aws_iam_policy_document"`` block of ``text``: name -> body (braces matched)."""
    found = {}
    for match in POLICY_DOCUMENT.finditer(text):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        found[match.group(1)] = text[match.end() : end]
    return found


def test_no_policy_document_reads_a_resource_or_a_module() -> None:
    """Terraform reads a data source at apply time whenever one it refers to directly (a managed
    resource, or a module) has a change pending, and a policy built from it then shows as "known
    after apply". Every policy document of the module, root and function unit, names what it
    allows by ARNs built from names (locals) and inputs only: any change of any kind, not just
    the three planned above, leaves the policies known at plan time."""
    documents = {
        f"{path.relative_to(MODULE)}:{name}": body
        for path in sorted(MODULE.rglob("*.tf"))
        if "/tests/" not in str(path)
        for name, body in blocks(path.read_text()).items()
    }
    assert len(documents) >= 7, sorted(documents)  # the root's and the function unit's
    readers = {
        where: MANAGED_REFERENCE.findall(body)
        for where, body in documents.items()
        if MANAGED_REFERENCE.findall(body)
    }
    assert readers == {}
