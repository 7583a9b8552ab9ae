"""The generated ABAC condition, fed to the simulator's evaluator (localdev/azure_sim/abac.py).

The simulator enforces the same text on the Guard's Role Based Access Control Administrator
assignment, so these are the semantics the Guard meets locally and (by the condition language) in
Azure. What must hold: writes only of matrix roles, only with principalType ServicePrincipal, never
to the Guard's own principal; deletes never, whatever the role or principal.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
import yaml

from localdev.azure_sim import abac
from localdev.estates import generate
from shared.infra_export import matrix_role_guids, rbac_condition
from shared.roles import ALLOWED_ROLE_GUIDS, BUILTIN_ROLES
from tests.infra import bicep

WRITE = "Microsoft.Authorization/roleAssignments/write"
DELETE = "Microsoft.Authorization/roleAssignments/delete"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
GUARD = "6f1d2e3c-4b5a-4978-8a1b-2c3d4e5f6a01"
OTHER_SP = "0c1d2e3f-4a5b-4c6d-8e7f-901234567890"
NON_MATRIX = ["Owner", "User Access Administrator", "Role Based Access Control Administrator"]


def _document() -> dict[str, str]:
    doc = json.loads((bicep.INFRA / "generated" / "rbac-condition.json").read_text(encoding="utf-8"))
    assert doc["conditionVersion"] == "2.0"
    return {str(k): str(v) for k, v in doc.items()}


def _condition(guard: str = GUARD) -> str:
    """The condition as deployed: the Bicep replaces the placeholder with the identity's principalId."""
    doc = _document()
    return doc["condition"].replace(doc["guardPrincipalIdPlaceholder"], guard)


def _role_id(guid: str) -> str:
    sub = "/subscriptions/00000000-0000-0000-0000-000000000001"
    return f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _props(guid: str, principal_type: str, principal: str) -> dict[str, list[str]]:
    return {
        "RoleDefinitionId": [_role_id(guid)],
        "PrincipalType": [principal_type],
        "PrincipalId": [principal],
    }


def _write(guid: str, principal_type: str = "ServicePrincipal", principal: str = OTHER_SP) -> abac.Context:
    return abac.Context(action=WRITE, request=_props(guid, principal_type, principal), resource={})


def _delete(guid: str, principal_type: str = "ServicePrincipal", principal: str = OTHER_SP) -> abac.Context:
    return abac.Context(action=DELETE, request={}, resource=_props(guid, principal_type, principal))


def test_the_condition_parses_before_and_after_the_principal_is_filled_in() -> None:
    abac.parse(_document()["condition"])
    abac.parse(_condition())


@pytest.mark.parametrize("guid", sorted(ALLOWED_ROLE_GUIDS))
def test_every_matrix_role_may_be_assigned_to_another_service_principal(guid: str) -> None:
    assert abac.evaluate(_condition(), _write(guid)) is True


@pytest.mark.parametrize("principal_type", ["ServicePrincipal", "User", "Group", "ForeignGroup"])
@pytest.mark.parametrize("guid", sorted(ALLOWED_ROLE_GUIDS) + [BUILTIN_ROLES[r] for r in NON_MATRIX])
def test_no_assignment_may_be_deleted(guid: str, principal_type: str) -> None:
    assert abac.evaluate(_condition(), _delete(guid, principal_type)) is False
    assert abac.evaluate(_condition(), _delete(guid, principal_type, principal=GUARD)) is False


def test_a_delete_of_an_assignment_without_attributes_is_denied_too() -> None:
    ctx = abac.Context(action=DELETE, request={}, resource={})
    assert abac.evaluate(_condition(), ctx) is False


@pytest.mark.parametrize("role", NON_MATRIX)
def test_roles_outside_the_matrix_are_denied(role: str) -> None:
    assert abac.evaluate(_condition(), _write(BUILTIN_ROLES[role])) is False


def test_owner_is_denied_even_as_a_bare_guid() -> None:
    ctx = abac.Context(
        action=WRITE,
        request={
            "RoleDefinitionId": [OWNER],
            "PrincipalType": ["ServicePrincipal"],
            "PrincipalId": [OTHER_SP],
        },
        resource={},
    )
    assert abac.evaluate(_condition(), ctx) is False


@pytest.mark.parametrize("principal_type", ["User", "Group", "ForeignGroup", "Device", ""])
def test_matrix_roles_are_denied_to_anything_but_service_principals(principal_type: str) -> None:
    reader = BUILTIN_ROLES["Reader"]
    assert abac.evaluate(_condition(), _write(reader, principal_type)) is False


def test_a_write_without_a_principal_type_is_denied() -> None:
    props = _props(BUILTIN_ROLES["Reader"], "ServicePrincipal", OTHER_SP)
    del props["PrincipalType"]
    assert abac.evaluate(_condition(), abac.Context(action=WRITE, request=props, resource={})) is False


@pytest.mark.parametrize("spelling", [GUARD, GUARD.upper(), "{" + GUARD + "}"])
@pytest.mark.parametrize("guid", sorted(ALLOWED_ROLE_GUIDS))
def test_the_guard_may_not_assign_any_role_to_itself(guid: str, spelling: str) -> None:
    assert abac.evaluate(_condition(), _write(guid, principal=spelling)) is False


def test_the_exclusion_is_the_deployed_guard_not_a_fixed_id() -> None:
    other_guard = str(uuid.uuid5(uuid.NAMESPACE_URL, "another-guard"))
    condition = _condition(guard=other_guard)
    reader = BUILTIN_ROLES["Reader"]
    assert abac.evaluate(condition, _write(reader, principal=other_guard)) is False
    assert abac.evaluate(condition, _write(reader, principal=GUARD)) is True


def test_other_actions_are_not_constrained() -> None:
    ctx = abac.Context(action="Microsoft.Authorization/roleAssignments/read", request={}, resource={})
    assert abac.evaluate(_condition(), ctx) is True


def test_a_condition_from_a_shorter_matrix_denies_the_dropped_role() -> None:
    guids = matrix_role_guids()
    shorter = rbac_condition(guids[:-1], GUARD)
    assert abac.evaluate(shorter, _write(guids[-1])) is False
    assert abac.evaluate(shorter, _write(guids[0])) is True


def test_the_demo_estate_uses_the_generated_condition_with_its_guard() -> None:
    estate = yaml.safe_load((bicep.ROOT / "localdev" / "estates" / "demo.yaml").read_text(encoding="utf-8"))
    guard = estate["guard"]["principal_id"]
    conditions = {
        re.sub(r"\s+", " ", str(ra["condition"])).strip()
        for ra in estate.get("role_assignments", [])
        if ra.get("condition")
    }
    assert conditions, "the demo estate no longer constrains the Guard's RBAC administrator assignment"
    assert conditions == {re.sub(r"\s+", " ", _condition(guard))}


def test_the_estate_generator_uses_the_generated_condition_with_its_guard() -> None:
    assert _condition(generate.GUARD_PRINCIPAL) == generate.GUARD_RBAC_CONDITION
