"""Vault identity check: the vault has the identity its backup instance runs under.

``vault.identity`` reads ``properties.identityDetails`` of the backup instance and the vault's
``identity`` (see :mod:`shared.vault_identity`):

- the instance uses the system-assigned identity (or names none): the vault must have one, else
  Azure fails backups with ``UserErrorSystemIdentityNotEnabledWithVault``;
- the instance uses a user-assigned identity: it must still be attached to the vault and still
  exist, else ``UserErrorUserIdentityNotFoundOrNotAssociatedWithVault``.

The Guard never changes a vault's identity: the finding carries the portal step and az command.
"""

from __future__ import annotations

from shared import regions, vault_identity
from shared.checks._common import failing, not_applicable, passed, unknown, unreadable
from shared.checks.roles import vault_identity_fix
from shared.model import Finding, Snapshot, Status, Unreadable


def check_identity(snapshot: Snapshot) -> Finding:
    """vault.identity: see the module docstring."""
    check = "vault.identity"
    vault = snapshot.vault
    if isinstance(vault, Unreadable):
        return unreadable(check, "backup vault", vault)
    chosen = vault_identity.choose(vault, snapshot.backup_instance)
    if chosen.principal_id is None:
        if chosen.unknown:
            return unknown(check, chosen.problem)
        summary, command = vault_identity_fix(snapshot, vault)
        return failing(
            check,
            f"{chosen.problem}; expected the identity the backup instance runs under "
            f"(Azure fails its backups with {chosen.code})",
            summary,
            command,
        )
    if chosen.kind == "user-assigned":
        exists = snapshot.user_identity_exists
        if isinstance(exists, Unreadable):
            return unknown(
                check, f"could not read user-assigned identity {chosen.identity_id}: {exists.reason}"
            )
        if exists is False:
            summary, _ = vault_identity_fix(snapshot, vault)
            return failing(
                check,
                f"user-assigned identity {chosen.identity_id}, which the backup instance runs under, no "
                f"longer exists (it is still listed on vault {vault.name}); expected an existing identity "
                f"(Azure fails its backups with {vault_identity.USER_NOT_ASSOCIATED})",
                "Recreate the identity (and its role assignments) or switch the backup instance to an "
                "identity that exists.",
                None,
            )
        return passed(
            check,
            f"backup vault {vault.name} uses user-assigned identity {chosen.identity_id} (principal "
            f"{chosen.principal_id}), attached to the vault",
        )
    return passed(
        check,
        f"backup vault {vault.name} uses its system-assigned identity (principal {chosen.principal_id})",
    )


def check_tier_region_supported(snapshot: Snapshot) -> Finding:
    """vault.tier-region-supported: where the backup policy has a vault-store rule, the vault's
    region supports the Vault tier (:mod:`shared.regions`, from Microsoft's support matrix); else
    Azure fails with ``DppUserErrorVaultTierPolicyNotSupported``. Not applicable without a
    vault-store rule; a region the matrix does not name warns."""
    check = "vault.tier-region-supported"
    policy = snapshot.policy
    if isinstance(policy, Unreadable):
        return unreadable(check, "backup policy", policy)
    if policy is None or not policy.uses_vault_store:
        return not_applicable(check, "the backup policy has no vault-store rule (operational tier only)")
    vault = snapshot.vault
    if isinstance(vault, Unreadable):
        return unreadable(check, "backup vault", vault)
    region = regions.region_key(vault.location)
    if region in regions.VAULT_TIER_REGIONS:
        return passed(check, f"vault {vault.name} is in {vault.location}, which supports the Vault tier")
    policy_name = policy.id.rstrip("/").rsplit("/", 1)[-1]
    fix = (
        "Use an operational-tier-only policy for this vault, or a vault in a region that supports the "
        "Vault tier (Microsoft's AKS backup support matrix lists them).",
        f"az dataprotection backup-policy show --ids {policy.id}",
    )
    if region in regions.OPERATIONAL_ONLY_REGIONS:
        return failing(
            check,
            f"policy {policy_name} has a vault-store rule but vault {vault.name} is in {vault.location}, "
            "which supports only the Operational tier (DppUserErrorVaultTierPolicyNotSupported); expected "
            "a region that supports the Vault tier",
            *fix,
        )
    return failing(
        check,
        f"policy {policy_name} has a vault-store rule and vault {vault.name} is in {vault.location}, a "
        "region the support matrix does not list for the Vault tier; expected a listed region",
        *fix,
        status=Status.WARN,
    )
