"""Identities that cannot be hijacked by anyone holding the public write key (issue: an identify
``{userId: "mallory", anonymousId: "alice"}`` made mallory's view show alice's email)."""

from __future__ import annotations

import json
from collections import Counter

from segment_usage.read.view import MAX_LINKED_READ, Reader
from support import segment_messages as sm
from support.delivery import TODAY, deliver


def view(dynamodb, table, user_id):
    return Reader(dynamodb, table).user(user_id, today=TODAY)


def alice_exists(runtime) -> None:
    deliver(
        runtime,
        [
            sm.identify({"email": "alice@example.com", "phone": "+1 555 0100"}, user_id="alice"),
            sm.track("Invoice Paid", user_id="alice"),
        ],
    )


def test_an_anonymous_id_that_is_another_users_id_reads_nothing_of_theirs(
    make_runtime, dynamodb, table
) -> None:
    runtime = make_runtime()
    alice_exists(runtime)
    deliver(runtime, [sm.identify({"plan": "free"}, user_id="mallory", anonymous_id="alice")])
    mallory = view(dynamodb, table, "mallory")
    assert "email" not in mallory.traits and "phone" not in mallory.traits
    assert "invoice_paid" not in mallory.usage
    assert view(dynamodb, table, "alice").traits["email"] == "alice@example.com"


def test_an_alias_to_another_users_id_reads_nothing_of_theirs(make_runtime, dynamodb, table):
    runtime = make_runtime()
    alice_exists(runtime)
    deliver(runtime, [sm.alias("alice", "mallory2")])
    mallory = view(dynamodb, table, "mallory2")
    assert mallory.traits == {} and mallory.usage == {}


def test_an_anonymous_id_links_to_one_user_and_a_refusal_is_listed(make_runtime, dynamodb, table):
    runtime = make_runtime()
    deliver(runtime, [sm.page("Pricing", anonymous_id="anon-1")])
    deliver(runtime, [sm.identify({"plan": "pro"}, user_id="u1", anonymous_id="anon-1")])
    (response,) = deliver(runtime, [sm.identify({}, user_id="u2", anonymous_id="anon-1")])
    assert response["status"] == "accepted"  # recorded for u2, without the link
    assert "page_pricing" in view(dynamodb, table, "u1").usage
    assert view(dynamodb, table, "u1").linked_ids == ["anon-1"]
    assert view(dynamodb, table, "u2").usage == {} and view(dynamodb, table, "u2").linked_ids == []
    (kept,) = [k for k in Reader(dynamodb, table).rejected() if k["kind"] == "identity"]
    assert "already linked to 1 other userId" in kept["reasons"][0]
    # The same link again (a redelivery) is no refusal: u1 already holds it.
    deliver(runtime, [sm.identify({}, user_id="u1", anonymous_id="anon-1")])
    assert len([k for k in Reader(dynamodb, table).rejected() if k["kind"] == "identity"]) == 1


def test_the_limit_is_a_setting(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime(max_users_per_anonymous_id="2")
    deliver(runtime, [sm.page("Shared Tablet", anonymous_id="tablet")])
    for user in ("u1", "u2", "u3"):
        deliver(runtime, [sm.identify({}, user_id=user, anonymous_id="tablet")])
    linked = [view(dynamodb, table, u).linked_ids for u in ("u1", "u2", "u3")]
    assert linked == [["tablet"], ["tablet"], []]


def test_blocked_values_never_identify_or_link(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    responses = deliver(
        runtime,
        [
            sm.track("Clicked", user_id="undefined", anonymous_id="a-real-visitor"),
            sm.track("Clicked", user_id="null", anonymous_id="anonymous"),
            sm.identify({"plan": "pro"}, user_id="u1", anonymous_id="Anonymous"),
            sm.alias("0", "u1"),
        ],
    )
    assert [r["status"] for r in responses] == ["accepted", "rejected", "accepted", "accepted"]
    assert "blocked value" in responses[1]["errors"][0]
    assert view(dynamodb, table, "undefined").usage == {}
    assert view(dynamodb, table, "u1").linked_ids == []


def test_a_read_costs_a_bounded_number_of_requests_whatever_the_links(
    make_runtime, dynamodb, table
) -> None:
    runtime = make_runtime()
    messages = []
    for n in range(300):
        messages += [
            sm.page("Home", anonymous_id=f"device-{n}"),
            sm.identify({}, user_id="collector", anonymous_id=f"device-{n}"),
        ]
    deliver(runtime, messages, "sqs", batch=100)
    calls: Counter[str] = Counter()
    dynamodb.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.update([model.name])
    )
    try:
        user = view(dynamodb, table, "collector")
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.*")
    assert len(user.linked_ids) == MAX_LINKED_READ and user.links_not_read == 300 - MAX_LINKED_READ
    assert sum(calls.values()) <= 3 + MAX_LINKED_READ, calls
    assert user.usage["page_home"].count == MAX_LINKED_READ


def test_engage_traits_need_engages_mark(make_runtime, dynamodb, table) -> None:
    """A "Trait Computed" or "Audience Entered" from anyone with the write key sets nothing; with
    the configured space's mark it does, and the plan governs it as it governs an identify."""
    plan = {"identify": {"properties": {"plan": {"enum": ["free", "pro"]}}}}
    runtime = make_runtime(tracking_plan=json.dumps(plan), tracking_plan_mode="block")
    forged = [
        sm.track("Trait Computed", {"trait_key": "plan", "plan": "enterprise"}, user_id="u1"),
        sm.track("Audience Entered", {"audience_key": "is_admin"}, user_id="u1"),
    ]
    assert [r["status"] for r in deliver(runtime, forged)] == ["accepted", "accepted"]
    assert view(dynamodb, table, "u1").traits == {}
    marked = {"personas": {"space_id": sm.ENGAGE_SPACE}}
    over = sm.track(
        "Trait Computed", {"trait_key": "plan", "plan": "enterprise"}, user_id="u1", context=marked
    )
    ok = sm.track(
        "Trait Computed", {"trait_key": "plan", "plan": "pro"}, user_id="u1", context=marked
    )
    assert [r["status"] for r in deliver(runtime, [over, ok])] == ["rejected", "accepted"]
    assert view(dynamodb, table, "u1").traits == {"plan": "pro"}
