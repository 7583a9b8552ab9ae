"""The aiohttp application: one catch-all handler that runs every ARM/data-plane request through
latency, counters, faults, authentication, throttling and RBAC before the route handler, and
records an Event Grid event for each successful mutating ARM call. ``/_sim/`` is the admin API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from typing import Any

from aiohttp import web

from localdev.azure_sim import api_versions, backups, rbac, routes
from localdev.azure_sim.context import Ctx, SimConfig, json_response
from localdev.azure_sim.counters import Counters
from localdev.azure_sim.errors import ArmError
from localdev.azure_sim.events import EventLog, build_event
from localdev.azure_sim.faults import Faults
from localdev.azure_sim.router import Route, Router
from localdev.azure_sim.store import Caller, Store, sub_of
from localdev.azure_sim.throttle import Throttle
from localdev.azure_sim.topics import TEMPLATE as TOPIC_TEMPLATE
from localdev.azure_sim.topics import Topics

log = logging.getLogger(__name__)

MUTATING = ("PUT", "PATCH", "DELETE", "POST")


class Sim:
    def __init__(self, store: Store, config: SimConfig, *, seed: int = 0) -> None:
        self.store = store
        self.config = config
        self.router = Router()
        routes.register_all(self.router)
        self.counters = Counters()
        self.events = EventLog()
        self.faults = Faults(seed)
        self.throttle = Throttle(config.throttle)
        self.topics = Topics(store.eventgrid_topics, store.tokens)

    # ---------------------------------------------------------------------------------
    def app(self) -> web.Application:
        application = web.Application(client_max_size=16 * 1024 * 1024)
        application.router.add_route("*", "/{tail:.*}", self.handle)
        return application

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_sim/") or path == "/_sim":
            return await self.admin(request)
        method = request.method.upper()
        topic = Topics.match(path)
        route, params, path_known = (None, {}, True) if topic else self.router.match(method, path)
        template = f"{method} {route.label}" if route else f"{method} <unmatched>"
        if topic:
            template = f"{method} {TOPIC_TEMPLATE}"
        subscription = (params.get("s") or sub_of(path) or "").lower() or None
        record: dict[str, Any] = {"status": 0, "principal": None, "subscription": subscription}
        started = time.monotonic()
        try:
            response = await self._handle(request, route, params, path_known, record)
            record["status"] = response.status
            return response
        finally:
            self.counters.record(
                method=method,
                path=path,
                template=template,
                subscription=record["subscription"],
                status=record["status"],
                principal=record["principal"],
                data_plane=route is not None and route.data_plane,
                start=started,
                end=time.monotonic(),
            )

    async def _handle(
        self,
        request: web.Request,
        route: Route | None,
        params: dict[str, str],
        path_known: bool,
        record: dict[str, Any],
    ) -> web.StreamResponse:
        method = request.method.upper()
        path = request.path
        correlation = str(uuid.uuid4())
        base_headers = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-correlation-request-id": correlation}
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000.0)
        fault = self.faults.pick(method, request.path)
        if fault is not None:
            if fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000.0)
            if fault.drop:
                if request.transport is not None:
                    request.transport.abort()
                record["status"] = 0
                raise asyncio.CancelledError()
            if fault.status:
                headers = dict(base_headers)
                code = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}.get(
                    fault.status, "InjectedFault"
                )
                if fault.status == 429:
                    code = "SubscriptionRequestsThrottled"
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(int(math.ceil(fault.retry_after)))
                return ArmError(fault.status, code, "Injected fault.", headers).response()
        topic = Topics.match(path)
        if topic:  # Event Grid data plane: its own keys and tokens, no ARM throttling or RBAC
            published = await self.topics.handle(request, topic)
            for key, value in base_headers.items():
                published.headers.setdefault(key, value)
            return published
        data_plane = route is not None and route.data_plane
        caller = self._caller(request)
        if caller is None:
            if data_plane:
                return routes.blob.auth_error(request)
            return self._auth_error(request, base_headers)
        record["principal"] = caller.principal_id
        sub = record["subscription"] or "tenant"
        if data_plane:
            # Storage's data plane is not in ARM's token buckets (it throttles on its own, with 503).
            allowed, kind, remaining, wait = True, "reads", 0, 0.0
            rate_headers: dict[str, str] = {}
        else:
            allowed, kind, remaining, wait = self.throttle.take(sub, caller.principal_id.lower(), method)
            rate_headers = {f"x-ms-ratelimit-remaining-subscription-{kind}": str(remaining)}
        if not allowed:
            retry = max(1, math.ceil(wait))
            return ArmError(
                429,
                "SubscriptionRequestsThrottled",
                f"Number of '{kind[:-1]}' requests for subscription '{sub}' actor '{caller.principal_id}' "
                f"exceeded. Please try again after '{retry}' seconds after the additional tokens are "
                "available. Refer to https://aka.ms/arm-throttling for additional information.",
                {**base_headers, **rate_headers, "Retry-After": str(retry)},
            ).response()
        if route is None:
            if path_known:
                err = ArmError(405, "HttpMethodNotAllowed", f"The HTTP method '{method}' is not supported.")
            else:
                err = ArmError(400, "InvalidResourceType", f"The simulator does not serve '{method} {path}'.")
            err.headers.update({**base_headers, **rate_headers})
            return err.response()
        if not data_plane:
            try:
                api_versions.check(path, request.query.get("api-version"))
            except ArmError as err:
                err.headers.update({**base_headers, **rate_headers})
                return err.response()
        ctx = Ctx(request=request, params=params, store=self.store, config=self.config, caller=caller)
        if request.can_read_body:
            ctx.body_text = await request.text()
        try:
            if not data_plane and not getattr(route.handler, "self_authorizes", False):
                rbac.require(ctx, self._action(method, route, params), path)
            response = await route.handler(ctx)
        except ArmError as err:
            record["subscription"] = ctx.extra.get("subscription", record["subscription"])
            err.headers.update({**base_headers, **rate_headers})
            return err.response()
        record["subscription"] = ctx.extra.get("subscription", record["subscription"])
        for key, value in {**base_headers, **rate_headers}.items():
            response.headers.setdefault(key, value)
        if method in MUTATING and 200 <= response.status < 300 and not data_plane:
            self._event(ctx, correlation)
        return response

    def _caller(self, request: web.Request) -> Caller | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.store.tokens.get(token.strip())

    @staticmethod
    def _auth_error(request: web.Request, headers: dict[str, str]) -> web.Response:
        if "Authorization" not in request.headers:
            code, message = (
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        else:
            code, message = "InvalidAuthenticationToken", "The access token is invalid."
        return ArmError(401, code, message, dict(headers)).response()

    def _event(self, ctx: Ctx, correlation: str) -> None:
        method = ctx.request.method.upper()
        subject = ctx.event_subject or ctx.request.path.rstrip("/")
        operation = str(ctx.extra.get("operation") or rbac.action_for(method, ctx.request.path))
        self.events.append(
            build_event(
                method=method,
                subject=subject,
                subscription_id=sub_of(subject) or ctx.params.get("s", ""),
                tenant_id=self.store.tenant,
                operation=operation,
                principal_id=ctx.caller.principal_id,
                evidence=dict(ctx.extra.get("evidence") or {}),
                correlation_id=correlation,
                client_request_id=ctx.request.headers.get("x-ms-client-request-id", ""),
                url=str(ctx.request.url),
            )
        )

    @staticmethod
    def _action(method: str, route: Route, params: dict[str, str]) -> str:
        """The RBAC action, from the route template so that type names have ARM's casing."""
        template = route.template.replace("{namespace}", params.get("namespace", ""))
        return rbac.action_for(method, template)

    # admin API -------------------------------------------------------------------------
    async def admin(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/")
        method = request.method.upper()
        if path == "/_sim/requests" and method == "GET":
            return json_response(
                self.counters.snapshot(log=request.query.get("log", "1") not in ("0", "false"))
            )
        if path == "/_sim/reset-counters" and method == "POST":
            self.counters.reset()
            return json_response({"ok": True})
        if path == "/_sim/faults" and method == "POST":
            body = json.loads(await request.text() or "{}")
            self.faults.set(list(body.get("rules", [])))
            return json_response({"ok": True, "rules": len(self.faults.rules)})
        if path == "/_sim/faults" and method == "DELETE":
            self.faults.clear()
            return json_response({"ok": True})
        if path == "/_sim/events" and method == "GET":
            return json_response(self.events.since(int(request.query.get("since", "0") or 0)))
        if path == "/_sim/reset-events" and method == "POST":
            self.events.reset()
            return json_response({"ok": True})
        if path == "/_sim/published" and method == "GET":
            return json_response(self.topics.published[int(request.query.get("since", "0") or 0) :])
        if path == "/_sim/reset-published" and method == "POST":
            self.topics.reset()
            return json_response({"ok": True})
        if path == "/_sim/run-backups" and method == "POST":
            body = json.loads(await request.text() or "{}")
            jobs = backups.run_backups(self.store, only=body.get("backup_instance_id"))
            return json_response({"jobs": backups.summary(jobs)})
        if path == "/_sim/settle" and method == "POST":
            self.store.settle_all()
            return json_response({"ok": True})
        if path == "/_sim/state" and method == "GET":
            rid = request.query.get("id", "")
            parts = rid.strip("/").split("/")
            body = self.store.get(rid)
            if body is None and len(parts) == 2 and parts[0].lower() == "subscriptions":
                body = self.store.subscription(parts[1])
            if body is None:
                return json_response({"error": {"code": "NotFound", "message": rid}}, status=404)
            return json_response(body)
        if path.startswith("/_sim/principals/") and path.endswith("/replicate") and method == "POST":
            principal = path.split("/")[3]
            if not self.store.replicate(principal):
                return json_response({"error": {"code": "NotFound", "message": principal}}, status=404)
            return json_response({"ok": True})
        return json_response({"error": {"code": "NotFound", "message": path}}, status=404)
