"""Configuration Terraform writes into the table (pk ``CONFIG``): the tracking plan and the segment
definitions. Either can pass Lambda's 4 KB environment limit, so the item holds the text and the
function's environment only its sha256 (a new text changes the configuration, so containers reload).
Loading checks that the two agree, so a container never runs with half a deployment.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .keys import CONFIG_PK


def load_text(
    client: Any,
    table: str,
    sk: str,
    attribute: str,
    expected_sha256: str | None,
    what: str,
    error: type[Exception],
) -> str | None:
    """The text of item CONFIG/``sk`` (``attribute``), or None when there is none.

    ``expected_sha256`` comes from the function's environment (``what``, e.g.
    SEGMENT_USAGE_TRACKING_PLAN_SHA256): with it, a missing item or another hash raises ``error``
    naming the item and the variable (a deployment in progress, or an edit by hand).
    """
    got = client.get_item(
        TableName=table, Key={"pk": {"S": CONFIG_PK}, "sk": {"S": sk}}, ConsistentRead=True
    )
    item = got.get("Item")
    if item is None or attribute not in item:
        if expected_sha256:
            raise error(
                f"item pk={CONFIG_PK} sk={sk} is missing from table {table}; {what} says one "
                "was deployed"
            )
        return None
    text = item[attribute]["S"]
    found = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if expected_sha256 and found != expected_sha256.lower():
        raise error(
            f"item pk={CONFIG_PK} sk={sk}: its sha256 {found[:12]}... does not match {what} "
            f"{expected_sha256[:12]}... (a deployment is in progress, or it was edited by hand)"
        )
    return text
