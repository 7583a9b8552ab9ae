"""The support-window checks with plain data: the Kubernetes version window, the trusted-access
binding limit and stale bindings, the vault tier's region, a blob container shared by two clusters."""

from __future__ import annotations

import pytest

from shared import regions
from shared.causes import explain
from shared.checks import evaluate
from shared.checks.storage import check_container_not_shared
from shared.checks.trusted_access import check_binding_limit, check_stale_bindings
from shared.checks.vault import check_tier_region_supported
from shared.checks.versions import check_kubernetes_version_supported
from shared.model import ContainerUse, Finding, KubernetesMinor, PolicyInfo, Status, Unreadable
from tests.unit import builders as b

OTHER_VAULT = b.VAULT_ID.replace("bv-prod", "bv-old")
VAULTED = PolicyInfo(id=b.POLICY_ID, uses_vault_store=True)


def version_finding(current: str, *minors: KubernetesMinor, plan: str | None = None) -> Finding:
    cluster = b.cluster(current_kubernetes_version=current, support_plan=plan)
    return check_kubernetes_version_supported(b.healthy(cluster=cluster, kubernetes_versions=minors or None))


LTS_ONLY = KubernetesMinor("1.28", ("AKSLongTermSupport",), patches=("1.28.15",))
PREVIEW = KubernetesMinor("1.33", ("KubernetesOfficial",), is_preview=True)
WINDOW = (LTS_ONLY, *b.KUBERNETES_VERSIONS, PREVIEW)


@pytest.mark.parametrize(
    ("current", "plan", "status", "words"),
    [
        ("1.30.4", None, Status.PASS, "AKS supports 1.28 to 1.31 in westeurope"),
        ("1.29.9", None, Status.PASS, "supported in westeurope"),
        ("1.27.3", None, Status.FAIL, "not in AKS's list"),
        ("1.20.7", None, Status.FAIL, "expected a supported minor version"),
        ("1.28.15", None, Status.WARN, "only under AKSLongTermSupport"),
        ("1.28.15", "AKSLongTermSupport", Status.PASS, "under long-term support"),
        ("1.33.0", None, Status.WARN, "preview"),
        ("1.34.1", None, Status.WARN, "newer than the list"),
        ("1.30.1", None, Status.PASS, "patch 1.30.1 is no longer offered"),
    ],
)
def test_kubernetes_version_window(current: str, plan: str | None, status: Status, words: str) -> None:
    finding = version_finding(current, *WINDOW, plan=plan)
    assert finding.status is status and words in finding.detail, finding.detail
    if status is not Status.PASS:
        assert finding.fix is not None and finding.fix.command and finding.fix.command.startswith("az aks ")


def test_kubernetes_version_window_unknown_without_the_list() -> None:
    assert version_finding("1.30.4").status is Status.UNKNOWN  # not read
    denied = check_kubernetes_version_supported(b.healthy(kubernetes_versions=b.DENIED))
    assert denied.status is Status.UNKNOWN and "AKS's Kubernetes versions" in denied.detail
    assert check_kubernetes_version_supported(b.healthy(kubernetes_versions=())).status is Status.UNKNOWN
    garbled = version_finding("latest", *WINDOW)
    assert garbled.status is Status.UNKNOWN


def bindings(count: int, *, with_vault: bool) -> tuple[b.TrustedAccessBinding, ...]:
    others = tuple(
        b.binding(name=f"ml-{n}", source_resource_id=f"/subscriptions/{b.SUB}/resourceGroups/rg-ml/providers/"
                  f"Microsoft.MachineLearningServices/workspaces/mlw-{n}")
        for n in range(count - int(with_vault))
    )  # fmt: skip
    return ((b.binding(),) if with_vault else ()) + others


@pytest.mark.parametrize(
    ("count", "with_vault", "status"),
    [
        (1, True, Status.PASS),
        (6, True, Status.PASS),
        (7, True, Status.WARN),
        (7, False, Status.WARN),  # one slot left: the vault's binding still fits
        (8, True, Status.WARN),
        (8, False, Status.FAIL),
        (0, False, Status.PASS),
    ],
)
def test_binding_limit(count: int, with_vault: bool, status: Status) -> None:
    finding = check_binding_limit(b.healthy(trusted_access=bindings(count, with_vault=with_vault)))
    assert finding.status is status, finding.detail
    assert f"{count} of 8 trusted access bindings used" in finding.detail
    if status is Status.FAIL:
        assert "cannot be created" in finding.detail
        assert finding.fix is not None and "rolebinding list" in str(finding.fix.command)


def test_stale_binding_warns_with_the_delete_command() -> None:
    stale = b.binding(name="backup-bv-old", source_resource_id=OTHER_VAULT)
    snap = b.healthy(trusted_access=(b.binding(), stale), binding_sources={OTHER_VAULT.lower(): False})
    finding = check_stale_bindings(snap)
    assert (
        finding.status is Status.WARN and "backup-bv-old" in finding.detail and OTHER_VAULT in finding.detail
    )
    assert finding.fix is not None and finding.fix.command == (
        "az aks trustedaccess rolebinding delete --resource-group rg-aks --cluster-name aks-prod "
        f"--subscription {b.SUB} --name backup-bv-old"
    )
    assert b.healthy().opt_out == "none"  # report-only by design: the catalog says nobody fixes it
    assert evaluate(snap)  # evaluates alongside everything else


def test_stale_bindings_pass_unknown_and_not_checked() -> None:
    other = b.binding(name="backup-bv-old", source_resource_id=OTHER_VAULT)
    live = check_stale_bindings(
        b.healthy(trusted_access=(other,), binding_sources={OTHER_VAULT.lower(): True})
    )
    assert live.status is Status.PASS and "1 other vault(s) checked" in live.detail
    outside = Unreadable("not read: subscription x is outside GUARD_SUBSCRIPTIONS", "denied")
    denied = check_stale_bindings(
        b.healthy(trusted_access=(other,), binding_sources={OTHER_VAULT.lower(): outside})
    )
    assert denied.status is Status.PASS and "not checked (no read access)" in denied.detail
    broken = Unreadable("HTTP 500", "error")
    failed = check_stale_bindings(
        b.healthy(trusted_access=(other,), binding_sources={OTHER_VAULT.lower(): broken})
    )
    assert failed.status is Status.UNKNOWN
    assert check_stale_bindings(b.healthy(trusted_access=b.DENIED)).status is Status.UNKNOWN


@pytest.mark.parametrize(
    ("location", "status"),
    [("westeurope", Status.PASS), ("West Europe", Status.PASS), ("polandcentral", Status.FAIL),
     ("US Gov Virginia", Status.FAIL), ("eastus2euap", Status.WARN)],
)  # fmt: skip
def test_vault_tier_region(location: str, status: Status) -> None:
    finding = check_tier_region_supported(b.healthy(vault=b.vault(location=location), policy=VAULTED))
    assert finding.status is status, finding.detail
    if status is Status.FAIL:
        assert "DppUserErrorVaultTierPolicyNotSupported" in finding.detail


def test_vault_tier_not_applicable_and_unknown() -> None:
    operational = PolicyInfo(id=b.POLICY_ID, uses_vault_store=False)
    poland = b.vault(location="polandcentral")
    na = check_tier_region_supported(b.healthy(vault=poland, policy=operational))
    assert na.status is Status.NOT_APPLICABLE
    assert check_tier_region_supported(b.healthy(policy=None)).status is Status.NOT_APPLICABLE
    assert check_tier_region_supported(b.healthy(policy=b.DENIED)).status is Status.UNKNOWN
    assert check_tier_region_supported(b.healthy(vault=b.DENIED, policy=VAULTED)).status is Status.UNKNOWN


def test_region_tables_are_disjoint_and_from_the_matrix() -> None:
    assert not regions.VAULT_TIER_REGIONS & regions.OPERATIONAL_ONLY_REGIONS
    assert len(regions.VAULT_TIER_REGIONS) == 43 and len(regions.OPERATIONAL_ONLY_REGIONS) == 10
    assert {"westeurope", "northeurope", "southeastasia", "jioindiawest"} <= regions.VAULT_TIER_REGIONS


def test_the_vault_tier_code_names_the_region_check() -> None:
    poland = b.healthy(vault=b.vault(location="polandcentral"), policy=VAULTED)
    found = {f.check: f for f in evaluate(poland)}
    assert explain(["DppUserErrorVaultTierPolicyNotSupported"], found) == (
        "DppUserErrorVaultTierPolicyNotSupported -> vault.tier-region-supported is failing"
    )


def test_container_shared_with_another_cluster_fails() -> None:
    twin = b.CLUSTER_ID.replace("aks-prod", "aks-twin")
    finding = check_container_not_shared(b.healthy(container_use=ContainerUse(others=(twin,))))
    assert finding is not None and finding.status is Status.FAIL
    assert "also used by the backup extension of aks-twin" in finding.detail
    assert finding.fix is not None and "blobContainer=<new-container>" in str(finding.fix.command)


def test_container_check_is_omitted_on_the_event_path_and_otherwise_judged() -> None:
    event_path = b.healthy(container_use=None)
    assert check_container_not_shared(event_path) is None
    assert "storage.container-not-shared" not in {f.check for f in evaluate(event_path)}
    passed = check_container_not_shared(b.healthy())
    assert passed is not None and passed.status is Status.PASS
    unread = check_container_not_shared(b.healthy(container_use=ContainerUse(unread=("aks-x: HTTP 403",))))
    assert unread is not None and unread.status is Status.UNKNOWN
    no_extension = check_container_not_shared(b.healthy(extension=None))
    assert no_extension is not None and no_extension.status is Status.NOT_APPLICABLE
