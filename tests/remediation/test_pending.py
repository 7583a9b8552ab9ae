"""A role assignment the Guard just wrote counts as pass (pending propagation) until ARM lists it."""

from __future__ import annotations

from shared.model import Finding, Outcome, Status
from shared.reconcile import PENDING, mark_pending_propagation

CHECK = "role.vault-reader-on-cluster"


def outcome(result: str, action: str = f"role-assignment:{CHECK}") -> Outcome:
    return Outcome(action, CHECK, result, "assign Reader", "")  # type: ignore[arg-type]


def test_applied_assignment_not_yet_listed_passes_as_pending() -> None:
    findings = [
        Finding(CHECK, Status.FAIL, "no assignment"),
        Finding("trusted-access.binding", Status.FAIL, "x"),
    ]
    for result in ("applied", "already-present"):
        marked = mark_pending_propagation(findings, [outcome(result)])
        assert marked[0].status is Status.PASS and PENDING in marked[0].detail
        assert marked[1] == findings[1]  # only role checks the Guard wrote


def test_failed_or_skipped_writes_and_other_statuses_are_not_masked() -> None:
    failing = [Finding(CHECK, Status.FAIL, "no assignment")]
    for result in ("failed", "skipped"):
        assert mark_pending_propagation(failing, [outcome(result)]) == tuple(failing)
    unknown = [Finding(CHECK, Status.UNKNOWN, "denied")]
    assert mark_pending_propagation(unknown, [outcome("applied")]) == tuple(unknown)
