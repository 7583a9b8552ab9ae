"""Microsoft.ContainerService: managed clusters (GET/list/PUT/PATCH), trusted access role
bindings, run command (LRO via Location to commandResults) and cluster operation status."""

from __future__ import annotations

import copy
import uuid

from aiohttp import web

from localdev.azure_sim import shapes
from localdev.azure_sim.context import Ctx, json_response
from localdev.azure_sim.errors import bad_request, not_found
from localdev.azure_sim.events import now_iso
from localdev.azure_sim.paging import page
from localdev.azure_sim.router import Router
from localdev.azure_sim.routes.common import (
    lro_headers,
    new_operation,
    operation_status,
    require_resource,
    require_rg,
    require_sub,
    retry_hint,
    rg_path,
)
from localdev.azure_sim.store import Json

MC = "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters"
CLUSTER = MC + "/{name}"
TYPE = "Microsoft.ContainerService/managedClusters"
_READ_ONLY = (
    "currentKubernetesVersion",
    "fqdn",
    "azurePortalFQDN",
    "powerState",
    "identityProfile",
    "nodeResourceGroup",
)


def cluster_id(ctx: Ctx) -> str:
    return f"{rg_path(ctx)}/providers/{TYPE}/{ctx.params['name']}"


def require_cluster(ctx: Ctx) -> Json:
    require_rg(ctx)
    return require_resource(ctx, cluster_id(ctx), TYPE, ctx.params["name"])


async def list_by_sub(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    return page(ctx, ctx.store.by_type(TYPE, sub=ctx.params["s"]))


async def list_by_rg(ctx: Ctx) -> web.Response:
    rg = require_rg(ctx)
    return page(ctx, ctx.store.by_type(TYPE, rg=rg["id"]))


async def cluster(ctx: Ctx) -> web.Response:
    method = ctx.request.method
    if method == "GET":
        return json_response(require_cluster(ctx))
    rg = require_rg(ctx)
    existing = ctx.store.get(cluster_id(ctx))
    if method == "DELETE":
        return _delete_cluster(ctx, existing)
    body = ctx.body()
    if method == "PATCH":
        if existing is None:
            raise not_found(TYPE, ctx.params["name"], ctx.params["rg"])
        updated = copy.deepcopy(existing)
        for key, value in body.items():
            if key == "properties" and isinstance(value, dict):
                updated.setdefault("properties", {}).update(value)
            elif key not in ("id", "name", "type"):
                updated[key] = value
        ctx.store.put(updated)
        ctx.event_subject = cluster_id(ctx)  # ARM's events carry the request's spelling
        return json_response(updated)
    if not body.get("location"):
        raise bad_request("InvalidParameter", "The value of parameter location is invalid.")
    new = copy.deepcopy(body)
    rid = (
        existing["id"]
        if existing
        else shapes.cluster_id(rg["id"].split("/")[2], rg["name"], ctx.params["name"])
    )
    new.update(
        {"id": rid, "name": rid.rsplit("/", 1)[-1], "type": "Microsoft.ContainerService/ManagedClusters"}
    )
    props = new.setdefault("properties", {})
    if existing is not None:
        old_props = existing.get("properties", {})
        for key in _READ_ONLY:
            if key in old_props and key not in props:
                props[key] = old_props[key]
        old_identity = existing.get("identity") or {}
        identity = new.get("identity")
        if isinstance(identity, dict) and identity.get("type") == old_identity.get("type"):
            for key in ("principalId", "tenantId"):
                if key in old_identity:
                    identity.setdefault(key, old_identity[key])
    elif isinstance(new.get("identity"), dict) and new["identity"].get("type") == "SystemAssigned":
        new["identity"].setdefault("principalId", str(uuid.uuid4()))
        new["identity"].setdefault("tenantId", ctx.store.tenant)
        ctx.store.add_principal(new["identity"]["principalId"])
    if "kubernetesVersion" in props and "currentKubernetesVersion" not in props:
        props["currentKubernetesVersion"] = props["kubernetesVersion"]
    props["provisioningState"] = "Succeeded"
    ctx.store.put(new)
    ctx.event_subject = cluster_id(ctx)
    op = new_operation(ctx, rid)
    location = _loc(new)
    url = (
        f"/subscriptions/{ctx.params['s']}/providers/Microsoft.ContainerService/locations/{location}"
        f"/operations/{op.id}"
    )
    answer = copy.deepcopy(new)
    answer["properties"]["provisioningState"] = "Updating" if existing else "Creating"
    return json_response(answer, status=200 if existing else 201, headers=lro_headers(ctx, url))


async def cluster_operation(ctx: Ctx) -> web.Response:
    require_sub(ctx)
    _, status = operation_status(ctx, ctx.params["op"])
    return json_response(status, headers=retry_hint(ctx))


def _delete_cluster(ctx: Ctx, existing: Json | None) -> web.Response:
    """202 + async operation; the cluster and its child resources (bindings, extensions) go at once.
    Backup instances that protect it stay, as in Azure."""
    if existing is None:
        return web.Response(status=204)
    prefix = existing["id"].lower() + "/"
    for key in [k for k in ctx.store.resources if k.startswith(prefix)]:
        ctx.store.delete(key)
    ctx.store.delete(existing["id"])
    ctx.event_subject = cluster_id(ctx)
    op = new_operation(ctx, existing["id"], polls=0)
    base = f"/subscriptions/{ctx.params['s']}/providers/Microsoft.ContainerService/locations/{_loc(existing)}"
    headers = lro_headers(ctx, f"{base}/operations/{op.id}")
    headers["Location"] = f"{ctx.base_url}{base}/operationresults/{op.id}?api-version={ctx.api_version()}"
    return web.Response(status=202, headers=headers)


def _loc(body: Json) -> str:
    return str(body.get("location", "westeurope")).replace(" ", "").lower()


async def operation_result(ctx: Ctx) -> web.Response:
    """Location polling of a finished delete: 204 No Content."""
    require_sub(ctx)
    if ctx.params["op"] not in ctx.store.operations:
        raise not_found("Microsoft.ContainerService/locations/operationresults", ctx.params["op"])
    return web.Response(status=204)


def _binding_id(ctx: Ctx, base: str) -> str:
    return f"{shapes.child_base(base)}/trustedAccessRoleBindings/{ctx.params['binding']}"


def _settle(ctx: Ctx, binding: Json) -> Json:
    """A binding written as ``Updating`` reads ``Succeeded`` once its settle time is over (as AKS
    answers a PUT with Updating and lists Succeeded later; recorded)."""
    props = binding.get("properties") or {}
    if props.get("provisioningState") == "Updating" and ctx.store.settled(binding["id"]):
        props["provisioningState"] = "Succeeded"
    return binding


def _binding_not_found(ctx: Ctx) -> web.Response:
    """AKS's own flat error body (no ``error`` wrapper), as recorded."""
    message = (
        f"Could not find the trusted access role binding {ctx.params['binding']} in subscription: "
        f"{ctx.params['s']}, resourceGroup: {ctx.params['rg']}, clusterName: {ctx.params['name']}."
    )
    body = {"code": "NotFound", "message": message, "subcode": "GetTrustedAccessRoleBinding_NotFound"}
    return json_response(body, status=404)


async def list_bindings(ctx: Ctx) -> web.Response:
    body = require_cluster(ctx)
    return page(ctx, [_settle(ctx, b) for b in ctx.store.children(f"{body['id']}/trustedAccessRoleBindings")])


async def binding(ctx: Ctx) -> web.Response:
    cl = require_cluster(ctx)
    rid = _binding_id(ctx, cl["id"])
    existing = ctx.store.get(rid)
    method = ctx.request.method
    if method == "GET":
        if existing is None:
            return _binding_not_found(ctx)
        return json_response(_settle(ctx, existing))
    if method == "DELETE":
        if existing is None:
            return web.Response(status=204)
        ctx.store.delete(rid)
        ctx.event_subject = existing["id"]
        op = new_operation(ctx, rid, polls=0)
        base = f"/subscriptions/{ctx.params['s']}/providers/Microsoft.ContainerService/locations/{_loc(cl)}"
        headers = lro_headers(ctx, f"{base}/operations/{op.id}")
        headers["Location"] = f"{ctx.base_url}{base}/operationresults/{op.id}?api-version={ctx.api_version()}"
        return web.Response(status=202, headers=headers)
    props = ctx.body().get("properties") or {}
    source = props.get("sourceResourceId")
    roles = props.get("roles")
    if not source or not isinstance(roles, list) or not roles:
        raise bad_request(
            "InvalidParameter", "properties.sourceResourceId and properties.roles are required."
        )
    if (
        existing is not None
        and str(existing["properties"]["sourceResourceId"]).lower() != str(source).lower()
    ):
        raise bad_request(
            "InvalidParameter", "sourceResourceId of a trusted access role binding cannot be changed."
        )
    new = shapes.trusted_access_binding(
        cl["id"],
        existing["name"] if existing else ctx.params["binding"],
        str(source),
        [str(r) for r in roles],
        "Updating",
    )
    ctx.store.put(new)
    ctx.store.start_pending(new["id"], ctx.config.settle_seconds)
    ctx.event_subject = new["id"]
    return json_response(new, status=200 if existing else 201, headers=retry_hint(ctx))


async def run_command(ctx: Ctx) -> web.Response:
    cl = require_cluster(ctx)
    command = str(ctx.body().get("command") or "")
    if not command:
        raise bad_request("InvalidParameter", "The command must not be empty.")
    spec = ctx.store.run_commands.get(cl["id"].lower()) or {}
    op = new_operation(ctx, cl["id"])
    command_id = op.id
    op.extra = {
        "command": command,
        "logs": str(spec.get("output", "")),
        "exitCode": int(spec.get("exit_code", 0)),
        "startedAt": now_iso(),
    }
    ctx.event_subject = f"{cluster_id(ctx)}/runCommand"
    return web.Response(status=202, headers={"Location": _command_location(ctx, cl, command_id)})


def _command_location(ctx: Ctx, cl: Json, command_id: str) -> str:
    """AKS's Location for a command: ``resourceGroups`` as asked but ``managedclusters`` in lower
    case, and no Retry-After (recorded)."""
    path = (
        f"/subscriptions/{ctx.params['s']}/resourceGroups/{ctx.params['rg']}/providers/"
        f"Microsoft.ContainerService/managedclusters/{cl['name']}/commandResults/{command_id}"
    )
    return f"{ctx.base_url}{path}?api-version={ctx.api_version()}"


async def command_result(ctx: Ctx) -> web.Response:
    cl = require_cluster(ctx)
    op = ctx.store.operations.get(ctx.params["command"])
    if op is None or op.resource_id != cl["id"].lower():
        raise not_found(f"{TYPE}/commandResults", ctx.params["command"], ctx.params["rg"])
    if op.polls > 0:
        op.polls -= 1
        return json_response(
            {"id": ctx.params["command"], "properties": {"provisioningState": "Running"}},
            status=202,
            headers={"Location": _command_location(ctx, cl, ctx.params["command"])},
        )
    return json_response(
        {
            "id": ctx.params["command"],
            "properties": {
                "provisioningState": "Succeeded",
                "exitCode": op.extra.get("exitCode", 0),
                "startedAt": op.extra.get("startedAt"),
                "finishedAt": now_iso(),
                "logs": op.extra.get("logs", ""),
                "reason": None,
            },
        }
    )


async def kubernetes_versions(ctx: Ctx) -> web.Response:
    """``GET .../locations/{location}/kubernetesVersions``: the estate's minors for the region
    (``kubernetes_versions``, else its ``default``, else :data:`shapes.DEFAULT_KUBERNETES_VERSIONS`)."""
    require_sub(ctx)
    served = ctx.store.kubernetes_versions
    region = ctx.params["location"].replace(" ", "").lower()
    minors = served.get(region) or served.get("default") or list(shapes.DEFAULT_KUBERNETES_VERSIONS)
    return json_response(shapes.kubernetes_versions(minors))


def register(router: Router) -> None:
    router.add("GET", "/subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters", list_by_sub)
    router.add(
        "GET",
        "/subscriptions/{s}/providers/Microsoft.ContainerService/locations/{location}/operations/{op}",
        cluster_operation,
    )
    router.add(
        "GET",
        "/subscriptions/{s}/providers/Microsoft.ContainerService/locations/{location}/operationresults/{op}",
        operation_result,
    )
    router.add(
        "GET",
        "/subscriptions/{s}/providers/Microsoft.ContainerService/locations/{location}/kubernetesVersions",
        kubernetes_versions,
    )
    router.add("GET", MC, list_by_rg)
    router.add("GET PUT PATCH DELETE", CLUSTER, cluster)
    router.add("GET", CLUSTER + "/trustedAccessRoleBindings", list_bindings)
    router.add("GET PUT DELETE", CLUSTER + "/trustedAccessRoleBindings/{binding}", binding)
    router.add("POST", CLUSTER + "/runCommand", run_command)
    router.add("GET", CLUSTER + "/commandResults/{command}", command_result)
