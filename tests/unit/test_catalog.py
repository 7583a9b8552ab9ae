"""The catalog and the role matrix are exactly the design's checks table (docs/), plus the
consent check of the trust model (docs/trust-model.md)."""

from __future__ import annotations

import pytest

from shared.catalog import CHECK_IDS, CHECKS, OUTCOME_CHECKS, SCAN_ONLY, ids_for_kind
from shared.checks import SINGLE_CHECKS
from shared.roles import ALLOWED_ROLE_GUIDS, BUILTIN_ROLES, ROLE_MATRIX

# Copied by hand from the design's checks table and role matrix, plus target.consent (trust model).
DOCUMENTED_CHECK_IDS = {
    "target.consent",
    "cluster.identity",
    "cluster.kubernetes-version",
    "cluster.disk-csi-driver",
    "cluster.snapshot-controller",
    "subscription.kubernetes-configuration-registered",
    "extension.installed",
    "extension.storage-location",
    "storage.network-access",
    "storage.container-dedicated",
    "storage.shared-key-access",
    "trusted-access.binding",
    "cluster.velero-absent",
    "policy.namespace-excluded",
    "network.egress",
    "network.nsg-service-tags",
    "restore-target.extension",
    "role.vault-reader-on-cluster",
    "role.vault-reader-on-snapshot-rg",
    "role.cluster-contributor-on-snapshot-rg",
    "role.extension-blob-contributor-on-storage",
    "role.vault-disk-operator-on-snapshot-rg",
    "role.vault-snapshot-contributor-on-snapshot-rg",
    "role.vault-blob-reader-on-storage",
    "role.vault-contributor-on-staging-rg",
    "role.vault-account-contributor-on-staging-storage",
    "role.vault-blob-owner-on-staging-storage",
    "vault.identity",  # issue 13: the identity the backup instance runs under
    "backup.protection",  # issue 14: outcome checks
    "backup.recent-jobs",
    "cluster.linux-node-pool",  # issue 14: support matrix
    "storage.account-supported",
    "locks.snapshot-rg-unlocked",  # issue 14: management locks
    "locks.storage-not-read-only",
    "cluster.kubernetes-version-supported",  # issue 14: AKS's versions for the region
    "trusted-access.binding-limit",  # issue 14: at most 8 bindings, stale ones
    "trusted-access.stale-bindings",
    "vault.tier-region-supported",  # issue 14: vaulted backup readiness
    "storage.container-not-shared",  # issue 14: one container per cluster
}

# (check id, role, assignee, scope, applies) -- the role matrix, written by hand.
DOCUMENTED_ROLE_MATRIX = [
    ("role.vault-reader-on-cluster", "Reader", "vault", "cluster", "always"),
    ("role.vault-reader-on-snapshot-rg", "Reader", "vault", "snapshot-rg", "always"),
    ("role.cluster-contributor-on-snapshot-rg", "Contributor", "cluster", "snapshot-rg", "always"),
    (
        "role.extension-blob-contributor-on-storage",
        "Storage Blob Data Contributor",
        "extension",
        "storage-account",
        "always",
    ),
    (
        "role.vault-disk-operator-on-snapshot-rg",
        "Data Operator for Managed Disks",
        "vault",
        "snapshot-rg",
        "vaulted",
    ),
    (
        "role.vault-snapshot-contributor-on-snapshot-rg",
        "Disk Snapshot Contributor",
        "vault",
        "snapshot-rg",
        "vaulted",
    ),
    ("role.vault-blob-reader-on-storage", "Storage Blob Data Reader", "vault", "storage-account", "vaulted"),
    ("role.vault-contributor-on-staging-rg", "Contributor", "vault", "staging-rg", "staging"),
    (
        "role.vault-account-contributor-on-staging-storage",
        "Storage Account Contributor",
        "vault",
        "staging-storage",
        "staging",
    ),
    (
        "role.vault-blob-owner-on-staging-storage",
        "Storage Blob Data Owner",
        "vault",
        "staging-storage",
        "staging",
    ),
]

# Microsoft's built-in role GUIDs used by the matrix.
FACT_GUIDS = {
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
    "Disk Snapshot Contributor": "7efff54f-a5b4-42b5-a1c5-5411624893ce",
    "Data Operator for Managed Disks": "959f8984-c045-4866-89c7-12bf9737be2e",
}


def test_catalog_is_exactly_the_design_set() -> None:
    assert set(CHECKS) == DOCUMENTED_CHECK_IDS
    assert len(CHECK_IDS) == len(DOCUMENTED_CHECK_IDS) == 39


def test_catalog_specs_are_consistent() -> None:
    for check_id, spec in CHECKS.items():
        assert spec.id == check_id
        assert spec.title
        assert spec.remediable_by in ("none", "guard", "guard-cluster")
        assert spec.severity in ("fail", "warn")
        assert spec.doc.startswith("https://learn.microsoft.com/azure/backup/")


@pytest.mark.parametrize(
    ("check_id", "remediable_by", "severity"),
    [
        ("cluster.identity", "none", "fail"),
        ("cluster.kubernetes-version", "none", "fail"),
        ("cluster.disk-csi-driver", "guard-cluster", "fail"),
        ("cluster.snapshot-controller", "guard-cluster", "fail"),
        ("subscription.kubernetes-configuration-registered", "guard", "fail"),
        ("extension.installed", "guard-cluster", "fail"),
        ("extension.storage-location", "none", "fail"),
        ("storage.network-access", "guard", "fail"),
        ("storage.container-dedicated", "none", "warn"),
        ("storage.shared-key-access", "none", "warn"),
        ("trusted-access.binding", "guard", "fail"),
        ("role.vault-reader-on-cluster", "guard", "fail"),
        ("cluster.velero-absent", "none", "fail"),
        ("policy.namespace-excluded", "none", "warn"),
        ("network.egress", "none", "warn"),
        ("network.nsg-service-tags", "none", "warn"),
        ("restore-target.extension", "guard-cluster", "fail"),
        ("backup.protection", "none", "fail"),
        ("backup.recent-jobs", "none", "fail"),
        ("cluster.kubernetes-version-supported", "none", "fail"),
        ("trusted-access.binding-limit", "none", "fail"),
        ("trusted-access.stale-bindings", "none", "warn"),
        ("vault.tier-region-supported", "none", "fail"),
        ("storage.container-not-shared", "none", "fail"),
    ],
)
def test_remediation_and_severity_follow_design(check_id: str, remediable_by: str, severity: str) -> None:
    assert CHECKS[check_id].remediable_by == remediable_by
    assert CHECKS[check_id].severity == severity


def test_every_check_id_has_an_evaluator() -> None:
    role_ids = {row.check for row in ROLE_MATRIX}
    covered = set(SINGLE_CHECKS) | role_ids | {"cluster.velero-absent"} | SCAN_ONLY | set(OUTCOME_CHECKS)
    assert {"storage.container-not-shared"} == SCAN_ONLY
    assert covered == set(CHECK_IDS)


def test_role_matrix_is_exactly_the_design_table() -> None:
    actual = [(r.check, r.role_name, r.assignee, r.scope, r.applies) for r in ROLE_MATRIX]
    assert actual == DOCUMENTED_ROLE_MATRIX


def test_role_guids_come_from_azure_facts() -> None:
    for row in ROLE_MATRIX:
        assert row.role_guid == FACT_GUIDS[row.role_name]
        assert BUILTIN_ROLES[row.role_name] == row.role_guid
    assert frozenset(FACT_GUIDS.values()) == ALLOWED_ROLE_GUIDS
    assert all(guid == guid.lower() for guid in BUILTIN_ROLES.values())


def test_role_catalog_entries_are_the_matrix_rows_in_order() -> None:
    role_ids = [check_id for check_id in CHECK_IDS if check_id.startswith("role.")]
    assert role_ids == [row.check for row in ROLE_MATRIX]
    assert all(CHECKS[i].family == "roles" for i in role_ids)


def test_owner_and_rbac_admin_are_not_assignable() -> None:
    assert BUILTIN_ROLES["Owner"] not in ALLOWED_ROLE_GUIDS
    assert BUILTIN_ROLES["User Access Administrator"] not in ALLOWED_ROLE_GUIDS
    assert BUILTIN_ROLES["Role Based Access Control Administrator"] not in ALLOWED_ROLE_GUIDS


@pytest.mark.parametrize("kind", ["backup", "prepare"])
def test_backup_and_prepare_targets_get_extension_installed(kind: str) -> None:
    wanted = ids_for_kind(kind)
    assert "extension.installed" in wanted
    assert "restore-target.extension" not in wanted
    assert len(wanted) == 38


def test_restore_targets_get_restore_target_extension_instead() -> None:
    wanted = ids_for_kind("restore")
    assert "restore-target.extension" in wanted
    assert "extension.installed" not in wanted
    assert len(wanted) == 38
    assert list(wanted) == [i for i in CHECK_IDS if i in wanted]
