"""Vault identity choice, the vault.identity check, ABAC conditions and policy scoping (pure)."""

from __future__ import annotations

from dataclasses import replace

from shared.checks import vault as vault_checks
from shared.checks.policy import check_namespace_excluded
from shared.conditions import container_names, covers_container
from shared.gather.convert import with_definition_default
from shared.model import BackupInstanceInfo, PolicyDefinitionInfo, Status, Unreadable
from shared.roles import vault_principal
from shared.vault_identity import SYSTEM_NOT_ENABLED, USER_NOT_ASSOCIATED, choose
from tests.unit import builders as b

UAMI = (
    f"/subscriptions/{b.SUB}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/"
    "userAssignedIdentities/id-backup"
)
UAMI_PRINCIPAL = "bbbbbbbb-0000-0000-0000-00000000000b"


def instance(**changes: object) -> BackupInstanceInfo:
    base = b.healthy().backup_instance
    assert isinstance(base, BackupInstanceInfo)
    return replace(base, **changes)  # type: ignore[arg-type]


def uami_vault(system: bool) -> object:
    return b.vault(
        identity_type="SystemAssigned,UserAssigned" if system else "UserAssigned",
        principal_id=b.VAULT_PRINCIPAL if system else None,
        user_assigned={UAMI.lower(): UAMI_PRINCIPAL},
    )


def test_instance_on_user_assigned_identity_uses_that_principal() -> None:
    snap = b.healthy(
        vault=uami_vault(True), backup_instance=instance(use_system_identity=False, user_identity_id=UAMI)
    )
    assert vault_principal(snap) == (UAMI_PRINCIPAL, None)
    finding = vault_checks.check_identity(replace(snap, user_identity_exists=True))
    assert finding.status is Status.PASS and UAMI in finding.detail


def test_deleted_user_assigned_identity_fails() -> None:
    snap = b.healthy(
        vault=uami_vault(False), backup_instance=instance(use_system_identity=False, user_identity_id=UAMI)
    )
    finding = vault_checks.check_identity(replace(snap, user_identity_exists=False))
    assert finding.status is Status.FAIL and "no longer exists" in finding.detail
    assert USER_NOT_ASSOCIATED in finding.detail
    unread = vault_checks.check_identity(replace(snap, user_identity_exists=Unreadable("HTTP 403", "denied")))
    assert unread.status is Status.UNKNOWN


def test_detached_identity_and_disabled_system_identity_name_azure_codes() -> None:
    detached = b.healthy(
        vault=b.vault(user_assigned={}),
        backup_instance=instance(use_system_identity=False, user_identity_id=UAMI),
    )
    assert choose(detached.vault, detached.backup_instance).code == USER_NOT_ASSOCIATED
    finding = vault_checks.check_identity(detached)
    assert finding.status is Status.FAIL and finding.fix is not None and finding.fix.command is not None
    assert f"--uami {UAMI}" in finding.fix.command
    no_system = b.healthy(vault=uami_vault(False), backup_instance=instance(use_system_identity=True))
    assert choose(no_system.vault, no_system.backup_instance).code == SYSTEM_NOT_ENABLED
    assert vault_checks.check_identity(no_system).status is Status.FAIL


def test_prepare_target_with_several_user_identities_is_unknown() -> None:
    second = UAMI.replace("id-backup", "id-other").lower()
    vault = b.vault(
        identity_type="UserAssigned",
        principal_id=None,
        user_assigned={UAMI.lower(): UAMI_PRINCIPAL, second: "x"},
    )
    snap = replace(b.healthy(vault=vault, backup_instance=None, policy=None), target=b.target("prepare"))
    principal, gap = vault_principal(snap)
    assert principal is None and gap is not None and gap.unknown
    assert vault_checks.check_identity(snap).status is Status.UNKNOWN


def test_condition_parsing() -> None:
    single = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'velero'"
    assert container_names(single) == ("velero",)
    many = (
        "((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})) OR "
        "(@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] "
        "ForAnyOfAnyValues:StringEquals {'velero', 'logs'}))"
    )
    assert container_names(many) == ("velero", "logs")
    assert covers_container(many, "velero") is True
    assert covers_container(many, "other") is False
    assert covers_container("@Resource[...tags:env] StringEquals 'prod'", "velero") is None
    negated = (
        "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringNotEquals 'velero'"
    )
    assert covers_container(negated, "velero") is None
    assert covers_container(None, "velero") is True


def test_policy_scope_management_group_and_not_scopes() -> None:
    mg = "/providers/Microsoft.Management/managementGroups/corp"
    policy = b.k8s_policy(
        id=f"{mg}/providers/Microsoft.Authorization/policyAssignments/k8s",
        scope=mg,
        excluded_namespaces=("kube-system",),
    )
    assert policy.applies_to(b.CLUSTER_ID)
    assert check_namespace_excluded(b.healthy(policy_assignments=(policy,))).status is Status.WARN
    not_here = replace(policy, not_scopes=(b.CLUSTER_RG_ID,))
    assert not not_here.applies_to(b.CLUSTER_ID)
    assert check_namespace_excluded(b.healthy(policy_assignments=(not_here,))).status is Status.PASS
    elsewhere = replace(policy, not_scopes=(f"/subscriptions/{b.SUB}/resourceGroups/rg-other",))
    assert elsewhere.applies_to(b.CLUSTER_ID)


def test_definition_default_and_unreadable_definition() -> None:
    bare = b.k8s_policy(excluded_namespaces=None)
    defaulted = with_definition_default(
        bare, PolicyDefinitionInfo("d", ("kube-system", "dataprotection-microsoft"))
    )
    assert defaulted.excluded_from == "definition-default"
    assert check_namespace_excluded(b.healthy(policy_assignments=(defaulted,))).status is Status.PASS
    not_k8s = with_definition_default(bare, PolicyDefinitionInfo("d", None))
    assert not_k8s.excluded_namespaces is None
    unread = replace(bare, definition_unreadable="HTTP 403")
    assert check_namespace_excluded(b.healthy(policy_assignments=(unread,))).status is Status.UNKNOWN
