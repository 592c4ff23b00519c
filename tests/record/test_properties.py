"""Property: any sequence of valid messages, each delivered 1-3 times in any order, by any path and
in any batching, leaves the same state as delivering each message once."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segment_usage.handler import Runtime
from segment_usage.settings import Settings
from support import segment_messages as sm
from support.delivery import deliver, state
from support.tables import create_table

USERS = ["u1", "u2"]
# Each anonymous id belongs to one user: which user claims a contested anonymous id is first come,
# first served (record/identity.py, as in Segment Unify), so it depends on arrival order by design;
# tests/record/test_identity.py covers contention. Everything else must not depend on order.
ANONYMOUS = ["a1", "a2"]
OWNER = {"a1": "u1", "a2": "u2"}
_tables = itertools.count()


@st.composite
def messages(draw: st.DrawFn) -> list[dict]:
    out = []
    for i in range(draw(st.integers(1, 14))):
        kind = draw(
            st.sampled_from(["track", "page", "screen", "identify", "group", "alias", "engage"])
        )
        user = draw(st.sampled_from([*USERS, None]))
        anon = (
            draw(st.sampled_from([a for a, owner in OWNER.items() if owner == user] + [None]))
            if user
            else draw(st.sampled_from(ANONYMOUS))
        )
        at = sm.BASE_TIME + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
        ids = {"user_id": user, "anonymous_id": anon, "at": at, "message_id": f"msg-{i}"}
        if kind == "track":
            msg = sm.track(
                draw(st.sampled_from(["Clicked", "Order Completed", "Signed In"])), **ids
            )
        elif kind == "page":
            msg = sm.page(
                draw(st.sampled_from(["Home", "Pricing", None])),
                draw(st.sampled_from(["Docs", None])),
                **ids,
            )
        elif kind == "screen":
            msg = sm.screen(draw(st.sampled_from(["Feed", "Settings"])), **ids)
        elif kind == "identify":
            traits = draw(
                st.dictionaries(
                    st.sampled_from(["plan", "seats", "beta"]), st.integers(0, 3), max_size=3
                )
            )
            msg = sm.identify(traits, **ids)
        elif kind == "group":
            msg = sm.group(
                draw(st.sampled_from(["g1", "g2"])), {"tier": draw(st.integers(0, 2))}, **ids
            )
        elif kind == "alias" and user:
            mine = [a for a, owner in OWNER.items() if owner == user]
            msg = sm.alias(draw(st.sampled_from(mine)), user, at=at, message_id=f"msg-{i}")
        else:
            msg = sm.engage_audience_track(
                user or "u1", "power_users", draw(st.booleans()), at=at, message_id=f"msg-{i}"
            )
        out.append(msg)
    return out


def fresh_runtime(dynamodb) -> tuple[Runtime, str]:
    table = f"segment-usage-prop-{next(_tables)}"
    create_table(dynamodb, table)
    return Runtime(Settings.from_env({"SEGMENT_USAGE_TABLE": table}), dynamodb), table


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=messages(),
    copies=st.lists(st.integers(1, 3), min_size=14, max_size=14),
    seed=st.integers(0, 2**32 - 1),
    path=st.sampled_from(["direct", "eventbridge", "sqs"]),
    batch_size=st.integers(1, 10),
)
def test_redelivery_in_any_order_equals_delivering_once(
    dynamodb, batch, copies, seed, path, batch_size
) -> None:
    once, once_table = fresh_runtime(dynamodb)
    deliver(once, batch, "direct")

    redelivered = [m for m, n in zip(batch, copies, strict=False) for _ in range(n)]
    random.Random(seed).shuffle(redelivered)
    many, many_table = fresh_runtime(dynamodb)
    deliver(many, redelivered, path, batch=batch_size)

    readers = [*USERS, *ANONYMOUS]
    assert state(dynamodb, many_table, readers) == state(dynamodb, once_table, readers)
