"""Role checks: one ``role.*`` finding per row of :data:`shared.roles.ROLE_MATRIX`.

A row holds when ``snapshot.role_assignments[subscription of the scope]`` contains an assignment of
the row's role GUID (either roleDefinitionId form, any casing) to the resolved principal (any
casing) at the scope or an ancestor scope. Resolution (principal, scope, applicability) is
:func:`shared.roles.resolve_role_rows`, shared with the remediation planner.

Status precedence: not-applicable; then fail for a definite defect (e.g. vault without identity,
extension not installed); then unknown for a failed read; then the assignment lookup.
"""

from __future__ import annotations

from shared import ids
from shared.checks._common import failing, not_applicable, passed, unknown
from shared.model import Finding, RoleAssignmentInfo, Snapshot, Unreadable, VaultInfo
from shared.roles import Gap, ResolvedRole, resolve_role_rows

_ASSIGNEE = {"vault": "vault identity", "cluster": "cluster identity", "extension": "extension identity"}


def assignment_command(principal_id: str, role_guid: str, scope_id: str) -> str:
    """The exact az command creating one matrix assignment."""
    return (
        f"az role assignment create --assignee-object-id {principal_id} --assignee-principal-type "
        f"ServicePrincipal --role {role_guid} --scope {scope_id}"
    )


def find_assignment(
    assignments: tuple[RoleAssignmentInfo, ...], principal_id: str, role_guid: str, scope_id: str
) -> RoleAssignmentInfo | None:
    """The first assignment of ``role_guid`` to ``principal_id`` at ``scope_id`` or above, if any."""
    wanted_principal = principal_id.strip().lower()
    wanted_role = role_guid.strip().lower()
    for assignment in assignments:
        if (
            assignment.principal_id.strip().lower() == wanted_principal
            and assignment.role_guid == wanted_role
            and ids.is_at_or_above(assignment.scope, scope_id)
        ):
            return assignment
    return None


def _gap_fix(snapshot: Snapshot, resolved: ResolvedRole, gap: Gap) -> tuple[str, str | None]:
    row = resolved.row
    if gap is resolved.principal_gap and row.assignee == "vault" and isinstance(snapshot.vault, VaultInfo):
        vault = snapshot.vault
        rg = ids.resource_group_of(vault.id) or "<resource-group>"
        return (
            "In the portal, Backup vault > Settings > Identity: turn on the system-assigned identity.",
            f"az dataprotection backup-vault update --resource-group {rg} --vault-name {vault.name} "
            f"--subscription {ids.subscription_of(vault.id)} --type SystemAssigned",
        )
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
    found = find_assignment(assignments, principal_id, row.role_guid, scope_id)
    if found is not None:
        where = "at the scope" if ids.same(found.scope, scope_id) else f"inherited from {found.scope}"
        return passed(check, f"{what} {principal_id} holds on {scope_id} ({where})")
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
