"""plan() on plain data: which actions, which refusals (safety rules: docs/)."""

from __future__ import annotations

import re
from dataclasses import replace

from shared.checks import evaluate
from shared.model import STORAGE_ACCOUNT_TAG, Snapshot, Status
from shared.remediation.plan import (
    Action,
    ExtensionInstallParams,
    Plan,
    RoleAssignmentParams,
    StorageNetworkParams,
    TrustedAccessParams,
    plan,
    role_assignment_name,
    trusted_access_binding_name,
)
from shared.remediation.storage import merged_network_acls
from shared.roles import ALLOWED_ROLE_GUIDS, ROLE_ROWS
from shared.settings import Settings
from tests.unit import builders as b

ALL_SUBS = (b.SUB, b.STORAGE_SUB)


def settings(**env: str) -> Settings:
    base = {"GUARD_SUBSCRIPTIONS": ",".join(ALL_SUBS), "GUARD_MODE": "enforce"}
    return Settings.from_env({**base, **env})


def plan_for(snapshot: Snapshot, s: Settings | None = None) -> Plan:
    return plan(snapshot, evaluate(snapshot), s or settings())


def without(check: str) -> Snapshot:
    """The healthy snapshot minus the assignment satisfying one role row."""
    snap = b.healthy()
    drop = b.row_assignment(check)
    return replace(
        snap,
        role_assignments={
            sub: tuple(a for a in items if a != drop)  # type: ignore[union-attr]
            for sub, items in snap.role_assignments.items()
        },
    )


def by_check(p: Plan) -> dict[str, Action]:
    return {a.check: a for a in p.actions}


def test_healthy_target_plans_nothing() -> None:
    p = plan_for(b.healthy())
    assert p.actions == () and p.skipped == ()


def test_missing_role_plans_one_deterministic_matrix_assignment() -> None:
    p = plan_for(without("role.vault-reader-on-snapshot-rg"))
    assert [a.id for a in p.actions] == ["role-assignment:role.vault-reader-on-snapshot-rg"]
    params = p.actions[0].params
    assert isinstance(params, RoleAssignmentParams)
    assert params.principal_id == b.VAULT_PRINCIPAL
    assert params.scope == b.SNAPSHOT_RG_ID
    assert params.role_guid == ROLE_ROWS["role.vault-reader-on-snapshot-rg"].role_guid
    assert params.name == role_assignment_name(
        b.SNAPSHOT_RG_ID.upper(), b.VAULT_PRINCIPAL.upper(), params.role_guid
    )
    assert params.role_definition_id.endswith("/roleDefinitions/" + params.role_guid)
    assert plan_for(without("role.vault-reader-on-snapshot-rg")) == p  # pure and deterministic


def test_every_role_action_uses_an_allowed_guid() -> None:
    snap = replace(b.healthy(), role_assignments={b.SUB: (), b.STORAGE_SUB: ()})
    p = plan_for(snap)
    roles = [a.params for a in p.actions if isinstance(a.params, RoleAssignmentParams)]
    assert len(roles) == 7  # always + vaulted rows; staging off
    assert {r.role_guid for r in roles} <= ALLOWED_ROLE_GUIDS
    assert len({r.name for r in roles}) == 7


def test_report_only_and_ignore_tags_refuse_everything() -> None:
    for value in ("report-only", "ignore"):
        snap = without("role.vault-reader-on-cluster")
        assert isinstance(snap.cluster, b.ClusterInfo)
        snap = replace(snap, cluster=replace(snap.cluster, tags={"AKS-Backup-Guard": value}))
        p = plan_for(snap)
        assert p.actions == ()
        assert [o.result for o in p.skipped] == ["skipped"]
        assert value in p.skipped[0].reason


def test_unwatched_subscription_refuses_target_and_scopes() -> None:
    snap = without("role.vault-reader-on-cluster")
    p = plan_for(snap, settings(GUARD_SUBSCRIPTIONS=b.STORAGE_SUB))
    assert p.actions == () and "GUARD_SUBSCRIPTIONS" in p.skipped[0].reason
    # the storage account's subscription is not watched: its role row is refused, others proceed
    snap = replace(b.healthy(), role_assignments={b.SUB: (), b.STORAGE_SUB: ()})
    p = plan_for(snap, settings(GUARD_SUBSCRIPTIONS=b.SUB))
    refused = {o.check: o.reason for o in p.skipped}
    assert "outside GUARD_SUBSCRIPTIONS" in refused["role.vault-blob-reader-on-storage"]
    assert "role.vault-reader-on-cluster" in by_check(p)


def test_role_without_principal_is_refused_not_guessed() -> None:
    snap = replace(
        without("role.vault-reader-on-cluster"), vault=b.vault(principal_id=None, identity_type="None")
    )
    p = plan_for(snap)
    assert not any(isinstance(a.params, RoleAssignmentParams) for a in p.actions)
    assert any("no managed identity" in o.reason for o in p.skipped)


def test_cluster_fixes_need_remediate_cluster() -> None:
    snap = replace(b.healthy(), cluster=b.cluster(disk_csi_enabled=False, snapshot_controller_enabled=False))
    p = plan_for(snap)
    assert p.actions == ()
    assert {o.check for o in p.skipped} == {"cluster.disk-csi-driver", "cluster.snapshot-controller"}
    assert all("GUARD_REMEDIATE_CLUSTER" in o.reason for o in p.skipped)
    p = plan_for(snap, settings(GUARD_REMEDIATE_CLUSTER="true"))
    assert [a.kind for a in p.actions] == ["cluster-storage-profile"] * 2


def test_extension_install_needs_a_storage_location() -> None:
    snap = replace(b.healthy(), extension=None, storage_account=None, blob_container=None)
    p = plan_for(snap, settings(GUARD_REMEDIATE_CLUSTER="true"))
    refused = {o.check: o.reason for o in p.skipped}
    assert "no storage location" in refused["extension.installed"]
    assert "not installed" in refused["role.extension-blob-contributor-on-storage"]
    assert isinstance(snap.vault, b.VaultInfo)
    tagged = replace(
        snap,
        vault=replace(
            snap.vault,
            tags={STORAGE_ACCOUNT_TAG: b.STORAGE_ID, "aks-backup-guard-blob-container": "aks-backups"},
        ),
    )
    p = plan_for(tagged, settings(GUARD_REMEDIATE_CLUSTER="true"))
    params = by_check(p)["extension.installed"].params
    assert isinstance(params, ExtensionInstallParams)
    assert (params.storage_account_id, params.blob_container, params.tenant_id) == (
        b.STORAGE_ID,
        "aks-backups",
        b.TENANT,
    )
    # a vault-tag location needs the cluster's consent to that account: without it, no install
    lonely = replace(tagged, consent=b.ConsentFacts(trust_domains=(f"/subscriptions/{b.SUB}",)))
    p = plan_for(lonely, settings(GUARD_REMEDIATE_CLUSTER="true"))
    refused = {o.check: o.reason for o in p.skipped}
    assert "needs the cluster's consent" in refused["extension.installed"]
    assert "az tag update --resource-id " + b.CLUSTER_ID in refused["extension.installed"]
    # settings win over tags
    p = plan_for(
        tagged,
        settings(
            GUARD_REMEDIATE_CLUSTER="true",
            GUARD_EXTENSION_STORAGE_ACCOUNT_ID=b.STORAGE_ID.replace("stbackupprod", "stother"),
            GUARD_EXTENSION_BLOB_CONTAINER="other",
        ),
    )
    params = by_check(p)["extension.installed"].params
    assert isinstance(params, ExtensionInstallParams) and params.blob_container == "other"


def test_trusted_access_new_and_broken_binding() -> None:
    p = plan_for(replace(b.healthy(), trusted_access=()))
    params = by_check(p)["trusted-access.binding"].params
    assert isinstance(params, TrustedAccessParams) and not params.repair
    assert params.binding_name == trusted_access_binding_name(b.VAULT_ID.upper())
    assert re.fullmatch(r"[A-Za-z0-9-]{1,24}", params.binding_name)
    broken = b.binding(roles=("Microsoft.Other/thing",))
    params = by_check(plan_for(replace(b.healthy(), trusted_access=(broken,))))[
        "trusted-access.binding"
    ].params
    assert isinstance(params, TrustedAccessParams)
    assert params.repair and params.binding_name == broken.name
    assert params.roles == ("Microsoft.Other/thing", b.BACKUP_OPERATOR)


def test_no_binding_is_created_on_a_cluster_at_the_limit() -> None:
    others = tuple(b.binding(name=f"ml-{n}", source_resource_id=f"{b.CLUSTER_ID}-ml-{n}") for n in range(8))
    p = plan_for(replace(b.healthy(), trusted_access=others))
    assert "trusted-access.binding" not in by_check(p)
    (skipped,) = [o for o in p.skipped if o.check == "trusted-access.binding"]
    assert skipped.result == "skipped" and "8 trusted access bindings, AKS's limit" in skipped.reason
    seven = plan_for(replace(b.healthy(), trusted_access=others[:7]))
    assert isinstance(by_check(seven)["trusted-access.binding"].params, TrustedAccessParams)


def test_provider_and_storage_actions() -> None:
    snap = replace(
        b.healthy(),
        provider_state="NotRegistered",
        storage_account=b.firewalled_storage(resource_access_rules=(), bypass=("Logging",)),
    )
    p = plan_for(snap)
    assert [a.kind for a in p.actions] == ["provider-registration", "storage-network"]
    params = p.actions[1].params
    assert isinstance(params, StorageNetworkParams)
    assert (params.account_id, params.vault_id, params.tenant_id) == (b.STORAGE_ID, b.VAULT_ID, b.TENANT)
    # a transitional state (Registering: warn) is left alone
    assert plan_for(replace(b.healthy(), provider_state="Registering")).actions == ()


def test_unknown_and_advisory_findings_plan_nothing() -> None:
    snap = replace(b.healthy(), role_assignments={b.SUB: b.DENIED, b.STORAGE_SUB: b.DENIED})
    findings = evaluate(snap)
    assert any(f.status is Status.UNKNOWN for f in findings)
    assert plan(snap, findings, settings()).actions == ()


def test_merged_network_acls_keeps_every_rule() -> None:
    acls = {
        "defaultAction": "Deny",
        "bypass": "Logging, Metrics",
        "ipRules": [{"value": "203.0.113.0/24", "action": "Allow"}],
        "virtualNetworkRules": [{"id": b.SUBNET_ID, "action": "Allow", "state": "Succeeded"}],
        "resourceAccessRules": [{"tenantId": b.TENANT, "resourceId": "/subscriptions/x/other"}],
    }
    merged = merged_network_acls(acls, b.VAULT_ID, b.TENANT)
    assert merged is not None
    assert (
        merged["ipRules"] == acls["ipRules"] and merged["virtualNetworkRules"] == acls["virtualNetworkRules"]
    )
    assert merged["defaultAction"] == "Deny"
    assert merged["resourceAccessRules"] == [
        *acls["resourceAccessRules"],
        {"tenantId": b.TENANT, "resourceId": b.VAULT_ID},
    ]
    assert merged["bypass"] == "Logging, Metrics, AzureServices"
    assert merged_network_acls(merged, b.VAULT_ID.lower(), b.TENANT) is None
    assert merged_network_acls({"bypass": "None"}, b.VAULT_ID, b.TENANT)["bypass"] == "AzureServices"  # type: ignore[index]


def test_failed_extension_is_retried_with_its_own_configuration_transitional_left_alone() -> None:
    on = settings(GUARD_REMEDIATE_CLUSTER="true")
    failed = replace(b.healthy(), extension=b.extension(provisioning_state="Failed"))
    params = by_check(plan_for(failed, on))["extension.installed"].params
    assert isinstance(params, ExtensionInstallParams) and params.repair
    assert params.extension_name == "azure-aks-backup"
    assert dict(params.existing_configuration) == dict(b.extension().configuration)
    creating = replace(b.healthy(), extension=b.extension(provisioning_state="Creating"))
    findings = [f for f in evaluate(creating) if f.check == "extension.installed"]
    findings = [replace(f, status=Status.FAIL) for f in findings]  # even if reported as fail
    p = plan(creating, findings, on)
    assert p.actions == () and "left alone" in p.skipped[0].reason


def test_apply_refuses_hand_built_actions_outside_the_rules() -> None:
    """apply re-checks the safety rules before any request (the endpoint here accepts none)."""
    from shared.arm import ArmClients
    from shared.remediation.apply import apply_one
    from shared.roles import BUILTIN_ROLES
    from shared.settings import ArmSettings, Secret

    s = settings()
    clients = ArmClients(ArmSettings(endpoint="https://127.0.0.1:9", token=Secret("x"), retry_total=0))
    owner = BUILTIN_ROLES["Owner"]
    name = role_assignment_name(b.CLUSTER_ID, b.VAULT_PRINCIPAL, owner)
    rogue = Action(
        "role-assignment",
        "role.vault-reader-on-cluster",
        "assign Owner",
        RoleAssignmentParams(b.CLUSTER_ID, b.VAULT_PRINCIPAL, owner, "Owner", name),
        requester=b.VAULT_ID,
    )
    assert apply_one(rogue, clients, s).reason == f"role {owner} is not in the role matrix"
    reader = BUILTIN_ROLES["Reader"]
    outside = Action(
        "role-assignment",
        "role.vault-reader-on-cluster",
        "assign Reader",
        RoleAssignmentParams(b.CLUSTER_ID, b.VAULT_PRINCIPAL, reader, "Reader", name),
        requester=b.VAULT_ID,
    )
    refused = apply_one(outside, clients, settings(GUARD_SUBSCRIPTIONS=b.STORAGE_SUB))
    assert refused.result == "skipped" and "outside GUARD_SUBSCRIPTIONS" in refused.reason
    # the control: an allowed action does reach the (closed) endpoint and fails there
    assert apply_one(outside, clients, s).result == "failed"
    # an action that names no requester (not made by the planner) is never written
    anonymous = replace(outside, requester="")
    assert "no requester" in apply_one(anonymous, clients, s).reason
    # nor one that assigns a role to the Guard's own identity, whatever the planner said
    own = replace(
        outside,
        params=RoleAssignmentParams(b.CLUSTER_ID, b.OTHER_PRINCIPAL, reader, "Reader", name),
    )
    refused_own = apply_one(own, clients, settings(GUARD_PRINCIPAL_ID=b.OTHER_PRINCIPAL))
    assert refused_own.result == "skipped" and "Guard's own identity" in refused_own.reason


def test_tag_and_config_values_never_become_broader_or_escaped_scopes() -> None:
    """A vault tag or extension setting naming a subscription, or using dot segments, is refused."""
    from shared.model import STAGING_RG_TAG, STAGING_STORAGE_TAG, ExtensionInfo, VaultInfo

    staged = b.with_staging()
    assert isinstance(staged.vault, VaultInfo)
    hostile_tags = {
        STAGING_STORAGE_TAG: f"/subscriptions/{b.SUB}",  # would be Blob Data Owner on the subscription
        STAGING_RG_TAG: f"/subscriptions/{b.SUB}/resourceGroups/..",  # normalised away by HTTP clients
    }
    control = without("role.vault-reader-on-cluster")  # one legitimate gap, so the plan is not empty
    hostile = replace(
        staged,
        vault=replace(staged.vault, tags={**staged.vault.tags, **hostile_tags}),
        role_assignments=control.role_assignments,
    )
    findings = {f.check: f for f in evaluate(hostile)}
    for check in (
        "role.vault-account-contributor-on-staging-storage",
        "role.vault-contributor-on-staging-rg",
    ):
        assert findings[check].status is Status.FAIL
        assert " is not exactly a " in findings[check].detail
    planned = plan_for(hostile, settings())
    scopes = [a.params.scope for a in planned.actions if isinstance(a.params, RoleAssignmentParams)]
    assert scopes == [b.CLUSTER_ID]  # the legitimate gap is planned; nothing at the hostile scopes

    ext = hostile.extension
    assert isinstance(ext, ExtensionInfo)
    config = {**ext.configuration, "configuration.backupStorageLocation.config.resourceGroup": ".."}
    escaped = replace(
        without("role.extension-blob-contributor-on-storage"), extension=replace(ext, configuration=config)
    )
    assert not [
        a
        for a in plan_for(escaped, settings()).actions
        if a.check == "role.extension-blob-contributor-on-storage"
    ]


def test_apply_refuses_a_scope_that_is_not_a_matrix_kind() -> None:
    from shared.arm import ArmClients
    from shared.remediation.apply import apply_one
    from shared.roles import BUILTIN_ROLES
    from shared.settings import ArmSettings, Secret

    clients = ArmClients(ArmSettings(endpoint="https://127.0.0.1:9", token=Secret("x"), retry_total=0))
    reader = BUILTIN_ROLES["Reader"]
    for scope in (
        f"/subscriptions/{b.SUB}",
        f"{b.CLUSTER_ID}/../../../..",
        f"{b.CLUSTER_RG_ID}/providers/X/y/z",
    ):
        name = role_assignment_name(scope, b.VAULT_PRINCIPAL, reader)
        action = Action(
            "role-assignment",
            "role.vault-reader-on-cluster",
            "assign Reader",
            RoleAssignmentParams(scope, b.VAULT_PRINCIPAL, reader, "Reader", name),
            requester=b.VAULT_ID,
        )
        outcome = apply_one(action, clients, settings())
        assert outcome.result == "skipped", scope
        assert "write scope" in outcome.reason or "not an ARM id" in outcome.reason
