"""Management locks on the snapshot resource group and the backup storage account (inherited included)."""

from __future__ import annotations

from shared.checks import evaluate
from shared.checks.locks import check_snapshot_rg_unlocked, check_storage_not_read_only
from shared.model import LockInfo, Status
from tests.unit import builders as b

LOCKS = "/providers/Microsoft.Authorization/locks"


def lock(scope: str, level: str, name: str = "l1") -> LockInfo:
    return LockInfo(f"{scope}{LOCKS}/{name}", level)


def test_unlocked_passes() -> None:
    snap = b.healthy()
    assert check_snapshot_rg_unlocked(snap).status is Status.PASS
    assert check_storage_not_read_only(snap).status is Status.PASS


def test_delete_lock_on_the_snapshot_group_fails_with_azures_code() -> None:
    snap = b.healthy(locks={b.SUB: (lock(b.SNAPSHOT_RG_ID, "CanNotDelete", "keep"),), b.STORAGE_SUB: ()})
    finding = check_snapshot_rg_unlocked(snap)
    assert finding.status is Status.FAIL and "UserErrorSnapshotResourceGroupHasLocks" in finding.detail
    assert (
        finding.fix is not None
        and finding.fix.command == f"az lock delete --ids {b.SNAPSHOT_RG_ID}{LOCKS}/keep"
    )


def test_inherited_subscription_lock_counts_and_other_groups_do_not() -> None:
    inherited = b.healthy(locks={b.SUB: (lock(f"/subscriptions/{b.SUB}", "ReadOnly"),), b.STORAGE_SUB: ()})
    assert check_snapshot_rg_unlocked(inherited).status is Status.FAIL
    elsewhere = b.healthy(locks={b.SUB: (lock(b.CLUSTER_RG_ID, "ReadOnly"),), b.STORAGE_SUB: ()})
    assert check_snapshot_rg_unlocked(elsewhere).status is Status.PASS


def test_storage_only_read_only_locks_count() -> None:
    delete_only = b.healthy(locks={b.SUB: (), b.STORAGE_SUB: (lock(b.STORAGE_ID, "CanNotDelete"),)})
    assert check_storage_not_read_only(delete_only).status is Status.PASS
    read_only = b.healthy(locks={b.SUB: (), b.STORAGE_SUB: (lock(b.STORAGE_RG_ID, "ReadOnly"),)})
    finding = check_storage_not_read_only(read_only)
    assert finding.status is Status.FAIL and "ReadOnly lock l1" in finding.detail


def test_unreadable_or_unread_locks_are_unknown() -> None:
    denied = b.healthy(locks={b.SUB: b.DENIED, b.STORAGE_SUB: b.DENIED})
    assert check_snapshot_rg_unlocked(denied).status is Status.UNKNOWN
    assert b.DENIED.reason in check_storage_not_read_only(denied).detail
    assert check_snapshot_rg_unlocked(b.healthy(locks={})).status is Status.UNKNOWN


def test_a_lock_names_itself_as_the_cause_of_the_failed_job() -> None:
    from shared.model import BackupError, InstanceJobs

    snap = b.healthy(
        locks={b.SUB: (lock(b.SNAPSHOT_RG_ID, "CanNotDelete"),), b.STORAGE_SUB: ()},
        jobs=InstanceJobs(
            latest_finished=b.job("Failed", 1, BackupError("UserErrorSnapshotResourceGroupHasLocks"))
        ),
    )
    jobs = next(f for f in evaluate(snap) if f.check == "backup.recent-jobs")
    assert "UserErrorSnapshotResourceGroupHasLocks -> locks.snapshot-rg-unlocked is failing" in jobs.detail
