"""The simulator runs backups with its own rules and serves the jobs (paged) as Azure does.

A broken prerequisite makes the next simulated backup fail with Azure's code for it; repairing it
makes the next one succeed. Read through the real azure-mgmt client and the Guard's reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.mgmt.dataprotection import DataProtectionMgmtClient

from localdev.azure_sim.launcher import SimHandle, running_simulator
from shared.arm import ArmClients
from shared.gather.reader import ArmReader
from shared.settings import ArmSettings, Secret
from tests.sim.helpers import cred, kwargs

SUB = "0b1f6471-1bf0-4dda-aec3-222222222222"
RG = f"/subscriptions/{SUB}/resourceGroups"
CLUSTER = f"{RG}/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-one"
VAULT = f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-one"
INSTANCE = f"{VAULT}/backupInstances/bi-aks-one"
ACCOUNT = f"{RG}/rg-backup/providers/Microsoft.Storage/storageAccounts/stone"
SNAPSHOTS = f"{RG}/rg-snap"
VAULT_PRINCIPAL = "11111111-0000-0000-0000-0000000000b1"
EXT_PRINCIPAL = "44444444-0000-0000-0000-0000000000b1"
OPERATOR = "Microsoft.DataProtection/backupVaults/backup-operator"
RA_API = "api-version=2022-04-01"
MSI = "UserErrorExtensionMSIMissingPermissionsOnBackupStorageLocation"

ESTATE: dict[str, Any] = {
    "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "guard": {"principal_id": "00000000-0000-0000-0000-0000000000b0", "token": "backups-guard"},
    "other_tokens": [{"token": "backups-admin", "principal_id": "00000000-0000-0000-0000-0000000000bd"}],
    "principals": [{"id": VAULT_PRINCIPAL}, {"id": EXT_PRINCIPAL}],
    "subscriptions": [
        {
            "id": SUB,
            "resource_groups": [
                {
                    "name": "rg-aks",
                    "location": "westeurope",
                    "clusters": [
                        {
                            "name": "aks-one",
                            "identity": {
                                "type": "SystemAssigned",
                                "principal_id": "22222222-0000-0000-0000-0000000000b1",
                            },
                            "extension": {
                                "principal_id": EXT_PRINCIPAL,
                                "storage_account": "stone",
                                "storage_resource_group": "rg-backup",
                                "container": "aks-backups",
                            },
                            "trusted_access_bindings": [
                                {"name": "bv-one", "source_resource_id": VAULT, "roles": [OPERATOR]}
                            ],
                        }
                    ],
                },
                {"name": "rg-snap", "location": "westeurope"},
                {
                    "name": "rg-backup",
                    "location": "westeurope",
                    "vaults": [
                        {
                            "name": "bv-one",
                            "identity": {"type": "SystemAssigned", "principal_id": VAULT_PRINCIPAL},
                            "policies": [{"name": "daily"}],
                            "backup_instances": [
                                {
                                    "name": "bi-aks-one",
                                    "cluster_id": CLUSTER,
                                    "policy": "daily",
                                    "snapshot_resource_group_id": SNAPSHOTS,
                                    "protection_error": {"code": MSI, "message": "seeded"},
                                }
                            ],
                        }
                    ],
                    "storage_accounts": [{"name": "stone", "containers": {"aks-backups": []}}],
                },
            ],
        }
    ],
    "role_assignments": [
        {"scope": CLUSTER, "role": "Reader", "principal_id": VAULT_PRINCIPAL},
        {
            "scope": f"/subscriptions/{SUB}",
            "role": "Reader",
            "principal_id": "00000000-0000-0000-0000-0000000000b0",
        },
        {"scope": ACCOUNT, "role": "Storage Blob Data Contributor", "principal_id": EXT_PRINCIPAL},
    ],
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(ESTATE, page_size=2) as handle:
        yield handle


def run(sim: SimHandle) -> dict[str, Any]:
    status, _, body = sim.call("POST", "/_sim/run-backups", {}, token=sim.admin_token)
    assert status == 200
    (job,) = body["jobs"]
    return dict(job)


def admin(sim: SimHandle, method: str, path: str, body: Any = None) -> Any:
    status, _, payload = sim.call(method, path, body, token=sim.admin_token)
    assert status < 300, payload
    return payload


def instance(sim: SimHandle) -> dict[str, Any]:
    return dict(admin(sim, "GET", f"{INSTANCE}?api-version=2025-09-01"))


def test_break_and_repair_decide_the_next_job(sim: SimHandle) -> None:
    assert instance(sim)["properties"]["protectionStatus"]["status"] == "ProtectionError"
    first = run(sim)
    assert (first["status"], first["code"]) == ("Completed", None)
    healed = instance(sim)["properties"]
    assert healed["protectionStatus"] == {"status": "ProtectionConfigured"}
    assert "protectionErrorDetails" not in healed

    listed = admin(sim, "GET", f"{ACCOUNT}/providers/Microsoft.Authorization/roleAssignments?{RA_API}")
    (blob_role,) = [ra for ra in listed["value"] if ra["properties"]["principalId"] == EXT_PRINCIPAL]
    admin(sim, "DELETE", f"{blob_role['id']}?{RA_API}")
    failed = run(sim)
    assert (failed["status"], failed["code"]) == (
        "Failed",
        "UserErrorExtensionMSIMissingPermissionsOnBackupStorageLocation",
    )

    binding = f"{CLUSTER}/trustedAccessRoleBindings/bv-one?api-version=2026-02-01"
    admin(sim, "DELETE", binding)
    assert run(sim)["code"] == "UserErrorTrustedAccessGatewayReturnedForbidden"  # met first

    admin(sim, "PUT", binding, {"properties": {"sourceResourceId": VAULT, "roles": [OPERATOR]}})
    admin(sim, "POST", "/_sim/settle")
    admin(sim, "PUT", f"{blob_role['id']}?{RA_API}", {"properties": blob_role["properties"]})
    assert run(sim)["status"] == "Completed"

    # Paged through the real SDK (page size 2, four jobs), oldest first, with the recorded keys.
    client = DataProtectionMgmtClient(cred(sim, admin=True), SUB, **kwargs(sim))
    jobs = [j.properties for j in client.jobs.list("rg-backup", "bv-one")]
    assert all(j is not None for j in jobs)
    assert [j.status for j in jobs if j] == ["Completed", "Failed", "Failed", "Completed"]
    codes = [[e.code for e in (j.error_details or [])] for j in jobs if j]
    assert codes[1] == ["UserErrorExtensionMSIMissingPermissionsOnBackupStorageLocation"]
    assert jobs[1] and jobs[1].operation_category == "Backup"
    assert jobs[1] and jobs[1].data_source_type == "Microsoft.ContainerService/managedClusters"

    # And through the Guard's reader: the latest success, failing since nothing.
    settings = ArmSettings(
        endpoint=sim.endpoint, ca_bundle=sim.ca_bundle, token=Secret(sim.token), retry_total=0
    )
    listing = ArmReader(ArmClients(settings)).backup_jobs_of_vault(VAULT)
    assert isinstance(listing, dict)
    folded = listing[INSTANCE.lower()]
    assert folded.latest_finished is not None and folded.latest_finished.status == "Completed"
    assert folded.failing_since is None


def test_a_lock_on_the_snapshot_group_fails_the_backup() -> None:
    estate = {**ESTATE, "locks": [{"scope": SNAPSHOTS, "level": "CanNotDelete", "name": "keep"}]}
    with running_simulator(estate) as sim:
        assert run(sim)["code"] == "UserErrorSnapshotResourceGroupHasLocks"


def test_seeded_history_and_never_backed_up() -> None:
    vaults = ESTATE["subscriptions"][0]["resource_groups"][2]["vaults"]
    never = [
        {**vaults[0], "backup_instances": [{**vaults[0]["backup_instances"][0], "never_backed_up": True}]}
    ]
    groups = [
        *ESTATE["subscriptions"][0]["resource_groups"][:2],
        {**ESTATE["subscriptions"][0]["resource_groups"][2], "vaults": never},
    ]
    estate = {
        **ESTATE,
        "subscriptions": [{"id": SUB, "resource_groups": groups}],
        "backup_runs_hours_ago": [25, 1],
    }
    with running_simulator(estate) as sim:
        assert admin(sim, "GET", f"{VAULT}/backupJobs?api-version=2025-09-01")["value"] == []
    with running_simulator({**ESTATE, "backup_runs_hours_ago": [25, 1]}) as sim:
        listed = admin(sim, "GET", f"{VAULT}/backupJobs?api-version=2025-09-01")["value"]
        assert [j["properties"]["status"] for j in listed] == ["Completed", "Completed"]
        assert listed[0]["properties"]["startTime"] < listed[1]["properties"]["startTime"]
