"""Plain-data builders: a healthy Snapshot whose every check passes, and small replace helpers.

Tests start from :func:`healthy` and swap one field with ``dataclasses.replace`` (or the
helpers here), so each test states only what it changes.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import ids
from shared.model import (
    CONSENT_TAG,
    EXTENSION_TYPE,
    STAGING_RG_TAG,
    STAGING_STORAGE_TAG,
    BackupError,
    BackupInstanceInfo,
    BlobContainerInfo,
    ClusterInfo,
    ConsentFacts,
    ContainerUse,
    ExtensionInfo,
    InstanceJobs,
    JobInfo,
    KubernetesMinor,
    NodePool,
    PolicyAssignmentInfo,
    PolicyInfo,
    Read,
    ResourceAccessRule,
    RoleAssignmentInfo,
    Snapshot,
    StorageAccountInfo,
    Target,
    TargetKind,
    TrustedAccessBinding,
    Unreadable,
    VaultInfo,
)
from shared.roles import ROLE_ROWS

SUB = "11111111-1111-1111-1111-111111111111"
STORAGE_SUB = "22222222-2222-2222-2222-222222222222"
TENANT = "33333333-3333-3333-3333-333333333333"

CLUSTER_RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-aks"
CLUSTER_ID = f"{CLUSTER_RG_ID}/providers/Microsoft.ContainerService/managedClusters/aks-prod"
VAULT_ID = (
    f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-prod"
)
INSTANCE_ID = f"{VAULT_ID}/backupInstances/aks-prod-instance"
POLICY_ID = f"{VAULT_ID}/backupPolicies/daily"
SNAPSHOT_RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-snapshots"
STORAGE_RG_ID = f"/subscriptions/{STORAGE_SUB}/resourceGroups/rg-storage"
STORAGE_ID = f"{STORAGE_RG_ID}/providers/Microsoft.Storage/storageAccounts/stbackupprod"
STAGING_RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-staging"
STAGING_STORAGE_ID = f"{STAGING_RG_ID}/providers/Microsoft.Storage/storageAccounts/ststaging"
EXTENSION_ID = f"{CLUSTER_ID}/providers/Microsoft.KubernetesConfiguration/extensions/azure-aks-backup"
NET_RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-net"
SUBNET_ID = f"{NET_RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes"
NSG_ID = (
    f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-nodes"
)

VAULT_PRINCIPAL = "aaaaaaaa-0000-0000-0000-00000000000a"
CLUSTER_PRINCIPAL = "cccccccc-0000-0000-0000-00000000000c"
EXTENSION_PRINCIPAL = "eeeeeeee-0000-0000-0000-00000000000e"
OTHER_PRINCIPAL = "99999999-0000-0000-0000-000000000009"

BACKUP_OPERATOR = "Microsoft.DataProtection/backupVaults/backup-operator"

DENIED = Unreadable(
    "HTTP 403 AuthorizationFailed: the client does not have authorization to perform action", "denied"
)


def role_definition_id(guid: str, *, subscription: str | None = SUB) -> str:
    """Either roleDefinitionId form: subscription-scoped (default) or tenant-level (``subscription=None``)."""
    if subscription is None:
        return f"/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def assignment(
    principal: str, guid: str, scope: str, *, subscription: str | None = SUB
) -> RoleAssignmentInfo:
    name = uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}|{principal}|{guid}")
    return RoleAssignmentInfo(
        id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        scope=scope,
        principal_id=principal,
        role_definition_id=role_definition_id(guid, subscription=subscription),
    )


def row_assignment(check: str, scope: str | None = None, principal: str | None = None) -> RoleAssignmentInfo:
    """The assignment that satisfies one matrix row in the healthy estate (overridable)."""
    row = ROLE_ROWS[check]
    default_principal = {
        "vault": VAULT_PRINCIPAL,
        "cluster": CLUSTER_PRINCIPAL,
        "extension": EXTENSION_PRINCIPAL,
    }
    default_scope = {
        "cluster": CLUSTER_ID,
        "snapshot-rg": SNAPSHOT_RG_ID,
        "storage-account": STORAGE_ID,
        "staging-rg": STAGING_RG_ID,
        "staging-storage": STAGING_STORAGE_ID,
    }
    return assignment(
        principal or default_principal[row.assignee], row.role_guid, scope or default_scope[row.scope]
    )


def healthy_assignments(*, staging: bool = False) -> dict[str, Read[tuple[RoleAssignmentInfo, ...]]]:
    """Role assignments satisfying every row, keyed by subscription as gather does."""
    by_sub: dict[str, list[RoleAssignmentInfo]] = {SUB: [], STORAGE_SUB: []}
    for check, row in ROLE_ROWS.items():
        if row.applies == "staging" and not staging:
            continue
        item = row_assignment(check)
        by_sub[STORAGE_SUB if item.scope.startswith(f"/subscriptions/{STORAGE_SUB}") else SUB].append(item)
    return {sub: tuple(items) for sub, items in by_sub.items()}


def cluster(**changes: Any) -> ClusterInfo:
    base = ClusterInfo(
        id=CLUSTER_ID,
        name="aks-prod",
        location="westeurope",
        identity_type="SystemAssigned",
        principal_id=CLUSTER_PRINCIPAL,
        service_principal_client_id="msi",
        kubernetes_version="1.30",
        current_kubernetes_version="1.30.4",
        disk_csi_enabled=True,
        snapshot_controller_enabled=True,
        outbound_type="loadBalancer",
        node_resource_group="MC_rg-aks_aks-prod_westeurope",
        subnet_ids=(SUBNET_ID,),
        provisioning_state="Succeeded",
        node_pools=(NodePool("nodepool1", "Linux", "Standard_D4s_v5", "System"),),
    )
    return replace(base, **changes)


def vault(**changes: Any) -> VaultInfo:
    base = VaultInfo(
        id=VAULT_ID,
        name="bv-prod",
        location="westeurope",
        identity_type="SystemAssigned",
        principal_id=VAULT_PRINCIPAL,
        tenant_id=TENANT,
    )
    return replace(base, **changes)


def extension(**changes: Any) -> ExtensionInfo:
    base = ExtensionInfo(
        id=EXTENSION_ID,
        name="azure-aks-backup",
        extension_type=EXTENSION_TYPE,
        provisioning_state="Succeeded",
        principal_id=EXTENSION_PRINCIPAL,
        configuration={
            "configuration.backupStorageLocation.bucket": "aks-backups",
            "configuration.backupStorageLocation.config.storageAccount": "stbackupprod",
            "configuration.backupStorageLocation.config.resourceGroup": "rg-storage",
            "configuration.backupStorageLocation.config.subscriptionId": STORAGE_SUB,
            "credentials.tenantId": TENANT,
        },
    )
    return replace(base, **changes)


def storage(**changes: Any) -> StorageAccountInfo:
    base = StorageAccountInfo(
        id=STORAGE_ID,
        name="stbackupprod",
        default_action="Allow",
        bypass=("AzureServices",),
        kind="StorageV2",
        sku="Standard_LRS",
        location="westeurope",
    )
    return replace(base, **changes)


def firewalled_storage(**changes: Any) -> StorageAccountInfo:
    """Firewall on, with the vault's resource-instance rule and the AzureServices bypass: passes."""
    defaults: dict[str, Any] = {
        "default_action": "Deny",
        "bypass": ("Logging", "AzureServices"),
        "resource_access_rules": (ResourceAccessRule(TENANT, VAULT_ID),),
    }
    return storage(**{**defaults, **changes})


def binding(**changes: Any) -> TrustedAccessBinding:
    base = TrustedAccessBinding(
        id=f"{CLUSTER_ID}/trustedAccessRoleBindings/backup-bv-prod",
        name="backup-bv-prod",
        source_resource_id=VAULT_ID,
        roles=(BACKUP_OPERATOR,),
        provisioning_state="Succeeded",
    )
    return replace(base, **changes)


def k8s_policy(name: str = "k8s-baseline", **changes: Any) -> PolicyAssignmentInfo:
    base = PolicyAssignmentInfo(
        id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments/{name}",
        name=name,
        policy_definition_id="/providers/Microsoft.Authorization/policySetDefinitions/a8640138-9b0a-4a28-b8cb-1666c838647d",
        display_name=f"Kubernetes {name}",
        excluded_namespaces=("kube-system", "gatekeeper-system", "dataprotection-microsoft"),
        enforcement_mode="Default",
    )
    return replace(base, **changes)


def platform_consent() -> ConsentFacts:
    """The consent a platform team sets for this layout: both subscriptions' tags name the
    workload subscription (cluster, vault, snapshot and staging groups live there), and the
    workload subscription agrees to keep its backups in the storage subscription."""
    tag = {CONSENT_TAG: f"/subscriptions/{SUB}"}
    workload = {**tag, f"{CONSENT_TAG}-storage": f"/subscriptions/{STORAGE_SUB}"}
    return ConsentFacts(
        scope_tags={
            ids.normalize(f"/subscriptions/{SUB}"): workload,
            ids.normalize(f"/subscriptions/{STORAGE_SUB}"): tag,
        }
    )


NO_CONSENT = ConsentFacts()
"""No tags read, no trust domains: only same-resource-group writes are allowed."""


def instance() -> BackupInstanceInfo:
    """The healthy target's backup instance: system identity, ProtectionConfigured."""
    return BackupInstanceInfo(
        id=INSTANCE_ID,
        cluster_id=CLUSTER_ID,
        datasource_type="Microsoft.ContainerService/managedClusters",
        policy_id=POLICY_ID,
        snapshot_resource_group_id=SNAPSHOT_RG_ID,
        protection_status="ProtectionConfigured",
        current_protection_state="ProtectionConfigured",
    )


def healthy(**changes: Any) -> Snapshot:
    """A backup target where every check passes (staging off, so staging rows are not-applicable)."""
    base = Snapshot(
        target=Target(
            cluster_id=CLUSTER_ID, vault_id=VAULT_ID, kind="backup", backup_instance_id=INSTANCE_ID
        ),
        cluster=cluster(),
        vault=vault(),
        backup_instance=instance(),
        policy=PolicyInfo(id=POLICY_ID, uses_vault_store=True, backup_interval=timedelta(days=1)),
        provider_state="Registered",
        extension=extension(),
        storage_account=storage(),
        blob_container=BlobContainerInfo(
            name="aks-backups",
            exists=True,
            blob_names=("backups/daily-1/velero-backup.json", "kopia/default/kopia.repository"),
        ),
        trusted_access=(binding(),),
        role_assignments=healthy_assignments(),
        node_subnet_nsgs=(),
        policy_assignments=(k8s_policy(),),
        velero=None,
        consent=platform_consent(),
        jobs=InstanceJobs(
            latest_finished=job("Completed", hours_ago=3), latest_succeeded=job("Completed", hours_ago=3)
        ),
        read_at=NOW,
        locks={SUB: (), STORAGE_SUB: ()},
        kubernetes_versions=KUBERNETES_VERSIONS,
        binding_sources={},
        container_use=ContainerUse(),
    )
    return replace(base, **changes)


KUBERNETES_VERSIONS = (
    KubernetesMinor("1.29", ("KubernetesOfficial", "AKSLongTermSupport"), patches=("1.29.9",)),
    KubernetesMinor("1.30", ("KubernetesOfficial",), patches=("1.30.4",)),
    KubernetesMinor("1.31", ("KubernetesOfficial",), patches=("1.31.2",)),
)
"""AKS's versions for the healthy cluster's region (the cluster runs 1.30.4)."""


NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
"""The healthy snapshot's read time: the outcome checks' "now"."""


def job(status: str, hours_ago: float, *errors: BackupError) -> JobInfo:
    """A backup job of the healthy instance that started ``hours_ago`` before :data:`NOW`."""
    start = NOW - timedelta(hours=hours_ago)
    return JobInfo(
        id=f"{VAULT_ID}/backupJobs/{int(hours_ago * 60)}",
        backup_instance_id=INSTANCE_ID,
        status=status,
        start_time=start,
        end_time=start + timedelta(minutes=5),
        errors=errors,
    )


def with_staging(snapshot: Snapshot | None = None) -> Snapshot:
    """The healthy snapshot with both staging tags set and the staging assignments present."""
    snap = snapshot or healthy()
    assert isinstance(snap.vault, VaultInfo)
    tags = {**snap.vault.tags, STAGING_RG_TAG: STAGING_RG_ID, STAGING_STORAGE_TAG: STAGING_STORAGE_ID}
    return replace(
        snap, vault=replace(snap.vault, tags=tags), role_assignments=healthy_assignments(staging=True)
    )


def target(kind: TargetKind, **changes: Any) -> Target:
    return replace(Target(cluster_id=CLUSTER_ID, vault_id=VAULT_ID), kind=kind, **changes)
