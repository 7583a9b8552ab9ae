"""Contract tests for the outcome checks: recorded backup-instance and backup-job bodies through the
real azure-mgmt client, the Guard's reader and its checks (corpus: tests/contracts/SOURCES.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.checks import backup as backup_checks
from shared.checks import locks
from shared.gather.reader import ArmReader
from shared.model import BackupInstanceInfo, InstanceJobs, Status
from tests.contracts.replay import Replay, load
from tests.contracts.test_contracts import reader_for
from tests.unit import builders as b

ZERO = "00000000-0000-0000-0000-000000000000"
DPP = "providers/Microsoft.DataProtection/backupVaults"
JOB_VAULT = (
    f"/subscriptions/{ZERO}/resourceGroups/clitest-dpp-rg/{DPP}/clitest-bkp-vault-persistent-bi-donotdelete"
)
AKS_VAULT = f"/subscriptions/{ZERO}/resourceGroups/clitest-dpp-rg/{DPP}/clitest-bkp-vault-aks-donotdelete"


@pytest.fixture
def replay() -> Iterator[Replay]:
    with Replay() as server:
        yield server


def _reader(replay: Replay) -> ArmReader:
    return reader_for(replay)


def test_recorded_job_listing_folds_to_the_latest_job_per_instance(replay: Replay) -> None:
    replay.add("GET", f"{JOB_VAULT}/backupJobs", load("backup_jobs/list_first_two_completed.json"))
    listing = _reader(replay).backup_jobs_of_vault(JOB_VAULT)
    assert isinstance(listing, dict) and len(listing) == 2  # two instances, one job each
    disk = next(v for k, v in listing.items() if "clitest-disk-persistent" in k)
    assert disk.latest_finished is not None and disk.latest_finished.status == "Completed"
    assert disk.latest_finished.start_time == datetime(2025, 2, 25, 12, 0, 10, 110321, tzinfo=UTC)
    assert disk.latest_succeeded == disk.latest_finished and disk.failing_since is None
    assert disk.latest_finished.errors == ()  # recorded "errorDetails": null
    # The listing is read once per vault per run, whatever the number of instances asking.
    _reader(replay).backup_jobs_of_vault(JOB_VAULT)
    reader = _reader(replay)
    reader.backup_jobs_of_vault(JOB_VAULT)
    reader.backup_jobs_of_vault(JOB_VAULT)
    jobs_requests = [r for r in replay.requests if r[1].lower().endswith("/backupjobs")]
    assert len(jobs_requests) == 3  # one per reader (three readers above), not per call


def test_recorded_completed_job_judged_by_its_age(replay: Replay) -> None:
    replay.add("GET", f"{JOB_VAULT}/backupJobs", load("backup_jobs/list_first_two_completed.json"))
    listing = _reader(replay).backup_jobs_of_vault(JOB_VAULT)
    assert isinstance(listing, dict)
    disk: InstanceJobs = next(v for k, v in listing.items() if "clitest-disk-persistent" in k)
    fresh = b.healthy(jobs=disk, read_at=datetime(2025, 2, 25, 18, 0, tzinfo=UTC))
    assert backup_checks.check_recent_jobs(fresh, {}).status is Status.PASS
    stale = b.healthy(jobs=disk, read_at=datetime(2025, 2, 28, 18, 0, tzinfo=UTC))
    found = backup_checks.check_recent_jobs(stale, {})
    assert found.status is Status.FAIL and "2025-02-25 12:00 UTC" in found.detail


def test_recorded_aks_instance_is_protection_configured(replay: Replay) -> None:
    recorded: dict[str, Any] = load("backup_instances/aks_system_identity.json")
    replay.add("GET", f"{AKS_VAULT}/backupInstances", {"value": [recorded]})
    instances = _reader(replay).instances_in_vault(AKS_VAULT)
    assert isinstance(instances, tuple)
    (instance,) = instances
    assert isinstance(instance, BackupInstanceInfo)
    assert instance.protection_status == "ProtectionConfigured"
    assert instance.current_protection_state == "ProtectionConfigured"
    assert instance.protection_error is None and instance.protection_status_error is None
    assert backup_checks.check_protection(b.healthy(backup_instance=instance), {}).status is Status.PASS


def test_simulated_jobs_have_the_recorded_shape() -> None:
    """The simulator's backup job list against the recorded one (key paths, casing, JSON types)."""
    from localdev.azure_sim.launcher import running_simulator
    from tests.contracts.test_shapes import diff
    from tests.sim.test_backups import ESTATE, VAULT

    with running_simulator({**ESTATE, "backup_runs_hours_ago": [2]}) as sim:
        status, _, simulated = sim.call(
            "GET", f"{VAULT}/backupJobs?api-version=2025-09-01", token=sim.admin_token
        )
    assert status == 200
    recorded = load("backup_jobs/list_first_two_completed.json")
    assert diff(recorded, simulated, not_modelled=set(), sim_only=set()) == []
    job = simulated["value"][0]
    assert job["type"] == recorded["value"][0]["type"]  # "Microsoft.DataProtection/backupVaults/backupJobs"
    assert job["properties"]["errorDetails"] is None and job["properties"]["status"] == "Completed"


def test_recorded_lock_listings(replay: Replay) -> None:
    """The spec's ReadOnly lock on a resource group, and a recorded empty subscription listing."""
    replay.add(
        "GET",
        "/subscriptions/subscriptionId/providers/Microsoft.Authorization/locks",
        load("management_locks/spec_list_resource_group_readonly.json"),
    )
    replay.add(
        "GET",
        f"/subscriptions/{ZERO}/providers/Microsoft.Authorization/locks",
        load("management_locks/list_subscription_empty.json"),
    )
    reader = _reader(replay)
    (lock,) = reader.locks_in("subscriptionId")  # type: ignore[misc]
    assert lock.level == "ReadOnly"
    assert lock.scope == "/subscriptions/subscriptionId/resourceGroups/resourcegroupname"
    group = "/subscriptions/subscriptionId/resourceGroups/resourcegroupname"
    instance = replace(b.instance(), snapshot_resource_group_id=group)
    snap = b.healthy(backup_instance=instance, locks={"subscriptionid": (lock,)})
    assert locks.check_snapshot_rg_unlocked(snap).status is Status.FAIL
    assert reader.locks_in(ZERO) == ()
