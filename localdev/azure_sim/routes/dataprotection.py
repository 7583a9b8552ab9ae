"""Microsoft.DataProtection: backup vaults, backup policies, backup instances and the
extension-routing list of a resource's backup instances."""

from __future__ import annotations

from aiohttp import web

from localdev.azure_sim import shapes
from localdev.azure_sim.context import Ctx, json_response
from localdev.azure_sim.errors import not_found
from localdev.azure_sim.paging import page
from localdev.azure_sim.router import Router
from localdev.azure_sim.routes.common import require_resource, require_rg, require_scope, require_sub, rg_path
from localdev.azure_sim.store import Json

VAULTS = "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.DataProtection/backupVaults"
VAULT = VAULTS + "/{vault}"
TYPE = "Microsoft.DataProtection/backupVaults"


def require_vault(ctx: Ctx) -> Json:
    require_rg(ctx)
    rid = f"{rg_path(ctx)}/providers/{TYPE}/{ctx.params['vault']}"
    return require_resource(ctx, rid, TYPE, ctx.params["vault"])


async def list_by_sub(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    return page(ctx, ctx.store.by_type(shapes.VAULT_TYPE, sub=ctx.params["s"]))


async def list_by_rg(ctx: Ctx) -> web.Response:
    rg = require_rg(ctx)
    return page(ctx, ctx.store.by_type(shapes.VAULT_TYPE, rg=rg["id"]))


async def get_vault(ctx: Ctx) -> web.Response:
    return json_response(require_vault(ctx))


async def list_policies(ctx: Ctx) -> web.Response:
    vault = require_vault(ctx)
    return page(ctx, ctx.store.children(f"{vault['id']}/backupPolicies"))


async def get_policy(ctx: Ctx) -> web.Response:
    vault = require_vault(ctx)
    body = ctx.store.get(f"{vault['id']}/backupPolicies/{ctx.params['policy']}")
    if body is None:
        raise not_found(f"{TYPE}/backupPolicies", ctx.params["policy"], ctx.params["rg"])
    return json_response(body)


async def list_instances(ctx: Ctx) -> web.Response:
    vault = require_vault(ctx)
    return page(ctx, ctx.store.children(f"{vault['id']}/backupInstances"))


async def get_instance(ctx: Ctx) -> web.Response:
    vault = require_vault(ctx)
    body = ctx.store.get(f"{vault['id']}/backupInstances/{ctx.params['instance']}")
    if body is None:
        raise not_found(f"{TYPE}/backupInstances", ctx.params["instance"], ctx.params["rg"])
    return json_response(body)


async def list_for_resource(ctx: Ctx) -> web.Response:
    scope = ctx.params["scope"]
    require_scope(ctx, scope)
    if ctx.store.get(scope) is None:
        parts = scope.rstrip("/").split("/")
        raise not_found("/".join(parts[-4:-2]) if len(parts) > 4 else "resource", parts[-1])
    keys = ctx.store.bi_by_cluster.get(scope.rstrip("/").lower(), {})
    return page(ctx, [ctx.store.resources[k] for k in keys if k in ctx.store.resources])


async def list_jobs(ctx: Ctx) -> web.Response:
    """All jobs of the vault, oldest first, paged; no server-side filter (as Azure)."""
    vault = require_vault(ctx)
    return page(ctx, ctx.store.children(f"{vault['id']}/backupJobs"))


async def get_job(ctx: Ctx) -> web.Response:
    vault = require_vault(ctx)
    body = ctx.store.get(f"{vault['id']}/backupJobs/{ctx.params['job']}")
    if body is None:
        raise not_found(f"{TYPE}/backupJobs", ctx.params["job"], ctx.params["rg"])
    return json_response(body)


def register(router: Router) -> None:
    router.add("GET", "/subscriptions/{s}/providers/Microsoft.DataProtection/backupVaults", list_by_sub)
    router.add("GET", VAULTS, list_by_rg)
    router.add("GET", VAULT, get_vault)
    router.add("GET", VAULT + "/backupPolicies", list_policies)
    router.add("GET", VAULT + "/backupPolicies/{policy}", get_policy)
    router.add("GET", VAULT + "/backupInstances", list_instances)
    router.add("GET", VAULT + "/backupInstances/{instance}", get_instance)
    router.add("GET", VAULT + "/backupJobs", list_jobs)
    router.add("GET", VAULT + "/backupJobs/{job}", get_job)
    router.add("GET", "{scope}/providers/Microsoft.DataProtection/backupInstances", list_for_resource)
