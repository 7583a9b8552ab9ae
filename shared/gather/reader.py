"""Cached, bounded ARM reads for one run: the sync face of :class:`AsyncArmReader`.

A Functions invocation, the CLI and the tests read through :class:`ArmReader`; each method runs the
same-named coroutine of its :class:`~shared.gather.async_reader.AsyncArmReader` on the process's
event loop (:attr:`shared.arm.ArmClients.loop`) and returns its value, so both faces share one
cache and one set of rules (see :mod:`shared.gather.async_reader`: never raises, bulk or per
resource, single-flight, bounded to ``GUARD_SUBSCRIPTIONS``). Code already on the loop (the scan's
gather) awaits :attr:`ArmReader.aio` directly.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from shared.arm import ArmClients
from shared.gather.async_reader import (
    FAILURES_KEPT,
    MANAGED_IDENTITY_API_VERSION,
    AsyncArmReader,
    fold_jobs,
    parse,
)
from shared.model import (
    BackupInstanceInfo,
    BlobContainerInfo,
    ClusterInfo,
    ExtensionInfo,
    InstanceJobs,
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
    VaultInfo,
    VeleroResult,
)

if TYPE_CHECKING:
    from shared.settings import Settings

T = TypeVar("T")

__all__ = ["FAILURES_KEPT", "ArmReader", "fold_jobs", "parse"]


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
        self.aio = AsyncArmReader(
            clients,
            bulk=bulk,
            watched=None if watched is None else frozenset(s.strip().lower() for s in watched),
            trust_domains=tuple(trust_domains),
        )

    @property
    def bulk(self) -> bool:
        return self.aio.bulk

    @property
    def watched(self) -> frozenset[str] | None:
        return self.aio.watched

    @property
    def trust_domains(self) -> tuple[str, ...]:
        return self.aio.trust_domains

    @classmethod
    def for_settings(cls, clients: ArmClients, settings: Settings, *, bulk: bool = False) -> ArmReader:
        """A reader bounded to ``GUARD_SUBSCRIPTIONS`` that carries ``GUARD_TRUST_DOMAINS``."""
        return cls(clients, bulk=bulk, watched=settings.subscriptions, trust_domains=settings.trust_domains)

    def fresh(self) -> ArmReader:
        """A new non-bulk reader with the same boundary and an empty cache (re-checks before writes)."""
        return ArmReader(self.clients, bulk=False, watched=self.watched, trust_domains=self.trust_domains)

    def in_bounds(self, subscription_id: str) -> bool:
        return self.aio.in_bounds(subscription_id)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine of :attr:`aio` on the event loop and wait for it (any thread but the loop's)."""
        return self.clients.loop.run(coro)

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

        async def drop() -> None:
            self.aio.invalidate(
                role_assignments_of=role_assignments_of,
                trusted_access_of=trusted_access_of,
                provider_of=provider_of,
                storage_account=storage_account,
                cluster=cluster,
                extensions_of=extensions_of,
            )

        self.run(drop())

    # -- reads (each the same-named coroutine of AsyncArmReader, run on the loop) --------------

    def clusters_in(self, sub: str) -> Read[dict[str, ClusterInfo]]:
        return self.run(self.aio.clusters_in(sub))

    def vaults_in(self, sub: str) -> Read[dict[str, VaultInfo]]:
        return self.run(self.aio.vaults_in(sub))

    def instances_in_vault(self, vault_id: str) -> Read[tuple[BackupInstanceInfo, ...]]:
        return self.run(self.aio.instances_in_vault(vault_id))

    def backup_jobs_of_vault(self, vault_id: str) -> Read[Mapping[str, InstanceJobs]]:
        return self.run(self.aio.backup_jobs_of_vault(vault_id))

    def locks_in(self, sub: str) -> Read[tuple[LockInfo, ...]]:
        return self.run(self.aio.locks_in(sub))

    def role_assignments_in(self, sub: str) -> Read[tuple[RoleAssignmentInfo, ...]]:
        return self.run(self.aio.role_assignments_in(sub))

    def policy_assignments_in(self, sub: str) -> Read[tuple[PolicyAssignmentInfo, ...]]:
        return self.run(self.aio.policy_assignments_in(sub))

    def policy_definition(self, definition_id: str, sub: str) -> Read[PolicyDefinitionInfo]:
        return self.run(self.aio.policy_definition(definition_id, sub))

    def resource_exists(
        self, resource_id: str, api_version: str = MANAGED_IDENTITY_API_VERSION
    ) -> Read[bool]:
        return self.run(self.aio.resource_exists(resource_id, api_version))

    def provider_state(self, sub: str, namespace: str = "Microsoft.KubernetesConfiguration") -> Read[str]:
        return self.run(self.aio.provider_state(sub, namespace))

    def resource_groups_in(self, sub: str) -> Read[dict[str, Mapping[str, str]]]:
        return self.run(self.aio.resource_groups_in(sub))

    def subscription_tags(self, sub: str) -> Read[Mapping[str, str]]:
        return self.run(self.aio.subscription_tags(sub))

    def resource_group_tags(self, group_id: str) -> Read[Mapping[str, str]]:
        return self.run(self.aio.resource_group_tags(group_id))

    def scope_tags(self, scope_id: str) -> Read[Mapping[str, str]]:
        return self.run(self.aio.scope_tags(scope_id))

    def cluster(self, cluster_id: str) -> Read[ClusterInfo]:
        return self.run(self.aio.cluster(cluster_id))

    def vault(self, vault_id: str) -> Read[VaultInfo]:
        return self.run(self.aio.vault(vault_id))

    def instances_for_cluster(self, cluster_id: str) -> Read[tuple[BackupInstanceInfo, ...]]:
        return self.run(self.aio.instances_for_cluster(cluster_id))

    def policy(self, policy_id: str) -> Read[PolicyInfo]:
        return self.run(self.aio.policy(policy_id))

    def extensions(self, cluster_id: str) -> Read[tuple[ExtensionInfo, ...]]:
        return self.run(self.aio.extensions(cluster_id))

    def trusted_access(self, cluster_id: str) -> Read[tuple[TrustedAccessBinding, ...]]:
        return self.run(self.aio.trusted_access(cluster_id))

    def storage_account(self, account_id: str) -> Read[StorageAccountInfo]:
        return self.run(self.aio.storage_account(account_id))

    def blob_container(self, account_id: str, container: str) -> Read[BlobContainerInfo]:
        return self.run(self.aio.blob_container(account_id, container))

    def subnet_nsg(self, subnet_id: str) -> Read[NsgInfo | None]:
        return self.run(self.aio.subnet_nsg(subnet_id))

    def velero(self, cluster_id: str) -> Read[VeleroResult]:
        return self.run(self.aio.velero(cluster_id))

    def kubernetes_versions(self, sub: str, location: str) -> Read[tuple[KubernetesMinor, ...]]:
        return self.run(self.aio.kubernetes_versions(sub, location))
