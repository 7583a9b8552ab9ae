"""Contract tests for the support-window checks (issue 14): AKS's recorded ``kubernetesVersions``
list (``az aks get-versions``), the REST spec's example with a preview minor, the recorded trusted
access listing and the recorded vault's region, through the real azure-mgmt clients, the Guard's
reader and its checks (corpus: tests/contracts/SOURCES.md). Expected values were read by hand."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from shared.checks import trusted_access as ta_checks
from shared.checks import vault as vault_checks
from shared.checks.versions import check_kubernetes_version_supported
from shared.model import KubernetesMinor, PolicyInfo, Status, VaultInfo
from tests.contracts.replay import Replay, load
from tests.contracts.test_contracts import AKS, SUB, ZERO, reader_for
from tests.unit import builders as b

VERSIONS = f"{SUB}/providers/Microsoft.ContainerService/locations/westus2/kubernetesVersions"


@pytest.fixture
def replay() -> Iterator[Replay]:
    with Replay() as server:
        yield server


def _versions(replay: Replay, body: str) -> tuple[KubernetesMinor, ...]:
    replay.add("GET", VERSIONS, load(body))
    reader = reader_for(replay)
    versions = reader.kubernetes_versions(ZERO, "West US 2")
    assert isinstance(versions, tuple)
    assert reader.kubernetes_versions(ZERO, "westus2") is versions  # once per (subscription, region)
    return versions


def test_recorded_get_versions_list(replay: Replay) -> None:
    versions = _versions(replay, "kubernetes_versions/list_westus2_lts.json")
    assert [m.version for m in versions] == ["1.25", "1.26", "1.27", "1.24"]  # AKS's own order
    lts = versions[2]
    assert lts.support_plans == ("KubernetesOfficial", "AKSLongTermSupport") and not lts.is_preview
    assert versions[3].patches == ("1.24.10", "1.24.9")


@pytest.mark.parametrize(
    ("current", "status", "words"),
    [
        ("1.23.12", Status.FAIL, "AKS supports 1.24 to 1.27 in westus2"),  # the recorded cluster's version
        ("1.27.1", Status.PASS, "supported in westus2"),
        ("1.24.9", Status.PASS, "supported in westus2"),
        ("1.25.4", Status.PASS, "patch 1.25.4 is no longer offered"),
        ("1.28.0", Status.WARN, "newer than the list"),
    ],
)
def test_recorded_window_judges_the_cluster(replay: Replay, current: str, status: Status, words: str) -> None:
    versions = _versions(replay, "kubernetes_versions/list_westus2_lts.json")
    cluster = replace(b.cluster(), location="westus2", current_kubernetes_version=current)
    finding = check_kubernetes_version_supported(b.healthy(cluster=cluster, kubernetes_versions=versions))
    assert finding.status is status and words in finding.detail, finding.detail


def test_spec_example_preview_minor_warns(replay: Replay) -> None:
    versions = _versions(replay, "kubernetes_versions/spec_list.json")
    assert [m.is_preview for m in versions] == [False, False, False, True]
    cluster = replace(b.cluster(), location="westus2", current_kubernetes_version="1.26.0")
    finding = check_kubernetes_version_supported(b.healthy(cluster=cluster, kubernetes_versions=versions))
    assert finding.status is Status.WARN and "preview" in finding.detail


def test_recorded_binding_listing_counts_and_is_not_stale(replay: Replay) -> None:
    cluster = f"{AKS}/cliakstest000001"
    replay.add("GET", f"{cluster}/trustedAccessRoleBindings", load("trusted_access/list_succeeded.json"))
    bindings = reader_for(replay).trusted_access(cluster)
    assert isinstance(bindings, tuple)
    snap = b.healthy(trusted_access=bindings, binding_sources={})
    assert ta_checks.check_binding_limit(snap).detail == "1 of 8 trusted access bindings used"
    # its source is a VM scale set, not a Backup vault: never judged stale
    assert ta_checks.check_stale_bindings(snap).status is Status.PASS


def test_recorded_vault_region_is_not_in_the_support_matrix(replay: Replay) -> None:
    body = load("backup_vaults/system_assigned.json")
    replay.add("GET", body["id"], body)
    vault = reader_for(replay).vault(body["id"])
    assert isinstance(vault, VaultInfo) and vault.location == "eastus2euap"  # a canary region
    vaulted = PolicyInfo(id=b.POLICY_ID, uses_vault_store=True)
    finding = vault_checks.check_tier_region_supported(b.healthy(vault=vault, policy=vaulted))
    assert finding.status is Status.WARN and "does not list" in finding.detail
    west_europe = replace(vault, location="westeurope")
    assert (
        vault_checks.check_tier_region_supported(b.healthy(vault=west_europe, policy=vaulted)).status
        is Status.PASS
    )
    operational = PolicyInfo(id=b.POLICY_ID, uses_vault_store=False)
    assert (
        vault_checks.check_tier_region_supported(b.healthy(vault=vault, policy=operational)).status
        is Status.NOT_APPLICABLE
    )
