"""The event catalog: every event, page and screen name seen, with its count and last time.

Item shape (pk ``CATALOG#NNN``, sk ``<type>#<name>``): ``count`` (N, added to), ``last_seen_ms``,
``type``, ``name`` and ``trait`` (the default usage trait of that name). Each name is spread over
``keys.CATALOG_SHARDS`` partition keys so that no key takes more than ~1% of writes (a page that is
40% of traffic would otherwise make one item hot: DynamoDB serves one partition key at ~1,000
WCU/s); readers sum the shards.
"""

from __future__ import annotations

from typing import Any

from .keys import CATALOG_PK, CATALOG_SHARDS, catalog_pk, catalog_sk
from .pages import query_items

ADVANCE = "advance"  # move last_seen_ms forward, on a condition (fails if it is already later)
IF_MISSING = "if_missing"  # set last_seen_ms only on a new item (late messages are older)


def catalog_update(
    pk: str, call_type: str, name: str, count: int, ts_ms: int, trait: str | None, last_seen: str
) -> dict[str, Any]:
    """The UpdateItem arguments (without ``TableName``) that add ``count`` messages of one name.

    ``last_seen``: ``ADVANCE`` (conditional: raises ConditionalCheckFailed when the stored time
    is already later; retry with ``IF_MISSING``) or ``IF_MISSING``. The same arguments serve
    ``update_item`` and a ``TransactWriteItems`` Update entry.
    """
    names = {"#c": "count", "#type": "type", "#name": "name", "#l": "last_seen_ms"}
    values: dict[str, Any] = {
        ":n": {"N": str(count)},
        ":t": {"S": call_type},
        ":m": {"S": name},
        ":ts": {"N": str(ts_ms)},
    }
    sets = ["#type = :t", "#name = :m"]
    if trait:
        sets.append("#trait = :tr")
        names["#trait"] = "trait"
        values[":tr"] = {"S": trait}
    update: dict[str, Any] = {
        "Key": {"pk": {"S": pk}, "sk": {"S": catalog_sk(call_type, name)}},
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if last_seen == ADVANCE:
        sets.append("#l = :ts")
        update["ConditionExpression"] = "attribute_not_exists(#l) OR #l < :ts"
    else:
        sets.append("#l = if_not_exists(#l, :ts)")
    update["UpdateExpression"] = f"ADD #c :n SET {', '.join(sets)}"
    return update


def list_events(client: Any, table: str) -> list[dict[str, Any]]:
    """Every name in the catalog, most frequent first: ``{type, name, count, last_seen_ms,
    trait}``. One Query per shard, 16 at a time, plus the unsharded ``CATALOG`` of v0.1."""
    from concurrent.futures import ThreadPoolExecutor  # operator commands only, not the handler

    pks = [CATALOG_PK, *(catalog_pk(shard) for shard in range(CATALOG_SHARDS))]

    def shard(pk: str) -> list[dict[str, Any]]:
        return list(
            query_items(
                client,
                TableName=table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
            )
        )

    with ThreadPoolExecutor(16) as pool:
        pages = list(pool.map(shard, pks))
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for item in (item for page in pages for item in page):
        key = (item["type"]["S"], item["name"]["S"])
        row = merged.setdefault(
            key, {"type": key[0], "name": key[1], "count": 0, "last_seen_ms": None, "trait": None}
        )
        row["count"] += int(item["count"]["N"])
        if "last_seen_ms" in item:
            row["last_seen_ms"] = max(row["last_seen_ms"] or 0, int(item["last_seen_ms"]["N"]))
        if "trait" in item:
            row["trait"] = item["trait"]["S"]
    return sorted(merged.values(), key=lambda r: (-r["count"], r["type"], r["name"]))
