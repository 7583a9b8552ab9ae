"""Cached, bounded ARM reads for one run, on the process's event loop (the core of every read).

:class:`AsyncArmReader` is what :mod:`shared.gather.snapshot` awaits; sync callers use the
:class:`~shared.gather.reader.ArmReader` facade, which runs these coroutines on the loop.

Every read returns a value or :class:`~shared.model.Unreadable` (403, 404, errors that outlived
azure-core's retries): it never raises, so one failed read only blinds the checks that need it.

Two modes, same methods:
- ``bulk=False`` (the event path): each resource is read with one GET, once per run.
- ``bulk=True`` (a scan): the first lookup of a kind of resource in a subscription lists them
  all (clusters, vaults, storage accounts, networks, policies of a vault...), so a scan costs a
  constant per subscription plus what is truly per target (extensions, trusted-access bindings,
  blob listing).

Reads are single-flight (two tasks asking for the same thing share one request). How many are on
the wire per subscription, and how fast they leave, is the pacing policy's job
(:mod:`shared.pacing`), applied to every HTTP attempt.

Reads stay inside ``GUARD_SUBSCRIPTIONS`` when ``watched`` is set (as every production path does):
a read in any other subscription is answered with ``Unreadable`` without being sent, whatever a
tag, an extension setting or a backup instance names.

Everything here runs on the loop's thread; nothing needs a lock.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError, map_error

from shared import ids
from shared.arm import ArmClients
from shared.errors import ArmError, NotFound, PermissionDenied, translate
from shared.gather import convert
from shared.model import (
    BackupInstanceInfo,
    BlobContainerInfo,
    ClusterInfo,
    ExtensionInfo,
    InstanceJobs,
    JobInfo,
    KubernetesMinor,
    LockInfo,
    NsgInfo,
    PolicyAssignmentInfo,
    PolicyDefinitionInfo,
    PolicyInfo,
    Read,
    RoleAssignmentInfo,
    RoleAssignments,
    StorageAccountInfo,
    TrustedAccessBinding,
    Unreadable,
    VaultInfo,
    VeleroResult,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
BLOB_SAMPLE = 50
VELERO_COMMAND = (
    "kubectl get deployments --all-namespaces --no-headers "
    "-o custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name"
)
RUN_COMMAND_POLL_SECONDS = 2.0
"""AKS run-command results carry no Retry-After: without an interval the SDK would wait 30 s a poll."""
MANAGED_IDENTITY_API_VERSION = "2023-01-31"
_DEFINITION = re.compile(
    r"^(?:/subscriptions/(?P<sub>[^/]+)|/providers/Microsoft\.Management/managementGroups/(?P<mg>[^/]+))?"
    r"/providers/Microsoft\.Authorization/(?P<kind>policyDefinitions|policySetDefinitions)/(?P<name>[^/]+)$",
    re.IGNORECASE,
)
_ARM_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/(?P<ns>[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)",
    re.IGNORECASE,
)
_NOT_FOUND_MAP = {404: ResourceNotFoundError}
PER_TARGET_KINDS = frozenset({"trusted-access", "blobs", "exists", "velero"})
"""Cache kinds a scan reads once per target: kept only for the :data:`PER_TARGET_KEPT` newest.
Extension listings are kept for the whole scan: the container index of each subscription reads
them all first (``storage.container-not-shared``), and each target then finds its own."""
PER_TARGET_KEPT = 2048
"""Enough for every target in flight (at most 256) to share its cluster's reads with the targets
next to it; a scan's memory then stays flat however many targets it visits."""


def parse(resource_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of a top-level resource id; ValueError if malformed."""
    match = _ARM_PATH.match(resource_id.strip())
    if not match:
        raise ValueError(f"not a resource id: {resource_id!r}")
    return match.group("sub"), match.group("rg"), match.group("name")


async def collect(items: AsyncIterable[T]) -> list[T]:
    return [item async for item in items]


async def get_json(client: Any, url: str) -> Any:
    """One ARM GET through ``client``'s own pipeline (auth, retries, pacing), as ARM's JSON.

    ``url`` is a path (the client's api-version is added) or an absolute ``nextLink``. Errors
    raise what the SDK would (ResourceNotFoundError for 404, else HttpResponseError)."""
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    if url.startswith("/"):
        url = f"{url}?api-version={client._config.api_version}"
    # older generated clients (authorization) name it _send_request
    send = getattr(client, "send_request", None) or client._send_request
    # stream=True: the pipeline's ContentDecodePolicy would parse the body a second time
    response = await send(HttpRequest("GET", url), stream=True)
    await response.read()
    if response.status_code != 200:
        map_error(status_code=response.status_code, response=response, error_map=_NOT_FOUND_MAP)
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    return response.json()


async def list_json(client: Any, path: str) -> AsyncIterator[dict[str, Any]]:
    """Every item of an ARM list, page by page following ``nextLink``, as ARM's JSON."""
    url: str | None = path
    while url:
        body = await get_json(client, url)
        if not isinstance(body, dict):
            return
        for item in body.get("value") or []:
            if isinstance(item, dict):
                yield item
        url = body.get("nextLink") or None


async def list_converted(
    client: Any, path: str, to: Callable[[Any], T], keep: Callable[[Any], bool] = lambda _: True
) -> list[T]:
    """:func:`list_json`, each item wrapped for the converters (:class:`convert.JsonView`) and
    converted as its page arrives, so a large listing never holds more than one page of JSON."""
    out: list[T] = []
    async for item in list_json(client, path):
        view = convert.JsonView(item)
        if keep(view):
            out.append(to(view))
    return out


class AsyncArmReader:
    def __init__(
        self,
        clients: ArmClients,
        *,
        bulk: bool = False,
        watched: frozenset[str] | None = None,
        trust_domains: tuple[str, ...] = (),
    ) -> None:
        self.clients = clients
        self.bulk = bulk
        self.watched = watched
        self.trust_domains = trust_domains
        self._cache: dict[tuple[str, ...], asyncio.Future[Any]] = {}
        self._per_target: deque[tuple[str, ...]] = deque()

    def in_bounds(self, subscription_id: str) -> bool:
        return self.watched is None or subscription_id.strip().lower() in self.watched

    def aio(self, kind: str, sub: str) -> Any:
        return self.clients.aio(kind, sub)

    # -- plumbing ------------------------------------------------------------------------------

    async def _once(
        self, key: tuple[str, ...], subscription_id: str, action: str, fn: Callable[[], Awaitable[T]]
    ) -> Read[T]:
        if not self.in_bounds(subscription_id):
            return Unreadable(
                f"not read: subscription {subscription_id.lower()} is outside GUARD_SUBSCRIPTIONS ({action})",
                "denied",
            )
        entry = self._cache.get(key)
        if entry is not None:
            return await asyncio.shield(entry)
        future: asyncio.Future[Read[T]] = asyncio.get_running_loop().create_future()
        self._cache[key] = future
        if self.bulk and key[0] in PER_TARGET_KINDS:
            self._forget_oldest(key)
        value: Read[T]
        try:
            value = await fn()
        except AzureError as exc:
            err = translate(exc, action=action)
            log.info("read failed: %s", err.reason)
            value = unreadable(err)
        except asyncio.CancelledError:
            if self._cache.get(key) is future:
                del self._cache[key]
            future.cancel()
            raise
        except Exception as exc:  # a bug or an unexpected shape must not lose other findings
            log.exception("unexpected failure during %s", action)
            value = Unreadable(f"{action}: unexpected {type(exc).__name__}: {exc}", "error")
        future.set_result(value)
        return value

    async def memo(
        self, key: tuple[str, ...], subscription_id: str, action: str, fn: Callable[[], Awaitable[T]]
    ) -> Read[T]:
        """Compute ``fn`` once per run under ``key`` (single-flight, never raises), like a read:
        for what a scan derives from several reads and shares between targets."""
        return await self._once(key, subscription_id, action, fn)

    def _forget_oldest(self, key: tuple[str, ...]) -> None:
        """Bounded memory in a scan: drop the oldest finished per-target reads past the limit."""
        self._per_target.append(key)
        while len(self._per_target) > PER_TARGET_KEPT:
            old = self._per_target.popleft()
            entry = self._cache.get(old)
            if entry is not None and entry.done():
                del self._cache[old]

    def invalidate(
        self,
        *,
        role_assignments_of: str | None = None,
        trusted_access_of: str | None = None,
        provider_of: str | None = None,
        storage_account: str | None = None,
        cluster: str | None = None,
        extensions_of: str | None = None,
    ) -> None:
        """Drop finished reads so the next call re-reads them (see ``ArmReader.invalidate``)."""
        keys: list[tuple[str, ...]] = []
        if role_assignments_of:
            keys.append(("roles", role_assignments_of.lower()))
        if trusted_access_of:
            keys.append(("trusted-access", ids.normalize(trusted_access_of)))
        if extensions_of:
            keys.append(("extensions", ids.normalize(extensions_of)))
        if cluster:
            keys += [("cluster", ids.normalize(cluster)), ("clusters", ids.subscription_of(cluster))]
        if storage_account:
            keys += [
                ("storage-account", ids.normalize(storage_account)),
                ("storage", ids.subscription_of(storage_account)),
            ]
        if provider_of:
            provider = provider_of.lower()
            keys.extend(k for k in self._cache if k[0] == "provider" and k[1] == provider)
        for key in keys:
            entry = self._cache.get(key)
            if entry is not None and entry.done():
                del self._cache[key]

    # -- subscription-wide lists (bulk mode, and role/policy assignments in both modes) -------

    async def clusters_in(self, sub: str) -> Read[dict[str, ClusterInfo]]:
        async def run() -> dict[str, ClusterInfo]:
            path = f"/subscriptions/{sub}/providers/Microsoft.ContainerService/managedClusters"
            items = await list_converted(self.aio("aks", sub), path, convert.cluster)
            return {ids.normalize(c.id): c for c in items}

        return await self._once(("clusters", sub.lower()), sub, f"list clusters in subscription {sub}", run)

    async def vaults_in(self, sub: str) -> Read[dict[str, VaultInfo]]:
        async def run() -> dict[str, VaultInfo]:
            path = f"/subscriptions/{sub}/providers/Microsoft.DataProtection/backupVaults"
            items = await list_converted(self.aio("dpp", sub), path, convert.vault)
            return {ids.normalize(v.id): v for v in items}

        return await self._once(
            ("vaults", sub.lower()), sub, f"list backup vaults in subscription {sub}", run
        )

    async def instances_in_vault(self, vault_id: str) -> Read[tuple[BackupInstanceInfo, ...]]:
        sub, rg, name = parse(vault_id)

        async def run() -> tuple[BackupInstanceInfo, ...]:
            path = f"{_vault_path(sub, rg, name)}/backupInstances"
            dpp = self.aio("dpp", sub)
            return tuple(
                await list_converted(dpp, path, convert.backup_instance, convert.is_cluster_instance)
            )

        return await self._once(
            ("instances", ids.normalize(vault_id)), sub, f"list backup instances of {vault_id}", run
        )

    async def backup_jobs_of_vault(self, vault_id: str) -> Read[Mapping[str, InstanceJobs]]:
        """Each backup instance's latest backup jobs, from ONE paged listing of the vault's jobs
        (``GET .../backupVaults/{v}/backupJobs``: the API has no server-side filter), read once per
        vault per run in both modes. Keyed by normalised backup instance id; folded page by page,
        so memory stays at three values per instance however long the history (see :func:`fold_jobs`)."""
        sub, rg, name = parse(vault_id)

        async def run() -> Mapping[str, InstanceJobs]:
            folder = JobFolder()
            async for body in list_json(self.aio("dpp", sub), f"{_vault_path(sub, rg, name)}/backupJobs"):
                job = convert.JsonView(body)
                if convert.is_backup_job(job):
                    folder.add(convert.job(job))
            return folder.result()

        return await self._once(
            ("jobs", ids.normalize(vault_id)), sub, f"list backup jobs of {vault_id}", run
        )

    async def locks_in(self, sub: str) -> Read[tuple[LockInfo, ...]]:
        """Every management lock in the subscription (at it, its groups and resources): one paged
        listing per subscription per run, in both modes."""

        async def run() -> tuple[LockInfo, ...]:
            items = await collect(self.aio("locks", sub).management_locks.list_at_subscription_level())
            return tuple(LockInfo(id=str(lock.id), level=str(lock.level or "")) for lock in items)

        return await self._once(
            ("locks", sub.lower()), sub, f"list management locks in subscription {sub}", run
        )

    async def role_assignments_in(self, sub: str) -> Read[tuple[RoleAssignmentInfo, ...]]:
        async def run() -> tuple[RoleAssignmentInfo, ...]:
            path = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments"
            return RoleAssignments(
                await list_converted(self.aio("authz", sub), path, convert.role_assignment)
            )

        return await self._once(
            ("roles", sub.lower()), sub, f"list role assignments in subscription {sub}", run
        )

    async def policy_assignments_in(self, sub: str) -> Read[tuple[PolicyAssignmentInfo, ...]]:
        async def run() -> tuple[PolicyAssignmentInfo, ...]:
            items = await collect(self.aio("policy", sub).policy_assignments.list())
            return tuple(convert.policy_assignment(pa) for pa in items)

        return await self._once(
            ("policies", sub.lower()), sub, f"list policy assignments in subscription {sub}", run
        )

    async def policy_definition(self, definition_id: str, sub: str) -> Read[PolicyDefinitionInfo]:
        """A policy or policy set definition (built-in, subscription or management-group), read once
        per run. ``sub`` is the subscription whose client is used."""
        match = _DEFINITION.match(definition_id.strip())
        if not match:
            return Unreadable(f"not a policy definition id: {definition_id!r}", "error")

        async def run() -> PolicyDefinitionInfo:
            client = self.aio("policy", match.group("sub") or sub)
            ops = (
                client.policy_set_definitions
                if match.group("kind").lower() == "policysetdefinitions"
                else client.policy_definitions
            )
            name = match.group("name")
            if match.group("mg"):
                return convert.policy_definition(await ops.get_at_management_group(name, match.group("mg")))
            if match.group("sub"):
                return convert.policy_definition(await ops.get(name))
            return convert.policy_definition(await ops.get_built_in(name))

        return await self._once(
            ("policy-definition", ids.normalize(definition_id)),
            sub,
            f"read policy definition {definition_id}",
            run,
        )

    async def resource_exists(
        self, resource_id: str, api_version: str = MANAGED_IDENTITY_API_VERSION
    ) -> Read[bool]:
        """Whether a resource (a user-assigned identity) exists: GET by id, 404 -> False."""
        try:
            sub = ids.subscription_of(resource_id)
        except ValueError:
            return Unreadable(f"not a resource id: {resource_id!r}", "error")

        async def run() -> bool:
            try:
                await self.aio("resources", sub).resources.get_by_id(resource_id, api_version=api_version)
            except ResourceNotFoundError:
                return False
            return True

        return await self._once(("exists", ids.normalize(resource_id)), sub, f"read {resource_id}", run)

    async def provider_state(
        self, sub: str, namespace: str = "Microsoft.KubernetesConfiguration"
    ) -> Read[str]:
        async def run() -> str:
            provider = await self.aio("resources", sub).providers.get(namespace)
            return str(getattr(provider, "registration_state", None) or "Unknown")

        return await self._once(
            ("provider", sub.lower(), namespace.lower()), sub, f"read provider {namespace}", run
        )

    async def resource_groups_in(self, sub: str) -> Read[dict[str, Mapping[str, str]]]:
        """Resource group id (normalised) -> its tags, for every group in the subscription."""

        async def run() -> dict[str, Mapping[str, str]]:
            groups = await collect(self.aio("resources", sub).resource_groups.list())
            return {ids.normalize(str(g.id)): convert.tags_of(g) for g in groups}

        return await self._once(
            ("groups", sub.lower()), sub, f"list resource groups in subscription {sub}", run
        )

    async def subscription_tags(self, sub: str) -> Read[Mapping[str, str]]:
        """The subscription's tags, from the Tags API (``.../providers/Microsoft.Resources/tags/default``)."""

        async def run() -> Mapping[str, str]:
            found = await self.aio("resources", sub).tags.get_at_scope(f"/subscriptions/{sub}")
            return convert.tags_of(getattr(found, "properties", None))

        return await self._once(("sub-tags", sub.lower()), sub, f"read the tags of subscription {sub}", run)

    async def resource_group_tags(self, group_id: str) -> Read[Mapping[str, str]]:
        """One resource group's tags: from the subscription's listing in bulk mode, else one GET."""
        sub = ids.subscription_of(group_id)
        if self.bulk:
            return _from_listing(await self.resource_groups_in(sub), group_id, "resource group")
        name = ids.resource_group_of(group_id) or ""

        async def run() -> Mapping[str, str]:
            return convert.tags_of(await self.aio("resources", sub).resource_groups.get(name))

        return await self._once(
            ("group", ids.normalize(group_id)), sub, f"read resource group {group_id}", run
        )

    async def scope_tags(self, scope_id: str) -> Read[Mapping[str, str]]:
        """The tags of a subscription, resource group, cluster or storage account id (else Unreadable)."""
        kind = ids.shape_of(scope_id)
        if kind == "subscription":
            return await self.subscription_tags(ids.subscription_of(scope_id))
        if kind == "resource-group":
            return await self.resource_group_tags(scope_id)
        if kind == "cluster":
            found: Read[Any] = await self.cluster(scope_id)
        elif kind == "storage-account":
            found = await self.storage_account(scope_id)
        else:
            return Unreadable(f"not a scope the Guard writes to: {scope_id!r}", "error")
        return found if isinstance(found, Unreadable) else found.tags

    # -- single resources ----------------------------------------------------------------------

    async def cluster(self, cluster_id: str) -> Read[ClusterInfo]:
        sub, rg, name = parse(cluster_id)
        if self.bulk:
            return _from_listing(await self.clusters_in(sub), cluster_id, "cluster")

        async def run() -> ClusterInfo:
            path = f"{_group_path(sub, rg)}/providers/Microsoft.ContainerService/managedClusters/{_q(name)}"
            return convert.cluster(convert.wrap(await get_json(self.aio("aks", sub), path)))

        return await self._once(
            ("cluster", ids.normalize(cluster_id)), sub, f"read cluster {cluster_id}", run
        )

    async def vault(self, vault_id: str) -> Read[VaultInfo]:
        sub, rg, name = parse(vault_id)
        if self.bulk:
            return _from_listing(await self.vaults_in(sub), vault_id, "backup vault")

        async def run() -> VaultInfo:
            return convert.vault(
                convert.wrap(await get_json(self.aio("dpp", sub), _vault_path(sub, rg, name)))
            )

        return await self._once(("vault", ids.normalize(vault_id)), sub, f"read backup vault {vault_id}", run)

    async def instances_for_cluster(self, cluster_id: str) -> Read[tuple[BackupInstanceInfo, ...]]:
        """Backup instances protecting a cluster, found from the cluster (extension routing)."""
        sub = ids.subscription_of(cluster_id)

        async def run() -> tuple[BackupInstanceInfo, ...]:
            path = f"{cluster_id.strip().rstrip('/')}/providers/Microsoft.DataProtection/backupInstances"
            dpp = self.aio("dpp", sub)
            return tuple(
                await list_converted(dpp, path, convert.backup_instance, convert.is_cluster_instance)
            )

        return await self._once(
            ("cluster-instances", ids.normalize(cluster_id)),
            sub,
            f"list backup instances of {cluster_id}",
            run,
        )

    async def policy(self, policy_id: str) -> Read[PolicyInfo]:
        idx = policy_id.lower().find("/backuppolicies/")
        if idx <= 0:
            return Unreadable(f"malformed backup policy id {policy_id}", "error")
        vault_id = policy_id[:idx]
        try:
            sub, rg, vault_name = parse(vault_id)
        except ValueError:
            return Unreadable(f"malformed backup policy id {policy_id}", "error")
        dpp = self.aio("dpp", sub)
        if self.bulk:

            async def run_list() -> dict[str, PolicyInfo]:
                items = await collect(dpp.backup_policies.list(rg, vault_name))
                return {ids.normalize(p.id): p for p in map(convert.policy, items)}

            listing = await self._once(
                ("policies-of", ids.normalize(vault_id)), sub, f"list policies of {vault_id}", run_list
            )
            return _from_listing(listing, policy_id, "backup policy")
        name = ids.name_of(policy_id)

        async def run() -> PolicyInfo:
            return convert.policy(await dpp.backup_policies.get(rg, vault_name, name))

        return await self._once(
            ("policy", ids.normalize(policy_id)), sub, f"read backup policy {policy_id}", run
        )

    async def extensions(self, cluster_id: str) -> Read[tuple[ExtensionInfo, ...]]:
        sub, rg, name = parse(cluster_id)

        async def run() -> tuple[ExtensionInfo, ...]:
            path = (
                f"/subscriptions/{sub}/resourceGroups/{_q(rg)}/providers/Microsoft.ContainerService"
                f"/managedClusters/{_q(name)}/providers/Microsoft.KubernetesConfiguration/extensions"
            )
            return tuple(
                [convert.extension_json(item) async for item in list_json(self.aio("k8sext", sub), path)]
            )

        return await self._once(
            ("extensions", ids.normalize(cluster_id)), sub, f"list extensions of {cluster_id}", run
        )

    async def trusted_access(self, cluster_id: str) -> Read[tuple[TrustedAccessBinding, ...]]:
        sub, rg, name = parse(cluster_id)

        async def run() -> tuple[TrustedAccessBinding, ...]:
            path = (
                f"/subscriptions/{sub}/resourceGroups/{_q(rg)}/providers/Microsoft.ContainerService"
                f"/managedClusters/{_q(name)}/trustedAccessRoleBindings"
            )
            items = list_json(self.aio("aks", sub), path)
            return tuple([convert.trusted_access_binding_json(item) async for item in items])

        return await self._once(
            ("trusted-access", ids.normalize(cluster_id)),
            sub,
            f"list trusted access bindings of {cluster_id}",
            run,
        )

    async def storage_account(self, account_id: str) -> Read[StorageAccountInfo]:
        sub, rg, name = parse(account_id)
        storage = self.aio("storage", sub)
        if self.bulk:

            async def run_list() -> dict[str, StorageAccountInfo]:
                items = await collect(storage.storage_accounts.list())
                return {ids.normalize(a.id): a for a in map(convert.storage_account, items)}

            listing = await self._once(
                ("storage", sub.lower()), sub, f"list storage accounts in subscription {sub}", run_list
            )
            return _from_listing(listing, account_id, "storage account")

        async def run() -> StorageAccountInfo:
            return convert.storage_account(await storage.storage_accounts.get_properties(rg, name))

        return await self._once(
            ("storage-account", ids.normalize(account_id)), sub, f"read storage account {account_id}", run
        )

    async def blob_container(self, account_id: str, container: str) -> Read[BlobContainerInfo]:
        """Existence and a sample of blob names (data plane); falls back to ARM when data access is denied."""
        sub, rg, account = parse(account_id)
        key = ("blobs", ids.normalize(account_id), container.lower())

        async def run() -> BlobContainerInfo:
            try:
                names = await list_blob_names(self.clients, account, container)
                return BlobContainerInfo(name=container, exists=True, blob_names=names)
            except ResourceNotFoundError:
                return BlobContainerInfo(name=container, exists=False)
            except HttpResponseError as exc:
                if exc.status_code != 403:
                    raise
            # No data-plane read access: existence from ARM, contents unknown.
            try:
                await self.aio("storage", sub).blob_containers.get(rg, account, container)
            except ResourceNotFoundError:
                return BlobContainerInfo(name=container, exists=False)
            return BlobContainerInfo(
                name=container,
                exists=True,
                listing_denied=f"listing blobs in {account}/{container} was denied (HTTP 403): the Guard "
                "needs Storage Blob Data Reader on the account",
            )

        return await self._once(key, sub, f"list blobs in {account}/{container}", run)

    async def subnet_nsg(self, subnet_id: str) -> Read[NsgInfo | None]:
        parts = convert.subnet_parts(subnet_id)
        if parts is None:
            return Unreadable(f"malformed subnet id {subnet_id}", "error")
        sub, rg, vnet, subnet = parts
        if self.bulk:
            return await self._subnet_nsg_from_listing(sub, subnet_id)
        net = self.aio("network", sub)

        async def run() -> NsgInfo | None:
            sn = await net.subnets.get(rg, vnet, subnet, expand="networkSecurityGroup")
            group = convert.dig(sn, "properties", "network_security_group") or convert.dig(
                sn, "network_security_group"
            )
            if group is None or not getattr(group, "id", None):
                return None
            if (
                convert.dig(group, "properties", "security_rules") is None
                and convert.dig(group, "security_rules") is None
            ):
                _, nsg_rg, nsg_name = parse(str(group.id))
                group = await net.network_security_groups.get(nsg_rg, nsg_name)
            return convert.nsg(group, subnet_id)

        return await self._once(("subnet", ids.normalize(subnet_id)), sub, f"read subnet {subnet_id}", run)

    async def _subnet_nsg_from_listing(self, sub: str, subnet_id: str) -> Read[NsgInfo | None]:
        net = self.aio("network", sub)

        async def list_subnets() -> dict[str, str | None]:
            out: dict[str, str | None] = {}
            async for vnet in net.virtual_networks.list_all():
                for sn in convert.dig(vnet, "properties", "subnets") or convert.dig(vnet, "subnets") or []:
                    group = convert.dig(sn, "properties", "network_security_group") or convert.dig(
                        sn, "network_security_group"
                    )
                    out[ids.normalize(str(sn.id))] = str(group.id) if group is not None and group.id else None
            return out

        async def list_nsgs() -> dict[str, Any]:
            return {ids.normalize(str(g.id)): g async for g in net.network_security_groups.list_all()}

        subnets = await self._once(
            ("vnets", sub.lower()), sub, f"list virtual networks in subscription {sub}", list_subnets
        )
        if isinstance(subnets, Unreadable):
            return subnets
        if ids.normalize(subnet_id) not in subnets:
            return Unreadable(f"subnet {subnet_id} not found", "not-found")
        nsg_id = subnets[ids.normalize(subnet_id)]
        if nsg_id is None:
            return None
        groups = await self._once(
            ("nsgs", sub.lower()), sub, f"list network security groups in subscription {sub}", list_nsgs
        )
        if isinstance(groups, Unreadable):
            return groups
        group = groups.get(ids.normalize(nsg_id))
        if group is None:
            return Unreadable(f"network security group {nsg_id} not found", "not-found")
        return convert.nsg(group, subnet_id)

    async def velero(self, cluster_id: str) -> Read[VeleroResult]:
        """Runs ``kubectl get deployments`` through AKS run command (a POST, not counted as a read;
        a long-running operation, so it runs on the sync client in a worker thread)."""
        sub, rg, name = parse(cluster_id)

        def run_command() -> VeleroResult:
            from azure.mgmt.containerservice.models import RunCommandRequest

            aks = self.clients.container_service(sub)
            result = aks.managed_clusters.begin_run_command(
                rg, name, RunCommandRequest(command=VELERO_COMMAND), polling_interval=RUN_COMMAND_POLL_SECONDS
            ).result()
            logs = str(convert.dig(result, "properties", "logs") or convert.dig(result, "logs") or "")
            return velero_from_output(logs)

        async def run() -> VeleroResult:
            return await asyncio.to_thread(run_command)

        return await self._once(
            ("velero", ids.normalize(cluster_id)), sub, f"run command on {cluster_id}", run
        )

    async def kubernetes_versions(self, sub: str, location: str) -> Read[tuple[KubernetesMinor, ...]]:
        """AKS's Kubernetes versions for a region (``GET /subscriptions/{s}/providers/
        Microsoft.ContainerService/locations/{l}/kubernetesVersions``, not paged): once per
        (subscription, region) per run, in both modes."""
        region = location.replace(" ", "").lower()

        async def run() -> tuple[KubernetesMinor, ...]:
            aks = f"/subscriptions/{sub}/providers/Microsoft.ContainerService"
            body = await get_json(self.aio("aks", sub), f"{aks}/locations/{_q(region)}/kubernetesVersions")
            return convert.kubernetes_versions(convert.JsonView(body))

        return await self._once(
            ("k8s-versions", sub.lower(), region), sub, f"list Kubernetes versions in {region}", run
        )


async def list_blob_names(clients: ArmClients, account: str, container: str) -> tuple[str, ...]:
    """The first :data:`BLOB_SAMPLE` blob names of a container: one ``List Blobs`` request
    (``?restype=container&comp=list&maxresults=50``). 404 raises ResourceNotFoundError (no such
    container or account), any other error status HttpResponseError with the service's code."""
    from azure.core.rest import HttpRequest

    query = f"restype=container&comp=list&maxresults={BLOB_SAMPLE}"
    url = f"{clients.blob_container_url(account, container)}?{query}"
    async with clients.blob_slots():
        response = await clients.aio_blob_pipeline().send_request(HttpRequest("GET", url))
    if response.status_code != 200:
        code = response.headers.get("x-ms-error-code")
        map_error(status_code=response.status_code, response=response, error_map=_NOT_FOUND_MAP)
        raise HttpResponseError(message=code, response=response)
    return convert.blob_names(response.content)[:BLOB_SAMPLE]


def _q(segment: str) -> str:
    """A path segment quoted the way the SDKs quote names."""
    return quote(segment, safe="")


def _vault_path(sub: str, rg: str, name: str) -> str:
    return f"{_group_path(sub, rg)}/providers/Microsoft.DataProtection/backupVaults/{_q(name)}"


def _group_path(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{_q(rg)}"


def _from_listing(listing: Read[dict[str, T]], resource_id: str, what: str) -> Read[T]:
    if isinstance(listing, Unreadable):
        return listing
    found = listing.get(ids.normalize(resource_id))
    if found is None:
        return Unreadable(f"{what} {resource_id} not found", "not-found")
    return found


_RUNNING = ("inprogress", "started", "running", "notstarted", "queued")
_SUCCEEDED = ("completed", "succeeded")
_EPOCH = datetime.min.replace(tzinfo=UTC)
FAILURES_KEPT = 32
"""Failed-job start times kept per instance while folding (the newest); enough to date "failing since"."""


class _Fold:
    __slots__ = ("failures", "jobs")

    def __init__(self) -> None:
        self.jobs = InstanceJobs()
        self.failures: list[datetime] = []


class JobFolder:
    """Folds a job stream into :class:`InstanceJobs` per instance, one job at a time, in any
    order, keeping at most :data:`FAILURES_KEPT` failure times per instance (only those after
    its latest success)."""

    def __init__(self) -> None:
        self._folds: dict[str, _Fold] = {}

    def add(self, job: JobInfo) -> None:
        if not job.backup_instance_id or job.start_time is None:
            return
        fold = self._folds.setdefault(ids.normalize(job.backup_instance_id), _Fold())
        seen = fold.jobs
        status = job.status.replace(" ", "").lower()
        if status in _RUNNING:
            if seen.running_since is None or job.start_time > seen.running_since:
                seen = replace(seen, running_since=job.start_time)
        else:
            if seen.latest_finished is None or _later(job, seen.latest_finished):
                seen = replace(seen, latest_finished=job)
            if status in _SUCCEEDED:
                if seen.latest_succeeded is None or _later(job, seen.latest_succeeded):
                    seen = replace(seen, latest_succeeded=job)
                    fold.failures = [t for t in fold.failures if t > job.start_time]
            elif "warning" not in status and (
                seen.latest_succeeded is None or job.start_time > (seen.latest_succeeded.start_time or _EPOCH)
            ):
                fold.failures.append(job.start_time)
                if len(fold.failures) > FAILURES_KEPT:
                    fold.failures.remove(min(fold.failures))
        fold.jobs = seen

    def result(self) -> dict[str, InstanceJobs]:
        return {
            key: replace(fold.jobs, failing_since=min(fold.failures) if fold.failures else None)
            for key, fold in self._folds.items()
        }


def fold_jobs(jobs: Iterable[JobInfo]) -> dict[str, InstanceJobs]:
    """Fold a whole job stream (see :class:`JobFolder`)."""
    folder = JobFolder()
    for job in jobs:
        folder.add(job)
    return folder.result()


def _later(a: JobInfo, b: JobInfo) -> bool:
    return (a.start_time or _EPOCH) > (b.start_time or _EPOCH)


def unreadable(err: ArmError) -> Unreadable:
    """The Snapshot form of a failed read."""
    if isinstance(err, NotFound):
        return Unreadable(err.reason, "not-found")
    if isinstance(err, PermissionDenied):
        return Unreadable(err.reason, "denied")
    return Unreadable(err.reason, "error")


def velero_from_output(output: str) -> VeleroResult:
    """Velero deployments outside the backup extension's namespace, from kubectl output."""
    stray = []
    for line in output.splitlines():
        cols = line.split()
        if len(cols) < 2 or cols[0].upper() == "NAMESPACE":
            continue
        namespace, name = cols[0], cols[1].rsplit("/", 1)[-1]
        if "velero" in name.lower() and namespace.lower() != "dataprotection-microsoft":
            stray.append(f"{namespace}/{name}")
    if stray:
        return VeleroResult(True, "Velero found: " + ", ".join(stray))
    return VeleroResult(False, "no Velero deployment outside dataprotection-microsoft")
