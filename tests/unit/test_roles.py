"""role.* checks and resolve_role_rows: matrix rows resolved against plain-data Snapshots."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.checks.roles import check_role, check_roles, find_assignment
from shared.model import (
    STAGING_RG_TAG,
    STAGING_STORAGE_TAG,
    Finding,
    PolicyInfo,
    Snapshot,
    Status,
    Unreadable,
)
from shared.roles import ROLE_ROWS, resolve_role_row, resolve_role_rows
from tests.unit import builders as b

READER = ROLE_ROWS["role.vault-reader-on-cluster"]


def role_finding(snapshot: Snapshot, check: str) -> Finding:
    return check_role(snapshot, resolve_role_row(snapshot, ROLE_ROWS[check]))


def with_assignments(snapshot: Snapshot, sub: str, *items: object) -> Snapshot:
    return replace(snapshot, role_assignments={**snapshot.role_assignments, sub: tuple(items)})  # type: ignore[arg-type]


def only(*items: object) -> Snapshot:
    """The healthy snapshot whose cluster subscription holds exactly ``items``."""
    return with_assignments(b.healthy(), b.SUB, *items)


# ---- resolution -----------------------------------------------------------------------------


def test_healthy_resolution_reads_principals_and_scopes_from_the_snapshot() -> None:
    resolved = {r.check: r for r in resolve_role_rows(b.with_staging())}
    assert len(resolved) == 10
    assert all(r.actionable for r in resolved.values())
    assert resolved["role.vault-reader-on-cluster"].principal_id == b.VAULT_PRINCIPAL
    assert resolved["role.vault-reader-on-cluster"].scope_id == b.CLUSTER_ID
    assert resolved["role.cluster-contributor-on-snapshot-rg"].principal_id == b.CLUSTER_PRINCIPAL
    assert resolved["role.cluster-contributor-on-snapshot-rg"].scope_id == b.SNAPSHOT_RG_ID
    assert resolved["role.extension-blob-contributor-on-storage"].principal_id == b.EXTENSION_PRINCIPAL
    assert resolved["role.extension-blob-contributor-on-storage"].scope_id == b.STORAGE_ID
    assert resolved["role.vault-contributor-on-staging-rg"].scope_id == b.STAGING_RG_ID
    assert resolved["role.vault-blob-owner-on-staging-storage"].scope_id == b.STAGING_STORAGE_ID
    assert (
        resolved["role.vault-blob-owner-on-staging-storage"].role_guid
        == "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
    )


def test_staging_rg_tag_is_never_cut_down_to_a_parent_group() -> None:
    """A resource inside a group, upper-cased or with a trailing slash, is a bad tag: never its group."""
    snap = b.with_staging()
    assert isinstance(snap.vault, b.VaultInfo)
    for value in (b.STAGING_STORAGE_ID.upper(), b.STAGING_RG_ID + "/", f"/subscriptions/{b.SUB}"):
        tags = {**snap.vault.tags, STAGING_RG_TAG: value}
        resolved = resolve_role_row(
            replace(snap, vault=replace(snap.vault, tags=tags)),
            ROLE_ROWS["role.vault-contributor-on-staging-rg"],
        )
        assert resolved.scope_id is None, value
        assert (
            resolved.scope_gap is not None and "not exactly a resource group id" in resolved.scope_gap.reason
        )
    exact = resolve_role_row(snap, ROLE_ROWS["role.vault-contributor-on-staging-rg"])
    assert exact.scope_id == b.STAGING_RG_ID


def test_nothing_is_actionable_when_reads_failed() -> None:
    snap = b.healthy(
        vault=b.DENIED, cluster=b.DENIED, extension=b.DENIED, backup_instance=b.DENIED, policy=b.DENIED
    )
    assert not any(r.actionable for r in resolve_role_rows(snap))


# ---- holds / does not hold ------------------------------------------------------------------


def test_exact_scope_assignment_passes() -> None:
    finding = role_finding(b.healthy(), READER.check)
    assert finding.status is Status.PASS
    assert "at the scope" in finding.detail


@pytest.mark.parametrize("ancestor", [b.CLUSTER_RG_ID, f"/subscriptions/{b.SUB}", "/"])
def test_ancestor_scope_assignment_counts(ancestor: str) -> None:
    snap = only(b.assignment(b.VAULT_PRINCIPAL, READER.role_guid, ancestor))
    finding = role_finding(snap, READER.check)
    assert finding.status is Status.PASS
    assert "inherited from" in finding.detail


def test_assignment_below_the_scope_does_not_count() -> None:
    below = f"{b.CLUSTER_ID}/agentPools/nodepool1"
    snap = only(b.assignment(b.VAULT_PRINCIPAL, READER.role_guid, below))
    assert role_finding(snap, READER.check).status is Status.FAIL


def test_sibling_resource_group_does_not_count() -> None:
    snap = only(
        b.assignment(b.VAULT_PRINCIPAL, READER.role_guid, f"/subscriptions/{b.SUB}/resourceGroups/rg-aks2")
    )
    assert role_finding(snap, READER.check).status is Status.FAIL


def test_a_different_role_does_not_count() -> None:
    contributor = ROLE_ROWS["role.cluster-contributor-on-snapshot-rg"].role_guid
    snap = only(b.assignment(b.VAULT_PRINCIPAL, contributor, b.CLUSTER_ID))
    finding = role_finding(snap, READER.check)
    assert finding.status is Status.FAIL


def test_a_different_principal_does_not_count() -> None:
    snap = only(b.assignment(b.OTHER_PRINCIPAL, READER.role_guid, b.CLUSTER_ID))
    finding = role_finding(snap, READER.check)
    assert finding.status is Status.FAIL
    assert b.VAULT_PRINCIPAL in finding.detail


def test_cluster_identity_does_not_satisfy_a_vault_row() -> None:
    snap = only(b.assignment(b.CLUSTER_PRINCIPAL, READER.role_guid, b.CLUSTER_ID))
    assert role_finding(snap, READER.check).status is Status.FAIL


@pytest.mark.parametrize("subscription", [b.SUB, None, b.STORAGE_SUB])
@pytest.mark.parametrize("upper", [False, True])
def test_guid_compares_across_both_role_definition_forms_and_casing(
    subscription: str | None, upper: bool
) -> None:
    guid = READER.role_guid.upper() if upper else READER.role_guid
    item = b.assignment(b.VAULT_PRINCIPAL, guid, b.CLUSTER_ID, subscription=subscription)
    if upper:
        item = replace(item, role_definition_id=item.role_definition_id.upper())
    assert role_finding(only(item), READER.check).status is Status.PASS


def test_mixed_case_principal_and_scope_ids_match() -> None:
    item = b.assignment(
        b.VAULT_PRINCIPAL.upper(),
        READER.role_guid,
        b.CLUSTER_RG_ID.upper().replace("RESOURCEGROUPS", "resourcegroups"),
    )
    vault = b.vault(principal_id=b.VAULT_PRINCIPAL.swapcase())
    target = replace(b.healthy().target, cluster_id=b.CLUSTER_ID.lower())
    snap = replace(only(item), vault=vault, target=target)
    assert role_finding(snap, READER.check).status is Status.PASS


def test_assignments_are_looked_up_in_the_scope_subscription() -> None:
    # The storage-account rows live in STORAGE_SUB: remove them there, keep everything else.
    snap = with_assignments(b.healthy(), b.STORAGE_SUB)
    assert role_finding(snap, "role.extension-blob-contributor-on-storage").status is Status.FAIL
    assert role_finding(snap, "role.vault-reader-on-cluster").status is Status.PASS


def test_fail_carries_the_exact_assignment_command() -> None:
    finding = role_finding(only(), READER.check)
    assert finding.status is Status.FAIL
    assert finding.fix is not None
    assert finding.fix.command == (
        f"az role assignment create --assignee-object-id {b.VAULT_PRINCIPAL} --assignee-principal-type "
        f"ServicePrincipal --role {READER.role_guid} --scope {b.CLUSTER_ID}"
    )
    assert finding.fix.doc is not None and finding.fix.doc.startswith("https://learn.microsoft.com/")
    assert "expected" in finding.detail


def test_find_assignment_returns_the_matching_item() -> None:
    match = b.assignment(b.VAULT_PRINCIPAL, READER.role_guid, b.CLUSTER_RG_ID)
    items = (b.assignment(b.OTHER_PRINCIPAL, READER.role_guid, b.CLUSTER_ID), match)
    assert find_assignment(items, b.VAULT_PRINCIPAL, READER.role_guid, b.CLUSTER_ID) is match
    assert find_assignment(items, b.VAULT_PRINCIPAL, READER.role_guid, f"/subscriptions/{b.SUB}") is None


# ---- unknown vs fail ------------------------------------------------------------------------


def test_unreadable_subscription_assignments_give_unknown() -> None:
    snap = replace(
        b.healthy(),
        role_assignments={b.SUB: b.DENIED, b.STORAGE_SUB: b.healthy().role_assignments[b.STORAGE_SUB]},
    )
    finding = role_finding(snap, READER.check)
    assert finding.status is Status.UNKNOWN
    assert "403 AuthorizationFailed" in finding.detail
    assert role_finding(snap, "role.extension-blob-contributor-on-storage").status is Status.PASS


def test_subscription_not_read_gives_unknown() -> None:
    snap = replace(b.healthy(), role_assignments={})
    finding = role_finding(snap, READER.check)
    assert finding.status is Status.UNKNOWN
    assert "were not read" in finding.detail


def test_unreadable_vault_makes_vault_rows_unknown_only() -> None:
    snap = b.healthy(vault=b.DENIED)
    findings = {f.check: f for f in check_roles(snap)}
    assert findings["role.vault-reader-on-cluster"].status is Status.UNKNOWN
    assert "could not read backup vault: HTTP 403" in findings["role.vault-reader-on-cluster"].detail
    assert findings["role.cluster-contributor-on-snapshot-rg"].status is Status.PASS
    assert findings["role.extension-blob-contributor-on-storage"].status is Status.PASS
    # Staging applicability depends on the vault tags, so it is unknown too.
    assert findings["role.vault-contributor-on-staging-rg"].status is Status.UNKNOWN


def test_unreadable_cluster_makes_the_cluster_row_unknown_only() -> None:
    findings = {f.check: f for f in check_roles(b.healthy(cluster=b.DENIED))}
    assert findings["role.cluster-contributor-on-snapshot-rg"].status is Status.UNKNOWN
    assert findings["role.vault-reader-on-cluster"].status is Status.PASS


def test_vault_without_identity_fails_with_enable_identity_fix() -> None:
    snap = b.healthy(vault=b.vault(identity_type="None", principal_id=None))
    finding = role_finding(snap, READER.check)
    assert finding.status is Status.FAIL
    assert "has no managed identity" in finding.detail
    assert finding.fix is not None and finding.fix.command is not None
    assert "az dataprotection backup-vault update" in finding.fix.command
    assert "--type SystemAssigned" in finding.fix.command


def test_service_principal_cluster_fails_the_cluster_row() -> None:
    snap = b.healthy(
        cluster=b.cluster(identity_type=None, principal_id=None, service_principal_client_id="x")
    )
    finding = role_finding(snap, "role.cluster-contributor-on-snapshot-rg")
    assert finding.status is Status.FAIL
    assert finding.fix is not None and finding.fix.command is not None
    assert "--enable-managed-identity" in finding.fix.command


def test_missing_extension_fails_extension_and_storage_rows() -> None:
    snap = b.healthy(extension=None)
    findings = {f.check: f for f in check_roles(snap)}
    assert findings["role.extension-blob-contributor-on-storage"].status is Status.FAIL
    assert "not installed" in findings["role.extension-blob-contributor-on-storage"].detail
    assert findings["role.vault-blob-reader-on-storage"].status is Status.FAIL
    assert findings["role.vault-reader-on-cluster"].status is Status.PASS


def test_extension_without_identity_fails() -> None:
    snap = b.healthy(extension=b.extension(principal_id=None, provisioning_state="Failed"))
    finding = role_finding(snap, "role.extension-blob-contributor-on-storage")
    assert finding.status is Status.FAIL
    assert "aksAssignedIdentity" in finding.detail


def test_unreadable_extension_gives_unknown_for_storage_rows() -> None:
    findings = {f.check: f for f in check_roles(b.healthy(extension=b.DENIED))}
    assert findings["role.extension-blob-contributor-on-storage"].status is Status.UNKNOWN
    assert findings["role.vault-blob-reader-on-storage"].status is Status.UNKNOWN


def test_definite_defect_wins_over_a_failed_read() -> None:
    # Extension not installed (fail) and the vault unreadable (unknown): the row cannot hold.
    finding = role_finding(b.healthy(extension=None, vault=b.DENIED), "role.vault-blob-reader-on-storage")
    assert finding.status is Status.FAIL


def test_instance_without_snapshot_rg_is_unknown() -> None:
    instance = b.healthy().backup_instance
    assert not isinstance(instance, Unreadable) and instance is not None
    snap = b.healthy(backup_instance=replace(instance, snapshot_resource_group_id=None))
    finding = role_finding(snap, "role.vault-reader-on-snapshot-rg")
    assert finding.status is Status.UNKNOWN
    assert "snapshot resource group" in finding.detail


def test_unreadable_backup_instance_makes_snapshot_rg_rows_unknown() -> None:
    findings = {f.check: f for f in check_roles(b.healthy(backup_instance=b.DENIED))}
    for check in ROLE_ROWS:
        expected = Status.UNKNOWN if ROLE_ROWS[check].scope == "snapshot-rg" else None
        if expected:
            assert findings[check].status is expected, check
    assert findings["role.vault-reader-on-cluster"].status is Status.PASS


# ---- applicability --------------------------------------------------------------------------

VAULTED = [c for c, r in ROLE_ROWS.items() if r.applies == "vaulted"]
STAGING = [c for c, r in ROLE_ROWS.items() if r.applies == "staging"]
SNAPSHOT_RG = [c for c, r in ROLE_ROWS.items() if r.scope == "snapshot-rg"]


def test_vaulted_rows_apply_only_with_a_vault_store() -> None:
    operational = b.healthy(policy=PolicyInfo(id=b.POLICY_ID, uses_vault_store=False))
    findings = {f.check: f for f in check_roles(operational)}
    for check in VAULTED:
        assert findings[check].status is Status.NOT_APPLICABLE
        assert "VaultStore" in findings[check].detail
    assert findings["role.vault-reader-on-snapshot-rg"].status is Status.PASS


def test_vaulted_rows_fail_when_vaulted_and_missing() -> None:
    snap = with_assignments(b.healthy(), b.SUB, *(b.row_assignment(c) for c in ROLE_ROWS if c not in VAULTED))
    findings = {f.check: f for f in check_roles(snap)}
    assert findings["role.vault-disk-operator-on-snapshot-rg"].status is Status.FAIL
    assert findings["role.vault-snapshot-contributor-on-snapshot-rg"].status is Status.FAIL


def test_unreadable_policy_makes_vaulted_rows_unknown() -> None:
    findings = {f.check: f for f in check_roles(b.healthy(policy=b.DENIED))}
    for check in VAULTED:
        assert findings[check].status is Status.UNKNOWN
        assert "could not read backup policy" in findings[check].detail
    assert findings["role.vault-reader-on-cluster"].status is Status.PASS


def test_no_policy_makes_vaulted_rows_not_applicable() -> None:
    findings = {f.check: f for f in check_roles(b.healthy(policy=None))}
    assert all(findings[c].status is Status.NOT_APPLICABLE for c in VAULTED)


def test_staging_rows_not_applicable_without_tags() -> None:
    findings = {f.check: f for f in check_roles(b.healthy())}
    for check in STAGING:
        assert findings[check].status is Status.NOT_APPLICABLE
        assert "no staging configured" in findings[check].detail


def test_staging_rows_apply_when_tagged_and_fail_without_assignments() -> None:
    tagged = b.with_staging()
    assert all(f.status is Status.PASS for f in check_roles(tagged) if f.check in STAGING)
    missing = replace(tagged, role_assignments=b.healthy_assignments(staging=False))
    findings = {f.check: f for f in check_roles(missing)}
    assert all(findings[c].status is Status.FAIL for c in STAGING)


def test_one_staging_tag_missing_fails_the_rows_needing_it() -> None:
    snap = b.with_staging()
    assert isinstance(snap.vault, b.VaultInfo)
    tags = {k: v for k, v in snap.vault.tags.items() if k != STAGING_STORAGE_TAG}
    findings = {f.check: f for f in check_roles(replace(snap, vault=replace(snap.vault, tags=tags)))}
    assert findings["role.vault-contributor-on-staging-rg"].status is Status.PASS
    assert findings["role.vault-blob-owner-on-staging-storage"].status is Status.FAIL
    assert STAGING_STORAGE_TAG in findings["role.vault-blob-owner-on-staging-storage"].detail


def test_staging_tag_that_is_not_an_id_fails() -> None:
    vault = b.vault(tags={STAGING_RG_TAG: "rg-staging", STAGING_STORAGE_TAG: b.STAGING_STORAGE_ID})
    finding = role_finding(b.healthy(vault=vault), "role.vault-contributor-on-staging-rg")
    assert finding.status is Status.FAIL
    assert "is not exactly a resource group id" in finding.detail


def test_staging_tag_names_are_case_insensitive() -> None:
    vault = b.vault(tags={STAGING_RG_TAG.upper(): b.STAGING_RG_ID})
    resolved = resolve_role_row(b.healthy(vault=vault), ROLE_ROWS["role.vault-contributor-on-staging-rg"])
    assert resolved.applicable is True
    assert resolved.scope_id == b.STAGING_RG_ID


def test_prepare_target_snapshot_rg_rows_not_applicable() -> None:
    snap = b.healthy(target=b.target("prepare"), backup_instance=None, policy=None)
    findings = {f.check: f for f in check_roles(snap)}
    for check in SNAPSHOT_RG:
        assert findings[check].status is Status.NOT_APPLICABLE
        assert findings[check].detail == "no backup instance yet: snapshot resource group unknown"
    assert findings["role.vault-reader-on-cluster"].status is Status.PASS
    assert findings["role.extension-blob-contributor-on-storage"].status is Status.PASS
    assert findings["role.vault-blob-reader-on-storage"].status is Status.NOT_APPLICABLE


def test_not_applicable_rows_are_not_actionable() -> None:
    snap = b.healthy(target=b.target("prepare"), backup_instance=None, policy=None)
    actionable = {r.check for r in resolve_role_rows(snap) if r.actionable}
    assert actionable == {"role.vault-reader-on-cluster", "role.extension-blob-contributor-on-storage"}
