"""Azure Policy check: Kubernetes policy assignments exclude namespace dataprotection-microsoft.

An assignment counts as a Kubernetes policy when it has an ``excludedNamespaces`` parameter: set
on the assignment itself, or (real assignments carry only the parameters someone set) the
default of its definition's parameter, read once per scan (``excluded_from`` says which).

Only assignments that govern the cluster count (:meth:`PolicyAssignmentInfo.applies_to`): scope
the cluster or a parent, or a management group (the subscription's listing returns those only
when they apply), and the cluster not under one of its ``notScopes``. Assignments with
enforcementMode ``DoNotEnforce`` only audit and cannot block the extension, so they are not
reported.
"""

from __future__ import annotations

import json

from shared.checks._common import failing, passed, quote, unknown, unreadable
from shared.model import Finding, PolicyAssignmentInfo, Snapshot, Unreadable

EXTENSION_NAMESPACE = "dataprotection-microsoft"


def _excludes(assignment: PolicyAssignmentInfo) -> bool:
    return any(ns.strip().lower() == EXTENSION_NAMESPACE for ns in assignment.excluded_namespaces or ())


def _enforced(assignment: PolicyAssignmentInfo) -> bool:
    return (assignment.enforcement_mode or "Default").strip().lower() != "donotenforce"


def update_command(assignment: PolicyAssignmentInfo) -> str:
    """``az policy assignment update`` setting excludedNamespaces to the effective list plus the
    namespace (for a definition default, the default list is written out explicitly)."""
    namespaces = [*(assignment.excluded_namespaces or ()), EXTENSION_NAMESPACE]
    params = json.dumps({"excludedNamespaces": {"value": namespaces}}, separators=(",", ":"))
    return (
        f"az policy assignment update --name {quote(assignment.name)} "
        f"--scope {quote(assignment.scope_id)} "
        f"--params {quote(params)}"
    )


def _label(assignment: PolicyAssignmentInfo) -> str:
    name = assignment.display_name or assignment.name
    if assignment.excluded_from == "definition-default":
        return f"{name} (definition default)"
    return name


def check_namespace_excluded(snapshot: Snapshot) -> Finding:
    """policy.namespace-excluded: warn listing enforced Kubernetes assignments lacking the namespace."""
    check = "policy.namespace-excluded"
    assignments = snapshot.policy_assignments
    if isinstance(assignments, Unreadable):
        return unreadable(check, "policy assignments", assignments)
    cluster_id = snapshot.target.cluster_id
    governing = [a for a in assignments if _enforced(a) and a.applies_to(cluster_id)]
    kubernetes = [a for a in governing if a.excluded_namespaces is not None]
    offending = [a for a in kubernetes if not _excludes(a)]
    unread = [a for a in governing if a.excluded_namespaces is None and a.definition_unreadable]
    if offending:
        names = ", ".join(_label(a) for a in offending)
        return failing(
            check,
            f"{len(offending)} Kubernetes policy assignment(s) do not exclude namespace "
            f"{EXTENSION_NAMESPACE}: {names}; expected it in excludedNamespaces",
            f"In the portal, Policy > Assignments: add {EXTENSION_NAMESPACE} to the excluded namespaces of "
            "each listed assignment (at its scope, which may be a management group).",
            " && ".join(update_command(a) for a in offending),
        )
    if unread:
        return unknown(
            check,
            f"could not read the definition of {len(unread)} policy assignment(s) that govern the cluster "
            f"({unread[0].display_name or unread[0].name}: {unread[0].definition_unreadable})",
        )
    if not kubernetes:
        return passed(check, "no enforced Kubernetes policy assignments apply to the cluster")
    return passed(
        check, f"all {len(kubernetes)} Kubernetes policy assignment(s) exclude {EXTENSION_NAMESPACE}"
    )
