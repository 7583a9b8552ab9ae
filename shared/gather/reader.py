"""Cached, bounded ARM reads for one run (a scan, or the verification of one target).

Every read returns a value or :class:`~shared.model.Unreadable` (403, 404, errors that outlived
azure-core's retries): it never raises, so one failed read only blinds the checks that need it.

Two modes, same methods:
- ``bulk=False`` (the event path): each resource is read with one GET, once per run.
- ``bulk=True`` (a scan): the first lookup of a kind of resource in a subscription lists them
  all (clusters, vaults, storage accounts, networks, policies of a vault...), so a scan costs a
  constant per subscription plus what is truly per target (extensions, trusted-access bindings,
  blob listing).

Reads are single-flight (two threads asking for the same thing share one request) and limited
to ``concurrency_per_subscription`` in flight per subscription.

Reads stay inside ``GUARD_SUBSCRIPTIONS``: a reader built with :meth:`ArmReader.for_settings` (as
every production path does) answers a read in any other subscription with ``Unreadable`` without
sending it, whatever a tag, an extension setting or a backup instance names.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from azure.core.exceptions import AzureError

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
    StorageAccountInfo,
    TrustedAccessBinding,
    Unreadable,
    VaultInfo,
    VeleroResult,
)

if TYPE_CHECKING:
    from shared.settings import Settings

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


def parse(resource_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of a top-level resource id; ValueError if malformed."""
    match = _ARM_PATH.match(resource_id.strip())
    if not match:
        raise ValueError(f"not a resource id: {resource_id!r}")
    return match.group("sub"), match.group("rg"), match.group("name")


class _Pending:
    """A read in flight: later askers wait on ``ready`` (single-flight)."""

    __slots__ = ("ready", "value")

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.value: Any = None


class _Done:
    """A finished read. Kept small: a scan holds a few of these per target."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class ArmReader:
    def __init__(
        self,
        clients: ArmClients,
        *,
        bulk: bool = False,
        watched: Iterable[str] | None = None,
        trust_domains: Iterable[str] = (),
    ) -> None:
        self.clients = clients
        self.bulk = bulk
        self.watched: frozenset[str] | None = (
            None if watched is None else frozenset(s.strip().lower() for s in watched)
        )
        self.trust_domains: tuple[str, ...] = tuple(trust_domains)
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, ...], _Pending | _Done] = {}
        self._limits: dict[str, threading.BoundedSemaphore] = {}

    @classmethod
    def for_settings(cls, clients: ArmClients, settings: Settings, *, bulk: bool = False) -> ArmReader:
        """A reader bounded to ``GUARD_SUBSCRIPTIONS`` that carries ``GUARD_TRUST_DOMAINS``."""
        return cls(clients, bulk=bulk, watched=settings.subscriptions, trust_domains=settings.trust_domains)

    def fresh(self) -> ArmReader:
        """A new non-bulk reader with the same boundary and an empty cache (re-checks before writes)."""
        return ArmReader(self.clients, bulk=False, watched=self.watched, trust_domains=self.trust_domains)

    def in_bounds(self, subscription_id: str) -> bool:
        return self.watched is None or subscription_id.strip().lower() in self.watched

    # -- plumbing ------------------------------------------------------------------------------

    def _limit(self, subscription_id: str) -> threading.BoundedSemaphore:
        key = subscription_id.lower()
        with self._lock:
            sem = self._limits.get(key)
            if sem is None:
                sem = threading.BoundedSemaphore(self.clients.settings.concurrency_per_subscription)
                self._limits[key] = sem
            return sem

    def _once(self, key: tuple[str, ...], subscription_id: str, action: str, fn: Callable[[], T]) -> Read[T]:
        if not self.in_bounds(subscription_id):
            return Unreadable(
                f"not read: subscription {subscription_id.lower()} is outside GUARD_SUBSCRIPTIONS ({action})",
                "denied",
            )
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                pending = self._cache[key] = _Pending()
        if isinstance(entry, _Done):
            return entry.value
        if isinstance(entry, _Pending):
            entry.ready.wait()
            return entry.value
        value: Read[T]
        try:
            with self._limit(subscription_id):
                value = fn()
        except AzureError as exc:
            err = translate(exc, action=action)
            log.info("read failed: %s", err.reason)
            value = unreadable(err)
        except Exception as exc:  # a bug or an unexpected shape must not lose other findings
            log.exception("unexpected failure during %s", action)
            value = Unreadable(f"{action}: unexpected {type(exc).__name__}: {exc}", "error")
        pending.value = value
        with self._lock:
            if self._cache.get(key) is pending:  # not invalidated meanwhile
                self._cache[key] = _Done(value)
        pending.ready.set()
        return value

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
        """Drop cached reads so the next call re-reads them (used to verify after a write).

        ``role_assignments_of``/``provider_of`` take a subscription id; the others a resource id.
        A cluster or storage account also drops its subscription listing in bulk mode. Reads in
        flight are not affected. Safe to repeat.
        """
        keys: list[tuple[str, ...]] = []
        if role_assignments_of:
            keys.append(("roles", role_assignments_of.lower()))
        provider = provider_of.lower() if provider_of else None
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
        with self._lock:
            if provider:
                keys.extend(k for k in self._cache if k[0] == "provider" and k[1] == provider)
            for key in keys:
                if isinstance(self._cache.get(key), _Done):
                    del self._cache[key]

    # -- subscription-wide lists (bulk mode, and role/policy assignments in both modes) -------

    def clusters_in(self, sub: str) -> Read[dict[str, ClusterInfo]]:
        def run() -> dict[str, ClusterInfo]:
            items = (
                convert.cluster(mc) for mc in self.clients.container_service(sub).managed_clusters.list()
            )
            return {ids.normalize(c.id): c for c in items}

        return self._once(("clusters", sub.lower()), sub, f"list clusters in subscription {sub}", run)

    def vaults_in(self, sub: str) -> Read[dict[str, VaultInfo]]:
        def run() -> dict[str, VaultInfo]:
            dpp = self.clients.data_protection(sub)
            return {
                ids.normalize(v.id): v for v in map(convert.vault, dpp.backup_vaults.get_in_subscription())
            }

        return self._once(("vaults", sub.lower()), sub, f"list backup vaults in subscription {sub}", run)

    def instances_in_vault(self, vault_id: str) -> Read[tuple[BackupInstanceInfo, ...]]:
        sub, rg, name = parse(vault_id)

        def run() -> tuple[BackupInstanceInfo, ...]:
            items = self.clients.data_protection(sub).backup_instances.list(rg, name)
            return tuple(convert.backup_instance(bi) for bi in items if convert.is_cluster_instance(bi))

        return self._once(
            ("instances", ids.normalize(vault_id)), sub, f"list backup instances of {vault_id}", run
        )

    def backup_jobs_of_vault(self, vault_id: str) -> Read[Mapping[str, InstanceJobs]]:
        """Each backup instance's latest backup jobs, from ONE paged listing of the vault's jobs
        (``GET .../backupVaults/{v}/backupJobs``: the API has no server-side filter), read once per
        vault per run in both modes. Keyed by normalised backup instance id; folded page by page,
        so memory stays at three values per instance however long the history (see :func:`fold_jobs`)."""
        sub, rg, name = parse(vault_id)

        def run() -> Mapping[str, InstanceJobs]:
            items = self.clients.data_protection(sub).jobs.list(rg, name)
            return fold_jobs(convert.job(j) for j in items if convert.is_backup_job(j))

        return self._once(("jobs", ids.normalize(vault_id)), sub, f"list backup jobs of {vault_id}", run)

    def locks_in(self, sub: str) -> Read[tuple[LockInfo, ...]]:
        """Every management lock in the subscription (at it, its groups and resources): one paged
        listing per subscription per run, in both modes."""

        def run() -> tuple[LockInfo, ...]:
            items = self.clients.locks(sub).management_locks.list_at_subscription_level()
            return tuple(LockInfo(id=str(lock.id), level=str(lock.level or "")) for lock in items)

        return self._once(("locks", sub.lower()), sub, f"list management locks in subscription {sub}", run)

    def role_assignments_in(self, sub: str) -> Read[tuple[RoleAssignmentInfo, ...]]:
        def run() -> tuple[RoleAssignmentInfo, ...]:
            items = self.clients.authorization(sub).role_assignments.list_for_subscription()
            return tuple(convert.role_assignment(ra) for ra in items)

        return self._once(("roles", sub.lower()), sub, f"list role assignments in subscription {sub}", run)

    def policy_assignments_in(self, sub: str) -> Read[tuple[PolicyAssignmentInfo, ...]]:
        def run() -> tuple[PolicyAssignmentInfo, ...]:
            items = self.clients.policy(sub).policy_assignments.list()
            return tuple(convert.policy_assignment(pa) for pa in items)

        return self._once(
            ("policies", sub.lower()), sub, f"list policy assignments in subscription {sub}", run
        )

    def policy_definition(self, definition_id: str, sub: str) -> Read[PolicyDefinitionInfo]:
        """A policy or policy set definition (built-in, subscription or management-group), read once
        per run. ``sub`` is the subscription whose client (and concurrency limit) is used."""
        match = _DEFINITION.match(definition_id.strip())
        if not match:
            return Unreadable(f"not a policy definition id: {definition_id!r}", "error")

        def run() -> PolicyDefinitionInfo:
            client = self.clients.policy(match.group("sub") or sub)
            ops = (
                client.policy_set_definitions
                if match.group("kind").lower() == "policysetdefinitions"
                else client.policy_definitions
            )
            name = match.group("name")
            if match.group("mg"):
                return convert.policy_definition(ops.get_at_management_group(name, match.group("mg")))
            if match.group("sub"):
                return convert.policy_definition(ops.get(name))
            return convert.policy_definition(ops.get_built_in(name))

        return self._once(
            ("policy-definition", ids.normalize(definition_id)),
            sub,
            f"read policy definition {definition_id}",
            run,
        )

    def resource_exists(
        self, resource_id: str, api_version: str = MANAGED_IDENTITY_API_VERSION
    ) -> Read[bool]:
        """Whether a resource (a user-assigned identity) exists: GET by id, 404 -> False."""
        try:
            sub = ids.subscription_of(resource_id)
        except ValueError:
            return Unreadable(f"not a resource id: {resource_id!r}", "error")

        def run() -> bool:
            from azure.core.exceptions import ResourceNotFoundError

            try:
                self.clients.resources(sub).resources.get_by_id(resource_id, api_version=api_version)
            except ResourceNotFoundError:
                return False
            return True

        return self._once(("exists", ids.normalize(resource_id)), sub, f"read {resource_id}", run)

    def provider_state(self, sub: str, namespace: str = "Microsoft.KubernetesConfiguration") -> Read[str]:
        def run() -> str:
            provider = self.clients.resources(sub).providers.get(namespace)
            return str(getattr(provider, "registration_state", None) or "Unknown")

        return self._once(
            ("provider", sub.lower(), namespace.lower()), sub, f"read provider {namespace}", run
        )

    def resource_groups_in(self, sub: str) -> Read[dict[str, Mapping[str, str]]]:
        """Resource group id (normalised) -> its tags, for every group in the subscription."""

        def run() -> dict[str, Mapping[str, str]]:
            groups = self.clients.resources(sub).resource_groups.list()
            return {ids.normalize(str(g.id)): convert.tags_of(g) for g in groups}

        return self._once(("groups", sub.lower()), sub, f"list resource groups in subscription {sub}", run)

    def subscription_tags(self, sub: str) -> Read[Mapping[str, str]]:
        """The subscription's tags, from the Tags API (``.../providers/Microsoft.Resources/tags/default``)."""

        def run() -> Mapping[str, str]:
            found = self.clients.resources(sub).tags.get_at_scope(f"/subscriptions/{sub}")
            return convert.tags_of(getattr(found, "properties", None))

        return self._once(("sub-tags", sub.lower()), sub, f"read the tags of subscription {sub}", run)

    def resource_group_tags(self, group_id: str) -> Read[Mapping[str, str]]:
        """One resource group's tags: from the subscription's listing in bulk mode, else one GET."""
        sub = ids.subscription_of(group_id)
        if self.bulk:
            return self._from_listing(self.resource_groups_in(sub), group_id, "resource group")
        name = ids.resource_group_of(group_id) or ""

        def run() -> Mapping[str, str]:
            return convert.tags_of(self.clients.resources(sub).resource_groups.get(name))

        return self._once(("group", ids.normalize(group_id)), sub, f"read resource group {group_id}", run)

    def scope_tags(self, scope_id: str) -> Read[Mapping[str, str]]:
        """The tags of a subscription, resource group, cluster or storage account id (else Unreadable)."""
        kind = ids.shape_of(scope_id)
        if kind == "subscription":
            return self.subscription_tags(ids.subscription_of(scope_id))
        if kind == "resource-group":
            return self.resource_group_tags(scope_id)
        if kind == "cluster":
            found: Read[Any] = self.cluster(scope_id)
        elif kind == "storage-account":
            found = self.storage_account(scope_id)
        else:
            return Unreadable(f"not a scope the Guard writes to: {scope_id!r}", "error")
        return found if isinstance(found, Unreadable) else found.tags

    # -- single resources ----------------------------------------------------------------------

    def _from_listing(self, listing: Read[dict[str, T]], resource_id: str, what: str) -> Read[T]:
        if isinstance(listing, Unreadable):
            return listing
        found = listing.get(ids.normalize(resource_id))
        if found is None:
            return Unreadable(f"{what} {resource_id} not found", "not-found")
        return found

    def cluster(self, cluster_id: str) -> Read[ClusterInfo]:
        sub, rg, name = parse(cluster_id)
        if self.bulk:
            return self._from_listing(self.clusters_in(sub), cluster_id, "cluster")
        return self._once(
            ("cluster", ids.normalize(cluster_id)),
            sub,
            f"read cluster {cluster_id}",
            lambda: convert.cluster(self.clients.container_service(sub).managed_clusters.get(rg, name)),
        )

    def vault(self, vault_id: str) -> Read[VaultInfo]:
        sub, rg, name = parse(vault_id)
        if self.bulk:
            return self._from_listing(self.vaults_in(sub), vault_id, "backup vault")
        return self._once(
            ("vault", ids.normalize(vault_id)),
            sub,
            f"read backup vault {vault_id}",
            lambda: convert.vault(self.clients.data_protection(sub).backup_vaults.get(rg, name)),
        )

    def instances_for_cluster(self, cluster_id: str) -> Read[tuple[BackupInstanceInfo, ...]]:
        """Backup instances protecting a cluster, found from the cluster (extension routing)."""
        sub = ids.subscription_of(cluster_id)

        def run() -> tuple[BackupInstanceInfo, ...]:
            routing = self.clients.data_protection(sub).backup_instances_extension_routing
            return tuple(
                convert.backup_instance(bi)
                for bi in routing.list(cluster_id)
                if convert.is_cluster_instance(bi)
            )

        return self._once(
            ("cluster-instances", ids.normalize(cluster_id)),
            sub,
            f"list backup instances of {cluster_id}",
            run,
        )

    def policy(self, policy_id: str) -> Read[PolicyInfo]:
        idx = policy_id.lower().find("/backuppolicies/")
        if idx <= 0:
            return Unreadable(f"malformed backup policy id {policy_id}", "error")
        vault_id = policy_id[:idx]
        try:
            sub, rg, vault_name = parse(vault_id)
        except ValueError:
            return Unreadable(f"malformed backup policy id {policy_id}", "error")
        if self.bulk:

            def run_list() -> dict[str, PolicyInfo]:
                items = self.clients.data_protection(sub).backup_policies.list(rg, vault_name)
                return {ids.normalize(p.id): p for p in map(convert.policy, items)}

            listing = self._once(
                ("policies-of", ids.normalize(vault_id)), sub, f"list policies of {vault_id}", run_list
            )
            return self._from_listing(listing, policy_id, "backup policy")
        name = ids.name_of(policy_id)
        return self._once(
            ("policy", ids.normalize(policy_id)),
            sub,
            f"read backup policy {policy_id}",
            lambda: convert.policy(
                self.clients.data_protection(sub).backup_policies.get(rg, vault_name, name)
            ),
        )

    def extensions(self, cluster_id: str) -> Read[tuple[ExtensionInfo, ...]]:
        sub, rg, name = parse(cluster_id)

        def run() -> tuple[ExtensionInfo, ...]:
            items = self.clients.extensions(sub).extensions.list(
                rg, "Microsoft.ContainerService", "managedClusters", name
            )
            return tuple(convert.extension(e) for e in items)

        return self._once(
            ("extensions", ids.normalize(cluster_id)), sub, f"list extensions of {cluster_id}", run
        )

    def trusted_access(self, cluster_id: str) -> Read[tuple[TrustedAccessBinding, ...]]:
        sub, rg, name = parse(cluster_id)

        def run() -> tuple[TrustedAccessBinding, ...]:
            items = self.clients.container_service(sub).trusted_access_role_bindings.list(rg, name)
            return tuple(convert.trusted_access_binding(b) for b in items)

        return self._once(
            ("trusted-access", ids.normalize(cluster_id)),
            sub,
            f"list trusted access bindings of {cluster_id}",
            run,
        )

    def storage_account(self, account_id: str) -> Read[StorageAccountInfo]:
        sub, rg, name = parse(account_id)
        if self.bulk:

            def run_list() -> dict[str, StorageAccountInfo]:
                items = self.clients.storage(sub).storage_accounts.list()
                return {ids.normalize(a.id): a for a in map(convert.storage_account, items)}

            listing = self._once(
                ("storage", sub.lower()), sub, f"list storage accounts in subscription {sub}", run_list
            )
            return self._from_listing(listing, account_id, "storage account")
        return self._once(
            ("storage-account", ids.normalize(account_id)),
            sub,
            f"read storage account {account_id}",
            lambda: convert.storage_account(
                self.clients.storage(sub).storage_accounts.get_properties(rg, name)
            ),
        )

    def blob_container(self, account_id: str, container: str) -> Read[BlobContainerInfo]:
        """Existence and a sample of blob names (data plane); falls back to ARM when data access is denied."""
        sub, rg, account = parse(account_id)
        key = ("blobs", ids.normalize(account_id), container.lower())

        def run() -> BlobContainerInfo:
            from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

            client = self.clients.blob_container(account, container)
            try:
                names = []
                for blob_name in client.list_blob_names(results_per_page=BLOB_SAMPLE):
                    names.append(str(blob_name))
                    if len(names) >= BLOB_SAMPLE:
                        break
                return BlobContainerInfo(name=container, exists=True, blob_names=tuple(names))
            except ResourceNotFoundError:
                return BlobContainerInfo(name=container, exists=False)
            except HttpResponseError as exc:
                if exc.status_code != 403:
                    raise
            # No data-plane read access: existence from ARM, contents unknown.
            try:
                self.clients.storage(sub).blob_containers.get(rg, account, container)
            except ResourceNotFoundError:
                return BlobContainerInfo(name=container, exists=False)
            return BlobContainerInfo(
                name=container,
                exists=True,
                listing_denied=f"listing blobs in {account}/{container} was denied (HTTP 403): the Guard "
                "needs Storage Blob Data Reader on the account",
            )

        return self._once(key, sub, f"list blobs in {account}/{container}", run)

    def subnet_nsg(self, subnet_id: str) -> Read[NsgInfo | None]:
        parts = convert.subnet_parts(subnet_id)
        if parts is None:
            return Unreadable(f"malformed subnet id {subnet_id}", "error")
        sub, rg, vnet, subnet = parts
        if self.bulk:
            return self._subnet_nsg_from_listing(sub, subnet_id)

        def run() -> NsgInfo | None:
            net = self.clients.network(sub)
            sn = net.subnets.get(rg, vnet, subnet, expand="networkSecurityGroup")
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
                group = net.network_security_groups.get(nsg_rg, nsg_name)
            return convert.nsg(group, subnet_id)

        return self._once(("subnet", ids.normalize(subnet_id)), sub, f"read subnet {subnet_id}", run)

    def _subnet_nsg_from_listing(self, sub: str, subnet_id: str) -> Read[NsgInfo | None]:
        def list_subnets() -> dict[str, str | None]:
            out: dict[str, str | None] = {}
            for vnet in self.clients.network(sub).virtual_networks.list_all():
                for sn in convert.dig(vnet, "properties", "subnets") or convert.dig(vnet, "subnets") or []:
                    group = convert.dig(sn, "properties", "network_security_group") or convert.dig(
                        sn, "network_security_group"
                    )
                    out[ids.normalize(str(sn.id))] = str(group.id) if group is not None and group.id else None
            return out

        def list_nsgs() -> dict[str, Any]:
            return {
                ids.normalize(str(g.id)): g
                for g in self.clients.network(sub).network_security_groups.list_all()
            }

        subnets = self._once(
            ("vnets", sub.lower()), sub, f"list virtual networks in subscription {sub}", list_subnets
        )
        if isinstance(subnets, Unreadable):
            return subnets
        if ids.normalize(subnet_id) not in subnets:
            return Unreadable(f"subnet {subnet_id} not found", "not-found")
        nsg_id = subnets[ids.normalize(subnet_id)]
        if nsg_id is None:
            return None
        groups = self._once(
            ("nsgs", sub.lower()), sub, f"list network security groups in subscription {sub}", list_nsgs
        )
        if isinstance(groups, Unreadable):
            return groups
        group = groups.get(ids.normalize(nsg_id))
        if group is None:
            return Unreadable(f"network security group {nsg_id} not found", "not-found")
        return convert.nsg(group, subnet_id)

    def velero(self, cluster_id: str) -> Read[VeleroResult]:
        """Runs ``kubectl get deployments`` through AKS run command (a POST, not counted as a read)."""
        sub, rg, name = parse(cluster_id)

        def run() -> VeleroResult:
            from azure.mgmt.containerservice.models import RunCommandRequest

            aks = self.clients.container_service(sub)
            result = aks.managed_clusters.begin_run_command(
                rg, name, RunCommandRequest(command=VELERO_COMMAND), polling_interval=RUN_COMMAND_POLL_SECONDS
            ).result()
            logs = str(convert.dig(result, "properties", "logs") or convert.dig(result, "logs") or "")
            return velero_from_output(logs)

        return self._once(("velero", ids.normalize(cluster_id)), sub, f"run command on {cluster_id}", run)

    def kubernetes_versions(self, sub: str, location: str) -> Read[tuple[KubernetesMinor, ...]]:
        """AKS's Kubernetes versions for a region (``GET /subscriptions/{s}/providers/
        Microsoft.ContainerService/locations/{l}/kubernetesVersions``): once per (subscription,
        region) per run, in both modes."""
        region = location.replace(" ", "").lower()

        def run() -> tuple[KubernetesMinor, ...]:
            result = self.clients.container_service(sub).managed_clusters.list_kubernetes_versions(region)
            return convert.kubernetes_versions(result)

        return self._once(
            ("k8s-versions", sub.lower(), region), sub, f"list Kubernetes versions in {region}", run
        )


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


def fold_jobs(jobs: Iterable[JobInfo]) -> dict[str, InstanceJobs]:
    """Fold a job stream into :class:`InstanceJobs` per instance, in any order, keeping at most
    :data:`FAILURES_KEPT` failure times per instance (only those after its latest success)."""
    folds: dict[str, _Fold] = {}
    for job in jobs:
        if not job.backup_instance_id or job.start_time is None:
            continue
        fold = folds.setdefault(ids.normalize(job.backup_instance_id), _Fold())
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
    return {
        key: replace(fold.jobs, failing_since=min(fold.failures) if fold.failures else None)
        for key, fold in folds.items()
    }


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
