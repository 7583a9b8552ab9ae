"""SDK models or ARM's JSON -> the Guard's plain records (shared.model). Pure; no I/O.

The azure-mgmt models are read by attribute (what survives SDK deserialization is what the Guard
sees). Parameters are typed ``Any`` on purpose: the generated models differ between SDK
generations, and every attribute is treated as optional.

The scan's hot reads are taken as ARM's JSON, without SDK models: deserializing a whole model
cost more CPU than the rest of the read, and the Guard needs a few fields of each. Two ways:
- a cluster's extensions and trusted-access bindings have JSON converters of their own
  (:func:`extension_json`, :func:`trusted_access_binding_json`); the SDK-model forms of the same
  records go through them;
- clusters, vaults, backup instances, backup jobs and role assignments are wrapped in a
  :class:`JsonView`, which answers the SDK's attribute names from ARM's JSON, so one converter
  serves both (and the contract tests prove it on recorded bodies).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

from shared.model import (
    BackupError,
    BackupInstanceInfo,
    ClusterInfo,
    ExtensionInfo,
    JobInfo,
    NodePool,
    NsgInfo,
    NsgRule,
    PolicyAssignmentInfo,
    PolicyDefinitionInfo,
    PolicyInfo,
    ResourceAccessRule,
    RoleAssignmentInfo,
    StorageAccountInfo,
    TrustedAccessBinding,
    VaultInfo,
)


def _flat(name: str) -> str:
    return name.replace("_", "").lower()


class JsonView(Mapping[str, Any]):
    """Read-only view of one ARM JSON object that answers attribute access the way the SDK
    models do: ``view.node_resource_group`` finds ``nodeResourceGroup``, ``vnet_subnet_id`` finds
    ``vnetSubnetID`` (names compared without underscores, case-insensitively), and a name not at
    the top level is looked up in ``properties`` (the SDKs' flattening, e.g. a role assignment's
    ``principal_id``). Missing names are None. Objects and lists of objects come back wrapped."""

    __slots__ = ("_body", "_names")

    def __init__(self, body: Mapping[str, Any]) -> None:
        self._body = body
        self._names: dict[str, str] | None = None

    def _lookup(self, name: str) -> Any:
        names = self._names
        if names is None:
            names = self._names = {_flat(key): key for key in self._body}
        key = names.get(_flat(name))
        if key is not None:
            return wrap(self._body[key])
        props = self._body.get("properties")
        if isinstance(props, Mapping) and name != "properties":
            return JsonView(props)._lookup(name)
        return None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._lookup(name)

    def __getitem__(self, key: str) -> Any:
        return wrap(self._body[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._body)

    def __len__(self) -> int:
        return len(self._body)


def wrap(value: Any) -> Any:
    """ARM JSON as the converters read it: objects as :class:`JsonView`, lists item by item."""
    if isinstance(value, Mapping) and not isinstance(value, JsonView):
        return JsonView(value)
    if isinstance(value, list):
        return [wrap(item) for item in value]
    return value


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
        node_pools=tuple(
            NodePool(
                name=str(getattr(pool, "name", "") or ""),
                os_type=_text(getattr(pool, "os_type", None)),
                vm_size=_text(getattr(pool, "vm_size", None)),
                mode=_text(getattr(pool, "mode", None)),
            )
            for pool in (dig(props, "agent_pool_profiles") or [])
        ),
    )


def vault(bv: Any) -> VaultInfo:
    """Vault identity: the top-level principalId is the system-assigned identity's; each
    user-assigned identity is read from ``identity.userAssignedIdentities`` (keys lower-cased,
    since ARM keeps whatever casing the caller used, e.g. ``resourcegroups``)."""
    user_assigned: dict[str, str | None] = {}
    for key, value in dict(dig(bv, "identity", "user_assigned_identities") or {}).items():
        principal = getattr(value, "principal_id", None)
        if principal is None and isinstance(value, Mapping):
            principal = value.get("principalId") or value.get("principal_id")
        user_assigned[str(key).strip().rstrip("/").lower()] = str(principal) if principal else None
    return VaultInfo(
        id=str(bv.id),
        name=str(bv.name),
        location=str(getattr(bv, "location", "") or ""),
        tags=_tags(bv),
        identity_type=_text(dig(bv, "identity", "type")),
        principal_id=_text(dig(bv, "identity", "principal_id")),
        tenant_id=_text(dig(bv, "identity", "tenant_id")),
        user_assigned=user_assigned,
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
    use_system = dig(props, "identity_details", "use_system_assigned_identity")
    return BackupInstanceInfo(
        id=str(bi.id),
        cluster_id=_text(dig(props, "data_source_info", "resource_id")) or "",
        datasource_type=_text(dig(props, "data_source_info", "datasource_type")) or "",
        policy_id=_text(dig(props, "policy_info", "policy_id")),
        snapshot_resource_group_id=snapshot_rg,
        use_system_identity=bool(use_system) if use_system is not None else None,
        user_identity_id=_text(dig(props, "identity_details", "user_assigned_identity_arm_url")) or None,
        protection_status=_text(dig(props, "protection_status", "status")),
        protection_status_error=backup_error(dig(props, "protection_status", "error_details")),
        current_protection_state=_text(dig(props, "current_protection_state")),
        protection_error=backup_error(dig(props, "protection_error_details")),
    )


def backup_error(err: Any) -> BackupError | None:
    """An Azure Backup ``UserFacingError`` (code, message, first recommended action); None when absent."""
    if err is None:
        return None
    code = _text(getattr(err, "code", None)) or ""
    message = _text(getattr(err, "message", None)) or ""
    if not code and not message:
        return None
    actions = getattr(err, "recommended_action", None) or []
    if isinstance(actions, str):
        actions = [actions]
    first = next((str(a) for a in actions if a), "")
    return BackupError(code=code or "UnknownError", message=message, recommended_action=first)


def timestamp(value: Any) -> datetime | None:
    """A job time (an SDK datetime or ISO text) as an aware UTC datetime; None when absent or unparseable."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def job(resource: Any) -> JobInfo:
    """A ``backupJobs`` list item (``AzureBackupJobResource``)."""
    props = dig(resource, "properties")
    errors = tuple(e for e in map(backup_error, getattr(props, "error_details", None) or []) if e is not None)
    return JobInfo(
        id=str(getattr(resource, "id", "") or ""),
        backup_instance_id=_text(getattr(props, "backup_instance_id", None)) or "",
        status=_text(getattr(props, "status", None)) or "",
        start_time=timestamp(getattr(props, "start_time", None)),
        end_time=timestamp(getattr(props, "end_time", None)),
        errors=errors,
    )


def is_backup_job(resource: Any) -> bool:
    """A scheduled or on-demand backup (not a restore, a delete or a retention job)."""
    props = dig(resource, "properties")
    category = (_text(getattr(props, "operation_category", None)) or "").lower()
    return category == "backup"


_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$",
    re.IGNORECASE,
)


def iso_duration(text: str) -> timedelta | None:
    """``P1D``, ``PT4H``, ``P1W``... as a timedelta; None for anything else (months, years, junk)."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groupdict().values()):
        return None
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


def _intervals(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in ("repeatingTimeIntervals", "repeating_time_intervals") and isinstance(value, list):
                yield from (str(v) for v in value)
            else:
                yield from _intervals(value)
    elif isinstance(node, list):
        for value in node:
            yield from _intervals(value)


def backup_interval(raw: Any) -> timedelta | None:
    """The shortest repeating interval of a policy's schedules (``R/<start>/<duration>``)."""
    found = [iso_duration(text.rsplit("/", 1)[-1]) for text in _intervals(raw) if "/" in text]
    durations = [d for d in found if d is not None and d > timedelta(0)]
    return min(durations) if durations else None


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
    return PolicyInfo(
        id=str(bp.id), uses_vault_store=_mentions_vault_store(raw), backup_interval=backup_interval(raw)
    )


def _json(body: Any, *path: str) -> Any:
    """Follow keys of ARM's JSON, None as soon as one is missing or not an object."""
    for name in path:
        if not isinstance(body, Mapping):
            return None
        body = body.get(name)
    return body


def _json_text(body: Any, *path: str) -> str | None:
    value = _json(body, *path)
    return None if value is None or isinstance(value, (Mapping, list)) else str(value)


def extension_json(body: Mapping[str, Any]) -> ExtensionInfo:
    """One item of ``GET .../extensions`` (Microsoft.KubernetesConfiguration) as ARM sends it."""
    settings = _json(body, "properties", "configurationSettings")
    return ExtensionInfo(
        id=str(body.get("id") or ""),
        name=str(body.get("name") or ""),
        extension_type=_json_text(body, "properties", "extensionType") or "",
        provisioning_state=_json_text(body, "properties", "provisioningState"),
        principal_id=_json_text(body, "properties", "aksAssignedIdentity", "principalId"),
        configuration={str(k): str(v) for k, v in settings.items()} if isinstance(settings, Mapping) else {},
    )


def rest_json(model: Any) -> Mapping[str, Any]:
    """An SDK model back as ARM's JSON: ``as_dict()`` of the newer generated models (keyed by REST
    names), ``serialize(keep_readonly=True)`` of the msrest ones."""
    if isinstance(model, Mapping):
        return model
    serialize = getattr(model, "serialize", None)
    if callable(serialize):
        return dict(serialize(keep_readonly=True))
    return dict(model.as_dict())


def extension(ext: Any) -> ExtensionInfo:
    """An SDK Extension model (the answer to an install) through :func:`extension_json`."""
    return extension_json(rest_json(ext))


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
        kind=_text(getattr(sa, "kind", None)),
        sku=_text(dig(sa, "sku", "name")),
        location=_text(getattr(sa, "location", None)),
    )


def trusted_access_binding_json(body: Mapping[str, Any]) -> TrustedAccessBinding:
    """One item of ``GET .../trustedAccessRoleBindings`` as ARM sends it."""
    roles = _json(body, "properties", "roles")
    return TrustedAccessBinding(
        id=str(body.get("id") or ""),
        name=str(body.get("name") or ""),
        source_resource_id=_json_text(body, "properties", "sourceResourceId") or "",
        roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
        provisioning_state=_json_text(body, "properties", "provisioningState"),
    )


def trusted_access_binding(binding: Any) -> TrustedAccessBinding:
    """An SDK TrustedAccessRoleBinding model through :func:`trusted_access_binding_json`."""
    return trusted_access_binding_json(rest_json(binding))


def role_assignment(ra: Any) -> RoleAssignmentInfo:
    condition = getattr(ra, "condition", None)
    return RoleAssignmentInfo(
        id=str(ra.id),
        scope=str(ra.scope or ""),
        principal_id=str(ra.principal_id or "").lower(),
        role_definition_id=str(ra.role_definition_id or ""),
        condition=str(condition).strip() or None if condition else None,
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


def _strings(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    return tuple(str(v) for v in (raw or []) if v is not None)


def policy_assignment(pa: Any) -> PolicyAssignmentInfo:
    """``excluded_namespaces`` is set only when the assignment itself sets the parameter; the
    definition's default is filled in later (:func:`with_definition_default`)."""
    props = dig(pa, "properties") or pa
    parameters = dig(props, "parameters") or {}
    excluded: tuple[str, ...] | None = None
    for name, value in dict(parameters).items():
        if name.lower() == "excludednamespaces":
            raw = getattr(value, "value", None)
            if raw is None and isinstance(value, Mapping):
                raw = value.get("value")
            excluded = _strings(raw)
    return PolicyAssignmentInfo(
        id=str(pa.id),
        name=str(pa.name),
        policy_definition_id=_text(dig(props, "policy_definition_id")) or "",
        display_name=_text(dig(props, "display_name")),
        excluded_namespaces=excluded,
        enforcement_mode=_text(dig(props, "enforcement_mode")),
        scope=_text(dig(props, "scope")),
        not_scopes=_strings(dig(props, "not_scopes")),
    )


def policy_definition(definition: Any) -> PolicyDefinitionInfo:
    """A policy or policy set definition: the default of its ``excludedNamespaces`` parameter."""
    props = dig(definition, "properties") or definition
    default: tuple[str, ...] | None = None
    for name, value in dict(dig(props, "parameters") or {}).items():
        if str(name).lower() == "excludednamespaces":
            raw = getattr(value, "default_value", None)
            if raw is None and isinstance(value, Mapping):
                raw = value.get("defaultValue")
            default = _strings(raw)
    return PolicyDefinitionInfo(
        id=str(getattr(definition, "id", "") or ""), excluded_namespaces_default=default
    )


def with_definition_default(
    assignment: PolicyAssignmentInfo, definition: PolicyDefinitionInfo | None
) -> PolicyAssignmentInfo:
    """The assignment with its effective excludedNamespaces: its own, else the definition's default."""
    if assignment.excluded_namespaces is not None or definition is None:
        return assignment
    if definition.excluded_namespaces_default is None:
        return assignment
    return replace(
        assignment,
        excluded_namespaces=definition.excluded_namespaces_default,
        excluded_from="definition-default",
    )


def backup_extension(extensions: Iterable[ExtensionInfo]) -> ExtensionInfo | None:
    """The AKS backup extension among a cluster's extensions (by type, case-insensitive)."""
    for ext in extensions:
        if ext.extension_type.lower() == "microsoft.dataprotection.kubernetes":
            return ext
    return None


def blob_names(xml: bytes) -> tuple[str, ...]:
    """Blob names of one ``List Blobs`` answer (``EnumerationResults/Blobs/Blob/Name``); a name
    marked ``Encoded="true"`` is percent-decoded, as the service asks. Malformed XML: no names.
    The storage SDK parses the same bytes with the same parser (expat limits entity expansion)."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return ()
    names = []
    for node in root.iterfind("./Blobs/Blob/Name"):
        text = node.text or ""
        names.append(unquote(text) if (node.get("Encoded") or "").lower() == "true" else text)
    return tuple(names)


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
