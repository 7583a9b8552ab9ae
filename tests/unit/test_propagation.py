"""Propagation windows: pending writes are carried forward until they show or their window runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.model import Finding, Outcome, Status, Target, Trigger
from shared.propagation import PENDING, ROLE_WINDOW, TRUSTED_ACCESS_WINDOW, settle, window_for
from shared.reconcile import mark_pending_propagation
from shared.workqueue import WorkItem
from tests.unit import builders as b

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ROLE = "role.extension-blob-contributor-on-storage"
TA = "trusted-access.binding"


def pending(check: str) -> Finding:
    return Finding(check, Status.PASS, f"created by the Guard, not yet visible in ARM {PENDING}")


def test_windows_are_the_documented_ones() -> None:
    assert window_for(ROLE) == ROLE_WINDOW == timedelta(minutes=10)
    assert window_for(TA) == TRUSTED_ACCESS_WINDOW == timedelta(minutes=5)
    assert window_for("extension.installed") is None


def test_first_pending_starts_now_and_is_carried_forward() -> None:
    out = settle((pending(ROLE), Finding("cluster.identity", Status.PASS, "ok")), {}, NOW)
    assert out.pending == {ROLE: NOW.isoformat()}
    assert out.findings[0].status is Status.PASS


def test_inside_the_window_stays_pending_with_the_original_start() -> None:
    since = (NOW - timedelta(minutes=9)).isoformat()
    out = settle((pending(ROLE),), {ROLE: since}, NOW)
    assert out.pending == {ROLE: since} and out.findings[0].status is Status.PASS


def test_expired_window_fails_with_the_reason() -> None:
    out = settle((pending(TA),), {TA: (NOW - timedelta(minutes=6)).isoformat()}, NOW)
    assert out.pending == {}
    (finding,) = out.findings
    assert finding.status is Status.FAIL
    assert "6 min" in finding.detail and "up to 5 min" in finding.detail and finding.fix is not None


def test_a_check_that_passes_for_real_is_no_longer_pending() -> None:
    out = settle((Finding(ROLE, Status.PASS, "assignment found"),), {ROLE: NOW.isoformat()}, NOW)
    assert out.pending == {}


def test_trusted_access_writes_are_marked_pending_too() -> None:
    findings = [Finding(TA, Status.WARN, "binding Updating"), Finding(ROLE, Status.FAIL, "missing")]
    outcomes = [
        Outcome(f"trusted-access:{TA}", TA, "applied", "create binding"),
        Outcome(f"role-assignment:{ROLE}", ROLE, "already-present", "assign"),
    ]
    marked = mark_pending_propagation(findings, outcomes)
    assert all(f.status is Status.PASS and PENDING in f.detail for f in marked)


def test_pending_times_survive_the_queue_message() -> None:
    item = WorkItem(Target(b.CLUSTER_ID, b.VAULT_ID), Trigger("event", "e1"), pending={ROLE: NOW.isoformat()})
    assert WorkItem.from_json(item.to_json()).pending == {ROLE: NOW.isoformat()}
    plain = WorkItem(Target(b.CLUSTER_ID, b.VAULT_ID), Trigger("event", "e1"))
    assert "pending" not in plain.to_json() and WorkItem.from_json(plain.to_json()).pending == {}
