"""What a plan of an already applied configuration may show against moto, and nothing else.

Shared by the examples' second plans (test_examples_apply.py) and the upgrade from the previous
release (test_upgrade.py): moto misreports a few attributes, so even an unchanged configuration plans
some updates; anything else is a real change.
"""

from __future__ import annotations

import json
from typing import Any

# Attributes the second plan may show as changed only because moto misreports them.
MOTO_MISREPORTS = {
    ("aws_lambda_function", "logging_config"): (
        "moto's Lambda ignores LoggingConfig: GetFunction returns none, so the provider always "
        "plans to add log_format=JSON/log_group back"
    ),
    ("aws_sqs_queue", "redrive_policy"): (
        "moto returns RedrivePolicy re-serialised with spaces; accepted only if JSON-equal"
    ),
}
# Knock-on effects of those misreports, allowed only while a misreported update is planned:
# - policy documents from aws_iam_policy_document data sources that reference a resource with a
#   pending update are read at apply time, so their policy shows as unknown;
# - a function with publish = true (alias_name set) plans a new version for any update, so the
#   version attributes and the alias's function_version become unknown.
KNOCK_ON_UNKNOWN = {
    ("aws_iam_role_policy", "policy"),
    ("aws_lambda_function", "version"),
    ("aws_lambda_function", "qualified_arn"),
    ("aws_lambda_function", "qualified_invoke_arn"),
    ("aws_lambda_function", "last_modified"),
    ("aws_lambda_alias", "function_version"),
}


def unexplained_changes(changes: list[dict[str, Any]]) -> list[str]:
    """Planned changes not explained by MOTO_MISREPORTS (or by policies deferred because of them)."""
    primary: list[str] = []
    deferred: list[str] = []
    for rc in changes:
        change = rc["change"]
        if change["actions"] != ["update"]:
            primary.append(f"{rc['address']}: {change['actions']}")
            continue
        before, after = change["before"] or {}, change["after"] or {}
        unknown = change.get("after_unknown") or {}
        for key in sorted(set(before) | set(after) | set(unknown)):
            if unknown.get(key) is True:
                if (rc["type"], key) in KNOCK_ON_UNKNOWN:
                    deferred.append(f"{rc['address']}.{key}")
                else:
                    primary.append(f"{rc['address']}.{key}: becomes unknown")
                continue
            if before.get(key) == after.get(key):
                continue
            if (rc["type"], key) == ("aws_sqs_queue", "redrive_policy") and json.loads(
                before[key]
            ) == json.loads(after[key]):
                continue
            if (rc["type"], key) in MOTO_MISREPORTS and key != "redrive_policy":
                continue
            primary.append(f"{rc['address']}.{key}: {before.get(key)!r} -> {after.get(key)!r}")
    has_upstream_misreport = any(
        (rc["type"], key) in MOTO_MISREPORTS
        for rc in changes
        for key in rc["change"]["after"] or {}
    )
    if deferred and not has_upstream_misreport:
        primary += [f"{d}: unknown without an upstream moto misreport" for d in deferred]
    return primary
