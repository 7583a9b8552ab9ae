"""Management locks that break AKS backups (Microsoft's AKS backup troubleshooting guide):

- ``locks.snapshot-rg-unlocked``: no ``CanNotDelete`` (Delete) or ``ReadOnly`` lock on the snapshot
  resource group, inherited ones included (a lock on the subscription applies to the group):
  Azure fails backups with ``UserErrorSnapshotResourceGroupHasLocks``.
- ``locks.storage-not-read-only``: no ``ReadOnly`` lock on the backup storage account, its resource
  group or its subscription: ``UserErrorBackupFailedBackupStorageLocationReadOnly`` (and the
  ``...DeleteBackupFailed...`` twin for expired backups).

Locks are read with one listing per subscription per run (``ArmReader.locks_in``). The Guard
never removes a lock (someone put it there on purpose): advice only.
"""

from __future__ import annotations

from shared import ids
from shared.checks._common import failing, not_applicable, passed, unknown
from shared.model import BackupInstanceInfo, Finding, LockInfo, Snapshot, StorageAccountInfo, Unreadable


def _covering(snapshot: Snapshot, scope: str, levels: tuple[str, ...]) -> list[LockInfo] | None:
    """Locks of ``levels`` at ``scope`` or above it; None when the locks could not be read."""
    try:
        sub = ids.subscription_of(scope).lower()
    except ValueError:
        return None
    listed = snapshot.locks.get(sub)
    if listed is None or isinstance(listed, Unreadable):
        return None
    wanted = {level.lower() for level in levels}
    return [lock for lock in listed if lock.level.lower() in wanted and ids.is_at_or_above(lock.scope, scope)]


def _reason(snapshot: Snapshot, scope: str) -> str:
    try:
        listed = snapshot.locks.get(ids.subscription_of(scope).lower())
    except ValueError:
        return f"not a resource id: {scope!r}"
    if isinstance(listed, Unreadable):
        return f"could not read management locks: {listed.reason}"
    return "management locks were not read"


def _describe(locks: list[LockInfo]) -> str:
    return ", ".join(f"{lock.level} lock {ids.name_of(lock.id)} on {lock.scope}" for lock in locks)


def _delete_command(lock: LockInfo) -> str:
    return f"az lock delete --ids {lock.id}"


def check_snapshot_rg_unlocked(snapshot: Snapshot) -> Finding:
    """locks.snapshot-rg-unlocked: see the module docstring."""
    check = "locks.snapshot-rg-unlocked"
    instance = snapshot.backup_instance
    if isinstance(instance, Unreadable):
        return unknown(check, f"could not read backup instance: {instance.reason}")
    if not isinstance(instance, BackupInstanceInfo) or not instance.snapshot_resource_group_id:
        return not_applicable(check, "no snapshot resource group (no backup instance)")
    group = instance.snapshot_resource_group_id
    found = _covering(snapshot, group, ("CanNotDelete", "ReadOnly"))
    if found is None:
        return unknown(check, _reason(snapshot, group))
    if not found:
        return passed(check, f"no Delete or ReadOnly lock on {group} or above")
    return failing(
        check,
        f"{_describe(found)}; expected no Delete or ReadOnly lock on the snapshot resource group "
        "(Azure fails backups with UserErrorSnapshotResourceGroupHasLocks)",
        "Remove the lock from the snapshot resource group (or its subscription), or configure backup with "
        "an unlocked snapshot resource group.",
        _delete_command(found[0]),
    )


def check_storage_not_read_only(snapshot: Snapshot) -> Finding:
    """locks.storage-not-read-only: see the module docstring."""
    check = "locks.storage-not-read-only"
    account = snapshot.storage_account
    if isinstance(account, Unreadable):
        if account.kind == "not-found":
            return not_applicable(check, "storage account does not exist (see extension.storage-location)")
        return unknown(check, f"could not read storage account: {account.reason}")
    if not isinstance(account, StorageAccountInfo):
        return not_applicable(check, "no backup storage account configured or found")
    found = _covering(snapshot, account.id, ("ReadOnly",))
    if found is None:
        return unknown(check, _reason(snapshot, account.id))
    if not found:
        return passed(check, f"no ReadOnly lock on {account.name} or above")
    return failing(
        check,
        f"{_describe(found)}; expected the backup storage account to be writable "
        "(Azure fails backups with UserErrorBackupFailedBackupStorageLocationReadOnly)",
        "Remove the ReadOnly lock (a CanNotDelete lock is enough to protect the account).",
        _delete_command(found[0]),
    )
