"""Microsoft.KubernetesConfiguration extensions on managed clusters (PUT is long-running)."""

from __future__ import annotations

import copy
import uuid

from aiohttp import web

from localdev.azure_sim import shapes
from localdev.azure_sim.context import Ctx, json_response
from localdev.azure_sim.errors import ArmError, bad_request, not_found
from localdev.azure_sim.paging import page
from localdev.azure_sim.router import Router
from localdev.azure_sim.routes.common import lro_headers, new_operation, operation_status, retry_hint
from localdev.azure_sim.routes.containerservice import CLUSTER, require_cluster
from localdev.azure_sim.store import Json

NS = "Microsoft.KubernetesConfiguration"
EXTENSIONS = CLUSTER + "/providers/Microsoft.KubernetesConfiguration/extensions"
TYPE = "Microsoft.KubernetesConfiguration/extensions"


def _ext_id(cluster: Json, name: str) -> str:
    return f"{shapes.child_base(cluster['id'])}/providers/{NS}/extensions/{name}"


async def list_extensions(ctx: Ctx) -> web.Response:
    cl = require_cluster(ctx)
    return page(ctx, ctx.store.children(f"{cl['id']}/providers/{NS}/extensions"))


async def extension(ctx: Ctx) -> web.Response:
    cl = require_cluster(ctx)
    name = ctx.params["extension"]
    rid = _ext_id(cl, name)
    existing = ctx.store.get(rid)
    method = ctx.request.method
    if method == "GET":
        if existing is None:
            raise not_found(TYPE, name, ctx.params["rg"])
        return json_response(existing)
    if method == "DELETE":
        if existing is None:
            return web.Response(status=204)
        ctx.store.delete(rid)
        ctx.event_subject = existing["id"]
        return web.Response(status=200)
    if ctx.store.provider(ctx.params["s"], NS).state != "Registered":
        raise ArmError(
            409,
            "MissingSubscriptionRegistration",
            f"The subscription is not registered to use namespace '{NS}'. See https://aka.ms/rps-not-found "
            "for how to register subscriptions.",
        )
    body = ctx.body()
    props = dict(body.get("properties") or {})
    if method == "PUT" and existing is None and not props.get("extensionType"):
        raise bad_request("InvalidParameter", "properties.extensionType is required.")
    if existing is not None:
        new = copy.deepcopy(existing)
        new_props = new["properties"]
        for key, value in props.items():
            if key in ("aksAssignedIdentity", "provisioningState", "statuses", "currentVersion"):
                continue
            if key == "configurationSettings" and method == "PATCH" and isinstance(value, dict):
                new_props.setdefault("configurationSettings", {}).update(value)
            else:
                new_props[key] = value
        new_props["provisioningState"] = "Updating"
    else:
        principal = str(uuid.uuid4())
        new = shapes.extension(cl["id"], ctx.store.tenant, {"name": name, "principal_id": principal})
        new["properties"]["configurationSettings"] = {}
        for key, value in props.items():
            if key not in ("aksAssignedIdentity", "provisioningState", "statuses", "currentVersion"):
                new["properties"][key] = value
        new["properties"]["extensionType"] = str(props["extensionType"])
        new["properties"]["provisioningState"] = "Creating"
        new["properties"]["aksAssignedIdentity"] = None  # null until created (recorded)
        ctx.store.extension_principals[rid.lower()] = principal
        ctx.store.add_principal(principal, display_name=f"{name}-identity")
    for key in ("identity", "plan"):
        if key in body:
            new[key] = body[key]
    ctx.store.put(new)
    ctx.event_subject = new["id"]
    op = new_operation(ctx, new["id"])
    url = f"{new['id']}/operations/{op.id}"
    return json_response(new, status=200 if existing else 201, headers=lro_headers(ctx, url))


async def extension_operation(ctx: Ctx) -> web.Response:
    cl = require_cluster(ctx)
    op, status = operation_status(ctx, ctx.params["op"])
    if status["status"] == "Succeeded":
        ext = ctx.store.get(_ext_id(cl, ctx.params["extension"]))
        if ext is not None and ext["properties"].get("provisioningState") in ("Creating", "Updating"):
            ext["properties"]["provisioningState"] = "Succeeded"
            principal = ctx.store.extension_principals.pop(str(ext["id"]).lower(), None)
            if principal and not ext["properties"].get("aksAssignedIdentity"):
                ext["properties"]["aksAssignedIdentity"] = {
                    "principalId": principal,
                    "tenantId": None,
                    "type": None,
                }
    return json_response(status, headers=retry_hint(ctx))


def register(router: Router) -> None:
    router.add("GET", EXTENSIONS, list_extensions)
    router.add("GET PUT PATCH DELETE", EXTENSIONS + "/{extension}", extension)
    router.add("GET", EXTENSIONS + "/{extension}/operations/{op}", extension_operation)
