"""Support-matrix checks the backup needs beyond roles and settings (Microsoft's AKS backup support
matrix and FAQ): read from what the Guard already reads, no extra ARM call.

- ``cluster.linux-node-pool``: the extension's pods run on Linux nodes that are not Arm64: at least
  one agent pool must be Linux (``osType``, Linux by default) with a non-Arm64 VM size (Azure
  names Arm64 sizes with the ``p`` feature letter: ``Standard_D4ps_v5``).
- ``storage.account-supported``: the backup storage account is general-purpose v2 (``kind``
  ``StorageV2``), standard (``sku.name`` ``Standard_*``), and in the cluster's region (else fail).
  The support matrix also asks for the cluster's subscription: an account in another subscription
  warns (the extension accepts one through ``storageAccountSubscriptionId`` and backups can run,
  but outside what the matrix supports).

Neither is fixed by the Guard (it would mean a new node pool or a new storage account): advice only.
"""

from __future__ import annotations

from shared import ids
from shared.checks._common import failing, not_applicable, passed, unreadable
from shared.checks.storage import _account
from shared.model import ClusterInfo, Finding, Snapshot, Status, StorageAccountInfo, Unreadable


def check_linux_node_pool(snapshot: Snapshot) -> Finding:
    """cluster.linux-node-pool: see the module docstring."""
    check = "cluster.linux-node-pool"
    cluster = snapshot.cluster
    if isinstance(cluster, Unreadable):
        return unreadable(check, "cluster", cluster)
    if not cluster.node_pools:
        return not_applicable(check, "the cluster lists no agent pools")
    usable = [p for p in cluster.node_pools if p.linux and not p.arm64]
    if usable:
        return passed(check, f"Linux, non-Arm64 node pool(s): {', '.join(p.name for p in usable)}")
    seen = ", ".join(f"{p.name} ({p.os_type or 'Linux'}, {p.vm_size or '?'})" for p in cluster.node_pools)
    return failing(
        check,
        f"no agent pool can run the backup extension: {seen}; expected at least one Linux pool with an "
        "x64 VM size (Arm64 and Windows nodes are not supported)",
        "Add a Linux node pool with an x64 VM size (for example Standard_D4s_v5).",
        f"az aks nodepool add --resource-group {_rg(cluster)} --cluster-name {cluster.name} "
        f"--subscription {ids.subscription_of(cluster.id)} --name backup --os-type Linux "
        "--node-vm-size Standard_D4s_v5 --node-count 1",
    )


def _rg(cluster: ClusterInfo) -> str:
    return ids.resource_group_of(cluster.id) or "<resource-group>"


def _problems(account: StorageAccountInfo, cluster: ClusterInfo) -> list[str]:
    found = []
    if account.kind and account.kind.lower() != "storagev2":
        found.append(f"kind {account.kind} (expected StorageV2, general-purpose v2)")
    if account.sku and not account.sku.lower().startswith("standard_"):
        found.append(f"sku {account.sku} (expected a Standard sku)")
    if account.location and cluster.location and _region(account.location) != _region(cluster.location):
        found.append(f"region {account.location} (the cluster is in {cluster.location})")
    return found


def _region(name: str) -> str:
    return name.replace(" ", "").lower()


def check_storage_account_supported(snapshot: Snapshot) -> Finding:
    """storage.account-supported: see the module docstring."""
    check = "storage.account-supported"
    account = _account(snapshot, check)
    if isinstance(account, Finding):
        return account
    cluster = snapshot.cluster
    if isinstance(cluster, Unreadable):
        return unreadable(check, "cluster", cluster)
    problems = _problems(account, cluster)
    other_sub = not ids.same(
        f"/subscriptions/{ids.subscription_of(account.id)}",
        f"/subscriptions/{ids.subscription_of(cluster.id)}",
    )
    if not problems and not other_sub:
        shape = f"{account.kind or 'StorageV2'}, {account.sku or 'Standard'}, {account.location or '-'}"
        return passed(check, f"{account.name}: {shape}")
    if other_sub:
        here, there = ids.subscription_of(account.id), ids.subscription_of(cluster.id)
        problems.append(f"subscription {here} (the cluster is in {there})")
    return failing(
        check,
        f"backup storage account {account.name}: " + "; ".join(problems) + "; expected a supported account",
        "Create a Standard general-purpose v2 storage account in the cluster's region (and subscription), "
        "and reinstall the backup extension with it.",
        f"az storage account create --name <new-account> --resource-group {_rg(cluster)} "
        f"--subscription {ids.subscription_of(cluster.id)} --location {cluster.location} "
        "--kind StorageV2 --sku Standard_LRS",
        status=Status.WARN if other_sub and len(problems) == 1 else None,
    )
