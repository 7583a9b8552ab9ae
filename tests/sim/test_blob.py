"""The List Blobs data-plane call through azure-storage-blob, path-style on the simulator."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from localdev.azure_sim.launcher import SimHandle
from tests.sim.helpers import SUB1, StaticToken

LIST_BLOBS = "GET /{account}/{container}?restype=container&comp=list"


def container(sim: SimHandle, account: str, name: str, token: str | None = None) -> ContainerClient:
    return ContainerClient(
        account_url=f"{sim.endpoint}/{account}",
        container_name=name,
        credential=StaticToken(token or sim.token),
        connection_verify=sim.ca_bundle,
    )


def test_list_blob_names_with_a_data_reader_role(sim: SimHandle) -> None:
    sim.reset_counters()
    names = list(container(sim, "stbackup1", "aks-backups").list_blob_names())
    assert names == [
        "velero/backups/b1/b1.tar.gz",
        "velero/backups/b2/b2.tar.gz",
        "velero/backups/b3/b3.tar.gz",
    ]
    counts = sim.requests()
    assert counts["by_template"] == {LIST_BLOBS: 1}
    assert counts["by_subscription"] == {SUB1: 1}
    assert list(container(sim, "stbackup1", "empty").list_blob_names()) == []


def test_list_blobs_pages_and_prefix(sim: SimHandle) -> None:
    client = container(sim, "stbackup1", "aks-backups")
    pages = [list(p) for p in client.list_blob_names(results_per_page=2).by_page()]
    assert pages == [
        ["velero/backups/b1/b1.tar.gz", "velero/backups/b2/b2.tar.gz"],
        ["velero/backups/b3/b3.tar.gz"],
    ]
    assert list(client.list_blob_names(name_starts_with="velero/backups/b2")) == [
        "velero/backups/b2/b2.tar.gz"
    ]


def test_missing_container_is_container_not_found(sim: SimHandle) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        next(iter(container(sim, "stbackup1", "nope").list_blob_names()))
    assert getattr(info.value, "error_code", None) == "ContainerNotFound"


def test_reader_or_no_role_is_not_enough_for_data(sim: SimHandle) -> None:
    # The Guard is Reader on the whole subscription, but has no Storage Blob Data role on stnodata.
    with pytest.raises(HttpResponseError) as info:
        next(iter(container(sim, "stnodata", "c1").list_blob_names()))
    assert info.value.status_code == 403
    assert getattr(info.value, "error_code", None) == "AuthorizationPermissionMismatch"


def test_firewall_denies_the_local_client(sim: SimHandle) -> None:
    assert sim.admin_token
    with pytest.raises(HttpResponseError) as info:
        next(iter(container(sim, "stlocked", "c1", sim.admin_token).list_blob_names()))
    assert info.value.status_code == 403
    assert getattr(info.value, "error_code", None) == "AuthorizationFailure"


def test_unauthenticated_blob_list_is_401(sim: SimHandle) -> None:
    status, headers, body = sim.call("GET", "/stbackup1/aks-backups?restype=container&comp=list")
    assert status == 401
    assert headers.get("x-ms-error-code") == "NoAuthenticationInformation"
    assert "<Code>NoAuthenticationInformation</Code>" in body


def test_blob_listings_are_not_charged_to_arm_throttling() -> None:
    """Storage's data plane has its own limits: with --throttle on, 300 listings still succeed."""
    from localdev.azure_sim.launcher import running_simulator
    from tests.sim.helpers import ESTATE

    with running_simulator(ESTATE, throttle=True) as sim:
        client = container(sim, "stbackup1", "aks-backups")
        for _ in range(300):  # more than ARM's 250-read burst
            assert list(client.list_blob_names())
        log = sim.requests()["log"]
        assert {entry["status"] for entry in log} == {200}
        assert all(entry["data_plane"] for entry in log)  # the bench counts them apart from ARM
