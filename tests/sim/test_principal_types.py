"""Role assignment PUTs whose principalType disagrees with the directory: 400 UnmatchedPrincipalType.

Azure checks the body's ``principalType`` against the principal's real object type; the message is
Azure's own ("PrinciaplType" typo and the space before the comma included), with the principal id
as 32 hex digits. The Guard's ABAC condition tests the *requested* type, so this check is what
keeps a User or Group from receiving a matrix role through a request that claims ServicePrincipal.
"""

# mypy: disable-error-code="union-attr"
from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

from localdev.azure_sim.launcher import SimHandle
from tests.sim.helpers import (
    GROUP_PRINCIPAL,
    READER,
    RG_SNAP,
    SUB1,
    USER_PRINCIPAL,
    VAULT_PRINCIPAL,
    cred,
    kwargs,
)

ROLE = f"/subscriptions/{SUB1}/providers/Microsoft.Authorization/roleDefinitions/{READER}"


def _client(sim: SimHandle, *, admin: bool) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(cred(sim, admin=admin), SUB1, **kwargs(sim))


def _params(principal: str, ptype: str | None) -> RoleAssignmentCreateParameters:
    if ptype is None:
        return RoleAssignmentCreateParameters(role_definition_id=ROLE, principal_id=principal)
    return RoleAssignmentCreateParameters(
        role_definition_id=ROLE, principal_id=principal, principal_type=ptype
    )


def _hex(principal: str) -> str:
    return principal.replace("-", "")


@pytest.mark.parametrize(
    ("principal", "actual", "specified"),
    [
        (USER_PRINCIPAL, "User", "ServicePrincipal"),
        (GROUP_PRINCIPAL, "Group", "ServicePrincipal"),
        (VAULT_PRINCIPAL, "ServicePrincipal", "User"),
        (USER_PRINCIPAL, "User", "Group"),
    ],
)
def test_a_principal_type_that_disagrees_with_the_directory_is_400(
    sim: SimHandle, principal: str, actual: str, specified: str
) -> None:
    client = _client(sim, admin=True)
    name = str(uuid.uuid4())
    before = len(sim.events())
    with pytest.raises(HttpResponseError) as info:
        client.role_assignments.create(RG_SNAP, name, _params(principal, specified))
    assert info.value.status_code == 400
    assert info.value.error.code == "UnmatchedPrincipalType"
    assert info.value.error.message == (
        f"The PrincipalId '{_hex(principal)}' has type '{actual}' , which is different from "
        f"specified PrinciaplType '{specified}'."
    )
    assert sim.events(since=before) == []
    status, _, _ = sim.call(
        "GET",
        f"{RG_SNAP}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01",
        token=sim.admin_token,
    )
    assert status == 404  # nothing was stored


@pytest.mark.parametrize(
    ("principal", "ptype", "echoed"),
    [
        (USER_PRINCIPAL, "User", "User"),
        (GROUP_PRINCIPAL, "Group", "Group"),
        (VAULT_PRINCIPAL, "ServicePrincipal", "ServicePrincipal"),
        (USER_PRINCIPAL, None, "User"),  # absent: the directory's type
        (GROUP_PRINCIPAL, "group", "group"),  # the comparison ignores case
    ],
)
def test_the_right_or_no_principal_type_is_accepted(
    sim: SimHandle, principal: str, ptype: str | None, echoed: str
) -> None:
    client = _client(sim, admin=True)
    ra = client.role_assignments.create(RG_SNAP, str(uuid.uuid4()), _params(principal, ptype))
    assert ra.principal_id == principal
    assert ra.principal_type == echoed
    client.role_assignments.delete(RG_SNAP, ra.name)


def test_the_guard_cannot_reach_a_user_by_claiming_service_principal(sim: SimHandle) -> None:
    """The ABAC condition lets a request that claims ServicePrincipal through; Azure's type check
    then refuses it, so the User gets nothing either way."""
    guard = _client(sim, admin=False)
    with pytest.raises(HttpResponseError) as claimed:
        guard.role_assignments.create(RG_SNAP, str(uuid.uuid4()), _params(USER_PRINCIPAL, "ServicePrincipal"))
    assert claimed.value.status_code == 400
    assert claimed.value.error.code == "UnmatchedPrincipalType"
    with pytest.raises(HttpResponseError) as honest:
        guard.role_assignments.create(RG_SNAP, str(uuid.uuid4()), _params(USER_PRINCIPAL, "User"))
    assert honest.value.status_code == 403  # the condition allows service principals only
    assert honest.value.error.code == "AuthorizationFailed"
    listed = _client(sim, admin=True).role_assignments.list_for_scope(
        RG_SNAP, filter=f"principalId eq '{USER_PRINCIPAL}'"
    )
    assert list(listed) == []
