"""Every role assignment in the Bicep: deterministic guid() name, principalType, no forbidden role.

Forbidden: Owner and User Access Administrator anywhere; Contributor at subscription scope. Role
ids are resolved statically (roles.json lookups, GUID literals, or a custom role defined in the
same file); an assignment whose role cannot be resolved fails the test too.
"""

from __future__ import annotations

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
    """The role definition GUID, ``custom:<symbol>`` for a custom role in the same file, or None."""
    expr = block.prop("roleDefinitionId") or ""
    by_name = re.search(r"\broles(?:\['([^']+)'\]|\.(\w+))", expr)
    if by_name:
        return builtin.get(by_name.group(1) or by_name.group(2))
    literal = _GUID.search(expr)
    if literal:
        return literal.group(0).lower()
    symbol = re.fullmatch(r"(\w+)\.id", expr.strip())
    if symbol and any(s.symbol == symbol.group(1) and s.resource_type == ROLE_DEFINITION for s in siblings):
        return f"custom:{symbol.group(1)}"
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


def test_the_rbac_administrator_assignment_carries_the_generated_condition() -> None:
    path = bicep.INFRA / "app" / "watched-subscription.bicep"
    admin = [
        b
        for b in bicep.blocks(path)
        if b.resource_type == ROLE_ASSIGNMENT
        and resolve_role(b, bicep.blocks(path), _builtin())
        == BUILTIN_ROLES["Role Based Access Control Administrator"]
    ]
    assert len(admin) == 1
    assert admin[0].prop("condition") == "abac.condition"
    assert admin[0].prop("conditionVersion") == "abac.conditionVersion"
    assert "loadJsonContent('../generated/rbac-condition.json')" in path.read_text(encoding="utf-8")


def test_the_custom_role_holds_only_narrow_actions() -> None:
    text = bicep.strip_comments(
        (bicep.INFRA / "app" / "watched-subscription.bicep").read_text(encoding="utf-8")
    )
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
    assert "remediateCluster\n  ? [" in text and "inclusterChecks\n  ? [" in text
