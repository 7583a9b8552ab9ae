"""Microsoft.Resources: subscriptions, resource providers, resource groups."""

from __future__ import annotations

import re
import time

from aiohttp import web

from localdev.azure_sim import shapes
from localdev.azure_sim.context import Ctx, json_response
from localdev.azure_sim.errors import ArmError, bad_request, not_found, rg_not_found
from localdev.azure_sim.paging import page
from localdev.azure_sim.router import Router
from localdev.azure_sim.routes.common import require_sub
from localdev.azure_sim.store import is_at_or_above

KNOWN_PROVIDERS = (
    "Microsoft.Authorization",
    "Microsoft.Compute",
    "Microsoft.ContainerService",
    "Microsoft.DataProtection",
    "Microsoft.KubernetesConfiguration",
    "Microsoft.ManagedIdentity",
    "Microsoft.Network",
    "Microsoft.PolicyInsights",
    "Microsoft.Resources",
    "Microsoft.Storage",
)
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+$")


async def list_subscriptions(ctx: Ctx) -> web.Response:
    """Restricted callers (the Guard) see the subscriptions where they hold some role assignment."""
    subs = list(ctx.store.subscriptions.values())
    if ctx.caller.restricted:
        me = ctx.caller.principal_id.lower()
        scopes = [str(ra["properties"]["scope"]) for ra in ctx.store.role_assignments(principal=me)]
        subs = [s for s in subs if any(_related(scope, str(s["id"])) for scope in scopes)]
    return page(ctx, subs)


list_subscriptions.self_authorizes = True  # type: ignore[attr-defined]


def _related(scope: str, sub_id: str) -> bool:
    return is_at_or_above("" if scope == "/" else scope, sub_id) or is_at_or_above(sub_id, scope)


async def get_subscription(ctx: Ctx) -> web.Response:
    return json_response(require_sub(ctx))


def _provider_body(ctx: Ctx, namespace: str) -> dict[str, object]:
    if not _NAMESPACE.match(namespace):
        raise ArmError(404, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid.")
    prov = ctx.store.provider(ctx.params["s"], namespace)
    sub = str(require_sub(ctx)["subscriptionId"])
    return shapes.provider(sub, prov.namespace, prov.state)


async def list_providers(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    names = {n.lower(): n for n in KNOWN_PROVIDERS}
    for sub, ns in ctx.store.providers:
        if sub == ctx.params["s"].lower():
            names.setdefault(ns, ctx.store.providers[(sub, ns)].namespace)
    return page(ctx, [_provider_body(ctx, n) for _, n in sorted(names.items())])


async def get_provider(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    return json_response(_provider_body(ctx, ctx.params["namespace"]))


async def register_provider(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    prov = ctx.store.provider(ctx.params["s"], ctx.params["namespace"])
    if prov.state != "Registered":
        prov.state = "Registering"
        prov.registering_since = time.monotonic()
    ctx.event_subject = f"/subscriptions/{ctx.params['s']}/providers/{prov.namespace}"
    return json_response(_provider_body(ctx, prov.namespace))


async def list_rgs(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    return page(ctx, ctx.store.children(f"/subscriptions/{ctx.params['s']}/resourcegroups"))


async def rg(ctx: Ctx) -> web.StreamResponse:
    require_sub(ctx)
    sub, name = ctx.params["s"], ctx.params["rg"]
    existing = ctx.store.resource_group(sub, name)
    method = ctx.request.method
    if method == "GET":
        if existing is None:
            raise rg_not_found(name)
        return json_response(existing)
    if method == "HEAD":
        return web.Response(status=204 if existing else 404)
    body = ctx.body()
    if not body.get("location"):
        raise bad_request("LocationRequired", "The location property is required for this definition.")
    canonical = str(require_sub(ctx)["subscriptionId"])
    new = shapes.resource_group(
        canonical, existing["name"] if existing else name, str(body["location"]), body.get("tags")
    )
    if existing:
        new["id"] = existing["id"]
    ctx.store.put(new)
    ctx.event_subject = new["id"]
    return json_response(new, status=200 if existing else 201)


UAMI = (
    "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
)


async def user_assigned_identity(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    rid = (
        f"/subscriptions/{ctx.params['s']}/resourceGroups/{ctx.params['rg']}/providers/"
        f"Microsoft.ManagedIdentity/userAssignedIdentities/{ctx.params['name']}"
    )
    body = ctx.store.get(rid)
    if body is None:
        raise not_found(
            "Microsoft.ManagedIdentity/userAssignedIdentities", ctx.params["name"], ctx.params["rg"]
        )
    return json_response(body)


def register(router: Router) -> None:
    router.add("GET", UAMI, user_assigned_identity)
    router.add("GET", "/subscriptions", list_subscriptions)
    router.add("GET", "/subscriptions/{s}", get_subscription)
    router.add("GET", "/subscriptions/{s}/providers", list_providers)
    router.add("GET", "/subscriptions/{s}/providers/{namespace}", get_provider)
    router.add("POST", "/subscriptions/{s}/providers/{namespace}/register", register_provider)
    router.add("GET", "/subscriptions/{s}/resourceGroups", list_rgs)
    router.add("GET PUT HEAD", "/subscriptions/{s}/resourceGroups/{rg}", rg)
