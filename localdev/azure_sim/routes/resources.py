"""Microsoft.Resources: subscriptions, resource providers, resource groups."""

from __future__ import annotations

import re
import time

from aiohttp import web

from localdev.azure_sim import shapes
from localdev.azure_sim.context import Ctx, json_response
from localdev.azure_sim.errors import ArmError, bad_request, rg_not_found
from localdev.azure_sim.paging import page
from localdev.azure_sim.router import Router
from localdev.azure_sim.routes.common import require_sub
from localdev.azure_sim.store import Json, is_at_or_above

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


def _tagged(ctx: Ctx, scope: str) -> Json:
    """The body holding ``tags`` for a Tags API scope: a subscription, resource group or resource."""
    parts = [p for p in scope.split("/") if p]
    if len(parts) == 2 and parts[0].lower() == "subscriptions":
        return require_sub(ctx, parts[1])
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        require_sub(ctx, parts[1])
    if len(parts) == 4 and parts[2].lower() == "resourcegroups":
        found = ctx.store.resource_group(parts[1], parts[3])
        if found is None:
            raise rg_not_found(parts[3])
        return found
    found = ctx.store.get(scope)
    if found is None:
        raise ArmError(404, "ResourceNotFound", f"The Resource '{scope}' was not found.")
    return found


def _tags_body(scope: str, tags: dict[str, str]) -> Json:
    return {
        "id": f"{scope}/providers/Microsoft.Resources/tags/default",
        "name": "default",
        "type": "Microsoft.Resources/tags",
        "properties": {"tags": dict(tags)},
    }


async def tags_at_scope(ctx: Ctx) -> web.Response:
    """Tags API (``{scope}/providers/Microsoft.Resources/tags/default``): GET, PUT (replace) and PATCH
    with ``operation`` Merge, Replace or Delete, as ``az tag update`` sends it."""
    scope = "/" + ctx.params["scope"].strip("/")
    body = _tagged(ctx, scope)
    tags: dict[str, str] = dict(body.get("tags") or {})
    method = ctx.request.method
    if method != "GET":
        request = ctx.body()
        given = (request.get("properties") or {}).get("tags") or {}
        if not isinstance(given, dict):
            raise bad_request("InvalidRequestContent", "properties.tags must be an object")
        operation = str(request.get("operation") or "Replace").lower() if method == "PATCH" else "replace"
        if operation == "merge":
            tags = {**{k: v for k, v in tags.items() if k.lower() not in {g.lower() for g in given}}, **given}
        elif operation == "delete":
            tags = {k: v for k, v in tags.items() if k.lower() not in {g.lower() for g in given}}
        elif operation == "replace":
            tags = dict(given)
        else:
            raise bad_request("InvalidRequestContent", f"Unknown tag operation '{request.get('operation')}'.")
        too_long = [k for k, v in tags.items() if len(str(v)) > 256 or len(k) > 512]
        if too_long:
            raise bad_request(
                "InvalidTagNameOrValue",
                f"The tag name or value '{too_long[0]}' exceeds the limit: tag names are limited to 512 "
                "characters and values to 256.",
            )
        body["tags"] = tags
    return json_response(_tags_body(scope, tags))


def register(router: Router) -> None:
    router.add("GET PUT PATCH", "{scope}/providers/Microsoft.Resources/tags/default", tags_at_scope)
    router.add("GET", "/subscriptions", list_subscriptions)
    router.add("GET", "/subscriptions/{s}", get_subscription)
    router.add("GET", "/subscriptions/{s}/providers", list_providers)
    router.add("GET", "/subscriptions/{s}/providers/{namespace}", get_provider)
    router.add("POST", "/subscriptions/{s}/providers/{namespace}/register", register_provider)
    router.add("GET", "/subscriptions/{s}/resourceGroups", list_rgs)
    router.add("GET PUT HEAD", "/subscriptions/{s}/resourceGroups/{rg}", rg)
