"""Subscription check: Microsoft.KubernetesConfiguration registered on the cluster's subscription.

Reads only ``snapshot.provider_state`` (the registrationState read from the cluster's subscription).
"""

from __future__ import annotations

from shared.checks._common import cluster_sub, failing, passed, unreadable
from shared.model import Finding, Snapshot, Status, Unreadable

NAMESPACE = "Microsoft.KubernetesConfiguration"


def check_kubernetes_configuration_registered(snapshot: Snapshot) -> Finding:
    """subscription.kubernetes-configuration-registered: ``Registered`` passes, ``Registering`` warns
    (it completes by itself within minutes), anything else fails."""
    check = "subscription.kubernetes-configuration-registered"
    state = snapshot.provider_state
    if isinstance(state, Unreadable):
        return unreadable(check, f"resource provider {NAMESPACE}", state)
    sub = cluster_sub(snapshot)
    observed = (
        f"{NAMESPACE} registrationState is {state or 'not set'} on subscription {sub}; expected Registered"
    )
    normalized = (state or "").strip().lower()
    if normalized == "registered":
        return passed(check, observed)
    summary = f"In the portal, Subscription > Settings > Resource providers: register {NAMESPACE}."
    command = f"az provider register --namespace {NAMESPACE} --subscription {sub}"
    if normalized == "registering":
        return failing(check, observed + " (registration in progress)", summary, command, status=Status.WARN)
    return failing(check, observed, summary, command)
