"""The scopes a target depends on, for the target index that routes events
(docs/architecture.md, "Event routing").

Pure: derived from a Snapshot. The subscription itself is deliberately not a dependency scope:
a role assignment at a resource group must re-verify only the targets that depend on that group,
and "above" matching would otherwise make every subscription-level scope match every event.
Subscription-wide events (provider registration, assignments at subscription scope) still find
all targets *under* the subscription.
"""

from __future__ import annotations

from shared import ids
from shared.model import BackupInstanceInfo, ClusterInfo, ExtensionInfo, NsgInfo, Snapshot


def dependency_scopes(snapshot: Snapshot) -> list[str]:
    target = snapshot.target
    scopes: list[str | None] = [target.cluster_id, target.vault_id, target.backup_instance_id]
    if isinstance(snapshot.backup_instance, BackupInstanceInfo):
        scopes += [snapshot.backup_instance.snapshot_resource_group_id, snapshot.backup_instance.policy_id]
    if isinstance(snapshot.extension, ExtensionInfo):
        scopes.append(snapshot.extension.storage_account_id)
    scopes += [snapshot.staging_resource_group_id, snapshot.staging_storage_account_id]
    if isinstance(snapshot.cluster, ClusterInfo):
        scopes += list(snapshot.cluster.subnet_ids)
    if isinstance(snapshot.node_subnet_nsgs, tuple):
        scopes += [nsg.id for nsg in snapshot.node_subnet_nsgs if isinstance(nsg, NsgInfo)]
    seen: dict[str, str] = {}
    for scope in scopes:
        if scope and scope.strip().lower().startswith("/subscriptions/"):
            seen.setdefault(ids.normalize(scope), scope.strip())
    return sorted(seen.values(), key=str.lower)
