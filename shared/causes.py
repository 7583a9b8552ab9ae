"""Azure Backup error codes -> the prerequisite checks that explain them, as data (docs/causes.md).

:data:`CAUSES` is the code-to-cause table, like the role matrix: one row per error code an AKS
backup job or backup instance reports, naming the check ids whose failure explains it and the
advice to give when none of them fails. Every row cites where the code comes from:

``aks``    Microsoft Learn, "Troubleshoot Azure Kubernetes Service backup and restore"
           (:data:`SOURCES` ``aks``);
``vault``  Microsoft Learn, "Troubleshoot Azure Backup vault related operations";
``wild``   seen in the wild: quoted from real ``validate-for-backup`` / job output in public
           threads (the message is in the row's advice).

:func:`explain` turns the codes of a failed job or protection error plus the target's other
findings into one sentence: ``<code> -> <check> is failing`` when a mapped check fails, else
``cause not among the prerequisites the Guard checks``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from shared.model import Finding, Status

SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "aks": "https://learn.microsoft.com/azure/backup/azure-kubernetes-service-backup-troubleshoot",
        "vault": "https://learn.microsoft.com/azure/backup/backup-azure-backup-vault-troubleshoot",
        "wild": "seen in real validate-for-backup and job output quoted in public threads",
    }
)

NOT_AMONG = "cause not among the prerequisites the Guard checks"


@dataclass(frozen=True)
class CauseRow:
    """``code`` is explained by any failing check in ``checks`` (empty: nothing the Guard checks)."""

    code: str
    checks: tuple[str, ...]
    advice: str
    source: str  # a key of SOURCES


def _row(code: str, checks: tuple[str, ...], advice: str, source: str = "aks") -> CauseRow:
    return CauseRow(code, checks, advice, source)


_ROWS: tuple[CauseRow, ...] = (
    # -- extension (after installation) ----------------------------------------------------------
    _row(
        "KubernetesBackupListExtensionsError",
        ("role.vault-reader-on-cluster", "extension.installed"),
        "the vault identity cannot list the cluster's extensions: re-assign Reader on the cluster",
    ),
    _row(
        "UserErrorKubernetesBackupExtensionNotFoundError",
        ("extension.installed",),
        "the backup extension is not in the cluster's extension list: reinstall it",
    ),
    _row(
        "UserErrorKubernetesBackupExtensionHasErrors",
        ("extension.installed",),
        "the backup extension reports internal errors: delete and reinstall it",
    ),
    _row(
        "UserErrorKubernetesBackupExtensionIdentityNotFound",
        ("extension.installed", "role.extension-blob-contributor-on-storage"),
        "the extension identity is missing: delete and reinstall the extension (a new identity is created)",
    ),
    _row(
        "KubernetesBackupCustomResourcesTrackingTimeOutError",
        ("extension.installed",),
        "the extension pods are not running: check dataprotection-microsoft pods, add a node or compute",
    ),
    _row(
        "UserErrorBackupPluginPodRestartedDuringBackup",
        (),
        "the backup pod ran out of memory: raise resources.limits.memory in the extension settings",
    ),
    _row(
        "UserErrorBackupPluginPodRestartedDuringRestore",
        (),
        "the restore pod ran out of memory: raise resources.limits.memory in the extension settings",
    ),
    _row(
        "BackupPluginDeleteBackupOperationFailed",
        ("extension.installed",),
        "the extension must run to delete backups: check its pods, or reinstall it",
    ),
    _row(
        "ExtensionTimedOutWaitingForBackupItemSync",
        ("storage.network-access", "extension.storage-location"),
        "the extension timed out syncing backup items with the storage account: retry, or reinstall",
    ),
    # -- backup storage location ----------------------------------------------------------------
    _row(
        "UserErrorDeleteBackupFailedBackupStorageLocationReadOnly",
        ("locks.storage-not-read-only",),
        "the backup storage account is read-only (a ReadOnly lock?): make it writable",
    ),
    _row(
        "UserErrorDeleteBackupFailedBackupStorageLocationNotFound",
        ("extension.storage-location",),
        "the backup storage location is gone: reinstall the extension with an existing account/container",
    ),
    _row(
        "UserErrorBackupFailedBackupStorageLocationReadOnly",
        ("locks.storage-not-read-only",),
        "the backup storage account is read-only (a ReadOnly lock?): make it writable",
    ),
    _row(
        "UserErrorNoDefaultBackupStorageLocationFound",
        ("extension.storage-location",),
        "the backup storage location is gone: reinstall the extension with an existing account/container",
    ),
    _row(
        "UserErrorExtensionMSIMissingPermissionsOnBackupStorageLocation",
        ("role.extension-blob-contributor-on-storage",),
        "assign Storage Blob Data Contributor on the storage account to the extension identity",
    ),
    _row(
        "UserErrorBackupStorageLocationNotReady",
        (
            "role.extension-blob-contributor-on-storage",
            "storage.network-access",
            "extension.storage-location",
        ),
        "the extension cannot reach its storage yet: check its role on the account (propagation can take "
        "up to an hour on first install)",
    ),
    _row(
        "UserErrorSnapshotResourceGroupHasLocks",
        ("locks.snapshot-rg-unlocked",),
        "remove the Delete/ReadOnly lock from the snapshot resource group, or use an unlocked group",
    ),
    _row(
        "KubernetesBackupGenericWarning",
        (),
        "a Kubernetes resource could not be backed up or restored (often a validating webhook)",
    ),
    # -- vaulted backup ---------------------------------------------------------------------------
    _row(
        "DppUserErrorVaultTierPolicyNotSupported",
        ("vault.tier-region-supported",),
        "the vault's region does not support the vault-standard tier: drop the vault-store rule",
    ),
    # -- jobs completed with warnings ---------------------------------------------------------------
    _row(
        "UserErrorPVSnapshotDisallowedByPolicy",
        ("policy.namespace-excluded",),
        "an Azure Policy stops the CSI driver from taking volume snapshots: exempt the backup",
    ),
    _row(
        "UserErrorPVSnapshotLimitReached",
        (),
        "a volume has 500 snapshots: shorten the policy's retention",
    ),
    _row(
        "CSISnapshottingTimedOut",
        ("cluster.disk-csi-driver", "cluster.snapshot-controller"),
        "the CSI driver timed out taking a snapshot: retry with an on-demand backup",
    ),
    _row("UserErrorHookExecutionFailed", (), "a backup/restore hook failed: fix the hook and retry"),
    _row("UserErrorNamespaceNotFound", (), "a namespace named in the backup configuration is missing"),
    _row("UserErrorPVCHasNoVolume", (), "a PVC has no persistent volume: it is not backed up"),
    _row("UserErrorPVCNotBoundToVolume", (), "a PVC is Pending without a volume: it is not backed up"),
    _row("UserErrorPVNotFound", (), "a persistent volume's storage is missing"),
    _row("UserErrorStorageClassMissingForPVC", (), "a PVC names no storage class: set one"),
    _row(
        "UserErrorSourceandTargetClusterCRDVersionMismatch",
        (),
        "source and target clusters run different Kubernetes versions: match them or apply the CRs",
    ),
    _row(
        "LinkedAuthorizationFailed",
        (),
        "whoever restores needs Reader on the backed-up cluster",
    ),
    # -- Backup vault ------------------------------------------------------------------------------
    _row(
        "UserErrorSystemIdentityNotEnabledWithVault",
        ("vault.identity",),
        "enable the vault's system-assigned identity (and re-assign its roles), or use a user identity",
        "vault",
    ),
    _row(
        "UserErrorUserIdentityNotFoundOrNotAssociatedWithVault",
        ("vault.identity",),
        "attach the backup instance's user-assigned identity to the vault again, or switch identity",
        "vault",
    ),
    _row(
        "UserErrorStorageAccountKeyAccessDisallowed",
        ("storage.shared-key-access",),
        "allow storage account key access on the account (or configure useAAD for the extension)",
        "vault",
    ),
    # -- in the wild --------------------------------------------------------------------------------
    _row(
        "UserErrorTrustedAccessGatewayReturnedForbidden",
        ("trusted-access.binding",),
        "'The Trusted Access role binding is missing/has gotten removed from the cluster': create the "
        "binding from the vault with role backup-operator",
        "wild",
    ),
)

CAUSES: Mapping[str, CauseRow] = MappingProxyType({row.code.lower(): row for row in _ROWS})
"""Lower-cased error code -> its row."""


def row_for(code: str) -> CauseRow | None:
    return CAUSES.get(code.strip().lower())


def explain(codes: Iterable[str], prerequisites: Mapping[str, Finding]) -> str:
    """``<code> -> <check> is failing`` for the first code whose mapped check fails (warns count
    for advisory checks), else ``<code>: cause not among the prerequisites the Guard checks``
    with the table's advice when the code is known (and, when the table maps the code to checks
    that all hold now, that it may have been fixed since the job ran)."""
    codes = [c for c in codes if c]
    for code in codes:
        row = row_for(code)
        if row is None:
            continue
        for check in row.checks:
            found = prerequisites.get(check)
            if found is not None and found.status in (Status.FAIL, Status.WARN):
                return f"{code} -> {check} is {'failing' if found.status is Status.FAIL else 'warning'}"
    if not codes:
        return NOT_AMONG
    first = row_for(codes[0])
    if first is None:
        return f"{codes[0]}: {NOT_AMONG} (code not in the Guard's table)"
    if first.checks:
        return (
            f"{codes[0]}: the checks that explain it ({', '.join(first.checks)}) hold now, so it was fixed "
            f"after that job ran, or the {NOT_AMONG} ({first.advice})"
        )
    return f"{codes[0]}: {NOT_AMONG} ({first.advice})"


def cause_check(codes: Iterable[str], prerequisites: Mapping[str, Finding]) -> str | None:
    """The check id :func:`explain` names, or None."""
    for code in codes:
        row = row_for(code)
        for check in row.checks if row else ():
            found = prerequisites.get(check)
            if found is not None and found.status in (Status.FAIL, Status.WARN):
                return check
    return None
