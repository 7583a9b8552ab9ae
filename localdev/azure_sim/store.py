"""The simulator's state: ARM resources by lower-cased id, plus the directory, tokens and roles.

Every resource is stored as the JSON body ARM would return, with ``id`` in the casing the
estate (or the creating request) used. Lookups go through the lower-cased id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from localdev.azure_sim.roles import BUILT_IN, RoleDefinition

Json = dict[str, Any]

ROLE_ASSIGNMENT_TYPE = "microsoft.authorization/roleassignments"
POLICY_ASSIGNMENT_TYPE = "microsoft.authorization/policyassignments"


def parent_of(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[0]


def sub_of(resource_id: str) -> str | None:
    parts = resource_id.strip("/").split("/")
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1].lower()
    return None


def rg_of(resource_id: str) -> str | None:
    """Lower-cased ``/subscriptions/{s}/resourcegroups/{rg}`` of an id, or None."""
    parts = resource_id.strip("/").split("/")
    if len(parts) >= 4 and parts[0].lower() == "subscriptions" and parts[2].lower() == "resourcegroups":
        return f"/subscriptions/{parts[1]}/resourcegroups/{parts[3]}".lower()
    return None


MANAGEMENT_GROUP_PREFIX = "/providers/microsoft.management/managementgroups/"


def management_group_of(scope: str) -> str | None:
    """The management group name of a ``/providers/Microsoft.Management/managementGroups/{name}``
    scope (lower-cased), or None."""
    lowered = scope.rstrip("/").lower()
    if lowered.startswith(MANAGEMENT_GROUP_PREFIX):
        rest = lowered[len(MANAGEMENT_GROUP_PREFIX) :].split("/")
        return rest[0] or None
    return None


def is_at_or_above(ancestor: str, scope: str) -> bool:
    a = ancestor.rstrip("/").lower()
    s = scope.rstrip("/").lower()
    if a == "":
        return True
    return s == a or s.startswith(a + "/")


@dataclass
class Principal:
    id: str
    display_name: str = ""
    object_type: str = "ServicePrincipal"
    visible_at: float = 0.0  # monotonic time from which the principal is replicated


@dataclass(frozen=True)
class Caller:
    principal_id: str
    object_type: str = "ServicePrincipal"
    restricted: bool = False  # True for the Guard: subject to RBAC


@dataclass
class Provider:
    namespace: str
    state: str = "Registered"
    registering_since: float | None = None


@dataclass
class Operation:
    """A long-running operation: answers InProgress ``polls`` times, then ``final``."""

    id: str
    resource_id: str
    polls: int = 1
    final: str = "Succeeded"
    extra: Json = field(default_factory=dict)


class Store:
    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.started = time.monotonic()
        self.resources: dict[str, Json] = {}
        self._collections: dict[str, dict[str, None]] = {}
        self._by_sub_type: dict[tuple[str, str], dict[str, None]] = {}
        self._by_rg_type: dict[tuple[str, str], dict[str, None]] = {}
        self._by_type: dict[str, dict[str, None]] = {}
        self.subscriptions: dict[str, Json] = {}
        self.providers: dict[tuple[str, str], Provider] = {}
        self.principals: dict[str, Principal] = {}
        self.tokens: dict[str, Caller] = {}
        self.role_definitions: dict[str, RoleDefinition] = {r.guid.lower(): r for r in BUILT_IN}
        self.blobs: dict[tuple[str, str], list[str]] = {}
        self.accounts_by_name: dict[str, str] = {}
        self.bi_by_cluster: dict[str, dict[str, None]] = {}
        self.ra_by_principal: dict[str, dict[str, None]] = {}
        self.ra_outside_subscriptions: dict[str, None] = {}  # root and management-group scopes
        self.operations: dict[str, Operation] = {}
        self.run_commands: dict[str, Json] = {}  # cluster id lower -> {"output", "exit_code"}
        self.register_seconds = 1.0
        self.management_groups: dict[str, set[str]] = {}  # name lower -> subscription ids lower
        self.pending: dict[str, float] = {}
        # extension id lower -> its identity, shown once the extension is created
        self.extension_principals: dict[str, str] = {}
        self.never_backed_up: set[str] = set()  # instance ids (lower) the backup runner skips
        self.locks: list[Json] = []  # estate ``locks``: [{scope, level (CanNotDelete|ReadOnly), name}]
        self.eventgrid_topics: list[Json] = []  # estate ``eventgrid_topics``: [{name, key, senders}]
        # estate ``kubernetes_versions``: region (lower, no spaces) or "default" -> minors served
        self.kubernetes_versions: dict[str, list[Json]] = {}

    # resources -------------------------------------------------------------------------
    def put(self, body: Json) -> Json:
        rid: str = body["id"]
        key = rid.lower()
        rtype = str(body.get("type", "")).lower()
        self.resources[key] = body
        self._collections.setdefault(parent_of(key), {})[key] = None
        self._by_type.setdefault(rtype, {})[key] = None
        sub = sub_of(key)
        if sub:
            self._by_sub_type.setdefault((sub, rtype), {})[key] = None
        rg = rg_of(key)
        if rg:
            self._by_rg_type.setdefault((rg, rtype), {})[key] = None
        if rtype == "microsoft.dataprotection/backupvaults/backupinstances":
            cluster = str(body.get("properties", {}).get("dataSourceInfo", {}).get("resourceID", "")).lower()
            self.bi_by_cluster.setdefault(cluster, {})[key] = None
        if rtype == "microsoft.storage/storageaccounts":
            self.accounts_by_name[str(body["name"]).lower()] = key
        if rtype == ROLE_ASSIGNMENT_TYPE:
            principal = str(body.get("properties", {}).get("principalId", "")).lower()
            self.ra_by_principal.setdefault(principal, {})[key] = None
            if sub is None:
                self.ra_outside_subscriptions[key] = None
        return body

    def get(self, resource_id: str) -> Json | None:
        return self.resources.get(resource_id.rstrip("/").lower())

    def delete(self, resource_id: str) -> Json | None:
        key = resource_id.rstrip("/").lower()
        body = self.resources.pop(key, None)
        if body is None:
            return None
        rtype = str(body.get("type", "")).lower()
        self._collections.get(parent_of(key), {}).pop(key, None)
        self._by_type.get(rtype, {}).pop(key, None)
        sub = sub_of(key)
        if sub:
            self._by_sub_type.get((sub, rtype), {}).pop(key, None)
        rg = rg_of(key)
        if rg:
            self._by_rg_type.get((rg, rtype), {}).pop(key, None)
        for index in self.bi_by_cluster.values():
            index.pop(key, None)
        if rtype == ROLE_ASSIGNMENT_TYPE:
            principal = str(body.get("properties", {}).get("principalId", "")).lower()
            self.ra_by_principal.get(principal, {}).pop(key, None)
            self.ra_outside_subscriptions.pop(key, None)
        return body

    def children(self, collection: str) -> list[Json]:
        keys = self._collections.get(collection.rstrip("/").lower(), {})
        return [self.resources[k] for k in keys]

    def by_type(self, rtype: str, *, sub: str | None = None, rg: str | None = None) -> list[Json]:
        t = rtype.lower()
        if rg is not None:
            keys = self._by_rg_type.get((rg.lower(), t), {})
        elif sub is not None:
            keys = self._by_sub_type.get((sub.lower(), t), {})
        else:
            keys = self._by_type.get(t, {})
        return [self.resources[k] for k in keys]

    # asynchronous states ---------------------------------------------------------------
    def start_pending(self, resource_id: str, seconds: float) -> None:
        """``resource_id`` is in a transitional state until ``seconds`` from now (see :meth:`settle`)."""
        self.pending[resource_id.lower()] = time.monotonic() + max(0.0, seconds)

    def settled(self, resource_id: str) -> bool:
        """True when the resource's transitional state is over (and forgets it)."""
        key = resource_id.lower()
        due = self.pending.get(key)
        if due is None:
            return True
        if time.monotonic() >= due:
            del self.pending[key]
            return True
        return False

    def settle_all(self) -> None:
        """End every transitional state now (admin ``POST /_sim/settle``)."""
        for key in list(self.pending):
            self.pending[key] = 0.0

    # lookups ---------------------------------------------------------------------------
    def contains(self, ancestor: str, scope: str) -> bool:
        """``ancestor`` is ``scope`` or above it, management groups included (one level: a
        management group holds the subscriptions the estate lists under it)."""
        group = management_group_of(ancestor)
        if group is not None and management_group_of(scope) is None:
            sub = sub_of(scope)
            return sub is not None and sub in self.management_groups.get(group, set())
        return is_at_or_above(ancestor, scope)

    def subscription(self, sub: str) -> Json | None:
        return self.subscriptions.get(sub.lower())

    def resource_group(self, sub: str, rg: str) -> Json | None:
        return self.get(f"/subscriptions/{sub}/resourceGroups/{rg}")

    def provider(self, sub: str, namespace: str) -> Provider:
        key = (sub.lower(), namespace.lower())
        prov = self.providers.get(key)
        if prov is None:
            prov = self.providers[key] = Provider(namespace)
        if (
            prov.state == "Registering"
            and prov.registering_since is not None
            and time.monotonic() - prov.registering_since >= self.register_seconds
        ):
            prov.state = "Registered"
            prov.registering_since = None
        return prov

    def role_definition(self, guid_or_id: str) -> RoleDefinition | None:
        return self.role_definitions.get(guid_or_id.rstrip("/").rsplit("/", 1)[-1].lower())

    def role_by_name(self, name: str) -> RoleDefinition | None:
        lowered = name.lower()
        for role in self.role_definitions.values():
            if role.name.lower() == lowered or role.guid.lower() == lowered:
                return role
        return None

    def add_principal(
        self,
        principal_id: str,
        *,
        display_name: str = "",
        object_type: str = "ServicePrincipal",
        replicate_after: float = 0.0,
    ) -> Principal:
        key = principal_id.lower()
        existing = self.principals.get(key)
        if existing is not None:
            return existing
        principal = Principal(principal_id, display_name, object_type, self.started + replicate_after)
        self.principals[key] = principal
        return principal

    def principal_visible(self, principal_id: str) -> bool:
        principal = self.principals.get(principal_id.lower())
        return principal is not None and time.monotonic() >= principal.visible_at

    def replicate(self, principal_id: str) -> bool:
        principal = self.principals.get(principal_id.lower())
        if principal is None:
            return False
        principal.visible_at = 0.0
        return True

    def role_assignments(
        self, *, subscription: str | None = None, principal: str | None = None
    ) -> list[Json]:
        """Role assignments, optionally narrowed by principal, or to one subscription's scopes plus
        the scopes above subscriptions (root, management groups)."""
        if principal is not None:
            keys: list[str] = list(self.ra_by_principal.get(principal.lower(), {}))
            if subscription is not None:
                keys = [k for k in keys if sub_of(k) in (None, subscription.lower())]
            return [self.resources[k] for k in keys]
        if subscription is not None:
            inside = self.by_type(ROLE_ASSIGNMENT_TYPE, sub=subscription)
            return [self.resources[k] for k in self.ra_outside_subscriptions] + inside
        return self.by_type(ROLE_ASSIGNMENT_TYPE)
