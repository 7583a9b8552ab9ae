"""The role matrix as data (docs/checks.md, "Role matrix", is generated from it), and its
resolution against a Snapshot.

:data:`ROLE_MATRIX` is the only list of role assignments the Guard knows about. The ``role.*``
checks and the remediation planner both walk it through :func:`resolve_role_rows`, so they can
never disagree about which role, which principal and which scope a row means. The planner must
only assign :data:`ALLOWED_ROLE_GUIDS` at resolved scopes to resolved principals (all read from
ARM, never from an event).

Everything here is pure: no I/O, no logging.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from shared import ids, vault_identity
from shared.model import STAGING_RG_TAG, STAGING_STORAGE_TAG, Snapshot, Unreadable

BUILTIN_ROLES: Mapping[str, str] = MappingProxyType(
    {
        "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
        "Disk Snapshot Contributor": "7efff54f-a5b4-42b5-a1c5-5411624893ce",
        "Data Operator for Managed Disks": "959f8984-c045-4866-89c7-12bf9737be2e",
        "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    }
)
"""Built-in role name -> role definition GUID (lower case), as Azure publishes them (the Azure
built-in roles reference)."""

Assignee = Literal["vault", "cluster", "extension"]
ScopeKind = Literal["cluster", "snapshot-rg", "storage-account", "staging-rg", "staging-storage"]
Applies = Literal["always", "vaulted", "staging"]


@dataclass(frozen=True)
class RoleRow:
    """One row of the role matrix: ``assignee`` needs ``role_guid`` at ``scope`` when ``applies``."""

    check: str
    role_name: str
    role_guid: str
    assignee: Assignee
    scope: ScopeKind
    applies: Applies


def _row(check: str, role: str, assignee: Assignee, scope: ScopeKind, applies: Applies) -> RoleRow:
    return RoleRow(check, role, BUILTIN_ROLES[role], assignee, scope, applies)


ROLE_MATRIX: tuple[RoleRow, ...] = (
    _row("role.vault-reader-on-cluster", "Reader", "vault", "cluster", "always"),
    _row("role.vault-reader-on-snapshot-rg", "Reader", "vault", "snapshot-rg", "always"),
    _row("role.cluster-contributor-on-snapshot-rg", "Contributor", "cluster", "snapshot-rg", "always"),
    _row(
        "role.extension-blob-contributor-on-storage",
        "Storage Blob Data Contributor",
        "extension",
        "storage-account",
        "always",
    ),
    _row(
        "role.vault-disk-operator-on-snapshot-rg",
        "Data Operator for Managed Disks",
        "vault",
        "snapshot-rg",
        "vaulted",
    ),
    _row(
        "role.vault-snapshot-contributor-on-snapshot-rg",
        "Disk Snapshot Contributor",
        "vault",
        "snapshot-rg",
        "vaulted",
    ),
    _row(
        "role.vault-blob-reader-on-storage", "Storage Blob Data Reader", "vault", "storage-account", "vaulted"
    ),
    _row("role.vault-contributor-on-staging-rg", "Contributor", "vault", "staging-rg", "staging"),
    _row(
        "role.vault-account-contributor-on-staging-storage",
        "Storage Account Contributor",
        "vault",
        "staging-storage",
        "staging",
    ),
    _row(
        "role.vault-blob-owner-on-staging-storage",
        "Storage Blob Data Owner",
        "vault",
        "staging-storage",
        "staging",
    ),
)

ROLE_ROWS: Mapping[str, RoleRow] = MappingProxyType({row.check: row for row in ROLE_MATRIX})
"""Check id -> row."""

ALLOWED_ROLE_GUIDS: frozenset[str] = frozenset(row.role_guid for row in ROLE_MATRIX)
"""The only role definitions the Guard may ever assign (also the infra ABAC condition's list)."""


@dataclass(frozen=True)
class Gap:
    """Why a principal, scope or applicability could not be resolved.

    ``unknown`` is True when a read failed (the truth is unknown: report ``unknown``); False when
    the state read is itself a defect (for example the vault has no managed identity: the row
    cannot hold, report ``fail``). ``reason`` says which, in words.
    """

    reason: str
    unknown: bool


@dataclass(frozen=True)
class ResolvedRole:
    """One matrix row resolved against one Snapshot.

    - ``applicable``: True, False (``not_applicable_reason`` says why) or None (a read the decision
      depends on failed; ``applicability_gap`` says which).
    - ``principal_id`` / ``scope_id``: the values read from ARM, or None with ``principal_gap`` /
      ``scope_gap`` explaining why.

    :attr:`actionable` is the planner's gate: only then may it create the assignment.
    """

    row: RoleRow
    applicable: bool | None
    principal_id: str | None
    scope_id: str | None
    not_applicable_reason: str = ""
    applicability_gap: Gap | None = None
    principal_gap: Gap | None = None
    scope_gap: Gap | None = None

    @property
    def check(self) -> str:
        return self.row.check

    @property
    def role_guid(self) -> str:
        return self.row.role_guid

    @property
    def actionable(self) -> bool:
        return self.applicable is True and self.principal_id is not None and self.scope_id is not None


def _unreadable(what: str, value: Unreadable) -> Gap:
    return Gap(f"could not read {what}: {value.reason}", unknown=True)


def vault_principal(snapshot: Snapshot) -> tuple[str | None, Gap | None]:
    """The principal the vault actually uses for this target (system-assigned, or the
    user-assigned identity the backup instance names in identityDetails); see
    :mod:`shared.vault_identity`. Checks and remediation assign roles to this principal only."""
    chosen = vault_identity.choose(snapshot.vault, snapshot.backup_instance)
    if chosen.principal_id:
        return chosen.principal_id, None
    reason = chosen.problem + (f" ({chosen.code})" if chosen.code else "")
    return None, Gap(reason, unknown=chosen.unknown)


def _principal(snapshot: Snapshot, assignee: Assignee) -> tuple[str | None, Gap | None]:
    if assignee == "vault":
        return vault_principal(snapshot)
    if assignee == "cluster":
        cluster = snapshot.cluster
        if isinstance(cluster, Unreadable):
            return None, _unreadable("cluster", cluster)
        if not cluster.principal_id:
            return None, Gap(
                f"cluster {cluster.name} has no managed identity principal (identity.type is "
                f"{cluster.identity_type or 'None'}); expected a system- or user-assigned identity",
                unknown=False,
            )
        return cluster.principal_id, None
    extension = snapshot.extension
    if isinstance(extension, Unreadable):
        return None, _unreadable("backup extension", extension)
    if extension is None:
        return None, Gap("the backup extension is not installed, so it has no identity", unknown=False)
    if not extension.principal_id:
        return None, Gap(
            f"backup extension {extension.name} reports no properties.aksAssignedIdentity.principalId "
            f"(provisioningState {extension.provisioning_state or 'unknown'})",
            unknown=False,
        )
    return extension.principal_id, None


def _staging_scope(
    snapshot: Snapshot, tag_name: str, *, resource_group: bool
) -> tuple[str | None, Gap | None]:
    if isinstance(snapshot.vault, Unreadable):
        return None, _unreadable("backup vault", snapshot.vault)
    value = snapshot.vault_tag(tag_name)
    if not value or not value.strip():
        return None, Gap(
            f"staging is configured on the vault but tag {tag_name} is missing or empty", unknown=False
        )
    value = value.strip()
    kind = "resource-group" if resource_group else "storage-account"
    if not ids.is_shaped(value, kind):
        # Exactly a resource group (or storage account) id: a resource inside a group, a trailing
        # slash or a dot segment is a bad tag, never cut down to a parent scope.
        return None, Gap(
            f"vault tag {tag_name}={value!r} is not exactly a {kind.replace('-', ' ')} id",
            unknown=False,
        )
    return value, None


def _scope(snapshot: Snapshot, scope: ScopeKind) -> tuple[str | None, Gap | None]:
    if scope == "cluster":
        return snapshot.target.cluster_id, None
    if scope == "snapshot-rg":
        instance = snapshot.backup_instance
        if isinstance(instance, Unreadable):
            return None, _unreadable("backup instance", instance)
        if instance is None:  # applicability already says not-applicable
            return None, Gap("no backup instance: snapshot resource group unknown", unknown=True)
        if not instance.snapshot_resource_group_id:
            return None, Gap(
                "backup instance names no snapshot resource group "
                "(policyParameters.dataStoreParametersList[].resourceGroupId)",
                unknown=True,
            )
        return instance.snapshot_resource_group_id, None
    if scope == "storage-account":
        extension = snapshot.extension
        if isinstance(extension, Unreadable):
            return None, _unreadable("backup extension", extension)
        if extension is None:
            return None, Gap(
                "the backup extension is not installed, so no backup storage account is configured",
                unknown=False,
            )
        if extension.storage_account_id is None:
            return None, Gap(
                f"backup extension {extension.name} configuration names no complete storage account "
                "(configuration.backupStorageLocation.config.storageAccount/resourceGroup/subscriptionId)",
                unknown=False,
            )
        return extension.storage_account_id, None
    if scope == "staging-rg":
        return _staging_scope(snapshot, STAGING_RG_TAG, resource_group=True)
    return _staging_scope(snapshot, STAGING_STORAGE_TAG, resource_group=False)


def staging_configured(snapshot: Snapshot) -> bool | None:
    """True when either staging tag is set on the vault; None when the vault could not be read."""
    if isinstance(snapshot.vault, Unreadable):
        return None
    return bool(snapshot.staging_resource_group_id or snapshot.staging_storage_account_id)


def _applicability(snapshot: Snapshot, row: RoleRow) -> tuple[bool | None, str, Gap | None]:
    if row.scope == "snapshot-rg":
        instance = snapshot.backup_instance
        if isinstance(instance, Unreadable):
            return None, "", _unreadable("backup instance", instance)
        if instance is None:
            if snapshot.target.kind == "prepare":
                return False, "no backup instance yet: snapshot resource group unknown", None
            return False, "no backup instance for this target: snapshot resource group unknown", None
    if row.applies == "vaulted":
        policy = snapshot.policy
        if isinstance(policy, Unreadable):
            return None, "", _unreadable("backup policy", policy)
        if policy is None:
            return False, "no backup policy: vaulted-backup roles do not apply", None
        if not policy.uses_vault_store:
            return False, "backup policy has no VaultStore (operational tier only)", None
    if row.applies == "staging":
        configured = staging_configured(snapshot)
        if configured is None:
            assert isinstance(snapshot.vault, Unreadable)
            return None, "", _unreadable("backup vault", snapshot.vault)
        if not configured:
            return (
                False,
                f"no staging configured (vault tags {STAGING_RG_TAG} / {STAGING_STORAGE_TAG} unset)",
                None,
            )
    return True, "", None


SCOPE_SHAPES: Mapping[ScopeKind, str] = {
    "cluster": "cluster",
    "snapshot-rg": "resource-group",
    "storage-account": "storage-account",
    "staging-rg": "resource-group",
    "staging-storage": "storage-account",
}


def resolve_role_row(snapshot: Snapshot, row: RoleRow) -> ResolvedRole:
    """Resolve one row: applicability, principal and scope, each read from the Snapshot only."""
    applicable, reason, gap = _applicability(snapshot, row)
    if applicable is False:
        return ResolvedRole(row, False, None, None, not_applicable_reason=reason)
    principal_id, principal_gap = _principal(snapshot, row.assignee)
    scope_id, scope_gap = _scope(snapshot, row.scope)
    if scope_id is not None and not ids.is_shaped(scope_id, SCOPE_SHAPES[row.scope]):
        # Scopes come from tags, extension settings and backup instances: anything that is not
        # exactly the expected kind of id (dot segments, extra path, a subscription) is refused.
        scope_gap = Gap(
            f"{scope_id!r} is not a valid {SCOPE_SHAPES[row.scope]} id for this row", unknown=False
        )
        scope_id = None
    return ResolvedRole(
        row,
        applicable,
        principal_id,
        scope_id,
        applicability_gap=gap,
        principal_gap=principal_gap,
        scope_gap=scope_gap,
    )


def resolve_role_rows(snapshot: Snapshot) -> list[ResolvedRole]:
    """Every row of :data:`ROLE_MATRIX`, in matrix order, resolved against ``snapshot``.

    The single source for both the ``role.*`` checks and the remediation planner. Pure.
    """
    return [resolve_role_row(snapshot, row) for row in ROLE_MATRIX]


__all__ = [
    "ALLOWED_ROLE_GUIDS",
    "BUILTIN_ROLES",
    "ROLE_MATRIX",
    "ROLE_ROWS",
    "Gap",
    "ResolvedRole",
    "RoleRow",
    "resolve_role_row",
    "resolve_role_rows",
    "staging_configured",
    "vault_principal",
]
