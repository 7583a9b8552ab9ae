"""Load an estate (YAML file or dict, schema in localdev/README.md) into a :class:`Store`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from localdev.azure_sim import shapes
from localdev.azure_sim.backups import run_backups
from localdev.azure_sim.roles import RoleDefinition
from localdev.azure_sim.store import POLICY_ASSIGNMENT_TYPE, Caller, Json, Store, sub_of

DEFAULT_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DEFAULT_GUARD_PRINCIPAL = "00000000-0000-0000-0000-00000000a001"
DEFAULT_GUARD_TOKEN = "sim-guard-token"


def read_estate(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    if isinstance(source, dict):
        return source
    path = Path(source)
    if path.suffix.lower() == ".json":  # JSON is YAML too, and parses ~30x faster than YAML
        try:
            data = json.loads(path.read_text(encoding="utf-8")) or {}
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{path.name} is named .json but is not JSON ({exc}); YAML needs a .yaml name"
            ) from None
    else:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
        with path.open("rb") as fh:
            data = yaml.load(fh, Loader=loader) or {}
    if not isinstance(data, dict):
        raise ValueError(f"estate {source} is not a mapping")
    return data


def management_group_id(name: str) -> str:
    return f"/providers/Microsoft.Management/managementGroups/{name}"


def guard_token(estate: dict[str, Any]) -> str:
    return str((estate.get("guard") or {}).get("token") or DEFAULT_GUARD_TOKEN)


def load(estate: dict[str, Any]) -> Store:
    tenant = str(estate.get("tenant") or DEFAULT_TENANT)
    store = Store(tenant)
    guard = dict(estate.get("guard") or {})
    guard_id = str(guard.get("principal_id") or DEFAULT_GUARD_PRINCIPAL)
    store.tokens[guard_token(estate)] = Caller(guard_id, "ServicePrincipal", restricted=True)
    store.add_principal(guard_id, display_name="aks-backup-guard")
    for other in estate.get("other_tokens") or []:
        object_type = str(other.get("object_type", "User"))
        store.tokens[str(other["token"])] = Caller(str(other["principal_id"]), object_type, restricted=False)
        store.add_principal(str(other["principal_id"]), object_type=object_type)
    for principal in estate.get("principals") or []:
        store.add_principal(
            str(principal["id"]),
            display_name=str(principal.get("display_name", "")),
            object_type=str(principal.get("object_type", "ServicePrincipal")),
            replicate_after=float(principal.get("replicate_after_seconds", 0) or 0),
        )
    for custom in estate.get("custom_roles") or []:
        role = RoleDefinition(
            guid=str(custom["id"]).rsplit("/", 1)[-1],
            name=str(custom["name"]),
            actions=tuple(custom.get("actions") or ()),
            not_actions=tuple(custom.get("not_actions") or ()),
            data_actions=tuple(custom.get("data_actions") or ()),
            not_data_actions=tuple(custom.get("not_data_actions") or ()),
            built_in=False,
            description=str(custom.get("description", "")),
            assignable_scopes=tuple(custom.get("assignable_scopes") or ("/",)),
        )
        store.role_definitions[role.guid.lower()] = role
    for group in estate.get("management_groups") or []:
        store.management_groups[str(group["name"]).lower()] = {
            str(sub).lower() for sub in group.get("subscriptions") or []
        }
        for pa in group.get("policy_assignments") or []:
            store.put(shapes.policy_assignment(management_group_id(str(group["name"])), pa))
    for definition in estate.get("policy_definitions") or []:
        store.put(shapes.policy_definition(dict(definition)))
    for sub in estate.get("subscriptions") or []:
        _load_subscription(store, sub)
    _define_assigned_policies(store)
    for ra in estate.get("role_assignments") or []:
        add_role_assignment(store, ra)
    for lock in estate.get("locks") or []:
        store.locks.append(
            {
                "scope": str(lock["scope"]),
                "level": str(lock.get("level", "CanNotDelete")),
                "name": str(lock.get("name") or "lock"),
            }
        )
    for region, minors in (estate.get("kubernetes_versions") or {}).items():
        store.kubernetes_versions[str(region).replace(" ", "").lower()] = [dict(m) for m in minors or []]
    for hours_ago in estate.get("backup_runs_hours_ago") or []:
        run_backups(store, now=datetime.now(UTC) - timedelta(hours=float(hours_ago)))
    for topic in estate.get("eventgrid_topics") or []:
        store.eventgrid_topics.append(
            {
                "name": str(topic["name"]),
                "key": str(topic.get("key") or ""),
                "senders": [str(s) for s in topic.get("senders") or []],
            }
        )
    return store


def _load_subscription(store: Store, spec: dict[str, Any]) -> None:
    sub = str(spec["id"])
    store.subscriptions[sub.lower()] = shapes.subscription(
        sub, str(spec.get("display_name", sub)), store.tenant
    )
    if spec.get("tags"):
        store.subscriptions[sub.lower()]["tags"] = {str(k): str(v) for k, v in spec["tags"].items()}
    for namespace, state in (spec.get("providers") or {}).items():
        store.provider(sub, str(namespace)).state = str(state)
    for pa in spec.get("policy_assignments") or []:
        store.put(shapes.policy_assignment(str(pa.get("scope") or f"/subscriptions/{sub}"), pa))
    for rg in spec.get("resource_groups") or []:
        _load_rg(store, sub, rg)


def _load_rg(store: Store, sub: str, spec: dict[str, Any]) -> None:
    rg = str(spec["name"])
    location = str(spec.get("location", "westeurope"))
    store.put(shapes.resource_group(sub, rg, location, spec.get("tags")))
    for uami in spec.get("user_assigned_identities") or []:
        identity = store.put(shapes.user_assigned_identity(sub, rg, location, store.tenant, uami))
        store.add_principal(str(identity["properties"]["principalId"]), display_name=str(uami["name"]))
    for nsg_spec in spec.get("network_security_groups") or []:
        store.put(shapes.nsg(sub, rg, location, nsg_spec, []))
    for vnet_spec in spec.get("virtual_networks") or []:
        vnet_id = shapes.arm_id(sub, rg, "Microsoft.Network/virtualNetworks", str(vnet_spec["name"]))
        subnets = []
        for subnet_spec in vnet_spec.get("subnets") or []:
            nsg_ref = subnet_spec.get("nsg")
            nsg_id = None
            if nsg_ref:
                nsg_ref = str(nsg_ref)
                nsg_id = (
                    nsg_ref
                    if nsg_ref.startswith("/")
                    else shapes.arm_id(sub, rg, "Microsoft.Network/networkSecurityGroups", nsg_ref)
                )
            body = shapes.subnet(vnet_id, subnet_spec, nsg_id)
            subnets.append(body)
            if nsg_id:
                nsg_body = store.get(nsg_id)
                if nsg_body is not None:
                    nsg_body["properties"]["subnets"].append({"id": body["id"]})
        store.put(shapes.vnet(sub, rg, location, vnet_spec, subnets))
        for body in subnets:
            store.put(body)
    for sa in spec.get("storage_accounts") or []:
        account = store.put(shapes.storage_account(sub, rg, location, sa))
        for container, blobs in (sa.get("containers") or {}).items():
            store.blobs[(str(sa["name"]).lower(), str(container).lower())] = sorted(
                str(b) for b in blobs or []
            )
            store.put(shapes.blob_container(account["id"], str(container)))
    for cl in spec.get("clusters") or []:
        body = store.put(shapes.cluster(sub, rg, location, store.tenant, cl))
        principal = shapes.cluster_principal(body)
        if principal:
            store.add_principal(principal, display_name=str(cl["name"]))
        kubelet = body["properties"]["identityProfile"]["kubeletidentity"]["objectId"]
        store.add_principal(kubelet, display_name=f"{cl['name']}-agentpool")
        if cl.get("extension"):
            ext_spec = dict(cl["extension"])
            ext = store.put(shapes.extension(body["id"], store.tenant, ext_spec))
            ext_id = str(ext["id"])
            principal = str(ext_spec.get("principal_id") or shapes.stable_guid(ext_id, "ext"))
            store.add_principal(principal, display_name="extension")
        for binding in cl.get("trusted_access_bindings") or []:
            store.put(
                shapes.trusted_access_binding(
                    body["id"],
                    str(binding["name"]),
                    str(binding["source_resource_id"]),
                    [str(r) for r in binding.get("roles") or []],
                    str(binding.get("provisioning_state", "Succeeded")),
                )
            )
        if cl.get("run_command") is not None:
            store.run_commands[body["id"].lower()] = dict(cl["run_command"])
    for v in spec.get("vaults") or []:
        body = store.put(shapes.vault(sub, rg, location, store.tenant, v))
        for principal in shapes.vault_principals(body):
            store.add_principal(principal, display_name=str(v["name"]))
        for policy in v.get("policies") or []:
            store.put(shapes.backup_policy(body["id"], str(policy["name"]), bool(policy.get("vault_store"))))
        for bi in v.get("backup_instances") or []:
            instance = store.put(shapes.backup_instance(body["id"], {"location": body["location"], **bi}))
            if bi.get("never_backed_up"):
                store.never_backed_up.add(str(instance["id"]).lower())


def _define_assigned_policies(store: Store) -> None:
    """Every assigned definition exists in Azure: one the estate does not declare is served as a
    definition without an excludedNamespaces parameter (not a Kubernetes policy)."""
    for pa in store.by_type(POLICY_ASSIGNMENT_TYPE):
        definition_id = str(pa["properties"].get("policyDefinitionId") or "")
        if definition_id.startswith("/") and store.get(definition_id) is None:
            store.put(
                shapes.policy_definition(
                    {"id": definition_id, "display_name": pa["properties"].get("displayName")}
                )
            )


def add_role_assignment(store: Store, spec: dict[str, Any]) -> Json:
    scope = str(spec["scope"]).rstrip("/") or "/"
    role_ref = str(spec["role"])
    role = store.role_by_name(role_ref) or store.role_definition(role_ref)
    if role is None:
        raise ValueError(f"unknown role {role_ref!r} in estate role assignment at {scope}")
    principal_id = str(spec["principal_id"])
    principal = store.principals.get(principal_id.lower())
    principal_type = str(
        spec.get("principal_type") or (principal.object_type if principal else "ServicePrincipal")
    )
    name = str(spec.get("name") or shapes.stable_guid(scope, principal_id, role.guid))
    condition = spec.get("condition")
    body = shapes.role_assignment(
        scope,
        name,
        role_guid=role.guid,
        principal_id=principal_id,
        principal_type=principal_type,
        condition=str(condition) if condition else None,
        condition_version=str(spec.get("condition_version", "2.0")) if condition else None,
    )
    if sub_of(scope) is None and scope != "/":
        body["properties"]["roleDefinitionId"] = (
            f"/providers/Microsoft.Authorization/roleDefinitions/{role.guid}"
        )
    return store.put(body)
