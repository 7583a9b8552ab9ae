"""Table and Queue service clients for the Guard's storage account, built once per process.

The account is the Functions host's own (``AzureWebJobsStorage``) unless
``GUARD_STORAGE_CONNECTION`` overrides it. Two forms are accepted, as by the host:

- a connection string (``AzureWebJobsStorage`` / ``GUARD_STORAGE_CONNECTION``), including
  ``UseDevelopmentStorage=true`` and Azurite's explicit endpoints;
- identity-based: ``AzureWebJobsStorage__accountName`` (public-cloud endpoints derived) or
  ``AzureWebJobsStorage__tableServiceUri`` / ``__queueServiceUri``, authenticated with
  ``ManagedIdentityCredential`` when ``AzureWebJobsStorage__credential=managedidentity``
  (``__clientId`` selects a user-assigned identity) and ``DefaultAzureCredential`` otherwise.

Errors are :class:`ConfigError` with a message that names the setting and never contains the
connection string. ``client_kwargs`` are passed to the SDK client (tests pass ``transport=`` to
count requests); retry and timeout defaults are explicit here.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from shared.errors import ConfigError
from shared.settings import StorageSettings

logger = logging.getLogger(__name__)

# azure-core logs every request URL and header at INFO; keep it quiet wherever we build clients.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

_DEFAULTS: dict[str, Any] = {"retry_total": 5, "connection_timeout": 10, "read_timeout": 30}


def _credential(settings: StorageSettings) -> TokenCredential:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if (settings.credential or "").lower() == "managedidentity":
        return ManagedIdentityCredential(client_id=settings.client_id)
    return DefaultAzureCredential(managed_identity_client_id=settings.client_id)


C = TypeVar("C", TableServiceClient, QueueServiceClient)


def _service_client(
    cls: type[C], service: str, uri: str | None, settings: StorageSettings, client_kwargs: dict[str, Any]
) -> C:
    kwargs = {**_DEFAULTS, **client_kwargs}
    if settings.connection_string:
        try:
            return cls.from_connection_string(settings.connection_string.reveal(), **kwargs)
        except (ValueError, KeyError):
            raise ConfigError(
                "GUARD_STORAGE_CONNECTION / AzureWebJobsStorage is not a valid storage connection string"
            ) from None
    endpoint = uri
    if not endpoint and settings.account_name:
        endpoint = f"https://{settings.account_name}.{service}.core.windows.net"
    if not endpoint:
        raise ConfigError(
            "no storage account configured: set AzureWebJobsStorage (or GUARD_STORAGE_CONNECTION), "
            f"AzureWebJobsStorage__accountName or AzureWebJobsStorage__{service}ServiceUri"
        )
    return cls(endpoint, credential=_credential(settings), **kwargs)


def table_service_client(settings: StorageSettings, **client_kwargs: Any) -> TableServiceClient:
    """A :class:`TableServiceClient` for the ledger's account; raises ConfigError if unconfigured."""
    return _service_client(TableServiceClient, "table", settings.table_service_uri, settings, client_kwargs)


def queue_service_client(settings: StorageSettings, **client_kwargs: Any) -> QueueServiceClient:
    """A :class:`QueueServiceClient` for the same account; raises ConfigError if unconfigured."""
    return _service_client(QueueServiceClient, "queue", settings.queue_service_uri, settings, client_kwargs)
