"""Event Grid custom topics, data plane: ``POST /eventgrid/topics/{topic}/api/events``.

The publish REST API (api-version 2018-01-01) as ``EventGridPublisherClient`` uses it for
CloudEvents: a JSON array of CloudEvents 1.0 with ``Content-Type:
application/cloudevents-batch+json; charset=utf-8``. Authentication is the topic key in the
``aeg-sas-key`` header or ``Authorization: Bearer <token>`` of a known caller (the topic's
``senders``, when listed, are the only principals allowed: *EventGrid Data Sender*). 200 with an
empty body on success; the batch is all-or-nothing (one invalid event rejects the request with
400). Accepted events are kept, oldest first, for ``GET /_sim/published``.

Topics come from the estate's top-level ``eventgrid_topics: [{name, key, senders}]``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from aiohttp import web

from localdev.azure_sim.store import Caller, Json

PATH = re.compile(r"^/eventgrid/topics/(?P<topic>[^/]+)/api/events/?$", re.IGNORECASE)
TEMPLATE = "/eventgrid/topics/{topic}/api/events"
_CLOUDEVENTS = "application/cloudevents-batch+json"
_REQUIRED = ("id", "source", "type", "specversion")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"error": {"code": code, "message": message}}),
        content_type="application/json",
    )


class Topics:
    def __init__(self, topics: list[Json], tokens: dict[str, Caller]) -> None:
        self.topics = {str(t["name"]).lower(): dict(t) for t in topics}
        self.tokens = tokens
        self.published: list[Json] = []

    @staticmethod
    def match(path: str) -> str | None:
        found = PATH.match(path)
        return found.group("topic") if found else None

    def reset(self) -> None:
        self.published = []

    def _authenticate(self, request: web.Request, topic: Json) -> tuple[str, str | None] | web.Response:
        key = request.headers.get("aeg-sas-key")
        if key is not None:
            if key != str(topic.get("key") or "") or not key:
                return _error(
                    401,
                    "Unauthorized",
                    f"The request authorization key is not authorized for {topic['name']}.",
                )
            return "key", None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            caller = self.tokens.get(token.strip())
            if caller is None:
                return _error(401, "Unauthorized", "The access token is invalid or expired.")
            senders = [str(s).lower() for s in topic.get("senders") or []]
            if senders and caller.principal_id.lower() not in senders:
                return _error(
                    403,
                    "Forbidden",
                    f"The principal {caller.principal_id} does not have "
                    "Microsoft.EventGrid/events/send/action on this topic.",
                )
            return "bearer", caller.principal_id
        return _error(
            401, "Unauthorized", "The request does not carry aeg-sas-key, aeg-sas-token or a bearer token."
        )

    async def handle(self, request: web.Request, name: str) -> web.Response:
        if request.method.upper() != "POST":
            return _error(405, "MethodNotAllowed", f"The HTTP method '{request.method}' is not supported.")
        topic = self.topics.get(name.lower())
        if topic is None:
            return _error(404, "NotFound", f"The topic {name} does not exist.")
        auth = self._authenticate(request, topic)
        if isinstance(auth, web.Response):
            return auth
        if not request.query.get("api-version"):
            return _error(400, "BadRequest", "The api-version query parameter is required.")
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != _CLOUDEVENTS:
            return _error(400, "BadRequest", f"This topic accepts {_CLOUDEVENTS}, not {content_type!r}.")
        try:
            events: Any = json.loads(await request.text())
        except ValueError as exc:
            return _error(400, "BadRequest", f"The request body is not JSON: {exc}")
        if not isinstance(events, list) or not events:
            return _error(400, "BadRequest", "The request body must be a non-empty array of CloudEvents.")
        for i, event in enumerate(events):
            if not isinstance(event, dict):
                return _error(400, "BadRequest", f"Event {i} is not an object.")
            missing = [f for f in _REQUIRED if not event.get(f)]
            if missing:
                return _error(400, "BadRequest", f"Event {i} lacks required attribute(s) {missing}.")
            if event["specversion"] != "1.0":
                return _error(400, "BadRequest", f"Event {i}: specversion must be '1.0'.")
        method, principal = auth
        received = time.time()
        for event in events:
            self.published.append(
                {
                    "topic": str(topic["name"]),
                    "auth": method,
                    "principal": principal,
                    "received_at": received,
                    "event": event,
                }
            )
        return web.Response(status=200)
