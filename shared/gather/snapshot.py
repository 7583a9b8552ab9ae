"""Assemble one target's :class:`~shared.model.Snapshot` from an :class:`AsyncArmReader`.

Reads only what the target needs; every read goes through the reader's per-run cache. Never
raises for ARM failures: they become ``Unreadable`` fields.

Reads that don't depend on each other are in flight together, so one target costs about three
round trips however many reads it makes: first the cluster, the vault, the backup instance, the
provider, the extensions, the trusted-access bindings and the subscription's role and policy
assignments; then what those name (the backup policy, the storage account, other subscriptions'
role assignments, subnets, jobs, consent tags, AKS's versions for the cluster's region, the other
Backup vaults bound to the cluster, and in a scan the guarded clusters' extensions for
``storage.container-not-shared``); then the blob listing and the locks. :func:`gather`
is the sync entry (the event path); the scan awaits :func:`gather_async` on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from shared import consent, ids
from shared.gather import convert
from shared.gather.async_reader import AsyncArmReader
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
    Snapshot,
    StorageAccountInfo,
    Target,
    TrustedAccessBinding,
    Unreadable,
    VaultInfo,
    VeleroResult,
)

T = TypeVar("T")


def _starter(reader: AsyncArmReader) -> Callable[[Coroutine[Any, Any, T]], Awaitable[T]]:
    """How a stage starts a read it awaits later: as a task on the event path (one target, every
    read a round trip); as the bare coroutine in a scan, where it is answered from a listing the
    scan has already read (or is reading), so a task would cost CPU and buy nothing."""
    if reader.bulk:
        return lambda coro: coro
    return asyncio.ensure_future


async def _all(reader: AsyncArmReader, coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Await ``coros``: together on the event path, in turn in a scan (see :func:`_starter`)."""
    if reader.bulk:
        return [await coro for coro in coros]
    return list(await asyncio.gather(*coros))


async def _instance(target: Target, reader: AsyncArmReader) -> Read[BackupInstanceInfo | None]:
    if target.kind != "backup":
        return None
    if reader.bulk:
        listing = await reader.instances_in_vault(target.vault_id)
    else:
        listing = await reader.instances_for_cluster(target.cluster_id)
    if isinstance(listing, Unreadable):
        return listing
    for bi in listing:
        if target.backup_instance_id and ids.same(bi.id, target.backup_instance_id):
            return bi
    for bi in listing:  # by (cluster, vault) when the instance id is not known (event path)
        if ids.same(bi.cluster_id, target.cluster_id) and ids.is_at_or_above(target.vault_id, bi.id):
            return bi
    return Unreadable(f"no backup instance of {target.cluster_id} in vault {target.vault_id}", "not-found")


async def _storage(
    extension: Read[ExtensionInfo | None], reader: AsyncArmReader
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
    account = await reader.storage_account(extension.storage_account_id)
    if isinstance(account, Unreadable):
        if account.kind == "not-found":
            return None, None
        return account, account
    container = extension.blob_container
    if not container:
        return account, None
    return account, await reader.blob_container(account.id, container)


async def _nsgs(cluster: Read[ClusterInfo], reader: AsyncArmReader) -> Read[tuple[NsgInfo, ...]]:
    if isinstance(cluster, Unreadable):
        return cluster
    found: list[NsgInfo] = []
    for nsg in await _all(reader, [reader.subnet_nsg(subnet_id) for subnet_id in cluster.subnet_ids]):
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


async def _consent_facts(
    target: Target,
    reader: AsyncArmReader,
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
    return await _drive(consent.facts_plan(pairs, reader.trust_domains), reader)


async def _drive(
    plan: Generator[str, Read[Mapping[str, str]], ConsentFacts], reader: AsyncArmReader
) -> ConsentFacts:
    """Answer a :func:`shared.consent.facts_plan` with the reader's tag reads."""
    try:
        level = next(plan)
        while True:
            level = plan.send(await reader.scope_tags(level))
    except StopIteration as done:
        return done.value


async def _policy_assignments(
    target: Target, reader: AsyncArmReader
) -> Read[tuple[PolicyAssignmentInfo, ...]]:
    """The subscription's policy assignments; those that govern the cluster but set no
    excludedNamespaces get their definition's default (definitions are read once per run)."""
    listed = await reader.policy_assignments_in(target.subscription_id)
    if isinstance(listed, Unreadable):
        return listed

    async def complete(assignment: PolicyAssignmentInfo) -> PolicyAssignmentInfo:
        if (
            assignment.excluded_namespaces is None
            and assignment.policy_definition_id
            and assignment.applies_to(target.cluster_id)
            and (assignment.enforcement_mode or "Default").lower() != "donotenforce"
        ):
            definition = await reader.policy_definition(
                assignment.policy_definition_id, target.subscription_id
            )
            if isinstance(definition, Unreadable):
                return replace(assignment, definition_unreadable=definition.reason)
            return convert.with_definition_default(assignment, definition)
        return assignment

    return tuple(await _all(reader, [complete(assignment) for assignment in listed]))


async def _jobs(
    target: Target, reader: AsyncArmReader, instance: Read[BackupInstanceInfo | None]
) -> Read[InstanceJobs] | None:
    """The instance's jobs from the vault's listing (one read per vault per run); None when the
    target has no backup instance."""
    if isinstance(instance, Unreadable):
        return instance
    if instance is None:
        return None
    listing = await reader.backup_jobs_of_vault(target.vault_id)
    if isinstance(listing, Unreadable):
        return listing
    return listing.get(ids.normalize(instance.id), InstanceJobs())


async def _locks(
    reader: AsyncArmReader,
    instance: Read[BackupInstanceInfo | None],
    storage: Read[StorageAccountInfo | None],
) -> dict[str, Read[tuple[LockInfo, ...]]]:
    """Management locks of the subscriptions holding the snapshot resource group and the backup
    storage account (one listing per subscription per run)."""
    scopes = []
    if isinstance(instance, BackupInstanceInfo) and instance.snapshot_resource_group_id:
        scopes.append(instance.snapshot_resource_group_id)
    if isinstance(storage, StorageAccountInfo):
        scopes.append(storage.id)
    subs: list[str] = []
    for scope in scopes:
        try:
            sub = ids.subscription_of(scope).lower()
        except ValueError:
            continue
        if sub not in subs:
            subs.append(sub)
    return dict(zip(subs, await _all(reader, [reader.locks_in(sub) for sub in subs]), strict=True))


MAX_BINDING_SOURCES = 16
"""Other vaults' bindings checked for existence per target (AKS allows 8 bindings per cluster)."""


async def _kubernetes_versions(
    cluster: Read[ClusterInfo], reader: AsyncArmReader
) -> Read[tuple[KubernetesMinor, ...]]:
    """AKS's versions for the cluster's region (one read per subscription and region per run)."""
    if isinstance(cluster, Unreadable):
        return cluster
    if not cluster.location:
        return Unreadable(f"cluster {cluster.id} has no location", "error")
    return await reader.kubernetes_versions(ids.subscription_of(cluster.id), cluster.location)


async def _binding_sources(
    target: Target, reader: AsyncArmReader, trusted: Read[tuple[TrustedAccessBinding, ...]]
) -> dict[str, Read[bool]]:
    """Whether each other Backup vault bound to the cluster still exists: from the vault listing in
    bulk mode, one GET each otherwise (a 404 means gone)."""
    if isinstance(trusted, Unreadable):
        return {}
    sources: list[str] = []
    for binding in trusted:
        source = binding.source_resource_id
        if not ids.is_shaped(source, "backup-vault") or ids.same(source, target.vault_id):
            continue
        if ids.normalize(source) not in sources and len(sources) < MAX_BINDING_SOURCES:
            sources.append(ids.normalize(source))
    out: dict[str, Read[bool]] = {}
    for key, found in zip(sources, await _all(reader, [reader.vault(s) for s in sources]), strict=True):
        if isinstance(found, Unreadable):
            out[key] = False if found.kind == "not-found" else found
        else:
            out[key] = True
    return out


async def _guarded_clusters(reader: AsyncArmReader, subs: list[str]) -> list[str]:
    """Clusters with a backup instance in a vault of ``subs`` or tagged with a vault (bulk listings
    the scan's discovery reads anyway), except those of ``subs`` tagged ``aks-backup-guard=ignore``;
    normalised and sorted."""
    found: set[str] = set()
    for sub in subs:
        vaults = await reader.vaults_in(sub)
        for vault in [] if isinstance(vaults, Unreadable) else vaults.values():
            instances = await reader.instances_in_vault(vault.id)
            if not isinstance(instances, Unreadable):
                found.update(ids.normalize(bi.cluster_id) for bi in instances if bi.cluster_id)
        clusters = await reader.clusters_in(sub)
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


INDEX_READERS = 16
"""Extension listings in flight at once while one subscription's container index is built."""


async def _container_index(reader: AsyncArmReader, sub: str) -> Read[ContainerIndex]:
    """Which guarded clusters of ``sub`` write to which (account, container): built once per
    subscription per scan from the extension listings the scan reads for those clusters' own
    targets (cached for the run, so the index costs no read of its own)."""

    async def build() -> ContainerIndex:
        clusters = await _guarded_clusters(reader, [sub])
        # a few readers pull from the list: 10,000 reads waiting for ARM's bucket at once would
        # hold 10,000 pending requests in memory; the bucket sets the pace either way
        todo, found = iter(clusters), {}

        async def read_some() -> None:
            for cluster_id in todo:
                found[cluster_id] = await reader.extensions(cluster_id)

        await asyncio.gather(*(read_some() for _ in range(min(INDEX_READERS, len(clusters)))))
        listings = [found[c] for c in clusters]
        users: dict[tuple[str, str], list[str]] = {}
        unread: dict[str, str] = {}
        for cluster_id, listed in zip(clusters, listings, strict=True):
            if isinstance(listed, Unreadable):
                if listed.kind != "not-found":
                    unread[cluster_id] = f"{ids.name_of(cluster_id)}: {listed.reason}"
                continue
            location = convert.backup_location(convert.backup_extension(listed))
            if location is not None:
                users.setdefault(location, []).append(cluster_id)
        return ContainerIndex({k: tuple(v) for k, v in users.items()}, unread)

    return await reader.memo(
        ("container-index", sub.lower()), sub, f"index backup containers in {sub}", build
    )


async def _container_use(
    target: Target, reader: AsyncArmReader, extension: Read[ExtensionInfo | None]
) -> Read[ContainerUse] | None:
    """Scans only (None on the event path): the other guarded clusters of the cluster's and the
    account's subscriptions whose backup extension names the same account and container, looked
    up in each subscription's :func:`_container_index`."""
    if not reader.bulk:
        return None
    if isinstance(extension, Unreadable):
        return extension
    location = convert.backup_location(extension)
    if location is None:
        return ContainerUse()
    subs = list(dict.fromkeys([target.subscription_id.lower(), ids.subscription_of(location[0]).lower()]))
    others: set[str] = set()
    unread: set[str] = set()
    for sub in subs:
        index = await _container_index(reader, sub)
        if isinstance(index, Unreadable):  # a subscription outside GUARD_SUBSCRIPTIONS: none guarded
            continue
        others.update(c for c in index.users.get(location, ()) if not ids.same(c, target.cluster_id))
        unread.update(reason for c, reason in index.unread.items() if not ids.same(c, target.cluster_id))
    return ContainerUse(others=tuple(sorted(others)), unread=tuple(sorted(unread)))


@dataclass(frozen=True)
class ContainerIndex:
    users: Mapping[tuple[str, str], tuple[str, ...]]
    unread: Mapping[str, str]


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
    """Read everything the checks need for ``target`` (sync callers; see the module docstring)."""
    return reader.run(gather_async(target, reader.aio, incluster_checks=incluster_checks))


async def gather_async(target: Target, reader: AsyncArmReader, *, incluster_checks: bool = False) -> Snapshot:
    """Read everything the checks need for ``target``, independent reads together."""
    if not ids.is_shaped(target.cluster_id, "cluster") or not ids.is_shaped(target.vault_id, "backup-vault"):
        return unreadable_snapshot(
            target, f"malformed target ids: {target.cluster_id!r}, {target.vault_id!r}"
        )
    read_at = datetime.now(UTC)
    sub = target.subscription_id
    # 1. what the target names directly (the subscription's assignments are needed anyway).
    # Tasks put every read of a stage in flight before the first answer is awaited; in a scan
    # only the per-target reads need one (the rest are answered from listings already read).
    start = _starter(reader)
    listed_t = asyncio.ensure_future(reader.extensions(target.cluster_id))
    trusted_t = asyncio.ensure_future(reader.trusted_access(target.cluster_id))
    cluster_t, vault_t = start(reader.cluster(target.cluster_id)), start(reader.vault(target.vault_id))
    instance_t, provider_t = start(_instance(target, reader)), start(reader.provider_state(sub))
    roles_t, assignments_t = (
        start(reader.role_assignments_in(sub)),
        start(_policy_assignments(target, reader)),
    )
    cluster, vault, instance, provider = await cluster_t, await vault_t, await instance_t, await provider_t
    await roles_t
    assignments, listed, trusted = await assignments_t, await listed_t, await trusted_t
    extension: Read[ExtensionInfo | None]
    if isinstance(listed, Unreadable):
        extension = listed
        if listed.kind == "not-found" and not isinstance(cluster, Unreadable):
            # The cluster was listed earlier in this run but is gone now.
            cluster = Unreadable(f"cluster {target.cluster_id} no longer exists", "not-found")
    else:
        extension = convert.backup_extension(listed)
    staging: tuple[str | None, str | None] = (None, None)
    if not isinstance(vault, Unreadable):
        staging = (ids.tag(vault.tags, STAGING_RG_TAG), ids.tag(vault.tags, STAGING_STORAGE_TAG))
    role_subs = sorted(_role_scope_subscriptions(target, instance, extension, staging))

    # 2. what those name
    async def storage_and_locks() -> tuple[
        tuple[Read[StorageAccountInfo | None], Read[BlobContainerInfo | None]],
        dict[str, Read[tuple[LockInfo, ...]]],
    ]:
        storage = await _storage(extension, reader)
        return storage, await _locks(reader, instance, storage[0])

    storage_t = asyncio.ensure_future(storage_and_locks())
    # rare reads: a task only when there is something to read
    uses_identity = isinstance(instance, BackupInstanceInfo) and instance.uses_user_identity
    user_identity_t = asyncio.ensure_future(_user_identity(instance, reader)) if uses_identity else None
    velero_t = asyncio.ensure_future(_velero(target, cluster, reader, True)) if incluster_checks else None
    policy_t = start(_policy(instance, reader))
    roles_t2 = start(_all(reader, [reader.role_assignments_in(s) for s in role_subs]))
    nsgs_t, jobs_t = start(_nsgs(cluster, reader)), start(_jobs(target, reader, instance))
    consent_t = start(_consent_facts(target, reader, cluster, vault, instance, extension, provider))
    versions_t = start(_kubernetes_versions(cluster, reader))
    sources_t = start(_binding_sources(target, reader, trusted))
    container_t = start(_container_use(target, reader, extension))
    policy, ((storage, blobs), locks), roles = await policy_t, await storage_t, await roles_t2
    nsgs, jobs = await nsgs_t, await jobs_t
    user_identity = await user_identity_t if user_identity_t is not None else None
    velero = await velero_t if velero_t is not None else None
    consent_facts = await consent_t
    versions, sources, container_use = await versions_t, await sources_t, await container_t
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
        role_assignments=dict(zip(role_subs, roles, strict=True)),
        node_subnet_nsgs=nsgs,
        policy_assignments=assignments,
        velero=velero,
        user_identity_exists=user_identity,
        consent=consent_facts,
        jobs=jobs,
        locks=locks,
        kubernetes_versions=versions,
        binding_sources=sources,
        container_use=container_use,
        read_at=read_at,
    )


async def _policy(
    instance: Read[BackupInstanceInfo | None], reader: AsyncArmReader
) -> Read[PolicyInfo | None]:
    if isinstance(instance, Unreadable):
        return instance
    if instance is not None and instance.policy_id:
        return await reader.policy(instance.policy_id)
    return None


async def _user_identity(
    instance: Read[BackupInstanceInfo | None], reader: AsyncArmReader
) -> Read[bool] | None:
    if isinstance(instance, BackupInstanceInfo) and instance.uses_user_identity:
        return await reader.resource_exists(str(instance.user_identity_id))
    return None


async def _velero(
    target: Target, cluster: Read[ClusterInfo], reader: AsyncArmReader, incluster_checks: bool
) -> Read[VeleroResult] | None:
    if not incluster_checks:
        return None
    return cluster if isinstance(cluster, Unreadable) else await reader.velero(target.cluster_id)
