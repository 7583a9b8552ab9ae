"""Assemble one target's :class:`~shared.model.Snapshot` from an :class:`ArmReader`.

Reads only what the target needs; every read goes through the reader's per-run cache. Never
raises for ARM failures: they become ``Unreadable`` fields.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from shared import consent, ids
from shared.gather import convert
from shared.gather.reader import ArmReader
from shared.model import (
    OPT_OUT_TAG,
    STAGING_RG_TAG,
    STAGING_STORAGE_TAG,
    STORAGE_ACCOUNT_TAG,
    VAULT_TAG,
    BackupInstanceInfo,
    BlobContainerInfo,
    ClusterInfo,
    ConsentFacts,
    ContainerUse,
    ExtensionInfo,
    InstanceJobs,
    KubernetesMinor,
    LockInfo,
    NsgInfo,
    PolicyAssignmentInfo,
    PolicyInfo,
    Read,
    RoleAssignmentInfo,
    Snapshot,
    StorageAccountInfo,
    Target,
    TrustedAccessBinding,
    Unreadable,
    VaultInfo,
    VeleroResult,
)


def _instance(target: Target, reader: ArmReader) -> Read[BackupInstanceInfo | None]:
    if target.kind != "backup":
        return None
    if reader.bulk:
        listing = reader.instances_in_vault(target.vault_id)
    else:
        listing = reader.instances_for_cluster(target.cluster_id)
    if isinstance(listing, Unreadable):
        return listing
    for bi in listing:
        if target.backup_instance_id and ids.same(bi.id, target.backup_instance_id):
            return bi
    for bi in listing:  # by (cluster, vault) when the instance id is not known (event path)
        if ids.same(bi.cluster_id, target.cluster_id) and ids.is_at_or_above(target.vault_id, bi.id):
            return bi
    return Unreadable(f"no backup instance of {target.cluster_id} in vault {target.vault_id}", "not-found")


def _storage(
    extension: Read[ExtensionInfo | None], reader: ArmReader
) -> tuple[Read[StorageAccountInfo | None], Read[BlobContainerInfo | None]]:
    if isinstance(extension, Unreadable):
        return extension, extension
    if extension is None or extension.storage_account_id is None:
        return None, None
    if not ids.is_shaped(extension.storage_account_id, "storage-account"):
        bad = Unreadable(
            f"the extension storage settings name no valid account ({extension.storage_account_id!r})",
            "error",
        )
        return bad, bad
    account = reader.storage_account(extension.storage_account_id)
    if isinstance(account, Unreadable):
        if account.kind == "not-found":
            return None, None
        return account, account
    container = extension.blob_container
    if not container:
        return account, None
    return account, reader.blob_container(account.id, container)


def _nsgs(cluster: Read[ClusterInfo], reader: ArmReader) -> Read[tuple[NsgInfo, ...]]:
    if isinstance(cluster, Unreadable):
        return cluster
    found: list[NsgInfo] = []
    for subnet_id in cluster.subnet_ids:
        nsg = reader.subnet_nsg(subnet_id)
        if isinstance(nsg, Unreadable):
            return nsg
        if nsg is not None:
            found.append(nsg)
    return tuple(found)


def _role_scope_subscriptions(
    target: Target,
    instance: Read[BackupInstanceInfo | None],
    extension: Read[ExtensionInfo | None],
    staging: tuple[str | None, ...],
) -> set[str]:
    subs = {target.subscription_id}
    scopes = list(staging)
    if isinstance(instance, BackupInstanceInfo):
        scopes.append(instance.snapshot_resource_group_id)
    if isinstance(extension, ExtensionInfo):
        scopes.append(extension.storage_account_id)
    for scope in scopes:
        if scope:
            try:
                subs.add(ids.subscription_of(scope))
            except ValueError:
                continue
    return subs


def _consent_facts(
    target: Target,
    reader: ArmReader,
    cluster: Read[ClusterInfo],
    vault: Read[VaultInfo],
    instance: Read[BackupInstanceInfo | None],
    extension: Read[ExtensionInfo | None],
    provider: Read[str],
) -> ConsentFacts:
    """Read the tags the consent rule needs for every write this target could ask for (see
    :func:`shared.consent.gather_facts`: nothing for a single-resource-group layout)."""
    vault_id = vault.id if isinstance(vault, VaultInfo) else target.vault_id
    cluster_id = cluster.id if isinstance(cluster, ClusterInfo) else target.cluster_id
    pairs: list[tuple[str | None, str | None]] = [(cluster_id, vault_id)]
    if isinstance(provider, str) and provider.strip().lower() != "registered":
        pairs.append((f"/subscriptions/{target.subscription_id}", cluster_id))
    if isinstance(instance, BackupInstanceInfo):
        pairs += [
            (instance.snapshot_resource_group_id, vault_id),
            (instance.snapshot_resource_group_id, cluster_id),
        ]
    if isinstance(extension, ExtensionInfo):
        pairs += [(extension.storage_account_id, cluster_id), (extension.storage_account_id, vault_id)]
    if isinstance(vault, VaultInfo):
        pairs += [
            ((ids.tag(vault.tags, STAGING_RG_TAG) or "").strip(), vault_id),
            ((ids.tag(vault.tags, STAGING_STORAGE_TAG) or "").strip(), vault_id),
        ]
        if extension is None:  # an install may take its storage location from the vault's tags
            pairs.append((cluster_id, (ids.tag(vault.tags, STORAGE_ACCOUNT_TAG) or "").strip()))
    return consent.gather_facts(pairs, reader.trust_domains, reader.scope_tags)


def _policy_assignments(target: Target, reader: ArmReader) -> Read[tuple[PolicyAssignmentInfo, ...]]:
    """The subscription's policy assignments; those that govern the cluster but set no
    excludedNamespaces get their definition's default (definitions are read once per run)."""
    listed = reader.policy_assignments_in(target.subscription_id)
    if isinstance(listed, Unreadable):
        return listed
    out: list[PolicyAssignmentInfo] = []
    for assignment in listed:
        if (
            assignment.excluded_namespaces is None
            and assignment.policy_definition_id
            and assignment.applies_to(target.cluster_id)
            and (assignment.enforcement_mode or "Default").lower() != "donotenforce"
        ):
            definition = reader.policy_definition(assignment.policy_definition_id, target.subscription_id)
            if isinstance(definition, Unreadable):
                assignment = replace(assignment, definition_unreadable=definition.reason)
            else:
                assignment = convert.with_definition_default(assignment, definition)
        out.append(assignment)
    return tuple(out)


def _jobs(
    target: Target, reader: ArmReader, instance: Read[BackupInstanceInfo | None]
) -> Read[InstanceJobs] | None:
    """The instance's jobs from the vault's listing (one read per vault per run); None when the
    target has no backup instance."""
    if isinstance(instance, Unreadable):
        return instance
    if instance is None:
        return None
    listing = reader.backup_jobs_of_vault(target.vault_id)
    if isinstance(listing, Unreadable):
        return listing
    return listing.get(ids.normalize(instance.id), InstanceJobs())


def _locks(
    reader: ArmReader, instance: Read[BackupInstanceInfo | None], storage: Read[StorageAccountInfo | None]
) -> dict[str, Read[tuple[LockInfo, ...]]]:
    """Management locks of the subscriptions holding the snapshot resource group and the backup
    storage account (one listing per subscription per run)."""
    scopes = []
    if isinstance(instance, BackupInstanceInfo) and instance.snapshot_resource_group_id:
        scopes.append(instance.snapshot_resource_group_id)
    if isinstance(storage, StorageAccountInfo):
        scopes.append(storage.id)
    out: dict[str, Read[tuple[LockInfo, ...]]] = {}
    for scope in scopes:
        try:
            sub = ids.subscription_of(scope).lower()
        except ValueError:
            continue
        if sub not in out:
            out[sub] = reader.locks_in(sub)
    return out


MAX_BINDING_SOURCES = 16
"""Other vaults' bindings checked for existence per target (AKS allows 8 bindings per cluster)."""


def _kubernetes_versions(cluster: Read[ClusterInfo], reader: ArmReader) -> Read[tuple[KubernetesMinor, ...]]:
    """AKS's versions for the cluster's region (one read per subscription and region per run)."""
    if isinstance(cluster, Unreadable):
        return cluster
    if not cluster.location:
        return Unreadable(f"cluster {cluster.id} has no location", "error")
    return reader.kubernetes_versions(ids.subscription_of(cluster.id), cluster.location)


def _binding_sources(
    target: Target, reader: ArmReader, trusted: Read[tuple[TrustedAccessBinding, ...]]
) -> dict[str, Read[bool]]:
    """Whether each other Backup vault bound to the cluster still exists: from the vault listing in
    bulk mode, one GET each otherwise (a 404 means gone)."""
    if isinstance(trusted, Unreadable):
        return {}
    out: dict[str, Read[bool]] = {}
    for binding in trusted:
        source = binding.source_resource_id
        if not ids.is_shaped(source, "backup-vault") or ids.same(source, target.vault_id):
            continue
        key = ids.normalize(source)
        if key in out or len(out) >= MAX_BINDING_SOURCES:
            continue
        found = reader.vault(source)
        if isinstance(found, Unreadable):
            out[key] = False if found.kind == "not-found" else found
        else:
            out[key] = True
    return out


def _guarded_clusters(reader: ArmReader, subs: list[str]) -> list[str]:
    """Clusters with a backup instance in a vault of ``subs`` or tagged with a vault (bulk listings
    the scan's discovery reads anyway), except those of ``subs`` tagged ``aks-backup-guard=ignore``;
    normalised and sorted."""
    found: set[str] = set()
    for sub in subs:
        vaults = reader.vaults_in(sub)
        for vault in [] if isinstance(vaults, Unreadable) else vaults.values():
            instances = reader.instances_in_vault(vault.id)
            if not isinstance(instances, Unreadable):
                found.update(ids.normalize(bi.cluster_id) for bi in instances if bi.cluster_id)
        clusters = reader.clusters_in(sub)
        listed = {} if isinstance(clusters, Unreadable) else clusters
        for cluster in listed.values():
            if ids.is_shaped((ids.tag(cluster.tags, VAULT_TAG) or "").strip(), "backup-vault"):
                found.add(ids.normalize(cluster.id))
        ignored = {
            key
            for key, c in listed.items()
            if (ids.tag(c.tags, OPT_OUT_TAG) or "").strip().lower() == "ignore"
        }
        found -= ignored  # the Guard reads nothing of a cluster that opted out with "ignore"
    return sorted(c for c in found if ids.is_shaped(c, "cluster"))


def _container_use(
    target: Target, reader: ArmReader, extension: Read[ExtensionInfo | None]
) -> Read[ContainerUse] | None:
    """Scans only (None on the event path): the other guarded clusters of the cluster's and the
    account's subscriptions whose backup extension names the same account and container. Their
    extension listings are the ones the scan reads for their own targets (shared per run)."""
    if not reader.bulk:
        return None
    if isinstance(extension, Unreadable):
        return extension
    location = convert.backup_location(extension)
    if location is None:
        return ContainerUse()
    subs = list(dict.fromkeys([target.subscription_id.lower(), ids.subscription_of(location[0]).lower()]))
    candidates = [c for c in _guarded_clusters(reader, subs) if not ids.same(c, target.cluster_id)]
    if candidates:  # start at a different place per target, so concurrent gathers share the reads
        start = sum(map(ord, target.key)) % len(candidates)
        candidates = candidates[start:] + candidates[:start]
    others, unread = [], []
    for cluster_id in candidates:
        listed = reader.extensions(cluster_id)
        if isinstance(listed, Unreadable):
            if listed.kind != "not-found":
                unread.append(f"{ids.name_of(cluster_id)}: {listed.reason}")
            continue
        if convert.backup_location(convert.backup_extension(listed)) == location:
            others.append(cluster_id)
    return ContainerUse(others=tuple(sorted(others)), unread=tuple(sorted(unread)))


def unreadable_snapshot(target: Target, reason: str) -> Snapshot:
    """A Snapshot where every read failed with ``reason`` (all checks become unknown)."""
    bad = Unreadable(reason, "error")
    return Snapshot(
        target=target,
        cluster=bad,
        vault=bad,
        backup_instance=bad,
        policy=bad,
        provider_state=bad,
        extension=bad,
        storage_account=bad,
        blob_container=bad,
        trusted_access=bad,
        role_assignments={},
        node_subnet_nsgs=bad,
        policy_assignments=bad,
        jobs=bad,
        kubernetes_versions=bad,
        container_use=bad,
    )


def gather(target: Target, reader: ArmReader, *, incluster_checks: bool = False) -> Snapshot:
    """Read everything the checks need for ``target``; see the module docstring."""
    if not ids.is_shaped(target.cluster_id, "cluster") or not ids.is_shaped(target.vault_id, "backup-vault"):
        return unreadable_snapshot(
            target, f"malformed target ids: {target.cluster_id!r}, {target.vault_id!r}"
        )
    read_at = datetime.now(UTC)
    cluster = reader.cluster(target.cluster_id)
    vault = reader.vault(target.vault_id)
    instance = _instance(target, reader)
    policy: Read[PolicyInfo | None] = None
    if isinstance(instance, Unreadable):
        policy = instance
    elif instance is not None and instance.policy_id:
        policy = reader.policy(instance.policy_id)
    provider = reader.provider_state(target.subscription_id)

    listed = reader.extensions(target.cluster_id)
    extension: Read[ExtensionInfo | None]
    if isinstance(listed, Unreadable):
        extension = listed
        if listed.kind == "not-found" and not isinstance(cluster, Unreadable):
            # The cluster was listed earlier in this run but is gone now.
            cluster = Unreadable(f"cluster {target.cluster_id} no longer exists", "not-found")
    else:
        extension = convert.backup_extension(listed)
    storage, blobs = _storage(extension, reader)

    trusted = reader.trusted_access(target.cluster_id)
    staging: tuple[str | None, str | None] = (None, None)
    if not isinstance(vault, Unreadable):
        staging = (
            ids.tag(vault.tags, STAGING_RG_TAG),
            ids.tag(vault.tags, STAGING_STORAGE_TAG),
        )
    role_assignments: dict[str, Read[tuple[RoleAssignmentInfo, ...]]] = {
        sub: reader.role_assignments_in(sub)
        for sub in sorted(_role_scope_subscriptions(target, instance, extension, staging))
    }
    velero: Read[VeleroResult] | None = None
    user_identity: Read[bool] | None = None
    if isinstance(instance, BackupInstanceInfo) and instance.uses_user_identity:
        user_identity = reader.resource_exists(str(instance.user_identity_id))
    if incluster_checks:
        velero = cluster if isinstance(cluster, Unreadable) else reader.velero(target.cluster_id)
    return Snapshot(
        target=target,
        cluster=cluster,
        vault=vault,
        backup_instance=instance,
        policy=policy,
        provider_state=provider,
        extension=extension,
        storage_account=storage,
        blob_container=blobs,
        trusted_access=trusted,
        role_assignments=role_assignments,
        node_subnet_nsgs=_nsgs(cluster, reader),
        policy_assignments=_policy_assignments(target, reader),
        velero=velero,
        user_identity_exists=user_identity,
        consent=_consent_facts(target, reader, cluster, vault, instance, extension, provider),
        jobs=_jobs(target, reader, instance),
        locks=_locks(reader, instance, storage),
        kubernetes_versions=_kubernetes_versions(cluster, reader),
        binding_sources=_binding_sources(target, reader, trusted),
        container_use=_container_use(target, reader, extension),
        read_at=read_at,
    )
