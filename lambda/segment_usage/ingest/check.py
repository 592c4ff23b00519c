"""Is this message recordable? The one answer the handler, ``segment-usage validate`` and
``segment-usage replay`` all use: the envelope, the Segment Spec, the tracking plan, then the
reduction to a ``Message``. Pure: nothing is read or written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .envelopes import Incoming
from .messages import Message
from .spec import validate_message
from .trackers import Trackers
from .tracking_plan import TrackingPlan

# Rejection kinds (``table.rejected.KINDS``) this check can give.
ENVELOPE, INVALID, BLOCKED = "envelope", "invalid", "blocked"


@dataclass(slots=True)
class Checked:
    """The verdict on one candidate message.

    ``message`` is set when it is to be recorded; otherwise ``kind`` (envelope | invalid |
    blocked) and ``errors`` say why. ``violations`` are the tracking-plan errors of a message
    recorded anyway (warn mode): the caller keeps them beside the record.
    """

    message: Message | None
    kind: str = ""
    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def check(item: Incoming, plan: TrackingPlan | None, plan_mode: str, trackers: Trackers) -> Checked:
    """The verdict on ``item`` under ``plan`` (``plan_mode``: warn | block) and ``trackers``."""
    if item.error:
        return Checked(None, ENVELOPE, [item.error])
    payload: Any = item.payload
    errors = validate_message(payload)
    if errors:
        return Checked(None, INVALID, errors)
    violations = plan.violations(payload) if plan else []
    if violations and plan_mode == "block":
        return Checked(None, BLOCKED, violations)
    try:
        message = Message.from_valid(payload, trackers)
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp outside datetime's range
        return Checked(None, INVALID, [f"timestamp: {exc}"])
    return Checked(message, violations=violations)
