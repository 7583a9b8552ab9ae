"""Contract tests: Azure's recorded bytes through the real azure-mgmt clients, the Guard's reader
and its checks. Every expected value below was read by hand from the corpus file named in the test
(see tests/contracts/SOURCES.md); none comes from the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from shared.arm import ArmClients
from shared.checks import cluster as cluster_checks
from shared.checks import provider as provider_checks
from shared.checks import roles as role_checks
from shared.checks import storage as storage_checks
from shared.checks import trusted_access as ta_checks
from shared.checks import vault as vault_checks
from shared.checks.policy import check_namespace_excluded
from shared.conditions import covers_container
from shared.errors import NotFound, translate
from shared.gather import convert
from shared.gather.reader import ArmReader
from shared.model import BackupInstanceInfo, Status, StorageAccountInfo, Target, Unreadable, VaultInfo
from shared.roles import ROLE_ROWS, resolve_role_row, vault_principal
from shared.settings import ArmSettings, Secret
from shared.vault_identity import USER_NOT_ASSOCIATED
from tests.contracts.replay import Replay, load
from tests.unit import builders as b

ZERO = "00000000-0000-0000-0000-000000000000"
SUB = f"/subscriptions/{ZERO}"
DPP = "providers/Microsoft.DataProtection/backupVaults"
AKS = f"{SUB}/resourceGroups/clitest000001/providers/Microsoft.ContainerService/managedClusters"


@pytest.fixture
def replay() -> Iterator[Replay]:
    with Replay() as server:
        yield server


def reader_for(replay: Replay) -> ArmReader:
    settings = ArmSettings(
        endpoint=replay.endpoint, ca_bundle=replay.ca_bundle, token=Secret("contract"), retry_total=0
    )
    return ArmReader(ArmClients(settings))


# -- backup vaults ------------------------------------------------------------------------------


def test_system_assigned_vault(replay: Replay) -> None:
    vault_id = f"{SUB}/resourceGroups/oss-clitest-rg/{DPP}/clitest-aks-bv"
    replay.add("GET", vault_id, load("backup_vaults/system_assigned.json"))
    vault = reader_for(replay).vault(vault_id)
    assert isinstance(vault, VaultInfo)
    assert vault.identity_type == "SystemAssigned"
    assert vault.principal_id == "a959e284-cf37-480d-a37e-aa8eda644fa4"
    assert vault.user_assigned == {}
    snap = b.healthy(vault=vault)
    assert vault_principal(snap) == ("a959e284-cf37-480d-a37e-aa8eda644fa4", None)
    assert vault_checks.check_identity(snap).status is Status.PASS


def test_user_assigned_only_vault_is_not_a_vault_without_identity(replay: Replay) -> None:
    vault_id = f"{SUB}/resourceGroups/clitest-dpp-backupvault-000001/{DPP}/cli-test-backup-uami-vault"
    replay.add("GET", vault_id, load("backup_vaults/user_assigned_only.json"))
    vault = reader_for(replay).vault(vault_id)
    assert isinstance(vault, VaultInfo)
    assert vault.identity_type == "UserAssigned"
    assert vault.principal_id is None  # no top-level principalId in the recorded body
    uami = (
        f"/subscriptions/{ZERO}/resourcegroups/clitest-dpp-rg/providers/"
        "microsoft.managedidentity/userassignedidentities/cmk-cli-test-uami"
    )
    assert vault.user_assigned == {uami: "f1ca23d7-bb3b-4b18-8013-67537e2778ea"}
    # A prepare target (no instance yet): the vault's only identity is the one to check and grant.
    snap = replace(b.healthy(vault=vault, backup_instance=None, policy=None), target=b.target("prepare"))
    assert vault_principal(snap) == ("f1ca23d7-bb3b-4b18-8013-67537e2778ea", None)
    finding = vault_checks.check_identity(snap)
    assert finding.status is Status.PASS and "cmk-cli-test-uami" in finding.detail
    reader_row = role_checks.check_role(
        snap, resolve_role_row(snap, ROLE_ROWS["role.vault-reader-on-cluster"])
    )
    assert "cannot hold" not in reader_row.detail


def test_system_and_user_assigned_vault_with_recorded_aks_instance(replay: Replay) -> None:
    vault_id = f"{SUB}/resourceGroups/clitest-dpp-rg/{DPP}/clitest-bkp-vault-uami-donotdelete"
    replay.add("GET", vault_id, load("backup_vaults/system_and_user_assigned.json"))
    aks_vault = f"{SUB}/resourceGroups/clitest-dpp-rg/{DPP}/clitest-bkp-vault-aks-donotdelete"
    replay.add(
        "GET", f"{aks_vault}/backupInstances", {"value": [load("backup_instances/aks_system_identity.json")]}
    )
    reader = reader_for(replay)
    vault = reader.vault(vault_id)
    instances = reader.instances_in_vault(aks_vault)
    assert isinstance(vault, VaultInfo) and isinstance(instances, tuple)
    assert vault.identity_type == "SystemAssigned,UserAssigned"
    assert vault.principal_id == "8083e1fb-8f8c-4793-b756-e2666b7ca3e9"
    assert list(vault.user_assigned.values()) == ["e07454cc-6eb7-4737-90a2-d45b331d6593"]
    (instance,) = instances  # datasourceType Microsoft.ContainerService/managedClusters is a cluster instance
    assert instance.cluster_id.endswith("/managedClusters/clitest-cluster1-donotdelete")
    assert instance.policy_id is not None and instance.policy_id.endswith("/backupPolicies/akspolicy")
    assert instance.snapshot_resource_group_id == f"{SUB}/resourceGroups/clitest-dpp-rg"
    assert instance.use_system_identity is True and instance.user_identity_id is None
    snap = b.healthy(vault=vault, backup_instance=instance)
    assert vault_principal(snap) == ("8083e1fb-8f8c-4793-b756-e2666b7ca3e9", None)


def test_instance_on_a_user_assigned_identity_the_vault_does_not_have(replay: Replay) -> None:
    """The spec example's instance names testUami; the recorded vault has dppcliuamiccy only."""
    body = load("backup_instances/spec_user_assigned_identity.json")
    instance_path = body["id"]
    replay.add("GET", instance_path, body)
    vault_id = f"{SUB}/resourceGroups/clitest-dpp-rg/{DPP}/clitest-bkp-vault-uami-donotdelete"
    replay.add("GET", vault_id, load("backup_vaults/system_and_user_assigned.json"))
    reader = reader_for(replay)
    dpp = reader.clients.data_protection("04cf684a-d41f-4550-9f70-7708a3a2283b")
    raw = dpp.backup_instances.get("000pikumar", "PratikPrivatePreviewVault1", "harshitbi2")
    instance = convert.backup_instance(raw)
    assert not convert.is_cluster_instance(raw)  # datasourceType OssDB
    assert instance.use_system_identity is False
    assert instance.user_identity_id == (
        "/subscriptions/f75d8d8b-6735-4697-82e1-1a7a3ff0d5d4/resourcegroups/rg-name/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/testUami"
    )
    vault = reader.vault(vault_id)
    snap = b.healthy(vault=vault, backup_instance=instance)
    principal, gap = vault_principal(snap)
    assert principal is None and gap is not None and not gap.unknown and USER_NOT_ASSOCIATED in gap.reason
    finding = vault_checks.check_identity(snap)
    assert finding.status is Status.FAIL and USER_NOT_ASSOCIATED in finding.detail
    assert finding.fix is not None and finding.fix.command is not None
    assert "--uami " + str(instance.user_identity_id) in finding.fix.command
    # the role rows are not checked (nor remediated) against the vault's system identity
    row = role_checks.check_role(snap, resolve_role_row(snap, ROLE_ROWS["role.vault-reader-on-cluster"]))
    assert row.status is Status.FAIL and "8083e1fb" not in row.detail


def test_aks_backup_policy_is_operational_tier(replay: Replay) -> None:
    body = load("backup_policies/aks_operational.json")
    replay.add("GET", body["id"], body)
    policy = reader_for(replay).policy(body["id"])
    assert not isinstance(policy, Exception) and getattr(policy, "uses_vault_store", None) is False


# -- AKS ---------------------------------------------------------------------------------------


def test_managed_cluster_with_lower_case_resourcegroups(replay: Replay) -> None:
    body = load("managed_clusters/system_assigned_kubenet.json")
    asked = f"{AKS}/cliakstest000001"
    replay.add("GET", asked, body)
    cluster = reader_for(replay).cluster(asked)
    assert not isinstance(cluster, Exception)
    assert getattr(cluster, "id", "") == body["id"] and "/resourcegroups/" in body["id"]
    snap = b.healthy(cluster=cluster)
    assert cluster_checks.check_identity(snap).status is Status.PASS
    version = cluster_checks.check_kubernetes_version(snap)
    assert version.status is Status.PASS and "1.23.12" in version.detail
    assert cluster_checks.check_disk_csi_driver(snap).status is Status.PASS
    assert cluster_checks.check_snapshot_controller(snap).status is Status.PASS
    assert getattr(cluster, "principal_id", None) == "00000000-0000-0000-0000-000000000001"
    assert getattr(cluster, "node_resource_group", None) == "MC_clitest000001_cliakstest000001_westus2"
    assert getattr(cluster, "outbound_type", None) == "loadBalancer"


def test_trusted_access_put_answers_updating_then_the_list_succeeded(replay: Replay) -> None:
    cluster = f"{AKS}/cliakstest000001"
    put = load("trusted_access/put_updating.json")
    listed = load("trusted_access/list_succeeded.json")
    replay.add("PUT", put["id"], put)
    replay.add("GET", put["id"], listed["value"][0])
    replay.add("GET", f"{cluster}/trustedAccessRoleBindings", listed)
    reader = reader_for(replay)
    from azure.mgmt.containerservice.models import TrustedAccessRoleBinding

    aks = reader.clients.container_service(ZERO)
    poller = aks.trusted_access_role_bindings.begin_create_or_update(
        "clitest000001",
        "cliakstest000001",
        "testbinding",
        TrustedAccessRoleBinding({"properties": put["properties"]}),
        polling_interval=0,
    )
    assert convert.trusted_access_binding(poller.result()).provisioning_state == "Succeeded"
    bindings = reader.trusted_access(cluster)
    assert isinstance(bindings, tuple) and len(bindings) == 1
    binding = bindings[0]
    assert binding.provisioning_state == "Succeeded"
    assert binding.roles == (
        "Microsoft.Compute/virtualMachineScaleSets/test-node-reader",
        "Microsoft.Compute/virtualMachineScaleSets/test-admin",
    )
    # the recorded binding's source is a VM scale set, not a Backup vault: the check must fail
    snap = b.healthy(trusted_access=bindings)
    finding = ta_checks.check_binding(snap)
    assert finding.status is Status.FAIL and "no trusted access binding from vault" in finding.detail


def test_a_binding_read_while_updating_warns(replay: Replay) -> None:
    cluster = f"{AKS}/cliakstest000001"
    put = load("trusted_access/put_updating.json")
    replay.add("GET", f"{cluster}/trustedAccessRoleBindings", {"value": [put]})
    bindings = reader_for(replay).trusted_access(cluster)
    assert isinstance(bindings, tuple) and bindings[0].provisioning_state == "Updating"
    from_vault = replace(bindings[0], source_resource_id=b.VAULT_ID, roles=(ta_checks.BACKUP_OPERATOR_ROLE,))
    assert ta_checks.check_binding(b.healthy(trusted_access=(from_vault,))).status is Status.WARN


def test_flat_aks_error_body_is_a_not_found_with_its_message(replay: Replay) -> None:
    cluster = f"{AKS}/cliakstest000001"
    replay.add(
        "GET",
        f"{cluster}/trustedAccessRoleBindings/testbinding",
        load("errors/aks_flat_not_found.json"),
        status=404,
    )
    from azure.core.exceptions import HttpResponseError

    aks = reader_for(replay).clients.container_service(ZERO)
    with pytest.raises(HttpResponseError) as caught:
        aks.trusted_access_role_bindings.get("clitest000001", "cliakstest000001", "testbinding")
    err = translate(caught.value, action="read binding")
    assert isinstance(err, NotFound)
    assert err.code == "NotFound"
    assert "Could not find the trusted access role binding testbinding" in err.reason


def test_run_command_with_lower_case_location_and_no_retry_after(replay: Replay) -> None:
    cluster = f"{AKS}/cmdtest000002"
    accepted = load("run_command/post_accepted_headers.json")
    location = accepted["headers"]["location"]
    replay.add("POST", f"{cluster}/runCommand", b"", status=202, headers={"Location": location})
    result_path = location.split("management.azure.com", 1)[1].split("?", 1)[0]
    replay.add(
        "GET", result_path, load("run_command/poll_running.json"), status=202, headers={"Location": location}
    )
    replay.add("GET", result_path, load("run_command/result_succeeded.json"))
    velero = reader_for(replay).velero(cluster)
    assert not isinstance(velero, Exception)
    assert getattr(velero, "found", None) is False  # kube-system pods only: no Velero
    assert "/managedclusters/" in result_path  # AKS spells the Location path in lower case


# -- extensions, providers -----------------------------------------------------------------------


def test_extension_being_created_has_no_identity_yet(replay: Replay) -> None:
    arc = f"{SUB}/resourceGroups/azurecli-tests/providers/Microsoft.Kubernetes/connectedClusters/arc-cluster"
    listed = load("extensions/list_creating_identity_null.json")
    replay.add("GET", f"{arc}/providers/Microsoft.KubernetesConfiguration/extensions", listed)
    ext = (
        reader_for(replay)
        .clients.extensions(ZERO)
        .extensions.list("azurecli-tests", "Microsoft.Kubernetes", "connectedClusters", "arc-cluster")
    )
    (info,) = [convert.extension(e) for e in ext]
    assert info.provisioning_state == "Creating"
    assert info.principal_id is None  # "aksAssignedIdentity": null
    assert info.extension_type == "microsoft.dapr" and convert.backup_extension([info]) is None
    snap = b.healthy(extension=replace(b.extension(), provisioning_state="Creating", principal_id=None))
    row = role_checks.check_role(
        snap, resolve_role_row(snap, ROLE_ROWS["role.extension-blob-contributor-on-storage"])
    )
    assert "reports no properties.aksAssignedIdentity.principalId (provisioningState Creating)" in row.detail


def test_kubernetes_configuration_provider_registered(replay: Replay) -> None:
    replay.add(
        "GET",
        f"{SUB}/providers/Microsoft.KubernetesConfiguration",
        load("providers/kubernetesconfiguration_registered.json"),
    )
    state = reader_for(replay).provider_state(ZERO)
    assert state == "Registered"
    snap = b.healthy(provider_state=state)
    assert provider_checks.check_kubernetes_configuration_registered(snap).status is Status.PASS


# -- authorization ------------------------------------------------------------------------------


def test_role_assignments_at_root_and_with_a_condition(replay: Replay) -> None:
    listed = load("role_assignments/list_at_scope_root_items.json")
    conditional = load("role_assignments/put_with_condition.json")
    replay.add(
        "GET",
        f"{SUB}/providers/Microsoft.Authorization/roleAssignments",
        {"value": [*listed["value"], conditional]},
    )
    assignments = reader_for(replay).role_assignments_in(ZERO)
    assert isinstance(assignments, tuple) and len(assignments) == 3
    root_contributor = assignments[1]
    assert root_contributor.scope == "/" and root_contributor.condition is None
    assert root_contributor.role_guid == "b24988ac-6180-42a0-ab88-20f7382dd24c"
    rg = f"{SUB}/resourceGroups/cli_role_assign000001"
    found = role_checks.find_assignment(
        assignments, "0d504196-1423-4569-9a6e-15149656f0ee", root_contributor.role_guid, rg
    )
    assert found is root_contributor  # the root scope is inherited by every resource group
    cond = assignments[2]
    assert (
        cond.condition
        == "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:Name] stringEquals 'foo'"
    )
    assert covers_container(cond.condition, "foo") is True
    assert covers_container(cond.condition, "velero") is False


def test_conditional_blob_role_for_another_container_warns() -> None:
    """The recorded condition text on the extension's Storage Blob Data Contributor row."""
    condition = load("role_assignments/put_with_condition.json")["properties"]["condition"]
    healthy = b.healthy()
    by_sub = dict(healthy.role_assignments)
    row = ROLE_ROWS["role.extension-blob-contributor-on-storage"]
    storage_sub = b.STORAGE_SUB
    current = by_sub[storage_sub]
    assert not isinstance(current, Unreadable)
    others = tuple(a for a in current if a.role_guid != row.role_guid)
    conditional = replace(b.row_assignment(row.check), condition=condition)
    by_sub[storage_sub] = (*others, conditional)
    snap = replace(healthy, role_assignments=by_sub)
    finding = role_checks.check_role(snap, resolve_role_row(snap, row))
    assert finding.status is Status.WARN and "stringEquals 'foo'" in finding.detail
    # the same condition naming the backup container counts
    container = b.extension().blob_container
    assert container
    allowed = replace(conditional, condition=condition.replace("'foo'", f"'{container}'"))
    by_sub[storage_sub] = (*others, allowed)
    snap = replace(healthy, role_assignments=by_sub)
    assert role_checks.check_role(snap, resolve_role_row(snap, row)).status is Status.PASS


def test_management_group_role_assignment_is_inherited() -> None:
    """A management-group scope (the id form of the recorded error's request) is above the cluster."""
    healthy = b.healthy()
    row = ROLE_ROWS["role.vault-reader-on-cluster"]
    mg = "/providers/Microsoft.Management/managementGroups/contoso-platform"
    by_sub = dict(healthy.role_assignments)
    current = by_sub[b.SUB]
    assert not isinstance(current, Unreadable)
    others = tuple(a for a in current if not (a.role_guid == row.role_guid and a.scope == b.CLUSTER_ID))
    by_sub[b.SUB] = (*others, b.assignment(b.VAULT_PRINCIPAL, row.role_guid, mg, subscription=None))
    snap = replace(healthy, role_assignments=by_sub)
    finding = role_checks.check_role(snap, resolve_role_row(snap, row))
    assert finding.status is Status.PASS and f"inherited from {mg}" in finding.detail


# -- storage ------------------------------------------------------------------------------------


def test_storage_account_omitting_empty_rules_and_public_network_access(replay: Replay) -> None:
    body = load("storage_accounts/no_rules_no_public_network_access.json")
    replay.add("GET", body["id"], body)
    account = reader_for(replay).storage_account(body["id"])
    assert not isinstance(account, Exception)
    assert getattr(account, "resource_access_rules", None) == ()
    assert getattr(account, "public_network_access", "x") is None
    assert getattr(account, "default_action", None) == "Allow"
    assert getattr(account, "bypass", None) == ("AzureServices",)
    snap = b.healthy(storage_account=account)
    assert storage_checks.check_network_access(snap).status is Status.PASS


def test_storage_account_with_a_resource_access_rule(replay: Replay) -> None:
    body = load("storage_accounts/with_resource_access_rule.json")
    replay.add("GET", body["id"], body)
    account = reader_for(replay).storage_account(body["id"])
    assert isinstance(account, StorageAccountInfo)
    rules = account.resource_access_rules
    assert len(rules) == 1 and rules[0].tenant_id == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert rules[0].resource_id.endswith("/Microsoft.Synapse/workspaces/testworkspace1")


def test_blob_listing(replay: Replay) -> None:
    account_id = f"{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/fakestorageaccount"
    replay.add(
        "GET",
        "/fakestorageaccount/container163764846946300799",
        load("blob_listings/list_blobs_flat_three.xml"),
        content_type="application/xml",
    )
    listing = reader_for(replay).blob_container(account_id, "container163764846946300799")
    assert getattr(listing, "exists", False) is True
    assert getattr(listing, "blob_names", ()) == (
        "blockblob/0163764847049508913",
        "blockblob/1163764847075404687",
        "blockblob/2163764847100203486",
    )


# -- policy -------------------------------------------------------------------------------------


def test_kubernetes_assignment_relying_on_the_definition_default(replay: Replay) -> None:
    """A management-group assignment of the built-in 'no privileged containers' policy that sets no
    parameters: the definition's default excludedNamespaces (kube-system, gatekeeper-system,
    azure-arc) lacks dataprotection-microsoft."""
    definition = load("policy_definitions/k8s_container_no_privilege.json")
    replay.add("GET", definition["id"], definition)
    spec = load("policy_assignments/spec_subscription_scope.json")
    mg = "/providers/Microsoft.Management/managementGroups/contoso"
    assignment_body = {
        **spec,
        "id": f"{mg}/providers/Microsoft.Authorization/policyAssignments/no-privileged",
        "name": "no-privileged",
        "properties": {
            **spec["properties"],
            "scope": mg,
            "parameters": {},
            "policyDefinitionId": definition["id"],
        },
    }
    replay.add(
        "GET",
        f"{SUB}/providers/Microsoft.Authorization/policyAssignments",
        {"value": [spec, assignment_body]},
    )
    reader = reader_for(replay)
    target = Target(
        cluster_id=f"{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks",
        vault_id=b.VAULT_ID,
    )
    from shared.gather.snapshot import _policy_assignments

    assignments = reader.run(_policy_assignments(target, reader.aio))
    assert isinstance(assignments, tuple)
    naming, k8s = assignments
    assert naming.excluded_namespaces is None  # the spec example sets prefix/suffix only
    assert k8s.excluded_from == "definition-default"
    assert k8s.excluded_namespaces == ("kube-system", "gatekeeper-system", "azure-arc")
    snap = replace(b.healthy(policy_assignments=assignments), target=target)
    finding = check_namespace_excluded(snap)
    assert finding.status is Status.WARN and "(definition default)" in finding.detail
    assert (
        finding.fix is not None and finding.fix.command is not None and f"--scope {mg}" in finding.fix.command
    )
    # a notScopes entry over the cluster's resource group takes the cluster out
    excluded = replace(k8s, not_scopes=(f"{SUB}/resourceGroups/rg",))
    snap = replace(b.healthy(policy_assignments=(naming, excluded)), target=target)
    assert check_namespace_excluded(snap).status is Status.PASS
    # definitions are read once per run, however many targets ask
    reader.run(_policy_assignments(target, reader.aio))
    assert sum(1 for r in replay.requests if r[1].endswith("95edb821-ddaf-4404-9732-666045e056b4")) == 1


def test_nsg_rules_from_the_spec_example(replay: Replay) -> None:
    body = load("network/spec_nsg_get.json")
    replay.add("GET", body["id"].replace("subid", ZERO), body)
    group = reader_for(replay).clients.network(ZERO).network_security_groups.get("rg1", "testnsg")
    nsg = convert.nsg(group, "subnet")
    assert [(r.name, r.priority, r.access, r.direction) for r in nsg.rules] == [
        ("rule1", 130, "Allow", "Inbound")
    ]
    assert nsg.rules[0].source_prefixes == ("*",) and nsg.rules[0].destination_prefixes == ("*",)


def test_every_request_carried_the_pinned_api_version(replay: Replay) -> None:
    vault_id = f"{SUB}/resourceGroups/oss-clitest-rg/{DPP}/clitest-aks-bv"
    replay.add("GET", vault_id, load("backup_vaults/system_assigned.json"))
    reader_for(replay).vault(vault_id)
    assert replay.requests and all(api for _, _, api in replay.requests)


def test_backup_instance_info_defaults_mean_system_identity() -> None:
    instance = BackupInstanceInfo(
        id="x", cluster_id="c", datasource_type="Microsoft.ContainerService/managedClusters"
    )
    assert instance.use_system_identity is None and not instance.uses_user_identity


# -- Event Grid -----------------------------------------------------------------------------------


def test_docs_resource_write_event_parses_and_names_no_subscription() -> None:
    """The documented ResourceWriteSuccess example (placeholders kept): the Guard parses it and,
    since ``{subscription-id}`` is no subscription, finds none to route to (it never guesses)."""
    from shared.events import parse_batch

    events, errors = parse_batch(json.dumps(load("events/docs_resource_write_success.json")))
    assert errors == [] and len(events) == 1
    (event,) = events
    assert event.operation_name == "Microsoft.Storage/storageAccounts/write"
    assert event.subject.endswith("/providers/Microsoft.Storage/storageAccounts/{storage-name}")
    assert event.subscription_id is None
