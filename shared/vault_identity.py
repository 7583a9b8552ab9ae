"""Which identity a Backup vault uses for one target, read from ARM (never from an event).

A vault can have a system-assigned identity, user-assigned identities, or both
(``identity.type`` ``SystemAssigned,UserAssigned``). A backup instance names the one it runs
under in ``properties.identityDetails``: ``useSystemAssignedIdentity`` or
``userAssignedIdentityArmUrl``. Instances without identityDetails (older ones) use the system
identity. Azure fails such backups with ``UserErrorSystemIdentityNotEnabledWithVault`` (system
identity turned off) or ``UserErrorUserIdentityNotFoundOrNotAssociatedWithVault`` (the named
identity is gone from the vault).

For a target without an instance (``prepare``, ``restore``) the instance does not exist yet:
the system identity when the vault has one, else the vault's only user-assigned identity, else
unknown (which of several identities is decided when the instance is created).

Pure: no I/O. :func:`choose` is shared by the ``vault.identity`` check and the role rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared import ids
from shared.model import BackupInstanceInfo, Read, Unreadable, VaultInfo

SYSTEM_NOT_ENABLED = "UserErrorSystemIdentityNotEnabledWithVault"
USER_NOT_ASSOCIATED = "UserErrorUserIdentityNotFoundOrNotAssociatedWithVault"


@dataclass(frozen=True)
class VaultIdentity:
    """The vault principal for one target, or why there is none.

    ``kind`` is ``system`` or ``user-assigned`` (``identity_id`` set) when known. ``problem`` is
    set when no principal can be named; ``unknown`` tells a failed read (or an undecided choice)
    from a defect, and ``code`` is Azure's error code for the defect.
    """

    principal_id: str | None
    kind: Literal["system", "user-assigned"] | None = None
    identity_id: str | None = None
    problem: str = ""
    unknown: bool = False
    code: str | None = None


def _system(vault: VaultInfo, why: str) -> VaultIdentity:
    if vault.system_identity_enabled:
        return VaultIdentity(vault.principal_id, "system")
    if not vault.user_assigned:
        problem = (
            f"backup vault {vault.name} has no managed identity (identity.type is "
            f"{vault.identity_type or 'None'}); expected a system-assigned identity"
        )
    else:
        problem = (
            f"{why} uses the vault's system-assigned identity, but backup vault {vault.name} has none "
            f"(identity.type is {vault.identity_type or 'None'})"
        )
    return VaultIdentity(None, "system", problem=problem, code=SYSTEM_NOT_ENABLED)


def choose(vault: Read[VaultInfo], instance: Read[BackupInstanceInfo | None]) -> VaultIdentity:
    """The identity the vault uses for the target of ``instance`` (see the module docstring)."""
    if isinstance(vault, Unreadable):
        return VaultIdentity(None, problem=f"could not read backup vault: {vault.reason}", unknown=True)
    if isinstance(instance, BackupInstanceInfo):
        if instance.uses_user_identity:
            wanted = ids.normalize(str(instance.user_identity_id))
            if wanted not in vault.user_assigned:
                return VaultIdentity(
                    None,
                    "user-assigned",
                    identity_id=instance.user_identity_id,
                    problem=(
                        f"backup instance runs under user-assigned identity {instance.user_identity_id}, "
                        f"which is not attached to backup vault {vault.name}"
                    ),
                    code=USER_NOT_ASSOCIATED,
                )
            principal = vault.user_assigned[wanted]
            if not principal:
                return VaultIdentity(
                    None,
                    "user-assigned",
                    identity_id=instance.user_identity_id,
                    problem=(
                        f"backup vault {vault.name} reports no principalId for {instance.user_identity_id}"
                    ),
                    unknown=True,
                )
            return VaultIdentity(principal, "user-assigned", identity_id=instance.user_identity_id)
        return _system(vault, "the backup instance")
    if isinstance(instance, Unreadable) and vault.user_assigned:
        return VaultIdentity(
            None,
            problem=(
                f"could not read the backup instance ({instance.reason}), so which of the vault's "
                "identities it uses is unknown"
            ),
            unknown=True,
        )
    if vault.system_identity_enabled or not vault.user_assigned:
        return _system(vault, "the target")
    attached = [(rid, pid) for rid, pid in vault.user_assigned.items() if pid]
    if len(vault.user_assigned) == 1 and attached:
        rid, principal = attached[0]
        return VaultIdentity(principal, "user-assigned", identity_id=rid)
    return VaultIdentity(
        None,
        problem=(
            f"backup vault {vault.name} has {len(vault.user_assigned)} user-assigned identities and no "
            "system identity; the backup instance, once created, decides which one is used"
        ),
        unknown=True,
    )
