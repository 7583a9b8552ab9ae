"""Trusted access check: a binding from the Backup vault with role backup-operator, succeeded.

Reads ``snapshot.trusted_access`` (the cluster's trustedAccessRoleBindings) and the target's vault id.
"""

from __future__ import annotations

import re

from shared import ids
from shared.checks._common import cluster_name, cluster_rg, cluster_sub, failing, passed, unreadable
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
