"""Writes through the real SDK clients: long-running operations complete, role assignment errors
are ARM's, and every successful write is recorded as an Event Grid event."""

# mypy: disable-error-code="union-attr,index,misc,arg-type"
from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import (
    RunCommandRequest,
    TrustedAccessRoleBinding,
    TrustedAccessRoleBindingProperties,
)
from azure.mgmt.kubernetesconfiguration.extensions import KubernetesConfigurationExtensionsMgmtClient
from azure.mgmt.kubernetesconfiguration.extensions.models import Extension, ExtensionProperties
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage.models import (
    IPRule,
    NetworkRuleSet,
    ResourceAccessRule,
    StorageAccountPropertiesUpdateParameters,
    StorageAccountUpdateParameters,
    VirtualNetworkRule,
)

from localdev.azure_sim.launcher import SimHandle, running_simulator
from tests.sim.helpers import (
    ADMIN,
    CLUSTER,
    DEV_CLUSTER,
    GUARD,
    READER,
    SUB1,
    SUB2,
    SUBNET,
    TENANT,
    VAULT,
    VAULT_PRINCIPAL,
    cred,
    kwargs,
)

EXT_OP = (
    "GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"
    "/providers/Microsoft.KubernetesConfiguration/extensions/{extension}/operations/{op}"
)


def role_def(sub: str, guid: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def auth(sim: SimHandle, sub: str = SUB1, admin: bool = False) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(cred(sim, admin), sub, **kwargs(sim))


def new_events(sim: SimHandle, since: int) -> list[dict[str, Any]]:
    return sim.events(since=since)


def test_extension_create_is_polled_to_succeeded_and_its_identity_can_be_assigned(sim: SimHandle) -> None:
    client = KubernetesConfigurationExtensionsMgmtClient(cred(sim), SUB2, **kwargs(sim))
    before = len(sim.events())
    sim.reset_counters()
    settings = {
        "configuration.backupStorageLocation.bucket": "c1",
        "configuration.backupStorageLocation.config.storageAccount": "stdev",
        "configuration.backupStorageLocation.config.resourceGroup": "rg-dev",
        "configuration.backupStorageLocation.config.subscriptionId": SUB2,
        "credentials.tenantId": TENANT,
    }
    body = Extension(
        properties=ExtensionProperties(
            extension_type="microsoft.dataprotection.kubernetes",
            release_train="stable",
            configuration_settings=settings,
        )
    )
    poller = client.extensions.begin_create(
        "rg-dev", "Microsoft.ContainerService", "managedClusters", "aks-dev-1", "azure-aks-backup", body
    )
    ext = poller.result(timeout=10)
    assert ext.properties.provisioning_state == "Succeeded"
    assert ext.properties.configuration_settings == settings
    principal = ext.properties.aks_assigned_identity.principal_id
    assert principal and uuid.UUID(principal)
    assert sim.requests(log=False)["by_template"][EXT_OP] == 2  # InProgress once, then Succeeded

    (event,) = new_events(sim, before)
    assert event["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert (
        event["subject"]
        == f"{DEV_CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions/azure-aks-backup"
    )
    assert event["data"]["operationName"] == "Microsoft.KubernetesConfiguration/extensions/write"
    assert event["data"]["claims"]["http://schemas.microsoft.com/identity/claims/objectidentifier"] == GUARD
    assert event["topic"] == f"/subscriptions/{SUB2}"

    # the minted identity is in the directory: assigning it a role works at once
    ra = auth(sim, SUB2).role_assignments.create(
        f"/subscriptions/{SUB2}/resourceGroups/rg-dev",
        str(uuid.uuid4()),
        RoleAssignmentCreateParameters(
            role_definition_id=role_def(SUB2, "ba92f5b4-2d11-453d-a403-e96b0029c9fe"),
            principal_id=principal,
            principal_type="ServicePrincipal",
        ),
    )
    assert ra.principal_id == principal


def test_extension_needs_the_provider_registered(sim: SimHandle) -> None:
    client = KubernetesConfigurationExtensionsMgmtClient(cred(sim, admin=True), SUB1, **kwargs(sim))
    body = Extension(properties=ExtensionProperties(extension_type="microsoft.dataprotection.kubernetes"))
    with pytest.raises(HttpResponseError) as info:
        client.extensions.begin_create(
            "rg-aks", "Microsoft.ContainerService", "managedClusters", "aks-4", "azure-aks-backup", body
        )
    assert info.value.status_code == 409
    assert info.value.error.code == "MissingSubscriptionRegistration"

    before = len(sim.events())
    resources = ResourceManagementClient(cred(sim, admin=True), SUB1, **kwargs(sim))
    assert (
        resources.providers.register("Microsoft.KubernetesConfiguration").registration_state == "Registering"
    )
    (event,) = new_events(sim, before)
    assert event["eventType"] == "Microsoft.Resources.ResourceActionSuccess"
    assert event["data"]["operationName"] == "Microsoft.KubernetesConfiguration/register/action"
    assert event["subject"] == f"/subscriptions/{SUB1}/providers/Microsoft.KubernetesConfiguration"
    deadline = time.monotonic() + 5
    while resources.providers.get("Microsoft.KubernetesConfiguration").registration_state != "Registered":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    ext = client.extensions.begin_create(
        "rg-aks", "Microsoft.ContainerService", "managedClusters", "aks-4", "azure-aks-backup", body
    ).result(timeout=10)
    assert ext.properties.provisioning_state == "Succeeded"


def test_trusted_access_binding_create_and_delete(sim: SimHandle) -> None:
    client = ContainerServiceClient(cred(sim), SUB2, **kwargs(sim))
    before = len(sim.events())
    binding = client.trusted_access_role_bindings.begin_create_or_update(
        "rg-dev",
        "aks-dev-1",
        "backup-bv-prod",
        TrustedAccessRoleBinding(
            properties=TrustedAccessRoleBindingProperties(
                source_resource_id=VAULT, roles=["Microsoft.DataProtection/backupVaults/backup-operator"]
            )
        ),
    ).result(timeout=10)
    assert binding.provisioning_state == "Succeeded"
    assert binding.source_resource_id == VAULT
    assert [b.name for b in client.trusted_access_role_bindings.list("rg-dev", "aks-dev-1")] == [
        "backup-bv-prod"
    ]
    client.trusted_access_role_bindings.begin_delete("rg-dev", "aks-dev-1", "backup-bv-prod").result(
        timeout=10
    )
    assert list(client.trusted_access_role_bindings.list("rg-dev", "aks-dev-1")) == []
    write, delete = new_events(sim, before)
    subject = f"{DEV_CLUSTER}/trustedAccessRoleBindings/backup-bv-prod"
    assert (write["eventType"], write["subject"]) == ("Microsoft.Resources.ResourceWriteSuccess", subject)
    assert write["data"]["operationName"] == (
        "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/write"
    )
    assert (delete["eventType"], delete["subject"]) == ("Microsoft.Resources.ResourceDeleteSuccess", subject)
    assert delete["data"]["operationName"] == (
        "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/delete"
    )


def test_cluster_update_is_a_long_running_put_that_keeps_unknown_properties(sim: SimHandle) -> None:
    client = ContainerServiceClient(cred(sim), SUB2, **kwargs(sim))
    mc = client.managed_clusters.get("rg-dev", "aks-dev-1")
    mc.storage_profile.snapshot_controller.enabled = False
    updated = client.managed_clusters.begin_create_or_update("rg-dev", "aks-dev-1", mc).result(timeout=10)
    assert updated.storage_profile.snapshot_controller.enabled is False
    assert updated.provisioning_state == "Succeeded"
    assert updated.identity.principal_id == mc.identity.principal_id
    # a raw PUT with a property the SDK does not know keeps it
    raw = sim.state(DEV_CLUSTER)
    assert raw is not None
    raw["properties"]["futureFeature"] = {"enabled": True}
    status, headers, _ = sim.call("PUT", DEV_CLUSTER + "?api-version=2026-08-01", raw, token=sim.admin_token)
    assert status == 200
    assert "Azure-AsyncOperation" in headers
    assert sim.state(DEV_CLUSTER)["properties"]["futureFeature"] == {"enabled": True}
    events = [e for e in sim.events() if e["subject"] == DEV_CLUSTER]
    assert (
        events and events[-1]["data"]["operationName"] == "Microsoft.ContainerService/managedClusters/write"
    )


def test_run_command_returns_the_estate_output(sim: SimHandle) -> None:
    client = ContainerServiceClient(cred(sim, admin=True), SUB1, **kwargs(sim))
    before = len(sim.events())
    result = client.managed_clusters.begin_run_command(
        "rg-aks",
        "aks-prod-1",
        RunCommandRequest(command="kubectl get pods -A"),
        polling_interval=0.1,  # AKS sends no Retry-After on command results (recorded)
    ).result(timeout=10)
    assert result.provisioning_state == "Succeeded"
    assert result.exit_code == 0
    assert result.logs == "NAMESPACE   NAME\nvelero      velero-abc"
    (event,) = new_events(sim, before)
    assert event["eventType"] == "Microsoft.Resources.ResourceActionSuccess"
    assert event["data"]["operationName"] == "Microsoft.ContainerService/managedClusters/runCommand/action"
    assert event["subject"].startswith(CLUSTER)


def test_role_assignment_exists_and_update_not_permitted(sim: SimHandle) -> None:
    client = auth(sim, admin=True)
    params = RoleAssignmentCreateParameters(
        role_definition_id=role_def(SUB1, READER),
        principal_id=VAULT_PRINCIPAL,
        principal_type="ServicePrincipal",
    )
    before = len(sim.events())
    with pytest.raises(ResourceExistsError) as info:
        client.role_assignments.create(CLUSTER, str(uuid.uuid4()), params)
    assert info.value.status_code == 409
    assert info.value.error.code == "RoleAssignmentExists"
    assert info.value.error.message.startswith("The role assignment already exists. The ID of the existing")
    (existing,) = list(
        client.role_assignments.list_for_scope(CLUSTER, filter=f"principalId eq '{VAULT_PRINCIPAL}'")
    )
    assert str(existing.name).replace("-", "") in str(info.value.error.message)

    # same name, other principal
    other = RoleAssignmentCreateParameters(
        role_definition_id=role_def(SUB1, READER), principal_id=ADMIN, principal_type="User"
    )
    with pytest.raises(HttpResponseError) as info2:
        client.role_assignments.create(CLUSTER, existing.name, other)
    assert info2.value.status_code == 400
    assert info2.value.error.code == "RoleAssignmentUpdateNotPermitted"
    assert sim.events(since=before) == []  # failed calls produce no events

    # same name, same everything: idempotent
    again = client.role_assignments.create(CLUSTER, existing.name, params)
    assert again.id == existing.id


def test_role_assignment_write_and_delete_events(sim: SimHandle) -> None:
    client = auth(sim, admin=True)
    name = str(uuid.uuid4())
    scope = f"/subscriptions/{SUB1}/resourceGroups/rg-snap"
    before = len(sim.events())
    ra = client.role_assignments.create(
        scope,
        name,
        RoleAssignmentCreateParameters(
            role_definition_id=role_def(SUB1, READER),
            principal_id=VAULT_PRINCIPAL,
            principal_type="ServicePrincipal",
        ),
    )
    assert ra.id == f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert ra.role_definition_id == role_def(SUB1, READER)
    assert ra.principal_type == "ServicePrincipal"
    assert ra.scope == scope
    client.role_assignments.delete(scope, name)
    write, delete = sim.events(since=before)
    assert write["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert write["subject"] == ra.id
    assert write["data"]["resourceUri"] == ra.id
    assert write["data"]["operationName"] == "Microsoft.Authorization/roleAssignments/write"
    assert write["data"]["resourceProvider"] == "Microsoft.Authorization"
    assert write["data"]["subscriptionId"] == SUB1
    assert write["data"]["tenantId"] == TENANT
    assert write["dataVersion"] == "2" and write["metadataVersion"] == "1"
    assert write["eventTime"].endswith("Z")
    assert write["data"]["httpRequest"]["method"] == "PUT"
    assert delete["eventType"] == "Microsoft.Resources.ResourceDeleteSuccess"
    assert delete["data"]["operationName"] == "Microsoft.Authorization/roleAssignments/delete"
    assert delete["subject"] == ra.id


def test_storage_network_rules_round_trip(sim: SimHandle) -> None:
    client = StorageManagementClient(cred(sim, admin=True), SUB1, **kwargs(sim))
    acct = client.storage_accounts.get_properties("rg-backup", "stnodata")
    rules = NetworkRuleSet(
        default_action="Deny",
        bypass="AzureServices",
        resource_access_rules=[ResourceAccessRule(tenant_id=TENANT, resource_id=VAULT)],
        ip_rules=[IPRule(ip_address_or_range="198.51.100.0/24", action="Allow")],
        virtual_network_rules=[VirtualNetworkRule(virtual_network_resource_id=SUBNET, action="Allow")],
    )
    before = len(sim.events())
    updated = client.storage_accounts.update(
        "rg-backup",
        "stnodata",
        StorageAccountUpdateParameters(
            properties=StorageAccountPropertiesUpdateParameters(
                network_rule_set=rules, allow_shared_key_access=False
            )
        ),
    )
    assert updated.network_rule_set.default_action == "Deny"
    again = client.storage_accounts.get_properties("rg-backup", "stnodata")
    assert again.network_rule_set.resource_access_rules[0].resource_id == VAULT
    assert again.network_rule_set.ip_rules[0].ip_address_or_range == "198.51.100.0/24"
    assert again.network_rule_set.virtual_network_rules[0].virtual_network_resource_id == SUBNET
    assert again.allow_shared_key_access is False
    assert again.public_network_access == acct.public_network_access  # untouched properties are kept
    raw = sim.state(acct.id)
    assert raw["properties"]["networkAcls"]["resourceAccessRules"] == [
        {"tenantId": TENANT, "resourceId": VAULT}
    ]
    (event,) = sim.events(since=before)
    assert event["data"]["operationName"] == "Microsoft.Storage/storageAccounts/write"
    assert event["subject"] == acct.id


def test_principal_not_found_until_replicated() -> None:
    late = "99999999-0000-0000-0000-000000000002"
    later = "99999999-0000-0000-0000-000000000003"
    estate = {
        "other_tokens": [{"token": "admin", "principal_id": ADMIN, "object_type": "User"}],
        "principals": [
            {"id": late, "replicate_after_seconds": 1.5},
            {"id": later, "replicate_after_seconds": 600},
        ],
        "subscriptions": [{"id": SUB1, "resource_groups": [{"name": "rg-snap"}]}],
    }
    with running_simulator(estate) as sim:
        client = auth(sim, admin=True)
        scope = f"/subscriptions/{SUB1}/resourceGroups/rg-snap"

        def create(principal: str) -> Any:
            return client.role_assignments.create(
                scope,
                str(uuid.uuid4()),
                RoleAssignmentCreateParameters(
                    role_definition_id=role_def(SUB1, READER),
                    principal_id=principal,
                    principal_type="ServicePrincipal",
                ),
            )

        with pytest.raises(HttpResponseError) as info:
            create(late)
        assert info.value.status_code == 400
        assert info.value.error.code == "PrincipalNotFound"
        message = str(info.value.error.message)
        assert message.startswith(f"Principal {late} does not exist in the directory {TENANT}. ")
        assert "replication delay" in message and "https://aka.ms/docs-principaltype" in message
        attempts = 1
        deadline = time.monotonic() + 10
        while True:
            try:
                ra = create(late)
                break
            except HttpResponseError as exc:
                assert exc.error.code == "PrincipalNotFound"
                assert time.monotonic() < deadline
                attempts += 1
                time.sleep(0.25)
        assert ra.principal_id == late
        assert attempts > 1

        with pytest.raises(HttpResponseError):
            create(later)
        sim.replicate(later)
        assert create(later).principal_id == later
        with pytest.raises(HttpResponseError) as unknown:
            create(str(uuid.uuid4()))
        assert unknown.value.error.code == "PrincipalNotFound"


def test_resource_group_put_and_cluster_tags_patch(sim: SimHandle) -> None:
    resources = ResourceManagementClient(cred(sim), SUB2, **kwargs(sim))
    before = len(sim.events())
    rg = resources.resource_groups.create_or_update("rg-new", {"location": "westeurope", "tags": {"a": "b"}})
    assert (rg.name, rg.tags) == ("rg-new", {"a": "b"})
    assert resources.resource_groups.get("rg-new").location == "westeurope"
    client = ContainerServiceClient(cred(sim), SUB2, **kwargs(sim))
    mc = client.managed_clusters.begin_update_tags("rg-dev", "aks-dev-1", {"tags": {"env": "dev"}}).result(
        timeout=10
    )
    assert mc.tags == {"env": "dev"}
    assert client.managed_clusters.get("rg-dev", "aks-dev-1").tags == {"env": "dev"}
    rg_event, mc_event = sim.events(since=before)
    assert rg_event["subject"] == f"/subscriptions/{SUB2}/resourceGroups/rg-new"
    assert rg_event["data"]["operationName"] == "Microsoft.Resources/subscriptions/resourceGroups/write"
    assert mc_event["subject"] == DEV_CLUSTER
    assert mc_event["data"]["httpRequest"]["method"] == "PATCH"


def test_cluster_delete_is_long_running_and_recorded(sim: SimHandle) -> None:
    client = ContainerServiceClient(cred(sim, admin=True), SUB1, **kwargs(sim))
    doomed = CLUSTER.replace("aks-prod-1", "aks-5")
    before = len(sim.events())
    client.managed_clusters.begin_delete("rg-aks", "aks-5").result(timeout=10)
    assert sim.state(doomed) is None
    assert "aks-5" not in {c.name for c in client.managed_clusters.list()}
    (event,) = sim.events(since=before)
    assert (event["eventType"], event["subject"]) == ("Microsoft.Resources.ResourceDeleteSuccess", doomed)
    assert event["data"]["operationName"] == "Microsoft.ContainerService/managedClusters/delete"
