"""More of each kind in the field corpus, generated: names in every script, decimals, text that is
not Unicode, fields recording does not need. The corpus holds the examples that failed; these
properties hold for the whole kind."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segment_usage.ingest.check import Policy, check
from segment_usage.ingest.envelopes import unwrap
from segment_usage.ingest.trackers import Trackers, _kept, snake_case
from segment_usage.ingest.tracking_plan import TrackingPlan
from support import segment_messages as sm
from support.delivery import deliver

NOW_MS = int(sm.BASE_TIME.timestamp() * 1000)
ALL = Trackers(None)


def legacy_snake_case(name: str) -> str:
    """The trait names of v0.2 (ASCII only): what an upgrade must not rename."""
    words = re.sub(r"[^a-z0-9]+", "_", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower())
    words = words.strip("_") or "unnamed"
    if not words[0].isalpha():
        words = f"t_{words}"
    if len(words) > 100:
        digest = hashlib.blake2b(name.encode("utf-8"), digest_size=4).hexdigest()
        words = f"{words[:91].rstrip('_')}_{digest}"
    return words


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=150))
def test_ascii_names_keep_the_trait_names_of_earlier_versions(name: str) -> None:
    assert snake_case(name) == legacy_snake_case(name)


def _letters(name: str) -> str:
    """What identifies a name: its kept characters (letters, marks, numbers, symbols), in order,
    after the normalisation and case folding the rule applies."""
    return "".join(c for c in unicodedata.normalize("NFKC", name).casefold() if _kept(c))


NAMES = st.text(
    alphabet=st.characters(categories=["L", "M", "N", "S", "P", "Zs"], exclude_characters="\x00"),
    min_size=1,
    max_size=20,
)


@given(NAMES, NAMES)
def test_names_that_differ_in_letters_digits_or_symbols_never_share_a_trait(a: str, b: str) -> None:
    if _letters(a) != _letters(b):
        assert snake_case(a) != snake_case(b), (a, b)


@given(NAMES)
def test_no_name_with_a_letter_becomes_a_placeholder(name: str) -> None:
    trait = snake_case(name)
    assert len(trait.encode("utf-8")) <= 100
    if _letters(name):
        assert trait != "unnamed" and _letters(name) in trait.replace("_", "")


PLAN = TrackingPlan.from_json(
    json.dumps({"track": {"Paid": {"properties": {"amount": {"multipleOf": 0.01}}}}})
)


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False))
def test_every_two_decimal_amount_is_a_multiple_of_a_cent(amount: Decimal) -> None:
    message = sm.track("Paid", {"amount": float(amount)}, user_id="u1")
    assert PLAN.violations(message) == []


@given(st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False))
def test_a_third_decimal_is_not(amount: Decimal) -> None:
    message = sm.track("Paid", {"amount": float(amount)}, user_id="u1")
    assert (PLAN.violations(message) == []) == (amount % Decimal("0.01") == 0)


LONE = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "a\ud83c", "\udf54b"])
FIELDS = st.sampled_from(
    ["userId", "anonymousId", "messageId", "event", "properties.label", "context.page.title",
     "properties.{key}"]
)  # fmt: skip


def _inject(message: dict, where: str, text: str) -> dict:
    message = json.loads(json.dumps(message))
    if where == "properties.{key}":
        message["properties"][text] = 1
    elif "." in where:
        head, *rest = where.split(".")
        node = message[head]
        for part in rest[:-1]:
            node = node[part]
        node[rest[-1]] = text
    else:
        message[where] = text
    return message


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(FIELDS, LONE)
def test_text_that_is_not_unicode_never_fails_a_batch(make_runtime, where: str, text: str) -> None:
    """Anywhere in a message: one outcome for it, the SQS batch acknowledged, its neighbour
    recorded; rejected when recording needs the field, recorded with a warning otherwise."""
    runtime = make_runtime()
    bad = _inject(sm.track("Clicked", {"label": "x"}, user_id="u1"), where, text)
    good = sm.track("Clicked", user_id="u2")
    assert deliver(runtime, [bad, good], "sqs") == [{"batchItemFailures": []}]
    (item,) = unwrap(bad)[1]
    verdict = check(item, Policy(ALL, None, "block"), NOW_MS)
    needed = where.split(".")[0] in ("userId", "anonymousId", "messageId", "event")
    assert (verdict.message is None) == needed
    assert any("lone UTF-16 surrogate" in e for e in verdict.errors + verdict.warnings)


JUNK = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.just("2026-11-29T10:06:21 am+0400"),
)
OPTIONAL = ["originalTimestamp", "sentAt", "receivedAt", "context", "integrations", "properties"]


@given(st.dictionaries(st.sampled_from(OPTIONAL), JUNK, min_size=1))
def test_fields_recording_does_not_need_never_reject(junk: dict) -> None:
    message = {**sm.track("Clicked", user_id="u1"), **junk}
    (item,) = unwrap(message)[1]
    verdict = check(item, Policy(ALL, None, "block"), NOW_MS)
    assert verdict.message is not None, verdict.errors
    assert verdict.message.day == message["timestamp"][:10]
    for warning in verdict.warnings:
        assert warning.split(":", 1)[0].split(".")[0] in OPTIONAL
