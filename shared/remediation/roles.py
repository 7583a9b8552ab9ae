"""Role assignment writes: deterministic names, principalType ServicePrincipal, PrincipalNotFound retried.

Writes one ``Microsoft.Authorization/roleAssignments`` PUT per attempt. Safe to repeat: the name
is a uuid5 of (scope, principal, role), so a repeat targets the same assignment; a 409
``RoleAssignmentExists`` (same triple under another name) counts as already present.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import HttpResponseError

from shared import ids
from shared.arm import ArmClients
from shared.errors import translate
from shared.model import Outcome
from shared.remediation.plan import Action, RoleAssignmentParams
from shared.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 16.0


def _status(pipeline_response: Any, _deserialized: Any, _headers: Any) -> int:
    return int(pipeline_response.http_response.status_code)


def apply_role_assignment(
    action: Action,
    clients: ArmClients,
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Create the assignment; ``applied`` (201), ``already-present`` (200 or 409 RoleAssignmentExists).

    ``UnmatchedPrincipalType`` (the principal is a User or Group, not the ServicePrincipal the
    request names) is ``failed`` at once, saying so: never retried, never re-sent with another type.

    ``PrincipalNotFound`` (a fresh identity not yet replicated; azure-core does not retry 400s) is
    retried with exponential backoff (1, 2, 4 ... 16 s) until ``settings.principal_retry_seconds``
    elapse, then ``failed``. Other ARM errors propagate as azure-core exceptions for
    :func:`shared.remediation.apply.apply` to classify.
    """
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

    params = action.params
    assert isinstance(params, RoleAssignmentParams)
    client = clients.authorization(ids.subscription_of(params.scope))
    body = RoleAssignmentCreateParameters(
        role_definition_id=params.role_definition_id,
        principal_id=params.principal_id,
        principal_type="ServicePrincipal",
    )
    deadline = time.monotonic() + settings.principal_retry_seconds
    delay = BACKOFF_FIRST_SECONDS
    attempts = 0
    while True:
        attempts += 1
        try:
            status = client.role_assignments.create(params.scope, params.name, body, cls=_status)
        except HttpResponseError as exc:
            err = translate(exc, action=f"assign {params.role_name} at {params.scope}")
            if err.code == "RoleAssignmentExists":
                return action.outcome(
                    "already-present", "an assignment of this role to this principal exists"
                )
            if err.code == "UnmatchedPrincipalType":
                return action.outcome(
                    "failed",
                    f"principal {params.principal_id} is not a service principal in the directory; the "
                    f"Guard assigns roles to service principals only, so it assigned nothing: {err.reason}",
                )
            remaining = deadline - time.monotonic()
            if err.code == "PrincipalNotFound" and remaining > 0:
                wait = min(delay, remaining)
                log.info(
                    "principal %s not found yet (attempt %s); retrying in %.1f s",
                    params.principal_id,
                    attempts,
                    wait,
                )
                sleep(wait)
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
                continue
            if err.code == "PrincipalNotFound":
                return action.outcome(
                    "failed",
                    f"principal {params.principal_id} still not found after {attempts} attempt(s) over "
                    f"{settings.principal_retry_seconds:g} s (directory replication delay): {err.reason}",
                )
            raise
        if status == 201:
            reason = "created" if attempts == 1 else f"created after {attempts} attempts"
            return action.outcome("applied", f"{reason} as {params.name}")
        return action.outcome("already-present", f"assignment {params.name} already existed")
