"""storage.network-access, storage.container-dedicated, storage.shared-key-access."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.checks.storage import (
    check_container_dedicated,
    check_network_access,
    check_shared_key_access,
    is_backup_blob,
)
from shared.model import BlobContainerInfo, ResourceAccessRule, Status, Unreadable
from tests.unit import builders as b

# ---- network access -------------------------------------------------------------------------


def test_open_account_passes() -> None:
    finding = check_network_access(b.healthy(storage_account=b.storage(bypass=())))
    assert finding.status is Status.PASS
    assert "open" in finding.detail


def test_firewall_with_vault_rule_and_bypass_passes() -> None:
    assert check_network_access(b.healthy(storage_account=b.firewalled_storage())).status is Status.PASS


def test_firewall_rule_matches_vault_id_case_insensitively() -> None:
    account = b.firewalled_storage()
    account = replace(
        account, resource_access_rules=(ResourceAccessRule(b.TENANT, b.VAULT_ID.upper() + "/"),)
    )
    snap = b.healthy(storage_account=account)
    assert check_network_access(snap).status is Status.PASS


def test_firewall_without_vault_rule_fails_naming_it() -> None:
    account = b.storage(default_action="Deny", bypass=("AzureServices",), ip_rules=("203.0.113.0/24",))
    finding = check_network_access(b.healthy(storage_account=account))
    assert finding.status is Status.FAIL
    assert f"no networkAcls.resourceAccessRules entry for vault {b.VAULT_ID}" in finding.detail
    assert "bypass" not in finding.detail.split(";")[1]
    assert finding.fix is not None
    assert finding.fix.command == (
        "az storage account network-rule add --account-name stbackupprod --resource-group rg-storage "
        f"--subscription {b.STORAGE_SUB} --resource-id {b.VAULT_ID} --tenant-id {b.TENANT}"
    )


def test_rule_for_another_vault_does_not_count() -> None:
    other = b.VAULT_ID.replace("bv-prod", "bv-other")
    account = b.firewalled_storage(resource_access_rules=(ResourceAccessRule(b.TENANT, other),))
    assert check_network_access(b.healthy(storage_account=account)).status is Status.FAIL


def test_firewall_without_bypass_fails_and_keeps_existing_bypass_values() -> None:
    account = replace(b.firewalled_storage(), bypass=("Logging", "Metrics"))
    finding = check_network_access(b.healthy(storage_account=account))
    assert finding.status is Status.FAIL
    assert "networkAcls.bypass is Logging, Metrics (no AzureServices)" in finding.detail
    assert finding.fix is not None
    assert finding.fix.command == (
        "az storage account update --name stbackupprod --resource-group rg-storage "
        f"--subscription {b.STORAGE_SUB} --bypass Logging Metrics AzureServices"
    )


def test_bypass_none_is_replaced() -> None:
    account = replace(b.firewalled_storage(), bypass=("None",))
    finding = check_network_access(b.healthy(storage_account=account))
    assert finding.fix is not None and finding.fix.command is not None
    assert finding.fix.command.endswith("--bypass AzureServices")


def test_both_missing_gives_both_commands() -> None:
    account = b.storage(default_action="Deny", bypass=())
    finding = check_network_access(b.healthy(storage_account=account))
    assert finding.status is Status.FAIL
    assert finding.fix is not None and finding.fix.command is not None
    assert "network-rule add" in finding.fix.command and "--bypass AzureServices" in finding.fix.command


def test_unknown_tenant_placeholder_when_vault_unreadable() -> None:
    account = b.storage(default_action="Deny", bypass=("AzureServices",))
    finding = check_network_access(b.healthy(storage_account=account, vault=b.DENIED))
    assert finding.status is Status.FAIL
    assert finding.fix is not None and finding.fix.command is not None
    assert "--tenant-id <tenant-id>" in finding.fix.command


def test_private_endpoint_only_needs_the_rule_too() -> None:
    account = b.storage(public_network_access="Disabled", private_endpoint_count=1, bypass=("AzureServices",))
    finding = check_network_access(b.healthy(storage_account=account))
    assert finding.status is Status.FAIL
    assert "publicNetworkAccess is Disabled" in finding.detail
    assert "1 private endpoint(s)" in finding.detail
    ok = replace(account, resource_access_rules=(ResourceAccessRule(b.TENANT, b.VAULT_ID),))
    assert check_network_access(b.healthy(storage_account=ok)).status is Status.PASS


def test_secured_by_perimeter_is_not_open() -> None:
    account = b.storage(public_network_access="SecuredByPerimeter")
    assert check_network_access(b.healthy(storage_account=account)).status is Status.FAIL


def test_network_access_not_applicable_or_unknown_without_account() -> None:
    assert check_network_access(b.healthy(storage_account=None)).status is Status.NOT_APPLICABLE
    not_found = Unreadable("HTTP 404", "not-found")
    assert check_network_access(b.healthy(storage_account=not_found)).status is Status.NOT_APPLICABLE
    finding = check_network_access(b.healthy(storage_account=b.DENIED))
    assert finding.status is Status.UNKNOWN
    assert "could not read storage account: HTTP 403" in finding.detail


# ---- container dedicated --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("backups/b1/velero-backup.json", True),
        ("restores/r1/restore-log.gz", True),
        ("kopia/ns1/kopia.repository", True),
        ("Backups/B1/x", True),
        ("/backups/x", True),
        ("metadata/revision", True),
        ("plugins/x", True),
        ("velero/backups/x", True),
        ("restic/x", True),
        ("invoices/2024.csv", False),
        ("backups-old.zip", False),
        ("readme.txt", False),
    ],
)
def test_backup_blob_prefix_rule(name: str, expected: bool) -> None:
    assert is_backup_blob(name) is expected


def test_empty_container_passes() -> None:
    snap = b.healthy(blob_container=BlobContainerInfo(name="aks-backups", exists=True))
    finding = check_container_dedicated(snap)
    assert finding.status is Status.PASS
    assert "empty" in finding.detail


def test_backup_only_container_passes() -> None:
    assert check_container_dedicated(b.healthy()).status is Status.PASS


def test_unrelated_blobs_warn_and_are_listed() -> None:
    names = ("backups/b1/x", *(f"exports/file{i}.csv" for i in range(7)))
    snap = b.healthy(blob_container=BlobContainerInfo(name="aks-backups", exists=True, blob_names=names))
    finding = check_container_dedicated(snap)
    assert finding.status is Status.WARN
    assert "7 blob(s) unrelated to backup" in finding.detail
    assert "exports/file0.csv" in finding.detail and "and 2 more" in finding.detail
    assert finding.fix is not None and finding.fix.command is not None
    assert "--account-name stbackupprod --container-name aks-backups" in finding.fix.command


def test_container_dedicated_not_applicable_or_unknown() -> None:
    missing = BlobContainerInfo(name="aks-backups", exists=False)
    assert check_container_dedicated(b.healthy(blob_container=missing)).status is Status.NOT_APPLICABLE
    assert check_container_dedicated(b.healthy(blob_container=None)).status is Status.NOT_APPLICABLE
    assert check_container_dedicated(b.healthy(blob_container=b.DENIED)).status is Status.UNKNOWN


# ---- shared key access ----------------------------------------------------------------------


@pytest.mark.parametrize("allowed", [None, True])
def test_shared_key_allowed_passes(allowed: bool | None) -> None:
    snap = b.healthy(storage_account=b.storage(allow_shared_key_access=allowed))
    assert check_shared_key_access(snap).status is Status.PASS


def test_shared_key_disabled_warns_without_use_aad() -> None:
    snap = b.healthy(storage_account=b.storage(allow_shared_key_access=False))
    finding = check_shared_key_access(snap)
    assert finding.status is Status.WARN
    assert finding.fix is not None and finding.fix.command is not None
    assert "configuration.backupStorageLocation.config.useAAD=true" in finding.fix.command
    assert "storageAccountURI=https://stbackupprod.blob.core.windows.net/" in finding.fix.command


@pytest.mark.parametrize("value", ["true", "True", " TRUE "])
def test_shared_key_disabled_passes_with_use_aad(value: str) -> None:
    ext = b.extension()
    config = {**ext.configuration, "configuration.backupStorageLocation.config.useAAD": value}
    snap = b.healthy(
        storage_account=b.storage(allow_shared_key_access=False), extension=replace(ext, configuration=config)
    )
    assert check_shared_key_access(snap).status is Status.PASS


def test_use_aad_passes_even_if_storage_unreadable() -> None:
    ext = b.extension()
    config = {**ext.configuration, "configuration.backupStorageLocation.config.useAAD": "true"}
    snap = b.healthy(storage_account=b.DENIED, extension=replace(ext, configuration=config))
    assert check_shared_key_access(snap).status is Status.PASS


def test_shared_key_disabled_and_extension_unreadable_is_unknown() -> None:
    snap = b.healthy(storage_account=b.storage(allow_shared_key_access=False), extension=b.DENIED)
    assert check_shared_key_access(snap).status is Status.UNKNOWN


def test_shared_key_unreadable_storage_is_unknown() -> None:
    assert check_shared_key_access(b.healthy(storage_account=b.DENIED)).status is Status.UNKNOWN


def test_container_listing_denied_is_unknown_not_a_warning() -> None:
    denied = BlobContainerInfo(
        name="aks-backups", exists=True, listing_denied="HTTP 403 AuthorizationPermissionMismatch"
    )
    finding = check_container_dedicated(b.healthy(blob_container=denied))
    assert finding.status is Status.UNKNOWN
    assert "403" in finding.detail
