"""Azure Policy check: Kubernetes policy assignments exclude namespace dataprotection-microsoft.

An assignment counts as a Kubernetes policy when it has the ``excludedNamespaces`` parameter
(``excluded_namespaces is not None``). Only assignments whose scope is the cluster or one of its
ancestors govern it (a subscription-wide listing also returns other resource groups').
Assignments with enforcementMode ``DoNotEnforce`` only audit and cannot block the extension, so
they are not reported.
"""

from __future__ import annotations

import json

from shared import ids
from shared.checks._common import failing, passed, quote, unreadable
from shared.model import Finding, PolicyAssignmentInfo, Snapshot, Unreadable

EXTENSION_NAMESPACE = "dataprotection-microsoft"
_SCOPE_SUFFIX = "/providers/microsoft.authorization/policyassignments/"


def _excludes(assignment: PolicyAssignmentInfo) -> bool:
    return any(ns.strip().lower() == EXTENSION_NAMESPACE for ns in assignment.excluded_namespaces or ())


def _enforced(assignment: PolicyAssignmentInfo) -> bool:
    return (assignment.enforcement_mode or "Default").strip().lower() != "donotenforce"


def _scope_of(assignment_id: str) -> str:
    lowered = assignment_id.lower()
    index = lowered.rfind(_SCOPE_SUFFIX)
    return assignment_id[:index] if index > 0 else "/"


def update_command(assignment: PolicyAssignmentInfo) -> str:
    """``az policy assignment update`` adding the namespace to the assignment's excludedNamespaces."""
    namespaces = [*(assignment.excluded_namespaces or ()), EXTENSION_NAMESPACE]
    params = json.dumps({"excludedNamespaces": {"value": namespaces}}, separators=(",", ":"))
    return (
        f"az policy assignment update --name {quote(assignment.name)} "
        f"--scope {quote(_scope_of(assignment.id))} "
        f"--params {quote(params)}"
    )


def check_namespace_excluded(snapshot: Snapshot) -> Finding:
    """policy.namespace-excluded: warn listing enforced Kubernetes assignments lacking the namespace."""
    check = "policy.namespace-excluded"
    assignments = snapshot.policy_assignments
    if isinstance(assignments, Unreadable):
        return unreadable(check, "policy assignments", assignments)
    cluster_id = snapshot.target.cluster_id
    kubernetes = [
        a
        for a in assignments
        if a.excluded_namespaces is not None
        and _enforced(a)
        and ids.is_at_or_above(_scope_of(a.id), cluster_id)
    ]
    offending = [a for a in kubernetes if not _excludes(a)]
    if not kubernetes:
        return passed(check, "no enforced Kubernetes policy assignments apply to the cluster")
    if not offending:
        return passed(
            check, f"all {len(kubernetes)} Kubernetes policy assignment(s) exclude {EXTENSION_NAMESPACE}"
        )
    names = ", ".join(a.display_name or a.name for a in offending)
    return failing(
        check,
        f"{len(offending)} Kubernetes policy assignment(s) do not exclude namespace {EXTENSION_NAMESPACE}: "
        f"{names}; expected it in excludedNamespaces",
        f"In the portal, Policy > Assignments: add {EXTENSION_NAMESPACE} to the excluded namespaces of each "
        "listed assignment.",
        " && ".join(update_command(a) for a in offending),
    )
