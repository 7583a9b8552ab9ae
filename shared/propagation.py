"""Propagation windows: what the Guard just wrote may not show in ARM's reads for a while.

After the Guard writes a role assignment or a trusted access binding (or finds it already there),
the check that still reads ``fail`` is reported ``pass (pending propagation)``
(:func:`shared.reconcile.mark_pending_propagation`) and the target is re-verified by a delayed
queue message (:func:`shared.orchestration.process`) until the check passes or the window Azure
documents has run out; then it fails with the reason. Nobody has to rerun anything.

Windows (Microsoft Learn): role assignments can take up to 10 minutes to take effect
("Troubleshoot Azure RBAC"); trusted access role bindings up to 5 minutes ("Enable Azure
resource access to AKS clusters using Trusted Access").

Pure: the caller passes "now" and the times each check first went pending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.catalog import CHECKS
from shared.model import Finding, Fix, Status

PENDING = "(pending propagation)"
ROLE_WINDOW = timedelta(minutes=10)
TRUSTED_ACCESS_WINDOW = timedelta(minutes=5)
RECHECK_AFTER = timedelta(seconds=60)
"""How long the delayed re-verification message stays invisible."""


def window_for(check: str) -> timedelta | None:
    """The documented propagation window of a check the Guard writes for; None for the others."""
    if check.startswith("role."):
        return ROLE_WINDOW
    if check == "trusted-access.binding":
        return TRUSTED_ACCESS_WINDOW
    return None


def is_pending(finding: Finding) -> bool:
    return finding.status is Status.PASS and PENDING in finding.detail


@dataclass(frozen=True)
class Settled:
    """``findings`` with expired windows turned to ``fail``; ``pending``: check -> since when it has
    been pending (ISO text), for the next re-verification (empty: nothing left to wait for)."""

    findings: tuple[Finding, ...]
    pending: Mapping[str, str]


def settle(findings: tuple[Finding, ...], since: Mapping[str, str], now: datetime) -> Settled:
    """Carry pending checks forward, or fail those whose window has run out (see the module docstring).

    ``since`` holds the times the checks first went pending (from the re-verification message);
    a check pending for the first time starts now. Unparseable times count as now.
    """
    out: list[Finding] = []
    still: dict[str, str] = {}
    for finding in findings:
        window = window_for(finding.check)
        if window is None or not is_pending(finding):
            out.append(finding)
            continue
        started = _parse(since.get(finding.check)) or now
        waited = now - started
        if waited < window:
            still[finding.check] = started.isoformat()
            out.append(finding)
            continue
        spec = CHECKS[finding.check]
        out.append(
            replace(
                finding,
                status=Status.FAIL,
                detail=(
                    f"the Guard's write is still not visible in ARM {int(waited.total_seconds() // 60)} min "
                    f"after it was made (Azure documents up to {int(window.total_seconds() // 60)} min): "
                    "expected it to be listed by now; another writer may have removed it, or ARM is lagging"
                ),
                fix=Fix(
                    "Check the Azure activity log for a delete of what the Guard wrote, then re-verify.",
                    None,
                    spec.doc,
                ),
            )
        )
    return Settled(tuple(out), still)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
