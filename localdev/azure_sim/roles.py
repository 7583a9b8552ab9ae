"""Built-in Azure role definitions (GUIDs and permissions as Azure publishes them, abridged)."""

from __future__ import annotations

from dataclasses import dataclass, field

_AUTH_READ = "Microsoft.Authorization/*/read"
_RG_READ = "Microsoft.Resources/subscriptions/resourceGroups/read"
_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
_CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"
_UDK = "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"


@dataclass(frozen=True)
class RoleDefinition:
    guid: str
    name: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    built_in: bool = True
    description: str = ""
    assignable_scopes: tuple[str, ...] = field(default=("/",))


BUILT_IN: tuple[RoleDefinition, ...] = (
    RoleDefinition("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", ("*/read",)),
    RoleDefinition(
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "Contributor",
        ("*",),
        (
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ),
    ),
    RoleDefinition("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", ("*",)),
    RoleDefinition(
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "Storage Blob Data Contributor",
        (f"{_CONTAINERS}/delete", f"{_CONTAINERS}/read", f"{_CONTAINERS}/write", _UDK),
        (),
        (
            f"{_BLOBS}/delete",
            f"{_BLOBS}/read",
            f"{_BLOBS}/write",
            f"{_BLOBS}/move/action",
            f"{_BLOBS}/add/action",
        ),
    ),
    RoleDefinition(
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        "Storage Blob Data Reader",
        (f"{_CONTAINERS}/read", _UDK),
        (),
        (f"{_BLOBS}/read",),
    ),
    RoleDefinition(
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        "Storage Blob Data Owner",
        (f"{_CONTAINERS}/*", _UDK),
        (),
        (f"{_BLOBS}/*",),
    ),
    RoleDefinition(
        "17d1049b-9a84-46fb-8f53-869881c3d3ab",
        "Storage Account Contributor",
        (
            _AUTH_READ,
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            _RG_READ,
            "Microsoft.Storage/storageAccounts/*",
            "Microsoft.Support/*",
        ),
    ),
    RoleDefinition(
        "7efff54f-a5b4-42b5-a1c5-5411624893ce",
        "Disk Snapshot Contributor",
        (
            _AUTH_READ,
            "Microsoft.Compute/snapshots/delete",
            "Microsoft.Compute/snapshots/write",
            "Microsoft.Compute/snapshots/read",
            "Microsoft.Compute/snapshots/beginGetAccess/action",
            "Microsoft.Compute/snapshots/endGetAccess/action",
            "Microsoft.Compute/disks/beginGetAccess/action",
            _RG_READ,
            "Microsoft.Storage/storageAccounts/listkeys/action",
            "Microsoft.Storage/storageAccounts/write",
            "Microsoft.Storage/storageAccounts/read",
        ),
    ),
    RoleDefinition(
        "959f8984-c045-4866-89c7-12bf9737be2e",
        "Data Operator for Managed Disks",
        (),
        (),
        (
            "Microsoft.Compute/disks/download/action",
            "Microsoft.Compute/disks/upload/action",
            "Microsoft.Compute/snapshots/download/action",
            "Microsoft.Compute/snapshots/upload/action",
        ),
    ),
    RoleDefinition(
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        "Role Based Access Control Administrator",
        (
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "*/read",
            "Microsoft.Support/*",
        ),
    ),
    RoleDefinition(
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "User Access Administrator",
        ("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"),
    ),
    RoleDefinition(
        "5e467623-bb1f-42f4-a55d-6e525e11384b",
        "Backup Contributor",
        (
            _AUTH_READ,
            "Microsoft.DataProtection/*",
            "Microsoft.RecoveryServices/*",
            "Microsoft.Insights/alertRules/*",
            _RG_READ,
            "Microsoft.Resources/deployments/*",
            "Microsoft.Storage/storageAccounts/read",
            "Microsoft.Support/*",
        ),
        ("Microsoft.DataProtection/backupVaults/delete",),
    ),
    RoleDefinition(
        "85cb6faf-e071-4c9b-8136-154b5a04f717",
        "Kubernetes Extension Contributor",
        (
            _AUTH_READ,
            "Microsoft.KubernetesConfiguration/extensions/write",
            "Microsoft.KubernetesConfiguration/extensions/read",
            "Microsoft.KubernetesConfiguration/extensions/delete",
            "Microsoft.KubernetesConfiguration/extensions/operations/read",
            _RG_READ,
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ),
    ),
    RoleDefinition(
        "4d97b98b-1d4f-4787-a291-c67834d212e7",
        "Network Contributor",
        (
            _AUTH_READ,
            "Microsoft.Network/*",
            _RG_READ,
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ),
    ),
    RoleDefinition(
        "f1a07417-d97a-45cb-824c-7a7467783830",
        "Managed Identity Operator",
        (
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            _AUTH_READ,
            _RG_READ,
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ),
    ),
)
