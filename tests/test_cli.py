"""The ``segment-usage`` command: read side against the table, and offline validation."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segment_usage.cli import main
from support import segment_messages as sm
from support.delivery import deliver


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out)
    return code, out.getvalue()


@pytest.fixture
def recorded(make_runtime, moto_url, table, monkeypatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    deliver(
        make_runtime(),
        [
            sm.page("Pricing", anonymous_id="anon-1"),
            sm.identify({"plan": "pro"}, user_id="u1", anonymous_id="anon-1"),
            sm.track("Report Exported", user_id="u1"),
            sm.track("Report Exported", user_id=None, anonymous_id=None),
        ],
    )
    return table


def test_traits(recorded) -> None:
    code, text = run("traits", "u1", "--table", recorded)
    assert code == 0
    assert text.splitlines()[0] == "user u1 (linked: anon-1)"
    assert "page_pricing" in text and "report_exported" in text and 'plan = "pro"' in text
    code, text = run("traits", "u1", "--table", recorded, "--json")
    view = json.loads(text)
    assert view["linkedIds"] == ["anon-1"] and view["usage"]["report_exported"]["count"] == 1


def test_events_and_rejected(recorded, monkeypatch) -> None:
    monkeypatch.setenv("SEGMENT_USAGE_TABLE", recorded)
    events = json.loads(run("events", "--json")[1])
    assert {(e["type"], e["name"], e["count"]) for e in events} == {
        ("page", "Pricing", 1),
        ("track", "Report Exported", 1),
    }
    assert "Report Exported" in run("events")[1]
    (rejected,) = json.loads(run("rejected", "--json")[1])
    assert rejected["reasons"] == [
        "message: userId or anonymousId is required (a JSON null counts as absent)"
    ]
    assert "userId or anonymousId is required" in run("rejected")[1]


def test_table_is_required(monkeypatch) -> None:
    monkeypatch.delenv("SEGMENT_USAGE_TABLE", raising=False)
    with pytest.raises(SystemExit, match="pass --table NAME or set SEGMENT_USAGE_TABLE"):
        run("events")


def test_validate_json_lines_offline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: proves offline
    good = sm.track("A", user_id="u")
    bad = sm.track("A", user_id="u", message_id="m" * 101)
    path = tmp_path / "messages.jsonl"
    path.write_text(f"{json.dumps(good)}\n\n{json.dumps(sm.eventbridge_event(bad))}\n{{oops\n")
    code, text = run("validate", str(path), "--json")
    assert code == 1
    assert json.loads(text) == [
        {"messageId": good["messageId"], "valid": True, "kind": None, "errors": [], "warnings": []},
        {
            "messageId": "m" * 101,
            "valid": False,
            "kind": "invalid",
            "errors": [f"messageId: {'m' * 101!r} is too long"],
            "warnings": [],
        },
        {
            "messageId": None,
            "valid": False,
            "kind": "envelope",
            "errors": [
                "line 4: not valid JSON (Expecting property name enclosed in double quotes at 1)"
            ],
            "warnings": [],
        },
    ]
    code, text = run("validate", str(path))
    assert text.splitlines()[-1] == "1 valid, 2 invalid"


def test_validate_single_message_with_a_tracking_plan(tmp_path: Path) -> None:
    message = tmp_path / "m.json"
    message.write_text(json.dumps(sm.track("Order Completed", {"revenue": "x"}, user_id="u")))
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"track": {"Order Completed": {"properties": {"revenue": {"type": "number"}}}}})
    )
    assert run("validate", str(message))[0] == 0
    code, text = run("validate", str(message), "--tracking-plan", str(plan), "--json")
    assert code == 1
    assert json.loads(text)[0]["errors"] == ["properties.revenue: 'x' is not of type 'number'"]


def test_console_script_is_installed(tmp_path: Path) -> None:
    message = tmp_path / "m.json"
    message.write_text(json.dumps(sm.screen("Home", user_id="u")))
    script = Path(sys.executable).with_name("segment-usage")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [script, "validate", str(message), "--json"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["valid"] is True


def test_untrusted_names_cannot_drive_the_terminal(make_runtime, moto_url, table, monkeypatch):
    """Names anyone with the write key chose are printed with control characters escaped."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    hostile = "Clicked\x1b[2J\x1b[31m\u202eevil\r"
    deliver(make_runtime(), [sm.track(hostile, user_id="u\x1b]0;pwned\x07")])
    code, text = run("events", "--table", table)
    assert code == 0 and "\x1b" not in text and "\u202e" not in text and "\r" not in text
    assert "Clicked\\x1b[2J" in text
    _, text = run("traits", "u\x1b]0;pwned\x07", "--table", table)
    assert "\x1b" not in text and "\x07" not in text
