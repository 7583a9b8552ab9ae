"""The Guard's small error taxonomy.

::

    GuardError
     +-- ConfigError            a setting is missing or malformed (CLI exit code 2)
     +-- ArmError               an ARM call failed after azure-core's own retries
          +-- TransientArmError    429/5xx/timeouts/connection drops that outlived the retries
          +-- PermissionDenied     401/403 (the Guard's identity lacks an action on a scope)
          +-- NotFound             404 (the resource is gone)
          +-- PermanentArmError    any other 4xx (bad request, conflict we did not expect)

azure-core exceptions are translated once, at the ARM boundary, by :func:`translate`; callers
above that boundary never see azure-core types. The ``reason`` of each error is safe to show and
to record: it never contains a token, key or connection string.
"""

from __future__ import annotations

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)


class GuardError(Exception):
    """Base of every error the Guard raises on purpose."""


class ConfigError(GuardError):
    """A setting is missing or malformed; the message names the setting."""


class ArmError(GuardError):
    """An ARM call failed. ``code`` is ARM's error code when it gave one."""

    def __init__(self, reason: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.code = code


class TransientArmError(ArmError):
    """Throttling, server errors, timeouts and dropped connections that outlived the retries."""


class PermissionDenied(ArmError):
    """401/403: the Guard's identity may not perform the action on the scope."""


class NotFound(ArmError):
    """404: the resource (or its parent) does not exist."""


class PermanentArmError(ArmError):
    """Any other 4xx; retrying will not help."""


def error_code(exc: HttpResponseError) -> str | None:
    """ARM's ``error.code`` from an azure-core exception, if the body carried one."""
    err = getattr(exc, "error", None)
    code = getattr(err, "code", None)
    return str(code) if code else None


def translate(exc: AzureError, *, action: str) -> ArmError:
    """Map an azure-core exception to the taxonomy; ``action`` says what was attempted."""
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return TransientArmError(f"{action}: connection failed ({type(exc).__name__})")
    if not isinstance(exc, HttpResponseError):
        return TransientArmError(f"{action}: {type(exc).__name__}")
    status = exc.status_code
    code = error_code(exc)
    message = _first_line(getattr(getattr(exc, "error", None), "message", None) or exc.reason or "")
    reason = f"{action}: HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return NotFound(reason, status=status, code=code)
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return PermissionDenied(reason, status=status, code=code)
    if status is None or status == 429 or status >= 500:
        return TransientArmError(reason, status=status, code=code)
    return PermanentArmError(reason, status=status, code=code)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]
