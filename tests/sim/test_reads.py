"""Reads through the real azure-mgmt SDK clients: every property the Guard's model needs survives
deserialization (the SDK silently drops miscased keys), paging, counters."""

# SDK models type every property as Optional; the assertions below are the None checks.
# mypy: disable-error-code="union-attr,index,misc,type-var"
from __future__ import annotations

from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.dataprotection import DataProtectionMgmtClient
from azure.mgmt.kubernetesconfiguration.extensions import KubernetesConfigurationExtensionsMgmtClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.policy import PolicyClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient

from localdev.azure_sim.launcher import SimHandle
from tests.sim.helpers import (
    ACCOUNT,
    CLUSTER,
    CLUSTER_PRINCIPAL,
    EXT_PRINCIPAL,
    GUARD,
    NSG,
    READER,
    RG_SNAP,
    SUB1,
    SUB2,
    SUBNET,
    TENANT,
    VAULT,
    VAULT_PRINCIPAL,
    by_template,
    cred,
    kwargs,
)

CLUSTER_GET = (
    "GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"
)


def aks(sim: SimHandle, sub: str = SUB1) -> ContainerServiceClient:
    return ContainerServiceClient(cred(sim), sub, **kwargs(sim))


def test_cluster_get_deserializes_everything_the_guard_reads(sim: SimHandle) -> None:
    sim.reset_counters()
    mc = aks(sim).managed_clusters.get("rg-aks", "aks-prod-1")
    assert mc.id == CLUSTER.replace("/resourceGroups/", "/resourcegroups/")  # AKS's spelling (recorded)
    assert mc.name == "aks-prod-1"
    assert mc.location == "westeurope"
    assert mc.tags["aks-backup-guard-vault"] == VAULT
    assert mc.identity.type == "SystemAssigned"
    assert mc.identity.principal_id == CLUSTER_PRINCIPAL
    assert mc.identity.tenant_id == TENANT
    assert mc.service_principal_profile.client_id == "msi"
    assert mc.kubernetes_version == "1.30"
    assert mc.current_kubernetes_version == "1.30.4"
    assert mc.storage_profile.disk_csi_driver.enabled is True
    assert mc.storage_profile.snapshot_controller.enabled is False
    assert mc.network_profile.outbound_type == "userDefinedRouting"
    assert mc.node_resource_group == "MC_rg-aks_aks-prod-1_westeurope"
    assert mc.agent_pool_profiles[0].vnet_subnet_id == SUBNET
    assert mc.provisioning_state == "Succeeded"
    assert mc.identity_profile["kubeletidentity"].object_id
    assert by_template(sim) == {CLUSTER_GET: 1}


def test_cluster_identity_variants(sim: SimHandle) -> None:
    client = aks(sim)
    uami = client.managed_clusters.get("rg-aks", "aks-uami")
    assert uami.identity.type == "UserAssigned"
    ((uami_id, uami_value),) = uami.identity.user_assigned_identities.items()
    assert uami_id.endswith("/userAssignedIdentities/uami-1")
    assert uami_value.principal_id == "22222222-0000-0000-0000-000000000002"
    assert uami_value.client_id == "33333333-0000-0000-0000-000000000002"
    legacy = client.managed_clusters.get("rg-aks", "aks-legacy")
    assert legacy.identity is None
    assert legacy.service_principal_profile.client_id == "33333333-0000-0000-0000-000000000003"


def test_paging_lists_every_cluster_over_several_pages(sim: SimHandle) -> None:
    sim.reset_counters()
    names = sorted(c.name for c in aks(sim).managed_clusters.list())
    assert names == ["aks-4", "aks-5", "aks-legacy", "aks-prod-1", "aks-uami"]
    pages = by_template(sim)["GET /subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters"]
    assert pages == 3  # page size 2
    by_rg = [c.name for c in aks(sim).managed_clusters.list_by_resource_group("rg-aks")]
    assert len(by_rg) == 5


def test_not_found_is_an_arm_error(sim: SimHandle) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        aks(sim).managed_clusters.get("rg-aks", "nope")
    except ResourceNotFoundError as exc:
        assert exc.error is not None and exc.error.code == "ResourceNotFound"
    else:
        raise AssertionError("expected 404")
    try:
        aks(sim).managed_clusters.get("rg-missing", "nope")
    except ResourceNotFoundError as exc:
        assert exc.error is not None and exc.error.code == "ResourceGroupNotFound"
    else:
        raise AssertionError("expected 404")


def test_trusted_access_bindings_list(sim: SimHandle) -> None:
    (binding,) = list(aks(sim).trusted_access_role_bindings.list("rg-aks", "aks-prod-1"))
    assert binding.id == f"{CLUSTER}/trustedAccessRoleBindings/backup-v1"
    assert binding.name == "backup-v1"
    assert binding.source_resource_id == VAULT
    assert binding.roles == ["Microsoft.DataProtection/backupVaults/backup-operator"]
    assert binding.provisioning_state == "Succeeded"


def test_extension_properties(sim: SimHandle) -> None:
    client = KubernetesConfigurationExtensionsMgmtClient(cred(sim), SUB1, **kwargs(sim))
    ext = client.extensions.get(
        "rg-aks", "Microsoft.ContainerService", "managedClusters", "aks-prod-1", "azure-aks-backup"
    )
    assert ext.id == f"{CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions/azure-aks-backup"
    assert ext.name == "azure-aks-backup"
    assert ext.properties.extension_type == "microsoft.dataprotection.kubernetes"
    assert ext.properties.provisioning_state == "Succeeded"
    assert ext.properties.aks_assigned_identity.principal_id == EXT_PRINCIPAL
    settings = ext.properties.configuration_settings
    assert settings["configuration.backupStorageLocation.bucket"] == "aks-backups"
    assert settings["configuration.backupStorageLocation.config.storageAccount"] == "stbackup1"
    assert settings["configuration.backupStorageLocation.config.resourceGroup"] == "rg-backup"
    assert settings["configuration.backupStorageLocation.config.subscriptionId"] == SUB1
    assert settings["configuration.backupStorageLocation.config.useAAD"] == "true"
    listed = list(
        client.extensions.list("rg-aks", "Microsoft.ContainerService", "managedClusters", "aks-prod-1")
    )
    assert [e.name for e in listed] == ["azure-aks-backup"]


def test_vault_policies_and_backup_instances(sim: SimHandle) -> None:
    client = DataProtectionMgmtClient(cred(sim), SUB1, **kwargs(sim))
    vault = client.backup_vaults.get("rg-backup", "bv-prod")
    assert vault.id == VAULT
    assert vault.name == "bv-prod"
    assert vault.location == "westeurope"
    assert vault.tags["aks-backup-guard-staging-rg"] == RG_SNAP.replace("rg-snap", "rg-staging")
    assert vault.identity.type == "SystemAssigned"
    assert vault.identity.principal_id == VAULT_PRINCIPAL
    assert vault.identity.tenant_id == TENANT
    assert vault.type == "Microsoft.DataProtection/backupVaults"  # as recorded
    assert [v.name for v in client.backup_vaults.get_in_subscription()] == ["bv-prod"]
    assert [v.name for v in client.backup_vaults.get_in_resource_group("rg-backup")] == ["bv-prod"]

    policies = {p.name: p for p in client.backup_policies.list("rg-backup", "bv-prod")}
    assert set(policies) == {"daily-op", "daily-vaulted"}

    def stores(policy_name: str) -> set[str]:
        found = set()
        for rule in client.backup_policies.get("rg-backup", "bv-prod", policy_name).properties.policy_rules:
            if getattr(rule, "data_store", None) is not None:
                found.add(rule.data_store.data_store_type)
            for lifecycle in getattr(rule, "lifecycles", None) or []:
                found.add(lifecycle.source_data_store.data_store_type)
                for copy in lifecycle.target_data_store_copy_settings or []:
                    found.add(copy.data_store.data_store_type)
        return found

    assert stores("daily-op") == {"OperationalStore"}
    assert "VaultStore" in stores("daily-vaulted")
    rule_types = {type(r).__name__ for r in policies["daily-vaulted"].properties.policy_rules}
    assert rule_types == {"AzureBackupRule", "AzureRetentionRule"}

    (bi,) = list(client.backup_instances.list("rg-backup", "bv-prod"))
    props = bi.properties
    assert bi.id == f"{VAULT}/backupInstances/bi-aks-prod-1"
    assert props.data_source_info.resource_id == CLUSTER
    assert props.data_source_info.datasource_type == "Microsoft.ContainerService/managedClusters"
    assert props.policy_info.policy_id == f"{VAULT}/backupPolicies/daily-vaulted"
    (store_params,) = props.policy_info.policy_parameters.data_store_parameters_list
    assert type(store_params).__name__ == "AzureOperationalStoreParameters"
    assert store_params.data_store_type == "OperationalStore"
    assert store_params.resource_group_id == RG_SNAP
    (ds_params,) = props.policy_info.policy_parameters.backup_datasource_parameters_list
    assert type(ds_params).__name__ == "KubernetesClusterBackupDatasourceParameters"
    got = client.backup_instances.get("rg-backup", "bv-prod", "bi-aks-prod-1")
    assert got.properties.data_source_info.resource_id == CLUSTER

    routed = list(
        client.backup_instances_extension_routing.list(
            CLUSTER.upper().replace("SUBSCRIPTIONS", "subscriptions")
        )
    )
    assert [r.name for r in routed] == ["bi-aks-prod-1"]
    assert list(client.backup_instances_extension_routing.list(CLUSTER.replace("aks-prod-1", "aks-4"))) == []


def test_storage_account_properties(sim: SimHandle) -> None:
    client = StorageManagementClient(cred(sim), SUB1, **kwargs(sim))
    acct = client.storage_accounts.get_properties("rg-backup", "stbackup1")
    assert acct.id == ACCOUNT
    assert acct.name == "stbackup1"
    acls = acct.network_rule_set
    assert acls.default_action == "Deny"
    assert acls.bypass == "AzureServices, Logging"
    (rule,) = acls.resource_access_rules
    assert rule.tenant_id == TENANT
    assert rule.resource_id == VAULT
    assert [ip.ip_address_or_range for ip in acls.ip_rules] == ["127.0.0.0/8", "203.0.113.0/24"]
    assert [v.virtual_network_resource_id for v in acls.virtual_network_rules] == [SUBNET]
    assert acct.public_network_access == "Enabled"
    assert acct.allow_shared_key_access is False
    assert len(acct.private_endpoint_connections) == 2
    assert {a.name for a in client.storage_accounts.list()} == {"stbackup1", "stnodata", "stlocked"}
    assert {a.name for a in client.storage_accounts.list_by_resource_group("rg-backup")} == {
        "stbackup1",
        "stnodata",
        "stlocked",
    }


def test_blob_container_arm_get_and_missing(sim: SimHandle) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    client = StorageManagementClient(cred(sim), SUB1, **kwargs(sim))
    container = client.blob_containers.get("rg-backup", "stbackup1", "aks-backups")
    assert container.name == "aks-backups"
    assert sorted(c.name for c in client.blob_containers.list("rg-backup", "stbackup1")) == [
        "aks-backups",
        "empty",
    ]
    try:
        client.blob_containers.get("rg-backup", "stbackup1", "nope")
    except ResourceNotFoundError as exc:
        assert exc.error is not None and exc.error.code == "ContainerNotFound"
    else:
        raise AssertionError("expected 404")


def test_role_assignments_and_definitions(sim: SimHandle) -> None:
    client = AuthorizationManagementClient(cred(sim), SUB1, **kwargs(sim))
    scope = f"/subscriptions/{SUB1}"
    everything = list(client.role_assignments.list_for_subscription())
    scopes = {ra.scope for ra in everything}
    assert "/" in scopes  # root-scope assignment is above the subscription
    assert f"/subscriptions/{SUB1}/resourceGroups/rg-snap" in scopes  # below
    assert all(not (ra.scope or "").startswith(f"/subscriptions/{SUB2}") for ra in everything)
    at_scope = list(client.role_assignments.list_for_scope(scope, filter="atScope()"))
    assert {ra.scope for ra in at_scope} == {"/", scope}
    mine = list(client.role_assignments.list_for_scope(scope, filter=f"principalId eq '{VAULT_PRINCIPAL}'"))
    assert len(mine) == 1
    ra = mine[0]
    assert ra.id.startswith(f"{CLUSTER}/providers/Microsoft.Authorization/roleAssignments/")
    assert ra.scope == CLUSTER
    assert ra.principal_id == VAULT_PRINCIPAL
    assert (
        ra.role_definition_id
        == f"/subscriptions/{SUB1}/providers/Microsoft.Authorization/roleDefinitions/{READER}"
    )
    assert ra.principal_type == "ServicePrincipal"
    guard_conditioned = [
        r
        for r in client.role_assignments.list_for_scope(RG_SNAP, filter=f"principalId eq '{GUARD}'")
        if r.condition
    ]
    assert guard_conditioned and guard_conditioned[0].condition_version == "2.0"
    sim.reset_counters()
    guard_all = list(client.role_assignments.list_for_scope(scope, filter=f"principalId eq '{GUARD}'"))
    assert len(guard_all) == 3  # subscription Reader, blob data reader, conditioned RBAC admin: 2 pages
    assert by_template(sim) == {"GET {scope}/providers/Microsoft.Authorization/roleAssignments": 2}
    reader = client.role_definitions.get(scope, READER)
    assert reader.role_name == "Reader"
    assert reader.permissions[0].actions == ["*/read"]
    found = list(client.role_definitions.list(scope, filter="roleName eq 'Storage Blob Data Reader'"))
    assert [d.name for d in found] == ["2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"]
    assert found[0].permissions[0].data_actions


def test_network_subnet_and_nsg(sim: SimHandle) -> None:
    client = NetworkManagementClient(cred(sim), SUB1, **kwargs(sim))
    subnet = client.subnets.get("rg-net", "vnet-aks", "nodes")
    assert subnet.id == SUBNET
    assert subnet.network_security_group.id == NSG
    nsg = client.network_security_groups.get("rg-net", "nsg-nodes")
    assert nsg.id == NSG
    assert [s.id for s in nsg.subnets] == [SUBNET]
    rules = {r.name: r for r in nsg.security_rules}
    allow = rules["allow-backup"]
    assert (allow.direction, allow.access, allow.priority) == ("Outbound", "Allow", 200)
    assert allow.destination_address_prefix == "AzureBackup"
    assert allow.source_address_prefix == "*"
    assert allow.destination_port_range == "443"
    deny = rules["deny-some"]
    assert deny.source_address_prefixes == ["10.1.0.0/16", "10.2.0.0/16"]
    assert deny.protocol == "Tcp"
    assert [v.name for v in client.virtual_networks.list_all()] == ["vnet-aks"]
    assert [n.name for n in client.network_security_groups.list_all()] == ["nsg-nodes"]
    vnet = client.virtual_networks.get("rg-net", "vnet-aks")
    assert vnet.subnets[0].network_security_group.id == NSG


def test_policy_assignments(sim: SimHandle) -> None:
    client = PolicyClient(cred(sim), SUB1, **kwargs(sim))
    (pa,) = list(client.policy_assignments.list())
    assert (
        pa.id
        == f"/subscriptions/{SUB1}/providers/Microsoft.Authorization/policyAssignments/k8s-no-privileged"
    )
    assert pa.name == "k8s-no-privileged"
    assert pa.policy_definition_id.endswith("95edb821-ddaf-4404-9732-666045e056b4")
    assert pa.display_name == "Kubernetes cluster should not allow privileged containers"
    assert pa.parameters["excludedNamespaces"].value == ["kube-system", "gatekeeper-system"]
    assert pa.enforcement_mode == "Default"
    got = client.policy_assignments.get(f"/subscriptions/{SUB1}", "k8s-no-privileged")
    assert got.name == "k8s-no-privileged"
    assert list(client.policy_assignments.list_for_resource_group("rg-aks")) != []


def test_providers_and_resource_groups(sim: SimHandle) -> None:
    client = ResourceManagementClient(cred(sim), SUB1, **kwargs(sim))
    assert client.providers.get("Microsoft.KubernetesConfiguration").registration_state == "NotRegistered"
    assert client.providers.get("Microsoft.DataProtection").registration_state == "Registered"
    states = {p.namespace: p.registration_state for p in client.providers.list()}
    assert states["Microsoft.KubernetesConfiguration"] == "NotRegistered"
    assert states["Microsoft.ContainerService"] == "Registered"
    rg = client.resource_groups.get("rg-aks")
    assert (rg.name, rg.location) == ("rg-aks", "westeurope")
    assert len(list(client.resource_groups.list())) == 5
    assert client.resource_groups.check_existence("rg-aks") is True
    assert client.resource_groups.check_existence("rg-none") is False


def test_unsupported_requests_get_arm_errors(sim: SimHandle) -> None:
    status, _, body = sim.call("DELETE", f"{VAULT}?api-version=2026-06-01", token=sim.token)
    assert status == 405
    assert body["error"]["code"] == "HttpMethodNotAllowed"
    status, _, body = sim.call("GET", f"{CLUSTER}/agentPools?api-version=2026-08-01", token=sim.token)
    assert status == 400
    assert set(body["error"]) >= {"code", "message"}
    assert sim.requests()["log"][-1]["template"] == "GET <unmatched>"


def test_guard_lists_only_its_subscriptions_and_ids_match_case_insensitively(sim: SimHandle) -> None:
    status, _, body = sim.call("GET", "/subscriptions?api-version=2025-04-01", token=sim.token)
    assert status == 200
    assert {s["subscriptionId"] for s in body["value"]} == {SUB1, SUB2}
    status, _, body = sim.call("GET", CLUSTER.upper() + "?api-version=2026-08-01", token=sim.token)
    assert status == 200
    assert body["id"] == CLUSTER.replace("/resourceGroups/", "/resourcegroups/")  # AKS's own casing kept
    status, headers, _ = sim.call("GET", CLUSTER + "?api-version=2026-08-01", token=sim.token)
    assert int(headers["x-ms-ratelimit-remaining-subscription-reads"]) < 250
