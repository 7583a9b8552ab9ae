"""reconcile: one target's full pipeline (gather -> evaluate -> plan -> apply -> verify-after).

Read-only verification of many targets is :mod:`shared.verification`; the trigger-facing
orchestration (events, timer, queue, HTTP) around this is :mod:`shared.orchestration`.

The one function the queue worker, the HTTP API and the CLI call. It is level-triggered: it
reads the current state itself and never takes a principal, scope or role from its caller.

Verify-after: only what an applied action changed is re-read (the reader's cache entries for it
are dropped), then the target is evaluated again. ARM can take minutes to show a new role
assignment in listings (and a trusted access binding up to 5 minutes to succeed), so a
``role.*`` or ``trusted-access.binding`` check whose write this run made (or found already done)
and that still reads ``fail`` is reported ``pass`` "(pending propagation)" instead of flapping;
:mod:`shared.propagation` re-verifies it until it passes or the window runs out.

Fresh reads before writing: when the first verification came from a reader that may hold older
listings (a scan's bulk reader, or one passed in), everything is read again through a fresh
reader and planned again on that snapshot, so the consent rule, opt-out tags, the principal and
the target's existence are all re-checked on reads taken right before the write.

Retired targets: a target whose instance, cluster or vault is gone, or whose vault/restore tag no
longer names it (:func:`shared.consent.no_longer_guarded`), gets no writes; the result carries
``retired`` with the reason, for the ledger to record once and forget the target.

Chaining: installing the backup extension creates the extension identity, which makes the
``role.extension-blob-contributor-on-storage`` row (and the storage network rule for the new
storage account) plannable. When an extension install was applied, reconcile plans once more on
the re-read state and applies the new actions in the same run (at most one extra round).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from shared import consent, ids
from shared.arm import ArmClients
from shared.catalog import CHECK_IDS
from shared.checks import evaluate
from shared.checks.backup import credit_fixes
from shared.gather.reader import ArmReader
from shared.gather.snapshot import gather
from shared.model import Finding, Outcome, Snapshot, Status, Target
from shared.propagation import PENDING
from shared.remediation.apply import apply
from shared.remediation.plan import (
    Action,
    ClusterStorageProfileParams,
    ExtensionInstallParams,
    Plan,
    ProviderParams,
    RoleAssignmentParams,
    StorageNetworkParams,
    TrustedAccessParams,
    plan,
)
from shared.settings import Settings
from shared.verification import Verification, verify_one

log = logging.getLogger(__name__)

_WRITTEN = ("applied", "already-present")
_PROPAGATING = {"role-assignment": "assignment", "trusted-access": "binding"}


@dataclass(frozen=True)
class ReconcileResult:
    """``before``: the first verification; ``plan``: every action planned (all rounds) and refusals;
    ``outcomes``: one per action (plus the plan's skipped refusals); ``after_findings``: the final
    findings (equal to ``before.findings`` when nothing was written)."""

    before: Verification
    plan: Plan
    outcomes: tuple[Outcome, ...]
    after_findings: tuple[Finding, ...]
    retired: str | None = None  # why the target is no longer guarded (nothing was written)

    @property
    def target(self) -> Target:
        return self.before.target

    @property
    def writes(self) -> int:
        """Actions that changed something in ARM this run."""
        return sum(1 for o in self.outcomes if o.result == "applied")


def _invalidate(reader: ArmReader, action: Action) -> None:
    p = action.params
    if isinstance(p, RoleAssignmentParams):
        reader.invalidate(role_assignments_of=ids.subscription_of(p.scope))
    elif isinstance(p, TrustedAccessParams):
        reader.invalidate(trusted_access_of=p.cluster_id)
    elif isinstance(p, ProviderParams):
        reader.invalidate(provider_of=p.subscription_id)
    elif isinstance(p, StorageNetworkParams):
        reader.invalidate(storage_account=p.account_id)
    elif isinstance(p, ClusterStorageProfileParams):
        reader.invalidate(cluster=p.cluster_id)
    elif isinstance(p, ExtensionInstallParams):
        reader.invalidate(extensions_of=p.cluster_id)


def mark_pending_propagation(findings: list[Finding], outcomes: list[Outcome]) -> tuple[Finding, ...]:
    """Role and trusted-access findings still failing (a binding: or still updating) although this
    run wrote (or found) what they need -> pass (pending propagation); see :mod:`shared.propagation`."""
    written: dict[str, str] = {}
    for o in outcomes:
        kind = o.action.split(":", 1)[0]
        if kind in _PROPAGATING and o.result in _WRITTEN:
            written[o.check] = _PROPAGATING[kind]
    out = []
    for finding in findings:
        what = written.get(finding.check)
        bad = finding.status is Status.FAIL or (what == "binding" and finding.status is Status.WARN)
        if what and bad:
            finding = replace(
                finding,
                status=Status.PASS,
                detail=f"{what} created by the Guard, not yet visible in ARM {PENDING}",
                fix=None,
            )
        out.append(finding)
    return tuple(out)


def _verify_and_plan(
    target: Target, reader: ArmReader, settings: Settings
) -> tuple[Verification, Plan, ReconcileResult | None]:
    """Verify and plan; the third value is the finished result when there is nothing to write
    (the target is no longer guarded, or nothing is planned)."""
    before = verify_one(target, reader, incluster_checks=settings.incluster_checks)
    gone = consent.no_longer_guarded(before.snapshot)
    if gone:
        log.info("target %s is no longer guarded: %s", target.key, gone)
        return before, Plan((), ()), ReconcileResult(before, Plan((), ()), (), before.findings, retired=gone)
    planned = plan(before.snapshot, before.findings, settings)
    if not planned.actions:
        return before, planned, ReconcileResult(before, planned, tuple(planned.skipped), before.findings)
    return before, planned, None


def reconcile(
    target: Target,
    settings: Settings,
    clients: ArmClients,
    *,
    reader: ArmReader | None = None,
    dry_run: bool = False,
) -> ReconcileResult:
    """Gather, evaluate, plan, apply (unless ``dry_run`` or report mode) and verify one target.

    Reads through ``reader`` (a fresh non-bulk reader by default; pass the scan's reader to share
    its cache). Writes only what :func:`shared.remediation.plan.plan` allows. Never raises for ARM
    errors (reads become ``unknown`` findings, writes ``failed`` outcomes). Safe to repeat and to
    run concurrently for the same target: every write is idempotent, so a second run writes
    nothing.
    """
    own_reader = reader is None
    reader = reader or ArmReader.for_settings(clients, settings)
    incluster = settings.incluster_checks
    before, first, finished = _verify_and_plan(target, reader, settings)
    if finished is not None:
        return finished
    reason = "dry run" if dry_run else "report mode" if not settings.enforce else ""
    if reason:
        outcomes = [*first.skipped, *(a.outcome("skipped", reason) for a in first.actions)]
        return ReconcileResult(before, first, tuple(outcomes), before.findings)
    scanned = before
    if reader.bulk or not own_reader:
        # Re-read everything right before writing and plan again on what is true now.
        reader = reader.fresh()
        before, first, finished = _verify_and_plan(target, reader, settings)
        if finished is not None:
            return finished
        before = replace(before, findings=carry_scan_only(scanned.findings, before.findings))

    actions = list(first.actions)
    skipped = list(first.skipped)
    applied: list[Outcome] = list(apply(first.actions, clients, settings))
    snapshot: Snapshot = before.snapshot
    findings = list(before.findings)
    current = list(zip(first.actions, applied, strict=True))
    for round_no in range(2):
        changed = [a for a, o in current if o.result in _WRITTEN]
        if not changed:
            break
        for action in changed:
            _invalidate(reader, action)
        snapshot = gather(target, reader, incluster_checks=incluster)
        findings = evaluate(snapshot, incluster_checks=incluster)
        installed = any(a.kind == "extension-install" and o.result == "applied" for a, o in current)
        if round_no > 0 or not installed:
            break
        done = {a.id for a in actions}
        follow = plan(snapshot, findings, settings)
        new = tuple(a for a in follow.actions if a.id not in done)
        log.info("extension installed on %s: %s follow-up action(s)", target.cluster_id, len(new))
        skipped = [s for s in skipped if s.action not in {a.id for a in new}]
        new_outcomes = apply(new, clients, settings)
        actions.extend(new)
        applied.extend(new_outcomes)
        current = list(zip(new, new_outcomes, strict=True))
    after = mark_pending_propagation(findings, applied)
    fixed = {o.check for o in applied if o.result in _WRITTEN}
    after = credit_fixes(before.findings, after, fixed)
    after = carry_scan_only(scanned.findings, after)
    full_plan = Plan(tuple(actions), tuple(skipped))
    return ReconcileResult(before, full_plan, (*skipped, *applied), after)


def carry_scan_only(scanned: Sequence[Finding], findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """``findings`` plus the findings of ``scanned`` (the scan's bulk read) whose check the fresh,
    single-target re-read could not evaluate (``storage.container-not-shared``: scans only), in
    catalog order. Without this, a target the Guard writes for would never record such a check."""
    present = {f.check for f in findings}
    merged = [*findings, *(f for f in scanned if f.check not in present)]
    order = {check: n for n, check in enumerate(CHECK_IDS)}
    return tuple(sorted(merged, key=lambda f: order.get(f.check, len(order))))


__all__ = ["PENDING", "ReconcileResult", "mark_pending_propagation", "reconcile"]
