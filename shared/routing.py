"""Event routing (docs/architecture.md, "Event routing"): which targets an ARM event can affect. Pure.

The route table is data: each :class:`RouteRule` names a subject pattern, the operation names
Event Grid should deliver for it (the infra's event-subscription filters are generated from
:data:`ROUTES`), and how to find the affected targets:

- ``cluster``: the cluster's own targets (found from ARM or the target index);
- ``vault``: the vault's targets;
- ``scope``: targets whose dependency scopes lie at, under or above the resource (target index).

Rules are tried in order; the first subject match wins. Events caused by the Guard's own
identity, from unwatched subscriptions, failed/cancelled operations and unknown subjects are
ignored with a reason (logged at debug by the caller).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shared import ids
from shared.events import ArmEvent
from shared.settings import Settings

RouteKind = Literal["cluster", "vault", "scope"]

SUBSCRIPTION_EVENT_TYPES = (
    "Microsoft.Resources.ResourceWriteSuccess",
    "Microsoft.Resources.ResourceDeleteSuccess",
    "Microsoft.Resources.ResourceActionSuccess",
)
AKS_EVENT_PREFIX = "Microsoft.ContainerService."

_SEG = r"[^/]+"
_RG = rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}"


@dataclass(frozen=True)
class RouteRule:
    name: str
    pattern: re.Pattern[str]  # matched against the subject; group "id" is the resource to route on
    kind: RouteKind
    operations: tuple[str, ...]


def _rule(name: str, pattern: str, kind: RouteKind, *operations: str) -> RouteRule:
    return RouteRule(name, re.compile(pattern, re.IGNORECASE), kind, operations)


ROUTES: tuple[RouteRule, ...] = (
    _rule(
        # Tags API writes (consent and vault tags set with `az tag update`): re-verify what depends
        # on the tagged scope. Before the generic rules, whose patterns would claim the subject.
        "tags",
        rf"^(?P<id>/subscriptions/{_SEG}.*?)/providers/Microsoft\.Resources/tags/default$",
        "scope",
        "Microsoft.Resources/tags/write",
    ),
    _rule(
        "role-assignment",
        rf"^(?P<id>(?:/subscriptions/{_SEG}.*?)?)/providers/Microsoft\.Authorization/roleAssignments/{_SEG}$",
        "scope",
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
    ),
    _rule(
        "policy-assignment",
        rf"^(?P<id>(?:/subscriptions/{_SEG}.*?)?)/providers/Microsoft\.Authorization/policyAssignments/{_SEG}$",
        "scope",
        "Microsoft.Authorization/policyAssignments/write",
        "Microsoft.Authorization/policyAssignments/delete",
    ),
    _rule(
        "provider-registration",
        rf"^(?P<id>/subscriptions/{_SEG})/providers/Microsoft\.KubernetesConfiguration$",
        "scope",
        "Microsoft.KubernetesConfiguration/register/action",
        "Microsoft.KubernetesConfiguration/unregister/action",
    ),
    _rule(
        "cluster",
        rf"^(?P<id>{_RG}/providers/Microsoft\.ContainerService/managedClusters/{_SEG})(?:/.*)?$",
        "cluster",
        "Microsoft.ContainerService/managedClusters/write",
        "Microsoft.ContainerService/managedClusters/delete",
        "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/write",
        "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/delete",
        "Microsoft.ContainerService/managedClusters/agentPools/write",
        "Microsoft.KubernetesConfiguration/extensions/write",
        "Microsoft.KubernetesConfiguration/extensions/delete",
    ),
    _rule(
        "backup-vault",
        rf"^(?P<id>{_RG}/providers/Microsoft\.DataProtection/backupVaults/{_SEG})(?:/.*)?$",
        "vault",
        "Microsoft.DataProtection/backupVaults/write",
        "Microsoft.DataProtection/backupVaults/delete",
        "Microsoft.DataProtection/backupVaults/backupInstances/write",
        "Microsoft.DataProtection/backupVaults/backupInstances/delete",
        "Microsoft.DataProtection/backupVaults/backupPolicies/write",
        "Microsoft.DataProtection/backupVaults/backupPolicies/delete",
    ),
    _rule(
        "storage-account",
        rf"^(?P<id>{_RG}/providers/Microsoft\.Storage/storageAccounts/{_SEG})(?:/.*)?$",
        "scope",
        "Microsoft.Storage/storageAccounts/write",
        "Microsoft.Storage/storageAccounts/delete",
        "Microsoft.Storage/storageAccounts/blobServices/containers/write",
        "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
    ),
    _rule(
        "network",
        rf"^(?P<id>{_RG}/providers/Microsoft\.Network/(?:networkSecurityGroups|virtualNetworks)/{_SEG})(?:/.*)?$",
        "scope",
        "Microsoft.Network/networkSecurityGroups/write",
        "Microsoft.Network/networkSecurityGroups/delete",
        "Microsoft.Network/networkSecurityGroups/securityRules/write",
        "Microsoft.Network/networkSecurityGroups/securityRules/delete",
        "Microsoft.Network/virtualNetworks/subnets/write",
    ),
    _rule(
        "resource-group",
        rf"^(?P<id>{_RG})$",
        "scope",
        "Microsoft.Resources/subscriptions/resourceGroups/write",
        "Microsoft.Resources/subscriptions/resourceGroups/delete",
    ),
)


def operation_filters() -> list[str]:
    """Every operation name some route needs, sorted (the event subscription's filter values)."""
    return sorted({op for rule in ROUTES for op in rule.operations}, key=str.lower)


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    resource_id: str
    rule: str


@dataclass(frozen=True)
class Decision:
    route: Route | None
    ignored: str = ""  # why nothing is routed


def route(event: ArmEvent, settings: Settings) -> Decision:
    """Decide which targets ``event`` may affect. Never raises for odd input."""
    own = {p for p in (settings.guard_principal_id, settings.arm.client_id) if p}
    if own and event.caller_ids & {p.lower() for p in own}:
        return Decision(None, "caused by the Guard's own identity")
    if event.type.startswith(AKS_EVENT_PREFIX):
        cluster = _ROUTE_BY_NAME["cluster"].pattern.match(event.topic)
        if cluster is None:
            return Decision(None, f"AKS event whose topic is not a cluster id: {event.topic!r}")
        if event.subject.strip().lower() != ids.name_of(cluster.group("id")).lower():
            return Decision(
                None, f"AKS event whose subject {event.subject!r} is not the topic's cluster name"
            )
        return _watched(event, settings, Route("cluster", cluster.group("id"), "aks-system-topic"))
    if event.type not in SUBSCRIPTION_EVENT_TYPES:
        return Decision(None, f"event type {event.type} is not routed")
    for rule in ROUTES:
        match = rule.pattern.match(event.subject)
        if match:
            resource_id = match.group("id") or "/"
            return _watched(event, settings, Route(rule.kind, resource_id, rule.name))
    return Decision(None, f"subject {event.subject!r} matches no route")


def _watched(event: ArmEvent, settings: Settings, candidate: Route) -> Decision:
    """An event is watched by the subscription of the resource it routes to, not by what its
    envelope (topic, data.subscriptionId) claims: a payload never widens what the Guard reads."""
    if not ids.is_clean(candidate.resource_id):
        return Decision(None, f"subject names no valid resource id: {event.subject!r}")
    sub = ids.subscription_of(candidate.resource_id)
    if not settings.watches(sub):
        return Decision(None, f"subscription {sub} is not watched")
    topic = (event.topic or "").strip()
    if ids.shape_of(topic) == "subscription" and ids.subscription_of(topic) != sub:
        return Decision(None, f"event from topic {topic} names a resource in subscription {sub}")
    return Decision(candidate)


_ROUTE_BY_NAME = {rule.name: rule for rule in ROUTES}
