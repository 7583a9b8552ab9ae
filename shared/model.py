"""The Guard's records: what is guarded (Target), what was read (Snapshot), what was found (Finding).

All records are frozen dataclasses of plain Python values, so checks and planning are pure
functions testable with literal data. SDK models never leave ``shared.gather``.

A read that failed is represented by :class:`Unreadable` in place of the value; checks that
depend on it report ``unknown`` with its reason instead of raising.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, TypeAlias, TypeVar, Union

from shared import ids


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    NOT_APPLICABLE = "not-applicable"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Fix:
    """How to repair a failing check: a one-line portal step, the exact az command, and a doc link."""

    summary: str
    command: str | None = None
    doc: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"summary": self.summary, "command": self.command, "doc": self.doc}


@dataclass(frozen=True, slots=True)
class Finding:
    """The result of one check for one target.

    ``detail`` says what was observed versus what was expected; ``fix`` is set for fail/warn.
    """

    check: str
    status: Status
    detail: str
    fix: Fix | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "status": str(self.status),
            "detail": self.detail,
            "fix": self.fix.to_dict() if self.fix else None,
        }


TargetKind = Literal["backup", "prepare", "restore"]
OptOut = Literal["none", "report-only", "ignore"]

OPT_OUT_TAG = "aks-backup-guard"
VAULT_TAG = "aks-backup-guard-vault"
STAGING_RG_TAG = "aks-backup-guard-staging-rg"
STAGING_STORAGE_TAG = "aks-backup-guard-staging-storage"
STORAGE_ACCOUNT_TAG = "aks-backup-guard-storage-account"
BLOB_CONTAINER_TAG = "aks-backup-guard-blob-container"
CONSENT_TAG = "aks-backup-guard-allow"
"""Consent tags: ``aks-backup-guard-allow`` or ``aks-backup-guard-allow-<anything>``, one id each
(a requester vault or cluster, its resource group or its subscription); docs/trust-model.md."""
RESTORE_TARGET_TAG_PREFIX = "aks-backup-guard-restore-target"
"""Restore-target tags on a vault: any name starting so (``...-targets`` included), one cluster id each."""


@dataclass(frozen=True, slots=True)
class Target:
    """One (AKS cluster, Backup vault) pair.

    ``kind``: ``backup`` (a backup instance protects the cluster), ``prepare`` (the cluster is
    tagged with a vault but has no instance yet) or ``restore`` (named in the vault's
    restore-target tags). Ids are kept as read; compare them with :attr:`key`.
    """

    cluster_id: str
    vault_id: str
    kind: TargetKind = "backup"
    backup_instance_id: str | None = None

    @property
    def key(self) -> str:
        return f"{ids.normalize(self.cluster_id)}|{ids.normalize(self.vault_id)}"

    @property
    def subscription_id(self) -> str:
        return ids.subscription_of(self.cluster_id)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "cluster_id": self.cluster_id,
            "vault_id": self.vault_id,
            "kind": self.kind,
            "backup_instance_id": self.backup_instance_id,
        }


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A read that failed: ``kind`` is denied (401/403), not-found (404) or error (anything else)."""

    reason: str
    kind: Literal["denied", "not-found", "error"] = "error"


T = TypeVar("T")
Read: TypeAlias = Union[T, Unreadable]  # noqa: UP007  (a generic alias needs Union on 3.11)


def readable(value: Read[T]) -> bool:
    return not isinstance(value, Unreadable)


@dataclass(frozen=True, slots=True)
class NodePool:
    """One ``agentPoolProfiles`` entry: what the backup extension's pods need (Linux, not Arm64)."""

    name: str
    os_type: str | None = None  # Linux | Windows (None: Linux, the default)
    vm_size: str | None = None
    mode: str | None = None  # System | User

    @property
    def arm64(self) -> bool:
        """Azure names Arm64 sizes with the ``p`` feature letter (``Standard_D4ps_v5``, ``..._E8pds_v6``)."""
        return bool(_ARM64_SIZE.match(self.vm_size or ""))

    @property
    def linux(self) -> bool:
        return (self.os_type or "Linux").strip().lower() == "linux"


_ARM64_SIZE = re.compile(r"^Standard_[A-Z]+[0-9]+[a-z]*p[a-z]*_v[0-9]+$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    id: str
    name: str
    location: str
    tags: Mapping[str, str] = field(default_factory=dict)
    identity_type: str | None = None  # SystemAssigned | UserAssigned | None | null (service principal)
    principal_id: str | None = None  # the control-plane identity (system- or first user-assigned)
    service_principal_client_id: str | None = None  # "msi" for managed-identity clusters
    kubernetes_version: str | None = None
    current_kubernetes_version: str | None = None
    disk_csi_enabled: bool | None = None
    snapshot_controller_enabled: bool | None = None
    outbound_type: str | None = None
    node_resource_group: str | None = None
    subnet_ids: tuple[str, ...] = ()
    provisioning_state: str | None = None
    node_pools: tuple[NodePool, ...] = ()


@dataclass(frozen=True, slots=True)
class VaultInfo:
    """A Backup vault. ``principal_id`` is the *system-assigned* identity only (top-level
    ``identity.principalId``); ``user_assigned`` maps each attached user-assigned identity's
    resource id (lower-cased) to its principal id (None when ARM gave none)."""

    id: str
    name: str
    location: str
    tags: Mapping[str, str] = field(default_factory=dict)
    identity_type: str | None = None  # None | SystemAssigned | UserAssigned | "SystemAssigned,UserAssigned"
    principal_id: str | None = None
    tenant_id: str | None = None
    user_assigned: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def system_identity_enabled(self) -> bool:
        return "systemassigned" in (self.identity_type or "").replace(" ", "").lower().split(",") and bool(
            self.principal_id
        )


@dataclass(frozen=True, slots=True)
class BackupError:
    """An Azure Backup ``UserFacingError`` as the Guard keeps it: code, message, first recommended action."""

    code: str
    message: str = ""
    recommended_action: str = ""

    def describe(self) -> str:
        text = f"{self.code}: {self.message}".rstrip(": ") if self.message else self.code
        return f"{text} (recommended: {self.recommended_action})" if self.recommended_action else text


@dataclass(frozen=True, slots=True)
class BackupInstanceInfo:
    """A backup instance. ``use_system_identity`` / ``user_identity_id`` are
    ``properties.identityDetails``: None when the instance carries no identityDetails (older
    instances: the vault's system identity is used)."""

    id: str
    cluster_id: str
    datasource_type: str
    policy_id: str | None = None
    snapshot_resource_group_id: str | None = None
    use_system_identity: bool | None = None
    user_identity_id: str | None = None
    protection_status: str | None = None  # properties.protectionStatus.status
    protection_status_error: BackupError | None = None  # properties.protectionStatus.errorDetails
    current_protection_state: str | None = None
    protection_error: BackupError | None = None  # properties.protectionErrorDetails

    @property
    def uses_user_identity(self) -> bool:
        return self.use_system_identity is False and bool(self.user_identity_id)


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    """``backup_interval``: the shortest repeating interval of the policy's backup schedule
    (``repeatingTimeIntervals``, e.g. ``R/2024-01-01T02:00:00+00:00/PT4H`` -> 4 h), None when unreadable."""

    id: str
    uses_vault_store: bool
    backup_interval: timedelta | None = None


@dataclass(frozen=True, slots=True)
class JobInfo:
    """One backup job (``.../backupVaults/{v}/backupJobs/{id}``), as the outcome checks need it.

    ``status`` is Azure's text (``Completed``, ``Failed``, ``InProgress``, ``CompletedWithWarnings``...);
    times are timezone-aware (UTC); ``errors`` are the job's ``errorDetails``."""

    id: str
    backup_instance_id: str
    status: str
    start_time: datetime | None = None
    end_time: datetime | None = None
    errors: tuple[BackupError, ...] = ()


@dataclass(frozen=True, slots=True)
class InstanceJobs:
    """What a vault's job listing says about one instance: its latest finished backup job, its
    latest successful one, the start of a backup job still running, and since when backups fail
    (bounded: four values per instance, however long the history)."""

    latest_finished: JobInfo | None = None
    latest_succeeded: JobInfo | None = None
    running_since: datetime | None = None
    failing_since: datetime | None = None  # the first failed job after the latest success


EXTENSION_TYPE = "microsoft.dataprotection.kubernetes"
_BSL = "configuration.backupStorageLocation."


@dataclass(frozen=True, slots=True)
class ExtensionInfo:
    id: str
    name: str
    extension_type: str
    provisioning_state: str | None = None
    principal_id: str | None = None  # properties.aksAssignedIdentity.principalId
    configuration: Mapping[str, str] = field(default_factory=dict)

    @property
    def blob_container(self) -> str | None:
        return self.configuration.get(_BSL + "bucket")

    @property
    def storage_account_name(self) -> str | None:
        return self.configuration.get(_BSL + "config.storageAccount")

    @property
    def storage_resource_group(self) -> str | None:
        return self.configuration.get(_BSL + "config.resourceGroup")

    @property
    def storage_subscription_id(self) -> str | None:
        return self.configuration.get(_BSL + "config.subscriptionId")

    @property
    def use_aad(self) -> bool:
        return self.configuration.get(_BSL + "config.useAAD", "").strip().lower() == "true"

    @property
    def storage_account_id(self) -> str | None:
        """The ARM id of the configured storage account, or None when the settings are incomplete."""
        name, rg, sub = self.storage_account_name, self.storage_resource_group, self.storage_subscription_id
        if not (name and rg and sub):
            return None
        return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"


@dataclass(frozen=True, slots=True)
class ResourceAccessRule:
    tenant_id: str
    resource_id: str


@dataclass(frozen=True, slots=True)
class StorageAccountInfo:
    id: str
    name: str
    default_action: str = "Allow"  # networkAcls.defaultAction
    bypass: tuple[str, ...] = ()  # networkAcls.bypass split on ","
    resource_access_rules: tuple[ResourceAccessRule, ...] = ()
    ip_rules: tuple[str, ...] = ()
    virtual_network_rules: tuple[str, ...] = ()
    public_network_access: str | None = None  # Enabled | Disabled | SecuredByPerimeter | None
    allow_shared_key_access: bool | None = None  # None means the default (allowed)
    private_endpoint_count: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)
    kind: str | None = None  # StorageV2 | Storage | BlobStorage | BlockBlobStorage | FileStorage
    sku: str | None = None  # Standard_LRS, Premium_LRS...
    location: str | None = None


@dataclass(frozen=True, slots=True)
class BlobContainerInfo:
    name: str
    exists: bool
    blob_names: tuple[str, ...] = ()  # a bounded sample of names (first page)
    listing_denied: str | None = None  # why the names could not be listed (existence known from ARM)


@dataclass(frozen=True, slots=True)
class TrustedAccessBinding:
    id: str
    name: str
    source_resource_id: str
    roles: tuple[str, ...]
    provisioning_state: str | None = None


@dataclass(frozen=True, slots=True)
class RoleAssignmentInfo:
    """A role assignment; ``condition`` is its ABAC condition text (None when unconditional)."""

    id: str
    scope: str
    principal_id: str
    role_definition_id: str
    condition: str | None = None

    @property
    def role_guid(self) -> str:
        return ids.role_guid(self.role_definition_id)


class RoleAssignments(tuple[RoleAssignmentInfo, ...]):
    """A subscription's role assignments (a tuple), indexed by (principal, role) on first lookup:
    a scan checks ten role rows for each of thousands of targets against the same listing."""

    _index: dict[tuple[str, str], tuple[RoleAssignmentInfo, ...]] | None = None

    def of(self, principal_id: str, role_guid: str) -> tuple[RoleAssignmentInfo, ...]:
        """The assignments of ``role_guid`` to ``principal_id`` (case-insensitive), at any scope."""
        index = self._index
        if index is None:
            grouped: dict[tuple[str, str], list[RoleAssignmentInfo]] = {}
            for assignment in self:
                key = (assignment.principal_id.strip().lower(), assignment.role_guid)
                grouped.setdefault(key, []).append(assignment)
            index = self._index = {key: tuple(items) for key, items in grouped.items()}
        return index.get((principal_id.strip().lower(), role_guid.strip().lower()), ())


@dataclass(frozen=True, slots=True)
class NsgRule:
    name: str
    direction: str  # Inbound | Outbound
    access: str  # Allow | Deny
    priority: int
    source_prefixes: tuple[str, ...] = ()
    destination_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NsgInfo:
    id: str
    subnet_id: str
    rules: tuple[NsgRule, ...] = ()


ExcludedFrom = Literal["assignment", "definition-default"]


@dataclass(frozen=True, slots=True)
class PolicyAssignmentInfo:
    """A policy assignment as it applies to the subscription's resources.

    ``excluded_namespaces`` is the effective list: the assignment's own ``excludedNamespaces``
    parameter, or (``excluded_from == "definition-default"``) the definition's default when the
    assignment does not set it. None when neither the assignment nor its definition has the
    parameter (not a Kubernetes policy). ``scope`` is ``properties.scope`` (a management group,
    the subscription, a resource group...); ``not_scopes`` its exclusions.
    """

    id: str
    name: str
    policy_definition_id: str
    display_name: str | None = None
    excluded_namespaces: tuple[str, ...] | None = None
    enforcement_mode: str | None = None
    scope: str | None = None
    not_scopes: tuple[str, ...] = ()
    excluded_from: ExcludedFrom = "assignment"
    definition_unreadable: str | None = None  # why the definition could not be read, when needed

    @property
    def scope_id(self) -> str:
        """``properties.scope``, else the id's prefix before ``/providers/Microsoft.Authorization``."""
        if self.scope:
            return self.scope
        lowered = self.id.lower()
        index = lowered.rfind("/providers/microsoft.authorization/policyassignments/")
        return self.id[:index] if index > 0 else "/"

    def applies_to(self, resource_id: str) -> bool:
        """The assignment governs ``resource_id``: its scope is the resource or above (a management
        group counts as above: the subscription listing returns only those that apply), and no
        subscription-rooted ``notScopes`` entry is the resource or above it. A management-group
        notScope cannot be placed without reading the hierarchy and is not treated as excluding."""
        if not ids.is_inherited_by(self.scope_id, resource_id):
            return False
        return not any(
            ns.strip().lower().startswith("/subscriptions/") and ids.is_at_or_above(ns, resource_id)
            for ns in self.not_scopes
        )


@dataclass(frozen=True, slots=True)
class PolicyDefinitionInfo:
    """What the Guard needs of a policy (set) definition: the ``excludedNamespaces`` parameter's
    default (None: the definition has no such parameter; () : it has one with no default)."""

    id: str
    excluded_namespaces_default: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class LockInfo:
    """A management lock: ``level`` is ``CanNotDelete`` or ``ReadOnly``; ``scope`` is what it locks
    (the id before ``/providers/Microsoft.Authorization/locks/``): it applies to everything below."""

    id: str
    level: str

    @property
    def scope(self) -> str:
        index = self.id.lower().rfind("/providers/microsoft.authorization/locks/")
        return self.id[:index] if index > 0 else self.id


@dataclass(frozen=True, slots=True)
class VeleroResult:
    found: bool
    detail: str


Tags: TypeAlias = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ConsentFacts:
    """What the consent rule reads (docs/trust-model.md): the tags of every scope the Guard might
    write to, of their resource groups and subscriptions (keyed by normalised id; a scope outside
    GUARD_SUBSCRIPTIONS is Unreadable), and the operator's trust domains (GUARD_TRUST_DOMAINS)."""

    scope_tags: Mapping[str, Read[Tags]] = field(default_factory=dict)
    trust_domains: tuple[str, ...] = ()

    def tags_of(self, resource_id: str) -> Read[Tags] | None:
        """The tags read for ``resource_id``; None when it was not read at all."""
        return self.scope_tags.get(ids.normalize(resource_id))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything read from ARM for one target, at one moment.

    ``role_assignments`` is keyed by lower-cased subscription id: every assignment visible in
    that subscription that matters to the matrix (scopes at, above or below the subscription).
    ``velero`` is None when in-cluster checks are disabled. ``user_identity_exists`` is read only
    when the backup instance runs under a user-assigned identity (else None).
    """

    target: Target
    cluster: Read[ClusterInfo]
    vault: Read[VaultInfo]
    backup_instance: Read[BackupInstanceInfo | None]
    policy: Read[PolicyInfo | None]
    provider_state: Read[str]
    extension: Read[ExtensionInfo | None]
    storage_account: Read[StorageAccountInfo | None]
    blob_container: Read[BlobContainerInfo | None]
    trusted_access: Read[tuple[TrustedAccessBinding, ...]]
    role_assignments: Mapping[str, Read[tuple[RoleAssignmentInfo, ...]]]
    node_subnet_nsgs: Read[tuple[NsgInfo, ...]]
    policy_assignments: Read[tuple[PolicyAssignmentInfo, ...]]
    velero: Read[VeleroResult] | None = None
    user_identity_exists: Read[bool] | None = None  # the instance's user-assigned identity, when it has one
    consent: ConsentFacts = field(default_factory=ConsentFacts)
    jobs: Read[InstanceJobs] | None = None  # the instance's backup jobs (backup targets only)
    locks: Mapping[str, Read[tuple[LockInfo, ...]]] = field(default_factory=dict)  # by subscription (lower)
    read_at: datetime | None = None  # when the reads were taken (UTC): the outcome checks' "now"

    @property
    def opt_out(self) -> OptOut:
        """The strictest opt-out tag value on the cluster or the vault ('ignore' > 'report-only')."""
        values: set[str] = set()
        for res in (self.cluster, self.vault):
            if isinstance(res, (ClusterInfo, VaultInfo)):
                value = ids.tag(res.tags, OPT_OUT_TAG)
                if value:
                    values.add(value.strip().lower())
        if "ignore" in values:
            return "ignore"
        if "report-only" in values:
            return "report-only"
        return "none"

    def vault_tag(self, name: str) -> str | None:
        return ids.tag(self.vault.tags, name) if isinstance(self.vault, VaultInfo) else None

    @property
    def staging_resource_group_id(self) -> str | None:
        return self.vault_tag(STAGING_RG_TAG)

    @property
    def staging_storage_account_id(self) -> str | None:
        return self.vault_tag(STAGING_STORAGE_TAG)


OutcomeResult = Literal["applied", "already-present", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one remediation action.

    ``action`` is a stable machine id (for example ``role-assignment:<check id>``), ``check`` the
    check it repairs, ``description`` what was attempted in words, ``reason`` why it ended so.
    """

    action: str
    check: str
    result: OutcomeResult
    description: str
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "action": self.action,
            "check": self.check,
            "result": self.result,
            "description": self.description,
            "reason": self.reason,
        }


TriggerKind = Literal["event", "scan", "cli", "http", "poison"]


@dataclass(frozen=True, slots=True)
class Trigger:
    """What caused a reconcile: recorded with every history row (event id, scan id, CLI user...)."""

    kind: TriggerKind
    id: str
    detail: str = ""
