"""The segments input (type any): one grammar in segments.tf, errors naming segment, position and
field, and the same stored text as when the variable was a typed object.

With `type = any` nothing is converted or dropped before the module sees the value, so the module
whitelists every key and checks every type itself (test_read_api_module.py holds the rules that
predate this). The stored definitions (item CONFIG/SEGMENTS) must not change for definitions that
were valid before: their text and SHA-256 are compared with those of the previous release's module,
planned side by side with the same input, conversions included (numbers given as strings, a
number for a string, "true" for a bool), which the typed variable used to make.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from segment_usage.read.segments import parse_segments
from support.terraform import REPO_ROOT, run_terraform, terraform_env
from support.tf_overrides import provider_block

pytestmark = pytest.mark.terraform

MODULE = REPO_ROOT / "modules" / "segment-usage"
PREVIOUS = "2e2a639"  # the last release with the typed segments variable

# name -> (segments HCL, the text an error must contain)
INVALID = {
    "not_a_map": ('segments = ["power"]', "segments must be a map of segment name to"),
    "segment_not_object": (
        'segments = { s = "power users" }',
        "segments: s: a segment must be an object",
    ),
    "segment_unknown_field": (
        'segments = { s = { all = [{ audience = "x" }], colour = "red" } }',
        "segments: s.colour: not a field of a segment, which holds description, salt and one of all, any.",
    ),
    "description_not_string": (
        'segments = { s = { description = ["x"], all = [{ audience = "x" }] } }',
        "segments: s.description: must be a string.",
    ),
    "condition_not_object": (
        'segments = { s = { all = ["report_exported"] } }',
        "segments: s.all[0]: a condition must be an object",
    ),
    "unknown_field": (
        'segments = { s = { all = [{ trait = "a", at_least = 1, in_last_day = 7 }] } }',
        "segments: s.all[0].in_last_day: not a field of a condition, which is one of audience with "
        "member; identify_trait with equals, in, exists, at_least, at_most, greater_than, "
        "less_than; percent = { from, to }; segment with member; trait with in_last_days, "
        "at_least, at_most, active_days,",
    ),
    "number_expected": (
        'segments = { s = { all = [{ trait = "a", at_least = "many" }] } }',
        "segments: s.all[0].at_least: must be a number.",
    ),
    "string_expected": (
        'segments = { s = { any = [{ identify_trait = ["plan"], exists = true }] } }',
        "segments: s.any[0].identify_trait: must be a string.",
    ),
    "bool_expected": (
        'segments = { s = { all = [{ any = [{ audience = "a", member = "maybe" }] }] } }',
        "segments: s.all[0].any[0].member: must be true or false.",
    ),
    "list_expected": (
        'segments = { s = { all = [{ identify_trait = "plan", in = "pro" }] } }',
        "segments: s.all[0].in: must be a list of strings.",
    ),
    "group_not_a_list": (
        'segments = { s = { all = [{ any = "x" }] } }',
        "segments: s.all[0].any: must be a list of conditions.",
    ),
    "nested_too_deep": (
        'segments = { s = { all = [{ any = [{ all = [{ audience = "a" }] }] }] } }',
        "segments: s.all[0].any[0].all: all and any nest one level only",
    ),
    # issue 18: any window, regularity, holdouts, nested segments
    "salt_not_string": (
        'segments = { s = { salt = ["x"], all = [{ audience = "x" }] } }',
        "segments: s.salt: must be a string of 1-200 characters",
    ),
    "window_too_long": (
        'segments = { s = { all = [{ trait = "a", in_last_days = 366, at_least = 1 }] } }',
        "segments: s.all[0].in_last_days: in_last_days must be whole days 1-365",
    ),
    "active_days_not_object": (
        'segments = { s = { all = [{ trait = "a", active_days = 3 }] } }',
        "segments: s.all[0].active_days: must be an object such as { at_least = 3, in_last_days",
    ),
    "active_days_without_window": (
        'segments = { s = { all = [{ trait = "a", active_days = { at_least = 3 } }] } }',
        "segments: s.all[0].active_days.in_last_days: active_days needs in_last_days, whole days",
    ),
    "active_days_too_many": (
        'segments = { s = { any = [{ trait = "a", active_days = { at_least = 8, in_last_days = 7 } }] } }',
        "segments: s.any[0].active_days.at_least: active_days.at_least and at_most are whole days "
        "from 0 to in_last_days.",
    ),
    "active_days_attribute": (
        'segments = { s = { all = [{ trait = "a", active_days = { at_least = 1, in_last_days = 7, days = 2 } }] } }',
        "segments: s.all[0].active_days.days: not an attribute of active_days, which holds "
        "at_least, at_most, in_last_days.",
    ),
    "active_days_not_number": (
        'segments = { s = { all = [{ trait = "a", active_days = { at_least = "x", in_last_days = 7 } }] } }',
        "segments: s.all[0].active_days.at_least: must be a number.",
    ),
    "percent_over_100": (
        "segments = { s = { all = [{ percent = { from = 0, to = 101 } }] } }",
        "segments: s.all[0].percent: percent needs from and to, numbers 0-100 with two decimals",
    ),
    "percent_decimals": (
        "segments = { s = { all = [{ percent = { from = 0, to = 10.005 } }] } }",
        "segments: s.all[0].percent: percent needs from and to, numbers 0-100 with two decimals",
    ),
    "percent_empty": (
        "segments = { s = { all = [{ percent = { from = 10, to = 10 } }] } }",
        "segments: s.all[0].percent: percent needs from and to, numbers 0-100 with two decimals "
        "at most (buckets are 0.01 wide), from less than to.",
    ),
    "percent_not_number": (
        'segments = { s = { all = [{ percent = { from = "x", to = 10 } }] } }',
        "segments: s.all[0].percent.from: must be a number.",
    ),
    "segment_unknown": (
        'segments = { s = { all = [{ segment = "ghost" }] } }',
        'segments: s.all[0].segment "ghost": names no segment of this module\'s segments.',
    ),
    "segment_bad_name": (
        'segments = { s = { all = [{ segment = "Not A Name" }] } }',
        "segments: s.all[0].segment: a nested segment's name must be a string matching",
    ),
    "segment_cycle": (
        'segments = { t = { any = [{ audience = "x" }, { all = [{ segment = "u" }] }] }, '
        'u = { all = [{ segment = "v" }] }, v = { all = [{ segment = "t", member = false }] } }',
        "segments: t.any[1].all[0].segment: a cycle of nested segments through t, u, v: each "
        "would need the others' answer first",
    ),
    "coverage_not_a_day": (
        'coverage_start = "2024-02-30"',
        "coverage_start must be a UTC day as YYYY-MM-DD (a real date",
    ),
    "segment_self": (
        'segments = { s = { all = [{ segment = "s" }] } }',
        "segments: s.all[0].segment: a cycle of nested segments through s:",
    ),
}
# Checked by the variable's validations (a segment's outer shape); the rest by the precondition
# over every condition (segments.tf), which Terraform evaluates only once every variable is valid.
VALIDATIONS = [
    "not_a_map",
    "segment_not_object",
    "segment_unknown_field",
    "description_not_string",
    "salt_not_string",
    "coverage_not_a_day",
]
PRECONDITIONS = [case for case in INVALID if case not in VALIDATIONS]

# Valid definitions, several of them only after the conversions a typed variable made.
EQUIVALENT = """
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
  converted = {
    description = null
    all = [
      { trait = "report_exported", in_last_days = "7", at_least = "3", at_most = 10 },
      { identify_trait = "seats", equals = 5 },
      { identify_trait = "tags", in = ["a", 1, true] },
      { identify_trait = "beta", exists = "true" },
      { identify_trait = "score", greater_than = 1.5, less_than = -2 },
      { audience = "churn_risk", member = false, trait = null },
      { any = [{ trait = "x", first_seen_in_last_days = 3 }, { trait = "y", not_seen_for_days = 36500 }] },
    ]
  }
}
"""


# Every condition issue 18 adds, with the conversions a typed variable would make ("10" for 10).
FEATURES = """
coverage_start = "2024-01-31"
segments = {
  searchers = {
    description = "searched on 3 of the last 7 days, and 10 times in 90"
    all = [
      { trait = "search", active_days = { at_least = 3, in_last_days = "7" } },
      { trait = "search", in_last_days = 90, at_least = "10" },
    ]
  }
  rollout = {
    salt = "rollout-2026"
    all = [
      { segment = "searchers" },
      { any = [{ percent = { from = 0, to = "12.5" } }, { segment = "searchers", member = false }] },
    ]
  }
}
"""


def module_block(name: str, source: Path, body: str) -> str:
    return (
        f'module "{name}" {{\n  source = "{source}"\n  environment = "{name.replace("_", "")[:12]}"\n'
        "  segment_lambda_destination = { enabled = false }\n"
        + textwrap.indent(textwrap.dedent(body).strip(), "  ")
        + "\n}\n"
    )


def root(endpoint: str, modules: str) -> str:
    provider = provider_block(endpoint).replace(
        'provider "aws" {', 'provider "aws" {\n  region = "us-east-1"'
    )
    return provider + "\n" + modules


def _plan(where: Path, endpoint: str, modules: str, ok: int) -> tuple[str, dict[str, Any]]:
    where.mkdir(parents=True)
    (where / "main.tf").write_text(root(endpoint, modules))
    env = terraform_env()
    run_terraform(["init", "-backend=false", "-input=false", "-no-color"], where, env)
    proc = run_terraform(
        ["plan", "-input=false", "-no-color", "-out=p.tfplan"], where, env, ok_codes=(ok,)
    )
    plan: dict[str, Any] = {}
    if ok == 0:
        plan = json.loads(run_terraform(["show", "-json", "p.tfplan"], where, env).stdout)
    return proc.stdout + proc.stderr, plan


def previous_module(directory: Path) -> Path:
    """The module as released at PREVIOUS (git archive of this repository's history)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", PREVIOUS, "modules/segment-usage"],
        check=True,
        capture_output=True,
    ).stdout
    directory.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive, check=True)
    return directory / "modules" / "segment-usage"


@pytest.fixture(scope="module")
def plans(terraform_ready: Path, tf_moto_url: str, tmp_path_factory) -> dict[str, Any]:
    where = tmp_path_factory.mktemp("segments-input")
    previous = previous_module(where / "previous")
    roots = {
        "validations": (
            "".join(module_block(n, MODULE, INVALID[n][0]) for n in VALIDATIONS),
            1,
        ),
        "preconditions": (
            "".join(module_block(n, MODULE, INVALID[n][0]) for n in PRECONDITIONS),
            1,
        ),
        "equivalent": (
            module_block("previous", previous, EQUIVALENT)
            + module_block("current", MODULE, EQUIVALENT),
            0,
        ),
        "features": (module_block("features", MODULE, FEATURES), 0),
    }
    with ThreadPoolExecutor(max_workers=len(roots)) as pool:
        futures = {
            key: pool.submit(_plan, where / key, tf_moto_url, modules, ok)
            for key, (modules, ok) in roots.items()
        }
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("case", INVALID)
def test_bad_segments_fail_the_plan_naming_segment_position_and_field(
    plans: dict[str, Any], case: str
) -> None:
    output, _ = plans["validations" if case in VALIDATIONS else "preconditions"]
    diagnostics = [" ".join(d.split()) for d in output.split("Error: ")[1:]]
    # A validation names the module block; a precondition the module's directory.
    mine = [d for d in diagnostics if f'module "{case}"' in d or f".terraform/modules/{case}/" in d]
    assert any(INVALID[case][1] in d for d in mine), output


def test_one_fault_one_error(plans: dict[str, Any]) -> None:
    """Each case above holds one fault, and no other rule reports it again (a field of the wrong
    type is not also reported as missing, or as breaking a rule on its value)."""
    output, _ = plans["preconditions"]
    diagnostics = [" ".join(d.split()) for d in output.split("Error: ")[1:]]
    for case in PRECONDITIONS:
        (mine,) = [d for d in diagnostics if f".terraform/modules/{case}/" in d]
        assert mine.count("segments: ") == 1, mine


def test_stored_definitions_are_the_text_the_typed_variable_stored(plans: dict[str, Any]) -> None:
    output, plan = plans["equivalent"]
    items = {
        rc["address"].split(".")[1]: rc["change"]["after"]
        for rc in plan["resource_changes"]
        if rc["address"].endswith('aws_dynamodb_table_item.config["SEGMENTS"]')
    }
    assert set(items) == {"previous", "current"}, output
    assert items["current"]["item"] == items["previous"]["item"]
    stored = json.loads(items["current"]["item"])
    segments = json.loads(stored["segments"]["S"])
    # Every field of every condition is there, null when unset, converted to its type.
    converted = segments["converted"]["all"]
    assert converted[0]["in_last_days"] == 7 and converted[0]["at_least"] == 3
    assert converted[1]["equals"] == "5"
    assert converted[2]["in"] == ["a", "1", "true"]
    assert converted[3]["exists"] is True
    assert converted[0]["audience"] is None and converted[6]["all"] is None


def planned_item(plan: dict[str, Any], address: str) -> dict[str, Any]:
    (item,) = [
        json.loads(rc["change"]["after"]["item"])
        for rc in plan["resource_changes"]
        if rc["address"].endswith(address)
    ]
    return item


def test_new_conditions_are_stored_as_the_read_side_parses_them(plans: dict[str, Any]) -> None:
    """What Terraform stores for windows, regularity, holdouts and nested segments is what
    read/segments.py loads: the same grammar on both sides, the conversions made."""
    output, plan = plans["features"]
    assert plan, output
    stored = planned_item(plan, 'aws_dynamodb_table_item.config["SEGMENTS"]')
    text = stored["segments"]["S"]
    segments = parse_segments(text)
    assert list(segments) == ["rollout", "searchers"]  # jsonencode sorts keys
    assert segments["rollout"].salt == "rollout-2026" and segments["searchers"].salt == "searchers"
    assert segments["rollout"].rank == 1 and segments["searchers"].rank == 0
    document = json.loads(text)
    regular, window = document["searchers"]["all"]
    assert regular["active_days"] == {"at_least": 3, "at_most": None, "in_last_days": 7}
    assert window["at_least"] == 10 and "percent" not in window and "segment" not in window
    assert document["rollout"]["all"][1]["any"][0]["percent"] == {"from": 0, "to": 12.5}
    described = [c.describe() for c in segments["rollout"].root.children[1].children]
    assert described == [
        "bucket of the user id in [0, 12.5) percent",
        "segment searchers is false",
    ]
    # The coverage item: the given day (without coverage_start, the first apply's: unknown here).
    coverage = planned_item(plan, "aws_dynamodb_table_item.coverage")
    assert coverage == {
        "pk": {"S": "CONFIG"},
        "sk": {"S": "COVERAGE"},
        "deployed": {"S": "2024-01-31"},
    }
