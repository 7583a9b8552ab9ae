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

from shared import vault_identity
from shared.checks._common import failing, passed, unknown, unreadable
from shared.checks.roles import vault_identity_fix
from shared.model import Finding, Snapshot, Unreadable


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
