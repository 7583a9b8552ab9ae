"""Per-request context handed to route handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from localdev.azure_sim.errors import ArmError
from localdev.azure_sim.store import Caller, Json, Store


@dataclass
class SimConfig:
    page_size: int = 100
    latency_ms: int = 0
    throttle: bool = False
    lro_retry_after_ms: int = 100
    settle_seconds: float = 0.0  # how long async states (trusted-access Updating) last after a write
    assignment_listing_delay_seconds: float = 0.0  # a Guard-written role assignment stays unlisted so long


@dataclass
class Ctx:
    request: web.Request
    params: dict[str, str]
    store: Store
    config: SimConfig
    caller: Caller
    body_text: str = ""
    event_subject: str | None = None  # set by handlers of mutating calls: the canonical resource id
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        url = self.request.url
        return f"{url.scheme}://{url.host}:{url.port}"

    @property
    def query(self) -> Any:
        return self.request.query

    def body(self) -> Json:
        if not self.body_text.strip():
            return {}
        try:
            value = json.loads(self.body_text)
        except ValueError as exc:
            raise ArmError(400, "InvalidRequestContent", f"The request content was invalid: {exc}") from exc
        if not isinstance(value, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        return value

    def api_version(self) -> str:
        return str(self.request.query.get("api-version", ""))


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )
