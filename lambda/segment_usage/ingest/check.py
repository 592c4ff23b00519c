"""Is this message recordable? The one answer the handler, ``segment-usage validate`` and
``segment-usage replay`` all use: the envelope, the Segment Spec, the time rule, the tracking
plan, then the reduction to a ``Message``. Pure: nothing is read or written here.

Lenient where Segment is: only what recording needs rejects a message (its ids, type, event or
name, one usable time: ``spec.RECORDING_FIELDS``, ``timestamps``). Anything else malformed is a
warning: the message is recorded and the warning kept beside it with its field.

A tracking plan that cannot be applied (it failed to load, or fails on a message) never stops
ingest: in warn mode the message is recorded with a warning; in block mode it is kept as kind
``plan``, replayable (``segment-usage replay --kind plan``) once the plan is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .envelopes import Incoming
from .messages import Message
from .spec import check_spec
from .timestamps import NoUsableTime, event_time
from .trackers import Trackers
from .tracking_plan import PlanUnusable, TrackingPlan

# Rejection kinds (``table.rejected.KINDS``) this check can give.
ENVELOPE, INVALID, BLOCKED, PLAN = "envelope", "invalid", "blocked", "plan"


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


def check(
    item: Incoming,
    plan: TrackingPlan | None,
    plan_mode: str,
    trackers: Trackers,
    now_ms: int,
    plan_problem: str | None = None,
) -> Checked:
    """The verdict on ``item`` under ``plan`` (``plan_mode``: warn | block) and ``trackers``.

    ``now_ms``: the processing time (the time rule's reference when ``receivedAt`` is unusable).
    ``plan_problem``: why the deployment's plan could not be loaded, if it could not.
    """
    if item.error:
        return Checked(None, item.kind or ENVELOPE, [item.error])
    payload: Any = item.payload
    spec = check_spec(payload)
    if spec.errors:
        return Checked(None, INVALID, spec.errors)
    try:
        when = event_time(payload, now_ms)
    except NoUsableTime as exc:
        return Checked(None, INVALID, [str(exc)])
    warnings = spec.warnings + when.warnings
    violations: list[str] = []
    if plan_problem is None and plan is not None:
        try:
            violations = plan.violations(payload)
        except PlanUnusable as exc:
            plan_problem = str(exc)
    if plan_problem is not None:
        if plan_mode == "block":
            return Checked(None, PLAN, [f"tracking plan: {plan_problem}"], plan_failed=True)
        warnings.append(f"tracking plan: {plan_problem} (recorded unchecked)")
    if violations and plan_mode == "block":
        return Checked(None, BLOCKED, violations)
    message = Message.from_valid(payload, trackers, when)
    return Checked(message, warnings=warnings + violations, plan_failed=plan_problem is not None)
