"""Segments: definitions parsed and refused with errors naming the field, evaluated on read from
what the handler recorded (moto), explained condition by condition, in the view and the CLI."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from segment_usage.cli import main
from segment_usage.read.segments import (
    SEGMENTS_SK,
    SegmentDefinitionError,
    explain,
    load_from_table,
    membership,
    parse_segments,
)
from segment_usage.read.view import Reader, UsageTrait
from support import segment_messages as sm
from support.delivery import deliver

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = 86_400_000
NOW_MS = int(NOW.timestamp() * 1000)

POWER = {
    "power_exporters": {
        "all": [
            {"trait": "report_exported", "in_last_days": 30, "at_least": 5},
            {"identify_trait": "plan", "equals": "pro"},
        ]
    }
}


def usage(count: int, d7: int, d30: int, first_days_ago: float, last_days_ago: float) -> UsageTrait:
    """A usage trait with ``d7`` uses in the last 7 days, ``d30`` in the last 30 and ``count`` in
    all, placed on days from the last seen one back (the per-day counts windows are read from)."""
    last = int(last_days_ago)
    daily: dict[str, int] = {}
    for n, back in ((d7, min(last, 6)), (d30 - d7, max(last, 7)), (count - d30, max(last, 30))):
        if n:
            day = (NOW - timedelta(days=back)).date().isoformat()
            daily[day] = daily.get(day, 0) + n
    return UsageTrait(
        count,
        NOW_MS - int(first_days_ago * DAY),
        NOW_MS - int(last_days_ago * DAY),
        {7: d7, 30: d30},
        daily,
    )


def member(definition: dict, usage_traits: dict, traits: dict) -> bool:
    segments = parse_segments({"s": definition})
    return membership(segments, usage_traits, traits, NOW)["s"]


# -- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "error"),
    [
        ({"Bad-Name": {"all": [{"audience": "x"}]}}, "segments.Bad-Name: the name must match"),
        ({"s": {"all": []}}, "segments.s.all: expected a non-empty list of conditions"),
        (
            {"s": {"all": [{"audience": "x"}], "any": [{"audience": "y"}]}},
            "segments.s: set exactly one of all, any",
        ),
        (
            {"s": {"all": [{"trait": "a", "in_last_days": 366, "at_least": 1}]}},
            "segments.s.all[0].in_last_days: 366 is not whole days 1-365",
        ),
        (
            {"s": {"all": [{"trait": "a", "in_last_days": 7}]}},
            "segments.s.all[0].in_last_days: needs at_least or at_most",
        ),
        ({"s": {"all": [{"trait": "a"}]}}, "segments.s.all[0]: trait 'a' needs at least one of"),
        (
            {"s": {"all": [{"trait": "a", "at_least": -1}]}},
            "segments.s.all[0].at_least: expected a number >= 0",
        ),
        (
            {"s": {"all": [{"trait": "a", "not_seen_for_days": 0}]}},
            "segments.s.all[0].not_seen_for_days: expected whole days",
        ),
        (
            {"s": {"any": [{"trait": "a", "identify_trait": "b", "exists": True}]}},
            "segments.s.any[0]: set exactly one of",
        ),
        (
            {"s": {"all": [{"identify_trait": "plan"}]}},
            "segments.s.all[0]: identify_trait 'plan' needs at least one of",
        ),
        (
            {"s": {"all": [{"identify_trait": "plan", "in": []}]}},
            "segments.s.all[0].in: expected a non-empty list",
        ),
        (
            {"s": {"all": [{"identify_trait": "seats", "at_least": "ten"}]}},
            "segments.s.all[0].at_least: expected a number",
        ),
        (
            {"s": {"all": [{"audience": "x", "equals": "y"}]}},
            "segments.s.all[0]: equals cannot be used with audience",
        ),
        (
            {"s": {"all": [{"any": [{"all": [{"audience": "x"}]}]}]}},
            "segments.s.all[0].any[0].all: a nested all/any may hold conditions only",
        ),
        ({"s": {"all": [{"audience": "x"}], "size": 3}}, "segments.s: unknown fields size"),
    ],
)
def test_bad_definitions_name_segment_and_field(definition: dict, error: str) -> None:
    with pytest.raises(SegmentDefinitionError) as info:
        parse_segments(definition)
    assert error in str(info.value)


def test_terraform_nulls_are_ignored() -> None:
    # jsonencode(var.segments) writes every unset optional attribute as null.
    text = json.dumps(
        {
            "s": {
                "description": None,
                "any": None,
                "all": [
                    {
                        "trait": "a",
                        "in_last_days": None,
                        "at_least": 1,
                        "at_most": None,
                        "identify_trait": None,
                        "all": None,
                    }
                ],
            }
        }
    )
    (segment,) = parse_segments(text).values()
    assert segment.root.kind == "all" and segment.root.children[0].ops == (("at_least", 1),)


# -- evaluation -------------------------------------------------------------------------------


def test_the_issue_example() -> None:
    d = POWER["power_exporters"]
    assert member(d, {"report_exported": usage(9, 2, 5, 40, 1)}, {"plan": "pro"})
    assert not member(d, {"report_exported": usage(9, 2, 4, 40, 1)}, {"plan": "pro"})
    assert not member(d, {"report_exported": usage(9, 2, 5, 40, 1)}, {"plan": "free"})
    assert not member(d, {}, {"plan": "pro"})  # never did it: count 0


def test_usage_windows_and_lifetime() -> None:
    u = {"a": usage(10, 1, 3, 100, 2)}
    assert member({"all": [{"trait": "a", "at_least": 10}]}, u, {})
    assert not member({"all": [{"trait": "a", "at_least": 11}]}, u, {})
    assert member({"all": [{"trait": "a", "in_last_days": 7, "at_most": 1}]}, u, {})
    assert not member({"all": [{"trait": "a", "in_last_days": 30, "at_most": 2}]}, u, {})
    assert member({"all": [{"trait": "never", "at_most": 0}]}, u, {})
    both = {"a": usage(3, 1, 1, 50, 1), "b": usage(4, 2, 4, 10, 5)}
    assert (
        member({"all": [{"trait": "*", "at_least": 5, "in_last_days": 30, "at_most": 5}]}, both, {})
        is True
    )


def test_recency() -> None:
    u = {"a": usage(3, 0, 1, 60, 15)}
    assert member({"all": [{"trait": "a", "not_seen_for_days": 14}]}, u, {})
    assert not member({"all": [{"trait": "a", "not_seen_for_days": 16}]}, u, {})
    assert member({"all": [{"trait": "never", "not_seen_for_days": 14}]}, u, {})  # never seen
    assert member({"all": [{"trait": "a", "seen_in_last_days": 16}]}, u, {})
    assert not member({"all": [{"trait": "a", "seen_in_last_days": 15}]}, u, {})
    assert not member({"all": [{"trait": "never", "seen_in_last_days": 15}]}, u, {})
    assert member({"all": [{"trait": "a", "first_seen_in_last_days": 61}]}, u, {})
    assert not member({"all": [{"trait": "a", "first_seen_in_last_days": 59}]}, u, {})
    # "not seen at all for 14 days": * is the latest of every usage trait.
    both = {"a": usage(3, 0, 1, 60, 15), "b": usage(1, 1, 1, 3, 3)}
    assert not member({"all": [{"trait": "*", "not_seen_for_days": 14}]}, both, {})


def test_identify_traits() -> None:
    t = {"plan": "pro", "seats": 12, "beta": True, "score": "7.5", "nothing": None}
    ok = lambda cond: member({"all": [cond]}, {}, t)  # noqa: E731
    assert ok({"identify_trait": "plan", "equals": "pro"})
    assert not ok({"identify_trait": "plan", "equals": "Pro"})
    assert ok({"identify_trait": "plan", "in": ["team", "pro"]})
    assert ok({"identify_trait": "plan", "exists": True})
    assert ok({"identify_trait": "missing", "exists": False})
    assert ok({"identify_trait": "nothing", "exists": True})
    assert not ok({"identify_trait": "missing", "equals": "x"})
    # Terraform sends equals/in as strings: "12" matches 12, "true" matches true, not "True".
    assert ok({"identify_trait": "seats", "equals": "12"})
    assert ok({"identify_trait": "beta", "equals": "true"})
    assert not ok({"identify_trait": "beta", "equals": "1"})
    assert ok({"identify_trait": "beta", "equals": True})
    assert not ok({"identify_trait": "seats", "equals": True})
    assert ok({"identify_trait": "seats", "at_least": 12, "less_than": 13})
    assert not ok({"identify_trait": "seats", "greater_than": 12})
    assert ok({"identify_trait": "score", "at_most": 7.5})  # a numeric string compares as a number
    assert not ok({"identify_trait": "plan", "at_least": 0})  # not a number: never matches


def test_engage_audiences_and_nesting() -> None:
    t = {"power_users": True, "churn_risk": False}
    assert member({"all": [{"audience": "power_users"}]}, {}, t)
    assert not member({"all": [{"audience": "churn_risk"}]}, {}, t)
    assert member({"all": [{"audience": "churn_risk", "member": False}]}, {}, t)
    assert member({"all": [{"audience": "never_synced", "member": False}]}, {}, t)
    nested = {
        "any": [
            {"audience": "churn_risk"},
            {
                "all": [
                    {"audience": "power_users"},
                    {"identify_trait": "plan", "exists": False},
                    {"trait": "a", "at_least": 1},
                ]
            },
        ]
    }
    assert not member(nested, {}, t)
    assert member(nested, {"a": usage(1, 1, 1, 1, 1)}, t)


def test_explain_gives_each_condition_with_its_actual_value() -> None:
    segments = parse_segments(
        {
            **POWER,
            "lapsed": {
                "description": "gone quiet",
                "any": [{"trait": "*", "not_seen_for_days": 14}, {"audience": "churn_risk"}],
            },
        }
    )
    u = {"report_exported": usage(9, 2, 3, 40, 1)}
    report = {r["segment"]: r for r in explain(segments, u, {"plan": "pro"}, NOW)}
    power = report["power_exporters"]
    assert power["member"] is False and power["match"] == "all"
    assert power["conditions"] == [
        {
            "path": "all[0]",
            "condition": "trait report_exported: count in last 30 days >= 5",
            "actual": {"last_30_days": 3},
            "met": False,
        },
        {
            "path": "all[1]",
            "condition": 'identify trait plan: equals "pro"',
            "actual": "pro",
            "met": True,
        },
    ]
    lapsed = report["lapsed"]
    assert lapsed["description"] == "gone quiet" and lapsed["member"] is False
    assert lapsed["conditions"][0]["actual"] == {"last_seen": "2026-11-21T12:00:00Z"}
    assert lapsed["conditions"][1] == {
        "path": "any[1]",
        "condition": "Engage audience churn_risk is true",
        "actual": None,
        "met": False,
    }


def test_ten_segments_evaluate_under_two_ms() -> None:
    """The issue's CPU goal, checked loosely here (the bench measures it precisely)."""
    import time

    defs = {f"s{i}": POWER["power_exporters"] for i in range(10)}
    segments = parse_segments(defs)
    u = {f"t{i}": usage(i, 1, 2, 30, 1) for i in range(30)} | {
        "report_exported": usage(9, 2, 5, 40, 1)
    }
    start = time.process_time()
    for _ in range(200):
        membership(segments, u, {"plan": "pro"}, NOW)
    assert (time.process_time() - start) / 200 < 0.002


# -- on read, from what the handler recorded -------------------------------------------------


def put_definitions(dynamodb, table: str, definitions: dict) -> str:
    text = json.dumps(definitions)
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": "CONFIG"}, "sk": {"S": SEGMENTS_SK}, "segments": {"S": text}},
    )
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def recorded(make_runtime, dynamodb, table) -> str:
    day = NOW - timedelta(days=1)
    messages = [
        sm.track("Report Exported", user_id="ada", at=day - timedelta(minutes=i)) for i in range(5)
    ]
    messages += [
        sm.identify({"plan": "pro"}, user_id="ada", at=day),
        sm.track("Report Exported", user_id="lin", at=day - timedelta(days=20)),
        sm.identify({"plan": "pro"}, user_id="lin", at=day),
    ]
    deliver(make_runtime(), messages)
    put_definitions(dynamodb, table, POWER)
    return table


def test_membership_is_evaluated_on_read(recorded, dynamodb) -> None:
    segments, sha = load_from_table(dynamodb, recorded)
    assert sha == hashlib.sha256(json.dumps(POWER).encode()).hexdigest()
    reader = Reader(dynamodb, recorded, segments)
    assert reader.user("ada", now=NOW).segments == {"power_exporters": True}
    assert reader.user("lin", now=NOW).segments == {"power_exporters": False}
    # A new definition applies at once, to history already recorded: no backfill.
    put_definitions(
        dynamodb, recorded, {"exporters": {"all": [{"trait": "report_exported", "at_least": 1}]}}
    )
    reader = Reader(dynamodb, recorded, load_from_table(dynamodb, recorded)[0])
    assert reader.user("lin", now=NOW).as_dict()["segments"] == {"exporters": True}


def test_load_checks_the_deployed_hash(recorded, dynamodb, table) -> None:
    sha = hashlib.sha256(json.dumps(POWER).encode()).hexdigest()
    assert load_from_table(dynamodb, recorded, sha)[1] == sha
    with pytest.raises(
        SegmentDefinitionError, match="does not match SEGMENT_USAGE_SEGMENTS_SHA256"
    ):
        load_from_table(dynamodb, recorded, "0" * 64)
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "CONFIG"}, "sk": {"S": SEGMENTS_SK}})
    assert load_from_table(dynamodb, table) == ({}, None)
    with pytest.raises(SegmentDefinitionError, match="is missing from table"):
        load_from_table(dynamodb, table, sha)


def run(*argv: str) -> tuple[int, str]:
    """The CLI, as of NOW for the commands that read windows (the data is dated around it)."""
    out = io.StringIO()
    as_of = ["--as-of", NOW.isoformat()] if argv[0] in ("traits", "segments") else []
    code = main([*argv, *as_of], out)
    return code, out.getvalue()


def test_cli_segments_explains_and_traits_shows_membership(recorded, moto_url, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    code, text = run("segments", "lin", "--table", recorded)
    assert code == 0
    assert text.splitlines()[:4] == [
        "user lin",
        "OUT power_exporters (all of these)",
        '  no  all[0]: trait report_exported: count in last 30 days >= 5  (actual: {"last_30_days": 1})',
        '  yes all[1]: identify trait plan: equals "pro"  (actual: "pro")',
    ]
    report = json.loads(run("segments", "ada", "--table", recorded, "--json")[1])
    assert report["segments"][0]["member"] is True
    assert "segments: power_exporters IN" in run("traits", "ada", "--table", recorded)[1]
    assert json.loads(run("traits", "lin", "--table", recorded, "--json")[1])["segments"] == {
        "power_exporters": False
    }


def test_cli_segments_from_a_file_and_without_any(
    recorded, moto_url, monkeypatch, tmp_path, dynamodb
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    path = tmp_path / "segments.json"
    path.write_text(json.dumps({"pro": {"all": [{"identify_trait": "plan", "equals": "pro"}]}}))
    assert "IN  pro" in run("segments", "lin", "--table", recorded, "--segments", str(path))[1]
    path.write_text(json.dumps({"pro": {"all": []}}))
    with pytest.raises(SystemExit, match=r"segments\.pro\.all: expected a non-empty list"):
        run("segments", "lin", "--table", recorded, "--segments", str(path))
    dynamodb.delete_item(TableName=recorded, Key={"pk": {"S": "CONFIG"}, "sk": {"S": SEGMENTS_SK}})
    with pytest.raises(SystemExit, match="no segments defined"):
        run("segments", "lin", "--table", recorded)


def test_cli_explains_every_new_condition_with_its_values(
    recorded, moto_url, monkeypatch, dynamodb
) -> None:
    """Windows, regularity, coverage (unknown with its reason), holdout bucket, nested answers:
    each printed with the values it was decided on."""
    from segment_usage.read.segments import bucket

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    put_definitions(
        dynamodb,
        recorded,
        {
            "regular": {
                "all": [
                    {"trait": "report_exported", "active_days": {"at_least": 1, "in_last_days": 3}},
                    {"trait": "report_exported", "in_last_days": 90, "at_least": 5},
                ]
            },
            "lapsed": {"all": [{"trait": "report_exported", "not_seen_for_days": 14}]},
            "rollout": {
                "salt": "r-2026",
                "all": [{"segment": "regular"}, {"percent": {"from": 0, "to": 100}}],
            },
        },
    )
    dynamodb.put_item(
        TableName=recorded,
        Item={
            "pk": {"S": "CONFIG"},
            "sk": {"S": "COVERAGE"},
            "deployed": {"S": (NOW - timedelta(days=10)).date().isoformat()},
        },
    )
    code, text = run("segments", "ada", "--table", recorded)
    assert code == 0
    covered = '"coverage_start": "2026-11-12"'
    assert text.splitlines() == [
        "user ada",
        "coverage starts 2026-11-12: a window reaching before it answers unknown unless what was "
        "seen decides it",
        "IN  regular (all of these)",
        "  yes all[0]: trait report_exported: active on >= 1 of the last 3 days  (actual: "
        f'{{"active_days_in_last_3_days": 1, {covered}}})',
        "  yes all[1]: trait report_exported: count in last 90 days >= 5  (actual: "
        f'{{"last_90_days": 5, {covered}}})',
        # seen yesterday: decided, though 14 days reach before coverage
        "OUT lapsed (all of these)",
        "  no  all[0]: trait report_exported: not seen for 14 days  (actual: "
        f'{{"last_seen": "2026-11-21T12:00:00Z", {covered}}})',
        "IN  rollout (all of these)",
        '  holdout salt: "r-2026"',
        '  yes all[0]: segment regular is true  (actual: {"member": true})',
        "  yes all[1]: bucket of the user id in [0, 100) percent  (actual: "
        f'{{"bucket": {bucket("r-2026", "ada") / 100}}})',
    ]
    # lin: not active in the last 3 days decides "regular" (all: false wins over unknown).
    lines = run("segments", "lin", "--table", recorded)[1].splitlines()
    assert lines[2:5] == [
        "OUT regular (all of these)",
        "  no  all[0]: trait report_exported: active on >= 1 of the last 3 days  (actual: "
        f'{{"active_days_in_last_3_days": 0, {covered}}})',
        "  ?   all[1]: trait report_exported: count in last 90 days >= 5  (actual: "
        f'{{"last_90_days": 1, {covered}}})',
    ]
    assert lines[5] == (
        "      unknown: trait report_exported: count in last 90 days >= 5: coverage starts "
        "2026-11-12; 1 in the covered days; the window starts 2026-08-25, before it"
    )
    assert lines[6:8] == [
        "??? lapsed (all of these)",
        "  unknown: trait report_exported: not seen for 14 days: coverage starts 2026-11-12; the "
        "last 14 days reach before it",
    ]
    assert (
        "segments: lapsed ???, regular OUT, rollout OUT"
        in run("traits", "lin", "--table", recorded)[1]
    )
    report = json.loads(run("segments", "lin", "--table", recorded, "--json")[1])
    assert report["coverageStart"] == "2026-11-12"
    assert [s["member"] for s in report["segments"]] == [False, None, False]
    assert report["segments"][1]["reason"] == lines[7].removeprefix("  unknown: ")
