"""extension.installed, restore-target.extension and extension.storage-location."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.checks.extension import check_installed, check_restore_target_extension, check_storage_location
from shared.model import BLOB_CONTAINER_TAG, STORAGE_ACCOUNT_TAG, BlobContainerInfo, Status, Unreadable
from tests.unit import builders as b

NOT_FOUND = Unreadable("HTTP 404 ResourceNotFound", "not-found")


@pytest.mark.parametrize("check", [check_installed, check_restore_target_extension])
def test_succeeded_extension_passes(check: object) -> None:
    assert callable(check)
    finding = check(b.healthy())
    assert finding.status is Status.PASS


def test_ids_differ_between_the_two_extension_checks() -> None:
    assert check_installed(b.healthy()).check == "extension.installed"
    assert check_restore_target_extension(b.healthy()).check == "restore-target.extension"


def test_extension_type_is_case_insensitive() -> None:
    snap = b.healthy(extension=b.extension(extension_type="Microsoft.DataProtection.Kubernetes"))
    assert check_installed(snap).status is Status.PASS


def test_missing_extension_fails_with_install_command_from_its_vault_tags() -> None:
    storage_id = b.STORAGE_ID
    vault = b.vault(tags={STORAGE_ACCOUNT_TAG: storage_id, BLOB_CONTAINER_TAG: "aks-backups"})
    finding = check_installed(b.healthy(extension=None, vault=vault))
    assert finding.status is Status.FAIL
    assert finding.fix is not None
    assert finding.fix.command == (
        "az k8s-extension create --name azure-aks-backup --extension-type "
        "microsoft.dataprotection.kubernetes --scope cluster --cluster-type managedClusters "
        f"--cluster-name aks-prod --resource-group rg-aks --subscription {b.SUB} --release-train stable "
        "--configuration-settings blobContainer=aks-backups storageAccount=stbackupprod "
        f"storageAccountResourceGroup=rg-storage storageAccountSubscriptionId={b.STORAGE_SUB}"
    )


def test_missing_extension_without_storage_tags_uses_placeholders() -> None:
    finding = check_installed(b.healthy(extension=None))
    assert finding.fix is not None and finding.fix.command is not None
    assert "storageAccount=<storage-account>" in finding.fix.command


@pytest.mark.parametrize("state", ["Failed", "Canceled", "Deleting"])
def test_broken_extension_fails_with_state(state: str) -> None:
    finding = check_installed(b.healthy(extension=b.extension(provisioning_state=state)))
    assert finding.status is Status.FAIL
    assert f"provisioningState is {state}; expected Succeeded" in finding.detail
    assert finding.fix is not None and finding.fix.command is not None
    assert "az k8s-extension delete --name azure-aks-backup" in finding.fix.command
    # Reinstalling reuses the configured storage location.
    assert "storageAccount=stbackupprod" in finding.fix.command


@pytest.mark.parametrize("state", ["Creating", "Updating"])
def test_transitional_extension_warns(state: str) -> None:
    finding = check_installed(b.healthy(extension=b.extension(provisioning_state=state)))
    assert finding.status is Status.WARN
    assert finding.fix is not None


def test_wrong_type_fails() -> None:
    finding = check_installed(b.healthy(extension=b.extension(extension_type="microsoft.flux")))
    assert finding.status is Status.FAIL


def test_state_not_reported_is_unknown() -> None:
    assert check_installed(b.healthy(extension=b.extension(provisioning_state=None))).status is Status.UNKNOWN


def test_unreadable_extension_is_unknown() -> None:
    finding = check_restore_target_extension(b.healthy(extension=b.DENIED))
    assert finding.status is Status.UNKNOWN
    assert finding.detail.startswith("could not read backup extension: HTTP 403")


# ---- storage location -----------------------------------------------------------------------


def test_storage_location_passes_when_both_exist() -> None:
    assert check_storage_location(b.healthy()).status is Status.PASS


def test_storage_location_not_applicable_without_extension() -> None:
    assert check_storage_location(b.healthy(extension=None)).status is Status.NOT_APPLICABLE


@pytest.mark.parametrize("account", [None, NOT_FOUND])
def test_missing_storage_account_fails(account: object) -> None:
    snap = b.healthy(storage_account=account, blob_container=None)
    finding = check_storage_location(snap)
    assert finding.status is Status.FAIL
    assert "does not exist" in finding.detail
    assert finding.fix is not None and finding.fix.command is not None
    assert "az storage account create --name stbackupprod" in finding.fix.command


def test_unreadable_storage_account_is_unknown() -> None:
    finding = check_storage_location(b.healthy(storage_account=b.DENIED))
    assert finding.status is Status.UNKNOWN
    assert "HTTP 403" in finding.detail


def test_missing_container_fails() -> None:
    snap = b.healthy(blob_container=BlobContainerInfo(name="aks-backups", exists=False))
    finding = check_storage_location(snap)
    assert finding.status is Status.FAIL
    assert "blob container aks-backups does not exist" in finding.detail
    assert finding.fix is not None
    assert finding.fix.command == (
        "az storage container create --name aks-backups --account-name stbackupprod --auth-mode login"
    )


def test_container_not_found_read_fails_other_errors_unknown() -> None:
    assert check_storage_location(b.healthy(blob_container=NOT_FOUND)).status is Status.FAIL
    assert check_storage_location(b.healthy(blob_container=b.DENIED)).status is Status.UNKNOWN
    assert check_storage_location(b.healthy(blob_container=None)).status is Status.UNKNOWN


def test_incomplete_extension_configuration_fails() -> None:
    ext = b.extension()
    config = {k: v for k, v in ext.configuration.items() if not k.endswith("config.resourceGroup")}
    finding = check_storage_location(b.healthy(extension=replace(ext, configuration=config)))
    assert finding.status is Status.FAIL
    assert "names no complete storage account" in finding.detail


def test_configuration_without_container_fails() -> None:
    ext = b.extension()
    config = {k: v for k, v in ext.configuration.items() if not k.endswith(".bucket")}
    finding = check_storage_location(b.healthy(extension=replace(ext, configuration=config)))
    assert finding.status is Status.FAIL
    assert "names no blob container" in finding.detail
