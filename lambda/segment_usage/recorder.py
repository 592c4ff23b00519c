"""Record valid messages exactly once: the order of writes that makes retries safe.

1. Idempotent effects first (identify traits, groups, links): re-applying them changes nothing.
2. The day-bucket commit: the messageId digest and the usage counts in one conditional write.
   This is the exactly-once point; a message whose digest is already there is a duplicate.
3. The event catalog (ADD, not idempotent), only for messages step 2 newly recorded. If it fails,
   those messages are taken back out of their buckets and reported failed, so a retry redoes both.

Any AWS error other than a lost optimistic-lock race is transient for the caller: the messages it
touched are reported failed (SQS: batchItemFailures; direct and EventBridge: the invocation raises).
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import profiles
from .keys import CATALOG_PK, catalog_sk, user_pk
from .ledger import plan_day
from .messages import Message
from .store import Store

logger = logging.getLogger(__name__)
AWS_ERRORS = (ClientError, BotoCoreError)
MAX_RACES = 10  # optimistic-lock retries per item before giving up (reported as failed)


def _back_off(attempt: int) -> None:
    """Full-jitter pause after a lost race, so racing writers spread out (at most ~1 s in all)."""
    if attempt:
        time.sleep(random.uniform(0, min(0.16, 0.01 * 2**attempt)))


class LostRace(RuntimeError):
    """Another writer kept winning the conditional write; the caller should retry later."""


@dataclass
class Outcome:
    status: str  # "accepted" | "duplicate" | "failed"
    error: str | None = None


def _error_text(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"DynamoDB {error.operation_name}: {error.response['Error'].get('Code')}"
    return f"{type(error).__name__}: {error}"


class Recorder:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.drift_events = 0  # catalog counts that could not be made right (see README)

    def record(self, messages: list[Message]) -> list[Outcome]:
        """Outcomes in the order of ``messages`` (the same messageId may appear more than once)."""
        outcomes: list[Outcome | None] = [None] * len(messages)
        self._apply_effects(messages, outcomes)
        buckets_of = self._commit_days(messages, outcomes)
        self._count_in_catalog(messages, outcomes, buckets_of)
        return [o or Outcome("failed", "not processed") for o in outcomes]

    # -- step 1 ------------------------------------------------------------------------------
    def _apply_effects(self, messages: list[Message], outcomes: list[Outcome | None]) -> None:
        by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, message in enumerate(messages):
            for key in profiles.effect_keys(message):
                by_key[key].append(i)
        if not by_key:
            return
        try:
            stored = self.store.batch_get(by_key)
        except AWS_ERRORS as error:
            for indexes in by_key.values():
                for i in indexes:
                    outcomes[i] = Outcome("failed", _error_text(error))
            return
        for key, indexes in by_key.items():
            item = stored.get(key)
            try:
                for attempt in range(MAX_RACES):
                    _back_off(attempt)
                    new = profiles.apply(key, item, [messages[i] for i in indexes])
                    if new is None or self.store.put_versioned(new, profiles.version(item)):
                        break
                    item = self.store.get(*key)
                else:
                    raise LostRace(f"{key[1]}: lost {MAX_RACES} optimistic-lock races")
            except (*AWS_ERRORS, LostRace) as error:
                for i in indexes:
                    outcomes[i] = Outcome("failed", _error_text(error))

    # -- step 2 ------------------------------------------------------------------------------
    def _commit_days(
        self, messages: list[Message], outcomes: list[Outcome | None]
    ) -> dict[int, tuple[str, str, str]]:
        """Commit each user-day; returns message index -> (pk, day, bucket sk) it landed in."""
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, message in enumerate(messages):
            if outcomes[i] is None:
                groups[(user_pk(message.subject), message.day)].append(i)
        landed: dict[int, tuple[str, str, str]] = {}
        for (pk, day), indexes in groups.items():
            try:
                self._commit_day(pk, day, messages, indexes, outcomes, landed)
            except (*AWS_ERRORS, LostRace) as error:
                for i in indexes:
                    if outcomes[i] is None:
                        outcomes[i] = Outcome("failed", _error_text(error))
        return landed

    def _commit_day(
        self,
        pk: str,
        day: str,
        messages: list[Message],
        indexes: list[int],
        outcomes: list[Outcome | None],
        landed: dict[int, tuple[str, str, str]],
    ) -> None:
        """Commit one user-day, filling ``outcomes`` and ``landed`` as each bucket write lands."""
        pending = list(indexes)
        for attempt in range(MAX_RACES):
            _back_off(attempt)
            plan = plan_day(
                pk, day, self.store.day_buckets(pk, day), [messages[i] for i in pending]
            )
            position = {id(messages[i]): i for i in pending}
            for write in plan.writes:
                expected = write.before.version if write.before else 0
                if not self.store.put_bucket(write.after, expected):
                    break  # another writer changed this user-day: re-read and re-plan the rest
                for message in write.messages:  # recorded now, whatever happens next
                    i = position[id(message)]
                    outcomes[i] = Outcome("accepted")
                    landed[i] = (pk, day, write.after.sk)
            for message in plan.duplicates:
                outcomes[position[id(message)]] = Outcome("duplicate")
            still = [i for i in pending if outcomes[i] is None]
            if not still:
                return
            pending = still
        raise LostRace(f"{pk} {day}: lost {MAX_RACES} optimistic-lock races")

    # -- step 3 ------------------------------------------------------------------------------
    def _count_in_catalog(
        self,
        messages: list[Message],
        outcomes: list[Outcome | None],
        landed: dict[int, tuple[str, str, str]],
    ) -> None:
        by_name: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i in landed:
            if messages[i].catalog is not None:
                by_name[messages[i].catalog].append(i)
        if not by_name:
            return
        keys = {name: (CATALOG_PK, catalog_sk(*name)) for name in by_name}
        try:
            known = self.store.batch_get(keys.values(), consistent=False)
        except AWS_ERRORS:
            known = {}  # only an optimisation: add_to_catalog is still correct without it
        failed: list[int] = []
        for name, indexes in by_name.items():
            newest = max(messages[i].ts_ms for i in indexes)
            item = known.get(keys[name])
            last = int(item["last_seen_ms"]["N"]) if item and "last_seen_ms" in item else -1
            attributes: dict[str, Any] = {"type": {"S": name[0]}, "name": {"S": name[1]}}
            trait = messages[indexes[0]].usage_trait
            if trait:
                attributes["trait"] = {"S": trait}
            try:
                self.store.add_to_catalog(
                    keys[name], len(indexes), newest, attributes, newest > last
                )
            except AWS_ERRORS as error:
                for i in indexes:
                    outcomes[i] = Outcome("failed", f"event catalog: {_error_text(error)}")
                failed += indexes
        if failed:
            self._take_back(messages, failed, landed)

    def _take_back(
        self, messages: list[Message], indexes: list[int], landed: dict[int, tuple[str, str, str]]
    ) -> None:
        """Remove messages from their buckets so that their retry is not taken for a duplicate."""
        by_bucket: dict[tuple[str, str, str], list[Message]] = defaultdict(list)
        for i in indexes:
            by_bucket[landed[i]].append(messages[i])
        for (pk, day, sk), taken in by_bucket.items():
            try:
                for attempt in range(MAX_RACES):
                    _back_off(attempt)
                    bucket = next(b for b in self.store.day_buckets(pk, day) if b.sk == sk)
                    after = bucket.copy()
                    for message in taken:
                        after.remove(message)
                    if self.store.put_bucket(after, bucket.version):
                        break
                else:
                    raise LostRace("lost every race while taking messages back")
            except (*AWS_ERRORS, LostRace, StopIteration) as error:
                # Usage stays recorded; the catalog misses these messages. Logged, ids only.
                self.drift_events += len(taken)
                logger.error(
                    "catalog drift: could not take back %d message(s) from %s %s: %s",
                    len(taken),
                    pk.split("#", 1)[0],
                    day,
                    _error_text(error) if not isinstance(error, StopIteration) else "bucket gone",
                )
