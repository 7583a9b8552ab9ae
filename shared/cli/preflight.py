"""Fail fast, before any scan, when ARM cannot be used at all.

One token request and one cheap ARM read (the ``Microsoft.KubernetesConfiguration`` provider of
one selected subscription, which ``check`` reads anyway) decide:

- no credential at all (nothing signed in, no ``GUARD_ARM_TOKEN``)  -> :class:`ConfigError`
- ARM rejects the credential (401: invalid or expired token)       -> :class:`ConfigError`
- ARM cannot be reached (connection refused, DNS, TLS)             -> :class:`ConfigError`

each with one line naming the cause and the remedy; the CLI turns it into exit code 2. A 403 or
404 on that read is not fatal: the checks report what the identity may not read. The probe is
bounded: 3 connection attempts of at most 4 s (refused, DNS, no answer to the TCP handshake:
under 14 s), and one read of at most 10 s without a retry (an endpoint that accepts the
connection and never answers), so an unreachable endpoint fails within 15 s.
"""

from __future__ import annotations

import logging

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.arm import ARM_SCOPE, CONNECT_RETRIES, CONNECT_TIMEOUT_SECONDS, ArmClients
from shared.errors import ConfigError, error_code
from shared.settings import ArmSettings

PROBE_READ_TIMEOUT_SECONDS = 10
"""The probe's read timeout (ARM answers a provider read in well under a second); no read retry."""

_SIGN_IN = "sign in with `az login` (or set GUARD_ARM_TOKEN for the local simulator)"


def _remedy(clients: ArmClients) -> str:
    arm = clients.settings
    if arm.token is not None:
        return "check GUARD_ARM_TOKEN"
    if arm.client_id:
        return f"check the managed identity AZURE_CLIENT_ID={arm.client_id}"
    return _SIGN_IN


def check_access(clients: ArmClients, subscription: str) -> None:
    """Raise :class:`ConfigError` when ARM cannot be used at all (see the module docstring)."""
    endpoint = clients.settings.endpoint
    identity_log = logging.getLogger("azure.identity")
    quiet = identity_log.level
    identity_log.setLevel(max(quiet, logging.ERROR))  # its per-credential warnings are not the message
    try:
        clients.credential.get_token(ARM_SCOPE)
    except ClientAuthenticationError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ConfigError(f"no usable Azure credential ({first}): {_remedy(clients)}") from None
    finally:
        identity_log.setLevel(quiet)
    try:
        clients.resources(subscription).providers.get(
            "Microsoft.KubernetesConfiguration",
            # bounded: a refused or black-holed endpoint, or one that accepts and never answers,
            # fails in seconds instead of the read-retry budget (see PROBE_* above)
            connection_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=PROBE_READ_TIMEOUT_SECONDS,
            retry_connect=CONNECT_RETRIES,
            retry_read=0,
        )
    except ClientAuthenticationError as exc:
        code = error_code(exc) or "unauthorized"
        raise ConfigError(
            f"ARM at {endpoint} rejected the credential (HTTP {exc.status_code} {code}): {_remedy(clients)}"
        ) from None
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise ConfigError(
            f"cannot reach ARM at {endpoint} ({type(exc).__name__}): check the network"
            + (" and GUARD_ARM_ENDPOINT" if endpoint != ArmSettings.endpoint else "")
        ) from None
    except HttpResponseError as exc:
        if exc.status_code == 401:
            raise ConfigError(
                f"ARM at {endpoint} rejected the credential (HTTP 401 {error_code(exc) or ''}".rstrip()
                + f"): {_remedy(clients)}"
            ) from None
        # 403/404/429/5xx: not a reason to stop; the checks say what could not be read
