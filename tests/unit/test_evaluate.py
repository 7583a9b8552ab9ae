"""evaluate(): one finding per id in catalog order, per target kind; failed reads stay local."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from shared.catalog import CHECK_IDS, ids_for_kind
from shared.checks import evaluate, summarize
from shared.model import (
    BlobContainerInfo,
    Finding,
    NsgInfo,
    PolicyInfo,
    Snapshot,
    Status,
    Target,
    TargetKind,
    VeleroResult,
)
from tests.unit import builders as b


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def changed(before: Snapshot, after: Snapshot) -> dict[str, Status]:
    """Check ids whose status differs between two snapshots, with the new status."""
    old, new = by_id(evaluate(before)), by_id(evaluate(after))
    return {k: new[k].status for k in new if new[k].status is not old[k].status}


def test_healthy_snapshot_has_no_problems() -> None:
    findings = evaluate(b.healthy())
    assert [f.check for f in findings] == list(ids_for_kind("backup"))
    assert {f.status for f in findings} <= {Status.PASS, Status.NOT_APPLICABLE}
    na = {f.check for f in findings if f.status is Status.NOT_APPLICABLE}
    assert na == {
        "role.vault-contributor-on-staging-rg",
        "role.vault-account-contributor-on-staging-storage",
        "role.vault-blob-owner-on-staging-storage",
        "cluster.velero-absent",
        "network.nsg-service-tags",
    }


def test_staging_snapshot_passes_every_role() -> None:
    findings = by_id(evaluate(b.with_staging()))
    assert all(f.status is Status.PASS for k, f in findings.items() if k.startswith("role."))


@pytest.mark.parametrize("kind", ["backup", "prepare", "restore"])
def test_every_kind_gets_one_finding_per_id_in_catalog_order(kind: TargetKind) -> None:
    snap = b.healthy(target=b.target(kind))
    checks = [f.check for f in evaluate(snap)]
    assert checks == list(ids_for_kind(kind))
    assert len(checks) == len(set(checks)) == len(CHECK_IDS) - 1


def test_restore_target_uses_restore_target_extension() -> None:
    snap = b.healthy(target=b.target("restore"), extension=b.extension(provisioning_state="Failed"))
    findings = by_id(evaluate(snap))
    assert "extension.installed" not in findings
    assert findings["restore-target.extension"].status is Status.FAIL


def test_prepare_target_without_instance_or_policy() -> None:
    snap = b.healthy(target=b.target("prepare"), backup_instance=None, policy=None)
    findings = by_id(evaluate(snap))
    assert findings["role.vault-reader-on-snapshot-rg"].detail == (
        "no backup instance yet: snapshot resource group unknown"
    )
    assert {f.status for f in findings.values()} <= {Status.PASS, Status.NOT_APPLICABLE}
    assert findings["extension.installed"].status is Status.PASS


def test_incluster_flag_reaches_the_velero_check() -> None:
    snap = b.healthy(velero=VeleroResult(found=True, detail="namespace velero"))
    assert by_id(evaluate(snap))["cluster.velero-absent"].status is Status.NOT_APPLICABLE
    assert by_id(evaluate(snap, incluster_checks=True))["cluster.velero-absent"].status is Status.FAIL


# ---- a failed read affects only the checks that depend on it ------------------------------


def test_cluster_403_only_affects_cluster_dependent_checks() -> None:
    diff = changed(b.healthy(), b.healthy(cluster=b.DENIED))
    assert diff == {
        "target.consent": Status.UNKNOWN,  # compares the cluster id as ARM returns it
        "cluster.identity": Status.UNKNOWN,
        "cluster.kubernetes-version": Status.UNKNOWN,
        "cluster.disk-csi-driver": Status.UNKNOWN,
        "cluster.snapshot-controller": Status.UNKNOWN,
        "network.egress": Status.UNKNOWN,
        "role.cluster-contributor-on-snapshot-rg": Status.UNKNOWN,
    }
    finding = by_id(evaluate(b.healthy(cluster=b.DENIED)))["cluster.identity"]
    assert finding.detail == f"could not read cluster: {b.DENIED.reason}"


def test_vault_403_only_affects_vault_dependent_checks() -> None:
    diff = changed(b.healthy(), b.healthy(vault=b.DENIED))
    assert set(diff) == {
        "target.consent",  # compares the vault id as ARM returns it
        "role.vault-reader-on-cluster",
        "role.vault-reader-on-snapshot-rg",
        "role.vault-disk-operator-on-snapshot-rg",
        "role.vault-snapshot-contributor-on-snapshot-rg",
        "role.vault-blob-reader-on-storage",
        "role.vault-contributor-on-staging-rg",
        "role.vault-account-contributor-on-staging-storage",
        "role.vault-blob-owner-on-staging-storage",
    }
    assert set(diff.values()) == {Status.UNKNOWN}


def test_storage_403_only_affects_storage_dependent_checks() -> None:
    diff = changed(b.healthy(), b.healthy(storage_account=b.DENIED))
    assert diff == {
        "extension.storage-location": Status.UNKNOWN,
        "storage.network-access": Status.UNKNOWN,
        "storage.shared-key-access": Status.UNKNOWN,
    }


def test_extension_403_only_affects_extension_dependent_checks() -> None:
    diff = changed(b.healthy(), b.healthy(extension=b.DENIED))
    assert diff == {
        "extension.installed": Status.UNKNOWN,
        "extension.storage-location": Status.UNKNOWN,
        "role.extension-blob-contributor-on-storage": Status.UNKNOWN,
        "role.vault-blob-reader-on-storage": Status.UNKNOWN,
    }


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("provider_state", {"subscription.kubernetes-configuration-registered"}),
        ("trusted_access", {"trusted-access.binding"}),
        ("blob_container", {"extension.storage-location", "storage.container-dedicated"}),
        ("policy_assignments", {"policy.namespace-excluded"}),
        ("node_subnet_nsgs", {"network.nsg-service-tags"}),
        (
            "policy",
            {
                "role.vault-disk-operator-on-snapshot-rg",
                "role.vault-snapshot-contributor-on-snapshot-rg",
                "role.vault-blob-reader-on-storage",
            },
        ),
        (
            "backup_instance",
            {
                "role.vault-reader-on-snapshot-rg",
                "role.cluster-contributor-on-snapshot-rg",
                "role.vault-disk-operator-on-snapshot-rg",
                "role.vault-snapshot-contributor-on-snapshot-rg",
            },
        ),
    ],
)
def test_one_403_gives_unknown_only_for_dependents(field: str, expected: set[str]) -> None:
    diff = changed(b.healthy(), b.healthy(**{field: b.DENIED}))
    assert set(diff) == expected
    assert set(diff.values()) == {Status.UNKNOWN}


def test_role_assignment_403_in_one_subscription_is_local() -> None:
    healthy = b.healthy()
    broken = replace(healthy, role_assignments={**healthy.role_assignments, b.STORAGE_SUB: b.DENIED})
    diff = changed(healthy, broken)
    assert diff == {
        "role.extension-blob-contributor-on-storage": Status.UNKNOWN,
        "role.vault-blob-reader-on-storage": Status.UNKNOWN,
    }


# ---- fixes, ids, serialisation --------------------------------------------------------------


def broken_snapshot() -> Snapshot:
    """Everything wrong at once (staging tagged, no assignments at all)."""
    snap = b.with_staging(
        b.healthy(
            cluster=b.cluster(
                identity_type=None,
                principal_id=None,
                service_principal_client_id="sp-client",
                current_kubernetes_version="1.20.7",
                disk_csi_enabled=False,
                snapshot_controller_enabled=False,
                outbound_type="userDefinedRouting",
            ),
            provider_state="NotRegistered",
            extension=b.extension(provisioning_state="Failed"),
            storage_account=b.storage(default_action="Deny", bypass=(), allow_shared_key_access=False),
            blob_container=BlobContainerInfo(name="aks-backups", exists=True, blob_names=("notes.txt",)),
            trusted_access=(),
            policy_assignments=(b.k8s_policy(excluded_namespaces=("kube-system",)),),
            node_subnet_nsgs=(NsgInfo(id=b.NSG_ID, subnet_id=b.SUBNET_ID),),
            velero=VeleroResult(found=True, detail="deployment velero/velero"),
        )
    )
    return replace(snap, role_assignments={b.SUB: (), b.STORAGE_SUB: ()})


def test_every_fail_and_warn_carries_a_complete_fix() -> None:
    broken = broken_snapshot()
    no_container = replace(broken, blob_container=BlobContainerInfo(name="aks-backups", exists=False))
    findings = evaluate(broken, incluster_checks=True) + evaluate(no_container, incluster_checks=True)
    bad = [f for f in findings if f.status in (Status.FAIL, Status.WARN)]
    assert {f.check for f in bad} == set(ids_for_kind("backup")) - {"target.consent"}
    for finding in bad:
        assert finding.fix is not None, finding.check
        assert finding.fix.summary, finding.check
        assert finding.fix.doc and finding.fix.doc.startswith("https://learn.microsoft.com/"), finding.check
        assert "expected" in finding.detail or "cannot hold" in finding.detail, finding.check
    assert all(f.fix and f.fix.command and f.fix.command.startswith("az ") for f in bad)


def test_warn_checks_warn_and_fail_checks_fail() -> None:
    findings = by_id(evaluate(broken_snapshot(), incluster_checks=True))
    for check in (
        "storage.container-dedicated",
        "storage.shared-key-access",
        "policy.namespace-excluded",
        "network.egress",
        "network.nsg-service-tags",
    ):
        assert findings[check].status is Status.WARN, check
    assert findings["cluster.kubernetes-version"].status is Status.FAIL


def test_pass_findings_carry_no_fix() -> None:
    assert all(f.fix is None for f in evaluate(b.with_staging()))


def test_findings_serialise_to_json() -> None:
    payload = json.dumps([f.to_dict() for f in evaluate(broken_snapshot(), incluster_checks=True)])
    assert "role.vault-reader-on-cluster" in payload


def test_mixed_case_ids_throughout_still_pass() -> None:
    healthy = b.with_staging()
    target = Target(cluster_id=b.CLUSTER_ID.upper(), vault_id=b.VAULT_ID.lower(), kind="backup")
    instance = healthy.backup_instance
    assert isinstance(instance, b.BackupInstanceInfo)
    snap = replace(
        healthy,
        target=target,
        backup_instance=replace(instance, snapshot_resource_group_id=b.SNAPSHOT_RG_ID.upper()),
        trusted_access=(b.binding(source_resource_id=b.VAULT_ID.upper()),),
        storage_account=b.firewalled_storage(),
    )
    findings = evaluate(snap)
    assert {f.status for f in findings} <= {Status.PASS, Status.NOT_APPLICABLE}, [
        (f.check, f.detail) for f in findings if f.status not in (Status.PASS, Status.NOT_APPLICABLE)
    ]


def test_operational_only_policy_makes_vaulted_rows_not_applicable() -> None:
    snap = b.healthy(policy=PolicyInfo(id=b.POLICY_ID, uses_vault_store=False))
    findings = by_id(evaluate(snap))
    assert findings["role.vault-blob-reader-on-storage"].status is Status.NOT_APPLICABLE


def test_evaluate_is_repeatable_and_summarize_counts() -> None:
    snap = broken_snapshot()
    first, second = evaluate(snap), evaluate(snap)
    assert first == second
    counts = summarize(first)
    assert sum(counts.values()) == len(first)
    assert set(counts) == set(Status)
