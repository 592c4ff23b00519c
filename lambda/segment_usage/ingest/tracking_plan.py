"""A customer tracking plan, Segment Protocols style, checked after the Segment Spec.

Plan format (JSON): every key optional, each schema draft-04, -06 or -07 (its ``$schema`` picks)::

    {
      "common":   {...schema of the whole message...},
      "track":    {"Order Completed": {...schema of properties...}, ...},
      "identify": {...schema of traits...},
      "group":    {...schema of traits...},
      "unplanned_events": "allow" | "violation"
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from ..settings import TRACKING_PLAN_SHA256, ConfigError, Settings
from ..table.config_items import load_text
from ..table.keys import TRACKING_PLAN_SK
from .spec import FORMAT_CHECKER, iter_errors

PLAN_KEYS = {"common", "track", "identify", "group", "unplanned_events"}


class TrackingPlanError(ValueError):
    """The tracking plan itself is malformed; raised at start-up so misconfiguration is loud."""


def _build(schema: Any, where: str) -> Any:
    if not isinstance(schema, dict):
        raise TrackingPlanError(f"tracking plan: {where}: expected a JSON Schema object")
    cls = validator_for(
        schema, default=validator_for({"$schema": "http://json-schema.org/draft-07/schema#"})
    )
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise TrackingPlanError(f"tracking plan: {where}: invalid schema: {exc.message}") from exc
    return cls(schema, format_checker=FORMAT_CHECKER)


@dataclass(frozen=True)
class TrackingPlan:
    common: Any = None
    track: dict[str, Any] = field(default_factory=dict)
    identify: Any = None
    group: Any = None
    unplanned_events: str = "allow"

    @classmethod
    def from_json(cls, text: str) -> TrackingPlan:
        try:
            plan = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TrackingPlanError(f"tracking plan: not valid JSON: {exc}") from exc
        if not isinstance(plan, dict):
            raise TrackingPlanError("tracking plan: expected a JSON object")
        unknown = sorted(set(plan) - PLAN_KEYS)
        if unknown:
            raise TrackingPlanError(
                f"tracking plan: unknown keys {unknown}; expected some of {sorted(PLAN_KEYS)}"
            )
        events = plan.get("track", {})
        if not isinstance(events, dict):
            raise TrackingPlanError(
                "tracking plan: track: expected an object of event name -> schema"
            )
        unplanned = plan.get("unplanned_events", "allow")
        if unplanned not in ("allow", "violation"):
            raise TrackingPlanError(
                "tracking plan: unplanned_events: expected 'allow' or 'violation'"
            )
        return cls(
            common=_build(plan["common"], "common") if "common" in plan else None,
            track={name: _build(s, f"track[{name!r}]") for name, s in events.items()},
            identify=_build(plan["identify"], "identify") if "identify" in plan else None,
            group=_build(plan["group"], "group") if "group" in plan else None,
            unplanned_events=unplanned,
        )

    def violations(self, message: dict[str, Any]) -> list[str]:
        """Errors of a Spec-valid message against the plan; empty when it conforms."""
        errors: list[str] = []
        if self.common is not None:
            errors += iter_errors(self.common, message)
        call_type = message["type"]
        if call_type == "track":
            schema = self.track.get(message["event"])
            if schema is not None:
                errors += iter_errors(schema, message.get("properties") or {}, "properties")
            elif self.unplanned_events == "violation":
                errors.append(f"event: {message['event']!r} is not in the tracking plan")
        elif call_type in ("identify", "group"):
            schema = self.identify if call_type == "identify" else self.group
            if schema is not None:
                errors += iter_errors(schema, message.get("traits") or {}, "traits")
        return errors


def load_plan(settings: Settings, client: Any) -> TrackingPlan | None:
    """The deployment's plan: inline (``SEGMENT_USAGE_TRACKING_PLAN``), or the item CONFIG/
    TRACKING_PLAN checked against ``SEGMENT_USAGE_TRACKING_PLAN_SHA256``; None when there is none.

    Raises ConfigError (the item is missing or another hash) or TrackingPlanError (malformed).
    """
    if settings.tracking_plan_json:
        return TrackingPlan.from_json(settings.tracking_plan_json)
    if not settings.tracking_plan_sha256:
        return None
    text = load_text(
        client,
        settings.table,
        TRACKING_PLAN_SK,
        "plan",
        settings.tracking_plan_sha256,
        TRACKING_PLAN_SHA256,
        ConfigError,
    )
    return TrackingPlan.from_json(text or "")
