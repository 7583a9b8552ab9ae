"""Support-matrix checks: a Linux x64 node pool; a Standard GPv2 account in the cluster's region."""

from __future__ import annotations

import pytest

from shared.checks.support import check_linux_node_pool, check_storage_account_supported
from shared.model import NodePool, Status
from tests.unit import builders as b


@pytest.mark.parametrize(
    ("pools", "status"),
    [
        ((NodePool("sys", "Linux", "Standard_D4s_v5"),), Status.PASS),
        ((NodePool("sys", None, "Standard_DS2_v2"),), Status.PASS),  # osType defaults to Linux
        (
            (NodePool("arm", "Linux", "Standard_D4ps_v5"), NodePool("x", "Linux", "Standard_B2ms")),
            Status.PASS,
        ),
        ((NodePool("arm", "Linux", "Standard_D4ps_v5"),), Status.FAIL),
        (
            (NodePool("arm", "Linux", "Standard_E8pds_v6"), NodePool("win", "Windows", "Standard_D4s_v5")),
            Status.FAIL,
        ),
        ((), Status.NOT_APPLICABLE),
    ],
)
def test_linux_x64_pool(pools: tuple[NodePool, ...], status: Status) -> None:
    finding = check_linux_node_pool(b.healthy(cluster=b.cluster(node_pools=pools)))
    assert finding.status is status, finding.detail
    if status is Status.FAIL:
        assert finding.fix is not None and finding.fix.command and "--os-type Linux" in finding.fix.command


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"kind": "BlobStorage"}, "kind BlobStorage"),
        ({"kind": "Storage"}, "kind Storage"),
        ({"sku": "Premium_LRS"}, "sku Premium_LRS"),
        ({"location": "North Europe"}, "region North Europe"),
        ({"location": "West Europe"}, None),  # display names compare with region names
        ({"kind": None, "sku": None, "location": None}, None),  # not returned: nothing to judge
    ],
)
def test_storage_account_supported(changes: dict[str, str | None], problem: str | None) -> None:
    same_sub = b.STORAGE_ID.replace(b.STORAGE_SUB, b.SUB)
    finding = check_storage_account_supported(b.healthy(storage_account=b.storage(id=same_sub, **changes)))
    if problem is None:
        assert finding.status is Status.PASS, finding.detail
    else:
        assert finding.status is Status.FAIL and problem in finding.detail


def test_storage_account_in_another_subscription_warns() -> None:
    """The support matrix asks for the cluster's subscription; the builders' account is in another."""
    finding = check_storage_account_supported(b.healthy())
    assert finding.status is Status.WARN
    assert f"subscription {b.STORAGE_SUB} (the cluster is in {b.SUB})" in finding.detail
    assert (
        finding.fix is not None and finding.fix.command and f"--subscription {b.SUB}" in finding.fix.command
    )
    elsewhere = check_storage_account_supported(b.healthy(storage_account=b.storage(location="eastus")))
    assert elsewhere.status is Status.FAIL  # another region as well: fail, naming both
    assert "region eastus" in elsewhere.detail and f"subscription {b.STORAGE_SUB}" in elsewhere.detail


def test_storage_checks_skip_without_an_account() -> None:
    assert check_storage_account_supported(b.healthy(storage_account=None)).status is Status.NOT_APPLICABLE
    assert check_storage_account_supported(b.healthy(storage_account=b.DENIED)).status is Status.UNKNOWN
