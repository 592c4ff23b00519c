"""A customer tracking plan, Segment Protocols style, checked after the Segment Spec.

Three shapes are accepted (``parse_plan`` tells them apart):

1. This product's own format (JSON; every key optional; each schema draft-04, -06 or -07, as its
   ``$schema`` says)::

       {
         "common":   {...schema of the whole message...},
         "track":    {"Order Completed": {...schema of its properties...}, ...},
         "identify": {...schema of traits...},
         "group":    {...schema of traits...},
         "unplanned_events": "allow" | "violation"
       }

2. Segment's own export, the body of the Public API's "List Rules from Tracking Plan" response:
   ``{"data": {"rules": [{"type": "TRACK", "key": "Product Added", "version": 1,
   "jsonSchema": {...}}, ...]}}``. Each rule's ``jsonSchema`` describes the **whole event** (a
   track's properties sit under ``properties.properties``); types COMMON, TRACK, IDENTIFY, GROUP,
   PAGE, SCREEN; of several versions of one rule, the highest is used.
3. The ``rules`` list of that response alone.

Every ``$ref`` is resolved when the plan is loaded, from the plan itself and never over the
network: a plan whose ``$ref`` cannot be resolved is refused with ``TrackingPlanError`` naming it.
Numbers are compared exactly: ``multipleOf`` divides decimals (19.99 is a multiple of 0.01, as a
person reads it, not as float division says); ``formats.py`` lists the formats checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from functools import cache
from typing import Any

from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.validators import Draft7Validator, extend, validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT7

from ..settings import TRACKING_PLAN_SHA256, ConfigError, Settings
from ..table.config_items import load_text
from ..table.keys import TRACKING_PLAN_SK
from .formats import FORMAT_CHECKER
from .spec import format_error

PLAN_KEYS = ("common", "track", "identify", "group", "unplanned_events")
UNPLANNED = ("allow", "violation")
RULE_TYPES = ("COMMON", "TRACK", "IDENTIFY", "GROUP", "PAGE", "SCREEN")
JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


class TrackingPlanError(ValueError):
    """The tracking plan itself is malformed; the message says where (key, rule, ``$ref``)."""


class PlanUnusable(RuntimeError):
    """The plan failed while checking a message (it could not be applied): not the message's
    fault. The processor keeps or records the message with this reason, and never raises."""


# -- exact numbers -------------------------------------------------------------------------------


def _decimal(number: Any) -> Decimal:
    # repr is the shortest text that reads back as the same float: 19.99, not 19.989999...
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """``multipleOf`` in decimal arithmetic (jsonschema divides floats: 19.99 / 0.01 fails)."""
    if not validator.is_type(instance, "number") or isinstance(instance, bool):
        return
    try:
        with localcontext() as context:
            context.prec = 60
            quotient = _decimal(instance) / _decimal(divisor)
            failed = quotient != quotient.to_integral_value()
    except (InvalidOperation, ValueError, ArithmeticError):
        failed = True
    if failed:
        yield ValidationError(f"{instance!r} is not a multiple of {divisor}")


@cache
def _exact(cls: type) -> type:
    """``cls`` (a draft's validator class) with decimal ``multipleOf``. Comparisons
    (``minimum``, ``maximum``, ...) are already exact: Python compares int and float values
    exactly, and a plan's numbers and a message's are parsed the same way."""
    return extend(cls, {"multipleOf": _multiple_of})


# -- $ref: resolved at load, never fetched ---------------------------------------------------------


def _no_network(uri: str) -> Resource:
    raise NoSuchResource(ref=uri)


def _refs(schema: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, $ref) of every ``$ref`` in ``schema``."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            yield path or "(root)", ref
        for key, child in schema.items():
            if key not in ("enum", "const", "examples", "default"):
                yield from _refs(child, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, child in enumerate(schema):
            yield from _refs(child, f"{path}/{i}")


def _type_names(schema: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(where, name) of every ``type`` name in ``schema`` (keywords, not property names)."""
    if isinstance(schema, dict):
        kind = schema.get("type")
        for name in kind if isinstance(kind, list) else [kind] if kind is not None else []:
            yield f"{path}/type", name
        for key, child in schema.items():
            if key in ("enum", "const", "examples", "default"):
                continue
            if key in ("properties", "patternProperties", "definitions", "$defs"):
                if isinstance(child, dict):
                    for name, sub in child.items():
                        yield from _type_names(sub, f"{path}/{key}/{name}")
            elif key != "type":
                yield from _type_names(child, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, child in enumerate(schema):
            yield from _type_names(child, f"{path}/{i}")


def build_validator(schema: Any, where: str) -> Any:
    """A validator of ``schema`` (its draft from ``$schema``, default draft-07) with exact numbers,
    this product's formats, and every ``$ref`` resolved now. Raises TrackingPlanError."""
    if not isinstance(schema, dict):
        raise TrackingPlanError(f"tracking plan: {where}: expected a JSON Schema object")
    for at, name in _type_names(schema):
        if name not in JSON_TYPES:
            raise TrackingPlanError(
                f"tracking plan: {where}: {at}: {name!r} is not a JSON Schema type "
                f"(one of {', '.join(sorted(JSON_TYPES))})"
            )
    cls = validator_for(schema, default=Draft7Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise TrackingPlanError(f"tracking plan: {where}: invalid schema: {exc.message}") from exc
    resource = Resource.from_contents(schema, default_specification=DRAFT7)
    registry = Registry(retrieve=_no_network).with_resource(resource.id() or "", resource).crawl()
    resolver = registry.resolver(base_uri=resource.id() or "")
    for at, ref in _refs(schema):
        try:
            resolver.lookup(ref)
        except (Unresolvable, NoSuchResource, KeyError, ValueError) as exc:
            raise TrackingPlanError(
                f"tracking plan: {where}: $ref {ref!r} at {at} cannot be resolved from the plan "
                "itself (remote references are never fetched; inline the definition)"
            ) from exc
    return _exact(cls)(schema, format_checker=FORMAT_CHECKER, registry=registry)


# -- the plan --------------------------------------------------------------------------------------

Selector = Callable[[dict[str, Any]], Any]


def _whole(message: dict[str, Any]) -> Any:
    return message


def _part(name: str) -> Selector:
    def select(message: dict[str, Any]) -> Any:
        value = message.get(name)
        return value if value is not None else {}

    return select


@dataclass(frozen=True)
class Check:
    """One schema applied to one part of a message (``prefix`` names that part in errors)."""

    validator: Any
    select: Selector
    prefix: str = ""

    def errors(self, message: dict[str, Any]) -> list[str]:
        found = sorted(
            self.validator.iter_errors(self.select(message)),
            key=lambda e: list(map(str, e.absolute_path)),
        )
        return [format_error(e, self.prefix) for e in found]


@dataclass(frozen=True)
class TrackingPlan:
    """Checks by message kind: ``common`` (every message), ``track`` by event name, ``by_type``
    for identify, group, page and screen."""

    common: tuple[Check, ...] = ()
    track: dict[str, Check] = field(default_factory=dict)
    by_type: dict[str, Check] = field(default_factory=dict)
    unplanned_events: str = "allow"

    @classmethod
    def from_json(cls, text: str) -> TrackingPlan:
        """Parse any of the three shapes (module docstring); raises TrackingPlanError."""
        try:
            plan = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TrackingPlanError(f"tracking plan: not valid JSON: {exc}") from exc
        return parse_plan(plan)

    def violations(self, message: dict[str, Any]) -> list[str]:
        """Errors of a Spec-valid message against the plan; empty when it conforms. Raises
        PlanUnusable when the plan itself fails on it (never the message's fault)."""
        try:
            return self._violations(message)
        except (Unresolvable, RecursionError, TypeError, ValueError, KeyError) as exc:
            raise PlanUnusable(f"tracking plan could not be applied: {type(exc).__name__}") from exc

    def _violations(self, message: dict[str, Any]) -> list[str]:
        errors: list[str] = []
        for check in self.common:
            errors += check.errors(message)
        call_type = message["type"]
        if call_type == "track":
            check = self.track.get(message["event"])
            if check is not None:
                errors += check.errors(message)
            elif self.unplanned_events == "violation":
                errors.append(f"event: {message['event']!r} is not in the tracking plan")
        elif call_type in self.by_type:
            errors += self.by_type[call_type].errors(message)
        return errors


def parse_plan(plan: Any) -> TrackingPlan:
    """A TrackingPlan from the parsed JSON of any accepted shape; raises TrackingPlanError."""
    if isinstance(plan, list):
        return _from_rules(plan, "rules")
    if not isinstance(plan, dict):
        raise TrackingPlanError(
            "tracking plan: expected a JSON object (this product's format, or Segment's "
            '{"data": {"rules": [...]}} export) or a rules list'
        )
    if "data" in plan or "rules" in plan:
        rules = plan.get("rules", (plan.get("data") or {}).get("rules"))
        if not isinstance(rules, list):
            raise TrackingPlanError(
                'tracking plan: a Segment export needs "data.rules": a list of rules'
            )
        return _from_rules(rules, "data.rules" if "data" in plan else "rules")
    unknown = sorted(set(plan) - set(PLAN_KEYS))
    if unknown:
        raise TrackingPlanError(
            f"tracking plan: unknown keys {unknown}; expected some of {list(PLAN_KEYS)}, or "
            'Segment\'s export {"data": {"rules": [...]}}'
        )
    events = plan.get("track", {})
    if not isinstance(events, dict):
        raise TrackingPlanError("tracking plan: track: expected an object of event name -> schema")
    unplanned = plan.get("unplanned_events", "allow")
    if unplanned not in UNPLANNED:
        raise TrackingPlanError(
            f"tracking plan: unplanned_events: {unplanned!r} is not one of {list(UNPLANNED)}"
        )
    by_type = {
        kind: Check(build_validator(plan[kind], kind), _part("traits"), "traits")
        for kind in ("identify", "group")
        if kind in plan
    }
    return TrackingPlan(
        common=(Check(build_validator(plan["common"], "common"), _whole),)
        if "common" in plan
        else (),
        track={
            name: Check(build_validator(s, f"track[{name!r}]"), _part("properties"), "properties")
            for name, s in events.items()
        },
        by_type=by_type,
        unplanned_events=unplanned,
    )


def _from_rules(rules: list[Any], where: str) -> TrackingPlan:
    """Segment's rules: each ``jsonSchema`` checks the whole event; the highest version wins."""
    chosen: dict[tuple[str, str], tuple[int, Any, str]] = {}
    for n, rule in enumerate(rules):
        at = f"{where}[{n}]"
        if not isinstance(rule, dict):
            raise TrackingPlanError(f"tracking plan: {at}: expected a rule object")
        kind = rule.get("type")
        if kind not in RULE_TYPES:
            raise TrackingPlanError(
                f"tracking plan: {at}.type: {kind!r} is not one of {list(RULE_TYPES)}"
            )
        key = rule.get("key") or ""
        if kind == "TRACK" and (not isinstance(key, str) or not key):
            raise TrackingPlanError(f"tracking plan: {at}.key: a TRACK rule names its event")
        version = rule.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise TrackingPlanError(f"tracking plan: {at}.version: expected a whole number")
        if "jsonSchema" not in rule:
            raise TrackingPlanError(f"tracking plan: {at}.jsonSchema: is required")
        if (kind, key) not in chosen or version > chosen[(kind, key)][0]:
            chosen[(kind, key)] = (version, rule["jsonSchema"], at)
    common: list[Check] = []
    track: dict[str, Check] = {}
    by_type: dict[str, Check] = {}
    for (kind, key), (_, schema, at) in chosen.items():
        check = Check(build_validator(schema, f"{at} ({kind} {key})".rstrip()), _whole)
        if kind == "COMMON":
            common.append(check)
        elif kind == "TRACK":
            track[key] = check
        else:
            by_type[kind.lower()] = check
    return TrackingPlan(common=tuple(common), track=track, by_type=by_type)


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
