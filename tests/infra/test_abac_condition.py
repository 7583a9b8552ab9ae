"""The generated ABAC condition, fed to the simulator's evaluator (localdev/azure_sim/abac.py).

The simulator enforces the same text on the Guard's Role Based Access Control Administrator
assignment, so these are the semantics the Guard meets locally and (by the condition language) in Azure.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from localdev.azure_sim import abac
from shared.infra_export import matrix_role_guids, rbac_condition
from shared.roles import ALLOWED_ROLE_GUIDS, BUILTIN_ROLES
from tests.infra import bicep

WRITE = "Microsoft.Authorization/roleAssignments/write"
DELETE = "Microsoft.Authorization/roleAssignments/delete"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def _condition() -> str:
    doc = json.loads((bicep.INFRA / "generated" / "rbac-condition.json").read_text(encoding="utf-8"))
    assert doc["conditionVersion"] == "2.0"
    return str(doc["condition"])


def _role_id(guid: str) -> str:
    sub = "/subscriptions/00000000-0000-0000-0000-000000000001"
    return f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _write(guid: str, principal_type: str = "ServicePrincipal") -> abac.Context:
    props = {"RoleDefinitionId": [_role_id(guid)], "PrincipalType": [principal_type], "PrincipalId": ["p"]}
    return abac.Context(action=WRITE, request=props, resource={})


def _delete(guid: str) -> abac.Context:
    props = {
        "RoleDefinitionId": [_role_id(guid)],
        "PrincipalType": ["ServicePrincipal"],
        "PrincipalId": ["p"],
    }
    return abac.Context(action=DELETE, request={}, resource=props)


def test_the_condition_parses() -> None:
    abac.parse(_condition())


@pytest.mark.parametrize("guid", sorted(ALLOWED_ROLE_GUIDS))
def test_every_matrix_role_may_be_assigned_to_a_service_principal(guid: str) -> None:
    assert abac.evaluate(_condition(), _write(guid)) is True
    assert abac.evaluate(_condition(), _delete(guid)) is True


@pytest.mark.parametrize(
    "role", ["Owner", "User Access Administrator", "Role Based Access Control Administrator"]
)
def test_roles_outside_the_matrix_are_denied(role: str) -> None:
    guid = BUILTIN_ROLES[role]
    assert abac.evaluate(_condition(), _write(guid)) is False
    assert abac.evaluate(_condition(), _delete(guid)) is False


def test_owner_is_denied_even_as_a_bare_guid() -> None:
    ctx = abac.Context(
        action=WRITE,
        request={"RoleDefinitionId": [OWNER], "PrincipalType": ["ServicePrincipal"]},
        resource={},
    )
    assert abac.evaluate(_condition(), ctx) is False


@pytest.mark.parametrize("principal_type", ["User", "Group", "ForeignGroup"])
def test_matrix_roles_are_denied_to_anything_but_service_principals(principal_type: str) -> None:
    reader = BUILTIN_ROLES["Reader"]
    assert abac.evaluate(_condition(), _write(reader, principal_type)) is False


def test_other_actions_are_not_constrained() -> None:
    ctx = abac.Context(action="Microsoft.Authorization/roleAssignments/read", request={}, resource={})
    assert abac.evaluate(_condition(), ctx) is True


def test_a_condition_from_a_shorter_matrix_denies_the_dropped_role() -> None:
    guids = matrix_role_guids()
    shorter = rbac_condition(guids[:-1])
    assert abac.evaluate(shorter, _write(guids[-1])) is False
    assert abac.evaluate(shorter, _write(guids[0])) is True


def test_the_demo_estate_uses_the_generated_condition_text() -> None:
    estate = yaml.safe_load((bicep.ROOT / "localdev" / "estates" / "demo.yaml").read_text(encoding="utf-8"))
    conditions = {
        re.sub(r"\s+", " ", str(ra["condition"])).strip()
        for ra in estate.get("role_assignments", [])
        if ra.get("condition")
    }
    assert conditions, "the demo estate no longer constrains the Guard's RBAC administrator assignment"
    assert conditions == {re.sub(r"\s+", " ", _condition())}
