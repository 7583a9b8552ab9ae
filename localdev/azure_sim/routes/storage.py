"""Microsoft.Storage: storage accounts (GET/list/PATCH) and ARM blob containers (GET/list)."""

from __future__ import annotations

import copy

from aiohttp import web

from localdev.azure_sim.context import Ctx, json_response
from localdev.azure_sim.errors import ArmError, not_found
from localdev.azure_sim.paging import page
from localdev.azure_sim.router import Router
from localdev.azure_sim.routes.common import require_rg, require_sub, rg_path
from localdev.azure_sim.store import Json

ACCOUNTS = "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts"
ACCOUNT = ACCOUNTS + "/{account}"
TYPE = "Microsoft.Storage/storageAccounts"


def require_account(ctx: Ctx) -> Json:
    require_rg(ctx)
    rid = f"{rg_path(ctx)}/providers/{TYPE}/{ctx.params['account']}"
    body = ctx.store.get(rid)
    if body is None:
        raise not_found(TYPE, ctx.params["account"], ctx.params["rg"])
    return body


async def list_by_sub(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    return page(ctx, ctx.store.by_type(TYPE, sub=ctx.params["s"]))


async def list_by_rg(ctx: Ctx) -> web.Response:
    rg = require_rg(ctx)
    return page(ctx, ctx.store.by_type(TYPE, rg=rg["id"]))


async def account(ctx: Ctx) -> web.Response:
    existing = require_account(ctx)
    if ctx.request.method == "GET":
        return json_response(existing)
    body = ctx.body()
    updated = copy.deepcopy(existing)
    for key, value in body.items():
        if key == "properties" and isinstance(value, dict):
            for prop, prop_value in value.items():
                if prop in ("provisioningState", "primaryEndpoints", "privateEndpointConnections"):
                    continue
                updated["properties"][prop] = prop_value
        elif key in ("tags", "sku", "kind", "identity"):
            updated[key] = value
    ctx.store.put(updated)
    ctx.event_subject = updated["id"]
    return json_response(updated)


async def list_containers(ctx: Ctx) -> web.Response:
    acct = require_account(ctx)
    return page(ctx, ctx.store.children(f"{acct['id']}/blobServices/default/containers"))


async def container(ctx: Ctx) -> web.Response:
    acct = require_account(ctx)
    body = ctx.store.get(f"{acct['id']}/blobServices/default/containers/{ctx.params['container']}")
    if body is None:
        raise ArmError(404, "ContainerNotFound", "The specified container does not exist.")
    return json_response(body)


def register(router: Router) -> None:
    router.add("GET", "/subscriptions/{s}/providers/Microsoft.Storage/storageAccounts", list_by_sub)
    router.add("GET", ACCOUNTS, list_by_rg)
    router.add("GET PATCH", ACCOUNT, account)
    router.add("GET", ACCOUNT + "/blobServices/default/containers", list_containers)
    router.add("GET", ACCOUNT + "/blobServices/default/containers/{container}", container)
