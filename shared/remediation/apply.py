"""apply: perform planned actions idempotently, one :class:`~shared.model.Outcome` per action.

Every action runs even when an earlier one failed (a 403 on one scope fails that action only).
Nothing here raises for ARM errors: they become ``failed`` outcomes; a 403 names the permission
the Guard's identity lacks and the scope. In ``GUARD_MODE=report`` nothing is written: every
action comes back ``skipped`` with reason "report mode".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from azure.core.exceptions import AzureError

from shared import ids
from shared.arm import ArmClients
from shared.errors import ArmError, PermissionDenied, translate
from shared.model import Outcome
from shared.remediation.cluster import apply_cluster_storage_profile, apply_extension_install
from shared.remediation.plan import (
    CLUSTER_KINDS,
    Action,
    ClusterStorageProfileParams,
    ExtensionInstallParams,
    ProviderParams,
    RoleAssignmentParams,
    StorageNetworkParams,
    TrustedAccessParams,
)
from shared.remediation.provider import apply_provider_registration
from shared.remediation.roles import apply_role_assignment
from shared.remediation.storage import apply_storage_network
from shared.remediation.trusted_access import apply_trusted_access
from shared.roles import ALLOWED_ROLE_GUIDS
from shared.settings import Settings

log = logging.getLogger(__name__)

Applier = Callable[[Action, ArmClients, Settings], Outcome]

APPLIERS: dict[str, Applier] = {
    "role-assignment": apply_role_assignment,
    "trusted-access": apply_trusted_access,
    "provider-registration": apply_provider_registration,
    "storage-network": apply_storage_network,
    "cluster-storage-profile": apply_cluster_storage_profile,
    "extension-install": apply_extension_install,
}

PERMISSIONS: dict[str, str] = {
    "role-assignment": "Microsoft.Authorization/roleAssignments/write",
    "trusted-access": "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/write",
    "provider-registration": "Microsoft.KubernetesConfiguration/register/action",
    "storage-network": "Microsoft.Storage/storageAccounts/write",
    "cluster-storage-profile": "Microsoft.ContainerService/managedClusters/write",
    "extension-install": "Microsoft.KubernetesConfiguration/extensions/write",
}
"""Action kind -> the RBAC action its write needs (named in a 403 outcome)."""


def write_scope(action: Action) -> str:
    """The resource (or subscription) the action writes to."""
    p = action.params
    if isinstance(p, RoleAssignmentParams):
        return p.scope
    if isinstance(p, ProviderParams):
        return f"/subscriptions/{p.subscription_id}"
    if isinstance(p, StorageNetworkParams):
        return p.account_id
    if isinstance(p, (TrustedAccessParams, ClusterStorageProfileParams, ExtensionInstallParams)):
        return p.cluster_id
    raise TypeError(f"unknown action params {type(p).__name__}")


# Role assignments only ever go to matrix scopes; other writes to a cluster, an account or the
# subscription (provider registration).
ROLE_SCOPE_SHAPES = ("cluster", "resource-group", "storage-account")
WRITE_SCOPE_SHAPES = ("cluster", "storage-account", "subscription")


def _guard(action: Action, settings: Settings) -> str | None:
    """Why this action must not be written under ``settings``, or None.

    Re-checks the planner's rules at the last moment (mode, cluster opt-in, watched subscription,
    matrix role), so an Action built by hand cannot bypass them.
    """
    if not settings.enforce:
        return "report mode"
    if ids.shape_of(action.requester) not in ("backup-vault", "cluster"):
        return "the action names no requester vault or cluster (only planned, consented actions are written)"
    params = action.params
    if (
        isinstance(params, RoleAssignmentParams)
        and settings.guard_principal_id
        and params.principal_id.strip().lower() == settings.guard_principal_id
    ):
        return "the principal is the Guard's own identity: never assigned"
    if isinstance(params, RoleAssignmentParams) and params.role_guid.lower() not in ALLOWED_ROLE_GUIDS:
        return f"role {params.role_guid} is not in the role matrix"
    scope = write_scope(action)
    allowed = ROLE_SCOPE_SHAPES if isinstance(params, RoleAssignmentParams) else WRITE_SCOPE_SHAPES
    if ids.shape_of(scope) not in allowed:
        return f"write scope {scope!r} is not a {' or '.join(allowed)} id"
    if action.kind in CLUSTER_KINDS and not settings.remediate_cluster:
        return "cluster changes need GUARD_REMEDIATE_CLUSTER=true"
    try:
        subscription = ids.subscription_of(write_scope(action))
    except ValueError:
        return f"write scope {write_scope(action)} is not an ARM id"
    if not settings.watches(subscription):
        return f"subscription {subscription} is outside GUARD_SUBSCRIPTIONS"
    return None


def apply_one(action: Action, clients: ArmClients, settings: Settings) -> Outcome:
    """Perform one action (see the module docstring). Never raises for ARM errors."""
    refusal = _guard(action, settings)
    if refusal:
        return action.outcome("skipped", refusal)
    try:
        outcome = APPLIERS[action.kind](action, clients, settings)
    except AzureError as exc:
        err = translate(exc, action=action.description)
        outcome = _failed(action, err)
    except ArmError as err:
        outcome = _failed(action, err)
    except Exception as exc:  # a bug must fail this action only, never the others
        log.exception("unexpected failure applying %s", action.id)
        outcome = action.outcome("failed", f"unexpected {type(exc).__name__}: {exc}")
    log.info("remediation %s: %s %s", action.id, outcome.result, outcome.reason)
    return outcome


def _failed(action: Action, err: ArmError) -> Outcome:
    if isinstance(err, PermissionDenied):
        return action.outcome(
            "failed",
            f"permission denied: the Guard's identity lacks {PERMISSIONS[action.kind]} on "
            f"{write_scope(action)} ({err.reason})",
        )
    return action.outcome("failed", err.reason)


def apply(actions: Sequence[Action], clients: ArmClients, settings: Settings) -> list[Outcome]:
    """Apply ``actions`` in order, one outcome each (same order). Safe to repeat: every applier is
    idempotent (deterministic names, 409 = done, re-read before read-modify-write)."""
    return [apply_one(action, clients, settings) for action in actions]


__all__ = ["APPLIERS", "PERMISSIONS", "apply", "apply_one", "write_scope"]
