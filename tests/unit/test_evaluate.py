"""evaluate(): one finding per id in catalog order, per target kind; failed reads stay local."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from shared.catalog import CHECK_IDS, ids_for_kind
from shared.checks import evaluate, summarize
from shared.model import (
    BackupError,
    BlobContainerInfo,
    ContainerUse,
    Finding,
    InstanceJobs,
    LockInfo,
    NodePool,
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


def _cross_subscription_warn(findings: list[Finding]) -> list[Finding]:
    """The findings other than ``storage.account-supported``, which warns for the builders' backup
    storage account: it lives in another subscription (b.STORAGE_SUB) on purpose, so per-subscription
    reads are exercised, and the support matrix asks for the cluster's subscription."""
    supported = by_id(findings)["storage.account-supported"]
    assert supported.status is Status.WARN and f"subscription {b.STORAGE_SUB}" in supported.detail
    return [f for f in findings if f.check != "storage.account-supported"]


def test_healthy_snapshot_has_no_problems() -> None:
    findings = evaluate(b.healthy())
    assert [f.check for f in findings] == list(ids_for_kind("backup"))
    assert {f.status for f in _cross_subscription_warn(findings)} <= {Status.PASS, Status.NOT_APPLICABLE}
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
    rest = _cross_subscription_warn(list(findings.values()))
    assert {f.status for f in rest} <= {Status.PASS, Status.NOT_APPLICABLE}
    assert findings["extension.installed"].status is Status.PASS
    assert findings["vault.tier-region-supported"].status is Status.NOT_APPLICABLE  # no policy yet


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
        "cluster.kubernetes-version-supported": Status.UNKNOWN,
        "cluster.disk-csi-driver": Status.UNKNOWN,
        "cluster.snapshot-controller": Status.UNKNOWN,
        "cluster.linux-node-pool": Status.UNKNOWN,
        "storage.account-supported": Status.UNKNOWN,  # the region is compared with the cluster's
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
        "vault.identity",
        "vault.tier-region-supported",
    }
    assert set(diff.values()) == {Status.UNKNOWN}


def test_storage_403_only_affects_storage_dependent_checks() -> None:
    diff = changed(b.healthy(), b.healthy(storage_account=b.DENIED))
    assert diff == {
        "extension.storage-location": Status.UNKNOWN,
        "storage.network-access": Status.UNKNOWN,
        "storage.shared-key-access": Status.UNKNOWN,
        "storage.account-supported": Status.UNKNOWN,
        "locks.storage-not-read-only": Status.UNKNOWN,
    }


def test_extension_403_only_affects_extension_dependent_checks() -> None:
    diff = changed(b.healthy(), b.healthy(extension=b.DENIED))
    assert diff == {
        "extension.installed": Status.UNKNOWN,
        "extension.storage-location": Status.UNKNOWN,
        "role.extension-blob-contributor-on-storage": Status.UNKNOWN,
        "role.vault-blob-reader-on-storage": Status.UNKNOWN,
        "storage.container-not-shared": Status.NOT_APPLICABLE,  # no extension known: nothing to compare
    }


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("provider_state", {"subscription.kubernetes-configuration-registered"}),
        (
            "trusted_access",
            {"trusted-access.binding", "trusted-access.binding-limit", "trusted-access.stale-bindings"},
        ),
        ("kubernetes_versions", {"cluster.kubernetes-version-supported"}),
        ("container_use", {"storage.container-not-shared"}),
        ("blob_container", {"extension.storage-location", "storage.container-dedicated"}),
        ("policy_assignments", {"policy.namespace-excluded"}),
        ("node_subnet_nsgs", {"network.nsg-service-tags"}),
        (
            "policy",
            {
                "role.vault-disk-operator-on-snapshot-rg",
                "role.vault-snapshot-contributor-on-snapshot-rg",
                "role.vault-blob-reader-on-storage",
                "vault.tier-region-supported",
            },
        ),
        (
            "backup_instance",
            {
                "role.vault-reader-on-snapshot-rg",
                "role.cluster-contributor-on-snapshot-rg",
                "role.vault-disk-operator-on-snapshot-rg",
                "role.vault-snapshot-contributor-on-snapshot-rg",
                "backup.protection",
                "backup.recent-jobs",
                "locks.snapshot-rg-unlocked",
            },
        ),
        ("jobs", {"backup.recent-jobs"}),
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


MSI_CODE = "UserErrorExtensionMSIMissingPermissionsOnBackupStorageLocation"


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
                node_pools=(
                    NodePool("win", "Windows", "Standard_D4s_v5"),
                    NodePool("arm", "Linux", "Standard_D4ps_v5"),
                ),
            ),
            vault=b.vault(identity_type="None", principal_id=None, location="polandcentral"),
            provider_state="NotRegistered",
            extension=b.extension(provisioning_state="Failed"),
            storage_account=b.storage(
                default_action="Deny",
                bypass=(),
                allow_shared_key_access=False,
                kind="BlobStorage",
                location="eastus",
            ),
            blob_container=BlobContainerInfo(name="aks-backups", exists=True, blob_names=("notes.txt",)),
            trusted_access=tuple(
                b.binding(name=f"other-{n}", source_resource_id=f"{b.VAULT_ID}-gone-{n}") for n in range(8)
            ),
            binding_sources={f"{b.VAULT_ID}-gone-{n}".lower(): False for n in range(8)},
            container_use=ContainerUse(others=(b.CLUSTER_ID + "-twin",)),
            policy_assignments=(b.k8s_policy(excluded_namespaces=("kube-system",)),),
            node_subnet_nsgs=(NsgInfo(id=b.NSG_ID, subnet_id=b.SUBNET_ID),),
            velero=VeleroResult(found=True, detail="deployment velero/velero"),
            backup_instance=replace(
                b.instance(),
                protection_status="ProtectionError",
                protection_error=BackupError("UserErrorKubernetesBackupExtensionNotFoundError", "not found"),
            ),
            jobs=InstanceJobs(latest_finished=b.job("Failed", 2, BackupError(MSI_CODE, "denied"))),
            locks={
                b.SUB: (
                    LockInfo(
                        f"/subscriptions/{b.SUB}/providers/Microsoft.Authorization/locks/keep", "CanNotDelete"
                    ),
                ),
                b.STORAGE_SUB: (
                    LockInfo(f"{b.STORAGE_RG_ID}/providers/Microsoft.Authorization/locks/ro", "ReadOnly"),
                ),
            },
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
        "trusted-access.stale-bindings",
    ):
        assert findings[check].status is Status.WARN, check
    assert findings["trusted-access.binding-limit"].status is Status.FAIL  # full, none from the vault
    assert findings["vault.tier-region-supported"].status is Status.FAIL
    assert findings["cluster.kubernetes-version-supported"].status is Status.FAIL
    assert findings["storage.container-not-shared"].status is Status.FAIL
    assert findings["cluster.kubernetes-version"].status is Status.FAIL


def test_pass_findings_carry_no_fix() -> None:
    findings = evaluate(b.with_staging())
    assert all(f.fix is None for f in findings if f.status is Status.PASS)


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
    findings = _cross_subscription_warn(evaluate(snap))
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
