"""Assemble one target's :class:`~shared.model.Snapshot` from an :class:`ArmReader`.

Reads only what the target needs; every read goes through the reader's per-run cache. Never
raises for ARM failures: they become ``Unreadable`` fields.
"""

from __future__ import annotations

from shared import consent, ids
from shared.gather import convert
from shared.gather.reader import ArmReader
from shared.model import (
    STAGING_RG_TAG,
    STAGING_STORAGE_TAG,
    STORAGE_ACCOUNT_TAG,
    BackupInstanceInfo,
    BlobContainerInfo,
    ClusterInfo,
    ConsentFacts,
    ExtensionInfo,
    NsgInfo,
    PolicyInfo,
    Read,
    RoleAssignmentInfo,
    Snapshot,
    StorageAccountInfo,
    Target,
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
    )


def gather(target: Target, reader: ArmReader, *, incluster_checks: bool = False) -> Snapshot:
    """Read everything the checks need for ``target``; see the module docstring."""
    if not ids.is_shaped(target.cluster_id, "cluster") or not ids.is_shaped(target.vault_id, "backup-vault"):
        return unreadable_snapshot(
            target, f"malformed target ids: {target.cluster_id!r}, {target.vault_id!r}"
        )
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
        policy_assignments=reader.policy_assignments_in(target.subscription_id),
        velero=velero,
        consent=_consent_facts(target, reader, cluster, vault, instance, extension, provider),
    )
