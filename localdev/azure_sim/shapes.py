"""JSON bodies in ARM's REST casing for every resource kind the simulator serves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from localdev.azure_sim.events import now_iso
from localdev.azure_sim.roles import RoleDefinition
from localdev.azure_sim.store import Json, sub_of

EXTENSION_TYPE = "microsoft.dataprotection.kubernetes"
BSL = "configuration.backupStorageLocation."
BI_DATASOURCE_TYPE = "Microsoft.ContainerService/managedClusters"  # as recorded (camel case)
VAULT_TYPE = "Microsoft.DataProtection/backupVaults"
CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"


def stable_guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(p.lower() for p in parts)))


def rg_id(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def arm_id(sub: str, rg: str, provider_type: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/{provider_type}/{name}"


def subscription(sub: str, display_name: str, tenant: str) -> Json:
    return {
        "id": f"/subscriptions/{sub}",
        "subscriptionId": sub,
        "tenantId": tenant,
        "displayName": display_name,
        "state": "Enabled",
        "authorizationSource": "RoleBased",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "EnterpriseAgreement_2014-09-01",
            "spendingLimit": "Off",
        },
        "managedByTenants": [],
    }


def provider(sub: str, namespace: str, state: str) -> Json:
    return {
        "id": f"/subscriptions/{sub}/providers/{namespace}",
        "namespace": namespace,
        "registrationState": state,
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [],
    }


def resource_group(sub: str, name: str, location: str, tags: dict[str, str] | None) -> Json:
    return {
        "id": rg_id(sub, name),
        "name": name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": location,
        "tags": dict(tags or {}),
        "properties": {"provisioningState": "Succeeded"},
    }


def cluster_id(sub: str, rg: str, name: str) -> str:
    """AKS spells ``resourcegroups`` in lower case in the ids it returns (recorded)."""
    return f"/subscriptions/{sub}/resourcegroups/{rg}/providers/{CLUSTER_TYPE}/{name}"


def child_base(cluster_id: str) -> str:
    """The prefix of a cluster's child ids: ``resourceGroups`` as callers spell it (the recorded
    trusted-access binding ids do), although the cluster's own id says ``resourcegroups``."""
    head, sep, tail = cluster_id.partition("/resourcegroups/")
    return f"{head}/resourceGroups/{tail}" if sep else cluster_id


def cluster(sub: str, rg: str, location: str, tenant: str, spec: dict[str, Any]) -> Json:
    name = str(spec["name"])
    rid = cluster_id(sub, rg, name)
    location = str(spec.get("location") or location)
    version = str(spec.get("kubernetes_version", "1.30.4"))
    minor = ".".join(version.split(".")[:2])
    node_rg = str(spec.get("node_resource_group") or f"MC_{rg}_{name}_{location}")
    identity_spec = dict(spec.get("identity") or {"type": "SystemAssigned"})
    id_type = str(identity_spec.get("type", "SystemAssigned"))
    body: Json = {
        "id": rid,
        "name": name,
        "type": "Microsoft.ContainerService/ManagedClusters",
        "location": location,
        "tags": dict(spec.get("tags") or {}),
        "sku": {"name": "Base", "tier": "Free"},
        "eTag": stable_guid(rid, "etag"),
    }
    spp_client = "msi"
    if id_type == "SystemAssigned":
        body["identity"] = {
            "type": "SystemAssigned",
            "principalId": str(identity_spec.get("principal_id") or stable_guid(rid, "identity")),
            "tenantId": tenant,
        }
    elif id_type == "UserAssigned":
        uami = str(
            identity_spec.get("resource_id")
            or arm_id(sub, rg, "Microsoft.ManagedIdentity/userAssignedIdentities", f"{name}-identity")
        )
        body["identity"] = {
            "type": "UserAssigned",
            "userAssignedIdentities": {
                uami: {
                    "principalId": str(identity_spec.get("principal_id") or stable_guid(rid, "uami")),
                    "clientId": str(identity_spec.get("client_id") or stable_guid(rid, "uami-client")),
                }
            },
        }
    else:  # legacy service principal cluster: no identity block
        spp_client = str(identity_spec.get("client_id") or stable_guid(rid, "spn"))
    pool: Json = {
        "name": "nodepool1",
        "count": 3,
        "vmSize": "Standard_D4s_v5",
        "osType": "Linux",
        "osSKU": "Ubuntu",
        "mode": "System",
        "type": "VirtualMachineScaleSets",
        "orchestratorVersion": version,
        "currentOrchestratorVersion": version,
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
    }
    if spec.get("subnet_id"):
        pool["vnetSubnetID"] = str(spec["subnet_id"])
    pools = [pool]
    for index, extra in enumerate(spec.get("agent_pools") or []):  # replace the default pool
        custom = {
            **pool,
            "name": str(extra.get("name", f"pool{index}")),
            "vmSize": str(extra.get("vm_size", pool["vmSize"])),
            "osType": str(extra.get("os_type", "Linux")),
            "osSKU": str(
                extra.get("os_sku", "Windows2022" if extra.get("os_type") == "Windows" else "Ubuntu")
            ),
            "mode": str(extra.get("mode", "System" if index == 0 else "User")),
        }
        pools = [custom] if index == 0 else [*pools, custom]
    network: Json = {
        "networkPlugin": "azure" if spec.get("subnet_id") else "kubenet",
        "outboundType": str(spec.get("outbound_type", "loadBalancer")),
        "loadBalancerSku": "standard",
        "serviceCidr": "10.0.0.0/16",
        "dnsServiceIP": "10.0.0.10",
    }
    kubelet_id = (
        f"/subscriptions/{sub}/resourcegroups/{node_rg}/providers/Microsoft.ManagedIdentity"
        f"/userAssignedIdentities/{name}-agentpool"
    )
    body["properties"] = {
        "provisioningState": str(spec.get("provisioning_state", "Succeeded")),
        "powerState": {"code": "Running"},
        "kubernetesVersion": minor,
        "currentKubernetesVersion": version,
        "dnsPrefix": f"{name}-dns",
        "fqdn": f"{name}-dns-{stable_guid(rid)[:8]}.hcp.{location}.azmk8s.io",
        "azurePortalFQDN": f"{name}-dns-{stable_guid(rid)[:8]}.portal.hcp.{location}.azmk8s.io",
        "agentPoolProfiles": pools,
        "servicePrincipalProfile": {"clientId": spp_client},
        "identityProfile": {
            "kubeletidentity": {
                "resourceId": kubelet_id,
                "clientId": stable_guid(rid, "kubelet-client"),
                "objectId": stable_guid(rid, "kubelet"),
            }
        },
        "nodeResourceGroup": node_rg,
        "enableRBAC": True,
        "networkProfile": network,
        "storageProfile": {
            "diskCSIDriver": {"enabled": bool(spec.get("disk_csi_driver", True)), "version": "v1"},
            "fileCSIDriver": {"enabled": True},
            "snapshotController": {"enabled": bool(spec.get("snapshot_controller", True))},
        },
        "oidcIssuerProfile": {"enabled": False},
        "supportPlan": str(spec.get("support_plan", "KubernetesOfficial")),
    }
    return body


def cluster_principal(body: Json) -> str | None:
    identity = body.get("identity") or {}
    if identity.get("principalId"):
        return str(identity["principalId"])
    for value in (identity.get("userAssignedIdentities") or {}).values():
        if value.get("principalId"):
            return str(value["principalId"])
    return None


def extension(cluster_id: str, tenant: str, spec: dict[str, Any]) -> Json:
    name = str(spec.get("name", "azure-aks-backup"))
    rid = f"{child_base(cluster_id)}/providers/Microsoft.KubernetesConfiguration/extensions/{name}"
    settings: dict[str, str] = {}
    if spec.get("container"):
        settings[BSL + "bucket"] = str(spec["container"])
    if spec.get("storage_account"):
        settings[BSL + "config.storageAccount"] = str(spec["storage_account"])
    if spec.get("storage_resource_group"):
        settings[BSL + "config.resourceGroup"] = str(spec["storage_resource_group"])
    settings[BSL + "config.subscriptionId"] = str(spec.get("storage_subscription_id") or sub_of(cluster_id))
    if spec.get("use_aad") is not None:
        settings[BSL + "config.useAAD"] = "true" if spec.get("use_aad") else "false"
        if spec.get("use_aad") and spec.get("storage_account"):
            settings[BSL + "config.storageAccountURI"] = (
                f"https://{spec['storage_account']}.blob.core.windows.net/"
            )
    settings["credentials.tenantId"] = tenant
    settings.update({str(k): str(v) for k, v in (spec.get("configuration") or {}).items()})
    return {
        "id": rid,
        "name": name,
        "type": "Microsoft.KubernetesConfiguration/extensions",
        "systemData": {
            "createdBy": None,
            "createdByType": None,
            "createdAt": now_iso(),
            "lastModifiedBy": None,
            "lastModifiedByType": None,
            "lastModifiedAt": now_iso(),
        },
        "properties": {
            "extensionType": str(spec.get("extension_type", EXTENSION_TYPE)),
            "autoUpgradeMinorVersion": True,
            "releaseTrain": "stable",
            "version": None,
            "currentVersion": "0.0.1-preview",
            "scope": {"cluster": {"releaseNamespace": "dataprotection-microsoft"}},
            "configurationSettings": settings,
            "configurationProtectedSettings": {},
            "provisioningState": str(spec.get("provisioning_state", "Succeeded")),
            "statuses": [],
            "isSystemExtension": False,
            "aksAssignedIdentity": extension_identity(rid, spec),
        },
    }


def extension_identity(extension_id: str, spec: dict[str, Any]) -> Json | None:
    """``aksAssignedIdentity``: null while the extension is Creating (recorded), else its principal."""
    if str(spec.get("provisioning_state", "Succeeded")).lower() == "creating":
        return None
    return {
        "principalId": str(spec.get("principal_id") or stable_guid(extension_id, "ext")),
        "tenantId": None,
        "type": None,
    }


def trusted_access_binding(cluster_id: str, name: str, source: str, roles: list[str], state: str) -> Json:
    return {
        "id": f"{child_base(cluster_id)}/trustedAccessRoleBindings/{name}",
        "name": name,
        "type": "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings",
        "properties": {"sourceResourceId": source, "roles": list(roles), "provisioningState": state},
    }


def vault(sub: str, rg: str, location: str, tenant: str, spec: dict[str, Any]) -> Json:
    name = str(spec["name"])
    rid = arm_id(sub, rg, VAULT_TYPE, name)
    identity_spec = dict(spec.get("identity") or {"type": "SystemAssigned"})
    body: Json = {
        "id": rid,
        "name": name,
        "type": VAULT_TYPE,
        "location": str(spec.get("location") or location),
        "tags": dict(spec.get("tags") or {}),
        "eTag": None,
        "properties": {
            "provisioningState": "Succeeded",
            "resourceMoveState": "Unknown",
            "storageSettings": [{"datastoreType": "VaultStore", "type": "LocallyRedundant"}],
            "securitySettings": {"softDeleteSettings": {"state": "On", "retentionDurationInDays": 14.0}},
            "monitoringSettings": {"azureMonitorAlertSettings": {"alertsForAllJobFailures": "Enabled"}},
        },
    }
    id_type = str(identity_spec.get("type", "SystemAssigned"))
    if id_type == "None":
        body["identity"] = {"type": "None"}
        return body
    identity: Json = {"type": id_type}
    if "systemassigned" in id_type.replace(" ", "").lower().split(","):
        identity["principalId"] = str(identity_spec.get("principal_id") or stable_guid(rid, "identity"))
    user_assigned = identity_spec.get("user_assigned") or []
    if user_assigned:
        identity["userAssignedIdentities"] = {
            str(u["resource_id"]): {
                "clientId": str(u.get("client_id") or stable_guid(str(u["resource_id"]), "client")),
                "principalId": str(u["principal_id"]),
            }
            for u in user_assigned
        }
    identity["tenantId"] = tenant
    body["identity"] = identity
    return body


def vault_principals(body: Json) -> list[str]:
    """Every principal id of a vault body (system and user-assigned)."""
    identity = body.get("identity") or {}
    found = [str(identity["principalId"])] if identity.get("principalId") else []
    for value in (identity.get("userAssignedIdentities") or {}).values():
        if value.get("principalId"):
            found.append(str(value["principalId"]))
    return found


def user_assigned_identity(sub: str, rg: str, location: str, tenant: str, spec: dict[str, Any]) -> Json:
    """Microsoft.ManagedIdentity/userAssignedIdentities (GET shape of the REST spec)."""
    name = str(spec["name"])
    rid = arm_id(sub, rg, "Microsoft.ManagedIdentity/userAssignedIdentities", name)
    return {
        "id": rid,
        "name": name,
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
        "location": str(spec.get("location") or location),
        "tags": dict(spec.get("tags") or {}),
        "properties": {
            "tenantId": tenant,
            "principalId": str(spec.get("principal_id") or stable_guid(rid, "principal")),
            "clientId": str(spec.get("client_id") or stable_guid(rid, "client")),
        },
    }


def _store(kind: str) -> Json:
    return {"dataStoreType": kind, "objectType": "DataStoreInfoBase"}


def backup_policy(vault_id: str, name: str, vault_store: bool) -> Json:
    rules: list[Json] = [
        {
            "name": "BackupHourly",
            "objectType": "AzureBackupRule",
            "backupParameters": {"objectType": "AzureBackupParams", "backupType": "Incremental"},
            "dataStore": _store("OperationalStore"),
            "trigger": {
                "objectType": "ScheduleBasedTriggerContext",
                "schedule": {
                    "repeatingTimeIntervals": ["R/2024-01-01T02:00:00+00:00/P1D"],
                    "timeZone": "UTC",
                },
                "taggingCriteria": [
                    {
                        "isDefault": True,
                        "taggingPriority": 99,
                        "tagInfo": {"id": "Default_", "tagName": "Default"},
                    }
                ],
            },
        },
    ]
    default_lifecycle: Json = {
        "deleteAfter": {"objectType": "AbsoluteDeleteOption", "duration": "P7D"},
        "sourceDataStore": _store("OperationalStore"),
        "targetDataStoreCopySettings": [],
    }
    if vault_store:
        default_lifecycle["targetDataStoreCopySettings"] = [
            {
                "copyAfter": {"objectType": "CustomCopyOption", "duration": "P1D"},
                "dataStore": _store("VaultStore"),
            }
        ]
    rules.append(
        {
            "name": "Default",
            "objectType": "AzureRetentionRule",
            "isDefault": True,
            "lifecycles": [default_lifecycle],
        }
    )
    if vault_store:
        rules.append(
            {
                "name": "Vault_Default",
                "objectType": "AzureRetentionRule",
                "isDefault": False,
                "lifecycles": [
                    {
                        "deleteAfter": {"objectType": "AbsoluteDeleteOption", "duration": "P30D"},
                        "sourceDataStore": _store("VaultStore"),
                        "targetDataStoreCopySettings": [],
                    }
                ],
            }
        )
    return {
        "id": f"{vault_id}/backupPolicies/{name}",
        "name": name,
        "type": "Microsoft.DataProtection/backupVaults/backupPolicies",
        "properties": {
            "objectType": "BackupPolicy",
            "datasourceTypes": ["Microsoft.ContainerService/managedClusters"],
            "policyRules": rules,
        },
    }


def backup_instance(vault_id: str, spec: dict[str, Any]) -> Json:
    name = str(spec["name"])
    cluster_id = str(spec["cluster_id"])
    cluster_name = cluster_id.rstrip("/").rsplit("/", 1)[-1]
    policy = str(spec.get("policy", ""))
    policy_id = policy if policy.startswith("/") else f"{vault_id}/backupPolicies/{policy}"
    snapshot_rg = spec.get("snapshot_resource_group_id")
    identity_details: Json = {"useSystemAssignedIdentity": True}
    if spec.get("user_assigned_identity"):
        identity_details = {
            "useSystemAssignedIdentity": False,
            "userAssignedIdentityArmUrl": str(spec["user_assigned_identity"]),
        }
    datasource = {
        "resourceID": cluster_id,
        "resourceUri": cluster_id,
        "datasourceType": BI_DATASOURCE_TYPE,
        "resourceName": cluster_name,
        "resourceType": BI_DATASOURCE_TYPE,
        "resourceLocation": str(spec.get("location", "westeurope")),
        "resourceProperties": {"objectType": None},
        "objectType": "Datasource",
    }
    params: Json = {
        "dataStoreParametersList": [],
        "backupDatasourceParametersList": [
            {
                "objectType": "KubernetesClusterBackupDatasourceParameters",
                "includedNamespaces": [],
                "excludedNamespaces": [],
                "includedResourceTypes": [],
                "excludedResourceTypes": [],
                "labelSelectors": [],
                "snapshotVolumes": True,
                "includeClusterScopeResources": True,
                "includedVolumeTypes": None,
                "backupHookReferences": None,
            }
        ],
    }
    if snapshot_rg:
        params["dataStoreParametersList"] = [
            {
                "objectType": "AzureOperationalStoreParameters",
                "dataStoreType": "OperationalStore",
                "resourceGroupId": str(snapshot_rg),
            }
        ]
    return {
        "id": f"{vault_id}/backupInstances/{name}",
        "name": name,
        "type": "Microsoft.DataProtection/backupVaults/backupInstances",
        "properties": {
            "friendlyName": str(spec.get("friendly_name", name)),
            "objectType": "BackupInstance",
            "dataSourceInfo": datasource,
            "dataSourceSetInfo": {
                k: v
                for k, v in {**datasource, "objectType": "DatasourceSet"}.items()
                if k != "resourceProperties"
            },
            "policyInfo": {"policyId": policy_id, "policyVersion": "", "policyParameters": params},
            **protection(spec),
            "provisioningState": str(spec.get("provisioning_state", "Succeeded")),
            "identityDetails": identity_details,
        },
    }


def storage_account(sub: str, rg: str, location: str, spec: dict[str, Any]) -> Json:
    name = str(spec["name"])
    rid = arm_id(sub, rg, "Microsoft.Storage/storageAccounts", name)
    acls_spec = dict(spec.get("network_acls") or {})
    acls: Json = {
        "bypass": str(acls_spec.get("bypass", "AzureServices")),
        "defaultAction": str(acls_spec.get("default_action", "Allow")),
        "ipRules": [{"value": str(ip), "action": "Allow"} for ip in acls_spec.get("ip_rules") or []],
        "virtualNetworkRules": [
            {"id": str(v), "action": "Allow", "state": "Succeeded"}
            for v in acls_spec.get("virtual_network_rules") or []
        ],
    }
    rules = [
        {"tenantId": str(r.get("tenant_id", "")), "resourceId": str(r.get("resource_id", ""))}
        for r in acls_spec.get("resource_access_rules") or []
    ]
    if rules:  # Azure omits the key when there are none (recorded)
        acls["resourceAccessRules"] = rules
    pecs = [
        {
            "id": f"{rid}/privateEndpointConnections/{name}.pe{i}",
            "name": f"{name}.pe{i}",
            "type": "Microsoft.Storage/storageAccounts/privateEndpointConnections",
            "properties": {
                "privateEndpoint": {
                    "id": arm_id(sub, rg, "Microsoft.Network/privateEndpoints", f"pe-{name}-{i}")
                },
                "privateLinkServiceConnectionState": {
                    "status": "Approved",
                    "description": "",
                    "actionRequired": "None",
                },
                "provisioningState": "Succeeded",
            },
        }
        for i in range(int(spec.get("private_endpoints", 0) or 0))
    ]
    props: Json = {
        "provisioningState": "Succeeded",
        "networkAcls": acls,
        "privateEndpointConnections": pecs,
        "supportsHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": False,
        "accessTier": "Hot",
        "primaryLocation": str(spec.get("location") or location),
        "statusOfPrimary": "available",
        "primaryEndpoints": {
            "blob": f"https://{name}.blob.core.windows.net/",
            "queue": f"https://{name}.queue.core.windows.net/",
            "table": f"https://{name}.table.core.windows.net/",
            "file": f"https://{name}.file.core.windows.net/",
        },
    }
    if spec.get("public_network_access", "Enabled") is not None:  # null: an older account that omits it
        props["publicNetworkAccess"] = str(spec.get("public_network_access", "Enabled"))
    if spec.get("allow_shared_key_access") is not None:
        props["allowSharedKeyAccess"] = bool(spec["allow_shared_key_access"])
    return {
        "id": rid,
        "name": name,
        "type": "Microsoft.Storage/storageAccounts",
        "location": str(spec.get("location") or location),
        "tags": dict(spec.get("tags") or {}),
        "kind": str(spec.get("kind", "StorageV2")),
        "sku": {"name": str(spec.get("sku", "Standard_LRS")), "tier": "Standard"},
        "properties": props,
    }


def blob_container(account_id: str, name: str) -> Json:
    return {
        "id": f"{account_id}/blobServices/default/containers/{name}",
        "name": name,
        "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
        "etag": '"0x8DC0000000000000"',
        "properties": {
            "publicAccess": "None",
            "leaseStatus": "Unlocked",
            "leaseState": "Available",
            "lastModifiedTime": "2026-01-01T00:00:00.0000000Z",
            "hasImmutabilityPolicy": False,
            "hasLegalHold": False,
            "deleted": False,
            "remainingRetentionDays": 0,
        },
    }


def _prefixes(value: Any) -> tuple[str | None, list[str]]:
    if isinstance(value, list | tuple):
        items = [str(v) for v in value]
        if len(items) == 1:
            return items[0], []
        return None, items
    return (str(value) if value is not None else "*"), []


def nsg(sub: str, rg: str, location: str, spec: dict[str, Any], subnet_ids: list[str]) -> Json:
    name = str(spec["name"])
    rid = arm_id(sub, rg, "Microsoft.Network/networkSecurityGroups", name)
    rules = []
    for rule in spec.get("rules") or []:
        props: Json = {
            "protocol": str(rule.get("protocol", "*")),
            "sourcePortRange": "*",
            "destinationPortRange": str(rule.get("destination_port", "*")),
            "access": str(rule.get("access", "Allow")),
            "priority": int(rule.get("priority", 100)),
            "direction": str(rule.get("direction", "Inbound")),
            "provisioningState": "Succeeded",
            "sourcePortRanges": [],
            "destinationPortRanges": [],
        }
        src, srcs = _prefixes(rule.get("source", "*"))
        dst, dsts = _prefixes(rule.get("destination", "*"))
        if src is not None:
            props["sourceAddressPrefix"] = src
        props["sourceAddressPrefixes"] = srcs
        if dst is not None:
            props["destinationAddressPrefix"] = dst
        props["destinationAddressPrefixes"] = dsts
        rules.append(
            {
                "id": f"{rid}/securityRules/{rule['name']}",
                "name": str(rule["name"]),
                "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                "properties": props,
            }
        )
    return {
        "id": rid,
        "name": name,
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": str(spec.get("location") or location),
        "properties": {
            "provisioningState": "Succeeded",
            "securityRules": rules,
            "defaultSecurityRules": [],
            "subnets": [{"id": s} for s in subnet_ids],
        },
    }


def subnet(vnet_id: str, spec: dict[str, Any], nsg_id: str | None) -> Json:
    body: Json = {
        "id": f"{vnet_id}/subnets/{spec['name']}",
        "name": str(spec["name"]),
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "properties": {
            "addressPrefix": str(spec.get("address_prefix", "10.0.0.0/24")),
            "provisioningState": "Succeeded",
            "privateEndpointNetworkPolicies": "Disabled",
            "privateLinkServiceNetworkPolicies": "Enabled",
        },
    }
    if nsg_id:
        body["properties"]["networkSecurityGroup"] = {"id": nsg_id}
    return body


def vnet(sub: str, rg: str, location: str, spec: dict[str, Any], subnets: list[Json]) -> Json:
    name = str(spec["name"])
    return {
        "id": arm_id(sub, rg, "Microsoft.Network/virtualNetworks", name),
        "name": name,
        "type": "Microsoft.Network/virtualNetworks",
        "location": str(spec.get("location") or location),
        "properties": {
            "provisioningState": "Succeeded",
            "addressSpace": {"addressPrefixes": [str(spec.get("address_prefix", "10.0.0.0/16"))]},
            "subnets": subnets,
        },
    }


def policy_assignment(scope: str, spec: dict[str, Any]) -> Json:
    name = str(spec["name"])
    scope = scope.rstrip("/")
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}",
        "name": name,
        "type": "Microsoft.Authorization/policyAssignments",
        "location": None,
        "properties": {
            "displayName": spec.get("display_name"),
            "policyDefinitionId": str(spec.get("policy_definition_id", "")),
            "scope": scope or "/",
            "notScopes": list(spec.get("not_scopes") or []),
            "parameters": dict(spec.get("parameters") or {}),
            "enforcementMode": str(spec.get("enforcement_mode", "Default")),
            "description": spec.get("description"),
            "metadata": {},
        },
    }


def policy_definition(spec: dict[str, Any]) -> Json:
    """A policy (set) definition with the parameters the estate gives (``excluded_namespaces_default``
    becomes the ``excludedNamespaces`` parameter's defaultValue, as built-in Kubernetes policies have)."""
    rid = str(spec["id"])
    kind = "policySetDefinitions" if "/policysetdefinitions/" in rid.lower() else "policyDefinitions"
    parameters: Json = {
        "effect": {"type": "String", "metadata": {"displayName": "Effect"}, "defaultValue": "Deny"},
    }
    if spec.get("excluded_namespaces_default") is not None:
        parameters["excludedNamespaces"] = {
            "type": "Array",
            "metadata": {"displayName": "Namespace exclusions"},
            "defaultValue": [str(v) for v in spec["excluded_namespaces_default"]],
        }
    props: Json = {
        "displayName": str(spec.get("display_name", rid.rsplit("/", 1)[-1])),
        "policyType": str(spec.get("policy_type", "BuiltIn")),
        "mode": "Microsoft.Kubernetes.Data" if kind == "policyDefinitions" else None,
        "metadata": {"version": "1.0.0", "category": "Kubernetes"},
        "parameters": parameters,
    }
    if kind == "policyDefinitions":
        props["policyRule"] = {
            "if": {"field": "type", "in": ["Microsoft.ContainerService/managedClusters"]},
            "then": {"effect": "[parameters('effect')]"},
        }
    else:
        props.pop("mode")
        props["policyDefinitions"] = []
    return {
        "properties": props,
        "id": rid,
        "type": f"Microsoft.Authorization/{kind}",
        "name": rid.rsplit("/", 1)[-1],
    }


def role_definition_id(scope: str, guid: str) -> str:
    sub = sub_of(scope)
    prefix = f"/subscriptions/{sub}" if sub else ""
    return f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def role_definition(scope: str, role: RoleDefinition) -> Json:
    return {
        "id": role_definition_id(scope, role.guid),
        "name": role.guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role.name,
            "type": "BuiltInRole" if role.built_in else "CustomRole",
            "description": role.description or role.name,
            "assignableScopes": list(role.assignable_scopes),
            "permissions": [
                {
                    "actions": list(role.actions),
                    "notActions": list(role.not_actions),
                    "dataActions": list(role.data_actions),
                    "notDataActions": list(role.not_data_actions),
                }
            ],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2024-01-01T00:00:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }


def role_assignment(
    scope: str,
    name: str,
    *,
    role_guid: str,
    principal_id: str,
    principal_type: str,
    condition: str | None = None,
    condition_version: str | None = None,
    created_by: str | None = None,
    description: str | None = None,
) -> Json:
    scope = scope.rstrip("/")
    stamp = now_iso()
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": role_definition_id(scope, role_guid),
            "principalId": principal_id,
            "principalType": principal_type,
            "scope": scope or "/",
            "condition": condition,
            "conditionVersion": condition_version if condition else None,
            "createdOn": stamp,
            "updatedOn": stamp,
            "createdBy": created_by,
            "updatedBy": created_by,
            "delegatedManagedIdentityResourceId": None,
            "description": description,
        },
    }


def user_facing_error(code: str, message: str, recommended: list[str] | None = None) -> Json:
    """A ``UserFacingError`` (the REST spec's definition, used by jobs and backup instances)."""
    return {
        "code": code,
        "message": message,
        "recommendedAction": list(recommended or []),
        "isRetryable": False,
        "isUserError": code.startswith("UserError"),
        "target": "",
        "details": [],
        "properties": {},
    }


def protection(spec: dict[str, Any]) -> Json:
    """``protectionStatus`` / ``currentProtectionState`` (/ ``protectionErrorDetails`` when the estate
    gives ``protection_error: {code, message}``)."""
    error = spec.get("protection_error")
    if error:
        details = user_facing_error(str(error["code"]), str(error.get("message", "")))
        return {
            "protectionErrorDetails": details,
            "protectionStatus": {"status": "ProtectionError", "errorDetails": details},
            "currentProtectionState": "ProtectionError",
        }
    status = str(spec.get("protection_status", "ProtectionConfigured"))
    return {"protectionStatus": {"status": status}, "currentProtectionState": status}


BACKUP_JOB_TYPE = "Microsoft.DataProtection/backupVaults/backupJobs"


def backup_job(
    vault: Json,
    instance: Json,
    *,
    job_id: str,
    start: datetime,
    end: datetime | None,
    status: str,
    errors: list[Json] | None = None,
) -> Json:
    """A backup job as the recorded ``backupJobs`` list items carry it (tests/contracts/backup_jobs)."""
    props = instance["properties"]
    cluster_id = str(props["dataSourceInfo"]["resourceID"])
    policy_id = str(props["policyInfo"]["policyId"])
    sub = sub_of(cluster_id) or ""
    duration = (end - start) if end else timedelta(0)
    total = int(duration.total_seconds())
    return {
        "properties": {
            "activityID": job_id,
            "subscriptionId": sub,
            "backupInstanceId": instance["id"],
            "policyId": policy_id,
            "dataSourceId": cluster_id,
            "vaultName": vault["name"],
            "backupInstanceFriendlyName": props.get("friendlyName", instance["name"]),
            "policyName": policy_id.rstrip("/").rsplit("/", 1)[-1],
            "sourceResourceGroup": cluster_id.split("/")[4],
            "dataSourceSetName": cluster_id.rstrip("/").rsplit("/", 1)[-1],
            "dataSourceName": cluster_id.rstrip("/").rsplit("/", 1)[-1],
            "sourceDataStoreName": None,
            "sourceDataStoreType": None,
            "destinationDataStoreName": "OperationalTierStore",
            "progressEnabled": False,
            "etag": f"W/\"datetime'{_iso(end or start).replace(':', '%3A')}'\"",
            "sourceSubscriptionID": sub,
            "dataSourceLocation": props["dataSourceInfo"].get("resourceLocation", vault.get("location")),
            "startTime": _iso(start),
            "endTime": _iso(end) if end else None,
            "dataSourceType": BI_DATASOURCE_TYPE,
            "operationCategory": "Backup",
            "operation": "Backup",
            "status": status,
            "restoreType": None,
            "isUserTriggered": False,
            "rehydrationPriority": None,
            "supportedActions": [],
            "duration": f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}.0000000",
            "progressUrl": None,
            "isCrossRegionRestore": None,
            "errorDetails": errors or None,
            "extendedInfo": None,
        },
        "id": f"{vault['id']}/backupJobs/{job_id}",
        "name": job_id,
        "type": BACKUP_JOB_TYPE,
    }


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


DEFAULT_KUBERNETES_VERSIONS: tuple[Json, ...] = (
    {"version": "1.28", "support_plans": ["AKSLongTermSupport"], "patches": ["1.28.15"]},
    {"version": "1.29", "support_plans": ["KubernetesOfficial", "AKSLongTermSupport"], "patches": ["1.29.9"]},
    {"version": "1.30", "patches": ["1.30.4", "1.30.6"], "default": True},
    {"version": "1.31", "patches": ["1.31.1", "1.31.2"]},
    {"version": "1.32", "patches": ["1.32.0"]},
    {"version": "1.33", "patches": ["1.33.0"], "preview": True},
)
"""Minors served when the estate names none for a region (its clusters' versions are inside)."""


def kubernetes_versions(minors: list[Json] | tuple[Json, ...]) -> Json:
    """AKS's ``kubernetesVersions`` body (recorded ``az aks get-versions``: ``values``, not ``value``;
    ``capabilities.supportPlan``; ``patchVersions`` keyed by patch with the ``upgrades`` each offers;
    ``isPreview``/``isDefault`` only when true). Estate minors: {version, support_plans?, patches?,
    preview?, default?}."""
    all_patches = [str(p) for m in minors for p in m.get("patches") or []]

    def newer(patch: str) -> list[str]:
        key = tuple(int(x) for x in patch.split("."))
        later = [p for p in all_patches if tuple(int(x) for x in p.split(".")) > key]
        return [p for p in later if int(p.split(".")[1]) <= key[1] + 1]

    values = []
    for m in minors:
        entry: Json = {"version": str(m["version"])}
        if m.get("default"):
            entry["isDefault"] = True
        if m.get("preview"):
            entry["isPreview"] = True
        entry["capabilities"] = {
            "supportPlan": [str(p) for p in m.get("support_plans") or ["KubernetesOfficial"]]
        }
        entry["patchVersions"] = {str(p): {"upgrades": newer(str(p))} for p in m.get("patches") or []}
        values.append(entry)
    return {"values": values}
