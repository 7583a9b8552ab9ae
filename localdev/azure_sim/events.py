"""Event Grid (subscription system topic) events for successful mutating ARM calls."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from localdev.azure_sim.store import Json

EVENT_TYPES = {
    "PUT": "Microsoft.Resources.ResourceWriteSuccess",
    "PATCH": "Microsoft.Resources.ResourceWriteSuccess",
    "DELETE": "Microsoft.Resources.ResourceDeleteSuccess",
    "POST": "Microsoft.Resources.ResourceActionSuccess",
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def resource_provider(operation: str) -> str:
    return operation.split("/", 1)[0]


def build_event(
    *,
    method: str,
    subject: str,
    subscription_id: str,
    tenant_id: str,
    operation: str,
    principal_id: str,
    evidence: Json,
    correlation_id: str,
    client_request_id: str,
    url: str,
) -> Json:
    return {
        "id": str(uuid.uuid4()),
        "topic": f"/subscriptions/{subscription_id}",
        "subject": subject,
        "eventType": EVENT_TYPES[method.upper()],
        "eventTime": now_iso(),
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {
            "authorization": {"scope": subject, "action": operation, "evidence": evidence},
            "claims": {
                "aud": "https://management.azure.com/",
                "iss": f"https://sts.windows.net/{tenant_id}/",
                "appid": principal_id,
                "http://schemas.microsoft.com/identity/claims/objectidentifier": principal_id,
                "http://schemas.microsoft.com/identity/claims/tenantid": tenant_id,
                "ver": "1.0",
            },
            "correlationId": correlation_id,
            "httpRequest": {
                "clientRequestId": client_request_id,
                "clientIpAddress": "127.0.0.1",
                "method": method.upper(),
                "url": url,
            },
            "resourceProvider": resource_provider(operation),
            "resourceUri": subject,
            "operationName": operation,
            "status": "Succeeded",
            "subscriptionId": subscription_id,
            "tenantId": tenant_id,
        },
    }


class EventLog:
    def __init__(self) -> None:
        self.events: list[Json] = []

    def append(self, event: Json) -> None:
        self.events.append(event)

    def since(self, n: int) -> list[Json]:
        return self.events[max(0, n) :]

    def reset(self) -> None:
        self.events.clear()
