"""Every role assignment in the Bicep: deterministic guid() name, principalType, no forbidden role.

Forbidden: Owner and User Access Administrator anywhere; Contributor at subscription scope. Role
ids are resolved statically (roles.json lookups, GUID literals, or a custom role defined in the
same file); an assignment whose role cannot be resolved fails the test too.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from shared.infra_export import FORBIDDEN_ROLES
from shared.roles import BUILTIN_ROLES
from tests.infra import bicep

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITION = "Microsoft.Authorization/roleDefinitions"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _builtin() -> dict[str, str]:
    doc = json.loads((bicep.INFRA / "generated" / "roles.json").read_text(encoding="utf-8"))
    return {name: guid.lower() for name, guid in doc["builtin"].items()}


def resolve_role(block: bicep.Block, siblings: list[bicep.Block], builtin: dict[str, str]) -> str | None:
    """The role definition GUID, ``custom:<symbol>`` for a custom role defined in the same file, or
    None. A bare parameter resolves through every module call that binds it: all callers must pass
    the same resolvable role."""
    expr = (block.prop("roleDefinitionId") or "").strip()
    by_name = re.search(r"\broles(?:\['([^']+)'\]|\.(\w+))", expr)
    if by_name:
        return builtin.get(by_name.group(1) or by_name.group(2))
    literal = _GUID.search(expr)
    if literal:
        return literal.group(0).lower()
    symbol = re.fullmatch(r"(\w+)\.id", expr)
    if symbol and any(s.symbol == symbol.group(1) and s.resource_type == ROLE_DEFINITION for s in siblings):
        return f"custom:{symbol.group(1)}"
    if re.fullmatch(r"\w+", expr) and expr in bicep.params(block.file):
        found = set()
        for call in bicep.callers(block.file):
            bound = bicep.module_args(call).get(expr)
            if bound is None:
                return None
            proxy = dataclasses.replace(block, file=call.file, body=f"roleDefinitionId: {bound}\n")
            found.add(resolve_role(proxy, bicep.blocks(call.file), builtin))
        return found.pop() if len(found) == 1 else None
    return None


def problems(blocks: list[bicep.Block], builtin: dict[str, str]) -> list[str]:
    forbidden = {guid.lower(): name for name, guid in FORBIDDEN_ROLES.items()}
    contributor = BUILTIN_ROLES["Contributor"].lower()
    out = []
    for block in blocks:
        if block.resource_type != ROLE_ASSIGNMENT or block.kind != "resource" or "existing" in block.type:
            continue
        where = f"{block.file.name}:{block.symbol}"
        name = block.prop("name") or ""
        if not name.startswith("guid("):
            out.append(f"{where}: name is not a deterministic guid(...): {name!r}")
        principal_type = block.prop("principalType")
        if principal_type not in ("'ServicePrincipal'", "'Group'", "'User'"):
            out.append(f"{where}: principalType missing or not a literal: {principal_type!r}")
        siblings = [b for b in blocks if b.file == block.file]
        role = resolve_role(block, siblings, builtin)
        if role is None:
            out.append(f"{where}: cannot resolve roleDefinitionId {block.prop('roleDefinitionId')!r}")
        elif role in forbidden:
            out.append(f"{where}: assigns {forbidden[role]}")
        elif role == contributor and block.target_scope == "subscription" and block.prop("scope") is None:
            out.append(f"{where}: assigns Contributor at subscription scope")
    return out


def test_every_role_assignment_is_deterministic_typed_and_allowed() -> None:
    blocks = bicep.all_blocks()
    assignments = [b for b in blocks if b.resource_type == ROLE_ASSIGNMENT]
    assert len(assignments) >= 10, "the parser found too few role assignments: is it still reading the Bicep?"
    assert problems(blocks, _builtin()) == []


def _synthetic(tmp_path: Path, text: str) -> list[bicep.Block]:
    path = tmp_path / "bad.bicep"
    path.write_text(text, encoding="utf-8")
    return bicep.blocks(path)


@pytest.mark.parametrize(
    ("role_expr", "expected"),
    [
        ("'8e3af657-a8ff-443c-a75c-2fe8c4bcb635'", "assigns Owner"),
        ("roles['User Access Administrator']", "assigns User Access Administrator"),
        ("'b24988ac-6180-42a0-ab88-20f7382dd24c'", "assigns Contributor at subscription scope"),
        ("someVariable", "cannot resolve roleDefinitionId"),
    ],
)
def test_the_check_reports_forbidden_roles(tmp_path: Path, role_expr: str, expected: str) -> None:
    blocks = _synthetic(
        tmp_path,
        "targetScope = 'subscription'\n"
        "resource bad 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n"
        "  name: guid(subscription().id, 'x')\n"
        "  properties: {\n"
        f"    roleDefinitionId: subscriptionResourceId('{ROLE_DEFINITION}', {role_expr})\n"
        "    principalId: 'p'\n"
        "    principalType: 'ServicePrincipal'\n"
        "  }\n"
        "}\n",
    )
    builtin = _builtin() | {"User Access Administrator": BUILTIN_ROLES["User Access Administrator"]}
    found = problems(blocks, builtin)
    assert len(found) == 1 and expected in found[0], found


def test_the_check_reports_random_names_and_missing_principal_type(tmp_path: Path) -> None:
    blocks = _synthetic(
        tmp_path,
        "resource bad 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n"
        "  name: newGuid()\n"
        "  properties: {\n"
        f"    roleDefinitionId: subscriptionResourceId('{ROLE_DEFINITION}', roles.Reader)\n"
        "    principalId: 'p'\n"
        "  }\n"
        "}\n",
    )
    found = problems(blocks, _builtin())
    assert any("deterministic guid" in p for p in found) and any("principalType" in p for p in found), found


CONDITION_EXPR = "replace(abac.condition, abac.guardPrincipalIdPlaceholder, guardPrincipalId)"
"""How every RBAC Administrator assignment must set its condition: the generated text, with the
Guard's own principal id (the identity's principalId, passed down as ``guardPrincipalId``) filled in."""


def rbac_admin_problems(blocks: list[bicep.Block], builtin: dict[str, str]) -> list[str]:
    """Every Role Based Access Control Administrator assignment carries the generated condition."""
    rbac_admin = BUILTIN_ROLES["Role Based Access Control Administrator"]
    out = []
    for block in blocks:
        if block.resource_type != ROLE_ASSIGNMENT or block.kind != "resource":
            continue
        siblings = [b for b in blocks if b.file == block.file]
        if resolve_role(block, siblings, builtin) != rbac_admin:
            continue
        where = f"{block.file.name}:{block.symbol}"
        text = block.file.read_text(encoding="utf-8")
        if block.prop("condition") != CONDITION_EXPR:
            out.append(f"{where}: condition is {block.prop('condition')!r}, not {CONDITION_EXPR!r}")
        if block.prop("conditionVersion") != "abac.conditionVersion":
            out.append(f"{where}: conditionVersion is not abac.conditionVersion")
        if "var abac = loadJsonContent('../generated/rbac-condition.json')" not in text:
            out.append(f"{where}: abac is not the generated rbac-condition.json")
        if block.prop("principalId") != "guardPrincipalId":
            out.append(f"{where}: the condition excludes guardPrincipalId, the assignee is another principal")
    return out


def test_every_rbac_administrator_assignment_carries_the_generated_condition() -> None:
    blocks = bicep.all_blocks()
    rbac_admin = BUILTIN_ROLES["Role Based Access Control Administrator"]
    admins = [
        b
        for b in blocks
        if b.resource_type == ROLE_ASSIGNMENT
        and resolve_role(b, [s for s in blocks if s.file == b.file], _builtin()) == rbac_admin
    ]
    # the subscription-wide form and the per-resource-group (narrow) form
    assert sorted(f"{b.file.name}:{b.symbol}" for b in admins) == [
        "guard-write-scope.bicep:guardRbacAdmin",
        "watched-subscription.bicep:guardRbacAdmin",
    ]
    assert rbac_admin_problems(blocks, _builtin()) == []


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("abac.condition", "condition is 'abac.condition'"),  # the placeholder left in: no self-exclusion
        ("''", "condition is"),
    ],
)
def test_the_condition_check_reports_an_unfilled_or_missing_condition(
    tmp_path: Path, condition: str, expected: str
) -> None:
    blocks = _synthetic(
        tmp_path,
        "var abac = loadJsonContent('../generated/rbac-condition.json')\n"
        "resource admin 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n"
        "  name: guid(resourceGroup().id, 'x')\n"
        "  properties: {\n"
        f"    roleDefinitionId: subscriptionResourceId('{ROLE_DEFINITION}',"
        " roles['Role Based Access Control Administrator'])\n"
        "    principalId: guardPrincipalId\n"
        "    principalType: 'ServicePrincipal'\n"
        f"    condition: {condition}\n"
        "    conditionVersion: abac.conditionVersion\n"
        "  }\n"
        "}\n",
    )
    found = rbac_admin_problems(blocks, _builtin())
    assert len(found) == 1 and expected in found[0], found


def test_the_wide_and_the_narrow_form_exclude_each_other() -> None:
    """Subscription-wide write rights only while no write scope is declared; once scopes are declared,
    every watched subscription gets write rights only on its own listed resource groups."""
    path = bicep.INFRA / "app" / "watched-subscription.bicep"
    text = bicep.strip_comments(path.read_text(encoding="utf-8"))
    blocks = {b.symbol: b for b in bicep.blocks(path)}
    assert "var subscriptionWide = empty(writeScopes)" in text
    for symbol in ("guardRbacAdmin", "guardRemediator"):
        assert (
            f"resource {symbol} 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (subscriptionWide)"
            in text
        )
    assert blocks["guardRegistrar"].prop("roleDefinitionId") == "registrar.id"
    narrow = blocks["writeScopeRights"]
    assert narrow.type == "guard-write-scope.bicep"
    assert (
        "for scopeId in writeScopes: if (length(split(scopeId, '/')) == 5 && "
        "toLower(split(scopeId, '/')[2]) == toLower(subscription().subscriptionId))"
    ) in narrow.body
    assert narrow.prop("scope") == "resourceGroup(split(scopeId, '/')[2], split(scopeId, '/')[4])"
    assert bicep.module_args(narrow) == {
        "guardPrincipalId": "guardPrincipalId",
        "remediatorRoleId": "remediator.id",
    }
    main = bicep.strip_comments((bicep.INFRA / "main.bicep").read_text(encoding="utf-8"))
    assert "param guardWriteScopes string = ''" in main
    assert "var declaredWriteScopes = [for s in split(guardWriteScopes, ','): trim(s)]" in main
    assert "var writeScopes = filter(declaredWriteScopes, s => !empty(s))" in main
    [watched] = [b for b in bicep.blocks(bicep.INFRA / "main.bicep") if b.symbol == "watched"]
    assert bicep.module_args(watched)["writeScopes"] == "writeScopes"
    params = json.loads((bicep.INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert params["guardWriteScopes"] == {"value": "${GUARD_WRITE_SCOPES=}"}


def test_the_custom_roles_hold_only_narrow_actions() -> None:
    path = bicep.INFRA / "app" / "watched-subscription.bicep"
    text = bicep.strip_comments(path.read_text(encoding="utf-8"))
    actions = set(re.findall(r"'(Microsoft\.[A-Za-z]+/[^']+)'", text))
    actions = {a for a in actions if a.endswith(("/write", "/action", "/delete", "/read"))}
    assert actions == {
        "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/write",
        "Microsoft.KubernetesConfiguration/register/action",
        "Microsoft.Storage/storageAccounts/write",
        "Microsoft.ContainerService/managedClusters/write",
        "Microsoft.KubernetesConfiguration/extensions/write",
        "Microsoft.ContainerService/managedClusters/runCommand/action",
    }
    assert not any("*" in a or a.startswith("Microsoft.Authorization/") for a in actions)
    assert (
        "var clusterActions = remediateCluster ? [" in text
        and "var runCommandActions = inclusterChecks ? [" in text
    )
    blocks = {b.symbol: b for b in bicep.blocks(path)}
    # provider registration is a subscription-level action: its own role, never on a resource group
    registrar = re.findall(r"'(Microsoft\.[A-Za-z]+/[^']+)'", blocks["registrar"].body)
    assert [a for a in registrar if a.endswith("/action")] == [
        "Microsoft.KubernetesConfiguration/register/action"
    ]
    assert (
        "register/action" not in text[text.index("var resourceActions") : text.index("resource guardReader")]
    )
