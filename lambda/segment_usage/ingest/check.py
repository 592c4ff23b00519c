"""Is this message recordable? The one answer the handler, ``segment-usage validate`` and
``segment-usage replay`` all use: the envelope, the Segment Spec, the time rule, the tracking
plan, then the reduction to a ``Message``. Pure: nothing is read or written here.

Lenient where Segment is: only what recording needs rejects a message (its ids, type, event or
name, one usable time: ``spec.RECORDING_FIELDS``, ``timestamps``). Anything else malformed is a
warning: the message is recorded and the warning kept beside it with its field.

Identity (Segment Unify's rules): an id that is a blocked value identifies nobody; a message whose
only ids are blocked values is rejected. Traits an Engage track sets need Engage's mark
(``messages.engage_traits``) and pass the plan's identify schema, like an identify's.

A tracking plan that cannot be applied (it failed to load, or fails on a message) never stops
ingest: in warn mode the message is recorded with a warning; in block mode it is kept as kind
``plan``, replayable (``segment-usage replay --kind plan``) once the plan is fixed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..settings import DEFAULT_BLOCKED_IDS
from .envelopes import Incoming
from .messages import Message, engage_traits, identity
from .spec import check_spec
from .timestamps import NoUsableTime, event_time
from .trackers import Trackers
from .tracking_plan import PlanUnusable, TrackingPlan

# Rejection kinds (``table.rejected.KINDS``) this check can give.
ENVELOPE, INVALID, BLOCKED, PLAN = "envelope", "invalid", "blocked", "plan"


@dataclass(frozen=True)
class Policy:
    """What a deployment decides about messages: its tracking plan (``plan_problem`` when it
    could not be loaded) and mode, its trackers, the id values that identify nobody, and the
    Engage spaces whose tracks may set traits (None: any, as for the CLI's offline check)."""

    trackers: Trackers
    plan: TrackingPlan | None = None
    plan_mode: str = "warn"
    plan_problem: str | None = None
    blocked_ids: frozenset[str] = DEFAULT_BLOCKED_IDS
    engage_spaces: frozenset[str] | None = None


@dataclass(slots=True)
class Checked:
    """The verdict on one candidate message.

    ``message`` is set when it is to be recorded; otherwise ``kind`` (envelope | invalid |
    blocked | plan, or the kind the envelope gave) and ``errors`` say why. ``warnings`` (Spec
    warnings, and plan violations in warn mode) go beside a recorded message.
    """

    message: Message | None
    kind: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    plan_failed: bool = False  # the tracking plan could not be applied to it


def check(item: Incoming, policy: Policy, now_ms: int) -> Checked:
    """The verdict on ``item`` under ``policy``; ``now_ms`` is the processing time (the time
    rule's reference when ``receivedAt`` is unusable)."""
    if item.error:
        return Checked(None, item.kind or ENVELOPE, [item.error])
    payload: Any = item.payload
    spec = check_spec(payload)
    if spec.errors:
        return Checked(None, INVALID, spec.errors)
    ids = [identity(payload.get(f), policy.blocked_ids) for f in ("userId", "anonymousId")]
    if not any(ids) or (payload["type"] == "alias" and ids[0] is None):
        return Checked(None, INVALID, [_blocked_reason(payload)])
    try:
        when = event_time(payload, now_ms)
    except NoUsableTime as exc:
        return Checked(None, INVALID, [str(exc)])
    warnings = spec.warnings + when.warnings
    plan_problem, violations = policy.plan_problem, []
    if plan_problem is None and policy.plan is not None:
        try:
            violations = policy.plan.violations(payload)
            violations += _derived_trait_violations(payload, policy)
        except PlanUnusable as exc:
            plan_problem = str(exc)
    if plan_problem is not None:
        if policy.plan_mode == "block":
            return Checked(None, PLAN, [f"tracking plan: {plan_problem}"], plan_failed=True)
        warnings.append(f"tracking plan: {plan_problem} (recorded unchecked)")
    if violations and policy.plan_mode == "block":
        return Checked(None, BLOCKED, violations)
    message = Message.from_valid(
        payload, policy.trackers, when, policy.blocked_ids, policy.engage_spaces
    )
    return Checked(message, warnings=warnings + violations, plan_failed=plan_problem is not None)


def _blocked_reason(payload: dict[str, Any]) -> str:
    field = "userId" if payload.get("userId") or payload["type"] == "alias" else "anonymousId"
    return (
        f"{field}: a blocked value (one that identifies nobody, like 'undefined' or "
        "'anonymous'), and no other id to record the message under"
    )


def _derived_trait_violations(payload: dict[str, Any], policy: Policy) -> list[str]:
    """The plan governs traits however they arrive: traits an Engage track would set are checked
    against the plan's identify schema, as if an identify had carried them."""
    if payload["type"] != "track" or policy.plan is None:
        return []
    traits = engage_traits(payload, policy.engage_spaces)
    if not traits:
        return []
    as_identify = {
        **payload,
        "type": "identify",
        "traits": {name: json.loads(value) for name, value in traits.items()},
    }
    return policy.plan.violations(as_identify)
