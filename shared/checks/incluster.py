"""In-cluster check: no separate Velero installation (read via AKS run command by ``gather``).

Only evaluated with ``GUARD_INCLUSTER_CHECKS=true``; otherwise ``not-applicable``.
"""

from __future__ import annotations

from shared.checks._common import aks_args, failing, not_applicable, passed, unknown, unreadable
from shared.model import Finding, Snapshot, Unreadable

DISABLED_REASON = "in-cluster checks disabled: GUARD_INCLUSTER_CHECKS"


def check_velero_absent(snapshot: Snapshot, *, incluster_checks: bool = False) -> Finding:
    """cluster.velero-absent: fail when ``snapshot.velero.found``."""
    check = "cluster.velero-absent"
    if not incluster_checks:
        return not_applicable(check, DISABLED_REASON)
    velero = snapshot.velero
    if velero is None:
        return unknown(check, "in-cluster checks are enabled but no Velero probe result was gathered")
    if isinstance(velero, Unreadable):
        return unreadable(check, "in-cluster Velero probe", velero)
    if not velero.found:
        return passed(check, f"no separate Velero installation found ({velero.detail})")
    return failing(
        check,
        f"a separate Velero installation was found: {velero.detail}; expected none besides the "
        "backup extension",
        "Uninstall the standalone Velero (helm uninstall or delete its namespace); it conflicts with the "
        "backup extension's Velero CRDs.",
        f'az aks command invoke {aks_args(snapshot)} --command "kubectl get deployments --all-namespaces '
        '-l component=velero -o wide"',
    )
