"""Trusted access check: a binding from the Backup vault with role backup-operator, succeeded.

Reads ``snapshot.trusted_access`` (the cluster's trustedAccessRoleBindings) and the target's vault id.
"""

from __future__ import annotations

import re

from shared import ids
from shared.checks._common import cluster_name, cluster_rg, cluster_sub, failing, passed, unknown, unreadable
from shared.model import Finding, Snapshot, Status, TrustedAccessBinding, Unreadable

BACKUP_OPERATOR_ROLE = "Microsoft.DataProtection/backupVaults/backup-operator"
_TRANSITIONAL = {"updating", "creating"}


def _has_role(binding: TrustedAccessBinding) -> bool:
    return any(role.strip().lower() == BACKUP_OPERATOR_ROLE.lower() for role in binding.roles)


def _state(binding: TrustedAccessBinding) -> str:
    # provisioningState is read-only and always returned by current API versions; an SDK model
    # that omits it describes a binding that was accepted, so None counts as Succeeded.
    return (binding.provisioning_state or "Succeeded").strip()


def binding_name(vault_id: str) -> str:
    """A valid binding name for the vault (1-24 of [A-Za-z0-9-])."""
    base = re.sub(r"[^A-Za-z0-9-]", "", ids.name_of(vault_id)) or "vault"
    return ("backup-" + base)[:24].rstrip("-")


def check_binding(snapshot: Snapshot) -> Finding:
    """trusted-access.binding: pass with a Succeeded binding from the vault holding backup-operator;
    warn while one is Updating/Creating; fail when none exists or the vault's binding is broken
    (role missing, Failed, Canceled, Deleting)."""
    check = "trusted-access.binding"
    bindings = snapshot.trusted_access
    if isinstance(bindings, Unreadable):
        return unreadable(check, "trusted access role bindings", bindings)
    vault_id = snapshot.target.vault_id
    from_vault = [b for b in bindings if ids.same(b.source_resource_id, vault_id)]
    expected = f"expected a binding from vault {vault_id} with role {BACKUP_OPERATOR_ROLE} in state Succeeded"
    for binding in from_vault:
        if _has_role(binding) and _state(binding).lower() == "succeeded":
            return passed(
                check, f"binding {binding.name} from vault {vault_id} has {BACKUP_OPERATOR_ROLE}, Succeeded"
            )
    target_args = (
        f"--resource-group {cluster_rg(snapshot)} --cluster-name {cluster_name(snapshot)} "
        f"--subscription {cluster_sub(snapshot)}"
    )
    summary = (
        "In the portal, Backup vault > Backup > configure backup for the cluster grants trusted access; "
        "or create the binding with the CLI."
    )
    if not from_vault:
        return failing(
            check,
            f"no trusted access binding from vault {vault_id} ({len(bindings)} other binding(s)); {expected}",
            summary,
            f"az aks trustedaccess rolebinding create {target_args} --name {binding_name(vault_id)} "
            f"--source-resource-id {vault_id} --roles {BACKUP_OPERATOR_ROLE}",
        )
    transitional = [b for b in from_vault if _has_role(b) and _state(b).lower() in _TRANSITIONAL]
    if transitional:
        binding = transitional[0]
        return failing(
            check,
            f"binding {binding.name} from vault {vault_id} is {_state(binding)}; {expected}",
            "Wait for the binding operation to finish; re-check in a few minutes.",
            f"az aks trustedaccess rolebinding show {target_args} --name {binding.name}",
            status=Status.WARN,
        )
    binding = from_vault[0]
    problems = []
    if not _has_role(binding):
        problems.append(f"roles are {', '.join(binding.roles) or 'empty'}")
    if _state(binding).lower() != "succeeded":
        problems.append(f"provisioningState is {_state(binding)}")
    return failing(
        check,
        f"binding {binding.name} from vault {vault_id} is broken ({'; '.join(problems)}); {expected}",
        summary,
        f"az aks trustedaccess rolebinding update {target_args} --name {binding.name} "
        f"--roles {BACKUP_OPERATOR_ROLE}",
    )


MAX_BINDINGS = 8
"""Trusted access role bindings AKS allows per cluster."""
NEAR_LIMIT = MAX_BINDINGS - 1


def _target_args(snapshot: Snapshot) -> str:
    return (
        f"--resource-group {cluster_rg(snapshot)} --cluster-name {cluster_name(snapshot)} "
        f"--subscription {cluster_sub(snapshot)}"
    )


def check_binding_limit(snapshot: Snapshot) -> Finding:
    """trusted-access.binding-limit: fewer than 8 bindings pass; 7 warn (one left); 8 warn when the
    vault already has a binding (no room for another service), fail when it has none (its binding
    cannot be created until another is deleted)."""
    check = "trusted-access.binding-limit"
    bindings = snapshot.trusted_access
    if isinstance(bindings, Unreadable):
        return unreadable(check, "trusted access role bindings", bindings)
    count = len(bindings)
    vault_id = snapshot.target.vault_id
    has_vault = any(ids.same(b.source_resource_id, vault_id) for b in bindings)
    used = f"{count} of {MAX_BINDINGS} trusted access bindings used"
    if count < NEAR_LIMIT:
        return passed(check, used)
    listing = f"az aks trustedaccess rolebinding list {_target_args(snapshot)}"
    summary = "Delete trusted access bindings no longer needed (stale ones first) to make room."
    if count >= MAX_BINDINGS and not has_vault:
        return failing(
            check,
            f"{used} and none is from vault {vault_id}: its binding cannot be created until one is deleted; "
            f"expected fewer than {MAX_BINDINGS}",
            summary,
            listing,
        )
    left = "none left" if count >= MAX_BINDINGS else f"{MAX_BINDINGS - count} left"
    return failing(
        check,
        f"{used} ({left}); expected fewer than {NEAR_LIMIT} so another service can still be bound",
        summary,
        listing,
        status=Status.WARN,
    )


def check_stale_bindings(snapshot: Snapshot) -> Finding:
    """trusted-access.stale-bindings: warn for bindings from a Backup vault that no longer exists
    (report-only: the Guard never deletes a binding whose requester is gone; the fix is the exact
    delete command). Vaults the Guard may not read (outside GUARD_SUBSCRIPTIONS, 403) are named,
    not judged; a read that failed otherwise makes the check unknown."""
    check = "trusted-access.stale-bindings"
    bindings = snapshot.trusted_access
    if isinstance(bindings, Unreadable):
        return unreadable(check, "trusted access role bindings", bindings)
    stale: list[TrustedAccessBinding] = []
    unchecked: list[str] = []
    errors: list[str] = []
    for binding in bindings:
        exists = snapshot.binding_sources.get(ids.normalize(binding.source_resource_id))
        if exists is False:
            stale.append(binding)
        elif isinstance(exists, Unreadable):
            (unchecked if exists.kind == "denied" else errors).append(f"{binding.name}: {exists.reason}")
    if stale:
        names = ", ".join(f"{b.name} (vault {b.source_resource_id})" for b in stale)
        return failing(
            check,
            f"{len(stale)} trusted access binding(s) from a Backup vault that no longer exists: {names}; "
            "expected every binding's source vault to exist",
            "Delete the stale binding(s): they use one of the cluster's 8 binding slots and grant "
            "nothing any more (the Guard does not delete bindings).",
            " && ".join(
                f"az aks trustedaccess rolebinding delete {_target_args(snapshot)} --name {b.name}"
                for b in stale
            ),
        )
    if errors:
        return unknown(check, "could not check the source vault of " + "; ".join(errors))
    checked = len(snapshot.binding_sources) - len(unchecked)
    note = f"; not checked (no read access): {'; '.join(unchecked)}" if unchecked else ""
    return passed(
        check, f"no binding from a vault that no longer exists ({checked} other vault(s) checked){note}"
    )
