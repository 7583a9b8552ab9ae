"""The check catalog as data (docs/checks.md is generated from it): stable ids, titles, who may
fix, severity, docs.

:data:`CHECKS` is ordered: :func:`shared.checks.evaluate` returns findings in this order, and
alerts and reports list them so. Ids are stable: the ledger, alerts, docs and tests use them.

``remediable_by``:
    ``none``           the Guard only reports (and advises a fix);
    ``guard``          the Guard may fix it in ``GUARD_MODE=enforce``;
    ``guard-cluster``  the fix changes the cluster: also needs ``GUARD_REMEDIATE_CLUSTER=true``.

``severity`` is the status a check reports when its condition does not hold (``fail``, or
``warn`` for advisory checks). Transitional states (a provider ``Registering``, an extension
``Creating``) may report ``warn`` even for ``fail`` checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from shared.roles import ROLE_MATRIX

Remediation = Literal["none", "guard", "guard-cluster"]
Severity = Literal["fail", "warn"]

_LEARN = "https://learn.microsoft.com/azure/backup/"
DOC_CONCEPT = _LEARN + "azure-kubernetes-service-cluster-backup-concept"
DOC_MANAGE = _LEARN + "azure-kubernetes-service-cluster-manage-backups"
DOC_TROUBLESHOOT = _LEARN + "azure-kubernetes-service-backup-troubleshoot"
DOC_SUPPORT = _LEARN + "azure-kubernetes-service-cluster-backup-support-matrix"
DOC_INSTALL = _LEARN + "quick-install-backup-extension"


@dataclass(frozen=True)
class CheckSpec:
    """What one check id means: title (reads as a sentence), family (its module), fixer, severity, doc."""

    id: str
    title: str
    family: str
    remediable_by: Remediation
    severity: Severity
    doc: str


def _spec(
    check_id: str, title: str, family: str, remediable_by: Remediation, severity: Severity, doc: str
) -> CheckSpec:
    return CheckSpec(check_id, title, family, remediable_by, severity, doc)


_ROLE_TITLES = {
    "vault": "the Backup vault identity",
    "cluster": "the cluster identity",
    "extension": "the backup extension identity",
}
_SCOPE_TITLES = {
    "cluster": "the cluster",
    "snapshot-rg": "the snapshot resource group",
    "storage-account": "the backup storage account",
    "staging-rg": "the staging resource group",
    "staging-storage": "the staging storage account",
}

_SPECS: tuple[CheckSpec, ...] = (
    _spec(
        "target.consent",
        "The cluster consents to being guarded for this Backup vault",
        "consent",
        "none",
        "fail",
        DOC_CONCEPT,
    ),
    _spec(
        "cluster.identity",
        "Cluster uses a managed identity",
        "cluster",
        "none",
        "fail",
        DOC_SUPPORT,
    ),
    _spec(
        "cluster.kubernetes-version",
        "Cluster runs Kubernetes 1.21.1 or later",
        "cluster",
        "none",
        "fail",
        DOC_SUPPORT,
    ),
    _spec(
        "cluster.kubernetes-version-supported",
        "Cluster runs a Kubernetes version AKS supports in its region",
        "cluster",
        "none",
        "fail",
        DOC_SUPPORT,
    ),
    _spec(
        "cluster.linux-node-pool",
        "Cluster has a Linux, non-Arm64 node pool for the backup extension",
        "support",
        "none",
        "fail",
        DOC_SUPPORT,
    ),
    _spec(
        "cluster.disk-csi-driver",
        "Azure Disk CSI driver is enabled",
        "cluster",
        "guard-cluster",
        "fail",
        DOC_MANAGE,
    ),
    _spec(
        "cluster.snapshot-controller",
        "CSI snapshot controller is enabled",
        "cluster",
        "guard-cluster",
        "fail",
        DOC_MANAGE,
    ),
    _spec(
        "subscription.kubernetes-configuration-registered",
        "Microsoft.KubernetesConfiguration is registered on the cluster's subscription",
        "provider",
        "guard",
        "fail",
        DOC_MANAGE,
    ),
    _spec(
        "extension.installed",
        "Backup extension is installed and succeeded",
        "extension",
        "guard-cluster",
        "fail",
        DOC_INSTALL,
    ),
    _spec(
        "extension.storage-location",
        "Backup extension's storage account and blob container exist",
        "extension",
        "none",
        "fail",
        DOC_MANAGE,
    ),
    _spec(
        "storage.network-access",
        "Backup storage account admits the Backup vault",
        "storage",
        "guard",
        "fail",
        DOC_CONCEPT,
    ),
    _spec(
        "storage.account-supported",
        "Backup storage account is Standard general-purpose v2, in the cluster's region",
        "support",
        "none",
        "fail",
        DOC_SUPPORT,
    ),
    _spec(
        "locks.snapshot-rg-unlocked",
        "No Delete or ReadOnly lock on the snapshot resource group (inherited ones included)",
        "locks",
        "none",
        "fail",
        DOC_TROUBLESHOOT,
    ),
    _spec(
        "locks.storage-not-read-only",
        "No ReadOnly lock on the backup storage account (inherited ones included)",
        "locks",
        "none",
        "fail",
        DOC_TROUBLESHOOT,
    ),
    _spec(
        "storage.container-dedicated",
        "Backup blob container holds only backup data",
        "storage",
        "none",
        "warn",
        DOC_SUPPORT,
    ),
    _spec(
        "storage.container-not-shared",
        "No other cluster's backup extension uses the backup blob container",
        "storage",
        "none",
        "fail",
        DOC_SUPPORT,
    ),
    _spec(
        "storage.shared-key-access",
        "Backup extension can authenticate to the storage account",
        "storage",
        "none",
        "warn",
        DOC_TROUBLESHOOT,
    ),
    _spec(
        "trusted-access.binding",
        "Trusted access binding from the Backup vault exists and succeeded",
        "trusted-access",
        "guard",
        "fail",
        DOC_CONCEPT,
    ),
    _spec(
        "trusted-access.binding-limit",
        "Cluster has room for the Backup vault's trusted access binding (at most 8)",
        "trusted-access",
        "none",
        "fail",
        DOC_CONCEPT,
    ),
    _spec(
        "trusted-access.stale-bindings",
        "No trusted access binding from a Backup vault that no longer exists",
        "trusted-access",
        "none",
        "warn",
        DOC_CONCEPT,
    ),
    _spec(
        "vault.identity",
        "Backup vault has the identity its backup instance runs under",
        "vault",
        "none",
        "fail",
        DOC_TROUBLESHOOT,
    ),
    _spec(
        "vault.tier-region-supported",
        "Backup vault's region supports the Vault tier its policy uses",
        "vault",
        "none",
        "fail",
        DOC_SUPPORT,
    ),
    *(
        _spec(
            row.check,
            f"{_ROLE_TITLES[row.assignee].capitalize()} has {row.role_name} on {_SCOPE_TITLES[row.scope]}",
            "roles",
            "guard",
            "fail",
            DOC_MANAGE,
        )
        for row in ROLE_MATRIX
    ),
    _spec(
        "cluster.velero-absent",
        "No separate Velero installation in the cluster",
        "incluster",
        "none",
        "fail",
        DOC_SUPPORT,
    ),
    _spec(
        "policy.namespace-excluded",
        "Kubernetes Azure Policy assignments exclude namespace dataprotection-microsoft",
        "policy",
        "none",
        "warn",
        DOC_TROUBLESHOOT,
    ),
    _spec(
        "network.egress",
        "Cluster egress reaches the endpoints the backup extension needs",
        "network",
        "none",
        "warn",
        DOC_INSTALL,
    ),
    _spec(
        "network.nsg-service-tags",
        "Node subnet NSGs admit the AzureBackup and AzureCloud service tags",
        "network",
        "none",
        "warn",
        DOC_TROUBLESHOOT,
    ),
    _spec(
        "backup.protection",
        "Backup instance is ProtectionConfigured, without a protection error",
        "backup",
        "none",
        "fail",
        DOC_TROUBLESHOOT,
    ),
    _spec(
        "backup.recent-jobs",
        "The latest backup job succeeded, within the policy's schedule plus a grace period",
        "backup",
        "none",
        "fail",
        DOC_TROUBLESHOOT,
    ),
    _spec(
        "restore-target.extension",
        "Restore-target cluster has the backup extension installed and succeeded",
        "restore",
        "guard-cluster",
        "fail",
        DOC_CONCEPT,
    ),
)

CHECKS: Mapping[str, CheckSpec] = MappingProxyType({spec.id: spec for spec in _SPECS})
"""Check id -> spec, in evaluation/report order."""

CHECK_IDS: tuple[str, ...] = tuple(CHECKS)

RESTORE_ONLY: frozenset[str] = frozenset({"restore-target.extension"})
"""Ids evaluated only for ``restore`` targets."""

NOT_FOR_RESTORE: frozenset[str] = frozenset({"extension.installed"})

SCAN_ONLY: frozenset[str] = frozenset({"storage.container-not-shared"})
"""Ids a scan evaluates and a single-target (event-path) verification leaves out: they compare the
target with every other guarded cluster, which only a scan has read (docs/backup-health.md)."""

OUTCOME_CHECKS: tuple[str, ...] = ("backup.protection", "backup.recent-jobs")
"""Outcome checks: evaluated after every prerequisite, whose findings name their cause."""
"""Ids not evaluated for ``restore`` targets: ``restore-target.extension`` takes their place."""


def ids_for_kind(kind: str) -> tuple[str, ...]:
    """The check ids evaluated for a target kind (``backup``, ``prepare`` or ``restore``), in order."""
    excluded = NOT_FOR_RESTORE if kind == "restore" else RESTORE_ONLY
    return tuple(check_id for check_id in CHECK_IDS if check_id not in excluded)


def spec(check_id: str) -> CheckSpec:
    """The spec of a check id; ``KeyError`` for an unknown id."""
    return CHECKS[check_id]
