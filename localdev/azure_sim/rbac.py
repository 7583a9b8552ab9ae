"""Azure RBAC (and ABAC conditions) for the Guard's identity.

The action a request needs is derived from its method and path the way ARM does:
``{namespace}/{type}[/{child type}]/read|write|delete`` or ``.../{action}/action`` for POST.
A caller is allowed when one of its role assignments at the scope or above grants the action
through the role's actions/notActions (or dataActions/notDataActions for data-plane calls),
and that assignment's condition (if any) holds. Conditions are evaluated for
``Microsoft.Authorization/roleAssignments/write|delete`` and are treated as met for other actions.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from localdev.azure_sim import abac
from localdev.azure_sim.context import Ctx
from localdev.azure_sim.errors import ArmError
from localdev.azure_sim.roles import RoleDefinition
from localdev.azure_sim.store import Caller, Json, Store

log = logging.getLogger(__name__)

_VERB = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}
CONDITION_ACTIONS = (
    "microsoft.authorization/roleassignments/write",
    "microsoft.authorization/roleassignments/delete",
)


def action_for(method: str, path: str) -> str:
    """The RBAC action ARM checks for a request (path without query)."""
    parts = [p for p in path.split("/") if p]
    lowered = [p.lower() for p in parts]
    method = method.upper()
    verb = _VERB.get(method, "action")
    # /subscriptions/{s}/providers[/{ns}[/register]]
    if len(parts) >= 3 and lowered[0] == "subscriptions" and lowered[2] == "providers":
        if len(parts) == 5 and lowered[4] in ("register", "unregister"):
            return f"{parts[3]}/{parts[4]}/action"
        if len(parts) <= 4:
            return "Microsoft.Resources/subscriptions/providers/read"
    if "providers" in lowered:
        idx = len(lowered) - 1 - lowered[::-1].index("providers")
        if idx + 1 >= len(parts):
            return f"Microsoft.Resources/subscriptions/{verb}"
        namespace = parts[idx + 1]
        rest = parts[idx + 2 :]
    else:
        namespace = "Microsoft.Resources"
        rest = ["subscriptions", *parts[1:]] if parts and lowered[0] == "subscriptions" else parts
        rest = rest[:1] + rest[2:] if len(rest) >= 2 else rest
        # ['subscriptions', 'resourceGroups', rg] -> types at even positions
        types = [rest[0]] + rest[1::2] if rest else []
        return (
            "/".join([namespace, *types, verb])
            if method != "POST"
            else "/".join([namespace, *types, "action"])
        )
    if method == "POST" and len(rest) % 2 == 1:
        types = rest[:-1:2]
        return "/".join([namespace, *types, rest[-1], "action"])
    types = rest[::2]
    return "/".join([namespace, *types, verb])


def _matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def role_grants(role: RoleDefinition, action: str, *, data: bool) -> bool:
    allow, deny = (role.data_actions, role.not_data_actions) if data else (role.actions, role.not_actions)
    return any(_matches(p, action) for p in allow) and not any(_matches(p, action) for p in deny)


@dataclass
class Decision:
    allowed: bool
    condition_failed: bool = False
    evidence: Json = field(default_factory=dict)


def _attrs(props: Mapping[str, object] | None) -> dict[str, Sequence[str]]:
    if not props:
        return {}
    out: dict[str, Sequence[str]] = {}
    for key, name in (
        ("roleDefinitionId", "RoleDefinitionId"),
        ("principalType", "PrincipalType"),
        ("principalId", "PrincipalId"),
    ):
        value = props.get(key)
        if value:
            out[name] = [str(value)]
    return out


def authorize(
    store: Store,
    caller: Caller,
    action: str,
    scope: str,
    *,
    data: bool = False,
    request_props: Mapping[str, object] | None = None,
    resource_props: Mapping[str, object] | None = None,
) -> Decision:
    """Whether ``caller`` may perform ``action`` on ``scope`` (an id or path)."""
    if not caller.restricted:
        return Decision(
            True,
            evidence={
                "role": "Subscription Admin",
                "principalId": caller.principal_id,
                "principalType": caller.object_type,
            },
        )
    condition_failed = False
    for ra in store.role_assignments(principal=caller.principal_id):
        props = ra.get("properties", {})
        ra_scope = str(props.get("scope", ""))
        if not store.contains("" if ra_scope == "/" else ra_scope, scope):  # management groups included
            continue
        role = store.role_definition(str(props.get("roleDefinitionId", "")))
        if role is None or not role_grants(role, action, data=data):
            continue
        condition = props.get("condition")
        skip = action.lower().endswith("/delete") and resource_props is None  # nothing to delete
        if condition and action.lower() in CONDITION_ACTIONS and not skip:
            ctx = abac.Context(action=action, request=_attrs(request_props), resource=_attrs(resource_props))
            try:
                ok = abac.evaluate(str(condition), ctx)
            except abac.ConditionError as exc:
                log.warning("role assignment %s has an unparseable condition: %s", ra.get("id"), exc)
                ok = False
            if not ok:
                condition_failed = True
                continue
        return Decision(
            True,
            evidence={
                "role": role.name,
                "roleAssignmentScope": props.get("scope"),
                "roleAssignmentId": ra.get("name"),
                "roleDefinitionId": role.guid,
                "principalId": caller.principal_id,
                "principalType": caller.object_type,
            },
        )
    return Decision(False, condition_failed=condition_failed)


def denied_message(principal: str, action: str, scope: str, *, condition: bool) -> str:
    message = (
        f"The client '{principal}' with object id '{principal}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. "
        "If access was recently granted, please refresh your credentials."
    )
    if condition:
        message = (
            f"The client '{principal}' with object id '{principal}' does not have authorization to perform "
            f"action '{action}' over scope '{scope}' or the scope is invalid. "
            "The role assignment condition that grants this action was not met. "
            "If access was recently granted, please refresh your credentials."
        )
    return message


def require(
    ctx: Ctx,
    action: str,
    scope: str,
    *,
    data: bool = False,
    request_props: Mapping[str, object] | None = None,
    resource_props: Mapping[str, object] | None = None,
) -> Decision:
    """Authorize the request's caller or raise 403 ``AuthorizationFailed``; records the evidence."""
    decision = authorize(
        ctx.store,
        ctx.caller,
        action,
        scope,
        data=data,
        request_props=request_props,
        resource_props=resource_props,
    )
    if not decision.allowed:
        scope_text = scope.rstrip("/") or "/"
        raise ArmError(
            403,
            "AuthorizationFailed",
            denied_message(ctx.caller.principal_id, action, scope_text, condition=decision.condition_failed),
        )
    ctx.extra["evidence"] = decision.evidence
    ctx.extra.setdefault("operation", action)
    return decision
