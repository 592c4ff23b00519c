"""A realistic Segment session for the demo and the end-to-end test.

Two people, one of whom browses anonymously on two devices before signing up; pages, screens,
track events, a group, an Engage audience (as an identify trait and as "Audience Entered"), an
alias from the second device's anonymous id, one invalid message, and re-deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from support import segment_messages as sm


@dataclass(frozen=True)
class Session:
    messages: list[dict[str, Any]]  # in delivery order, re-deliveries included
    users: list[str]
    redeliveries: int
    invalid: dict[str, Any]


def build(prefix: str, now: datetime) -> Session:
    """The session for one delivery path; ``prefix`` keeps the two paths' users apart."""
    ada, lin = f"{prefix}-ada", f"{prefix}-lin"
    laptop, phone = f"{prefix}-anon-laptop", f"{prefix}-anon-phone"
    day = now - timedelta(days=1)

    def at(days: float = 0, minutes: float = 0) -> datetime:
        return day + timedelta(days=days, minutes=minutes)

    first_visit = sm.page("Pricing", "Marketing", anonymous_id=laptop, at=at(-12))
    messages = [
        first_visit,
        sm.page("Home", anonymous_id=laptop, at=at(minutes=1)),
        sm.page("Pricing", "Marketing", anonymous_id=laptop, at=at(minutes=2)),
        sm.identify(
            {"email": f"ada@{prefix}.example.com", "name": "Ada Lovelace", "plan": "trial"},
            user_id=ada,
            anonymous_id=laptop,
            at=at(minutes=3),
        ),
        sm.screen("Dashboard", anonymous_id=phone, at=at(minutes=4)),
        sm.alias(phone, ada, at=at(minutes=5)),
        sm.track("Report Exported", {"format": "csv"}, user_id=ada, at=at(minutes=6)),
        sm.track("Report Exported", {"format": "pdf"}, user_id=ada, at=at(-20)),
        sm.screen("Dashboard", user_id=ada, at=at(minutes=8)),
        sm.group(
            "acme", {"name": "Acme Corp", "plan": "enterprise"}, user_id=ada, at=at(minutes=9)
        ),
        sm.identify({"plan": "pro"}, user_id=ada, at=at(minutes=10)),
        sm.engage_audience_identify(ada, "power_users", True, at=at(minutes=11)),
        sm.engage_audience_track(ada, "power_users", True, at=at(minutes=11)),
        sm.identify({"plan": "free"}, user_id=lin, at=at(-3)),
        sm.track("Report Exported", {"format": "csv"}, user_id=lin, at=at(-3, 5)),
        sm.page("Docs", "Help", user_id=lin, at=at(-2)),
    ]
    invalid = sm.track("Report Exported", user_id=None, anonymous_id=None, at=at(minutes=12))
    # Segment and EventBridge deliver at least once: three messages arrive again, one of them twice.
    again = [messages[0], messages[6], messages[12], messages[6]]
    return Session(
        messages=[*messages, invalid, *again],
        users=[ada, lin],
        redeliveries=len(again),
        invalid=invalid,
    )
