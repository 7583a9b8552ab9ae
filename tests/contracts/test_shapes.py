"""Shape test: what the simulator answers, diffed against what Azure answered, kind by kind.

For each kind the simulator's body (over HTTPS, as the Guard receives it) and the recorded body
are flattened to key paths (``properties.networkAcls.bypass``, ``value[].id``...). The test fails on:

- a key spelled with other casing than Azure's (``datasourcetype`` vs ``datasourceType``);
- a recorded path the simulator lacks, or one it adds, unless listed in ``NOT_MODELLED`` /
  ``SIM_ONLY`` for that kind with the reason;
- a JSON type that differs on a common path (``null`` only where Azure sends null);
- recorded spellings of values: resource types, ``datasourceType``, the ``resourcegroups``
  segment of AKS ids, run-command's ``managedclusters`` Location;
- keys Azure omits when empty (``resourceAccessRules``) present as empty lists.

So the simulator and Azure cannot drift apart silently: a new mismatch needs a fix or a reason here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator
from tests.contracts.replay import load

SUB = "5a1c0000-0000-4000-8000-000000000001"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
RG = f"/subscriptions/{SUB}/resourceGroups"
CLUSTER = f"{RG}/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-shape"
VAULT = f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-shape"
UAMI = f"{RG}/rg-backup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-vault"
VAULT_UAMI = f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-uami"
VAULT_BOTH = f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-both"
ACCOUNT = f"{RG}/rg-backup/providers/Microsoft.Storage/storageAccounts/stshape"
OLD_ACCOUNT = f"{RG}/rg-backup/providers/Microsoft.Storage/storageAccounts/stolder"
K8S_DEFINITION = "/providers/Microsoft.Authorization/policyDefinitions/95edb821-ddaf-4404-9732-666045e056b4"
CS = "api-version=2026-08-01"
DPP = "api-version=2026-06-01"

ESTATE: dict[str, Any] = {
    "tenant": TENANT,
    "guard": {"principal_id": "5a1c0000-0000-4000-8000-00000000a001", "token": "shape-guard"},
    "other_tokens": [
        {
            "token": "shape-admin",
            "principal_id": "5a1c0000-0000-4000-8000-00000000ad01",
            "object_type": "User",
        }
    ],
    "policy_definitions": [
        {
            "id": K8S_DEFINITION,
            "excluded_namespaces_default": ["kube-system", "gatekeeper-system", "azure-arc"],
        }
    ],
    "subscriptions": [
        {
            "id": SUB,
            "policy_assignments": [
                {
                    "name": "naming",
                    "policy_definition_id": K8S_DEFINITION,
                    "display_name": "Kubernetes baseline",
                }
            ],
            "resource_groups": [
                {
                    "name": "rg-aks",
                    "location": "westus2",
                    "clusters": [
                        {
                            "name": "aks-shape",
                            "kubernetes_version": "1.23.12",
                            "extension": {
                                "name": "azure-aks-backup",
                                "storage_account": "stshape",
                                "storage_resource_group": "rg-backup",
                                "container": "velero",
                            },
                            "trusted_access_bindings": [
                                {
                                    "name": "backup",
                                    "source_resource_id": VAULT,
                                    "roles": ["Microsoft.DataProtection/backupVaults/backup-operator"],
                                }
                            ],
                            "run_command": {"output": "NAMESPACE NAME\n", "exit_code": 0},
                        }
                    ],
                },
                {
                    "name": "rg-backup",
                    "location": "westus2",
                    "user_assigned_identities": [
                        {"name": "id-vault", "principal_id": "5a1c0000-0000-4000-8000-0000000000a1"}
                    ],
                    "vaults": [
                        {
                            "name": "bv-shape",
                            "policies": [{"name": "akspolicy", "vault_store": False}],
                            "backup_instances": [
                                {
                                    "name": "bi-shape",
                                    "cluster_id": CLUSTER,
                                    "policy": "akspolicy",
                                    "snapshot_resource_group_id": f"{RG}/rg-snap",
                                }
                            ],
                        },
                        {
                            "name": "bv-uami",
                            "identity": {
                                "type": "UserAssigned",
                                "user_assigned": [
                                    {
                                        "resource_id": UAMI,
                                        "principal_id": "5a1c0000-0000-4000-8000-0000000000a1",
                                    }
                                ],
                            },
                        },
                        {
                            "name": "bv-both",
                            "identity": {
                                "type": "SystemAssigned,UserAssigned",
                                "user_assigned": [
                                    {
                                        "resource_id": UAMI,
                                        "principal_id": "5a1c0000-0000-4000-8000-0000000000a1",
                                    }
                                ],
                            },
                        },
                    ],
                    "storage_accounts": [
                        {
                            "name": "stshape",
                            "kind": "Storage",
                            "network_acls": {
                                "resource_access_rules": [{"tenant_id": TENANT, "resource_id": VAULT}]
                            },
                        },
                        {"name": "stolder", "kind": "Storage", "public_network_access": None},
                    ],
                },
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(ESTATE) as handle:
        yield handle


def get(sim: SimHandle, path: str, token: str | None = None) -> Any:
    status, _, body = sim.call("GET", path, token=token or "shape-admin")
    assert status == 200, (path, status, body)
    return body


MAP_KEYS = {
    "userAssignedIdentities",
    "configurationSettings",
    "configurationProtectedSettings",
    "tags",
    "patchVersions",  # AKS's versions list: keyed by patch version
}
"""Objects whose keys are data (resource ids, setting names): compared as ``{}`` wildcards."""


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Key path -> JSON type name (``null``, ``str``, ``num``, ``bool``, ``obj``, ``list``,
    ``list-empty``). Keys of :data:`MAP_KEYS` objects become ``{}``."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        if prefix:
            out[prefix] = "obj"
        is_map = prefix.rsplit(".", 1)[-1] in MAP_KEYS
        for key, item in value.items():
            name = "{}" if is_map else key
            out.update(flatten(item, f"{prefix}.{name}" if prefix else name))
    elif isinstance(value, list):
        out[prefix] = "list" if value else "list-empty"
        for item in value:
            out.update(flatten(item, f"{prefix}[]"))
    else:
        kind = {bool: "bool", int: "num", float: "num", str: "str", type(None): "null"}[type(value)]
        out[prefix] = kind
    return out


def _inside_empty_list(path: str, other: dict[str, str]) -> bool:
    """``path`` is an element path of a list the other body has empty (nothing to compare)."""
    head = path
    while "[]" in head:
        head = head[: head.rindex("[]")]
        if other.get(head) == "list-empty":
            return True
    return False


def _same_kind(a: str, b: str) -> bool:
    return a == b or {a, b} <= {"list", "list-empty"} or "null" in (a, b)


def _under(path: str, prefixes: set[str]) -> bool:
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[]") for p in prefixes)


def diff(recorded: Any, simulated: Any, *, not_modelled: set[str], sim_only: set[str]) -> list[str]:
    """Every shape difference (see the module docstring), as readable lines."""
    rec, got = flatten(recorded), flatten(simulated)
    problems: list[str] = []
    lower_got = {p.lower(): p for p in got}
    for path, kind in rec.items():
        if path in got:
            if not _same_kind(got[path], kind):
                problems.append(f"type of {path}: Azure {kind}, simulator {got[path]}")
            continue
        if _inside_empty_list(path, got):
            continue
        twin = lower_got.get(path.lower())
        if twin is not None:
            problems.append(f"casing: Azure {path}, simulator {twin}")
        elif not _under(path, not_modelled):
            problems.append(f"missing in simulator: {path}")
    lower_rec = {p.lower() for p in rec}
    for path in got:
        if path in rec or path.lower() in lower_rec or _inside_empty_list(path, rec):
            continue
        if not _under(path, sim_only):
            problems.append(f"simulator only: {path}")
    return problems


# Recorded paths the simulator does not model, with why (features the Guard never reads).
CLUSTER_NOT_MODELLED = {
    "properties.linuxProfile",  # SSH keys: not read
    "properties.networkProfile.loadBalancerProfile",  # outbound IP details: not read
    "properties.networkProfile.podCidr",
    "properties.networkProfile.dockerBridgeCidr",
    "properties.networkProfile.podCidrs",
    "properties.networkProfile.serviceCidrs",
    "properties.networkProfile.ipFamilies",
    "properties.maxAgentPools",
    "properties.disableLocalAccounts",
    "properties.securityProfile",
    "properties.workloadAutoScalerProfile",
    "properties.enablePodSecurityPolicy",
    "properties.agentPoolProfiles[].osDiskSizeGB",
    "properties.agentPoolProfiles[].osDiskType",
    "properties.agentPoolProfiles[].kubeletDiskType",
    "properties.agentPoolProfiles[].workloadRuntime",
    "properties.agentPoolProfiles[].maxPods",
    "properties.agentPoolProfiles[].enableAutoScaling",
    "properties.agentPoolProfiles[].enableNodePublicIP",
    "properties.agentPoolProfiles[].enableCustomCATrust",
    "properties.agentPoolProfiles[].enableEncryptionAtHost",
    "properties.agentPoolProfiles[].enableUltraSSD",
    "properties.agentPoolProfiles[].nodeImageVersion",
    "properties.agentPoolProfiles[].upgradeSettings",
    "properties.agentPoolProfiles[].enableFIPS",
    "properties.agentPoolProfiles[].networkProfile",
}
CLUSTER_SIM_ONLY = {
    "tags",  # present when the cluster has tags (the recorded one had none)
    "eTag",
    "properties.supportPlan",  # newer api-versions return it
}


def test_managed_cluster_shape(sim: SimHandle) -> None:
    recorded = load("managed_clusters/system_assigned_kubenet.json")
    simulated = get(sim, f"{CLUSTER}?{CS}")
    assert diff(recorded, simulated, not_modelled=CLUSTER_NOT_MODELLED, sim_only=CLUSTER_SIM_ONLY) == []
    assert simulated["type"] == recorded["type"] == "Microsoft.ContainerService/ManagedClusters"
    assert "/resourcegroups/" in simulated["id"] and "/resourcegroups/" in recorded["id"]


def test_kubernetes_versions_shape(sim: SimHandle) -> None:
    """``az aks get-versions`` as recorded: ``values`` (not ``value``), supportPlan, patchVersions."""
    recorded = load("kubernetes_versions/list_westus2_lts.json")
    path = f"/subscriptions/{SUB}/providers/Microsoft.ContainerService/locations/westus2/kubernetesVersions"
    simulated = get(sim, f"{path}?{CS}")
    sim_only = {"values[].isDefault", "values[].isPreview"}  # only when true; the spec example has both
    assert diff(recorded, simulated, not_modelled=set(), sim_only=sim_only) == []
    spec = load("kubernetes_versions/spec_list.json")
    assert diff(spec, simulated, not_modelled=set(), sim_only=set()) == []
    assert "value" not in simulated and all("nextLink" not in key for key in simulated)


def test_backup_vault_shapes(sim: SimHandle) -> None:
    sim_only = {"tags", "eTag", "properties.resourceMoveState", "properties.monitoringSettings"}
    not_modelled = {
        "properties.isVaultProtectedByResourceGuard",
        "properties.securitySettings.immutabilitySettings",
        "properties.secureScore",
        "properties.bcdrSecurityLevel",
        "properties.replicatedRegions",
    }
    for recorded_file, vault in (
        ("backup_vaults/system_assigned.json", VAULT),
        ("backup_vaults/user_assigned_only.json", VAULT_UAMI),
        ("backup_vaults/system_and_user_assigned.json", VAULT_BOTH),
    ):
        recorded = load(recorded_file)
        simulated = get(sim, f"{vault}?{DPP}")
        problems = diff(recorded, simulated, not_modelled=not_modelled | {"tags"}, sim_only=sim_only)
        assert problems == [], recorded_file
        assert simulated["type"] == recorded["type"] == "Microsoft.DataProtection/backupVaults"
        assert simulated["identity"]["type"] == recorded["identity"]["type"]
        assert ("principalId" in simulated["identity"]) == ("principalId" in recorded["identity"])


def test_backup_instance_shape(sim: SimHandle) -> None:
    recorded = {"value": [load("backup_instances/aks_system_identity.json")]}
    simulated = get(sim, f"{VAULT}/backupInstances?{DPP}")
    not_modelled = {
        "value[].properties.policyInfo.policyParameters.backupDatasourceParametersList[].excludedNamespaces",
        "value[].properties.policyInfo.policyParameters.backupDatasourceParametersList[].includedResourceTypes",
    }
    assert diff(recorded, simulated, not_modelled=not_modelled, sim_only=set()) == []
    source = simulated["value"][0]["properties"]["dataSourceInfo"]
    assert source["datasourceType"] == "Microsoft.ContainerService/managedClusters"
    assert simulated["value"][0]["properties"]["identityDetails"] == {"useSystemAssignedIdentity": True}


def test_backup_policy_shape(sim: SimHandle) -> None:
    recorded = load("backup_policies/aks_operational.json")
    simulated = get(sim, f"{VAULT}/backupPolicies/akspolicy?{DPP}")
    sim_only = {
        "properties.policyRules[].trigger.schedule.timeZone",  # newer api-versions return it
        "properties.policyRules[].lifecycles[].targetDataStoreCopySettings",
    }
    assert diff(recorded, simulated, not_modelled=set(), sim_only=sim_only) == []


def test_trusted_access_shapes(sim: SimHandle) -> None:
    listed = get(sim, f"{CLUSTER}/trustedAccessRoleBindings?{CS}")
    sim_only = {"value[].systemData"}
    assert (
        diff(load("trusted_access/list_succeeded.json"), listed, not_modelled=set(), sim_only=sim_only) == []
    )
    assert "/resourceGroups/" in listed["value"][0]["id"]  # child ids keep resourceGroups (recorded)
    status, _, put = sim.call(
        "PUT",
        f"{CLUSTER}/trustedAccessRoleBindings/second?{CS}",
        {
            "properties": {
                "sourceResourceId": VAULT_UAMI,
                "roles": ["Microsoft.DataProtection/backupVaults/backup-operator"],
            }
        },
        token="shape-admin",
    )
    assert status == 201
    assert diff(load("trusted_access/put_updating.json"), put, not_modelled=set(), sim_only=set()) == []
    assert put["properties"]["provisioningState"] == "Updating"
    status, _, missing = sim.call(
        "GET", f"{CLUSTER}/trustedAccessRoleBindings/nope?{CS}", token="shape-admin"
    )
    assert status == 404
    assert diff(load("errors/aks_flat_not_found.json"), missing, not_modelled=set(), sim_only=set()) == []


def test_extension_shapes(sim: SimHandle) -> None:
    listed = get(
        sim, f"{CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions?api-version=2025-03-01"
    )
    recorded = load("extensions/list_creating_identity_null.json")
    not_modelled = {"value[].properties.installState", "nextLink"}
    sim_only = {
        "value[].properties.currentVersion",  # newer api-versions
        "value[].properties.isSystemExtension",
        "value[].properties.aksAssignedIdentity",  # an object once created (null while Creating)
    }
    problems = diff(recorded, listed, not_modelled=not_modelled, sim_only=sim_only)
    assert [
        p for p in problems if not p.startswith("simulator only: value[].properties.configurationSettings")
    ] == []
    status, _, created = sim.call(
        "PUT",
        f"{CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions/dapr?api-version=2025-03-01",
        {"properties": {"extensionType": "microsoft.dapr"}},
        token="shape-admin",
    )
    assert status == 201
    assert created["properties"]["provisioningState"] == "Creating"
    assert created["properties"]["aksAssignedIdentity"] is None  # as recorded while Creating


def test_storage_account_shapes(sim: SimHandle) -> None:
    not_modelled = {"properties.encryption", "properties.creationTime"}
    sim_only = {
        "properties.minimumTlsVersion",
        "properties.allowBlobPublicAccess",
        "properties.accessTier",
        "properties.publicNetworkAccess",  # newer accounts; older ones omit it (stolder)
    }
    with_rule = get(sim, f"{ACCOUNT}?api-version=2026-09-01")
    assert (
        diff(
            load("storage_accounts/with_resource_access_rule.json"),
            with_rule,
            not_modelled=not_modelled,
            sim_only=sim_only,
        )
        == []
    )
    older = get(sim, f"{OLD_ACCOUNT}?api-version=2026-09-01")
    recorded = load("storage_accounts/no_rules_no_public_network_access.json")
    assert (
        diff(
            recorded, older, not_modelled=not_modelled, sim_only=sim_only - {"properties.publicNetworkAccess"}
        )
        == []
    )
    assert "resourceAccessRules" not in older["properties"]["networkAcls"]  # omitted when empty


def test_role_assignment_shape(sim: SimHandle) -> None:
    recorded = load("role_assignments/put_with_condition.json")
    status, _, created = sim.call(
        "PUT",
        f"{RG}/rg-backup/providers/Microsoft.Authorization/roleAssignments/"
        "5a1c0000-0000-4000-8000-0000000000f1?api-version=2022-04-01",
        {
            "properties": {
                "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
                "acdd72a7-3385-48ef-bd42-f606fba81ae7",
                "principalId": "5a1c0000-0000-4000-8000-0000000000a1",
                "principalType": "ServicePrincipal",
                "condition": recorded["properties"]["condition"],
                "conditionVersion": "2.0",
            }
        },
        token="shape-admin",
    )
    assert status == 201, created
    assert diff(recorded, created, not_modelled=set(), sim_only=set()) == []


def test_policy_definition_and_provider_shapes(sim: SimHandle) -> None:
    definition = get(sim, f"{K8S_DEFINITION}?api-version=2026-06-01")
    recorded = load("policy_definitions/k8s_container_no_privilege.json")
    not_modelled = {
        "properties.description",
        "properties.parameters.namespaces",
        "properties.parameters.labelSelector",
        "properties.parameters.excludedContainers",
        "properties.parameters.excludedImages",
        "properties.parameters.effect.allowedValues",
        "properties.parameters.effect.metadata.description",
        "properties.parameters.excludedNamespaces.metadata.description",
        "properties.policyRule.then.details",
    }
    assert diff(recorded, definition, not_modelled=not_modelled, sim_only=set()) == []
    provider = get(
        sim, f"/subscriptions/{SUB}/providers/Microsoft.KubernetesConfiguration?api-version=2025-04-01"
    )
    recorded_provider = load("providers/kubernetesconfiguration_registered.json")
    assert (
        diff(recorded_provider, provider, not_modelled={"authorizations", "resourceTypes[]"}, sim_only=set())
        == []
    )


def test_run_command_location_and_result_shape(sim: SimHandle) -> None:
    status, headers, _ = sim.call(
        "POST", f"{CLUSTER}/runCommand?{CS}", {"command": "kubectl get pods"}, token="shape-admin"
    )
    assert status == 202
    location = headers["Location"]
    assert "/providers/Microsoft.ContainerService/managedclusters/" in location  # recorded spelling
    assert not any(h.lower().startswith("retry-after") for h in headers)  # none recorded
    path = location.split(sim.endpoint, 1)[1]
    status, _, running = sim.call("GET", path, token="shape-admin")
    assert status == 202
    assert diff(load("run_command/poll_running.json"), running, not_modelled=set(), sim_only=set()) == []
    status, _, done = sim.call("GET", path, token="shape-admin")
    assert status == 200
    sim_only = {"properties.reason"}
    assert diff(load("run_command/result_succeeded.json"), done, not_modelled=set(), sim_only=sim_only) == []


def test_unknown_api_versions_are_refused_as_azure_does(sim: SimHandle) -> None:
    status, _, body = sim.call("GET", f"{CLUSTER}?api-version=2099-01-01", token=sim.token)
    recorded = load("errors/no_registered_provider_found_quoted.json")
    assert status == 400 and body["error"]["code"] == recorded["error"]["code"]
    assert body["error"]["message"].startswith("No registered resource provider found for location '")
    assert "for type 'managedClusters'. The supported api-versions are '" in body["error"]["message"]
    status, _, body = sim.call(
        "GET",
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments?api-version=2099-01-01",
        token=sim.token,
    )
    assert status == 400 and body["error"]["code"] == "InvalidApiVersionParameter"
    assert body["error"]["message"].startswith(
        "The api-version '2099-01-01' is invalid. The supported versions are '"
    )
    status, _, body = sim.call("GET", CLUSTER, token=sim.token)
    assert status == 400 and body["error"]["code"] == "MissingApiVersionParameter"
