"""plan() grants vault roles to the identity the backup instance runs under (identityDetails)."""

from __future__ import annotations

from dataclasses import replace

from shared.checks import evaluate
from shared.model import BackupInstanceInfo, Snapshot
from shared.remediation.plan import RoleAssignmentParams, plan
from shared.settings import Settings
from tests.unit import builders as b

UAMI = (
    f"/subscriptions/{b.SUB}/resourceGroups/rg-backup/providers/Microsoft.ManagedIdentity/"
    "userAssignedIdentities/id-bv-prod"
)
UAMI_PRINCIPAL = "bbbbbbbb-0000-0000-0000-00000000000b"


def settings() -> Settings:
    return Settings.from_env({"GUARD_SUBSCRIPTIONS": f"{b.SUB},{b.STORAGE_SUB}", "GUARD_MODE": "enforce"})


def on_user_identity(snapshot: Snapshot, *, attached: bool) -> Snapshot:
    instance = snapshot.backup_instance
    assert isinstance(instance, BackupInstanceInfo)
    vault = b.vault(
        identity_type="SystemAssigned,UserAssigned",
        user_assigned={UAMI.lower(): UAMI_PRINCIPAL} if attached else {},
    )
    return replace(
        snapshot,
        vault=vault,
        backup_instance=replace(instance, use_system_identity=False, user_identity_id=UAMI),
        user_identity_exists=True,
    )


def test_missing_vault_roles_are_granted_to_the_user_assigned_identity() -> None:
    snap = on_user_identity(b.healthy(), attached=True)  # the healthy grants are the system identity's
    p = plan(snap, evaluate(snap), settings())
    vault_rows = [
        a.params
        for a in p.actions
        if isinstance(a.params, RoleAssignmentParams) and a.check.startswith("role.vault-")
    ]
    assert vault_rows, p
    assert {r.principal_id for r in vault_rows} == {UAMI_PRINCIPAL}


def test_no_vault_role_is_planned_for_an_identity_the_vault_does_not_have() -> None:
    snap = on_user_identity(b.healthy(), attached=False)
    p = plan(snap, evaluate(snap), settings())
    planned = {a.params.principal_id for a in p.actions if isinstance(a.params, RoleAssignmentParams)}
    assert b.VAULT_PRINCIPAL not in planned and UAMI_PRINCIPAL not in planned
    assert not [a for a in p.actions if a.check.startswith("role.vault-")]
