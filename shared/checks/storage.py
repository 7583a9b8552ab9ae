"""Backup storage account checks: network access for the vault, a dedicated container, auth.

Read ``snapshot.storage_account`` / ``snapshot.blob_container`` (and the extension configuration
for ``useAAD``). When no storage account is known these report ``not-applicable``:
``extension.storage-location`` owns "the account is missing".
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
from shared.checks.extension import EXTENSION_NAME, install_command
from shared.model import ExtensionInfo, Finding, Snapshot, StorageAccountInfo, Unreadable, VaultInfo

BACKUP_PREFIXES: tuple[str, ...] = (
    "backups",
    "restores",
    "kopia",
    "restic",
    "plugins",
    "metadata",
    "velero",
)
"""Top-level folders the backup extension (Velero-based) writes in its container. A blob whose first
path segment is not one of these is "unrelated to backup". Compared case-insensitively."""

_SHOWN = 5


def _account(snapshot: Snapshot, check: str) -> StorageAccountInfo | Finding:
    account = snapshot.storage_account
    if isinstance(account, Unreadable):
        if account.kind == "not-found":
            return not_applicable(check, "storage account does not exist (see extension.storage-location)")
        return unreadable(check, "storage account", account)
    if account is None:
        return not_applicable(
            check, "no backup storage account configured or found (see extension.storage-location)"
        )
    return account


def _is_open(account: StorageAccountInfo) -> bool:
    public = (account.public_network_access or "").strip().lower()
    return account.default_action.strip().lower() == "allow" and public in ("", "enabled")


def check_network_access(snapshot: Snapshot) -> Finding:
    """storage.network-access: an open account passes; a firewalled / public-access-disabled account
    passes only with a resource-instance rule for the vault and bypass including AzureServices."""
    check = "storage.network-access"
    account = _account(snapshot, check)
    if isinstance(account, Finding):
        return account
    public = account.public_network_access or "Enabled (default)"
    posture = f"networkAcls.defaultAction is {account.default_action}, publicNetworkAccess is {public}"
    if account.private_endpoint_count:
        posture += f", {account.private_endpoint_count} private endpoint(s)"
    if _is_open(account):
        return passed(check, f"{posture}: the account is open to the vault")
    vault_id = snapshot.target.vault_id
    has_rule = any(ids.same(rule.resource_id, vault_id) for rule in account.resource_access_rules)
    bypass = [item.strip() for item in account.bypass if item.strip()]
    has_bypass = any(item.lower() == "azureservices" for item in bypass)
    if has_rule and has_bypass:
        return passed(
            check,
            f"{posture}; a resource-instance rule admits vault {vault_id} and bypass includes AzureServices",
        )
    missing: list[str] = []
    commands: list[str] = []
    rg = ids.resource_group_of(account.id) or "<resource-group>"
    account_args = f"--account-name {account.name} --resource-group {rg}"
    sub = _subscription(account.id)
    if not has_rule:
        missing.append(f"no networkAcls.resourceAccessRules entry for vault {vault_id}")
        tenant = snapshot.vault.tenant_id if isinstance(snapshot.vault, VaultInfo) else None
        commands.append(
            f"az storage account network-rule add {account_args} --subscription {sub} "
            f"--resource-id {vault_id} --tenant-id {tenant or '<tenant-id>'}"
        )
    if not has_bypass:
        missing.append(f"networkAcls.bypass is {', '.join(bypass) or 'None'} (no AzureServices)")
        new_bypass = (
            " ".join([*bypass, "AzureServices"]) if bypass and bypass != ["None"] else "AzureServices"
        )
        commands.append(
            f"az storage account update --name {account.name} --resource-group {rg} "
            f"--subscription {sub} --bypass {new_bypass}"
        )
    return failing(
        check,
        f"{posture}; {'; '.join(missing)}; expected a resource-instance rule for the vault and bypass "
        "AzureServices",
        "In the portal, storage account > Networking > Resource instances: add the Backup vault "
        "(Microsoft.DataProtection/BackupVaults) and allow trusted Azure services.",
        " && ".join(commands),
    )


def _subscription(resource_id: str) -> str:
    try:
        return ids.subscription_of(resource_id)
    except ValueError:
        return "<subscription-id>"


def is_backup_blob(name: str) -> bool:
    """True when the blob's first path segment is one of :data:`BACKUP_PREFIXES`."""
    first = name.lstrip("/").split("/", 1)[0].strip().lower()
    return first in BACKUP_PREFIXES


def check_container_dedicated(snapshot: Snapshot) -> Finding:
    """storage.container-dedicated: warn when the (sampled) blob names include any outside
    :data:`BACKUP_PREFIXES`; pass when empty or all backup-related."""
    check = "storage.container-dedicated"
    container = snapshot.blob_container
    if isinstance(container, Unreadable):
        if container.kind == "not-found":
            return not_applicable(check, "blob container does not exist (see extension.storage-location)")
        return unreadable(check, "blob container", container)
    if container is None or not container.exists:
        return not_applicable(check, "no backup blob container found (see extension.storage-location)")
    if container.listing_denied:
        return unreadable(check, "blob names", Unreadable(container.listing_denied, "denied"))
    unrelated = [name for name in container.blob_names if not is_backup_blob(name)]
    if not unrelated:
        if not container.blob_names:
            return passed(check, f"blob container {container.name} is empty")
        return passed(
            check,
            f"all {len(container.blob_names)} sampled blob(s) in {container.name} are under backup "
            f"folders ({', '.join(p + '/' for p in BACKUP_PREFIXES)})",
        )
    shown = ", ".join(unrelated[:_SHOWN]) + (
        f" and {len(unrelated) - _SHOWN} more" if len(unrelated) > _SHOWN else ""
    )
    account = snapshot.storage_account
    account_name = account.name if isinstance(account, StorageAccountInfo) else "<storage-account>"
    return failing(
        check,
        f"blob container {container.name} holds {len(unrelated)} blob(s) unrelated to backup ({shown}); "
        "expected only backup data",
        "Move the unrelated blobs to another container; give the backup extension a dedicated container.",
        f"az storage blob list --account-name {account_name} --container-name {container.name} "
        "--auth-mode login --query '[].name' --output tsv",
    )


def check_shared_key_access(snapshot: Snapshot) -> Finding:
    """storage.shared-key-access: passes when allowSharedKeyAccess is not false, or the extension is
    configured with ``useAAD=true``; otherwise warns."""
    check = "storage.shared-key-access"
    extension = snapshot.extension
    if not isinstance(extension, Unreadable) and extension is not None and extension.use_aad:
        return passed(check, f"extension {extension.name} authenticates with Entra ID (config.useAAD=true)")
    account = _account(snapshot, check)
    if isinstance(account, Finding):
        return account
    if account.allow_shared_key_access is not False:
        shown = "not set (allowed)" if account.allow_shared_key_access is None else "true"
        return passed(check, f"allowSharedKeyAccess is {shown} on {account.name}")
    if isinstance(extension, Unreadable):
        return unknown(
            check,
            f"allowSharedKeyAccess is false on {account.name} and the extension configuration (useAAD) "
            f"could not be read: {extension.reason}",
        )
    blob_uri = f"https://{account.name}.blob.core.windows.net/"
    return failing(
        check,
        f"allowSharedKeyAccess is false on {account.name} and the extension is not configured with "
        "config.useAAD=true; expected one of them",
        "Configure the backup extension to use Entra ID (useAAD=true with storageAccountURI), or allow "
        "shared key access on the storage account.",
        f"az k8s-extension update --name {extension.name if extension else EXTENSION_NAME} "
        f"--cluster-type managedClusters --cluster-name {cluster_name(snapshot)} "
        f"--resource-group {cluster_rg(snapshot)} --subscription {cluster_sub(snapshot)} "
        "--configuration-settings configuration.backupStorageLocation.config.useAAD=true "
        f"configuration.backupStorageLocation.config.storageAccountURI={blob_uri}",
    )


def check_container_not_shared(snapshot: Snapshot) -> Finding | None:
    """storage.container-not-shared: no other guarded cluster's backup extension writes to the same
    storage account and blob container (Microsoft: one container per cluster). Evaluated by scans
    only, from the extension listings the scan reads for every guarded cluster of the cluster's and
    the account's subscriptions; returns None on the event path (``container_use`` not read), so
    the ledger keeps what the last scan found (a check missing from the findings is not changed)."""
    check = "storage.container-not-shared"
    use = snapshot.container_use
    if use is None:
        return None
    if isinstance(use, Unreadable):
        return unreadable(check, "backup extension", use)
    extension = snapshot.extension
    if (
        not isinstance(extension, ExtensionInfo)
        or not extension.storage_account_id
        or not extension.blob_container
    ):
        return not_applicable(check, "no backup extension with a storage location")
    where = f"container {extension.blob_container} of {extension.storage_account_name}"
    if use.others:
        names = ", ".join(ids.name_of(c) for c in use.others)
        return failing(
            check,
            f"{where} is also used by the backup extension of {names}; expected one container per cluster",
            "Give each cluster its own new, empty blob container: reinstall the backup extension of one of "
            "them with another container (backups in the old one stay readable for restore).",
            f"az k8s-extension delete --name {extension.name} --cluster-type managedClusters "
            f"--cluster-name {cluster_name(snapshot)} --resource-group {cluster_rg(snapshot)} "
            f"--subscription {cluster_sub(snapshot)} && "
            + install_command(snapshot).replace(
                f"blobContainer={extension.blob_container}", "blobContainer=<new-container>"
            ),
        )
    if use.unread:
        return unknown(check, f"{where}: could not compare with " + "; ".join(use.unread))
    return passed(check, f"{where} is used by no other guarded cluster's backup extension")
