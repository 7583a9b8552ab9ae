"""Backup extension checks: installed and succeeded; its storage account and blob container exist.

``extension.installed`` (and ``restore-target.extension``, the same rule for restore targets) reads
``snapshot.extension``; the install command is filled from the extension's own configuration, or
else from the vault tags ``aks-backup-guard-storage-account`` / ``aks-backup-guard-blob-container``.
"""

from __future__ import annotations

from shared import ids
from shared.checks._common import (
    cluster_name,
    cluster_rg,
    cluster_sub,
    failing,
    not_applicable,
    passed,
    unknown,
    unreadable,
)
from shared.model import (
    BLOB_CONTAINER_TAG,
    EXTENSION_TYPE,
    STORAGE_ACCOUNT_TAG,
    Finding,
    Snapshot,
    Status,
    Unreadable,
)

EXTENSION_NAME = "azure-aks-backup"
_TRANSITIONAL = {"creating", "updating"}


def _storage_settings(snapshot: Snapshot) -> tuple[str, str, str, str]:
    """(container, account, resource group, subscription) for an install command; placeholders if unknown."""
    extension = snapshot.extension
    if not isinstance(extension, Unreadable) and extension is not None and extension.storage_account_id:
        return (
            extension.blob_container or "<blob-container>",
            extension.storage_account_name or "<storage-account>",
            extension.storage_resource_group or "<storage-resource-group>",
            extension.storage_subscription_id or "<storage-subscription-id>",
        )
    account_tag = (snapshot.vault_tag(STORAGE_ACCOUNT_TAG) or "").strip()
    container = (snapshot.vault_tag(BLOB_CONTAINER_TAG) or "").strip() or "<blob-container>"
    if ids.is_shaped(account_tag, "storage-account"):
        return (
            container,
            ids.name_of(account_tag),
            ids.resource_group_of(account_tag) or "<storage-resource-group>",
            ids.subscription_of(account_tag),
        )
    return container, "<storage-account>", "<storage-resource-group>", "<storage-subscription-id>"


def install_command(snapshot: Snapshot) -> str:
    """The exact ``az k8s-extension create`` for the target cluster."""
    container, account, rg, sub = _storage_settings(snapshot)
    return (
        f"az k8s-extension create --name {EXTENSION_NAME} --extension-type {EXTENSION_TYPE} "
        f"--scope cluster --cluster-type managedClusters --cluster-name {cluster_name(snapshot)} "
        f"--resource-group {cluster_rg(snapshot)} --subscription {cluster_sub(snapshot)} "
        f"--release-train stable --configuration-settings blobContainer={container} "
        f"storageAccount={account} storageAccountResourceGroup={rg} storageAccountSubscriptionId={sub}"
    )


def _installed(snapshot: Snapshot, check: str) -> Finding:
    extension = snapshot.extension
    if isinstance(extension, Unreadable):
        return unreadable(check, "backup extension", extension)
    summary = "In the portal, cluster > Settings > Backup: install the backup extension."
    if extension is None:
        return failing(
            check,
            f"no extension of type {EXTENSION_TYPE} on the cluster; expected one in state Succeeded",
            summary,
            install_command(snapshot),
        )
    if extension.extension_type.strip().lower() != EXTENSION_TYPE:
        return failing(
            check,
            f"extension {extension.name} has type {extension.extension_type}; expected {EXTENSION_TYPE}",
            summary,
            install_command(snapshot),
        )
    state = extension.provisioning_state
    observed = f"extension {extension.name} provisioningState is {state or 'not set'}; expected Succeeded"
    normalized = (state or "").strip().lower()
    if normalized == "succeeded":
        return passed(check, observed)
    if not normalized:
        return unknown(check, observed)
    if normalized in _TRANSITIONAL:
        return failing(
            check,
            observed + " (operation in progress)",
            "Wait for the extension operation to finish; re-check in a few minutes.",
            f"az k8s-extension show --name {extension.name} --cluster-type managedClusters "
            f"--cluster-name {cluster_name(snapshot)} --resource-group {cluster_rg(snapshot)} "
            f"--subscription {cluster_sub(snapshot)}",
            status=Status.WARN,
        )
    return failing(
        check,
        observed,
        "In the portal, cluster > Settings > Extensions + applications: delete the failed backup "
        "extension and install it again.",
        f"az k8s-extension delete --name {extension.name} --cluster-type managedClusters "
        f"--cluster-name {cluster_name(snapshot)} --resource-group {cluster_rg(snapshot)} "
        f"--subscription {cluster_sub(snapshot)} --yes && " + install_command(snapshot),
    )


def check_installed(snapshot: Snapshot) -> Finding:
    """extension.installed: an extension of type microsoft.dataprotection.kubernetes in state
    Succeeded passes; absent/Failed/Canceled/Deleting fails; Creating/Updating warns."""
    return _installed(snapshot, "extension.installed")


def check_restore_target_extension(snapshot: Snapshot) -> Finding:
    """restore-target.extension: the same rule as extension.installed, for restore targets."""
    return _installed(snapshot, "restore-target.extension")


def check_storage_location(snapshot: Snapshot) -> Finding:
    """extension.storage-location: the configured storage account and blob container exist.

    Not applicable without an extension. A storage read that failed with 404 counts as "does not
    exist" (fail); any other failed read is ``unknown``.
    """
    check = "extension.storage-location"
    extension = snapshot.extension
    if isinstance(extension, Unreadable):
        return unreadable(check, "backup extension", extension)
    if extension is None:
        return not_applicable(check, "no backup extension installed (see extension.installed)")
    account_id = extension.storage_account_id
    summary = (
        "Re-create the storage account / blob container the extension is configured with, or "
        "reconfigure the extension to an existing one."
    )
    if account_id is None:
        return failing(
            check,
            f"extension {extension.name} configuration names no complete storage account "
            "(configuration.backupStorageLocation.config.storageAccount/resourceGroup/subscriptionId); "
            "expected all three",
            summary,
            install_command(snapshot),
        )
    account = snapshot.storage_account
    container_name = extension.blob_container or "<blob-container>"
    create_container = (
        f"az storage container create --name {container_name} --account-name "
        f"{extension.storage_account_name} --auth-mode login"
    )
    create_account = (
        f"az storage account create --name {extension.storage_account_name} --resource-group "
        f"{extension.storage_resource_group} --subscription {extension.storage_subscription_id} "
        "--sku Standard_LRS --kind StorageV2 && " + create_container
    )
    if isinstance(account, Unreadable) and account.kind != "not-found":
        return unreadable(check, f"storage account {account_id}", account)
    if account is None or isinstance(account, Unreadable):
        return failing(
            check,
            f"storage account {account_id} does not exist; expected the account the extension is "
            "configured with",
            summary,
            create_account,
        )
    container = snapshot.blob_container
    if isinstance(container, Unreadable) and container.kind != "not-found":
        return unreadable(check, f"blob container {container_name}", container)
    if not extension.blob_container:
        return failing(
            check,
            f"extension {extension.name} configuration names no blob container "
            "(configuration.backupStorageLocation.bucket); expected one",
            summary,
            install_command(snapshot),
        )
    if container is None:
        return unknown(check, f"blob container {container_name} in {account.name} was not read")
    if isinstance(container, Unreadable) or not container.exists:
        return failing(
            check,
            f"blob container {container_name} does not exist in storage account {account.name}; "
            "expected it to exist",
            summary,
            create_container,
        )
    return passed(
        check,
        f"storage account {account.name} and blob container {container.name} exist; expected both",
    )


__all__ = [
    "EXTENSION_NAME",
    "check_installed",
    "check_restore_target_extension",
    "check_storage_location",
    "install_command",
]
