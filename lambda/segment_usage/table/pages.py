"""One pagination helper for every Query the package makes (DynamoDB returns at most 1 MB per
page and a ``LastEvaluatedKey`` while more remain)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def query_items(client: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Query (``kwargs`` as for ``client.query``), page after page, lazily."""
    while True:
        response = client.query(**kwargs)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": response["LastEvaluatedKey"]}
