"""SDK models -> the Guard's plain records (shared.model). Pure; no I/O.

The azure-mgmt models are read by attribute (what survives SDK deserialization is what the Guard
sees). Parameters are typed ``Any`` on purpose: the generated models differ between SDK
generations, and every attribute is treated as optional.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.model import (
    BackupInstanceInfo,
    ClusterInfo,
    ExtensionInfo,
    NsgInfo,
    NsgRule,
    PolicyAssignmentInfo,
    PolicyInfo,
    ResourceAccessRule,
    RoleAssignmentInfo,
    StorageAccountInfo,
    TrustedAccessBinding,
    VaultInfo,
)


def dig(obj: Any, *path: str) -> Any:
    """Follow attributes, returning None as soon as one is missing or None."""
    for name in path:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def tags_of(obj: Any) -> dict[str, str]:
    """The ``tags`` of an SDK model (resource group, resource, or the Tags API's ``properties``)."""
    return _tags(obj)


def _tags(obj: Any) -> dict[str, str]:
    tags = getattr(obj, "tags", None) or {}
    return {str(k): str(v) for k, v in dict(tags).items()}


def cluster(mc: Any) -> ClusterInfo:
    props = dig(mc, "properties") or mc
    identity_type = _text(dig(mc, "identity", "type"))
    principal = dig(mc, "identity", "principal_id")
    if not principal:
        user_assigned = dig(mc, "identity", "user_assigned_identities") or {}
        for value in dict(user_assigned).values():
            principal = getattr(value, "principal_id", None)
            if principal:
                break
    subnets = tuple(
        str(pool.vnet_subnet_id)
        for pool in (dig(props, "agent_pool_profiles") or [])
        if getattr(pool, "vnet_subnet_id", None)
    )
    return ClusterInfo(
        id=str(mc.id),
        name=str(mc.name),
        location=str(getattr(mc, "location", "") or ""),
        tags=_tags(mc),
        identity_type=identity_type,
        principal_id=str(principal) if principal else None,
        service_principal_client_id=_text(dig(props, "service_principal_profile", "client_id")),
        kubernetes_version=_text(dig(props, "kubernetes_version")),
        current_kubernetes_version=_text(dig(props, "current_kubernetes_version")),
        disk_csi_enabled=dig(props, "storage_profile", "disk_csi_driver", "enabled"),
        snapshot_controller_enabled=dig(props, "storage_profile", "snapshot_controller", "enabled"),
        outbound_type=_text(dig(props, "network_profile", "outbound_type")),
        node_resource_group=_text(dig(props, "node_resource_group")),
        subnet_ids=tuple(dict.fromkeys(subnets)),
        provisioning_state=_text(dig(props, "provisioning_state")),
    )


def vault(bv: Any) -> VaultInfo:
    return VaultInfo(
        id=str(bv.id),
        name=str(bv.name),
        location=str(getattr(bv, "location", "") or ""),
        tags=_tags(bv),
        identity_type=_text(dig(bv, "identity", "type")),
        principal_id=_text(dig(bv, "identity", "principal_id")),
        tenant_id=_text(dig(bv, "identity", "tenant_id")),
    )


def is_cluster_instance(bi: Any) -> bool:
    kind = _text(dig(bi, "properties", "data_source_info", "datasource_type")) or ""
    return kind.lower() == "microsoft.containerservice/managedclusters"


def backup_instance(bi: Any) -> BackupInstanceInfo:
    props = dig(bi, "properties")
    snapshot_rg = None
    for params in dig(props, "policy_info", "policy_parameters", "data_store_parameters_list") or []:
        rg = getattr(params, "resource_group_id", None)
        if rg:
            snapshot_rg = str(rg)
            break
    return BackupInstanceInfo(
        id=str(bi.id),
        cluster_id=_text(dig(props, "data_source_info", "resource_id")) or "",
        datasource_type=_text(dig(props, "data_source_info", "datasource_type")) or "",
        policy_id=_text(dig(props, "policy_info", "policy_id")),
        snapshot_resource_group_id=snapshot_rg,
    )


def _mentions_vault_store(node: Any) -> bool:
    if isinstance(node, Mapping):
        if str(node.get("dataStoreType", "")).lower() == "vaultstore":
            return True
        return any(_mentions_vault_store(v) for v in node.values())
    if isinstance(node, list):
        return any(_mentions_vault_store(v) for v in node)
    return False


def policy(bp: Any) -> PolicyInfo:
    """Vaulted backup = any rule or lifecycle of the policy stores in, or copies to, VaultStore."""
    props = dig(bp, "properties")
    raw = props.as_dict() if hasattr(props, "as_dict") else props
    return PolicyInfo(id=str(bp.id), uses_vault_store=_mentions_vault_store(raw))


def extension(ext: Any) -> ExtensionInfo:
    props = dig(ext, "properties") or ext
    settings = dig(props, "configuration_settings") or {}
    return ExtensionInfo(
        id=str(ext.id),
        name=str(ext.name),
        extension_type=_text(dig(props, "extension_type")) or "",
        provisioning_state=_text(dig(props, "provisioning_state")),
        principal_id=_text(dig(props, "aks_assigned_identity", "principal_id")),
        configuration={str(k): str(v) for k, v in dict(settings).items()},
    )


def storage_account(sa: Any) -> StorageAccountInfo:
    props = dig(sa, "properties") or sa
    acls = dig(props, "network_rule_set")
    bypass = _text(dig(acls, "bypass")) or ""
    return StorageAccountInfo(
        id=str(sa.id),
        name=str(sa.name),
        default_action=_text(dig(acls, "default_action")) or "Allow",
        bypass=tuple(part.strip() for part in bypass.split(",") if part.strip()),
        resource_access_rules=tuple(
            ResourceAccessRule(tenant_id=str(rule.tenant_id or ""), resource_id=str(rule.resource_id or ""))
            for rule in (dig(acls, "resource_access_rules") or [])
        ),
        ip_rules=tuple(str(rule.ip_address_or_range) for rule in (dig(acls, "ip_rules") or [])),
        virtual_network_rules=tuple(
            str(rule.virtual_network_resource_id) for rule in (dig(acls, "virtual_network_rules") or [])
        ),
        public_network_access=_text(dig(props, "public_network_access")),
        allow_shared_key_access=dig(props, "allow_shared_key_access"),
        private_endpoint_count=len(dig(props, "private_endpoint_connections") or []),
        tags=_tags(sa),
    )


def trusted_access_binding(binding: Any) -> TrustedAccessBinding:
    props = dig(binding, "properties") or binding
    return TrustedAccessBinding(
        id=str(binding.id),
        name=str(binding.name),
        source_resource_id=_text(dig(props, "source_resource_id")) or "",
        roles=tuple(str(r) for r in (dig(props, "roles") or [])),
        provisioning_state=_text(dig(props, "provisioning_state")),
    )


def role_assignment(ra: Any) -> RoleAssignmentInfo:
    return RoleAssignmentInfo(
        id=str(ra.id),
        scope=str(ra.scope or ""),
        principal_id=str(ra.principal_id or "").lower(),
        role_definition_id=str(ra.role_definition_id or ""),
    )


def _prefixes(single: Any, many: Any) -> tuple[str, ...]:
    values = [str(v) for v in (many or [])]
    if single:
        values.insert(0, str(single))
    return tuple(values)


def nsg(group: Any, subnet_id: str) -> NsgInfo:
    props = dig(group, "properties") or group
    rules: list[NsgRule] = []
    for rule in dig(props, "security_rules") or []:
        rp = dig(rule, "properties") or rule
        rules.append(
            NsgRule(
                name=str(rule.name),
                direction=_text(dig(rp, "direction")) or "",
                access=_text(dig(rp, "access")) or "",
                priority=int(dig(rp, "priority") or 0),
                source_prefixes=_prefixes(
                    dig(rp, "source_address_prefix"), dig(rp, "source_address_prefixes")
                ),
                destination_prefixes=_prefixes(
                    dig(rp, "destination_address_prefix"), dig(rp, "destination_address_prefixes")
                ),
            )
        )
    return NsgInfo(id=str(group.id), subnet_id=subnet_id, rules=tuple(rules))


def policy_assignment(pa: Any) -> PolicyAssignmentInfo:
    props = dig(pa, "properties") or pa
    parameters = dig(props, "parameters") or {}
    excluded: tuple[str, ...] | None = None
    for name, value in dict(parameters).items():
        if name.lower() == "excludednamespaces":
            raw = getattr(value, "value", None)
            if raw is None and isinstance(value, Mapping):
                raw = value.get("value")
            excluded = tuple(str(v) for v in (raw or []))
    return PolicyAssignmentInfo(
        id=str(pa.id),
        name=str(pa.name),
        policy_definition_id=_text(dig(props, "policy_definition_id")) or "",
        display_name=_text(dig(props, "display_name")),
        excluded_namespaces=excluded,
        enforcement_mode=_text(dig(props, "enforcement_mode")),
    )


def backup_extension(extensions: Iterable[ExtensionInfo]) -> ExtensionInfo | None:
    """The AKS backup extension among a cluster's extensions (by type, case-insensitive)."""
    for ext in extensions:
        if ext.extension_type.lower() == "microsoft.dataprotection.kubernetes":
            return ext
    return None


def subnet_parts(subnet_id: str) -> tuple[str, str, str, str] | None:
    """(subscription, resource group, vnet, subnet) of a subnet id, or None if malformed."""
    parts = subnet_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    try:
        sub = parts[lowered.index("subscriptions") + 1]
        rg = parts[lowered.index("resourcegroups") + 1]
        vnet = parts[lowered.index("virtualnetworks") + 1]
        subnet = parts[lowered.index("subnets") + 1]
    except (ValueError, IndexError):
        return None
    return sub, rg, vnet, subnet
