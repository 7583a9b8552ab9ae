"""Role checks: one ``role.*`` finding per row of :data:`shared.roles.ROLE_MATRIX`.

A row holds when ``snapshot.role_assignments[subscription of the scope]`` contains an assignment of
the row's role GUID (either roleDefinitionId form, any casing) to the resolved principal (any
casing) at the scope or an ancestor scope. Resolution (principal, scope, applicability) is
:func:`shared.roles.resolve_role_rows`, shared with the remediation planner.

Status precedence: not-applicable; then fail for a definite defect (e.g. vault without identity,
extension not installed); then unknown for a failed read; then the assignment lookup.
"""

from __future__ import annotations

from shared import ids, vault_identity
from shared.checks._common import failing, not_applicable, passed, unknown
from shared.conditions import covers_container
from shared.model import (
    ExtensionInfo,
    Finding,
    RoleAssignmentInfo,
    RoleAssignments,
    Snapshot,
    Status,
    Unreadable,
    VaultInfo,
)
from shared.roles import Gap, ResolvedRole, RoleRow, resolve_role_rows

_ASSIGNEE = {"vault": "vault identity", "cluster": "cluster identity", "extension": "extension identity"}


def assignment_command(principal_id: str, role_guid: str, scope_id: str) -> str:
    """The exact az command creating one matrix assignment."""
    return (
        f"az role assignment create --assignee-object-id {principal_id} --assignee-principal-type "
        f"ServicePrincipal --role {role_guid} --scope {scope_id}"
    )


def matching_assignments(
    assignments: tuple[RoleAssignmentInfo, ...], principal_id: str, role_guid: str, scope_id: str
) -> list[RoleAssignmentInfo]:
    """Assignments of ``role_guid`` to ``principal_id`` at ``scope_id`` or inherited by it: a parent
    scope, the root, or a management group (listed in the scope's subscription, so above it)."""
    wanted_principal = principal_id.strip().lower()
    wanted_role = role_guid.strip().lower()
    if isinstance(assignments, RoleAssignments):  # a reader's listing: indexed by principal and role
        return [
            a for a in assignments.of(wanted_principal, wanted_role) if ids.is_inherited_by(a.scope, scope_id)
        ]
    return [
        a
        for a in assignments
        if a.principal_id.strip().lower() == wanted_principal
        and a.role_guid == wanted_role
        and ids.is_inherited_by(a.scope, scope_id)
    ]


def find_assignment(
    assignments: tuple[RoleAssignmentInfo, ...], principal_id: str, role_guid: str, scope_id: str
) -> RoleAssignmentInfo | None:
    """The first assignment of ``role_guid`` to ``principal_id`` at ``scope_id`` or above, if any."""
    found = matching_assignments(assignments, principal_id, role_guid, scope_id)
    return found[0] if found else None


def _is_data_role(row: RoleRow) -> bool:
    return row.role_name.startswith("Storage Blob Data")


def _container(snapshot: Snapshot, row: RoleRow) -> str | None:
    """The blob container a data role must reach (the backup container for storage-account rows)."""
    if row.scope == "storage-account" and isinstance(snapshot.extension, ExtensionInfo):
        return snapshot.extension.blob_container
    return None


def _where(found: RoleAssignmentInfo, scope_id: str) -> str:
    return "at the scope" if ids.same(found.scope, scope_id) else f"inherited from {found.scope}"


def vault_identity_fix(snapshot: Snapshot, vault: VaultInfo) -> tuple[str, str | None]:
    """Portal step and az command restoring the vault identity the target needs."""
    chosen = vault_identity.choose(vault, snapshot.backup_instance)
    rg = ids.resource_group_of(vault.id) or "<resource-group>"
    base = (
        f"az dataprotection backup-vault update --resource-group {rg} --vault-name {vault.name} "
        f"--subscription {ids.subscription_of(vault.id)}"
    )
    if chosen.code == vault_identity.USER_NOT_ASSOCIATED and chosen.identity_id:
        kind = "SystemAssigned,UserAssigned" if vault.system_identity_enabled else "UserAssigned"
        return (
            f"In the portal, Backup vault > Settings > Identity > User assigned: add {chosen.identity_id} "
            "back, or point the backup instance at an identity the vault has.",
            f"{base} --type {kind} --uami {chosen.identity_id}",
        )
    kind = "SystemAssigned,UserAssigned" if vault.user_assigned else "SystemAssigned"
    return (
        "In the portal, Backup vault > Settings > Identity: turn on the system-assigned identity.",
        f"{base} --type {kind}",
    )


def _gap_fix(snapshot: Snapshot, resolved: ResolvedRole, gap: Gap) -> tuple[str, str | None]:
    row = resolved.row
    if gap is resolved.principal_gap and row.assignee == "vault" and isinstance(snapshot.vault, VaultInfo):
        return vault_identity_fix(snapshot, snapshot.vault)
    if gap is resolved.principal_gap and row.assignee == "cluster":
        rg = ids.resource_group_of(snapshot.target.cluster_id) or "<resource-group>"
        return (
            "In the portal, cluster > Settings > Identity: switch the cluster to a managed identity.",
            f"az aks update --resource-group {rg} --name {ids.name_of(snapshot.target.cluster_id)} "
            f"--subscription {ids.subscription_of(snapshot.target.cluster_id)} --enable-managed-identity",
        )
    if row.assignee == "extension" or row.scope == "storage-account":
        return ("Install the backup extension with a storage location first (see extension.installed).", None)
    return (f"Correct the vault tag so the {row.scope} scope is a valid resource id.", None)


def check_role(snapshot: Snapshot, resolved: ResolvedRole) -> Finding:
    """One ``role.*`` finding for one resolved matrix row (see the module docstring)."""
    row = resolved.row
    check = row.check
    what = f"{row.role_name} ({row.role_guid}) for the {_ASSIGNEE[row.assignee]}"
    if resolved.applicable is False:
        return not_applicable(check, resolved.not_applicable_reason)
    gaps = [g for g in (resolved.applicability_gap, resolved.principal_gap, resolved.scope_gap) if g]
    for gap in gaps:
        if not gap.unknown:
            summary, command = _gap_fix(snapshot, resolved, gap)
            return failing(check, f"{what} cannot hold: {gap.reason}", summary, command)
    if gaps:
        return unknown(check, f"{what}: {gaps[0].reason}")
    principal_id, scope_id = resolved.principal_id, resolved.scope_id
    assert principal_id is not None and scope_id is not None
    try:
        subscription = ids.subscription_of(scope_id)
    except ValueError:
        return unknown(check, f"{what}: scope {scope_id!r} is not an ARM resource id")
    assignments = snapshot.role_assignments.get(subscription)
    if assignments is None:
        return unknown(check, f"{what}: role assignments of subscription {subscription} were not read")
    if isinstance(assignments, Unreadable):
        return unknown(
            check,
            f"{what}: could not read role assignments of subscription {subscription}: {assignments.reason}",
        )
    found = matching_assignments(assignments, principal_id, row.role_guid, scope_id)
    plain = [a for a in found if not a.condition or not _is_data_role(row)]
    if plain:
        return passed(check, f"{what} {principal_id} holds on {scope_id} ({_where(plain[0], scope_id)})")
    container = _container(snapshot, row)
    covering = [a for a in found if covers_container(a.condition, container) is True]
    if covering:
        return passed(
            check,
            f"{what} {principal_id} holds on {scope_id} ({_where(covering[0], scope_id)}) under the "
            f"condition {covering[0].condition!r}, which allows container {container}",
        )
    if found:
        conditional = found[0]
        target = f"container {container}" if container else "the container the backup uses"
        return failing(
            check,
            f"{what} {principal_id} is granted on {scope_id} ({_where(conditional, scope_id)}) only under "
            f"the condition {conditional.condition!r}, which does not (or cannot be shown to) allow "
            f"{target}",
            f"In the portal, {scope_id} > Access control (IAM) > Role assignments: edit the condition of "
            f"{row.role_name} for the {_ASSIGNEE[row.assignee]} so it allows {target}, or add an "
            "unconditional assignment.",
            assignment_command(principal_id, row.role_guid, scope_id),
            status=Status.WARN,
        )
    return failing(
        check,
        f"no assignment of {what} {principal_id} at {scope_id} or above; expected one",
        f"In the portal, {scope_id} > Access control (IAM) > Add role assignment: {row.role_name} to the "
        f"{_ASSIGNEE[row.assignee]} (object id {principal_id}).",
        assignment_command(principal_id, row.role_guid, scope_id),
    )


def check_roles(snapshot: Snapshot) -> list[Finding]:
    """Every ``role.*`` finding, in matrix order."""
    return [check_role(snapshot, resolved) for resolved in resolve_role_rows(snapshot)]
