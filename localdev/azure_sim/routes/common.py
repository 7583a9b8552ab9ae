"""Helpers shared by the route modules: existence checks that raise ARM's 404s."""

from __future__ import annotations

import uuid

from localdev.azure_sim.context import Ctx
from localdev.azure_sim.errors import ArmError, not_found, rg_not_found
from localdev.azure_sim.store import Json, Operation


def require_sub(ctx: Ctx, sub: str | None = None) -> Json:
    sub = sub if sub is not None else ctx.params["s"]
    body = ctx.store.subscription(sub)
    if body is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
    return body


def require_rg(ctx: Ctx) -> Json:
    require_sub(ctx)
    body = ctx.store.resource_group(ctx.params["s"], ctx.params["rg"])
    if body is None:
        raise rg_not_found(ctx.params["rg"])
    return body


def require_resource(ctx: Ctx, rid: str, type_name: str, name: str) -> Json:
    body = ctx.store.get(rid)
    if body is None:
        raise not_found(type_name, name, ctx.params.get("rg"))
    return body


def require_scope(ctx: Ctx, scope: str) -> None:
    """404 when a ``{scope}`` names a subscription or resource group that does not exist."""
    parts = [p for p in scope.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        require_sub(ctx, parts[1])
        if (
            len(parts) >= 4
            and parts[2].lower() == "resourcegroups"
            and ctx.store.resource_group(parts[1], parts[3]) is None
        ):
            raise rg_not_found(parts[3])


def rg_path(ctx: Ctx) -> str:
    """``/subscriptions/{s}/resourceGroups/{rg}`` of the request, as spelled."""
    return f"/subscriptions/{ctx.params['s']}/resourceGroups/{ctx.params['rg']}"


def new_operation(ctx: Ctx, resource_id: str, *, polls: int = 1) -> Operation:
    op = Operation(id=str(uuid.uuid4()), resource_id=resource_id.lower(), polls=polls)
    ctx.store.operations[op.id] = op
    return op


def lro_headers(ctx: Ctx, async_url: str) -> dict[str, str]:
    """Azure-AsyncOperation plus a short retry hint (Retry-After-Ms keeps local polling fast)."""
    sep = "&" if "?" in async_url else "?"
    return {
        "Azure-AsyncOperation": f"{ctx.base_url}{async_url}{sep}api-version={ctx.api_version()}",
        "Retry-After-Ms": str(ctx.config.lro_retry_after_ms),
    }


def retry_hint(ctx: Ctx) -> dict[str, str]:
    return {"Retry-After-Ms": str(ctx.config.lro_retry_after_ms)}


def operation_status(ctx: Ctx, op_id: str) -> tuple[Operation, Json]:
    op = ctx.store.operations.get(op_id)
    if op is None:
        raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' was not found.")
    if op.polls > 0:
        op.polls -= 1
        return op, {"id": op.id, "name": op.id, "status": "InProgress", "startTime": "2026-01-01T00:00:00Z"}
    return op, {
        "id": op.id,
        "name": op.id,
        "status": op.final,
        "startTime": "2026-01-01T00:00:00Z",
        "endTime": "2026-01-01T00:00:01Z",
        "percentComplete": 100.0,
    }
