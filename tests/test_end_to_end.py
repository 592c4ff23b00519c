"""End to end: ``make demo``'s flow as a test. Terraform applies examples/local to moto with the
real provider, the handler runs with the environment Terraform gave the function, and a realistic
session goes through both paths; exact traits, the rejection and the duplicates are asserted."""

from __future__ import annotations

import io
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "local"
sys.path.insert(0, str(EXAMPLE))

import demo  # noqa: E402

from support.segment_messages import iso  # noqa: E402

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = NOW - timedelta(days=1)


def at(days: float = 0, minutes: float = 0) -> str:
    return iso(DAY + timedelta(days=days, minutes=minutes))


def usage(count: int, first: str, last: str, d7: int, d30: int) -> dict:
    return {
        "count": count,
        "first_seen": first,
        "last_seen": last,
        "last_7_days": d7,
        "last_30_days": d30,
    }


@pytest.fixture(scope="module")
def result() -> demo.DemoResult:
    out = io.StringIO()
    outcome = demo.run_demo(out=out, now=NOW)
    text = out.getvalue()
    for expected in (
        "Paste into Segment",
        "Role Address",
        "External ID",
        "partner event bus",
        "terraform destroy",
    ):
        assert expected in text
    # Terraform's progress as it goes (make demo): the plan's totals, then each resource done.
    planned = re.search(r"terraform apply: Plan: (\d+) to add", text)
    assert planned is not None, text
    applying = text[planned.start() : text.index("terraform destroy")]
    done = re.findall(r"\[(\d+)/(\d+)\] \S+", applying)
    count = int(planned[1])
    assert done == [(str(n), str(count)) for n in range(1, count + 1)], applying
    return outcome


def test_settings_to_paste(result) -> None:
    settings = result.settings
    assert settings["region"] == "us-east-1"
    assert settings["role_address"].startswith("arn:aws:iam::123456789012:role/")
    assert settings["lambda_arn"].endswith(":function:segment-usage-local")
    assert settings["external_id"] == "local-workspace-id"
    assert result.event_bus_name == "aws.partner/segment.com/qSg3xMpL9a"


@pytest.mark.parametrize("path", demo.PATHS)
def test_exact_traits_by_path(result, path) -> None:
    users = result.paths[path].users
    ada, lin = users[f"{path}-ada"], users[f"{path}-lin"]
    assert ada["linkedIds"] == [f"{path}-anon-laptop", f"{path}-anon-phone"]
    assert ada["usage"] == {
        "audience_entered": usage(1, at(minutes=11), at(minutes=11), 1, 1),
        "page_home": usage(1, at(minutes=1), at(minutes=1), 1, 1),
        "page_pricing": usage(2, at(-12), at(minutes=2), 1, 2),
        "report_exported": usage(2, at(-20), at(minutes=6), 1, 2),
        "screen_dashboard": usage(2, at(minutes=4), at(minutes=8), 2, 2),
    }
    assert ada["traits"] == {
        "email": f"ada@{path}.example.com",
        "name": "Ada Lovelace",
        "plan": "pro",
        "power_users": True,
    }
    assert ada["groups"] == {"acme": {"name": "Acme Corp", "plan": "enterprise"}}
    assert lin["linkedIds"] == []
    assert lin["usage"] == {
        "page_docs": usage(1, at(-2), at(-2), 1, 1),
        "report_exported": usage(1, at(-3, 5), at(-3, 5), 1, 1),
    }
    assert lin["traits"] == {"plan": "free"}


@pytest.mark.parametrize("path", demo.PATHS)
def test_counts_duplicates_and_rejection_by_path(result, path) -> None:
    counts = result.paths[path].counts
    assert (counts["accepted"], counts["duplicate"], counts["rejected"], counts["failed"]) == (
        16,
        4,
        1,
        0,
    )


def test_rejected_kept_with_reason(result) -> None:
    assert sorted(r["path"] for r in result.rejected) == ["direct", "sqs"]
    for row in result.rejected:
        assert row["reasons"] == [
            "message: userId or anonymousId is required (a JSON null counts as absent)"
        ]


def test_catalog_and_selective_routing(result) -> None:
    assert {(e["type"], e["name"]): e["count"] for e in result.catalog} == {
        ("page", "Pricing"): 4,
        ("page", "Home"): 2,
        ("page", "Docs"): 2,
        ("screen", "Dashboard"): 4,
        ("track", "Report Exported"): 6,
        ("track", "Audience Entered"): 2,
    }
    assert result.extra_target_messages == 8  # every track event, re-deliveries included


@pytest.mark.parametrize("path", demo.PATHS)
def test_segments_and_read_api_by_path(result, path) -> None:
    targeting = result.targeting
    member = {
        user: {s["segment"]: s["member"] for s in segments}
        for user, segments in targeting.explained.items()
    }
    assert member[f"{path}-ada"] == {
        "engaged": True,
        "power_exporters": True,
        "quiet_free_users": False,
    }
    assert member[f"{path}-lin"] == {
        "engaged": False,
        "power_exporters": False,
        "quiet_free_users": True,
    }
    status, body = targeting.api[f"GET /v1/users/{path}-ada"]
    assert status == 200
    assert body["segments"] == member[f"{path}-ada"]
    assert body["traits"]["plan"] == "pro"
    assert body["usage"]["report_exported"]["last_30_days"] == 2
    assert targeting.api[f"GET /v1/users/{path}-lin?segment=power_exporters"] == (
        200,
        {"user_id": f"{path}-lin", "segment": "power_exporters", "member": False},
    )
    assert targeting.api["GET /v1/users/nobody"][0] == 404
    assert targeting.api["GET (no requestContext.authorizer.iam)"][0] == 403
    assert set(targeting.read_env) == {"SEGMENT_USAGE_TABLE", "SEGMENT_USAGE_SEGMENTS_SHA256"}
