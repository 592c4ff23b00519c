"""Identity rules for links (Segment Unify's identity resolution: a limit per identifier type,
blocked values that never merge). Anyone with the public write key can send any
``{userId, anonymousId}`` pair, so a link must never let one user's view absorb another's:

- userIds and anonymousIds live in separate key spaces (``U#``/``A#``, ``table/keys.py``), and a
  link only ever points from a user's profile to an anonymous partition, which links nothing;
- an anonymousId links to at most ``max_users`` userIds (default 1): the first to claim it keeps
  it. The claim is one conditional UpdateItem of the anonymous partition's ``OWNERS`` item (a
  string set), idempotent, so a retry claims nothing twice;
- blocked values never link (``ingest/messages.identity``).

A refused link does not reject the message: it is recorded for its own user, without the link,
and the refusal is kept (kind ``identity``) where ``segment-usage rejected`` lists it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from botocore.exceptions import ClientError

from ..ingest.messages import Message
from ..table.keys import OWNERS_SK, anonymous_pk
from ..table.store import is_condition_failure
from .retention import ttl_update

CLAIMED_CACHE = 4096  # (anonymousId, userId) pairs this container already claimed


class IdentityRules:
    """Claims anonymous ids for users before their links are recorded."""

    def __init__(self, store: Any, max_users: int = 1) -> None:
        self.store = store
        self.max_users = max_users
        self._claimed: OrderedDict[tuple[str, str], None] = OrderedDict()

    def claim(self, messages: list[Message]) -> dict[int, str]:
        """Claim every link ``messages`` would make; message index -> why its link is refused
        (the link is then dropped from the message). Raises an AWS error when a claim could not
        be decided (transient: the caller reports those messages failed)."""
        refused: dict[int, str] = {}
        decided: dict[tuple[str, str], str | None] = {}
        for i, message in enumerate(messages):
            if not message.link_from or not message.user_id:
                continue
            pair = (message.link_from, message.user_id)
            if pair not in decided:
                decided[pair] = self._claim(*pair)
            if decided[pair] is not None:
                refused[i] = decided[pair] or ""
                message.link_from = None
        return refused

    def _claim(self, anonymous_id: str, user_id: str) -> str | None:
        if (anonymous_id, user_id) in self._claimed:
            return None
        ttl_clause, ttl_names, ttl_values = ttl_update(self.store.expires_at())
        try:
            self.store.client.update_item(
                TableName=self.store.table,
                Key={"pk": {"S": anonymous_pk(anonymous_id)}, "sk": {"S": OWNERS_SK}},
                UpdateExpression="ADD #o :u" + ttl_clause,
                ConditionExpression=(
                    "attribute_not_exists(#o) OR contains(#o, :id) OR size(#o) < :n"
                ),
                ExpressionAttributeNames={"#o": "owners", **ttl_names},
                ExpressionAttributeValues={
                    ":u": {"SS": [user_id]},
                    ":id": {"S": user_id},
                    ":n": {"N": str(self.max_users)},
                    **ttl_values,
                },
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            return (
                f"identity: this anonymousId is already linked to {self.max_users} other "
                f"userId{'s' if self.max_users > 1 else ''} (the limit): not linked, so neither "
                "user's view takes the other's data; the message is recorded for its own userId"
            )
        self._claimed[(anonymous_id, user_id)] = None
        if len(self._claimed) > CLAIMED_CACHE:
            self._claimed.popitem(last=False)
        return None
