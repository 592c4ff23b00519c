"""The one processing call: ``Processor.process(event)`` turns whatever reached a function (a raw
Segment message, an EventBridge event, an SQS batch, a JSON array) into one outcome per candidate
message. The Lambda handler, ``segment-usage replay`` and ``segment-usage redrive`` all call it.

Per message, in order: unwrap the envelope, ``ingest.check`` it, record what is recordable
(``record.recorder``), keep what is not on the rejected list (``table.rejected``) and, on the direct
and EventBridge paths, hand off to the buffer queue what failed for a transient reason
(``record.handoff``). Everything expensive is built once per container, in ``__init__``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .ingest.check import Policy, check
from .ingest.envelopes import ANY, EVENTBRIDGE, SQS, Accept, Incoming, unwrap
from .ingest.spec import spec_validators
from .ingest.trackers import Trackers
from .ingest.tracking_plan import TrackingPlan, TrackingPlanError, load_plan
from .record.erasure import Eraser
from .record.handoff import Handoff
from .record.identity import IdentityRules
from .record.recorder import Recorder
from .settings import INGEST_DYNAMODB, TRACKERS, ConfigError, Settings, aws_client
from .table import suppression
from .table.errors import AWS_ERRORS, error_text
from .table.rejected import IDENTITY, WARNING, rejection_items
from .table.store import Store

# Statuses of an Outcome.
ACCEPTED, DUPLICATE, REJECTED, FAILED, BUFFERED = (
    "accepted",
    "duplicate",
    "rejected",
    "failed",
    "buffered",
)
SUPPRESSED = "suppressed"  # for a person whose data was erased: dropped and counted
ERASED = "erased"  # a delete message: the person's data removed (record/erasure.py)


@dataclass(slots=True)
class Outcome:
    """What became of one candidate message.

    ``status``: accepted | duplicate | rejected (kept on the rejected list, or only reported when
    keeping is off) | failed (transient: retry) | buffered (handed off to the buffer queue).
    ``kind`` names the rejection (``table.rejected.KINDS``); ``errors`` say why, as field paths
    and rules (``properties.revenue: 'x' is not of type 'number'``).
    """

    status: str
    errors: list[str] = field(default_factory=list)
    kind: str | None = None


def _is_delete(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("type") == "delete"


@dataclass(slots=True)
class Processed:
    """``process``'s answer: the path the event came by, its candidates and their outcomes, in
    the same order."""

    path: str  # direct | eventbridge | sqs
    items: list[Incoming]
    outcomes: list[Outcome]
    plan_failed: list[bool] = field(default_factory=list)  # the plan could not be applied


class Processor:
    """The per-container state of the ingest functions: settings, store, plan, trackers."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.settings = settings
        self.store = Store(
            client or aws_client("dynamodb", INGEST_DYNAMODB),
            settings.table,
            expire_after_days=settings.data_retention_days,
        )
        try:
            self.trackers = Trackers.parse(settings.trackers)
        except ValueError as exc:
            raise ConfigError(f"{TRACKERS}: {exc}") from exc
        self.recorder = Recorder(self.store)
        self.identity = IdentityRules(self.store, settings.max_users_per_anonymous_id)
        self.suppression_key: bytes | None = None
        self._key_loaded_at = 0.0
        self._load_suppression_key()
        self.plan: TrackingPlan | None = None
        self.plan_problem: str | None = None  # why the plan could not be loaded, if it could not
        self._plan_loaded_at = 0.0
        self._load_plan()
        self.handoff = Handoff(settings.buffer_queue_url)  # its SQS client is made on first use
        spec_validators()

    def process(
        self,
        event: Any,
        keep_rejected: bool = True,
        hand_off: bool = True,
        accept: Accept = ANY,
    ) -> Processed:
        """Outcomes of every candidate in ``event``, among the envelopes ``accept`` allows.

        ``keep_rejected`` False reports rejections without keeping them (a replay of what is kept
        already); ``hand_off`` False never uses the buffer queue (operator commands report
        failures instead). Raises nothing for a message's fault; AWS errors become outcomes.
        """
        if self.plan_problem and time.monotonic() - self._plan_loaded_at > self.PLAN_RETRY_SECONDS:
            self._load_plan()
        if (
            self.suppression_key is None
            and time.monotonic() - self._key_loaded_at > self.KEY_RETRY_SECONDS
        ):
            self._load_suppression_key()
        path, items = unwrap(event, accept)
        now_ms = int(time.time() * 1000)
        outcomes: list[Outcome | None] = [None] * len(items)
        plan_failed = [False] * len(items)
        valid: list[int] = []
        messages = []
        try:
            for i in self._suppressed(items):  # erased people: not recorded, not even kept
                outcomes[i] = Outcome(SUPPRESSED)
        except AWS_ERRORS as error:  # undecided: retried like any transient failure
            outcomes = [Outcome(FAILED, [f"suppression check: {error_text(error)}"])] * len(items)
        for i, item in enumerate(items):
            if outcomes[i] is not None:
                continue
            if self.settings.delete_messages and _is_delete(item.payload) and not item.error:
                outcomes[i] = self._erase(item.payload)
                continue
            checked = check(item, self.policy, now_ms)
            plan_failed[i] = checked.plan_failed
            if checked.message is None:
                outcomes[i] = self._keep(item, checked.kind, checked.errors, keep_rejected)
                continue
            if checked.warnings:  # recorded, and the warnings kept beside it
                kept = self._keep(item, WARNING, checked.warnings, True)
                if kept.status == FAILED:
                    outcomes[i] = kept
                    continue
            valid.append(i)
            messages.append(checked.message)
        try:
            refused = self.identity.claim(messages)
        except AWS_ERRORS as error:  # undecided: retried like any transient failure
            for i in valid:
                outcomes[i] = Outcome(FAILED, [f"identity rules: {error_text(error)}"])
            valid, messages, refused = [], [], {}
        for n, reason in refused.items():
            kept = self._keep(items[valid[n]], IDENTITY, [reason], True)
            if kept.status == FAILED:
                outcomes[valid[n]] = kept
        recordable = [n for n in range(len(valid)) if outcomes[valid[n]] is None]
        valid, messages = [valid[n] for n in recordable], [messages[n] for n in recordable]
        for i, result in zip(valid, self.recorder.record(messages), strict=True):
            if result.status == "unrecordable":  # permanent: kept, acknowledged, replayable
                outcomes[i] = self._keep(
                    items[i], "unrecordable", [result.error or "unknown"], keep_rejected
                )
            else:
                outcomes[i] = Outcome(result.status, [result.error] if result.error else [])
        done = [o or Outcome(FAILED, ["not processed"]) for o in outcomes]
        if hand_off and path != SQS and self.handoff.enabled:
            for i, outcome in enumerate(done):
                if outcome.status == FAILED:
                    done[i] = self._hand_off(items[i], outcome.errors)
        return Processed(path, items, done, plan_failed)

    PLAN_RETRY_SECONDS = 60.0
    KEY_RETRY_SECONDS = 60.0  # ops/forget.KEY_PROPAGATION_SECONDS waits a little longer

    def _load_plan(self) -> None:
        """Load the deployment's plan. A plan that cannot be loaded (malformed, or its item missing
        or of another hash mid-deployment) never stops ingest: ``plan_problem`` says why, every
        message is handled by ``ingest.check``'s rule for it, and loading is tried again after
        ``PLAN_RETRY_SECONDS``. The PlanErrors metric (``observability``) raises an alarm."""
        self._plan_loaded_at = time.monotonic()
        try:
            self.plan, self.plan_problem = load_plan(self.settings, self.store.client), None
        except (TrackingPlanError, ConfigError, *AWS_ERRORS) as exc:
            self.plan = None
            self.plan_problem = (
                f"not loaded ({error_text(exc)})" if isinstance(exc, AWS_ERRORS) else str(exc)
            )

    def _load_suppression_key(self) -> None:
        """The erasure key (``table/suppression.py``), None while nobody was ever erased; looked
        up again every minute while there is none."""
        self._key_loaded_at = time.monotonic()
        try:
            self.suppression_key = suppression.load_key(self.store.client, self.store.table)
        except AWS_ERRORS:
            self.suppression_key = None

    def _suppressed(self, items: list[Incoming]) -> set[int]:
        """Positions of ``items`` whose userId, anonymousId or previousId was erased: one
        BatchGetItem for the invocation, none while nobody was ever erased. A delete message is
        never suppressed (erasing twice is harmless)."""
        key = self.suppression_key
        if key is None or not items:
            return set()
        marks = [
            {
                suppression.token(key, value)
                for field in ("userId", "anonymousId", "previousId")
                for value in [item.payload.get(field)]
                if isinstance(value, str) and value
            }
            if isinstance(item.payload, dict) and not _is_delete(item.payload)
            else set()
            for item in items
        ]
        found = suppression.suppressed(self.store.client, self.store.table, set().union(*marks))
        return {n for n, mine in enumerate(marks) if mine & found}

    def _erase(self, payload: dict[str, Any]) -> Outcome:
        """A delete message (Segment's webhook/function shape): erase that userId now."""
        user_id = payload.get("userId")
        if not isinstance(user_id, str) or not user_id.strip():
            return Outcome(
                REJECTED, ["userId: a delete message names the userId to erase"], "invalid"
            )
        try:
            erasure = Eraser(self.store.client, self.store.table).forget(user_id, apply=True)
        except AWS_ERRORS as error:
            return Outcome(FAILED, [f"erasure: {error_text(error)}"])
        if erasure.key_made:
            self.suppression_key = None
            self._load_suppression_key()
        return Outcome(ERASED)

    @property
    def policy(self) -> Policy:
        """What this deployment decides about messages (``ingest.check.Policy``)."""
        return Policy(
            trackers=self.trackers,
            plan=self.plan,
            plan_mode=self.settings.tracking_plan_mode,
            plan_problem=self.plan_problem,
            blocked_ids=self.settings.blocked_ids,
            engage_spaces=self.settings.engage_space_ids,
        )

    def accept_for(self, invoked_function_arn: str | None) -> Accept:
        """What an invocation through ``invoked_function_arn`` may carry (settings; see
        ``settings.EVENTBRIDGE_QUALIFIER``): decided by the deployment, never by the payload."""
        settings = self.settings
        kinds = settings.accept if settings.accept is not None else frozenset(ANY.kinds)
        qualifier = settings.eventbridge_qualifier
        if qualifier and EVENTBRIDGE in kinds:
            through = (invoked_function_arn or "").split(":")
            via_eventbridge = len(through) == 8 and through[7] == qualifier
            kinds = frozenset({EVENTBRIDGE}) if via_eventbridge else kinds - {EVENTBRIDGE}
        return Accept(kinds, settings.partner_sources, settings.queue_arns)

    def take_catalog_drift(self) -> int:
        """Catalog counts that could not be made right since the last call (see the README)."""
        drift, self.recorder.drift_events = self.recorder.drift_events, 0
        return drift

    def _hand_off(self, item: Incoming, errors: list[str]) -> Outcome:
        """Transient failure on the direct or EventBridge path: onto the buffer queue, if it takes
        it (then the invocation succeeds); else still failed, and the caller retries."""
        try:
            # A message that failed only to be kept (DynamoDB down) goes as it came: the batched
            # path validates it again and keeps it then.
            body = item.payload if item.payload is not None else item.original
            self.handoff.send(body, "; ".join(errors))
        except (*AWS_ERRORS, ValueError) as error:
            return Outcome(
                FAILED, [*errors, f"handing off to the buffer queue failed: {error_text(error)}"]
            )
        return Outcome(BUFFERED, errors)

    def _keep(self, item: Incoming, kind: str, errors: list[str], keep: bool) -> Outcome:
        """Keep ``item`` on the rejected list (``kind`` warning: beside its record)."""
        if not keep:
            return Outcome(REJECTED, errors, kind)
        records = rejection_items(
            kind=kind,
            path=item.path,
            raw=item.raw,
            reasons=errors,
            payload=item.payload,
            retention_days=self.settings.rejected_retention_days,
        )
        try:
            for record in records:
                self.store.put(record)
        except AWS_ERRORS as error:
            return Outcome(FAILED, [f"keeping the rejected message failed: {type(error).__name__}"])
        if kind in (WARNING, IDENTITY):
            return Outcome(ACCEPTED)
        return Outcome(REJECTED, errors, kind)
