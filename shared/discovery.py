"""Which (cluster, vault) pairs the Guard watches (docs/architecture.md, "Targets").

- every backup instance of datasource type managedClusters (case-insensitive) in a watched vault;
- every cluster tagged ``aks-backup-guard-vault=<vault id>`` without an instance in that vault
  ("prepare" targets);
- every cluster named in a vault's restore-target tags ("restore" targets): every tag whose name
  starts with ``aks-backup-guard-restore-target`` holds one cluster id.

Tags are written by whoever owns one resource group, so discovery only *finds* candidates: a
tag-named cluster or vault must be exactly such an id (else a problem line), and one outside
``GUARD_SUBSCRIPTIONS`` is never a target (a problem line, and nothing is read there). Whether
the Guard may write for a target is the consent rule's business (shared/consent.py).

Targets opted out with ``aks-backup-guard=ignore`` on the cluster or the vault are left out;
``report-only`` targets are kept (the planner will not write for them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shared import ids
from shared.consent import restore_target_ids
from shared.gather.reader import ArmReader
from shared.model import (
    OPT_OUT_TAG,
    VAULT_TAG,
    ClusterInfo,
    Target,
    Unreadable,
    VaultInfo,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Discovery:
    targets: tuple[Target, ...]
    problems: tuple[str, ...]  # subscriptions or vaults that could not be listed, with the reason
    ignored: tuple[Target, ...] = ()


def _ignored(*tagged: ClusterInfo | VaultInfo | None) -> bool:
    return any(
        res is not None and (ids.tag(res.tags, OPT_OUT_TAG) or "").strip().lower() == "ignore"
        for res in tagged
    )


def discover(reader: ArmReader, subscriptions: Iterable[str], *, max_workers: int = 16) -> Discovery:
    """List targets in ``subscriptions`` (bulk reads: a constant number per subscription and vault)."""
    subs = list(dict.fromkeys(s.lower() for s in subscriptions))
    problems: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(subs) * 4))) as pool:
        vault_lists = dict(zip(subs, pool.map(reader.vaults_in, subs), strict=True))
        cluster_lists = dict(zip(subs, pool.map(reader.clusters_in, subs), strict=True))
        vaults: dict[str, VaultInfo] = {}
        for sub, listing in vault_lists.items():
            if isinstance(listing, Unreadable):
                problems.append(f"subscription {sub}: {listing.reason}")
            else:
                vaults.update(listing)
        clusters: dict[str, ClusterInfo] = {}
        for sub, clisting in cluster_lists.items():
            if isinstance(clisting, Unreadable):
                problems.append(f"subscription {sub}: {clisting.reason}")
            else:
                clusters.update(clisting)
        vault_ids = sorted(vaults)
        instance_lists = dict(
            zip(
                vault_ids, pool.map(lambda v: reader.instances_in_vault(vaults[v].id), vault_ids), strict=True
            )
        )

    found: dict[str, Target] = {}
    ignored: dict[str, Target] = {}
    watched = set(subs) if reader.watched is None else set(reader.watched)

    def add(target: Target) -> None:
        outside = [
            rid for rid in (target.cluster_id, target.vault_id) if ids.subscription_of(rid) not in watched
        ]
        if outside:
            problems.append(
                f"{target.kind} target {target.cluster_id} | {target.vault_id} left out: "
                f"{outside[0]} is outside GUARD_SUBSCRIPTIONS"
            )
            return
        cluster = clusters.get(ids.normalize(target.cluster_id))
        vault = vaults.get(ids.normalize(target.vault_id))
        bucket = ignored if _ignored(cluster, vault) else found
        bucket.setdefault(target.key, target)

    for vault_key, instances in instance_lists.items():
        vault = vaults[vault_key]
        if isinstance(instances, Unreadable):
            problems.append(f"vault {vault.id}: {instances.reason}")
            continue
        for bi in instances:
            if ids.is_shaped(bi.cluster_id, "cluster"):
                add(Target(bi.cluster_id, vault.id, "backup", bi.id))
            elif bi.cluster_id:
                problems.append(f"backup instance {bi.id}: datasource {bi.cluster_id!r} is not a cluster id")
    for cluster in clusters.values():
        vault_id = (ids.tag(cluster.tags, VAULT_TAG) or "").strip()
        if ids.is_shaped(vault_id, "backup-vault"):
            target = Target(cluster.id, vault_id, "prepare")
            if target.key not in found and target.key not in ignored:
                add(target)
        elif vault_id:
            problems.append(f"cluster {cluster.id}: tag {VAULT_TAG}={vault_id!r} is not exactly a vault id")
    for vault in vaults.values():
        listed, malformed = restore_target_ids(vault.tags)
        problems += [
            f"vault {vault.id}: restore-target tag value {bad!r} is not exactly a cluster id"
            for bad in malformed
        ]
        for cluster_id in listed:
            target = Target(cluster_id, vault.id, "restore")
            if target.key not in found and target.key not in ignored:
                add(target)
    order = sorted(found.values(), key=lambda t: t.key)
    return Discovery(tuple(order), tuple(problems), tuple(sorted(ignored.values(), key=lambda t: t.key)))


def targets_for_cluster(reader: ArmReader, cluster_id: str) -> Discovery:
    """The targets of one cluster (the event path): its backup instances, else its vault tag."""
    if not ids.is_shaped(cluster_id, "cluster"):
        return Discovery((), (f"not an AKS cluster id: {cluster_id!r}",))
    instances = reader.instances_for_cluster(cluster_id)
    cluster = reader.cluster(cluster_id)
    cluster_info = cluster if isinstance(cluster, ClusterInfo) else None
    if isinstance(instances, Unreadable):
        return Discovery((), (f"cluster {cluster_id}: {instances.reason}",))
    targets: dict[str, Target] = {}
    ignored: dict[str, Target] = {}
    problems: list[str] = []
    for bi in instances:
        vault_id = bi.id[: bi.id.lower().find("/backupinstances/")]
        if not ids.is_shaped(vault_id, "backup-vault"):
            continue
        if not reader.in_bounds(ids.subscription_of(vault_id)):
            problems.append(f"backup instance {bi.id}: its vault is outside GUARD_SUBSCRIPTIONS")
            continue
        # The cluster id as ARM spells it (the cluster, else the instance's datasource), never the
        # caller's string: it becomes a role-assignment scope.
        arm_cluster_id = cluster_info.id if cluster_info else bi.cluster_id
        if not ids.is_shaped(arm_cluster_id, "cluster") or not ids.same(arm_cluster_id, cluster_id):
            continue
        target = Target(arm_cluster_id, vault_id, "backup", bi.id)
        bucket = ignored if _ignored(cluster_info) else targets
        bucket.setdefault(target.key, target)
    tagged = (ids.tag(cluster_info.tags, VAULT_TAG) or "").strip() if cluster_info else ""
    if cluster_info and ids.is_shaped(tagged, "backup-vault"):
        target = Target(cluster_info.id, tagged, "prepare")
        if not reader.in_bounds(ids.subscription_of(tagged)):
            problems.append(
                f"cluster {cluster_info.id}: tagged vault {tagged} is outside GUARD_SUBSCRIPTIONS"
            )
        elif target.key not in targets and target.key not in ignored:
            (ignored if _ignored(cluster_info) else targets)[target.key] = target
    elif tagged:
        problems.append(f"cluster {cluster_id}: tag {VAULT_TAG}={tagged!r} is not exactly a vault id")
    if isinstance(cluster, Unreadable) and not targets:
        problems.append(f"cluster {cluster_id}: {cluster.reason}")
    return Discovery(tuple(targets.values()), tuple(problems), tuple(ignored.values()))
