"""The Guard's identity is subject to RBAC and ABAC conditions; other callers are not."""

# mypy: disable-error-code="union-attr,index"
from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import TrustedAccessRoleBinding, TrustedAccessRoleBindingProperties
from azure.mgmt.resource.resources import ResourceManagementClient

from localdev.azure_sim.launcher import SimHandle
from tests.sim.helpers import (
    CLUSTER,
    CLUSTER_PRINCIPAL,
    GUARD,
    OWNER,
    READER,
    RG_AKS,
    RG_SNAP,
    SUB1,
    VAULT,
    VAULT_PRINCIPAL,
    cred,
    kwargs,
)


def role_def(guid: str) -> str:
    return f"/subscriptions/{SUB1}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def params(
    role: str, principal: str = VAULT_PRINCIPAL, ptype: str = "ServicePrincipal"
) -> RoleAssignmentCreateParameters:
    return RoleAssignmentCreateParameters(
        role_definition_id=role_def(role), principal_id=principal, principal_type=ptype
    )


def test_requests_without_a_valid_token_are_401(sim: SimHandle) -> None:
    path = f"{CLUSTER}?api-version=2026-08-01"
    status, _, body = sim.call("GET", path)
    assert status == 401
    assert body["error"]["code"] == "AuthenticationFailed"
    status, _, body = sim.call("GET", path, token="not-a-known-token")
    assert status == 401
    assert body["error"]["code"] == "InvalidAuthenticationToken"
    status, _, _ = sim.call("GET", path, token=sim.token)
    assert status == 200


def test_reader_guard_cannot_write(sim: SimHandle) -> None:
    before = len(sim.events())
    client = ContainerServiceClient(cred(sim), SUB1, **kwargs(sim))
    binding = TrustedAccessRoleBinding(
        properties=TrustedAccessRoleBindingProperties(
            source_resource_id=VAULT, roles=["Microsoft.DataProtection/backupVaults/backup-operator"]
        )
    )
    with pytest.raises(HttpResponseError) as info:
        client.trusted_access_role_bindings.begin_create_or_update("rg-aks", "aks-prod-1", "b2", binding)
    assert info.value.status_code == 403
    assert info.value.error.code == "AuthorizationFailed"
    action = "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/write"
    assert info.value.error.message == (
        f"The client '{GUARD}' with object id '{GUARD}' does not have authorization to perform action "
        f"'{action}' over scope '{CLUSTER}/trustedAccessRoleBindings/b2' or the scope is invalid. "
        "If access was recently granted, please refresh your credentials."
    )
    resources = ResourceManagementClient(cred(sim), SUB1, **kwargs(sim))
    with pytest.raises(HttpResponseError) as reg:
        resources.providers.register("Microsoft.KubernetesConfiguration")
    assert reg.value.status_code == 403
    assert "Microsoft.KubernetesConfiguration/register/action" in str(reg.value.error.message)
    assert sim.events(since=before) == []
    # reads are fine with Reader
    assert client.managed_clusters.get("rg-aks", "aks-prod-1").name == "aks-prod-1"


def test_guard_cannot_assign_roles_without_a_grant(sim: SimHandle) -> None:
    client = AuthorizationManagementClient(cred(sim), SUB1, **kwargs(sim))
    with pytest.raises(HttpResponseError) as info:
        client.role_assignments.create(RG_AKS, str(uuid.uuid4()), params(READER))
    assert info.value.status_code == 403
    message = str(info.value.error.message)
    assert "'Microsoft.Authorization/roleAssignments/write'" in message
    assert "condition" not in message


def test_abac_condition_limits_the_roles_the_guard_can_assign(sim: SimHandle) -> None:
    guard = AuthorizationManagementClient(cred(sim), SUB1, **kwargs(sim))
    admin = AuthorizationManagementClient(cred(sim, admin=True), SUB1, **kwargs(sim))
    before = len(sim.events())
    allowed = guard.role_assignments.create(RG_SNAP, str(uuid.uuid4()), params(READER))
    assert allowed.principal_id == VAULT_PRINCIPAL
    (event,) = sim.events(since=before)
    assert event["data"]["authorization"]["evidence"]["role"] == "Role Based Access Control Administrator"

    for denied in (params(OWNER), params(READER, ptype="User")):
        with pytest.raises(HttpResponseError) as info:
            guard.role_assignments.create(RG_SNAP, str(uuid.uuid4()), denied)
        assert info.value.status_code == 403
        assert info.value.error.code == "AuthorizationFailed"
        assert "condition" in str(info.value.error.message)

    # delete: allowed for an assignment of a listed role, denied for one of another role
    guard.role_assignments.delete(RG_SNAP, allowed.name)
    owner_ra = admin.role_assignments.create(RG_SNAP, str(uuid.uuid4()), params(OWNER, CLUSTER_PRINCIPAL))
    with pytest.raises(HttpResponseError) as info:
        guard.role_assignments.delete(RG_SNAP, owner_ra.name)
    assert info.value.status_code == 403
    assert "roleAssignments/delete" in str(info.value.error.message)
    admin.role_assignments.delete(RG_SNAP, owner_ra.name)


def test_guard_deleting_a_missing_assignment_is_204(sim: SimHandle) -> None:
    path = (
        f"{RG_SNAP}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?api-version=2022-04-01"
    )
    status, _, _ = sim.call("DELETE", path, token=sim.token)
    assert status == 204
    status, _, body = sim.call("DELETE", path.replace(RG_SNAP, RG_AKS), token=sim.token)
    assert status == 403
    assert body["error"]["code"] == "AuthorizationFailed"
