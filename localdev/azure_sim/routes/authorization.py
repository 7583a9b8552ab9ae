"""Microsoft.Authorization: role assignments (GET/PUT/DELETE/list with $filter) and role definitions.

PUT and DELETE authorize themselves so that ABAC conditions see the request's and the existing
assignment's attributes (RoleDefinitionId, PrincipalId, PrincipalType). As in Azure, a PUT whose
``principalType`` disagrees with the directory's type of the principal (a User or Group named as
ServicePrincipal, or the reverse) is a 400 ``UnmatchedPrincipalType``: the ABAC condition tests the
*requested* type, this check makes the request tell the truth.
"""

from __future__ import annotations

import re

from aiohttp import web

from localdev.azure_sim import rbac, shapes
from localdev.azure_sim.context import Ctx, json_response
from localdev.azure_sim.errors import ArmError, bad_request
from localdev.azure_sim.paging import page
from localdev.azure_sim.router import Router
from localdev.azure_sim.routes.common import require_scope
from localdev.azure_sim.store import Json, is_at_or_above, sub_of

RA = "{scope}/providers/Microsoft.Authorization/roleAssignments"
RD = "{scope}/providers/Microsoft.Authorization/roleDefinitions"
_PRINCIPAL_FILTER = re.compile(r"(?:principalId\s+eq\s+|assignedTo\()\s*'([^']+)'", re.IGNORECASE)
_ROLE_NAME_FILTER = re.compile(r"roleName\s+eq\s+'([^']+)'", re.IGNORECASE)
_TYPE_FILTER = re.compile(r"type\s+eq\s+'([^']+)'", re.IGNORECASE)

PRINCIPAL_NOT_FOUND = (
    "Principal {principal} does not exist in the directory {tenant}. Check that you have the correct "
    "principal ID. If you are creating this principal and then immediately assigning a role, this error "
    "might be related to a replication delay. In this case, set the role assignment principalType property "
    "to a value, such as ServicePrincipal, User, or Group. See https://aka.ms/docs-principaltype"
)

# Azure's text, typo ("PrinciaplType") and the space before the comma included; the principal id is
# printed as 32 hex digits without hyphens. As ARM answered a deployment (quoted in
# Azure/modern-web-app-pattern-dotnet pull request 129): {"code": "UnmatchedPrincipalType",
# "message": "The PrincipalId 'af39...05f4db' has type 'ServicePrincipal' , which is different from
# specified PrinciaplType 'User'."}.
UNMATCHED_PRINCIPAL_TYPE = (
    "The PrincipalId '{principal}' has type '{actual}' , which is different from specified "
    "PrinciaplType '{specified}'."
)


def _scope(ctx: Ctx) -> str:
    return ctx.params["scope"].rstrip("/") or "/"


def _guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _related(a: str, b: str) -> bool:
    return is_at_or_above(a if a != "/" else "", b) or is_at_or_above(b if b != "/" else "", a)


async def list_assignments(ctx: Ctx) -> web.Response:
    scope = _scope(ctx)
    require_scope(ctx, scope)
    flt = str(ctx.query.get("$filter", ""))
    at_scope = "atscope()" in flt.replace(" ", "").lower()
    principal_match = _PRINCIPAL_FILTER.search(flt)
    principal = principal_match.group(1).lower() if principal_match else None
    out: list[Json] = []
    sub = sub_of(scope)
    if principal is not None:
        candidates = ctx.store.role_assignments(principal=principal, subscription=sub)
    else:
        candidates = ctx.store.role_assignments(subscription=sub)
    for ra in candidates:
        props = ra["properties"]
        ra_scope = str(props.get("scope", ""))
        ancestor = ra_scope if ra_scope != "/" else ""
        if at_scope:
            if not is_at_or_above(ancestor, scope if scope != "/" else ""):
                continue
        elif not _related(ra_scope, scope):
            continue
        if principal is not None and str(props.get("principalId", "")).lower() != principal:
            continue
        out.append(ra)
    return page(ctx, out)


def _ra_id(ctx: Ctx) -> str:
    scope = ctx.params["scope"].rstrip("/")
    return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{ctx.params['name']}"


async def get_assignment(ctx: Ctx) -> web.Response:
    require_scope(ctx, _scope(ctx))
    body = ctx.store.get(_ra_id(ctx))
    if body is None:
        raise ArmError(
            404, "RoleAssignmentNotFound", f"The role assignment '{ctx.params['name']}' is not found."
        )
    return json_response(body)


async def put_or_delete_assignment(ctx: Ctx) -> web.Response:
    scope = _scope(ctx)
    require_scope(ctx, scope)
    rid = _ra_id(ctx)
    existing = ctx.store.get(rid)
    if ctx.request.method == "DELETE":
        rbac.require(
            ctx,
            "Microsoft.Authorization/roleAssignments/delete",
            rid,
            resource_props=existing["properties"] if existing else None,
        )
        if existing is None:
            return web.Response(status=204)
        ctx.store.delete(rid)
        ctx.event_subject = existing["id"]
        return json_response(existing)
    props = dict(ctx.body().get("properties") or {})
    role_def_id = str(props.get("roleDefinitionId") or "")
    principal_id = str(props.get("principalId") or "")
    if not role_def_id or not principal_id:
        raise bad_request(
            "InvalidRoleAssignmentRequest", "properties.roleDefinitionId and principalId are required."
        )
    role = ctx.store.role_definition(role_def_id)
    if role is None:
        raise bad_request(
            "RoleDefinitionDoesNotExist",
            f"The specified role definition with ID '{_guid(role_def_id)}' does not exist.",
        )
    principal = ctx.store.principals.get(principal_id.lower())
    principal_type = str(
        props.get("principalType") or (principal.object_type if principal else "ServicePrincipal")
    )
    request_props = {
        "roleDefinitionId": role.guid,
        "principalId": principal_id,
        "principalType": principal_type,
    }
    rbac.require(
        ctx,
        "Microsoft.Authorization/roleAssignments/write",
        rid,
        request_props=request_props,
        resource_props=existing["properties"] if existing else None,
    )
    if not ctx.store.principal_visible(principal_id):
        raise bad_request(
            "PrincipalNotFound", PRINCIPAL_NOT_FOUND.format(principal=principal_id, tenant=ctx.store.tenant)
        )
    if principal is not None and principal_type.lower() != principal.object_type.lower():
        raise bad_request(
            "UnmatchedPrincipalType",
            UNMATCHED_PRINCIPAL_TYPE.format(
                principal=principal_id.replace("-", "").lower(),
                actual=principal.object_type,
                specified=principal_type,
            ),
        )
    if existing is not None:
        old = existing["properties"]
        if (
            str(old["principalId"]).lower() != principal_id.lower()
            or _guid(str(old["roleDefinitionId"])) != role.guid.lower()
            or str(old["scope"]).lower() != scope.lower()
        ):
            raise bad_request(
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
        ctx.event_subject = existing["id"]
        return json_response(existing, status=201)
    for ra in ctx.store.role_assignments(principal=principal_id, subscription=sub_of(scope)):
        other = ra["properties"]
        if (
            str(other["scope"]).lower() == scope.lower()
            and str(other["principalId"]).lower() == principal_id.lower()
            and _guid(str(other["roleDefinitionId"])) == role.guid.lower()
        ):
            raise ArmError(
                409,
                "RoleAssignmentExists",
                "The role assignment already exists. The ID of the existing role assignment is "
                f"{str(ra['name']).replace('-', '')}.",
            )
    body = shapes.role_assignment(
        scope,
        ctx.params["name"],
        role_guid=role.guid,
        principal_id=principal_id,
        principal_type=principal_type,
        condition=props.get("condition") or None,
        condition_version=props.get("conditionVersion") or ("2.0" if props.get("condition") else None),
        created_by=ctx.caller.principal_id,
        description=props.get("description"),
    )
    body["id"] = (
        rid if scope != "/" else f"/providers/Microsoft.Authorization/roleAssignments/{ctx.params['name']}"
    )
    ctx.store.put(body)
    ctx.event_subject = body["id"]
    return json_response(body, status=201)


put_or_delete_assignment.self_authorizes = True  # type: ignore[attr-defined]


async def list_definitions(ctx: Ctx) -> web.Response:
    scope = _scope(ctx)
    require_scope(ctx, scope)
    flt = str(ctx.query.get("$filter", ""))
    name_match = _ROLE_NAME_FILTER.search(flt)
    type_match = _TYPE_FILTER.search(flt)
    out = []
    for role in ctx.store.role_definitions.values():
        if name_match and role.name.lower() != name_match.group(1).lower():
            continue
        if type_match and ("builtinrole" if role.built_in else "customrole") != type_match.group(1).lower():
            continue
        out.append(shapes.role_definition(scope, role))
    return page(ctx, out)


async def get_definition(ctx: Ctx) -> web.Response:
    scope = _scope(ctx)
    require_scope(ctx, scope)
    role = ctx.store.role_definition(ctx.params["guid"])
    if role is None:
        raise ArmError(
            404,
            "RoleDefinitionDoesNotExist",
            f"The specified role definition with ID '{ctx.params['guid']}' does not exist.",
        )
    return json_response(shapes.role_definition(scope, role))


def register(router: Router) -> None:
    router.add("GET", RA, list_assignments)
    router.add("GET", RA + "/{name}", get_assignment)
    router.add("PUT DELETE", RA + "/{name}", put_or_delete_assignment)
    router.add("GET", RD, list_definitions)
    router.add("GET", RD + "/{guid}", get_definition)
