"""plan: findings + settings -> the actions the Guard may take for one target. Pure; no I/O.

Safety rules (docs/architecture.md, "Safety rules for writes"; docs/trust-model.md) enforced
here, before anything reaches ``apply``:

- only ``fail`` findings of checks the catalog marks ``guard`` / ``guard-cluster`` get an action;
- ``guard-cluster`` fixes (CSI driver, snapshot controller, extension install) need
  ``GUARD_REMEDIATE_CLUSTER=true``; the extension install also needs a storage location from
  settings or from the cluster/vault tags;
- a target outside ``GUARD_SUBSCRIPTIONS`` or opted out (``aks-backup-guard=ignore|report-only``)
  gets no action; every write scope must also lie in a watched subscription;
- role assignments come only from :func:`shared.roles.resolve_role_rows` (matrix GUID, matrix
  scope, principal read from ARM) and the GUID must be in :data:`ALLOWED_ROLE_GUIDS`; never to
  the Guard's own principal (``GUARD_PRINCIPAL_ID``);
- **consent** (docs/trust-model.md): every action names its requester (the vault or the cluster)
  and the scope it writes; it is planned only when :func:`shared.consent.decide` allows every
  (scope, requester) pair it needs, the target's own (cluster <- vault) included. A refusal says
  the Guard is not authorised and carries the command the scope's owner runs to consent. An
  extension install takes a storage location from the vault's tags only when the cluster
  consents to that account.

Refusals are returned as ``skipped`` outcomes with the reason, so they are reported, not lost.
``GUARD_MODE=report`` still returns the actions: :func:`shared.remediation.apply.apply` skips them
("report mode") so people see what enforce mode would do.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

from shared import consent, ids
from shared.catalog import CHECKS
from shared.checks.trusted_access import BACKUP_OPERATOR_ROLE, MAX_BINDINGS
from shared.model import (
    BLOB_CONTAINER_TAG,
    EXTENSION_TYPE,
    STORAGE_ACCOUNT_TAG,
    ClusterInfo,
    ExtensionInfo,
    Finding,
    Outcome,
    OutcomeResult,
    Snapshot,
    Status,
    StorageAccountInfo,
    Unreadable,
    VaultInfo,
)
from shared.roles import ALLOWED_ROLE_GUIDS, ResolvedRole, resolve_role_rows
from shared.settings import Settings

ActionKind = Literal[
    "role-assignment",
    "trusted-access",
    "provider-registration",
    "storage-network",
    "cluster-storage-profile",
    "extension-install",
]

CLUSTER_KINDS: frozenset[str] = frozenset({"cluster-storage-profile", "extension-install"})
"""Action kinds that change the cluster (need ``GUARD_REMEDIATE_CLUSTER=true``)."""

NAMESPACE = uuid.UUID("5f0c3d52-6a0e-4a8e-9c55-0b6a1c2d7e41")
"""Fixed uuid5 namespace of the Guard's deterministic names (never change: names must be stable)."""

KUBERNETES_CONFIGURATION = "Microsoft.KubernetesConfiguration"
_REPAIRABLE_EXTENSION_STATES = frozenset({"failed", "canceled"})
EXTENSION_NAME = "azure-aks-backup"
EXTENSION_NAMESPACE = "dataprotection-microsoft"


def role_assignment_name(scope: str, principal_id: str, role_guid: str) -> str:
    """The deterministic role assignment name: uuid5 of (scope, principal, role GUID), all lower-cased."""
    key = f"{ids.normalize(scope)}|{principal_id.strip().lower()}|{role_guid.strip().lower()}"
    return str(uuid.uuid5(NAMESPACE, key))


def trusted_access_binding_name(vault_id: str) -> str:
    """The deterministic binding name for a vault: ``abg-`` + 16 hex (valid: [A-Za-z0-9-], <= 24)."""
    return "abg-" + uuid.uuid5(NAMESPACE, ids.normalize(vault_id)).hex[:16]


def role_definition_id(scope: str, role_guid: str) -> str:
    sub = ids.subscription_of(scope)
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


@dataclass(frozen=True)
class RoleAssignmentParams:
    scope: str
    principal_id: str
    role_guid: str
    role_name: str
    name: str  # deterministic assignment name

    @property
    def role_definition_id(self) -> str:
        return role_definition_id(self.scope, self.role_guid)


@dataclass(frozen=True)
class TrustedAccessParams:
    cluster_id: str
    vault_id: str
    binding_name: str
    roles: tuple[str, ...]  # the roles the binding must end up with (existing ones kept)
    repair: bool  # True: an existing broken binding from the vault is updated in place


@dataclass(frozen=True)
class ProviderParams:
    subscription_id: str
    namespace: str


@dataclass(frozen=True)
class StorageNetworkParams:
    account_id: str
    vault_id: str
    tenant_id: str


ClusterFeature = Literal["disk-csi-driver", "snapshot-controller"]


@dataclass(frozen=True)
class ClusterStorageProfileParams:
    cluster_id: str
    feature: ClusterFeature


@dataclass(frozen=True)
class ExtensionInstallParams:
    cluster_id: str
    extension_name: str
    storage_account_id: str
    blob_container: str
    tenant_id: str
    existing_configuration: tuple[tuple[str, str], ...] = ()  # a repair keeps the failed one's settings

    @property
    def repair(self) -> bool:
        return bool(self.existing_configuration)


ActionParams = (
    RoleAssignmentParams
    | TrustedAccessParams
    | ProviderParams
    | StorageNetworkParams
    | ClusterStorageProfileParams
    | ExtensionInstallParams
)


@dataclass(frozen=True)
class Action:
    """One idempotent write. ``id`` is stable across runs: ``<kind>:<check id>``.

    ``requester`` is the vault or cluster on whose behalf it is made; ``scopes`` every scope whose
    owner had to consent (the written scope first). Both are re-checked before the write."""

    kind: ActionKind
    check: str
    description: str
    params: ActionParams
    requester: str = ""
    scopes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.check}"

    def outcome(self, result: OutcomeResult, reason: str = "") -> Outcome:
        return Outcome(self.id, self.check, result, self.description, reason)

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.id,
            "kind": self.kind,
            "check": self.check,
            "description": self.description,
            "requester": self.requester,
            "scopes": list(self.scopes),
            "params": asdict(self.params),
        }


@dataclass(frozen=True)
class Plan:
    """What to write (``actions``, in apply order) and what was refused (``skipped``, with reasons)."""

    actions: tuple[Action, ...]
    skipped: tuple[Outcome, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "actions": [a.to_dict() for a in self.actions],
            "skipped": [o.to_dict() for o in self.skipped],
        }


_ORDER: dict[str, int] = {
    "provider-registration": 0,
    "cluster-storage-profile": 1,
    "extension-install": 2,
    "trusted-access": 3,
    "role-assignment": 4,
    "storage-network": 5,
}


def _skip(kind: str, check: str, description: str, reason: str) -> Outcome:
    return Outcome(f"{kind}:{check}", check, "skipped", description, reason)


_KINDS: dict[str, ActionKind] = {
    "trusted-access.binding": "trusted-access",
    "subscription.kubernetes-configuration-registered": "provider-registration",
    "storage.network-access": "storage-network",
    "cluster.disk-csi-driver": "cluster-storage-profile",
    "cluster.snapshot-controller": "cluster-storage-profile",
    "extension.installed": "extension-install",
    "restore-target.extension": "extension-install",
}


def _kind_for(check: str) -> ActionKind | None:
    if check.startswith("role."):
        return "role-assignment"
    return _KINDS.get(check)


def _watched(settings: Settings, resource_id: str) -> bool:
    try:
        return settings.watches(ids.subscription_of(resource_id))
    except ValueError:
        return False


LocationSource = Literal["settings", "cluster", "vault"]


def storage_location(snapshot: Snapshot, settings: Settings) -> tuple[str, str, LocationSource] | None:
    """(storage account id, blob container, source) for a new extension: settings first, then the
    cluster's tags, then the vault's. Both must come from the same source; None when none is
    complete. A ``vault`` location still needs the cluster's consent to the account (see plan)."""
    candidates: list[tuple[str | None, str | None, LocationSource]] = [
        (settings.extension_storage_account_id, settings.extension_blob_container, "settings")
    ]
    for res, source in ((snapshot.cluster, "cluster"), (snapshot.vault, "vault")):
        if isinstance(res, (ClusterInfo, VaultInfo)):
            candidates.append(
                (ids.tag(res.tags, STORAGE_ACCOUNT_TAG), ids.tag(res.tags, BLOB_CONTAINER_TAG), source)  # type: ignore[arg-type]
            )
    for account, container, where in candidates:
        if account and account.strip() and container and container.strip():
            return account.strip(), container.strip(), where
    return None


def _refusal(decision: consent.Consent) -> str:
    return f"not authorised: {decision.reason}; to consent, the scope's owner runs: {decision.command}"


def _with_consent(action: Action, snapshot: Snapshot) -> Action | Outcome:
    """Stamp the action with its requester and scopes, or refuse it when a consent is missing."""
    decisions = consent.write_consents(snapshot, action.check)
    refused = [d for d in decisions if not d.allowed]
    if refused:
        return action.outcome("skipped", _refusal(refused[0]))
    requester = decisions[-1].requester  # the write's own pair (the target's when it has none)
    scopes = tuple(dict.fromkeys(d.scope for d in reversed(decisions)))
    return replace(action, requester=requester, scopes=scopes)


def _role_action(resolved: ResolvedRole, settings: Settings, description: str) -> Action | Outcome:
    kind: ActionKind = "role-assignment"
    if not resolved.actionable:
        gaps = [g for g in (resolved.applicability_gap, resolved.principal_gap, resolved.scope_gap) if g]
        reason = gaps[0].reason if gaps else "the row does not apply"
        return _skip(kind, resolved.check, description, f"cannot assign: {reason}")
    assert resolved.principal_id is not None and resolved.scope_id is not None
    guid = resolved.role_guid.lower()
    if guid not in ALLOWED_ROLE_GUIDS:  # defence in depth: the matrix is the allow-list
        return _skip(kind, resolved.check, description, f"role {guid} is not in the role matrix")
    if not _watched(settings, resolved.scope_id):
        return _skip(
            kind,
            resolved.check,
            description,
            f"scope {resolved.scope_id} is outside GUARD_SUBSCRIPTIONS",
        )
    if settings.guard_principal_id and resolved.principal_id.strip().lower() == settings.guard_principal_id:
        return _skip(
            kind, resolved.check, description, "the principal is the Guard's own identity: never assigned"
        )
    params = RoleAssignmentParams(
        scope=resolved.scope_id,
        principal_id=resolved.principal_id,
        role_guid=guid,
        role_name=resolved.row.role_name,
        name=role_assignment_name(resolved.scope_id, resolved.principal_id, guid),
    )
    return Action(
        "role-assignment",
        resolved.check,
        f"assign {params.role_name} ({guid}) to {resolved.row.assignee} identity {params.principal_id} "
        f"at {params.scope}",
        params,
    )


def _trusted_access_action(snapshot: Snapshot, check: str) -> Action | Outcome:
    target = snapshot.target
    kind: ActionKind = "trusted-access"
    bindings = snapshot.trusted_access
    if isinstance(bindings, Unreadable):
        return _skip(
            kind, check, "create the trusted access binding", f"bindings unreadable: {bindings.reason}"
        )
    from_vault = [b for b in bindings if ids.same(b.source_resource_id, target.vault_id)]
    if from_vault:
        binding = from_vault[0]
        roles = tuple(binding.roles)
        if not any(r.strip().lower() == BACKUP_OPERATOR_ROLE.lower() for r in roles):
            roles = (*roles, BACKUP_OPERATOR_ROLE)
        params = TrustedAccessParams(target.cluster_id, target.vault_id, binding.name, roles, repair=True)
        description = f"repair trusted access binding {binding.name} (roles {', '.join(roles)})"
    elif len(bindings) >= MAX_BINDINGS:
        return _skip(
            kind,
            check,
            f"create the trusted access binding from vault {target.vault_id}",
            f"the cluster already has {len(bindings)} trusted access bindings, AKS's limit: delete one "
            "first (see trusted-access.binding-limit)",
        )
    else:
        name = trusted_access_binding_name(target.vault_id)
        params = TrustedAccessParams(
            target.cluster_id, target.vault_id, name, (BACKUP_OPERATOR_ROLE,), repair=False
        )
        description = (
            f"create trusted access binding {name} from vault {target.vault_id} ({BACKUP_OPERATOR_ROLE})"
        )
    return Action(kind, check, description, params)


def _storage_action(snapshot: Snapshot, check: str, settings: Settings) -> Action | Outcome:
    kind: ActionKind = "storage-network"
    description = "add the vault's resource-instance rule and AzureServices bypass to the storage account"
    account = snapshot.storage_account
    if not isinstance(account, StorageAccountInfo):
        return _skip(kind, check, description, "storage account not readable or not configured")
    vault = snapshot.vault
    if not isinstance(vault, VaultInfo) or not vault.tenant_id:
        return _skip(
            kind, check, description, "the vault's identity tenant is unknown (no managed identity?)"
        )
    if not _watched(settings, account.id):
        return _skip(kind, check, description, f"storage account {account.id} is outside GUARD_SUBSCRIPTIONS")
    return Action(
        kind,
        check,
        f"allow vault {snapshot.target.vault_id} on storage account {account.name} "
        "(resource-instance rule, bypass AzureServices; other rules kept)",
        StorageNetworkParams(account.id, snapshot.target.vault_id, vault.tenant_id),
    )


def _extension_action(snapshot: Snapshot, check: str, settings: Settings) -> Action | Outcome:
    kind: ActionKind = "extension-install"
    target = snapshot.target
    description = f"install the backup extension {EXTENSION_NAME} on {target.cluster_id}"
    extension = snapshot.extension
    if isinstance(extension, Unreadable):
        return _skip(kind, check, description, f"extensions unreadable: {extension.reason}")
    vault = snapshot.vault
    if not isinstance(vault, VaultInfo) or not vault.tenant_id:
        return _skip(kind, check, description, "the vault's identity tenant is unknown")
    if isinstance(extension, ExtensionInfo):
        state = (extension.provisioning_state or "").strip().lower()
        if state not in _REPAIRABLE_EXTENSION_STATES:
            return _skip(
                kind,
                check,
                description,
                f"extension {extension.name} is {extension.provisioning_state or 'in an unknown state'}: "
                "left alone (only Failed or Canceled installs are retried)",
            )
        if extension.storage_account_id is None or not extension.blob_container:
            return _skip(
                kind,
                check,
                description,
                f"extension {extension.name} is {extension.provisioning_state} and its configuration names "
                "no complete storage location: not retried automatically",
            )
        return Action(
            kind,
            check,
            f"retry the {extension.provisioning_state} backup extension {extension.name} on "
            f"{ids.name_of(target.cluster_id)} with its own configuration",
            ExtensionInstallParams(
                target.cluster_id,
                extension.name,
                extension.storage_account_id,
                extension.blob_container,
                vault.tenant_id,
                existing_configuration=tuple(sorted(extension.configuration.items())),
            ),
        )
    location = storage_location(snapshot, settings)
    if location is None:
        return _skip(
            kind,
            check,
            description,
            "no storage location: set GUARD_EXTENSION_STORAGE_ACCOUNT_ID and GUARD_EXTENSION_BLOB_CONTAINER, "
            f"or tag the cluster or vault with {STORAGE_ACCOUNT_TAG} and {BLOB_CONTAINER_TAG}",
        )
    account_id, container, source = location
    if not ids.is_shaped(account_id, "storage-account"):
        return _skip(kind, check, description, f"storage location {account_id!r} is not a storage account id")
    if source == "vault":
        # The cluster's backups (Secrets included) would land in that account: the cluster decides.
        agreed = consent.decide(consent.cluster_id(snapshot), account_id, snapshot.consent)
        if not agreed.allowed:
            return _skip(
                kind,
                check,
                description,
                f"storage location from the vault's tags needs the cluster's consent to {account_id}: "
                f"{_refusal(agreed)}",
            )
    return Action(
        kind,
        check,
        f"install {EXTENSION_TYPE} as {EXTENSION_NAME} on {ids.name_of(target.cluster_id)} "
        f"(storage {ids.name_of(account_id)}/{container})",
        ExtensionInstallParams(target.cluster_id, EXTENSION_NAME, account_id, container, vault.tenant_id),
    )


def _single_action(
    snapshot: Snapshot, finding: Finding, kind: ActionKind, settings: Settings
) -> Action | Outcome:
    target = snapshot.target
    check = finding.check
    if kind == "trusted-access":
        return _trusted_access_action(snapshot, check)
    if kind == "provider-registration":
        return Action(
            kind,
            check,
            f"register {KUBERNETES_CONFIGURATION} on subscription {target.subscription_id}",
            ProviderParams(target.subscription_id, KUBERNETES_CONFIGURATION),
        )
    if kind == "storage-network":
        return _storage_action(snapshot, check, settings)
    if kind == "cluster-storage-profile":
        feature: ClusterFeature = (
            "disk-csi-driver" if check == "cluster.disk-csi-driver" else "snapshot-controller"
        )
        what = "Azure Disk CSI driver" if feature == "disk-csi-driver" else "CSI snapshot controller"
        return Action(
            kind,
            check,
            f"enable the {what} on {ids.name_of(target.cluster_id)}",
            ClusterStorageProfileParams(target.cluster_id, feature),
        )
    return _extension_action(snapshot, check, settings)


def plan(snapshot: Snapshot, findings: Sequence[Finding], settings: Settings) -> Plan:
    """The actions that repair ``findings`` of ``snapshot.target`` within the safety rules.

    Pure and deterministic: the same inputs give the same actions in the same order (provider,
    cluster, extension, trusted access, roles, storage). Safe to call any number of times.
    """
    target = snapshot.target
    failing = [f for f in findings if f.status is Status.FAIL and f.check in CHECKS]
    fixable = [f for f in failing if CHECKS[f.check].remediable_by != "none"]
    if not fixable:
        return Plan((), ())

    def refuse_all(reason: str) -> Plan:
        return Plan(
            (),
            tuple(
                _skip(_kind_for(f.check) or "none", f.check, CHECKS[f.check].title, reason) for f in fixable
            ),
        )

    if not _watched(settings, target.cluster_id) or not _watched(settings, target.vault_id):
        return refuse_all("target is outside GUARD_SUBSCRIPTIONS")
    if snapshot.opt_out == "ignore":
        return refuse_all("target opted out (tag aks-backup-guard=ignore)")
    if snapshot.opt_out == "report-only":
        return refuse_all("target is report-only (tag aks-backup-guard=report-only)")
    agreed = consent.target_consent(snapshot)
    if not agreed.allowed:
        return refuse_all(_refusal(agreed))

    resolved = {r.check: r for r in resolve_role_rows(snapshot)}
    actions: list[Action] = []
    skipped: list[Outcome] = []
    for finding in fixable:
        kind = _kind_for(finding.check)
        title = CHECKS[finding.check].title
        if kind is None:
            skipped.append(
                _skip("none", finding.check, title, "no remediation is implemented for this check")
            )
            continue
        if CHECKS[finding.check].remediable_by == "guard-cluster" and not settings.remediate_cluster:
            skipped.append(
                _skip(kind, finding.check, title, "cluster changes need GUARD_REMEDIATE_CLUSTER=true")
            )
            continue
        if kind == "role-assignment":
            role = resolved.get(finding.check)
            result: Action | Outcome = (
                _role_action(role, settings, title)
                if role is not None
                else _skip(kind, finding.check, title, "not a role matrix row")
            )
        else:
            result = _single_action(snapshot, finding, kind, settings)
        if isinstance(result, Action):
            result = _with_consent(result, snapshot)
        if isinstance(result, Action):
            actions.append(result)
        else:
            skipped.append(result)
    actions.sort(key=lambda a: _ORDER[a.kind])
    return Plan(tuple(actions), tuple(skipped))


__all__ = [
    "CLUSTER_KINDS",
    "Action",
    "ActionKind",
    "ClusterStorageProfileParams",
    "ExtensionInstallParams",
    "Plan",
    "ProviderParams",
    "RoleAssignmentParams",
    "StorageNetworkParams",
    "TrustedAccessParams",
    "plan",
    "role_assignment_name",
    "storage_location",
    "trusted_access_binding_name",
]
