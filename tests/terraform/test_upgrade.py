"""Upgrading from the previous release moves every resource and destroys or replaces nothing.

A consumer root applies the module as released at PREVIOUS, fetched the way a pinned consumer gets
it (``git::file://<bare clone>//modules/segment-usage?ref=<commit>``), against moto, with all three
functions: the Segment Lambda destination with an alias (direct function, its hand-off buffer and
the batch function), EventBridge rules to the function (asynchronous invocations with an on-failure
queue) and to the buffer, and the read API, plus a tracking plan and segments. The handler records
a user's messages in the table Terraform created, with the environment Terraform gave the function.

Then the source becomes the module as it is in this working tree (copied, so uncommitted changes
are what is tested): ``init``, ``plan -out``, ``show -json``. The plan must delete and replace
nothing, keep the stored configuration items (same text and hash), and update nothing but what moto
misreports on any re-plan (plan_checks.py). After the apply, the record written before the upgrade
reads the same. Both applies deploy the same code zip (the previous release's handler.zip, as
``lambda.package_path``), so that the plan shows what the module's own changes do, not a new build.

The upgrade notes (docs/upgrading.md, the section that names PREVIOUS) list what this plan adds,
destroys, updates in place (leaving out what only moto misreports) and moves, with the counts: the
test fails when the plan and the notes disagree, either way.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import shutil
import subprocess
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from plan_checks import MOTO_MISREPORTS, unexplained_changes

from segment_usage.handler import Runtime
from segment_usage.read.view import Reader
from segment_usage.settings import Settings
from segment_usage.table.coverage import load_coverage
from support import segment_messages as sm
from support.delivery import TODAY
from support.moto_server import boto3_client, create_segment_partner_source, moto_server
from support.terraform import REPO_ROOT, run_terraform, terraform_env
from support.tf_overrides import write_moto_override

pytestmark = pytest.mark.terraform

PREVIOUS = "2e2a639"  # the release before the functions became one unit (modules/function)
UPGRADE_NOTES = REPO_ROOT / "docs" / "upgrading.md"
MODULE_ADDRESS = "module.segment_usage."
SOURCE_ID = "upgradeSrc7"
USER = "upgrade-user-1"

MODULE_ARGUMENTS = """
environment          = "upgrade"
segment_external_ids = ["ws-upgrade"]
lambda = {
  architecture = "x86_64"
  runtime      = "python3.12"
  package_path = "PACKAGE"
  alias_name   = "live"
}
tracking_plan = jsonencode({ track = { "Report Exported" = { properties = { format = { type = "string" } } } } })
eventbridge = {
  enabled           = true
  segment_source_id = "SOURCE_ID"
  rules = {
    profiles = { detail_types = ["identify", "group", "alias"] }
    usage    = { detail_types = ["track", "page", "screen"], target = "sqs" }
  }
}
sqs_buffer = { batch_size = 10, maximum_batching_window_in_seconds = 1 }
dynamodb   = { deletion_protection = false, point_in_time_recovery = false }
read_api   = { enabled = true }
segments = {
  power_exporters = {
    description = "exported a report at least twice in the last 30 days, on the pro plan"
    all = [
      { trait = "report_exported", in_last_days = 30, at_least = 2 },
      { identify_trait = "plan", equals = "pro" },
    ]
  }
  engaged = {
    any = [
      { audience = "power_users" },
      { all = [{ trait = "*", seen_in_last_days = 7 }, { identify_trait = "plan", in = ["pro", "team"] }] },
    ]
  }
}
"""
OUTPUTS = ("function_name", "table_name", "batch_function_name", "read_api_function_name")
# What this release adds to the functions' environments (issue 17: what each function accepts, the
# identity rules and erasure), and nothing else changes in them.
NEW_VARIABLES = {
    "function_name": {
        "SEGMENT_USAGE_ACCEPT",
        "SEGMENT_USAGE_EVENTBRIDGE_QUALIFIER",
        "SEGMENT_USAGE_PARTNER_SOURCES",
        "SEGMENT_USAGE_MAX_USERS_PER_ANONYMOUS_ID",
        "SEGMENT_USAGE_DELETE_MESSAGES",
    },
    "batch_function_name": {
        "SEGMENT_USAGE_ACCEPT",
        "SEGMENT_USAGE_QUEUE_ARNS",
        "SEGMENT_USAGE_PARTNER_SOURCES",
        "SEGMENT_USAGE_MAX_USERS_PER_ANONYMOUS_ID",
        "SEGMENT_USAGE_DELETE_MESSAGES",
    },
    "read_api_function_name": set(),
}
# What this release adds: the alias EventBridge invokes the direct function through, its
# asynchronous-invocation configuration, each Lambda rule's permission on it, and the alarm on the
# handler's PlanErrors metric (the configuration has a tracking plan), and the dashboard (issue 19,
# on by default).
ADDED = {
    "module.segment_usage.aws_cloudwatch_dashboard.this[0]",
    "module.segment_usage.aws_cloudwatch_metric_alarm.plan_errors[0]",
    "module.segment_usage.aws_lambda_alias.eventbridge[0]",
    "module.segment_usage.aws_lambda_function_event_invoke_config.eventbridge[0]",
    'module.segment_usage.aws_lambda_permission.eventbridge_alias["profiles"]',
    # issue 18: the coverage item (dated the day of this apply: coverage.tf) and what keeps it.
    "module.segment_usage.aws_dynamodb_table_item.coverage",
    "module.segment_usage.terraform_data.first_apply",
    "module.segment_usage.terraform_data.coverage_input",
}
# ... and what it removes: the rule's permission on what Segment invokes (a permission cannot change
# its qualifier in place; the rule's target now names the EventBridge alias). Nothing with data.
REMOVED = {'module.segment_usage.aws_lambda_permission.eventbridge["profiles"]'}


def expected_updates(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``changes`` without what this release changes on purpose: the new environment variables of
    the direct and batch functions (every earlier one unchanged), and the Lambda rule's target
    re-pointed at the EventBridge alias."""
    rest = []
    new_keys = set().union(*NEW_VARIABLES.values())
    for rc in changes:
        change = rc["change"]
        before, after = change["before"] or {}, change["after"] or {}
        if rc["type"] == "aws_lambda_function" and change["actions"] == ["update"]:
            (env_before,) = before.get("environment") or [{"variables": {}}]
            (env_after,) = after.get("environment") or [{"variables": {}}]
            old, new = env_before["variables"] or {}, env_after["variables"] or {}
            assert {k: new[k] for k in old} == old, rc["address"]
            assert set(new) - set(old) <= new_keys, rc["address"]
            after = {**after, "environment": before.get("environment")}
            rc = {**rc, "change": {**change, "after": after}}
        if rc["type"] == "aws_cloudwatch_event_target" and change["actions"] == ["update"]:
            assert rc["address"].endswith('aws_cloudwatch_event_target.lambda["profiles"]')
            # The new alias's ARN: known after it is created (unknown in the plan).
            unknown = dict(change.get("after_unknown") or {})
            assert unknown.pop("arn", False) is True or after["arn"].endswith(":eventbridge")
            after = {**after, "arn": before["arn"]}
            if after == before and not any(v is True for v in unknown.values()):
                continue
            rc = {**rc, "change": {**change, "after": after, "after_unknown": unknown}}
        rest.append(rc)
    return rest


def upgrade_notes(previous: str) -> tuple[str, dict[str, set[str]]]:
    """The notes on upgrading from ``previous`` (the docs/upgrading.md section that names the
    commit in backticks): its text, and its lists by kind (add, destroy, change, moved) of
    module-relative addresses, ``<rule>`` standing for any rule key; a move as "old -> new"."""
    text = UPGRADE_NOTES.read_text()
    sections = [s for s in re.split(r"^(?=## )", text, flags=re.MULTILINE) if f"`{previous}`" in s]
    assert len(sections) == 1, f"{UPGRADE_NOTES}: one ## section must name `{previous}`"
    (section,) = sections
    kinds = {"Added": "add", "Destroyed": "destroy", "Updated in place": "change", "Moved": "moved"}
    listed: dict[str, set[str]] = {kind: set() for kind in kinds.values()}
    for block in re.split(r"^(?=#### )", section, flags=re.MULTILINE)[1:]:
        title, _, body = block.partition("\n")
        kind = kinds[title.removeprefix("#### ").strip()]
        for old, new in re.findall(r"^- `([^`]+)`(?: → `([^`]+)`)?", body, re.MULTILINE):
            listed[kind].add(f"{old} -> {new}" if new else old)
    return section, listed


def matches(pattern: str, address: str) -> bool:
    """Whether a documented address (``<rule>``: any rule key) names ``address``."""
    regex = re.escape(pattern).replace(re.escape("<rule>"), r'[^"]+')
    return re.fullmatch(regex, address) is not None


def real_updates(changes: list[dict[str, Any]]) -> set[str]:
    """Addresses of the in-place updates that change something besides what moto misreports
    (plan_checks.MOTO_MISREPORTS): what an upgrade against AWS plans too."""
    real = set()
    for rc in changes:
        change = rc["change"]
        if change["actions"] != ["update"]:
            continue
        before, after = change["before"] or {}, change["after"] or {}
        unknown = change.get("after_unknown") or {}
        changed = {
            key
            for key in set(before) | set(after) | set(unknown)
            if unknown.get(key) is True or before.get(key) != after.get(key)
        }
        if changed - {key for kind, key in MOTO_MISREPORTS if kind == rc["type"]}:
            real.add(rc["address"])
    return real


def check_upgrade_notes(summary: dict[str, Any], changes: list[dict[str, Any]]) -> None:
    """The notes list exactly what the plan adds, destroys, updates for real and moves."""
    section, documented = upgrade_notes(PREVIOUS)
    planned = {
        "add": set(summary["listed"].get("add", [])),
        "destroy": set(summary["listed"].get("destroy", [])),
        "change": real_updates(changes),
        "moved": set(summary["listed"].get("moved", [])),
    }
    for kind, addresses in planned.items():
        relative = {a.replace(MODULE_ADDRESS, "") for a in addresses}
        undocumented = sorted(
            a for a in relative if not any(matches(p, a) for p in documented[kind])
        )
        unplanned = sorted(p for p in documented[kind] if not any(matches(p, a) for a in relative))
        assert (undocumented, unplanned) == ([], []), (
            f"{UPGRADE_NOTES} ({kind}): planned but not in the notes {undocumented}; "
            f"in the notes but not planned {unplanned}"
        )
    counts = re.search(r"(\d+) to add, (\d+) to change, (\d+) to destroy, (\d+)\s+moved", section)
    assert counts is not None, f"{UPGRADE_NOTES}: the counts (N to add, N to change, ...)"
    assert [int(n) for n in counts.groups()] == [
        len(planned[kind]) for kind in ("add", "change", "destroy", "moved")
    ], counts.group(0)
    for name in set().union(*NEW_VARIABLES.values()):
        assert f"`{name}`" in section, f"{UPGRADE_NOTES}: the new variable {name}"


def write_root(root: Path, source: str, package: Path, endpoint: str) -> None:
    arguments = MODULE_ARGUMENTS.replace("PACKAGE", str(package)).replace("SOURCE_ID", SOURCE_ID)
    outputs = "".join(
        f'output "{name}" {{\n  value = module.segment_usage.{name}\n}}\n\n' for name in OUTPUTS
    )
    (root / "main.tf").write_text(
        'provider "aws" {\n  region = "us-east-1"\n}\n\n'
        f'module "segment_usage" {{\n  source = "{source}"\n'
        + textwrap.indent(textwrap.dedent(arguments).strip(), "  ")
        + "\n}\n\n"
        + outputs
    )
    write_moto_override(root, endpoint)


def plan_summary(plan: dict[str, Any]) -> dict[str, Any]:
    """Counts as Terraform prints them (add, change, destroy) plus moves, and what each holds."""
    counts: Counter[str] = Counter()
    listed: dict[str, list[str]] = {}
    for rc in plan.get("resource_changes", []):
        if rc["mode"] != "managed":
            continue
        actions = rc["change"]["actions"]
        kind = {
            ("no-op",): "unchanged",
            ("create",): "add",
            ("update",): "change",
            ("delete",): "destroy",
            ("delete", "create"): "replace",
            ("create", "delete"): "replace",
        }[tuple(actions)]
        counts[kind] += 1
        listed.setdefault(kind, []).append(rc["address"])
        if "previous_address" in rc:
            counts["moved"] += 1
            listed.setdefault("moved", []).append(f"{rc['previous_address']} -> {rc['address']}")
    return {"counts": dict(counts), "listed": listed}


def record(env: dict[str, str], dynamodb: Any) -> list[dict[str, Any]]:
    runtime = Runtime(Settings.from_env(env), dynamodb)
    messages = [
        sm.identify({"plan": "pro", "seats": 3}, user_id=USER),
        sm.track("Report Exported", {"format": "csv"}, user_id=USER),
        sm.track("Report Exported", {"format": "pdf"}, user_id=USER),
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        return [runtime.handle(m) for m in messages]


def view(dynamodb: Any, table: str) -> dict[str, Any]:
    return Reader(dynamodb, table).user(USER, today=TODAY).as_dict()


def functions(lam: Any, outputs: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each function's environment, by output name."""
    return {
        name: lam.get_function_configuration(FunctionName=outputs[name])["Environment"]["Variables"]
        for name in ("function_name", "batch_function_name", "read_api_function_name")
    }


def config_items(dynamodb: Any, table: str) -> dict[str, dict[str, Any]]:
    return {
        sk: dynamodb.get_item(
            TableName=table, Key={"pk": {"S": "CONFIG"}, "sk": {"S": sk}}, ConsistentRead=True
        )["Item"]
        for sk in ("TRACKING_PLAN", "SEGMENTS")
    }


@pytest.fixture
def sqs_redrive_policy_as_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto answers GetQueueAttributes with the RedrivePolicy re-serialised (spaces after ":" and
    ","), where SQS returns the JSON it was given; the provider then plans to set it again, and the
    apply waits ~25 s for an SQS attribute that never changes. Here moto returns it compact, as
    Terraform's jsonencode wrote it, for the duration of the test (plan_checks.py accepts the
    misreport too, where nothing is applied)."""
    from moto.sqs.models import Queue

    attributes = Queue.attributes.fget

    def compact(self: Any) -> dict[str, Any]:
        result = attributes(self)
        if "RedrivePolicy" in result:
            result["RedrivePolicy"] = json.dumps(
                self.redrive_policy, separators=(",", ":"), sort_keys=True
            )
        return result

    monkeypatch.setattr(Queue, "attributes", property(compact))


def test_upgrade_from_previous_release_moves_everything_and_keeps_the_data(
    terraform_ready: Path, tmp_path: Path, sqs_redrive_policy_as_stored: None
) -> None:
    started = time.monotonic()
    repo = tmp_path / "segment-usage.git"
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", "--no-local", str(REPO_ROOT), str(repo)], check=True
    )
    package = tmp_path / "handler.zip"  # the previous release's code, deployed by both applies
    package.write_bytes(
        subprocess.run(
            [
                "git",
                "--git-dir",
                str(repo),
                "show",
                f"{PREVIOUS}:modules/segment-usage/artifacts/handler.zip",
            ],
            check=True,
            capture_output=True,
        ).stdout
    )
    # The module as it is now, uncommitted changes included.
    current = tmp_path / "current" / "segment-usage"
    shutil.copytree(
        REPO_ROOT / "modules" / "segment-usage",
        current,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "terraform.tfstate*"),
    )
    root = tmp_path / "platform-team"
    root.mkdir()
    env = terraform_env()

    def tf(*args: str) -> subprocess.CompletedProcess[str]:
        return run_terraform([*args, "-no-color"], root, env)  # TF_INPUT=0 is in env

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with moto_server() as url:
        create_segment_partner_source(url, SOURCE_ID)
        dynamodb = boto3_client("dynamodb", url)
        lam = boto3_client("lambda", url)

        write_root(root, f"git::file://{repo}//modules/segment-usage?ref={PREVIOUS}", package, url)
        tf("init", "-backend=false")
        tf("apply", "-auto-approve")
        before = {k: v["value"] for k, v in json.loads(tf("output", "-json").stdout).items()}
        table = before["table_name"]
        environments = functions(lam, before)
        responses = record(environments["function_name"], dynamodb)
        assert [r["status"] for r in responses] == ["accepted"] * 3, responses
        seen = view(dynamodb, table)
        assert seen["traits"] == {"plan": "pro", "seats": 3}
        assert seen["usage"]["report_exported"]["count"] == 2
        stored = config_items(dynamodb, table)
        applied_previous = time.monotonic() - started

        write_root(root, str(current), package, url)
        tf("init", "-backend=false")
        tf("plan", "-out=upgrade.tfplan")
        plan = json.loads(tf("show", "-json", "upgrade.tfplan").stdout)
        summary = plan_summary(plan)
        counts = summary["counts"]
        print(
            f"\nupgrade {PREVIOUS} -> working tree: "
            + ", ".join(f"{counts.get(k, 0)} to {k}" for k in ("add", "change", "destroy"))
            + f", {counts.get('moved', 0)} moved, {counts.get('unchanged', 0)} unchanged"
            + f" ({counts.get('replace', 0)} replaced)"
        )
        for kind in ("change", "add", "moved"):
            for address in summary["listed"].get(kind, []):
                print(f"  {kind}: {address}")

        # Nothing replaced; added and removed only what this release adds and removes on purpose.
        assert not counts.get("replace"), summary["listed"]
        assert set(summary["listed"].get("destroy", [])) == REMOVED, summary["listed"]
        assert set(summary["listed"].get("add", [])) == ADDED, summary["listed"]
        # The functions' resources moved into modules/function, every one of them.
        moved = summary["listed"].get("moved", [])
        for name in ("direct", "batch", "read"):
            unit = f'module.segment_usage.module.function["{name}"]'
            for resource in (
                "aws_lambda_function.this",
                "aws_iam_role.this",
                "aws_iam_role_policy.this",
                "aws_cloudwatch_log_group.this",
                'aws_cloudwatch_metric_alarm.this["errors"]',
                'aws_cloudwatch_metric_alarm.this["throttles"]',
            ):
                assert any(m.endswith(f"-> {unit}.{resource}") for m in moved), (unit, resource)
        # Updates only where moto misreports what was applied (as on any re-plan of the examples).
        changes = [
            rc
            for rc in plan["resource_changes"]
            if set(rc["change"]["actions"]) - {"no-op", "read", "create", "delete"}
        ]
        assert unexplained_changes(expected_updates(changes)) == []
        # The upgrade notes say exactly this.
        check_upgrade_notes(summary, changes)
        # The stored configuration (tracking plan, segment definitions) is not even updated:
        # the same inputs give the same text, so the functions' hashes stay valid.
        items = {
            rc["address"]: rc["change"]["actions"]
            for rc in plan["resource_changes"]
            if rc["type"] == "aws_dynamodb_table_item"
        }
        assert items == {
            'module.segment_usage.aws_dynamodb_table_item.config["TRACKING_PLAN"]': ["no-op"],
            'module.segment_usage.aws_dynamodb_table_item.config["SEGMENTS"]': ["no-op"],
            "module.segment_usage.aws_dynamodb_table_item.coverage": ["create"],
        }

        tf("apply", "upgrade.tfplan")
        after = {k: v["value"] for k, v in json.loads(tf("output", "-json").stdout).items()}
        assert after == before  # every output keeps its value
        assert view(dynamodb, table) == seen  # the record written before the upgrade still reads
        assert config_items(dynamodb, table) == stored
        # Coverage starts the day of the upgrade's apply (coverage.tf): earlier windows answer
        # unknown unless the module's coverage_start names the first deployment's day.
        assert load_coverage(dynamodb, table) == datetime.now(UTC).date().isoformat()
        upgraded = functions(lam, after)
        for name, variables in environments.items():
            assert {k: upgraded[name][k] for k in variables} == variables, name
            assert set(upgraded[name]) - set(variables) == NEW_VARIABLES[name], name
    # No destroy (it would add ~45 s of queue waiters): the names (environment "upgrade", source
    # SOURCE_ID) are this test's own, and nothing else lists what it leaves in moto's backend.
    print(
        f"  previous release applied in {applied_previous:.0f}s, "
        f"upgraded and checked by {time.monotonic() - started:.0f}s"
    )
