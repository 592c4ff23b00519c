"""No hot key: with one page at 40% of traffic, write units spread over many items and partition
keys (the catalog is sharded), and the catalog still counts every message exactly once."""

from __future__ import annotations

import random
from collections import Counter

from support import segment_messages as sm
from support.delivery import deliver, state


def write_counter(client) -> Counter:
    """Write requests per partition key from now on (every item here is under 1 KB: 1 WCU each)."""
    per_pk: Counter = Counter()

    def hook(params, model, **_):
        if model.name in ("PutItem", "UpdateItem"):
            key = params.get("Item") or params.get("Key")
            per_pk[key["pk"]["S"]] += 1

    client.meta.events.register("before-parameter-build.dynamodb", hook)
    return per_pk


def mixed_stream(users: int, messages: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for n in range(messages):
        common = {
            "user_id": f"user-{rng.randrange(users):04d}",
            "message_id": f"m-{seed}-{n}-{rng.getrandbits(64):016x}",
        }
        if rng.random() < 0.4:
            out.append(sm.page("Home", **common))
        else:
            out.append(sm.track(f"Feature {min(int(rng.paretovariate(1.2)), 30)}", **common))
    return out


def test_direct_path_spreads_writes_with_one_page_at_40_percent(
    make_runtime, dynamodb, table
) -> None:
    runtime = make_runtime()
    per_pk = write_counter(dynamodb)
    messages = mixed_stream(users=200, messages=600)
    assert {r["status"] for r in deliver(runtime, messages)} == {"accepted"}
    total = sum(per_pk.values())
    assert total == 2 * len(messages)  # 2 WCU per new event: bucket + catalog shard
    hottest, writes = per_pk.most_common(1)[0]
    assert writes / total <= 0.01, (hottest, writes, total)
    catalog_keys = [pk for pk in per_pk if pk.startswith("CATALOG#")]
    assert len(catalog_keys) > 100  # page Home alone is spread over most of the 128 shards
    counts = {(e["type"], e["name"]): e["count"] for e in state(dynamodb, table, [])["catalog"]}
    assert counts[("page", "Home")] == sum(1 for m in messages if m["type"] == "page")
    assert sum(counts.values()) == len(messages)


def test_a_batch_adds_each_name_to_one_shard_item(make_runtime, dynamodb, table) -> None:
    runtime = make_runtime()
    per_pk = write_counter(dynamodb)
    messages = mixed_stream(users=50, messages=100, seed=8)
    names = {(m["type"], m.get("event") or m.get("name")) for m in messages}
    assert deliver(runtime, messages, path="sqs", batch=100) == [{"batchItemFailures": []}]
    catalog_writes = sum(n for pk, n in per_pk.items() if pk.startswith("CATALOG#"))
    assert catalog_writes == len(names)  # one UpdateItem per distinct name, not per message
    counts = {(e["type"], e["name"]): e["count"] for e in state(dynamodb, table, [])["catalog"]}
    assert sum(counts.values()) == 100 and set(counts) == names
    deliver(runtime, messages, path="sqs", batch=100)  # redelivered: counted once
    again = {(e["type"], e["name"]): e["count"] for e in state(dynamodb, table, [])["catalog"]}
    assert again == counts
