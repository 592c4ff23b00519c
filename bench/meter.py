"""Every DynamoDB request a real boto3 client makes, and what each write costs by AWS's rules.

Hooks are registered on the client's own event system (no fake client): ``before-parameter-build``
sees the request parameters, ``after-call`` sees the outcome. For every item a write touches, the
item's size after the call is that of the item a PutItem sent, or else read back from moto
(through a separate, unhooked client); its size before is the one recorded after the previous
write to it (a shadow of the table's item sizes: the bench's tables start empty and only metered
clients write to them; for a table that did not start empty, the item is read before the call).
The write costs ``write_units(before, after)`` (x2 in a transaction). A conditional write that
fails still costs, by the larger of the existing item and the item it would have written (AWS's
"read and write operations" page); for a failed UpdateItem, whose would-be item is unknown, the
existing item's size is used.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from segment_usage.table.item_size import item_size, write_units

WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@dataclass
class Target:
    table: str
    key: dict[str, Any]
    proposed: dict[str, Any] | None  # the full item a put would write
    transactional: bool
    before: int = 0


@dataclass
class Invocation:
    events: int
    label: str = ""  # e.g. the call type, on the direct path
    requests: int = 0
    wcu: int = 0
    write_requests: int = 0
    items_written: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Phase:
    requests: Counter = field(default_factory=Counter)  # operation -> requests
    wcu: Counter = field(default_factory=Counter)  # operation -> WCU
    failed_conditions: int = 0

    @property
    def write_requests(self) -> int:
        return sum(n for op, n in self.requests.items() if op in WRITE_OPS)

    @property
    def total_wcu(self) -> int:
        return sum(self.wcu.values())


class WriteMeter:
    def __init__(self, client: Any, probe: Any, fresh_tables: bool = True) -> None:
        self.probe = probe
        self.fresh_tables = fresh_tables
        self._sizes: dict[tuple[str, str], int] = {}  # (table, key) -> item size after last write
        self.phases: dict[str, Phase] = defaultdict(Phase)
        self.phase = "setup"
        self.invocations: list[Invocation] = []
        self._current: Invocation | None = None
        self._key_names: dict[str, list[str]] = {}
        self.wcu_by_item: Counter = Counter()  # (table, key) -> WCU, every phase
        self.wcu_by_pk: Counter = Counter()  # (table, partition key value) -> WCU
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    # -- invocation bookkeeping --------------------------------------------------------------
    def begin(self, events: int, label: str = "") -> None:
        self._current = Invocation(events, label)

    def end(self) -> None:
        if self._current is not None:
            self.invocations.append(self._current)
        self._current = None

    # -- hooks -------------------------------------------------------------------------------
    def _before(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        op = model.name
        targets = self._targets(op, params)
        for target in targets:
            known = self._sizes.get(self._id(target))
            if known is None:
                known = 0 if self.fresh_tables else self._read_size(target.table, target.key)
            target.before = known
        context["bench_meter"] = (op, targets)

    def _after(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        op, targets = context.pop("bench_meter", (None, []))
        if op is None:
            return
        phase = self.phases[self.phase]
        phase.requests[op] += 1
        if self._current is not None:
            self._current.requests += 1
            if op in WRITE_OPS:
                self._current.write_requests += 1
        failed = http_response.status_code >= 300
        code = parsed.get("Error", {}).get("Code", "")
        if failed and code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            phase.failed_conditions += 1
        elif failed:
            return  # throttling, validation...: nothing was written
        for target in targets:
            if failed:  # nothing changed; billed by the larger of the stored and proposed item
                after = item_size(target.proposed) if target.proposed else target.before
            else:
                if target.proposed is not None and op != "TransactWriteItems":
                    after = item_size(target.proposed)
                else:
                    after = self._read_size(target.table, target.key)
                self._sizes[self._id(target)] = after
            units = write_units(target.before, after, target.transactional)
            phase.wcu[op] += units
            self.wcu_by_item[self._id(target)] += units
            partition = target.key.get("pk") or next(iter(target.key.values()))
            self.wcu_by_pk[(target.table, repr(partition))] += units
            if self._current is not None:
                self._current.wcu += units
                self._current.items_written.add(self._id(target))

    # -- helpers -----------------------------------------------------------------------------
    def _targets(self, op: str, params: dict[str, Any]) -> list[Target]:
        if op == "PutItem":
            table = params["TableName"]
            return [Target(table, self._key(table, params["Item"]), params["Item"], False)]
        if op in ("UpdateItem", "DeleteItem"):
            return [Target(params["TableName"], params["Key"], None, False)]
        if op == "BatchWriteItem":
            out = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        out.append(Target(table, self._key(table, item), item, False))
                    else:
                        out.append(Target(table, request["DeleteRequest"]["Key"], None, False))
            return out
        if op == "TransactWriteItems":
            out = []
            for action in params["TransactItems"]:
                ((kind, body),) = action.items()
                table = body["TableName"]
                if kind == "Put":
                    out.append(Target(table, self._key(table, body["Item"]), body["Item"], True))
                else:  # Update, Delete, ConditionCheck: all billed as transactional writes
                    out.append(Target(table, body["Key"], None, True))
            return out
        return []

    def _key(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        if table not in self._key_names:
            schema = self.probe.describe_table(TableName=table)["Table"]["KeySchema"]
            self._key_names[table] = [k["AttributeName"] for k in schema]
        return {name: item[name] for name in self._key_names[table]}

    @staticmethod
    def _id(target: Target) -> tuple[str, str]:
        return target.table, repr(sorted((k, sorted(v.items())) for k, v in target.key.items()))

    def _read_size(self, table: str, key: dict[str, Any]) -> int:
        response = self.probe.get_item(TableName=table, Key=key, ConsistentRead=True)
        return item_size(response.get("Item"))


def keeping_environ(measure: Callable[..., Any], *args: Any) -> Any:
    """``measure(*args)`` with ``os.environ`` restored afterwards, so the fake credentials and
    endpoints a section sets for its own moto stay local to it (sections run in one process)."""
    saved = dict(os.environ)
    try:
        return measure(*args)
    finally:
        os.environ.clear()
        os.environ.update(saved)
