"""trusted-access.binding."""

from __future__ import annotations

import pytest

from shared.checks.trusted_access import binding_name, check_binding
from shared.model import Status
from tests.unit import builders as b


def test_binding_from_vault_passes() -> None:
    assert check_binding(b.healthy()).status is Status.PASS


def test_mixed_case_source_and_role_pass() -> None:
    binding = b.binding(source_resource_id=b.VAULT_ID.lower(), roles=(b.BACKUP_OPERATOR.upper(),))
    assert check_binding(b.healthy(trusted_access=(binding,))).status is Status.PASS


def test_state_not_reported_counts_as_succeeded() -> None:
    assert (
        check_binding(b.healthy(trusted_access=(b.binding(provisioning_state=None),))).status is Status.PASS
    )


def test_no_binding_fails_with_create_command() -> None:
    other = b.binding(source_resource_id=b.VAULT_ID.replace("bv-prod", "bv-other"))
    finding = check_binding(b.healthy(trusted_access=(other,)))
    assert finding.status is Status.FAIL
    assert "no trusted access binding from vault" in finding.detail
    assert finding.fix is not None
    assert finding.fix.command == (
        f"az aks trustedaccess rolebinding create --resource-group rg-aks --cluster-name aks-prod "
        f"--subscription {b.SUB} --name backup-bv-prod --source-resource-id {b.VAULT_ID} "
        f"--roles {b.BACKUP_OPERATOR}"
    )


def test_binding_lacking_the_role_is_broken() -> None:
    binding = b.binding(roles=("Microsoft.MachineLearningServices/workspaces/mlworkload",))
    finding = check_binding(b.healthy(trusted_access=(binding,)))
    assert finding.status is Status.FAIL
    assert "broken" in finding.detail and "roles are" in finding.detail
    assert finding.fix is not None and finding.fix.command is not None
    assert "rolebinding update" in finding.fix.command and "--name backup-bv-prod" in finding.fix.command


@pytest.mark.parametrize("state", ["Failed", "Canceled", "Deleting"])
def test_failed_binding_is_broken(state: str) -> None:
    finding = check_binding(b.healthy(trusted_access=(b.binding(provisioning_state=state),)))
    assert finding.status is Status.FAIL
    assert f"provisioningState is {state}" in finding.detail


def test_updating_binding_warns() -> None:
    finding = check_binding(b.healthy(trusted_access=(b.binding(provisioning_state="Updating"),)))
    assert finding.status is Status.WARN


def test_one_good_binding_among_broken_ones_passes() -> None:
    bindings = (b.binding(name="old", provisioning_state="Failed"), b.binding(name="new"))
    assert check_binding(b.healthy(trusted_access=bindings)).status is Status.PASS


def test_unreadable_bindings_are_unknown() -> None:
    finding = check_binding(b.healthy(trusted_access=b.DENIED))
    assert finding.status is Status.UNKNOWN
    assert "HTTP 403" in finding.detail


def test_binding_name_is_valid_and_bounded() -> None:
    long_vault = b.VAULT_ID.replace("bv-prod", "a_very-long.vault_name-for-backups-of-everything")
    name = binding_name(long_vault)
    assert len(name) <= 24
    assert all(ch.isalnum() or ch == "-" for ch in name)
    assert not name.endswith("-")
