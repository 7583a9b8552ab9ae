"""Incoming Event Grid events -> :class:`ArmEvent`, through the azure-eventgrid / azure-core models.

Accepts the Event Grid schema (``EventGridEvent``) and CloudEvents 1.0 (``CloudEvent``), one
event or a batch. Anything malformed raises :class:`MalformedEvent` with a reason that is safe to
log; callers log and drop it. The event is only a hint (docs/architecture.md, "The pipeline"): nothing here is
trusted for principals, scopes or roles — routing uses only the resource id to decide *which
targets to re-read*.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
_SUBSCRIPTION = re.compile(r"^/subscriptions/([0-9a-fA-F-]{36})(?:/|$)")


class MalformedEvent(ValueError):
    """The payload is not an Event Grid or CloudEvents event the Guard can use."""


@dataclass(frozen=True)
class ArmEvent:
    """The fields routing needs, whichever schema delivered the event."""

    id: str
    type: str
    subject: str
    topic: str
    operation_name: str = ""
    caller_ids: frozenset[str] = frozenset()  # claims appid and objectidentifier, lower-cased

    @property
    def subscription_id(self) -> str | None:
        for candidate in (self.subject, self.topic):
            match = _SUBSCRIPTION.match(candidate or "")
            if match:
                return match.group(1).lower()
        return None


def _callers(data: Any) -> frozenset[str]:
    claims = data.get("claims") if isinstance(data, Mapping) else None
    if not isinstance(claims, Mapping):
        return frozenset()
    values = (claims.get("appid"), claims.get(OBJECT_ID_CLAIM), claims.get("oid"))
    return frozenset(str(v).lower() for v in values if isinstance(v, str) and v)


def _operation(data: Any) -> str:
    if isinstance(data, Mapping):
        value = data.get("operationName")
        if isinstance(value, str):
            return value
    return ""


def from_dict(raw: Any) -> ArmEvent:
    """One event in either schema; raises :class:`MalformedEvent`."""
    from azure.core.messaging import CloudEvent
    from azure.eventgrid import EventGridEvent

    if not isinstance(raw, Mapping):
        raise MalformedEvent(f"an event must be a JSON object, not {type(raw).__name__}")
    required = ("id", "type", "source") if "specversion" in raw else ("id", "eventType", "subject")
    for name in required:
        if not isinstance(raw.get(name), str):
            raise MalformedEvent(f"event field {name!r} is missing or not a string")
    try:
        if "specversion" in raw:
            cloud: CloudEvent[Any] = CloudEvent.from_dict(dict(raw))
            event_id, event_type, topic = cloud.id, cloud.type, cloud.source
            subject, data = cloud.subject or "", cloud.data
        else:
            grid = EventGridEvent.from_dict(dict(raw))
            event_id, event_type, topic = grid.id, grid.event_type, grid.topic or ""
            subject, data = grid.subject, grid.data
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedEvent(f"not a valid event: {type(exc).__name__}: {exc}") from None
    for name, value in (("id", event_id), ("type", event_type), ("subject", subject)):
        if not isinstance(value, str) or not value.strip():
            raise MalformedEvent(f"event field {name!r} is missing or not a string")
    if not isinstance(topic, str):
        raise MalformedEvent("event field 'topic'/'source' is not a string")
    return ArmEvent(
        id=event_id.strip(),
        type=event_type.strip(),
        subject=subject.strip(),
        topic=topic.strip(),
        operation_name=_operation(data),
        caller_ids=_callers(data),
    )


def parse_batch(payload: str | bytes | Any) -> tuple[list[ArmEvent], list[str]]:
    """A JSON document (one event or an array) -> (events, reasons for each dropped item)."""
    if isinstance(payload, (str, bytes)):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            return [], [f"not JSON: {exc}"]
    items: Iterable[Any] = payload if isinstance(payload, list) else [payload]
    events: list[ArmEvent] = []
    dropped: list[str] = []
    for index, item in enumerate(items):
        try:
            events.append(from_dict(item))
        except MalformedEvent as exc:
            dropped.append(f"item {index}: {exc}")
    return events, dropped
