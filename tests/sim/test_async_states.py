"""Asynchronous states move over time as in Azure: a trusted-access PUT answers Updating and reads
Updating until its settle time is over; an extension has no identity while it is Creating."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator
from tests.sim.helpers import CLUSTER, DEV_CLUSTER, ESTATE, VAULT

CS = "api-version=2026-08-01"
BINDING = f"{CLUSTER}/trustedAccessRoleBindings/slow?{CS}"
OPERATOR = "Microsoft.DataProtection/backupVaults/backup-operator"


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[SimHandle]:
    # an hour: nothing settles by itself during the test, only through POST /_sim/settle
    with running_simulator(ESTATE, extra_args=["--settle-seconds", "3600"]) as handle:
        yield handle


def test_binding_stays_updating_until_it_settles(slow_sim: SimHandle) -> None:
    admin = slow_sim.admin_token
    body = {"properties": {"sourceResourceId": VAULT, "roles": [OPERATOR]}}
    status, _, put = slow_sim.call("PUT", BINDING, body, token=admin)
    assert status == 201 and put["properties"]["provisioningState"] == "Updating"
    for _ in range(3):
        _, _, read = slow_sim.call("GET", BINDING, token=admin)
        assert read["properties"]["provisioningState"] == "Updating"
    _, _, listed = slow_sim.call("GET", f"{CLUSTER}/trustedAccessRoleBindings?{CS}", token=admin)
    assert {b["name"]: b["properties"]["provisioningState"] for b in listed["value"]}["slow"] == "Updating"
    slow_sim.call("POST", "/_sim/settle")
    _, _, read = slow_sim.call("GET", BINDING, token=admin)
    assert read["properties"]["provisioningState"] == "Succeeded"


def test_extension_identity_is_null_while_creating(slow_sim: SimHandle) -> None:
    admin = slow_sim.admin_token
    path = f"{DEV_CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions/dapr"
    status, headers, created = slow_sim.call(
        "PUT",
        f"{path}?api-version=2025-03-01",
        {"properties": {"extensionType": "microsoft.dapr"}},
        token=admin,
    )
    assert status == 201
    assert created["properties"]["provisioningState"] == "Creating"
    assert created["properties"]["aksAssignedIdentity"] is None
    operation = headers["Azure-AsyncOperation"].split(slow_sim.endpoint, 1)[1]
    statuses = []
    for _ in range(3):
        _, _, op = slow_sim.call("GET", operation, token=admin)
        statuses.append(op["status"])
        if op["status"] == "Succeeded":
            break
    assert statuses[-1] == "Succeeded" and "InProgress" in statuses
    _, _, done = slow_sim.call("GET", f"{path}?api-version=2025-03-01", token=admin)
    assert done["properties"]["provisioningState"] == "Succeeded"
    assert done["properties"]["aksAssignedIdentity"]["principalId"]
