"""Tri-state segments: a condition whose window reaches before the deployment's coverage answers
unknown, unless what was seen already decides it.

The kind, not the example: Hypothesis draws a person's whole history (per-day counts over ~400
days), a coverage start and conditions of every kind (any window, regularity, recency, lifetime,
nested all/any); the view holds only the days from coverage on, as a deployment would have
recorded them. Every true or false answer must be the answer the whole history gives (whatever
happened before coverage), and a condition whose window lies inside coverage is never unknown.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segment_usage.read.segments import explain, membership, parse_segments, reasons
from segment_usage.read.view import UsageTrait

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
HISTORY_DAYS = 400
DAY_MS = 86_400_000


def trait_from(daily: dict[str, int]) -> UsageTrait | None:
    """A usage trait as the view builds it from per-day counts (used at noon UTC each day)."""
    daily = {day: n for day, n in daily.items() if n > 0}
    if not daily:
        return None
    noon = [
        int(datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC).timestamp() * 1000)
        for day in daily
    ]
    return UsageTrait(sum(daily.values()), min(noon), max(noon), daily=dict(daily))


def views(history: dict[str, dict[str, int]], coverage: date) -> tuple[dict, dict]:
    """(the whole history's usage, what a deployment covering days >= coverage recorded)."""
    whole = {name: trait_from(daily) for name, daily in history.items()}
    seen = {
        name: trait_from({d: n for d, n in daily.items() if d >= coverage.isoformat()})
        for name, daily in history.items()
    }
    return (
        {k: v for k, v in whole.items() if v is not None},
        {k: v for k, v in seen.items() if v is not None},
    )


days_back = st.integers(0, HISTORY_DAYS - 1)
histories = st.dictionaries(
    st.sampled_from(["search", "export"]),
    st.dictionaries(
        days_back.map(lambda back: (TODAY - timedelta(days=back)).isoformat()),
        st.integers(1, 4),
        max_size=40,
    ),
    max_size=2,
)
windows = st.integers(1, 365)
counts = st.integers(0, 12)
trait_names = st.sampled_from(["search", "export", "*"])


@st.composite
def usage_conditions(draw: Any) -> dict[str, Any]:
    name = draw(trait_names)
    shape = draw(st.sampled_from(["window", "lifetime", "active", "recency"]))
    if shape == "window":
        op = draw(st.sampled_from(["at_least", "at_most"]))
        return {"trait": name, "in_last_days": draw(windows), op: draw(counts)}
    if shape == "lifetime":
        return {"trait": name, draw(st.sampled_from(["at_least", "at_most"])): draw(counts)}
    if shape == "active":
        days = draw(windows)
        bounds = draw(
            st.dictionaries(
                st.sampled_from(["at_least", "at_most"]), st.integers(0, days), min_size=1
            )
        )
        return {"trait": name, "active_days": {**bounds, "in_last_days": days}}
    op = draw(
        st.sampled_from(["not_seen_for_days", "seen_in_last_days", "first_seen_in_last_days"])
    )
    return {"trait": name, op: draw(st.integers(1, 500))}


conditions = st.one_of(
    usage_conditions(),
    st.builds(
        lambda kind, items: {kind: items},
        st.sampled_from(["all", "any"]),
        st.lists(usage_conditions(), min_size=1, max_size=3),
    ),
)
segment_sets = st.lists(
    st.builds(lambda kind, items: {kind: items}, st.sampled_from(["all", "any"]),
              st.lists(conditions, min_size=1, max_size=3)),
    min_size=1,
    max_size=3,
).map(lambda defs: {f"s{i}": d for i, d in enumerate(defs)})  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, coverage_back=st.integers(-2, HISTORY_DAYS), definitions=segment_sets)
def test_a_known_answer_is_the_answer_the_whole_history_gives(
    history: dict[str, dict[str, int]], coverage_back: int, definitions: dict[str, Any]
) -> None:
    coverage = TODAY - timedelta(days=coverage_back)
    whole, seen = views(history, coverage)
    segments = parse_segments(definitions)
    truth = membership(segments, whole, {}, NOW)
    answer = membership(segments, seen, {}, NOW, coverage_start=coverage.isoformat())
    for name, met in answer.items():
        assert truth[name] is not None
        assert met is None or met == truth[name], (name, definitions[name], met, truth[name])
    why = reasons(segments, seen, {}, NOW, coverage_start=coverage.isoformat())
    assert set(why) == {name for name, met in answer.items() if met is None}
    assert all(f"coverage starts {coverage.isoformat()}" in text for text in why.values())


def covered(condition: dict[str, Any], coverage_back: int) -> bool:
    """Whether a usage condition's whole window lies inside coverage (days back from today)."""
    if "all" in condition or "any" in condition:
        return all(covered(c, coverage_back) for c in condition.get("all", condition.get("any")))
    if "in_last_days" in condition:
        return condition["in_last_days"] - 1 <= coverage_back
    if "active_days" in condition:
        return condition["active_days"]["in_last_days"] - 1 <= coverage_back
    if "not_seen_for_days" in condition or "seen_in_last_days" in condition:
        days = condition.get("not_seen_for_days", condition.get("seen_in_last_days"))
        return days <= coverage_back  # now is noon: N days back from noon is inside day N back
    return False  # lifetime counts and first seen always reach before coverage


@settings(max_examples=150, deadline=None)
@given(history=histories, coverage_back=st.integers(0, HISTORY_DAYS), condition=usage_conditions())
def test_a_window_inside_coverage_is_decided(
    history: dict[str, dict[str, int]], coverage_back: int, condition: dict[str, Any]
) -> None:
    coverage = TODAY - timedelta(days=coverage_back)
    whole, seen = views(history, coverage)
    segments = parse_segments({"s": {"all": [condition]}})
    answer = membership(segments, seen, {}, NOW, coverage_start=coverage.isoformat())["s"]
    if covered(condition, coverage_back):
        assert answer == membership(segments, whole, {}, NOW)["s"]


def test_without_coverage_everything_is_decided_from_the_data() -> None:
    seen = {"search": trait_from({(TODAY - timedelta(days=2)).isoformat(): 1})}
    segments = parse_segments(
        {
            "lapsed": {"all": [{"trait": "search", "not_seen_for_days": 30}]},
            "few": {"all": [{"trait": "search", "in_last_days": 90, "at_most": 2}]},
            "new": {"all": [{"trait": "search", "first_seen_in_last_days": 7}]},
        }
    )
    assert membership(segments, seen, {}, NOW) == {"lapsed": False, "few": True, "new": True}


def test_the_examples_of_the_issue() -> None:
    """Coverage started 10 days ago: "3 in the last 90 days" is true once 3 were seen, "at most 2"
    false once 3 were, and otherwise both unknown; "not seen for 14 days" unknown, "not seen for
    7 days" decided; Kleene's all/any."""
    coverage = (TODAY - timedelta(days=9)).isoformat()
    three = {"search": trait_from({(TODAY - timedelta(days=d)).isoformat(): 1 for d in (1, 2, 3)})}
    one = {"search": trait_from({(TODAY - timedelta(days=1)).isoformat(): 1})}
    segments = parse_segments(
        {
            "three": {"all": [{"trait": "search", "in_last_days": 90, "at_least": 3}]},
            "at_most_two": {"all": [{"trait": "search", "in_last_days": 90, "at_most": 2}]},
            "quiet_14": {"all": [{"trait": "search", "not_seen_for_days": 14}]},
            "quiet_7": {"all": [{"trait": "search", "not_seen_for_days": 7}]},
            "either": {"any": [{"segment": "quiet_14"}, {"segment": "three"}]},
            "both": {"all": [{"segment": "quiet_14"}, {"segment": "quiet_7"}]},
            "regular": {"all": [{"trait": "search", "active_days": {"at_least": 3, "in_last_days": 14}}]},
            "most_days": {"all": [{"trait": "search", "active_days": {"at_least": 5, "in_last_days": 14}}]},
        }
    )  # fmt: skip

    def answer(usage: dict) -> dict[str, bool | None]:
        return membership(segments, usage, {}, NOW, coverage_start=coverage)

    assert answer(three) == {
        "three": True,
        "at_most_two": False,
        "quiet_14": False,  # seen yesterday: decided
        "quiet_7": False,
        "either": True,  # any(unknown?, true) = true
        "both": False,
        "regular": True,
        "most_days": None,  # 3 active days seen, and 4 of the 14 lie before coverage
    }
    assert answer(one) == {
        "three": None,
        "at_most_two": None,
        "quiet_14": False,
        "quiet_7": False,
        "either": None,  # any(false, unknown)
        "both": False,
        "regular": None,  # 1 active day seen, 4 of the 14 days lie before coverage
        "most_days": None,  # 1 + 4 could still make 5
    }
    assert answer({}) == {
        "three": None,
        "at_most_two": None,
        "quiet_14": None,
        "quiet_7": True,  # the last 7 days are covered and empty
        "either": None,
        "both": None,  # all(unknown, true)
        "regular": None,  # 0 seen, but the 4 uncovered days could hold 3
        "most_days": False,  # 0 seen + 4 uncovered days < 5
    }


def test_explain_gives_the_reason_and_the_values() -> None:
    coverage = (TODAY - timedelta(days=9)).isoformat()
    one = {"search": trait_from({(TODAY - timedelta(days=1)).isoformat(): 1})}
    segments = parse_segments(
        {"three": {"all": [{"trait": "search", "in_last_days": 90, "at_least": 3}]}}
    )
    (report,) = explain(segments, one, {}, NOW, coverage_start=coverage)
    assert report["member"] is None
    assert report["reason"] == (
        "trait search: count in last 90 days >= 3: coverage starts 2026-11-13; 1 in the covered "
        "days; the window starts 2026-08-25, before it"
    )
    (row,) = report["conditions"]
    assert row["met"] is None and row["reason"] == report["reason"]
    assert row["actual"] == {"last_90_days": 1, "coverage_start": "2026-11-13"}


def test_a_coverage_day_that_does_not_exist_is_ignored() -> None:
    """An item edited by hand ("2026-02-30"): decided from the data, not an error on every read."""
    segments = parse_segments({"q": {"all": [{"trait": "search", "not_seen_for_days": 30}]}})
    assert membership(segments, {}, {}, NOW, coverage_start="2026-02-30") == {"q": True}
    assert membership(segments, {}, {}, NOW, coverage_start="2026-11-20") == {"q": None}
