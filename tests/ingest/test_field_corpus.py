"""The field corpus (``tests/data/field/``): inputs taken from public reports of what real Segment
traffic looks like, one file per kind of fault, each case with the outcome it must have, run
through all three delivery paths (direct invoke, EventBridge, SQS batch beside a valid message)
and the CLI's ``validate``, which must give the handler's verdict.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from segment_usage.cli import main, validate_text
from segment_usage.ingest.tracking_plan import TrackingPlan, TrackingPlanError, parse_plan
from segment_usage.read.view import Reader
from support import segment_messages as sm
from support.delivery import TODAY, deliver

CORPUS = Path(__file__).resolve().parents[1] / "data" / "field"
PATHS = ("direct", "eventbridge", "sqs")


def load(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / f"{name}.json").read_text("utf-8"))


CASES = [
    (path.stem, case)
    for path in sorted(CORPUS.glob("*.json"))
    for case in json.loads(path.read_text("utf-8")).get("cases", [])
]


def kept(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    return Reader(dynamodb, table).rejected()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("kind", "case"), CASES, ids=[f"{k}: {c['name']}" for k, c in CASES])
def test_corpus_case(kind: str, case: dict, path: str, make_runtime, dynamodb, table) -> None:
    message, expect = case["message"], case["expect"]
    env = {}
    if "plan" in case:
        env = {"tracking_plan": json.dumps(case["plan"]), "tracking_plan_mode": "block"}
    runtime = make_runtime(**env)
    started = time.time()
    if path == "sqs":  # beside a valid message: one bad record never fails another
        neighbour = sm.track("Neighbour", user_id="field-neighbour")
        (response,) = deliver(runtime, [message, neighbour], "sqs")
        assert response == {"batchItemFailures": []}
        view = Reader(dynamodb, table).user("field-neighbour", today=TODAY)
        assert view.usage["neighbour"].count == 1
    else:
        (response,) = deliver(runtime, [message], path)
        assert response["status"] == expect["status"], response
    rows = kept(dynamodb, table)
    warnings = [r for r in rows if r["kind"] == "warning"]
    rejected = [r for r in rows if r["kind"] != "warning"]
    if expect["status"] == "rejected":
        (row,) = rejected
        assert row["kind"] == expect["kind"]
        for text in expect["errors"]:
            assert any(text in reason for reason in row["reasons"]), (text, row["reasons"])
        assert json.loads(row["raw"]).get("messageId") == message["messageId"] or path == "sqs"
    else:
        assert rejected == []
        fields = [reason.split(":", 1)[0] for w in warnings for reason in w["reasons"]]
        assert sorted(fields) == sorted(expect.get("warnings", fields)), fields
        view = Reader(dynamodb, table).user(message["userId"], today=TODAY)
        for trait in expect.get("usage", []):
            assert view.usage[trait].count == 1, (trait, sorted(view.usage))
            if expect.get("not_after_processing"):
                assert view.usage[trait].last_seen_ms <= time.time() * 1000
                assert view.usage[trait].last_seen_ms >= started * 1000 - 1
        for name, value in expect.get("traits", {}).items():
            assert view.traits[name] == value
        for name in expect.get("traits_absent", []):
            assert name not in view.traits
    plan = parse_plan(case["plan"]) if "plan" in case else None
    (verdict,) = validate_text(json.dumps(message), plan)
    assert verdict["valid"] == (expect["status"] == "accepted")
    assert verdict["kind"] == expect.get("kind")


def test_names_that_differ_in_letters_never_share_a_trait(make_runtime, dynamodb, table) -> None:
    cases = load("names_in_every_script")["cases"]
    traits = [c["expect"]["usage"][0] for c in cases]
    assert len(set(traits)) == len(traits), traits
    deliver(make_runtime(), [c["message"] for c in cases], "sqs")
    names = {e["trait"]: e["name"] for e in Reader(dynamodb, table).events()}
    assert "unnamed" not in names and set(traits) <= set(names)


PLANS = load("plans_that_cannot_work")["plans"]


@pytest.mark.parametrize("bad", PLANS, ids=[p["name"] for p in PLANS])
def test_a_plan_that_cannot_work_is_refused_when_loaded(bad: dict, tmp_path: Path) -> None:
    with pytest.raises(TrackingPlanError) as caught:
        TrackingPlan.from_json(json.dumps(bad["plan"]))
    assert bad["error"] in str(caught.value)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(bad["plan"]))
    message = tmp_path / "m.json"
    message.write_text(json.dumps(sm.track("Order Completed", user_id="u")))
    with pytest.raises(SystemExit) as stopped:  # the CLI says why, no traceback
        main(["validate", str(message), "--tracking-plan", str(plan)], io.StringIO())
    assert bad["error"] in str(stopped.value)


@pytest.mark.parametrize("mode", ["warn", "block"])
@pytest.mark.parametrize("bad", PLANS, ids=[p["name"] for p in PLANS])
def test_a_plan_that_cannot_work_never_stops_ingest(
    bad: dict, mode: str, make_runtime, dynamodb, table
) -> None:
    """Deployed anyway (say, written to the table by hand): every path answers, nothing raises,
    warn mode records with a warning, block mode keeps the message as kind "plan" to replay."""
    runtime = make_runtime(tracking_plan=json.dumps(bad["plan"]), tracking_plan_mode=mode)
    assert runtime.plan_problem and bad["error"] in runtime.plan_problem
    messages = [sm.track("Order Completed", user_id=f"u-{path}") for path in PATHS]
    for path, message in zip(PATHS, messages, strict=True):
        (response,) = deliver(runtime, [message], path)
        if path == "sqs":
            assert response == {"batchItemFailures": []}
        else:
            assert response["status"] == ("accepted" if mode == "warn" else "rejected")
    kinds = sorted(r["kind"] for r in kept(dynamodb, table))
    assert kinds == (["warning"] * 3 if mode == "warn" else ["plan"] * 3)
