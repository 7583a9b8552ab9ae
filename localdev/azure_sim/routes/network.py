"""Microsoft.Network: virtual networks, subnets and network security groups (GET and list)."""

from __future__ import annotations

from aiohttp import web

from localdev.azure_sim.context import Ctx, json_response
from localdev.azure_sim.errors import not_found
from localdev.azure_sim.paging import page
from localdev.azure_sim.router import Router
from localdev.azure_sim.routes.common import require_rg, require_sub, rg_path

NET = "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network"


def _rid(ctx: Ctx, rest: str) -> str:
    return f"{rg_path(ctx)}/providers/Microsoft.Network/{rest}"


async def get_vnet(ctx: Ctx) -> web.Response:
    require_rg(ctx)
    body = ctx.store.get(_rid(ctx, f"virtualNetworks/{ctx.params['vnet']}"))
    if body is None:
        raise not_found("Microsoft.Network/virtualNetworks", ctx.params["vnet"], ctx.params["rg"])
    return json_response(body)


async def list_vnets(ctx: Ctx) -> web.Response:
    rg = require_rg(ctx)
    return page(ctx, ctx.store.by_type("Microsoft.Network/virtualNetworks", rg=rg["id"]))


async def list_subnets(ctx: Ctx) -> web.Response:
    require_rg(ctx)
    vnet_id = _rid(ctx, f"virtualNetworks/{ctx.params['vnet']}")
    if ctx.store.get(vnet_id) is None:
        raise not_found("Microsoft.Network/virtualNetworks", ctx.params["vnet"], ctx.params["rg"])
    return page(ctx, ctx.store.children(f"{vnet_id}/subnets"))


async def get_subnet(ctx: Ctx) -> web.Response:
    require_rg(ctx)
    body = ctx.store.get(_rid(ctx, f"virtualNetworks/{ctx.params['vnet']}/subnets/{ctx.params['subnet']}"))
    if body is None:
        raise not_found("Microsoft.Network/virtualNetworks/subnets", ctx.params["subnet"], ctx.params["rg"])
    expand = ctx.request.query.get("$expand", "").lower()
    nsg_ref = (body.get("properties") or {}).get("networkSecurityGroup")
    if "networksecuritygroup" in expand and isinstance(nsg_ref, dict) and nsg_ref.get("id"):
        # ARM's $expand returns the referenced NSG in full (security rules included).
        nsg = ctx.store.get(str(nsg_ref["id"]))
        if nsg is not None:
            body = {**body, "properties": {**body["properties"], "networkSecurityGroup": nsg}}
    return json_response(body)


async def get_nsg(ctx: Ctx) -> web.Response:
    require_rg(ctx)
    body = ctx.store.get(_rid(ctx, f"networkSecurityGroups/{ctx.params['nsg']}"))
    if body is None:
        raise not_found("Microsoft.Network/networkSecurityGroups", ctx.params["nsg"], ctx.params["rg"])
    return json_response(body)


async def list_nsgs(ctx: Ctx) -> web.Response:
    rg = require_rg(ctx)
    return page(ctx, ctx.store.by_type("Microsoft.Network/networkSecurityGroups", rg=rg["id"]))


async def list_vnets_by_sub(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    return page(ctx, ctx.store.by_type("Microsoft.Network/virtualNetworks", sub=ctx.params["s"]))


async def list_nsgs_by_sub(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    return page(ctx, ctx.store.by_type("Microsoft.Network/networkSecurityGroups", sub=ctx.params["s"]))


def register(router: Router) -> None:
    router.add("GET", "/subscriptions/{s}/providers/Microsoft.Network/virtualNetworks", list_vnets_by_sub)
    router.add(
        "GET", "/subscriptions/{s}/providers/Microsoft.Network/networkSecurityGroups", list_nsgs_by_sub
    )
    router.add("GET", NET + "/virtualNetworks", list_vnets)
    router.add("GET", NET + "/virtualNetworks/{vnet}", get_vnet)
    router.add("GET", NET + "/virtualNetworks/{vnet}/subnets", list_subnets)
    router.add("GET", NET + "/virtualNetworks/{vnet}/subnets/{subnet}", get_subnet)
    router.add("GET", NET + "/networkSecurityGroups", list_nsgs)
    router.add("GET", NET + "/networkSecurityGroups/{nsg}", get_nsg)
