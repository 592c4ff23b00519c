"""Nested segments: ``{segment = "other"}`` (and ``member = false``) answers what the other segment
answers, unknown included; an unknown name or a cycle is refused at load, naming it; a long chain
evaluates without recursion, each segment once."""

from __future__ import annotations

import graphlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segment_usage.read.segments import SegmentDefinitionError, explain, membership, parse_segments
from segment_usage.read.view import UsageTrait

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
COVERAGE = (TODAY - timedelta(days=5)).isoformat()
USAGE = {
    "search": UsageTrait(
        2, 0, int(NOW.timestamp() * 1000), daily={(TODAY - timedelta(days=1)).isoformat(): 2}
    )
}
# Leaves with each answer under COVERAGE: true, false, unknown.
LEAVES = {
    True: {"trait": "search", "in_last_days": 3, "at_least": 1},
    False: {"trait": "search", "in_last_days": 3, "at_least": 5},
    None: {"trait": "search", "in_last_days": 30, "at_least": 5},
}
NOT = {True: False, False: True, None: None}


@st.composite
def graphs(draw) -> dict:
    """Segments s0..sN, each an all/any of leaves and references to any segment (cycles too)."""
    n = draw(st.integers(1, 6))
    names = [f"s{i}" for i in range(n)]
    definitions = {}
    for name in names:
        items = draw(
            st.lists(
                st.one_of(
                    st.sampled_from(list(LEAVES)).map(lambda k: LEAVES[k]),
                    st.builds(
                        lambda other, member: {"segment": other, "member": member},
                        st.sampled_from(names),
                        st.booleans(),
                    ),
                ),
                min_size=1,
                max_size=3,
            )
        )
        definitions[name] = {draw(st.sampled_from(["all", "any"])): items}
    return definitions


@settings(max_examples=200, deadline=None)
@given(definitions=graphs())
def test_nested_answers_are_the_other_segments_answers_and_cycles_are_refused(definitions) -> None:
    edges = {
        name: {c["segment"] for c in next(iter(d.values())) if "segment" in c}
        for name, d in definitions.items()
    }
    try:
        list(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError:
        with pytest.raises(SegmentDefinitionError, match="a cycle of nested segments: s"):
            parse_segments(definitions)
        return
    segments = parse_segments(definitions)
    answers = membership(segments, USAGE, {}, NOW, coverage_start=COVERAGE)
    for name, d in definitions.items():
        ((kind, items),) = d.items()
        values = [
            (answers[c["segment"]] if c["member"] else NOT[answers[c["segment"]]])
            if "segment" in c
            else next(k for k, leaf in LEAVES.items() if leaf == c)
            for c in items
        ]
        decisive = kind == "any"
        expected = decisive if decisive in values else (None if None in values else not decisive)
        assert answers[name] is expected, (name, d, values)


def test_cycles_and_unknown_names_are_named() -> None:
    with pytest.raises(SegmentDefinitionError) as info:
        parse_segments(
            {
                "a": {"all": [{"audience": "x"}, {"any": [{"segment": "b"}]}]},
                "b": {"all": [{"segment": "c"}]},
                "c": {"any": [{"segment": "a", "member": False}]},
            }
        )
    assert str(info.value) == (
        "segments.c.any[0].segment: a cycle of nested segments: a -> b -> c -> a"
    )
    with pytest.raises(
        SegmentDefinitionError,
        match=r"segments\.a\.all\[0\]\.segment: a cycle of nested segments: a -> a",
    ):
        parse_segments({"a": {"all": [{"segment": "a"}]}})
    with pytest.raises(
        SegmentDefinitionError, match=r"segments\.a\.any\[1\]\.segment: no segment named 'ghost'"
    ):
        parse_segments({"a": {"any": [{"audience": "x"}, {"segment": "ghost"}]}})
    with pytest.raises(
        SegmentDefinitionError, match=r"segments\.a\.any\[0\]\.segment: expected a segment name"
    ):
        parse_segments({"a": {"any": [{"segment": "Not A Name"}]}})
    with pytest.raises(
        SegmentDefinitionError, match=r"segments\.a\.any\[0\]\.member: expected true or false"
    ):
        parse_segments({"a": {"any": [{"segment": "a", "member": "no"}]}})


def test_a_long_chain_evaluates_without_recursion() -> None:
    n = 3000
    definitions = {f"s{i}": {"all": [{"segment": f"s{i + 1}"}]} for i in range(n)}
    definitions[f"s{n}"] = {"all": [LEAVES[True]]}
    answers = membership(parse_segments(definitions), USAGE, {}, NOW)
    assert set(answers.values()) == {True}


def test_explain_shows_the_nested_answer_and_why_it_is_unknown() -> None:
    segments = parse_segments(
        {
            "heavy": {"all": [LEAVES[None]]},
            "rollout": {"all": [{"segment": "heavy", "member": False}]},
        }
    )
    report = {r["segment"]: r for r in explain(segments, USAGE, {}, NOW, coverage_start=COVERAGE)}
    (row,) = report["rollout"]["conditions"]
    assert row["condition"] == "segment heavy is false"
    assert row["met"] is None and row["actual"] == {"member": None}
    assert row["reason"] == f"segment heavy is unknown: {report['heavy']['reason']}"
    assert report["rollout"]["reason"] == row["reason"]
    answers = membership(segments, USAGE, {}, NOW)  # no coverage: decided
    assert answers == {"heavy": False, "rollout": True}
