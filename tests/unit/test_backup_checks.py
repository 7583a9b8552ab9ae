"""Outcome checks (backup.protection, backup.recent-jobs), the code-to-cause table, job folding."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shared import causes
from shared.backup_health import summarize
from shared.catalog import CHECKS
from shared.checks import evaluate
from shared.gather import convert
from shared.gather.reader import FAILURES_KEPT, fold_jobs
from shared.model import BackupError, Finding, InstanceJobs, PolicyInfo, Status
from tests.unit import builders as b

MSI = "UserErrorExtensionMSIMissingPermissionsOnBackupStorageLocation"
TRUSTED = "UserErrorTrustedAccessGatewayReturnedForbidden"
BLOB_ROLE = "role.extension-blob-contributor-on-storage"


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def jobs_of(*jobs: object) -> InstanceJobs:
    folded = fold_jobs(jobs)  # type: ignore[arg-type]
    return folded[next(iter(folded))]


# -- backup.recent-jobs ----------------------------------------------------------------------------


def test_healthy_instance_with_a_recent_success_passes() -> None:
    found = by_id(evaluate(b.healthy()))
    assert found["backup.recent-jobs"].status is Status.PASS
    assert found["backup.protection"].status is Status.PASS


def test_failed_job_names_the_failing_prerequisite_as_its_cause() -> None:
    snap = b.healthy(
        jobs=jobs_of(
            b.job("Completed", 50),
            b.job("Failed", 26, BackupError(MSI, "no access", "Assign the role")),
            b.job("Failed", 2, BackupError(MSI, "no access", "Assign the role")),
        )
    )
    broken = replace(
        snap,
        role_assignments={
            sub: tuple(ra for ra in ras if ra.principal_id != b.EXTENSION_PRINCIPAL)  # type: ignore[union-attr]
            for sub, ras in snap.role_assignments.items()
        },
    )
    found = by_id(evaluate(broken))
    assert found[BLOB_ROLE].status is Status.FAIL
    jobs = found["backup.recent-jobs"]
    assert jobs.status is Status.FAIL
    assert "backups failing since 2026-12-01 07:00 UTC" in jobs.detail  # the first failure after the success
    assert f"{MSI} -> {BLOB_ROLE} is failing" in jobs.detail
    assert "(recommended: Assign the role)" in jobs.detail
    assert jobs.fix is not None and BLOB_ROLE in jobs.fix.summary


def test_failed_job_whose_prerequisites_all_pass_says_cause_not_among_them() -> None:
    snap = b.healthy(jobs=jobs_of(b.job("Failed", 2, BackupError(MSI, "no access"))))
    jobs = by_id(evaluate(snap))["backup.recent-jobs"]
    assert jobs.status is Status.FAIL
    assert f"{MSI}: the checks that explain it ({BLOB_ROLE}) hold now" in jobs.detail
    assert causes.NOT_AMONG in jobs.detail
    # A code the table maps to no check at all:
    limit = b.healthy(jobs=jobs_of(b.job("Failed", 2, BackupError("UserErrorPVSnapshotLimitReached", "x"))))
    detail = by_id(evaluate(limit))["backup.recent-jobs"].detail
    assert f"UserErrorPVSnapshotLimitReached: {causes.NOT_AMONG} (a volume has 500 snapshots" in detail


def test_unknown_code_is_reported_as_not_in_the_table() -> None:
    snap = b.healthy(jobs=jobs_of(b.job("Failed", 2, BackupError("SomethingNew", "boom"))))
    detail = by_id(evaluate(snap))["backup.recent-jobs"].detail
    assert "SomethingNew: boom" in detail and "code not in the Guard's table" in detail


def test_success_older_than_schedule_plus_grace_fails() -> None:
    daily = b.healthy(jobs=jobs_of(b.job("Completed", 27)))
    assert by_id(evaluate(daily))["backup.recent-jobs"].status is Status.FAIL
    assert (
        by_id(evaluate(replace(daily, jobs=jobs_of(b.job("Completed", 25)))))["backup.recent-jobs"].status
        is Status.PASS
    )
    hourly = replace(
        daily, policy=PolicyInfo(b.POLICY_ID, True, timedelta(hours=4)), jobs=jobs_of(b.job("Completed", 7))
    )
    assert by_id(evaluate(hourly))["backup.recent-jobs"].status is Status.FAIL


def test_no_job_at_all_warns_not_yet_run() -> None:
    found = by_id(evaluate(b.healthy(jobs=InstanceJobs())))["backup.recent-jobs"]
    assert found.status is Status.WARN and found.detail.startswith("not yet run")


def test_warnings_warn_with_the_code() -> None:
    job = b.job("CompletedWithWarnings", 1, BackupError("UserErrorPVSnapshotLimitReached", "500 snapshots"))
    found = by_id(evaluate(b.healthy(jobs=jobs_of(job))))["backup.recent-jobs"]
    assert found.status is Status.WARN and "UserErrorPVSnapshotLimitReached" in found.detail


def test_running_job_does_not_hide_the_last_result() -> None:
    snap = b.healthy(jobs=jobs_of(b.job("Failed", 3, BackupError(TRUSTED, "x")), b.job("InProgress", 0.1)))
    assert snap.jobs is not None and snap.jobs.running_since is not None  # type: ignore[union-attr]
    assert by_id(evaluate(snap))["backup.recent-jobs"].status is Status.FAIL


def test_outcome_checks_do_not_apply_without_an_instance() -> None:
    for kind in ("prepare", "restore"):
        snap = replace(b.healthy(backup_instance=None, jobs=None), target=b.target(kind))
        found = by_id(evaluate(snap))
        assert found["backup.protection"].status is Status.NOT_APPLICABLE
        assert found["backup.recent-jobs"].status is Status.NOT_APPLICABLE


# -- backup.protection -------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["ProtectionError", "ConfiguringProtectionFailed"])
def test_protection_error_fails_with_azures_code_and_names_the_cause(status: str) -> None:
    instance = replace(
        b.instance(),
        protection_status=status,
        current_protection_state=status,
        protection_error=BackupError(TRUSTED, "The Trusted Access role binding is missing"),
    )
    found = by_id(evaluate(b.healthy(backup_instance=instance, trusted_access=())))
    assert found["trusted-access.binding"].status is Status.FAIL
    protection = found["backup.protection"]
    assert protection.status is Status.FAIL
    assert f"{TRUSTED} -> trusted-access.binding is failing" in protection.detail


def test_transitional_protection_state_warns() -> None:
    instance = replace(
        b.instance(),
        protection_status="ConfiguringProtection",
        current_protection_state="ConfiguringProtection",
    )
    assert by_id(evaluate(b.healthy(backup_instance=instance)))["backup.protection"].status is Status.WARN


# -- the table ----------------------------------------------------------------------------------


def test_every_row_names_real_checks_and_a_source() -> None:
    assert len(causes.CAUSES) >= 30
    for row in causes.CAUSES.values():
        assert set(row.checks) <= set(CHECKS), row.code
        assert row.source in causes.SOURCES and row.advice, row.code


def test_the_issue_examples_are_mapped() -> None:
    assert causes.CAUSES[MSI.lower()].checks == (BLOB_ROLE,)
    assert causes.CAUSES[TRUSTED.lower()].checks == ("trusted-access.binding",)
    assert "extension.installed" in causes.CAUSES["kubernetesbackuplistextensionserror"].checks


# -- folding the vault's job listing ---------------------------------------------------------------


def test_fold_keeps_latest_success_and_first_failure_after_it_in_any_order() -> None:
    listing = [
        b.job("Failed", 5, BackupError(MSI)),
        b.job("Failed", 40, BackupError(MSI)),  # before the latest success: not "since"
        b.job("Completed", 30),
        b.job("Failed", 29, BackupError(MSI)),  # the first failure after the success 30 h ago
        b.job("Completed", 48),
        b.job("Failed", 1, BackupError(MSI)),
    ]
    for order in (listing, list(reversed(listing))):
        jobs = jobs_of(*order)
        assert jobs.latest_finished is not None and jobs.latest_finished.start_time == b.NOW - timedelta(
            hours=1
        )
        assert jobs.latest_succeeded is not None
        assert jobs.latest_succeeded.start_time == b.NOW - timedelta(hours=30)
        assert jobs.failing_since == b.NOW - timedelta(hours=29)


def test_fold_is_bounded_per_instance() -> None:
    many = [b.job("Failed", float(h), BackupError(MSI)) for h in range(1, 500)]
    jobs = jobs_of(*many)
    assert jobs.failing_since == b.NOW - timedelta(hours=FAILURES_KEPT)  # the oldest kept


def test_fold_separates_instances_and_skips_jobs_without_a_start() -> None:
    other = replace(b.job("Failed", 1), backup_instance_id=b.INSTANCE_ID + "-other")
    folded = fold_jobs([b.job("Completed", 1), other, replace(b.job("Completed", 1), start_time=None)])
    assert len(folded) == 2


def test_policy_interval_from_the_schedule() -> None:
    raw = {
        "policyRules": [
            {"trigger": {"schedule": {"repeatingTimeIntervals": ["R/2024-01-01T02:00:00+00:00/PT4H"]}}}
        ]
    }
    assert convert.backup_interval(raw) == timedelta(hours=4)
    assert convert.backup_interval({"policyRules": []}) is None
    assert convert.iso_duration("P1M") is None and convert.iso_duration("junk") is None


# -- backup health line ---------------------------------------------------------------------------


def test_health_line_counts_and_names_causes() -> None:
    failing = by_id(
        evaluate(
            b.healthy(
                jobs=jobs_of(b.job("Failed", 2, BackupError(TRUSTED, "x"))),
                trusted_access=(),
            )
        )
    )["backup.recent-jobs"]
    unexplained = by_id(evaluate(b.healthy(jobs=jobs_of(b.job("Failed", 2, BackupError(MSI))))))[
        "backup.recent-jobs"
    ]
    never = by_id(evaluate(b.healthy(jobs=InstanceJobs())))["backup.recent-jobs"]
    rows = [
        ("/s/x/aks-ok", Status.PASS, "latest backup succeeded"),
        ("/s/x/aks-ta", failing.status, failing.detail),
        ("/s/x/aks-msi", unexplained.status, unexplained.detail),
        ("/s/x/aks-new", never.status, never.detail),
        ("/s/x/aks-prep", Status.NOT_APPLICABLE, "no backup instance"),
    ]
    health = summarize(rows)
    assert health.line() == (
        "4 backup instances: 1 backing up, 2 failing (aks-msi: "
        f"{MSI}, aks-ta: trusted-access.binding), 1 not yet run"
    )
    assert health.to_dict()["failing"] == [
        {"cluster": "aks-msi", "cause": MSI},
        {"cluster": "aks-ta", "cause": "trusted-access.binding"},
    ]
