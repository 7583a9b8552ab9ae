"""The one factory for Azure SDK clients: built once per process, reused by every invocation.

Real Azure: ``ManagedIdentityCredential(client_id=AZURE_CLIENT_ID)`` in Functions, or
``DefaultAzureCredential`` on a laptop (``az login``). The local simulator: a static bearer token
(``GUARD_ARM_TOKEN``), its endpoint (``GUARD_ARM_ENDPOINT``) and CA bundle (``GUARD_ARM_CA_BUNDLE``).

Who retries: azure-core's RetryPolicy retries 408/429/500/502/503/504 and dropped connections,
honouring ``Retry-After``; nothing above this module adds another HTTP retry loop. A connection
that cannot be opened at all (refused, DNS, TLS, connect timeout) gets a short bounded retry
(:data:`CONNECT_RETRIES` attempts of at most :data:`CONNECT_TIMEOUT_SECONDS`), not the read-retry
budget: an unreachable endpoint fails in seconds, not minutes.

Two kinds of client share one credential and one :class:`~shared.pacing.Pacer`:
- async clients (``azure.mgmt.*.aio``) on the process's one event loop (:mod:`shared.event_loop`),
  sharing one aiohttp session: every read of a scan and of the event path goes through them;
- sync clients (requests) for writes and AKS run command, which are few and sequential.

Both pipelines are built here, lean: request id, headers, user agent, content decoding, redirects,
retries, ARM authentication and pacing (which charges every attempt, retries included, to ARM's
token buckets). The SDKs' automatic resource-provider registration is left out on purpose: it is a
write, and the Guard registers providers only through its consent rule.

SDK modules are imported lazily, so a cold start pays only for the clients it uses;
:meth:`ArmClients.preload` imports them before a scan starts.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential, TokenRequestOptions
from azure.core.pipeline.policies import (
    AsyncRetryPolicy,
    ContentDecodePolicy,
    HeadersPolicy,
    ProxyPolicy,
    RedirectPolicy,
    RequestIdPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import RequestsTransport

from shared.event_loop import LoopThread
from shared.pacing import AsyncPacingPolicy, Pacer, PacingPolicy
from shared.settings import ArmSettings

if TYPE_CHECKING:
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.dataprotection import DataProtectionMgmtClient
    from azure.mgmt.kubernetesconfiguration.extensions import KubernetesConfigurationExtensionsMgmtClient
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource.locks import ManagementLockClient
    from azure.mgmt.resource.policy import PolicyClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.storage import StorageManagementClient

log = logging.getLogger(__name__)

ARM_SCOPE = "https://management.azure.com/.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"
AUTHORIZATION_API_VERSION = "2022-04-01"
CONNECT_RETRIES = 2
CONNECT_TIMEOUT_SECONDS = 4
USER_AGENT = "aks-backup-guard"
CONNECTIONS = 128
"""Connections the event loop's aiohttp session keeps open at most (all hosts)."""
BLOB_LISTINGS_IN_FLIGHT = 32
"""Blob listings on the wire at once (they are outside ARM's pacing)."""
BLOB_API_VERSION = "2025-11-05"
"""The Blob service REST version the Guard's container listing speaks (``x-ms-version``)."""
AIO_MODULES = {
    "aks": ("azure.mgmt.containerservice.aio", "ContainerServiceClient"),
    "k8sext": (
        "azure.mgmt.kubernetesconfiguration.extensions.aio",
        "KubernetesConfigurationExtensionsMgmtClient",
    ),
    "dpp": ("azure.mgmt.dataprotection.aio", "DataProtectionMgmtClient"),
    "authz": ("azure.mgmt.authorization.v2022_04_01.aio", "AuthorizationManagementClient"),
    "storage": ("azure.mgmt.storage.aio", "StorageManagementClient"),
    "resources": ("azure.mgmt.resource.resources.aio", "ResourceManagementClient"),
    "network": ("azure.mgmt.network.aio", "NetworkManagementClient"),
    "locks": ("azure.mgmt.resource.locks.aio", "ManagementLockClient"),
    "policy": ("azure.mgmt.resource.policy.aio", "PolicyClient"),
}
"""The async client of each kind: (module, class). Kinds are the keys :meth:`ArmClients.aio` takes."""

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


class AsyncStaticTokenCredential:
    """The async form of :class:`StaticTokenCredential` (the simulator's token on the event loop)."""

    def __init__(self, token: str) -> None:
        self._sync = StaticTokenCredential(token)

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return self._sync.get_token(*scopes)

    async def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        return self._sync.get_token_info(*scopes)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> AsyncStaticTokenCredential:
        return self

    async def __aexit__(self, *args: Any) -> None:
        return None

    def __repr__(self) -> str:
        return "AsyncStaticTokenCredential('***')"


def build_credential(arm: ArmSettings) -> TokenCredential:
    """The credential for ARM and storage data-plane calls (see module docstring)."""
    if arm.token is not None:
        return StaticTokenCredential(arm.token.reveal())
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if arm.client_id:
        return ManagedIdentityCredential(client_id=arm.client_id)
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def build_async_credential(arm: ArmSettings) -> Any:
    """The async twin of :func:`build_credential`, for the clients on the event loop."""
    if arm.token is not None:
        return AsyncStaticTokenCredential(arm.token.reveal())
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    if arm.client_id:
        return ManagedIdentityCredential(client_id=arm.client_id)
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


C = TypeVar("C")


class ArmClients:
    """Per-process cache of SDK clients, one per (client type, subscription).

    Thread-safe; clients share one HTTP connection pool sized for the Guard's concurrency.
    """

    def __init__(
        self,
        arm: ArmSettings,
        *,
        credential: TokenCredential | None = None,
        async_credential: Any | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.settings = arm
        self.credential = credential or build_credential(arm)
        self._async_credential = async_credential
        self.pacer = pacer or Pacer(concurrency=arm.concurrency_per_subscription)
        self.loop = LoopThread()
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._aio_clients: dict[tuple[str, str], Any] = {}
        self._session: Any = None
        self._blob_slots: asyncio.Semaphore | None = None
        self._transport: SharedTransport | None = None
        self._transport_lock = threading.Lock()  # not _lock: _get calls factories while holding it
        _live.add(self)

    def _common_kwargs(self) -> dict[str, Any]:
        from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

        policies = [
            RequestIdPolicy(),
            HeadersPolicy(),
            UserAgentPolicy(user_agent=USER_AGENT),
            ProxyPolicy(),
            ContentDecodePolicy(),
            RedirectPolicy(),
            self.retry_policy(),
            ARMChallengeAuthenticationPolicy(self.credential, ARM_SCOPE),
            PacingPolicy(self.pacer),
        ]
        return {
            "base_url": self.settings.endpoint,
            "credential_scopes": [ARM_SCOPE],
            "policies": policies,
            "transport": self._shared_transport(),
            "logging_enable": False,
        }

    def _retry_settings(self) -> dict[str, Any]:
        """Explicit retries: exponential backoff from 0.8 s, capped at 30 s, honouring Retry-After."""
        arm = self.settings
        return {
            "retry_total": arm.retry_total,
            "retry_connect": min(arm.retry_total, CONNECT_RETRIES),
            "retry_read": arm.retry_total,
            "retry_status": arm.retry_total,
            "retry_backoff_factor": 0.8,
            "retry_backoff_max": 30,
            "timeout": max(arm.timeout_seconds * 4, 60),
        }

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(**self._retry_settings())

    def async_retry_policy(self) -> AsyncRetryPolicy:
        """The same retry budget as :meth:`retry_policy`, for the async pipelines."""
        return AsyncRetryPolicy(**self._retry_settings())

    # -- the event loop's clients (call only from coroutines running on ``self.loop``) ----------

    @property
    def async_credential(self) -> Any:
        if self._async_credential is None:
            self._async_credential = build_async_credential(self.settings)
        return self._async_credential

    def _aio_transport(self) -> Any:
        """An AioHttpTransport over the loop's one aiohttp session (TLS context built once)."""
        from azure.core.pipeline.transport import AioHttpTransport

        if self._session is None:
            import ssl

            import aiohttp

            context = ssl.create_default_context(cafile=self.settings.ca_bundle or None)
            # every TLS connection holds a 128 KiB buffer: enough connections for the ARM slots of
            # ten subscriptions and the blob listings, not one per target in flight
            connector = aiohttp.TCPConnector(
                ssl=context, limit=CONNECTIONS, limit_per_host=0, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False)
        return AioHttpTransport(
            session=self._session,
            session_owner=False,
            connection_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=self.settings.timeout_seconds,
        )

    def _aio_kwargs(self) -> dict[str, Any]:
        from azure.mgmt.core.policies import AsyncARMChallengeAuthenticationPolicy

        # Leaner than the SDK's default: ARM answers GETs without redirects, and ARM's own
        # x-ms-request-id / x-ms-correlation-request-id identify a read for support.
        policies = [
            UserAgentPolicy(user_agent=USER_AGENT),
            ContentDecodePolicy(),
            self.async_retry_policy(),
            AsyncARMChallengeAuthenticationPolicy(self.async_credential, ARM_SCOPE),
            AsyncPacingPolicy(self.pacer),
        ]
        return {
            "base_url": self.settings.endpoint,
            "credential_scopes": [ARM_SCOPE],
            "policies": policies,
            "transport": self._aio_transport(),
            "logging_enable": False,
        }

    def aio(self, kind: str, subscription_id: str) -> Any:
        """The async client of ``kind`` (a key of :data:`AIO_MODULES`) for one subscription."""
        key = (kind, subscription_id.lower())
        client = self._aio_clients.get(key)
        if client is None:
            import importlib

            module, name = AIO_MODULES[kind]
            factory = getattr(importlib.import_module(module), name)
            client = factory(self.async_credential, subscription_id, **self._aio_kwargs())
            self._aio_clients[key] = client
        return client

    def aio_blob_pipeline(self) -> Any:
        """One async pipeline for the Blob service's data plane, every account (the scan lists one
        container per target: building an SDK container client for each cost more CPU than its
        request). Bearer token for storage, the same retries; outside ARM's buckets, so not paced."""
        client = self._aio_clients.get(("blob", ""))
        if client is None:
            from azure.core import AsyncPipelineClient
            from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy

            policies = [
                HeadersPolicy({"x-ms-version": BLOB_API_VERSION}),
                UserAgentPolicy(user_agent=USER_AGENT),
                self.async_retry_policy(),
                AsyncBearerTokenCredentialPolicy(self.async_credential, STORAGE_SCOPE),
            ]
            client = AsyncPipelineClient(
                base_url=self.settings.endpoint, policies=policies, transport=self._aio_transport()
            )
            self._aio_clients[("blob", "")] = client
        return client

    def blob_slots(self) -> asyncio.Semaphore:
        """The bound on blob listings in flight (created on the loop that uses it)."""
        if self._blob_slots is None:
            self._blob_slots = asyncio.Semaphore(BLOB_LISTINGS_IN_FLIGHT)
        return self._blob_slots

    def blob_container_url(self, account_name: str, container: str) -> str:
        return f"{self._account_url(account_name)}/{quote(container, safe='')}"

    def preload(self) -> None:
        """Import every SDK module a scan uses now, not in the middle of it (~8 % of a scan's CPU)."""
        import importlib

        for module, _ in AIO_MODULES.values():
            importlib.import_module(module)
        importlib.import_module("azure.core.pipeline.transport")

    async def aclose(self) -> None:
        """Close the async clients, the aiohttp session and the async credential (on the loop)."""
        clients, self._aio_clients = list(self._aio_clients.values()), {}
        for client in clients:
            try:
                await client.close()
            except Exception:  # one client failing to close must not keep the session open
                log.debug("closing an async client failed", exc_info=True)
        self._blob_slots = None
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        if self._async_credential is not None:
            credential, self._async_credential = self._async_credential, None
            close = getattr(credential, "close", None)
            if close is not None:
                await close()

    def _account_url(self, account_name: str) -> str:
        if self.settings.is_simulator:
            return f"{self.settings.endpoint}/{account_name}"
        return f"https://{account_name}.blob.core.windows.net"

    def _shared_transport(self) -> SharedTransport:
        with self._transport_lock:
            return self._make_transport()

    def _make_transport(self) -> SharedTransport:
        if self._transport is None:
            import requests

            session = requests.Session()
            # the sync clients carry writes and run command, from as many worker threads as the
            # Functions host runs: a pool smaller than that discards connections and pays a TLS
            # handshake for each new one
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

    def locks(self, subscription_id: str) -> ManagementLockClient:
        from azure.mgmt.resource.locks import ManagementLockClient

        return self._get(
            "locks",
            subscription_id,
            lambda: ManagementLockClient(self.credential, subscription_id, **self._common_kwargs()),
        )

    def policy(self, subscription_id: str) -> PolicyClient:
        from azure.mgmt.resource.policy import PolicyClient

        return self._get(
            "policy",
            subscription_id,
            lambda: PolicyClient(self.credential, subscription_id, **self._common_kwargs()),
        )

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                close = getattr(client, "close", None)
                if close:
                    close()
            self._clients.clear()
        self.loop.stop(self.aclose())


_live: weakref.WeakSet[ArmClients] = weakref.WeakSet()


@atexit.register
def _close_live_clients() -> None:
    """Close the aiohttp sessions of clients nobody closed, while their loops still run."""
    for clients in list(_live):
        if clients._session is not None:
            clients.loop.stop(clients.aclose())


_process_clients: ArmClients | None = None
_process_lock = threading.Lock()


def process_clients(arm: ArmSettings) -> ArmClients:
    """The process-wide :class:`ArmClients` (Functions reuse it across invocations)."""
    global _process_clients
    with _process_lock:
        if _process_clients is None or _process_clients.settings != arm:
            _process_clients = ArmClients(arm)
        return _process_clients
