"""Microsoft.Authorization policy assignments: list at a scope (with atScope()/atExactScope()) and GET."""

from __future__ import annotations

import re

from aiohttp import web

from localdev.azure_sim.context import Ctx, json_response
from localdev.azure_sim.errors import ArmError
from localdev.azure_sim.paging import page
from localdev.azure_sim.router import Router
from localdev.azure_sim.routes.common import require_scope
from localdev.azure_sim.store import POLICY_ASSIGNMENT_TYPE, is_at_or_above

PA = "{scope}/providers/Microsoft.Authorization/policyAssignments"
_DEF_FILTER = re.compile(r"policyDefinitionId\s+eq\s+'([^']+)'", re.IGNORECASE)


async def list_assignments(ctx: Ctx) -> web.Response:
    scope = ctx.params["scope"].rstrip("/")
    require_scope(ctx, scope)
    flt = str(ctx.query.get("$filter", "")).replace(" ", "").lower()
    def_match = _DEF_FILTER.search(str(ctx.query.get("$filter", "")))
    out = []
    for pa in ctx.store.by_type(POLICY_ASSIGNMENT_TYPE):
        pa_scope = str(pa["properties"]["scope"]).rstrip("/")
        above = ctx.store.contains(pa_scope, scope)
        below = is_at_or_above(scope, pa_scope)
        if "atexactscope()" in flt:
            if pa_scope.lower() != scope.lower():
                continue
        elif "atscope()" in flt:
            if not above:
                continue
        elif not (above or below):
            continue
        if def_match and str(pa["properties"]["policyDefinitionId"]).lower() != def_match.group(1).lower():
            continue
        out.append(pa)
    return page(ctx, out)


async def get_assignment(ctx: Ctx) -> web.Response:
    scope = ctx.params["scope"].rstrip("/")
    require_scope(ctx, scope)
    body = ctx.store.get(f"{scope}/providers/Microsoft.Authorization/policyAssignments/{ctx.params['name']}")
    if body is None:
        raise ArmError(
            404, "PolicyAssignmentNotFound", f"The policy assignment '{ctx.params['name']}' is not found."
        )
    return json_response(body)


async def get_definition(ctx: Ctx) -> web.Response:
    """A policy or policy set definition: built-in (no scope), subscription or management group.
    Any authenticated caller may read built-in definitions, as in Azure."""
    kind = (
        "policySetDefinitions"
        if "/policysetdefinitions/" in ctx.request.path.lower()
        else "policyDefinitions"
    )
    rid = f"{ctx.params['scope'].rstrip('/')}/providers/Microsoft.Authorization/{kind}/{ctx.params['name']}"
    body = ctx.store.get(rid)
    if body is None:
        code = (
            "PolicySetDefinitionNotFound"
            if kind.lower() == "policysetdefinitions"
            else "PolicyDefinitionNotFound"
        )
        raise ArmError(404, code, f"The policy definition '{ctx.params['name']}' could not be found.")
    return json_response(body)


get_definition.self_authorizes = True  # type: ignore[attr-defined]


def register(router: Router) -> None:
    router.add("GET", PA, list_assignments)
    router.add("GET", PA + "/{name}", get_assignment)
    router.add("GET", "{scope}/providers/Microsoft.Authorization/policyDefinitions/{name}", get_definition)
    router.add("GET", "{scope}/providers/Microsoft.Authorization/policySetDefinitions/{name}", get_definition)
