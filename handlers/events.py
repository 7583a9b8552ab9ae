"""Event Grid trigger (Event Grid schema): route ARM events to targets and enqueue verifications."""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError

bp = func.Blueprint()
log = logging.getLogger(__name__)


def event_as_dict(event: func.EventGridEvent) -> dict[str, Any]:
    """The Event Grid schema fields the Functions object carries, as the wire dictionary."""
    try:
        data = event.get_json()
    except ValueError:
        data = None
    return {
        "id": event.id,
        "topic": event.topic,
        "subject": event.subject,
        "eventType": event.event_type,
        "eventTime": event.event_time.isoformat() if event.event_time else None,
        "dataVersion": event.data_version,
        "metadataVersion": "1",
        "data": data,
    }


@bp.function_name("guard_events")
@bp.event_grid_trigger(arg_name="event")
def guard_events(event: func.EventGridEvent) -> None:
    from shared import orchestration

    svc = orchestration.services()
    try:
        payload = event_as_dict(event)
    except Exception:  # a payload the Functions object cannot even represent: drop, never loop
        log.exception("dropped an event the trigger could not decode")
        return
    try:
        orchestration.receive_events([payload], svc)
    except AzureError:
        raise  # storage trouble: let Event Grid retry the delivery
    except Exception:
        log.exception("dropped event %s after an unexpected error", payload.get("id"))
