"""The simulator's side of the support-window checks, read through the real azure-mgmt clients and
the Guard's reader/gather: AKS's versions per region, a binding whose vault was deleted (one GET on
the event path, the vault listing in a scan), a container two clusters share (scans only), and the
backup runner's vault-tier rule."""

from __future__ import annotations

import copy
from typing import Any

from localdev.azure_sim.launcher import running_simulator
from shared.arm import ArmClients
from shared.checks import evaluate
from shared.gather.reader import ArmReader
from shared.gather.snapshot import gather
from shared.model import ContainerUse, Status, Target
from shared.settings import ArmSettings, Secret
from tests.sim.test_backups import CLUSTER, ESTATE, INSTANCE, OPERATOR, RG, SUB, VAULT, run

GONE = f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-deleted"
TWIN = f"{RG}/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-two"
TARGET = Target(CLUSTER, VAULT, "backup", INSTANCE)
VERSIONS_READ = (
    "GET /subscriptions/{s}/providers/Microsoft.ContainerService/locations/{location}/kubernetesVersions"
)
VAULT_READ = (
    "GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.DataProtection/backupVaults/{vault}"
)


def _estate(**changes: Any) -> dict[str, Any]:
    estate = copy.deepcopy(ESTATE)
    estate.update(changes)
    return estate


def _groups(estate: dict[str, Any]) -> list[dict[str, Any]]:
    return list(estate["subscriptions"][0]["resource_groups"])


def _reader(sim: Any, *, bulk: bool) -> ArmReader:
    settings = ArmSettings(
        endpoint=sim.endpoint, ca_bundle=sim.ca_bundle, token=Secret(sim.token), retry_total=0
    )
    return ArmReader(ArmClients(settings), bulk=bulk, watched=[SUB])


def test_versions_per_region_and_the_default() -> None:
    served = {
        "northeurope": [{"version": "1.31", "patches": ["1.31.2"]}],
        "default": [{"version": "1.29", "patches": ["1.29.9"]}, {"version": "1.30", "patches": ["1.30.4"]}],
    }
    with running_simulator(_estate(kubernetes_versions=served)) as sim:
        reader = _reader(sim, bulk=False)
        assert [m.version for m in reader.kubernetes_versions(SUB, "North Europe")] == ["1.31"]  # type: ignore[union-attr]
        west = reader.kubernetes_versions(SUB, "westeurope")
        assert [m.version for m in west] == ["1.29", "1.30"]  # type: ignore[union-attr]
        snap = gather(TARGET, reader)  # the cluster runs 1.30.4 in westeurope
        found = {f.check: f for f in evaluate(snap)}
        assert found["cluster.kubernetes-version-supported"].status is Status.PASS
        counted = sim.requests(log=False)["by_template"]
        assert counted[VERSIONS_READ] == 2
    with running_simulator(_estate(kubernetes_versions={"default": [{"version": "1.31"}]})) as sim:
        snap = gather(TARGET, _reader(sim, bulk=False))
        finding = {f.check: f for f in evaluate(snap)}["cluster.kubernetes-version-supported"]
        assert finding.status is Status.FAIL and "AKS supports 1.31 in westeurope" in finding.detail


def _with_stale_binding() -> dict[str, Any]:
    estate = _estate()
    cluster = _groups(estate)[0]["clusters"][0]
    cluster["trusted_access_bindings"].append(
        {"name": "bv-deleted", "source_resource_id": GONE, "roles": [OPERATOR]}
    )
    return estate


def test_a_binding_from_a_deleted_vault_is_stale_in_both_modes() -> None:
    with running_simulator(_with_stale_binding()) as sim:
        for bulk in (False, True):
            sim.reset_counters()
            snap = gather(TARGET, _reader(sim, bulk=bulk))
            assert snap.binding_sources == {GONE.lower(): False}
            found = {f.check: f for f in evaluate(snap)}
            stale = found["trusted-access.stale-bindings"]
            assert stale.status is Status.WARN and "bv-deleted" in stale.detail
            assert found["trusted-access.binding"].status is Status.PASS
            assert found["trusted-access.binding-limit"].detail == "2 of 8 trusted access bindings used"
            vault_gets = sim.requests(log=False)["by_template"].get(
                VAULT_READ,
                0,
            )
            assert vault_gets == (0 if bulk else 2)  # the target's vault and the deleted one; a scan lists


def _sharing() -> dict[str, Any]:
    estate = _estate()
    groups = _groups(estate)
    one = groups[0]["clusters"][0]
    two = copy.deepcopy(one)
    two.update(
        name="aks-two",
        identity={"type": "SystemAssigned", "principal_id": "22222222-0000-0000-0000-0000000000b2"},
    )
    two["extension"] = {**one["extension"], "principal_id": "44444444-0000-0000-0000-0000000000b2"}
    groups[0]["clusters"].append(two)
    vault = groups[2]["vaults"][0]
    vault["backup_instances"].append(
        {**vault["backup_instances"][0], "name": "bi-aks-two", "cluster_id": TWIN}
    )
    estate["principals"] += [
        {"id": "22222222-0000-0000-0000-0000000000b2"},
        {"id": "44444444-0000-0000-0000-0000000000b2"},
    ]
    return estate


def test_a_shared_container_fails_in_a_scan_and_is_not_evaluated_on_the_event_path() -> None:
    with running_simulator(_sharing()) as sim:
        scan = gather(TARGET, _reader(sim, bulk=True))
        assert scan.container_use == ContainerUse(others=(TWIN.lower(),))
        finding = {f.check: f for f in evaluate(scan)}["storage.container-not-shared"]
        assert finding.status is Status.FAIL and "aks-two" in finding.detail
        event = gather(TARGET, _reader(sim, bulk=False))
        assert event.container_use is None
        assert "storage.container-not-shared" not in {f.check for f in evaluate(event)}
    with running_simulator(_estate()) as sim:
        alone = gather(TARGET, _reader(sim, bulk=True))
        assert {f.check: f for f in evaluate(alone)}["storage.container-not-shared"].status is Status.PASS


def test_vaulted_policy_in_an_operational_only_region_fails_the_backup() -> None:
    estate = _estate()
    vault = _groups(estate)[2]["vaults"][0]
    vault["location"] = "polandcentral"
    with running_simulator(estate) as sim:
        assert run(sim)["code"] is None  # an operational-tier policy: the region does not matter
    vault["policies"] = [{"name": "daily", "vault_store": True}]
    with running_simulator(estate) as sim:
        assert run(sim)["code"] == "DppUserErrorVaultTierPolicyNotSupported"
        snap = gather(TARGET, _reader(sim, bulk=False))
        found = {f.check: f for f in evaluate(snap)}
        assert found["vault.tier-region-supported"].status is Status.FAIL
        jobs = found["backup.recent-jobs"]
        assert jobs.status is Status.FAIL
        assert (
            "DppUserErrorVaultTierPolicyNotSupported -> vault.tier-region-supported is failing" in jobs.detail
        )


def test_a_scan_that_writes_still_records_the_shared_container() -> None:
    """The Guard re-reads a target with a fresh single-target reader before and after writing; the
    scan-only finding of the scan's first read is carried into both (else it would never reach the
    ledger for a target the Guard fixes something on)."""
    from shared.discovery import discover
    from shared.reconcile import reconcile
    from tests.remediation import helpers as h

    with running_simulator(h.demo_estate()) as sim:
        settings = h.settings_for(sim, GUARD_REMEDIATE_CLUSTER="true")
        clients = h.clients_for(settings)
        reader = ArmReader.for_settings(clients, settings, bulk=True)
        found = discover(reader, h.subscriptions())
        ml = next(t for t in found.targets if t.cluster_id.endswith("/aks-ml-dev"))
        result = reconcile(ml, settings, clients, reader=reader)
        assert result.writes >= 1  # the failed extension was reinstalled
        for findings in (result.before.findings, result.after_findings):
            by_id = {f.check: f for f in findings}
            assert by_id["storage.container-not-shared"].status is Status.FAIL
            assert "aks-finance-dev" in by_id["storage.container-not-shared"].detail
        assert [f.check for f in result.after_findings] == [f.check for f in result.before.findings]
