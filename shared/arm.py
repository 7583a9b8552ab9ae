"""The one factory for Azure SDK clients: built once per process, reused by every invocation.

Real Azure: ``ManagedIdentityCredential(client_id=AZURE_CLIENT_ID)`` in Functions, or
``DefaultAzureCredential`` on a laptop (``az login``). The local simulator: a static bearer token
(``GUARD_ARM_TOKEN``), its endpoint (``GUARD_ARM_ENDPOINT``) and CA bundle (``GUARD_ARM_CA_BUNDLE``).

Who retries: azure-core's RetryPolicy retries 408/429/500/502/503/504 and dropped connections,
honouring ``Retry-After``; nothing above this module adds another HTTP retry loop. A connection
that cannot be opened at all (refused, DNS, TLS, connect timeout) gets a short bounded retry
(:data:`CONNECT_RETRIES` attempts of at most :data:`CONNECT_TIMEOUT_SECONDS`), not the read-retry
budget: an unreachable endpoint fails in seconds, not minutes.

SDK modules are imported lazily, so a cold start pays only for the clients it uses.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential, TokenRequestOptions
from azure.core.pipeline.policies import RetryPolicy
from azure.core.pipeline.transport import RequestsTransport

from shared.settings import ArmSettings

if TYPE_CHECKING:
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.dataprotection import DataProtectionMgmtClient
    from azure.mgmt.kubernetesconfiguration.extensions import KubernetesConfigurationExtensionsMgmtClient
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource.policy import PolicyClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.storage import StorageManagementClient
    from azure.storage.blob import ContainerClient

log = logging.getLogger(__name__)

ARM_SCOPE = "https://management.azure.com/.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"
AUTHORIZATION_API_VERSION = "2022-04-01"
CONNECT_RETRIES = 2
CONNECT_TIMEOUT_SECONDS = 4

# azure-core logs every request URL and header at INFO; keep it quiet unless asked.
for _noisy in ("azure.core.pipeline.policies.http_logging_policy", "azure.identity", "azure.mgmt"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


class SharedTransport(RequestsTransport):
    """A RequestsTransport that SDK clients share: one client closing must not close the pool."""

    def __exit__(self, *args: Any) -> None:
        return None

    def close(self) -> None:
        return None


class StaticTokenCredential:
    """A bearer token that never expires: only for the local simulator (``GUARD_ARM_TOKEN``)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 24 * 3600)

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._token, int(time.time()) + 24 * 3600)

    def __repr__(self) -> str:
        return "StaticTokenCredential('***')"


def build_credential(arm: ArmSettings) -> TokenCredential:
    """The credential for ARM and storage data-plane calls (see module docstring)."""
    if arm.token is not None:
        return StaticTokenCredential(arm.token.reveal())
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if arm.client_id:
        return ManagedIdentityCredential(client_id=arm.client_id)
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


C = TypeVar("C")


class ArmClients:
    """Per-process cache of SDK clients, one per (client type, subscription).

    Thread-safe; clients share one HTTP connection pool sized for the Guard's concurrency.
    """

    def __init__(self, arm: ArmSettings, *, credential: TokenCredential | None = None) -> None:
        self.settings = arm
        self.credential = credential or build_credential(arm)
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._transport: SharedTransport | None = None
        self._transport_lock = threading.Lock()  # not _lock: _get calls factories while holding it

    def _common_kwargs(self) -> dict[str, Any]:
        arm = self.settings
        return {
            "base_url": arm.endpoint,
            "credential_scopes": [ARM_SCOPE],
            "retry_policy": self.retry_policy(),
            "transport": self._shared_transport(),
            "logging_enable": False,
        }

    def retry_policy(self) -> RetryPolicy:
        """Explicit retries: exponential backoff from 0.8 s, capped at 30 s, honouring Retry-After."""
        arm = self.settings
        return RetryPolicy(
            retry_total=arm.retry_total,
            retry_connect=min(arm.retry_total, CONNECT_RETRIES),
            retry_read=arm.retry_total,
            retry_status=arm.retry_total,
            retry_backoff_factor=0.8,
            retry_backoff_max=30,
            timeout=max(arm.timeout_seconds * 4, 60),
        )

    def _shared_transport(self) -> SharedTransport:
        with self._transport_lock:
            return self._make_transport()

    def _make_transport(self) -> SharedTransport:
        if self._transport is None:
            import requests

            session = requests.Session()
            # one pool slot per request that can be in flight (verification.verify runs up to 64 threads):
            # a smaller pool discards connections and pays a TLS handshake for each new one
            pool = max(64, self.settings.concurrency_per_subscription * 8)
            adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
            session.mount("https://", adapter)
            self._transport = SharedTransport(
                session=session,
                session_owner=False,
                connection_verify=self.settings.ca_bundle or True,
                connection_timeout=CONNECT_TIMEOUT_SECONDS,
                read_timeout=self.settings.timeout_seconds,
            )
        return self._transport

    def _get(self, kind: str, subscription_id: str, factory: Callable[[], C]) -> C:
        key = (kind, subscription_id.lower())
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = factory()
                    self._clients[key] = client
        return client

    def container_service(self, subscription_id: str) -> ContainerServiceClient:
        from azure.mgmt.containerservice import ContainerServiceClient

        return self._get(
            "aks",
            subscription_id,
            lambda: ContainerServiceClient(self.credential, subscription_id, **self._common_kwargs()),
        )

    def extensions(self, subscription_id: str) -> KubernetesConfigurationExtensionsMgmtClient:
        from azure.mgmt.kubernetesconfiguration.extensions import KubernetesConfigurationExtensionsMgmtClient

        return self._get(
            "k8sext",
            subscription_id,
            lambda: KubernetesConfigurationExtensionsMgmtClient(
                self.credential, subscription_id, **self._common_kwargs()
            ),
        )

    def data_protection(self, subscription_id: str) -> DataProtectionMgmtClient:
        from azure.mgmt.dataprotection import DataProtectionMgmtClient

        return self._get(
            "dpp",
            subscription_id,
            lambda: DataProtectionMgmtClient(self.credential, subscription_id, **self._common_kwargs()),
        )

    def authorization(self, subscription_id: str) -> AuthorizationManagementClient:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return self._get(
            "authz",
            subscription_id,
            lambda: AuthorizationManagementClient(
                self.credential,
                subscription_id,
                api_version=AUTHORIZATION_API_VERSION,
                **self._common_kwargs(),
            ),
        )

    def storage(self, subscription_id: str) -> StorageManagementClient:
        from azure.mgmt.storage import StorageManagementClient

        return self._get(
            "storage",
            subscription_id,
            lambda: StorageManagementClient(self.credential, subscription_id, **self._common_kwargs()),
        )

    def resources(self, subscription_id: str) -> ResourceManagementClient:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return self._get(
            "resources",
            subscription_id,
            lambda: ResourceManagementClient(self.credential, subscription_id, **self._common_kwargs()),
        )

    def network(self, subscription_id: str) -> NetworkManagementClient:
        from azure.mgmt.network import NetworkManagementClient

        return self._get(
            "network",
            subscription_id,
            lambda: NetworkManagementClient(self.credential, subscription_id, **self._common_kwargs()),
        )

    def policy(self, subscription_id: str) -> PolicyClient:
        from azure.mgmt.resource.policy import PolicyClient

        return self._get(
            "policy",
            subscription_id,
            lambda: PolicyClient(self.credential, subscription_id, **self._common_kwargs()),
        )

    def blob_container(self, account_name: str, container: str) -> ContainerClient:
        """A data-plane client for one blob container (path-style URL on the simulator)."""
        from azure.storage.blob import ContainerClient

        if self.settings.is_simulator:
            account_url = f"{self.settings.endpoint}/{account_name}"
        else:
            account_url = f"https://{account_name}.blob.core.windows.net"
        # The shared transport keeps connections (and TLS sessions) across containers; a client
        # of its own per container costs a handshake and a CA bundle load for every listing.
        return ContainerClient(
            account_url,
            container,
            credential=self.credential,
            transport=self._shared_transport(),
            retry_total=self.settings.retry_total,
            connection_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=self.settings.timeout_seconds,
        )

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                close = getattr(client, "close", None)
                if close:
                    close()
            self._clients.clear()


_process_clients: ArmClients | None = None
_process_lock = threading.Lock()


def process_clients(arm: ArmSettings) -> ArmClients:
    """The process-wide :class:`ArmClients` (Functions reuse it across invocations)."""
    global _process_clients
    with _process_lock:
        if _process_clients is None or _process_clients.settings != arm:
            _process_clients = ArmClients(arm)
        return _process_clients
