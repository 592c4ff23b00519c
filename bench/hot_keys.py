"""Hot keys: how write units spread over items and partition keys for many users (issue 10).

1,000 users send 3,000 messages, page Home being 40% of them (``workload.build_hot``), through the
direct path (one message per invocation) and the batched path (SQS x100), metered per item and
per partition key. DynamoDB serves one item or partition key at ~1,000 WCU/s whatever the table's
capacity, so the modeled ceiling of the deployment is
    1,000 WCU/s / (hottest partition key's share of write units x WCU per event)
(the hottest partition key's share is at least the hottest item's).

The ``flood`` path (issue 17) models an attacker with the public write key: every message is
invalid against the Segment Spec (a track without ``event``, from many senders), one per direct
invocation; each is kept as a rejection, spread over ``table.rejected.SHARDS`` partition keys.
The modeled flood is ``FLOOD_PER_S`` invalid messages a second: the hottest key then takes
``FLOOD_PER_S x WCU per message x hottest key share`` WCU/s, against the 1,000 a key can take.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

import writer_today  # noqa: F401  (pins the writer's today: see that module)

PARTITION_WCU_PER_S = 1000
FLOOD_PER_S = 5000  # invalid messages a second in the modeled flood (issue 17)


def flood(work: Any) -> list[dict[str, Any]]:
    """The workload's messages made invalid as an attacker would send them: a track without its
    ``event`` (required by the Segment Spec), each delivery its own messageId and receivedAt."""
    out = []
    for message in work.messages:
        bad = json.loads(json.dumps(message))
        bad["type"] = "track"
        bad.pop("event", None)
        bad.pop("name", None)
        out.append(bad)
    return out


def run_isolated(path: str, users: int, messages: int) -> dict[str, Any]:
    """Entry point for a worker process: its own moto, in process."""
    import logging

    from moto import mock_aws

    import workload as wl
    from lambda_context import LambdaContext
    from meter import WriteMeter
    from segment_usage.handler import Runtime
    from segment_usage.read.view import Reader
    from segment_usage.settings import Settings
    from support import segment_messages as sm
    from support.moto_server import FAKE_CREDENTIALS, boto3_client
    from support.tables import create_table

    logging.getLogger("segment_usage").setLevel(logging.CRITICAL)
    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    work = wl.build_hot(users=users, messages=messages)
    started = time.perf_counter()
    with mock_aws():
        probe = boto3_client("dynamodb", None)
        client = boto3_client("dynamodb", None)
        table = f"bench-hot-{path}"
        create_table(probe, table)
        meter = WriteMeter(client, probe)
        runtime = Runtime(Settings.from_env({"SEGMENT_USAGE_TABLE": table}), client)
        meter.phase = "new"
        failed = 0
        if path == "flood":
            payloads = [(1, m) for m in flood(work)]
        elif path == "direct":
            payloads = [(1, json.loads(json.dumps(m))) for m in work.messages]
        else:
            payloads = [
                (len(chunk), sm.sqs_event([sm.eventbridge_event(m) for m in chunk]))
                for chunk in (work.messages[i : i + 100] for i in range(0, len(work.messages), 100))
            ]
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for events, payload in payloads:
                meter.begin(events)
                try:
                    response = runtime.handle(payload, LambdaContext())
                    failed += len(response.get("batchItemFailures", []))
                except Exception:
                    failed += events
                meter.end()
        catalog = {(e["type"], e["name"]): e["count"] for e in Reader(probe, table).events()}
        kept = len(Reader(probe, table).rejected()) if path == "flood" else None
    expected_catalog: dict[tuple[str, str], int] = {}
    for (_, call_type, name), count in work.expected.items():
        key = (call_type, name)
        expected_catalog[key] = expected_catalog.get(key, 0) + count
    total = sum(meter.wcu_by_item.values())
    ((hot_item, item_wcu),) = meter.wcu_by_item.most_common(1)
    ((hot_pk, pk_wcu),) = meter.wcu_by_pk.most_common(1)
    n = len(work.messages)
    wcu_per_event = total / n
    pk_share = pk_wcu / total
    item_share = item_wcu / total
    invocations = meter.invocations
    return {
        "path": path,
        "users": users,
        "messages": n,
        "hot_page_share": sum(
            1 for m in work.messages if m["type"] == "page" and m.get("name") == "Home"
        )
        / n,
        "wcu_total": total,
        "wcu_per_event": wcu_per_event,
        "hottest_item": hot_item[1],
        "hottest_item_share": item_share,
        "hottest_pk": hot_pk[1],
        "hottest_pk_share": pk_share,
        "distinct_items_written": len(meter.wcu_by_item),
        "distinct_pks_written": len(meter.wcu_by_pk),
        "ceiling_events_per_s": PARTITION_WCU_PER_S / (pk_share * wcu_per_event),
        "round_trips_per_event": sum(i.requests for i in invocations) / n,
        "failed_events": failed,
        "catalog_exact": catalog == expected_catalog if path != "flood" else None,
        "kept": kept,
        "flood_hot_key_wcu_per_s": FLOOD_PER_S * wcu_per_event * pk_share,
        "seconds": round(time.perf_counter() - started, 1),
    }
