"""Safe auto-remediation: ``plan`` (pure: findings -> actions) and ``apply`` (idempotent ARM writes).

Callers normally use :func:`shared.reconcile.reconcile`, which gathers, evaluates, plans,
applies and verifies one target.
"""

from shared.remediation.apply import apply, apply_one
from shared.remediation.plan import Action, Plan, plan

__all__ = ["Action", "Plan", "apply", "apply_one", "plan"]
