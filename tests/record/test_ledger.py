"""Day buckets, pure: every write stays within 1 KB (1 WCU) by DynamoDB's documented size rules."""

from __future__ import annotations

import random
from datetime import timedelta

from segment_usage.ingest.messages import Message
from segment_usage.ingest.trackers import Trackers, snake_case
from segment_usage.record.ledger import plan_day
from segment_usage.table.buckets import Bucket
from segment_usage.table.item_size import item_size, number_size, value_size, write_units
from segment_usage.table.keys import MAX_ID_BYTES, user_pk
from support import segment_messages as sm


def test_documented_size_rules() -> None:
    assert number_size("1700000000123") == 8  # 13 significant digits -> 7 bytes + 1
    assert number_size("1000") == 2 and number_size("0") == 2
    assert value_size({"S": "héllo"}) == 6
    assert value_size({"L": [{"N": "1"}, {"S": "ab"}]}) == 3 + (1 + 2) + (1 + 2)
    assert item_size({"pk": {"S": "U#1"}, "flag": {"BOOL": True}}) == 2 + 3 + 4 + 1
    assert write_units(100, 1024) == 1 and write_units(1025, 10) == 2
    assert write_units(10, 10, transactional=True) == 2


def apply(buckets: dict[str, Bucket], plan) -> list[int]:
    """Store a plan's writes in memory; returns the WCU of each write."""
    costs = []
    for write in plan.writes:
        before = item_size(write.before.to_item()) if write.before else 0
        stored = Bucket.from_item(write.after.to_item(write.after.version + 1))
        costs.append(write_units(before, item_size(stored.to_item())))
        buckets[stored.sk] = stored
    return costs


def worst_case_message(i: int, pk_id: str) -> Message:
    """Longest trait names, a new trait every time, a user id at the hashing threshold."""
    event = f"{'x' * 150} {i}"
    msg = sm.track(
        event, user_id=pk_id, at=sm.BASE_TIME + timedelta(seconds=i * 7), message_id=f"m-{i}" * 20
    )
    return Message.from_valid(msg, Trackers(None))


def test_every_write_is_one_wcu_even_in_the_worst_case() -> None:
    user = "u" * MAX_ID_BYTES
    buckets: dict[str, Bucket] = {}
    costs = []
    for i in range(400):
        message = worst_case_message(i, user)
        assert len(snake_case(f"{'x' * 150} {i}")) <= 100
        costs += apply(buckets, plan_day(user_pk(user), message.day, buckets.values(), [message]))
    assert set(costs) == {1}
    assert max(item_size(b.to_item()) for b in buckets.values()) <= 1024
    assert sum(len(b.hashes) for b in buckets.values()) == 400


def test_batches_write_each_bucket_once_and_within_one_kb() -> None:
    rng = random.Random(3)
    buckets: dict[str, Bucket] = {}
    messages = [
        Message.from_valid(sm.track(rng.choice(["A", "B", "C"]), user_id="u1"), Trackers(None))
        for _ in range(300)
    ]
    for start in range(0, 300, 100):
        plan = plan_day(
            user_pk("u1"), messages[0].day, buckets.values(), messages[start : start + 100]
        )
        assert len({w.after.sk for w in plan.writes}) == len(plan.writes)  # one write per item
        assert len(plan.writes) < 20  # round trips per distinct item, not per event
        assert set(apply(buckets, plan)) == {1}
    plan = plan_day(user_pk("u1"), messages[0].day, buckets.values(), messages)
    assert plan.writes == [] and len(plan.duplicates) == 300


def test_remove_undoes_add() -> None:
    message = Message.from_valid(sm.track("A", user_id="u1"), Trackers(None))
    bucket = Bucket(pk="U#u1", day=message.day, shard=0, index=0)
    before = bucket.to_item()
    bucket.add(message)
    bucket.remove(message)
    assert bucket.to_item() == before


def test_fast_size_equals_documented_size() -> None:
    rng = random.Random(5)
    bucket = Bucket(pk=user_pk("ü" * 50), day="2026-11-20", shard=3, index=12, version=99)
    for i in range(60):
        msg = sm.track(rng.choice(["A", "Bé", "c" * 90]), user_id="u", message_id=f"m{i}")
        bucket.add(Message.from_valid(msg, Trackers(None)))
        assert bucket.size() == item_size(bucket.to_item(bucket.version + 1))


def test_one_message_fast_path_decides_exactly_as_the_batch_planner() -> None:
    """plan_day takes a shortcut for one message (the direct path): same writes, same duplicates,
    whatever the chains hold (full buckets, several per chain, closed ones)."""
    rng = random.Random(10)
    trackers = Trackers.parse(None)
    for _ in range(60):
        buckets: dict[str, Bucket] = {}
        seen: list[Message] = []
        for i in range(rng.randint(1, 160)):
            if seen and rng.random() < 0.2:
                message = rng.choice(seen)  # a redelivery
            else:
                name = f"Event {rng.randint(0, 30)} {'y' * rng.randint(0, 90)}"
                message = Message.from_valid(sm.track(name, user_id="u1"), trackers)
                seen.append(message)
            if rng.random() < 0.05 and buckets:
                rng.choice(list(buckets.values())).closed = True
            fast = plan_day("U#u1", "2026-11-20", list(buckets.values()), [message])
            slow = plan_day("U#u1", "2026-11-20", tuple(buckets.values()), (message,))
            assert [(w.after.sk, w.before is None, w.after.to_item()) for w in fast.writes] == [
                (w.after.sk, w.before is None, w.after.to_item()) for w in slow.writes
            ], i
            assert fast.duplicates == slow.duplicates
            apply(buckets, fast)
