"""Outcome checks: do the backups actually run? (``backup.protection``, ``backup.recent-jobs``)

Both apply to ``backup`` targets only (a backup instance exists) and run after every
prerequisite check, because a failing outcome names its cause from the other findings through
the code-to-cause table (:mod:`shared.causes`):

- ``backup.protection`` reads the instance's ``protectionStatus`` (status and ``errorDetails``),
  ``currentProtectionState`` and ``protectionErrorDetails``. ``ProtectionError`` and
  ``ConfiguringProtectionFailed`` fail with Azure's code and message; transitional or stopped
  states warn.
- ``backup.recent-jobs`` reads the instance's jobs from the vault's job listing: the latest
  finished backup job must have succeeded, and the latest success must lie within the policy's
  backup interval plus :data:`GRACE`. A failed job fails with its ``errorDetails`` (code, message,
  recommended action) and "failing since" the first failure after the last success; a job that
  completed with warnings warns; an instance with no backup job at all warns ``not yet run``.

Pure: "now" is the snapshot's ``read_at``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from shared import causes, ids
from shared.checks._common import failing, not_applicable, passed, unreadable
from shared.model import (
    BackupError,
    BackupInstanceInfo,
    Finding,
    Fix,
    InstanceJobs,
    PolicyInfo,
    Snapshot,
    Status,
    Unreadable,
)

GRACE = timedelta(hours=2)
"""How late a scheduled backup may finish before the latest success counts as too old."""
DEFAULT_INTERVAL = timedelta(days=1)
"""Used when the policy's schedule cannot be read (AKS policies back up at least daily)."""
NOT_YET_RUN = "not yet run"
"""The detail prefix of a ``backup.recent-jobs`` warning for an instance that has no backup job."""

_HEALTHY = "protectionconfigured"
_FAILED = ("protectionerror", "configuringprotectionfailed")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "an unknown time"


def _describe(errors: tuple[BackupError, ...]) -> str:
    return "; ".join(e.describe() for e in errors) or "no error details"


def _fix_summary(errors: tuple[BackupError, ...], cause: str) -> str:
    for error in errors:
        row = causes.row_for(error.code)
        if row is not None and "->" in cause:
            return f"Fix {cause.split('-> ', 1)[1].split(' is ', 1)[0]} (see its finding); {row.advice}."
        if row is not None:
            return row.advice[0].upper() + row.advice[1:] + "."
        if error.recommended_action:
            return error.recommended_action
    return "Read the job's error details in the Backup vault (Backup jobs) and the troubleshooting guide."


def _vault_args(snapshot: Snapshot) -> str:
    vault = snapshot.target.vault_id
    group = ids.resource_group_of(vault) or "<resource-group>"
    return f"--resource-group {group} --vault-name {ids.name_of(vault)}"


def _show_instance(snapshot: Snapshot, instance: BackupInstanceInfo) -> str:
    return f"az dataprotection backup-instance show {_vault_args(snapshot)} --name {_name(instance)}"


def _list_jobs(snapshot: Snapshot) -> str:
    return f"az dataprotection job list {_vault_args(snapshot)}"


def check_protection(snapshot: Snapshot, prerequisites: Mapping[str, Finding]) -> Finding:
    """backup.protection: see the module docstring."""
    check = "backup.protection"
    instance = snapshot.backup_instance
    if isinstance(instance, Unreadable):
        return unreadable(check, "backup instance", instance)
    if instance is None:
        return not_applicable(check, f"no backup instance ({snapshot.target.kind} target)")
    status = (instance.protection_status or "").strip()
    state = (instance.current_protection_state or "").strip()
    errors = tuple(e for e in (instance.protection_status_error, instance.protection_error) if e is not None)
    unique = tuple(dict.fromkeys(errors))
    if status.lower() in _FAILED or state.lower() in _FAILED or unique:
        cause = causes.explain([e.code for e in unique], prerequisites)
        return failing(
            check,
            f"protection status {status or '-'}, state {state or '-'}: {_describe(unique)}; cause: {cause}; "
            "expected ProtectionConfigured without errors",
            _fix_summary(unique, cause),
            _show_instance(snapshot, instance),
        )
    if status.lower() == _HEALTHY and state.lower() in (_HEALTHY, ""):
        return passed(check, f"backup instance {_name(instance)} is ProtectionConfigured")
    return failing(
        check,
        f"protection status {status or '-'}, state {state or '-'} (expected ProtectionConfigured)",
        "Wait for protection to be configured, or resume protection of the backup instance.",
        _show_instance(snapshot, instance),
        status=Status.WARN,
    )


def _name(instance: BackupInstanceInfo) -> str:
    return instance.id.rstrip("/").rsplit("/", 1)[-1]


def window(policy: object) -> timedelta:
    """The policy's backup interval plus :data:`GRACE`."""
    interval = policy.backup_interval if isinstance(policy, PolicyInfo) else None
    return (interval or DEFAULT_INTERVAL) + GRACE


def check_recent_jobs(snapshot: Snapshot, prerequisites: Mapping[str, Finding]) -> Finding:
    """backup.recent-jobs: see the module docstring."""
    check = "backup.recent-jobs"
    instance = snapshot.backup_instance
    if isinstance(instance, Unreadable):
        return unreadable(check, "backup instance", instance)
    if instance is None or snapshot.jobs is None:
        return not_applicable(check, f"no backup instance ({snapshot.target.kind} target)")
    jobs = snapshot.jobs
    if isinstance(jobs, Unreadable):
        return unreadable(check, "backup jobs", jobs)
    now = snapshot.read_at
    allowed = window(snapshot.policy)
    latest = jobs.latest_finished
    if latest is None:
        running = f"; the first is running since {_when(jobs.running_since)}" if jobs.running_since else ""
        return failing(
            check,
            f"{NOT_YET_RUN}: no backup job of {_name(instance)} in the vault's job history{running}; "
            "expected a backup within the policy's schedule",
            "Check the policy's schedule, or trigger an on-demand backup of the instance.",
            _list_jobs(snapshot),
            status=Status.WARN,
        )
    status = latest.status.replace(" ", "").lower()
    if status in ("completed", "succeeded"):
        if now is not None and latest.start_time is not None and now - latest.start_time > allowed:
            return failing(
                check,
                f"the latest backup succeeded at {_when(latest.start_time)}, longer ago than the policy's "
                f"interval plus {int(GRACE.total_seconds() // 3600)} h grace ({_hours(allowed)})"
                + (f"; a backup is running since {_when(jobs.running_since)}" if jobs.running_since else "")
                + "; expected a successful backup within that window",
                "Check the policy's schedule and the vault's jobs; trigger an on-demand backup.",
                _list_jobs(snapshot),
            )
        return passed(check, f"latest backup succeeded at {_when(latest.start_time)}")
    if "warning" in status:
        cause = causes.explain([e.code for e in latest.errors], prerequisites)
        return failing(
            check,
            f"latest backup at {_when(latest.start_time)} completed with warnings: "
            f"{_describe(latest.errors)}; cause: {cause}; expected a clean success",
            _fix_summary(latest.errors, cause),
            _list_jobs(snapshot),
            status=Status.WARN,
        )
    cause = causes.explain([e.code for e in latest.errors], prerequisites)
    since = _failing_since(jobs)
    return failing(
        check,
        f"backups failing since {_when(since)} ({latest.status} at {_when(latest.start_time)}): "
        f"{_describe(latest.errors)}; cause: {cause}; expected the latest backup to succeed",
        _fix_summary(latest.errors, cause),
        _list_jobs(snapshot),
    )


def _failing_since(jobs: InstanceJobs) -> datetime | None:
    return jobs.failing_since or (jobs.latest_finished.start_time if jobs.latest_finished else None)


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


_NAMED = re.compile(r"cause: (?P<code>[A-Za-z0-9_]+) -> (?P<check>[a-z0-9.\-]+) is (?:failing|warning)")
FIXED = "was failing and the Guard fixed it"


def credit_fixes(before: Sequence[Finding], after: Sequence[Finding], fixed: set[str]) -> tuple[Finding, ...]:
    """Outcome findings that still fail after a run whose writes repaired the cause they named
    (``fixed``: check ids the run wrote for) say so: "<code> -> <check> was failing and the Guard
    fixed it", with the advice to wait for (or trigger) the next backup. Pure."""
    named = {f.check: _NAMED.search(f.detail) for f in before if f.check.startswith("backup.")}
    out = []
    for finding in after:
        match = named.get(finding.check)
        if match and match.group("check") in fixed and finding.status in (Status.FAIL, Status.WARN):
            cause = f"cause: {match.group('code')} -> {match.group('check')} {FIXED}"
            detail = re.sub(
                r"cause: .*?; expected", cause + " (the next backup should succeed); expected", finding.detail
            )
            finding = replace(
                finding,
                detail=detail if detail != finding.detail else f"{finding.detail}; {cause}",
                fix=Fix(
                    "Wait for the next scheduled backup, or trigger an on-demand backup now.",
                    finding.fix.command if finding.fix else None,
                    finding.fix.doc if finding.fix else None,
                ),
            )
        out.append(finding)
    return tuple(out)
