"""Event Grid channel: every alerting transition as one CloudEvent 1.0 on a custom topic
(``GUARD_EVENTGRID_TOPIC_ENDPOINT``), for machines: ticketing, paging, Logic Apps, a SIEM.

- one CloudEvent per transition: ``id`` = the transition id (deterministic, so a consumer can
  de-duplicate), ``source`` = ``GUARD_EVENTGRID_SOURCE``, ``subject`` = the cluster's resource id,
  ``type`` from :data:`EVENT_TYPES`, ``data`` = :func:`event_data` (schema in the README,
  "Drift events (Event Grid)");
- a message's transitions go out in one publish call (Event Grid accepts or rejects a batch as a
  whole), so the outbox's per-row ``Done`` bookkeeping stays exact: a transition is marked as
  sent to ``eventgrid`` only when its batch was accepted (HTTP 200);
- authentication: the topic key (``GUARD_EVENTGRID_TOPIC_KEY``, sent as ``aeg-sas-key``) or an
  Entra token for ``https://eventgrid.azure.net/.default`` (managed identity; the identity needs
  *EventGrid Data Sender* on the topic);
- 408, 429 and 5xx, timeouts and connection errors are transient (Retry-After is honoured by the
  outbox's rescheduling); 401/403 and other 4xx are permanent: dead-lettered at once, with a
  reason that names the host and the status only (never the key or a token).

The SDK's own retries are off (``retry_total=0``): the outbox is the one retry loop (STYLE 8).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AzureKeyCredential, TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.messaging import CloudEvent

from shared import ids
from shared.alerts.channels import AlertRecord, DeliveryError, Message
from shared.alerts.render import portal_link
from shared.ledger.transitions import TransitionKind

logger = logging.getLogger(__name__)
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

_TRANSPORT_OPTIONS = frozenset({"retry_total", "connection_timeout", "read_timeout", "connection_verify"})


class _PerCallOptionsFilter(logging.Filter):
    """The legacy publisher also hands per-call options to its CloudEvent model, which warns that
    it ignores them; drop exactly those warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (
            str(record.msg).startswith("%s is not a known attribute")
            and args
            and args[0] in _TRANSPORT_OPTIONS
        )


logging.getLogger("azure.eventgrid._legacy._generated._serialization").addFilter(_PerCallOptionsFilter())

DEFAULT_SOURCE = "/aks-backup-guard"
DATA_SCHEMA_VERSION = "1.0"

EVENT_TYPES: dict[TransitionKind, str] = {
    TransitionKind.NEW_FAILURE: "AksBackupGuard.DriftDetected",
    TransitionKind.FIXED: "AksBackupGuard.DriftRemediated",
    TransitionKind.RECOVERED: "AksBackupGuard.DriftRecovered",
    TransitionKind.REMEDIATION_FAILED: "AksBackupGuard.RemediationFailed",
    TransitionKind.BECAME_UNKNOWN: "AksBackupGuard.VerificationUnknown",
    TransitionKind.BACK_TO_KNOWN: "AksBackupGuard.VerificationRestored",
    TransitionKind.STILL_FAILING: "AksBackupGuard.DriftReminder",
    TransitionKind.NO_LONGER_GUARDED: "AksBackupGuard.TargetRetired",
}

# Event Grid accepts at most 1 MB per publish request; stay well below it by splitting a message
# with many transitions (each request is still all-or-nothing; see _publish).
_MAX_EVENTS_PER_REQUEST = 100


def _outcome(record: AlertRecord) -> str:
    """The remediation result for this check in one word: ``none`` when nothing was attempted,
    ``failed`` if any action failed, else ``applied``/``already-present``/``skipped``."""
    results = [o.result for o in record.transition.outcomes]
    if not results:
        return "none"
    for result in ("failed", "applied", "already-present"):
        if result in results:
            return result
    return results[0]


def event_data(record: AlertRecord, *, portal_url: str = "https://portal.azure.com") -> dict[str, Any]:
    """The CloudEvent ``data``: everything a consumer needs to act without calling the Guard."""
    t = record.transition
    try:
        subscription = ids.subscription_of(record.cluster_id)
    except ValueError:
        subscription = ""
    return {
        "schemaVersion": DATA_SCHEMA_VERSION,
        "transitionId": t.id,
        "kind": str(t.kind),
        "severity": str(t.severity),
        "target": {
            "key": record.target_key,
            "clusterId": record.cluster_id,
            "clusterName": ids.name_of(record.cluster_id),
            "subscriptionId": subscription,
            "vaultId": record.vault_id,
            "vaultName": ids.name_of(record.vault_id) if record.vault_id else "",
            "portalUrl": portal_link(portal_url, record.cluster_id),
        },
        "check": t.check,
        "detail": t.detail,
        "statusBefore": str(t.previous) if t.previous else None,
        "statusAfter": str(t.current),
        "fix": t.fix.to_dict() if t.fix else None,
        "outcome": _outcome(record),
        "actions": [o.to_dict() for o in t.outcomes],
        "episode": {
            "firstSeen": t.first_seen.isoformat(),
            "lastSeen": t.last_seen.isoformat(),
            "count": t.count,
        },
        "correlation": {
            "transitionId": t.id,
            "batch": record.batch,
            "triggerKind": record.trigger_kind,
            "triggerId": record.trigger_id,
            "triggerDetail": record.trigger_detail,
            "scanId": record.scan_id or None,
        },
    }


def cloud_event(
    record: AlertRecord, *, source: str = DEFAULT_SOURCE, portal_url: str = "https://portal.azure.com"
) -> CloudEvent[dict[str, Any]]:
    t = record.transition
    return CloudEvent(
        source=source,
        type=EVENT_TYPES[t.kind],
        data=event_data(record, portal_url=portal_url),
        subject=record.cluster_id,
        id=t.id,
        time=t.last_seen,
        datacontenttype="application/json",
        dataschema=None,
    )


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return max(0.0, float(value)) if value else None
    except (TypeError, ValueError):
        return None


class EventGridChannel:
    name = "eventgrid"
    per_transition = True  # one CloudEvent per transition: also takes the scan-found ones

    def __init__(
        self,
        endpoint: str,
        credential: AzureKeyCredential | TokenCredential,
        *,
        source: str = DEFAULT_SOURCE,
        timeout: float = 15.0,
        ca_bundle: str | None = None,
        portal_url: str = "https://portal.azure.com",
    ) -> None:
        from azure.eventgrid import EventGridPublisherClient

        self.host = urlsplit(endpoint).hostname or "?"
        self.source = source
        self.portal_url = portal_url
        # EventGridPublisherClient (4.22) drops constructor options for basic topics: the transport
        # options are given per send() call, where the pipeline honours them
        self._options: dict[str, Any] = {
            "retry_total": 0,
            "connection_timeout": timeout,
            "read_timeout": timeout,
        }
        if ca_bundle:
            self._options["connection_verify"] = ca_bundle
        self.client = EventGridPublisherClient(endpoint, credential)

    def send(self, message: Message) -> None:
        if not message.alerts:  # a digest: nothing machine-actionable beyond the transitions' events
            return
        events = [cloud_event(a, source=self.source, portal_url=self.portal_url) for a in message.alerts]
        for start in range(0, len(events), _MAX_EVENTS_PER_REQUEST):
            self._publish(events[start : start + _MAX_EVENTS_PER_REQUEST])

    def _publish(self, events: Sequence[CloudEvent[dict[str, Any]]]) -> None:
        where = f"Event Grid topic on {self.host}"
        try:
            self.client.send(list(events), **self._options)
        except ClientAuthenticationError as exc:
            if exc.status_code is None:  # the credential could not get a token (identity endpoint)
                raise DeliveryError(f"{where}: could not get an Entra token for Event Grid") from None
            raise DeliveryError(
                f"{where} rejected the credentials (HTTP {exc.status_code}): check "
                "GUARD_EVENTGRID_TOPIC_KEY or the identity's EventGrid Data Sender role",
                permanent=True,
            ) from None
        except HttpResponseError as exc:
            status = exc.status_code or 0
            if status in (408, 429) or status >= 500:
                retry_after = _retry_after(getattr(exc.response, "headers", None))
                raise DeliveryError(f"{where} answered HTTP {status}", retry_after=retry_after) from None
            if status == 403:
                raise DeliveryError(
                    f"{where} answered HTTP 403: the identity lacks EventGrid Data Sender on the topic",
                    permanent=True,
                ) from None
            if status:
                raise DeliveryError(f"{where} answered HTTP {status}", permanent=True) from None
            raise DeliveryError(f"{where}: {type(exc).__name__}") from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise DeliveryError(f"{where}: connection failed ({type(exc).__name__})") from None
        logger.info(
            "eventgrid: published %s CloudEvent(s) to %s: %s",
            len(events),
            self.host,
            ", ".join(e.id for e in events),
        )
