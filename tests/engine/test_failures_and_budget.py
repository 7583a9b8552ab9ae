"""Failed reads, vanished resources and the ARM read budget, against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator
from localdev.estates.generate import generate_estate
from shared.arm import ArmClients
from shared.discovery import discover, targets_for_cluster
from shared.gather.reader import ArmReader
from shared.model import Status, Target
from shared.verification import verify, verify_one
from tests.engine.conftest import DEMO, demo_manifest, demo_subscriptions, settings_for

MANIFEST = demo_manifest()
PER_TARGET_TEMPLATES = ("/extensions", "/trustedAccessRoleBindings", "comp=list")


def entry(cluster: str) -> dict[str, Any]:
    return next(t for t in MANIFEST["targets"] if t["cluster"] == cluster)


@pytest.fixture()
def fresh_sim() -> Iterator[SimHandle]:
    with running_simulator(DEMO) as sim:
        yield sim


def clients_for(sim: SimHandle) -> ArmClients:
    return ArmClients(settings_for(sim, demo_subscriptions()).arm)


def reads(sim: SimHandle) -> dict[str, int]:
    counted = sim.requests(log=False)
    return {k: v for k, v in counted["by_template"].items() if k.startswith("GET ")}


def test_403_on_one_read_blinds_only_the_checks_that_need_it(fresh_sim: SimHandle) -> None:
    healthy = entry("aks-payments-prod")
    clients = clients_for(fresh_sim)
    reader = ArmReader(clients, bulk=False)
    target = targets_for_cluster(reader, healthy["cluster_id"]).targets[0]
    fresh_sim.set_faults([{"method": "GET", "path": r"/storageAccounts/[^/]+$", "status": 403}])
    v = verify_one(target, reader)
    by_status = {f.check: f.status for f in v.findings}
    unknown = {c for c, s in by_status.items() if s is Status.UNKNOWN}
    assert unknown == {
        "extension.storage-location",
        "storage.network-access",
        "storage.container-dedicated",
        "storage.shared-key-access",
        "storage.account-supported",
        "locks.storage-not-read-only",
    }
    detail = next(f.detail for f in v.findings if f.check == "storage.network-access")
    assert "403" in detail
    assert not {c for c, s in by_status.items() if s in (Status.FAIL, Status.WARN)}
    assert by_status["role.extension-blob-contributor-on-storage"] is Status.PASS
    assert by_status["trusted-access.binding"] is Status.PASS


def test_cluster_deleted_between_discovery_and_gather_is_unknown(fresh_sim: SimHandle) -> None:
    doomed = entry("aks-orders-prod")
    clients = clients_for(fresh_sim)
    reader = ArmReader(clients, bulk=True)
    found = discover(reader, demo_subscriptions())
    status, _, _ = fresh_sim.call(
        "DELETE", doomed["cluster_id"] + "?api-version=2026-02-01", token=fresh_sim.admin_token
    )
    assert status in (200, 202, 204)
    results = {v.target.cluster_id.lower(): v for v in verify(list(found.targets), reader)}
    gone = results[doomed["cluster_id"].lower()]
    statuses = {f.check: f.status for f in gone.findings}
    assert statuses["cluster.identity"] is Status.UNKNOWN
    assert "no longer exists" in next(f.detail for f in gone.findings if f.check == "cluster.identity")
    assert Status.FAIL not in {statuses[c] for c in ("cluster.disk-csi-driver", "trusted-access.binding")}
    other = results[entry("aks-search-prod")["cluster_id"].lower()]
    assert {f.check for f in other.findings if f.status is Status.FAIL} == set(
        entry("aks-search-prod")["fail"]
    )
    single = verify_one(gone.target, ArmReader(clients, bulk=False))
    assert all(f.status is not Status.FAIL for f in single.findings if f.check.startswith("cluster."))


def test_scan_budget_on_the_demo_estate(fresh_sim: SimHandle) -> None:
    clients = clients_for(fresh_sim)
    fresh_sim.reset_counters()
    reader = ArmReader(clients, bulk=True)
    found = discover(reader, demo_subscriptions())
    verify(list(found.targets), reader)
    counted = reads(fresh_sim)
    per_target = sum(n for k, n in counted.items() if any(p in k for p in PER_TARGET_TEMPLATES))
    constant = sum(counted.values()) - per_target
    targets, subs = len(found.targets), len(demo_subscriptions())
    print(
        f"demo scan: {targets} targets, {sum(counted.values())} reads, "
        f"{per_target / targets:.2f} per target, "
        f"{constant} per-subscription/vault reads over {subs} subscriptions"
    )
    assert per_target <= 3 * targets
    # 12 per subscription for the listings, plus the consent rule's two: the resource groups'
    # tags (one listing) and the subscription's tags (one GET) (docs/trust-model.md), plus one
    # job listing per vault with backup instances (backup.recent-jobs; one page here), plus one
    # management-lock listing per subscription (locks.*).
    vaults = {t.vault_id.lower() for t in found.targets if t.kind == "backup"}
    jobs = sum(n for k, n in counted.items() if k.endswith("/backupJobs"))
    print(f"backup job listings: {jobs} for {len(vaults)} vaults")
    assert jobs == len(vaults)
    locks = sum(n for k, n in counted.items() if k.endswith("/Microsoft.Authorization/locks"))
    print(f"management lock listings: {locks} for {subs} subscriptions")
    assert locks <= subs
    # one AKS versions listing per (subscription, region) of a guarded cluster
    # (cluster.kubernetes-version-supported): 3 here (westeurope twice, northeurope once)
    versions = sum(n for k, n in counted.items() if k.endswith("/kubernetesVersions"))
    print(f"AKS versions listings: {versions}")
    assert versions == 3
    assert constant <= 15 * subs + len(vaults) + versions


def test_single_target_verification_reads_at_most_17(fresh_sim: SimHandle) -> None:
    """15 reads for the checks (the vault's job listing for backup.recent-jobs, the subscription's
    management locks and AKS's versions for the cluster's region among them: one page each here),
    plus at most 2 for the consent rule's tags when the cluster lies outside the vault's resource
    group (the cluster's group and subscription). A cluster bound to other Backup vaults costs one
    GET per other vault (trusted-access.stale-bindings); these three have only their own vault's."""
    clients = clients_for(fresh_sim)
    for name in ("aks-payments-prod", "aks-records-prod", "aks-edge-dev"):
        fresh_sim.reset_counters()
        reader = ArmReader(clients, bulk=False)
        found = targets_for_cluster(reader, entry(name)["cluster_id"])
        verify_one(found.targets[0], reader)
        total = sum(reads(fresh_sim).values())
        print(f"single verification of {name}: {total} reads")
        assert total <= 17, reads(fresh_sim)


def test_scan_budget_on_a_generated_500_target_estate() -> None:
    estate = generate_estate(500, 5, seed=7)
    subs = [str(s["id"]) for s in estate["subscriptions"]]
    with running_simulator(estate, page_size=100) as sim:
        clients = ArmClients(settings_for(sim, subs).arm)
        sim.reset_counters()
        reader = ArmReader(clients, bulk=True)
        found = discover(reader, subs)
        results = verify(list(found.targets), reader)
        counted = reads(sim)
    assert len(found.targets) >= 500
    assert all(
        f.status is not Status.UNKNOWN
        for v in results
        for f in v.findings
        if f.check != "cluster.velero-absent"
    )
    per_target = sum(n for k, n in counted.items() if any(p in k for p in PER_TARGET_TEMPLATES))
    total = sum(counted.values())
    print(
        f"generated scan: {len(found.targets)} targets, {total} reads, "
        f"{total / len(found.targets):.2f} per target "
        f"overall, {per_target / len(found.targets):.2f} per target excluding per-subscription lists"
    )
    assert per_target <= 3 * len(found.targets)
    assert total - per_target <= 60 * len(subs)


def test_opt_out_added_after_discovery_is_honoured_before_any_write(fresh_sim: SimHandle) -> None:
    from shared.reconcile import reconcile

    search = entry("aks-search-prod")
    settings = settings_for(fresh_sim, demo_subscriptions(), GUARD_MODE="enforce")
    clients = ArmClients(settings.arm)
    reader = ArmReader(clients, bulk=True)  # a scan's reader: it listed the tags before the change
    found = discover(reader, demo_subscriptions())
    target = next(t for t in found.targets if t.cluster_id.lower() == search["cluster_id"].lower())
    status, _, _ = fresh_sim.call(
        "PATCH",
        search["cluster_id"] + "?api-version=2026-02-01",
        {"tags": {"aks-backup-guard": "report-only"}},
        token=fresh_sim.admin_token,
    )
    assert status in (200, 201, 202)
    fresh_sim.reset_counters()
    result = reconcile(target, settings, clients, reader=reader)
    # The scan's reader still holds the old tags, so a fix is planned; the fresh re-read right
    # before writing sees the opt-out and plans again: nothing but refusals.
    assert not result.plan.actions
    assert result.outcomes, "the seeded drift should have been refused, not missed"
    assert {o.result for o in result.outcomes} == {"skipped"}
    assert all("report-only" in o.reason for o in result.outcomes)
    assert set(fresh_sim.requests(log=False)["by_method"]) <= {"GET"}


def test_malformed_tags_make_unknowns_not_crashes(fresh_sim: SimHandle) -> None:
    orders = entry("aks-orders-prod")
    bad_vault = f"/subscriptions/{demo_subscriptions()[0]}/resourceGroups/rg"  # a group, not a vault
    status, _, _ = fresh_sim.call(
        "PATCH",
        orders["cluster_id"] + "?api-version=2026-02-01",
        {"tags": {"aks-backup-guard-vault": bad_vault}},
        token=fresh_sim.admin_token,
    )
    assert status in (200, 201, 202)
    clients = clients_for(fresh_sim)
    reader = ArmReader(clients, bulk=True)
    found = discover(reader, demo_subscriptions())
    assert not [t for t in found.targets if t.kind == "prepare" and t.vault_id == bad_vault]
    results = verify(list(found.targets), reader)  # must not raise
    assert len(results) == len(MANIFEST["targets"])
    ghost = verify_one(Target(orders["cluster_id"], bad_vault, "prepare"), ArmReader(clients))
    assert {f.status for f in ghost.findings} <= {Status.UNKNOWN, Status.NOT_APPLICABLE}
