"""cluster.* checks and the provider registration check."""

from __future__ import annotations

import pytest

from shared.checks.cluster import (
    check_disk_csi_driver,
    check_identity,
    check_kubernetes_version,
    check_snapshot_controller,
    parse_version,
)
from shared.checks.provider import check_kubernetes_configuration_registered
from shared.model import Status, Unreadable
from tests.unit import builders as b

# ---- identity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identity_type", ["SystemAssigned", "UserAssigned", "systemassigned", "USERASSIGNED"]
)
def test_managed_identities_pass(identity_type: str) -> None:
    snap = b.healthy(cluster=b.cluster(identity_type=identity_type))
    assert check_identity(snap).status is Status.PASS


def test_user_assigned_identity_passes_and_says_so() -> None:
    finding = check_identity(b.healthy(cluster=b.cluster(identity_type="UserAssigned")))
    assert finding.status is Status.PASS
    assert "user-assigned" in finding.detail


@pytest.mark.parametrize("identity_type", [None, "None"])
def test_service_principal_fails_with_advice(identity_type: str | None) -> None:
    snap = b.healthy(
        cluster=b.cluster(
            identity_type=identity_type, principal_id=None, service_principal_client_id="0f0f-sp"
        )
    )
    finding = check_identity(snap)
    assert finding.status is Status.FAIL
    assert "service principal" in finding.detail
    assert finding.fix is not None
    assert finding.fix.command == (
        f"az aks update --resource-group rg-aks --name aks-prod --subscription {b.SUB} "
        "--enable-managed-identity"
    )


def test_no_identity_type_but_msi_client_is_unknown() -> None:
    snap = b.healthy(cluster=b.cluster(identity_type=None, service_principal_client_id="msi"))
    assert check_identity(snap).status is Status.UNKNOWN


def test_unreadable_cluster_gives_unknown_with_reason() -> None:
    finding = check_identity(b.healthy(cluster=b.DENIED))
    assert finding.status is Status.UNKNOWN
    assert finding.detail.startswith("could not read cluster: HTTP 403 AuthorizationFailed")


# ---- version --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.21.1", (1, 21, 1)),
        ("1.21", (1, 21, 0)),
        ("1.9.11", (1, 9, 11)),
        ("1.30", (1, 30, 0)),
        ("v1.29.2", (1, 29, 2)),
        ("1.29.2-hotfix.20240101", (1, 29, 2)),
        ("garbage", None),
        ("", None),
        ("1", None),
        ("1.x.3", None),
        (None, None),
    ],
)
def test_parse_version(text: str | None, expected: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize(
    ("current", "status"),
    [
        ("1.21.1", Status.PASS),
        ("1.21", Status.FAIL),
        ("1.21.0", Status.FAIL),
        ("1.9.11", Status.FAIL),
        ("1.30", Status.PASS),
        ("1.100.0", Status.PASS),
        ("2.0", Status.PASS),
        ("garbage", Status.UNKNOWN),
    ],
)
def test_kubernetes_version(current: str, status: Status) -> None:
    finding = check_kubernetes_version(b.healthy(cluster=b.cluster(current_kubernetes_version=current)))
    assert finding.status is status
    assert current in finding.detail
    assert "expected >= 1.21.1" in finding.detail


def test_version_falls_back_to_kubernetes_version() -> None:
    snap = b.healthy(cluster=b.cluster(current_kubernetes_version=None, kubernetes_version="1.20.9"))
    finding = check_kubernetes_version(snap)
    assert finding.status is Status.FAIL
    assert finding.detail == "kubernetesVersion is 1.20.9; expected >= 1.21.1"
    assert finding.fix is not None and finding.fix.command is not None
    assert finding.fix.command.startswith("az aks upgrade --resource-group rg-aks --name aks-prod")


def test_current_version_wins_over_requested() -> None:
    snap = b.healthy(cluster=b.cluster(current_kubernetes_version="1.20.0", kubernetes_version="1.30"))
    assert check_kubernetes_version(snap).status is Status.FAIL


def test_no_version_at_all_is_unknown() -> None:
    snap = b.healthy(cluster=b.cluster(current_kubernetes_version=None, kubernetes_version=None))
    assert check_kubernetes_version(snap).status is Status.UNKNOWN


# ---- CSI driver and snapshot controller ---------------------------------------------------


def test_disk_csi_disabled_fails_with_observed_vs_expected() -> None:
    finding = check_disk_csi_driver(b.healthy(cluster=b.cluster(disk_csi_enabled=False)))
    assert finding.status is Status.FAIL
    assert finding.detail == "storageProfile.diskCSIDriver.enabled is false; expected true"
    assert finding.fix is not None
    assert finding.fix.command == (
        f"az aks update --resource-group rg-aks --name aks-prod --subscription {b.SUB} --enable-disk-driver"
    )


def test_snapshot_controller_disabled_fails() -> None:
    finding = check_snapshot_controller(b.healthy(cluster=b.cluster(snapshot_controller_enabled=False)))
    assert finding.status is Status.FAIL
    assert finding.detail == "storageProfile.snapshotController.enabled is false; expected true"
    assert finding.fix is not None and finding.fix.command is not None
    assert finding.fix.command.endswith("--enable-snapshot-controller")


def test_unset_flags_mean_the_api_default_enabled() -> None:
    snap = b.healthy(cluster=b.cluster(disk_csi_enabled=None, snapshot_controller_enabled=None))
    assert check_disk_csi_driver(snap).status is Status.PASS
    assert check_snapshot_controller(snap).status is Status.PASS
    assert "defaults to true" in check_snapshot_controller(snap).detail


def test_enabled_flags_pass() -> None:
    assert check_disk_csi_driver(b.healthy()).status is Status.PASS
    assert check_snapshot_controller(b.healthy()).status is Status.PASS


# ---- provider -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("Registered", Status.PASS),
        ("registered", Status.PASS),
        ("Registering", Status.WARN),
        ("NotRegistered", Status.FAIL),
        ("Unregistering", Status.FAIL),
        ("", Status.FAIL),
    ],
)
def test_provider_registration(state: str, status: Status) -> None:
    finding = check_kubernetes_configuration_registered(b.healthy(provider_state=state))
    assert finding.status is status
    if status is not Status.PASS:
        assert finding.fix is not None
        assert finding.fix.command == (
            f"az provider register --namespace Microsoft.KubernetesConfiguration --subscription {b.SUB}"
        )


def test_provider_unreadable_is_unknown() -> None:
    finding = check_kubernetes_configuration_registered(
        b.healthy(provider_state=Unreadable("HTTP 500", "error"))
    )
    assert finding.status is Status.UNKNOWN
    assert "HTTP 500" in finding.detail
