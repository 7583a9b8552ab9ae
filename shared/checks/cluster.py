"""Cluster checks: managed identity, Kubernetes version, Disk CSI driver, snapshot controller.

Each reads only ``snapshot.cluster``; an unreadable cluster makes each of them ``unknown``.
"""

from __future__ import annotations

import re

from shared.checks._common import aks_args, failing, passed, unknown, unreadable
from shared.model import Finding, Snapshot, Unreadable

MIN_KUBERNETES_VERSION: tuple[int, int, int] = (1, 21, 1)
_VERSION = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.+-]*)?\s*$")
_MANAGED = {"systemassigned": "system-assigned", "userassigned": "user-assigned"}


def parse_version(text: str | None) -> tuple[int, int, int] | None:
    """``"1.21.1"`` -> ``(1, 21, 1)``; ``"1.21"`` -> ``(1, 21, 0)``; a leading ``v`` and a
    ``-suffix`` are tolerated; anything else -> None."""
    if text is None:
        return None
    match = _VERSION.match(text)
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def check_identity(snapshot: Snapshot) -> Finding:
    """cluster.identity: identity.type SystemAssigned/UserAssigned passes; a service principal fails."""
    check = "cluster.identity"
    cluster = snapshot.cluster
    if isinstance(cluster, Unreadable):
        return unreadable(check, "cluster", cluster)
    kind = (cluster.identity_type or "").strip().lower()
    if kind in _MANAGED:
        return passed(check, f"identity.type is {cluster.identity_type} ({_MANAGED[kind]} managed identity)")
    client = cluster.service_principal_client_id
    if kind in ("", "none") and (client or "").strip().lower() != "msi":
        return failing(
            check,
            f"cluster uses a service principal (identity.type is {cluster.identity_type or 'not set'}, "
            f"servicePrincipalProfile.clientId is {client or 'not set'}); expected a system- or "
            "user-assigned managed identity",
            "In the portal, cluster > Settings > Identity: switch the cluster to a managed identity "
            "(this rotates the control-plane identity; plan it).",
            f"az aks update {aks_args(snapshot)} --enable-managed-identity",
        )
    return unknown(
        check,
        f"identity.type is {cluster.identity_type!r} and servicePrincipalProfile.clientId is {client!r}; "
        "expected identity.type SystemAssigned or UserAssigned",
    )


def check_kubernetes_version(snapshot: Snapshot) -> Finding:
    """cluster.kubernetes-version: currentKubernetesVersion (else kubernetesVersion) >= 1.21.1."""
    check = "cluster.kubernetes-version"
    cluster = snapshot.cluster
    if isinstance(cluster, Unreadable):
        return unreadable(check, "cluster", cluster)
    text = cluster.current_kubernetes_version or cluster.kubernetes_version
    field = "currentKubernetesVersion" if cluster.current_kubernetes_version else "kubernetesVersion"
    version = parse_version(text)
    minimum = ".".join(str(part) for part in MIN_KUBERNETES_VERSION)
    if version is None:
        return unknown(check, f"{field} is {text!r}, not a version; expected >= {minimum}")
    if version >= MIN_KUBERNETES_VERSION:
        return passed(check, f"{field} is {text}; expected >= {minimum}")
    return failing(
        check,
        f"{field} is {text}; expected >= {minimum}",
        "In the portal, cluster > Settings > Cluster configuration: upgrade Kubernetes to a supported "
        "version (list them with az aks get-upgrades).",
        f"az aks upgrade {aks_args(snapshot)} --kubernetes-version <version>",
    )


def _enabled_check(
    snapshot: Snapshot, check: str, field: str, enabled: bool | None, cli_flag: str
) -> Finding:
    if enabled is None:
        # The API documents both settings as enabled by default; an absent object means default.
        return passed(check, f"{field} is not set (defaults to true); expected true")
    if enabled:
        return passed(check, f"{field} is true; expected true")
    return failing(
        check,
        f"{field} is false; expected true",
        "In the portal, cluster > Settings > Storage: enable the Azure Disk CSI driver and the snapshot "
        "controller.",
        f"az aks update {aks_args(snapshot)} {cli_flag}",
    )


def check_disk_csi_driver(snapshot: Snapshot) -> Finding:
    """cluster.disk-csi-driver: storageProfile.diskCSIDriver.enabled (None = API default, true)."""
    check = "cluster.disk-csi-driver"
    cluster = snapshot.cluster
    if isinstance(cluster, Unreadable):
        return unreadable(check, "cluster", cluster)
    return _enabled_check(
        snapshot,
        check,
        "storageProfile.diskCSIDriver.enabled",
        cluster.disk_csi_enabled,
        "--enable-disk-driver",
    )


def check_snapshot_controller(snapshot: Snapshot) -> Finding:
    """cluster.snapshot-controller: storageProfile.snapshotController.enabled (None = default, true)."""
    check = "cluster.snapshot-controller"
    cluster = snapshot.cluster
    if isinstance(cluster, Unreadable):
        return unreadable(check, "cluster", cluster)
    return _enabled_check(
        snapshot,
        check,
        "storageProfile.snapshotController.enabled",
        cluster.snapshot_controller_enabled,
        "--enable-snapshot-controller",
    )


__all__ = [
    "MIN_KUBERNETES_VERSION",
    "check_disk_csi_driver",
    "check_identity",
    "check_kubernetes_version",
    "check_snapshot_controller",
    "parse_version",
]
