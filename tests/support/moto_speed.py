"""moto's DynamoDB with the cost shape of DynamoDB's: a TransactWriteItems copies the table once
(not once per item), and a Query on the table looks at its own partition (not the whole table).

moto 5.x does both per request, over the whole table: it backs a transaction up for rollback by
deep-copying the table once for *every item* of the transaction (each copy overwriting the previous
one, all taken before any item is applied), and answers every Query by sorting every item of the
table before keeping the partition's. So on moto a request's time grows with everything the table
holds, which DynamoDB's does not: a test or bench that loads years of history would only measure
the emulator (and, with the handler's 2 s read timeout, see timeouts DynamoDB would not give).

``patch_moto_dynamodb_costs()`` changes neither answer:
- within one TransactWriteItems call, every copy of a table after the first returns that first
  copy: exactly the state moto restores today, in one copy;
- a Query on a table's key (no index) hands moto's own code only the items of the queried
  partition that meet its sort key condition, where it would list the whole table; moto then
  keeps the same items (it applies both conditions itself too).
"""

from __future__ import annotations

import copy
import functools
import threading
import types
from typing import Any

_local = threading.local()
_PATCHED = False


def _deepcopy(obj: Any, memo: Any = None) -> Any:
    from moto.dynamodb.models.table import Table

    cache = getattr(_local, "tables", None)
    if cache is None or not isinstance(obj, Table):
        return copy.deepcopy(obj, memo)
    if id(obj) not in cache:  # the table is kept in the cache too, so its id cannot be reused
        cache[id(obj)] = (obj, copy.deepcopy(obj, memo))
    return cache[id(obj)][1]


def patch_moto_dynamodb_costs() -> None:
    global _PATCHED
    if _PATCHED:
        return
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    models.copy = types.SimpleNamespace(deepcopy=_deepcopy, copy=copy.copy)  # type: ignore[attr-defined]
    transact = DynamoDBBackend.transact_write_items

    @functools.wraps(transact)
    def transact_write_items(self: Any, *args: Any, **kwargs: Any) -> Any:
        _local.tables = {}
        try:
            return transact(self, *args, **kwargs)
        finally:
            _local.tables = None

    query, all_items = Table.query, Table.all_items

    @functools.wraps(query)
    def table_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        indexed = kwargs.get("index_name") or (len(args) > 6 and args[6])
        if indexed or hash_key is None or not self.range_key_attr:
            return query(self, hash_key, *args, **kwargs)
        items = list(self.items.get(hash_key, {}).values())
        comparison, values = (args[0], args[1]) if len(args) > 1 else (None, None)
        if comparison == "BETWEEN" and all(v.type == "S" for v in values):
            low, high = values[0].value, values[1].value  # strings compare as DynamoDB's do
            items = [i for i in items if low <= i.range_key.value <= high]
        elif comparison:  # the sort key condition, as moto applies it to each item it lists
            items = [i for i in items if i.range_key.compare(comparison, values)]
        _local.partition = (self, items)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _local.partition = None

    @functools.wraps(all_items)
    def table_all_items(self: Any) -> Any:
        partition = getattr(_local, "partition", None)
        if partition is not None and partition[0] is self:
            return sorted(partition[1], key=lambda item: item.range_key)
        return all_items(self)

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.query = table_query  # type: ignore[method-assign]
    Table.all_items = table_all_items  # type: ignore[method-assign]
    _PATCHED = True
