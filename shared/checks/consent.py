"""Consent checks: may the Guard act for this target at all, and for each failing fix?

- ``target.consent`` (a check of its own): the cluster agrees to be guarded for the vault (same
  resource group, a consent tag, its own ``aks-backup-guard-vault`` tag, or a trust domain).
- :func:`explain_refusals` rewrites every failing, fixable finding whose write the consent rule
  refuses: it stays ``fail``, says the Guard is not authorised and why, and its fix becomes the
  exact command the scope's owner runs to consent (docs/trust-model.md).

Pure: reads only the snapshot (its ``consent`` facts included).
"""

from __future__ import annotations

from dataclasses import replace

from shared.catalog import CHECKS
from shared.checks._common import failing, passed, unreadable
from shared.consent import target_consent, write_consents
from shared.model import Finding, Fix, Snapshot, Status, Unreadable

CHECK = "target.consent"


def check_target_consent(snapshot: Snapshot) -> Finding:
    """target.consent: pass with the rule that allows it, else fail (unknown if tags were unreadable).

    The ids compared are the ones ARM returned, so an unreadable cluster or vault makes it unknown."""
    for what, value in (("cluster", snapshot.cluster), ("backup vault", snapshot.vault)):
        if isinstance(value, Unreadable):
            return unreadable(CHECK, what, value)
    decision = target_consent(snapshot)
    if decision.allowed:
        return passed(CHECK, f"the cluster consents to vault {decision.requester}: {decision.reason}")
    summary = (
        "The cluster's owner consents by tagging the cluster (or its resource group or subscription) "
        "with the vault's id, or the operator declares a trust domain (GUARD_TRUST_DOMAINS) holding both. "
        "Until then the Guard checks and reports this target but writes nothing for it."
    )
    finding = failing(CHECK, decision.reason, summary, decision.command)
    return replace(finding, status=Status.UNKNOWN) if decision.unknown else finding


def explain_refusals(snapshot: Snapshot, findings: list[Finding]) -> list[Finding]:
    """Failing fixable findings whose write lacks consent: detail says so, fix = the consent command."""
    out: list[Finding] = []
    for finding in findings:
        spec = CHECKS.get(finding.check)
        if finding.status is not Status.FAIL or spec is None or spec.remediable_by == "none":
            out.append(finding)
            continue
        refused = [c for c in write_consents(snapshot, finding.check) if not c.allowed]
        if not refused:
            out.append(finding)
            continue
        first = refused[0]
        manual = finding.fix.command if finding.fix and finding.fix.command else None
        summary = (
            f"The Guard may not fix this until the owner of {first.scope} consents to {first.requester} "
            "(command below; docs/trust-model.md)."
        )
        if manual:
            summary += f" Or fix it by hand: {manual}"
        out.append(
            replace(
                finding,
                detail=f"{finding.detail}; not authorised to fix: {first.reason}",
                fix=Fix(summary, first.command, finding.fix.doc if finding.fix else spec.doc),
            )
        )
    return out
