"""Management groups in the simulator: assignments there are inherited by their subscriptions, in
listings (roles, policy) and in the Guard's own permissions, as in Azure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator

SUB = "3c0e0000-0000-4000-8000-000000000001"
OTHER = "3c0e0000-0000-4000-8000-000000000002"
MG = "/providers/Microsoft.Management/managementGroups/platform"
GUARD = "3c0e0000-0000-4000-8000-00000000a001"
VAULT_PRINCIPAL = "3c0e0000-0000-4000-8000-0000000000b1"
CLUSTER = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks"
K8S = "/providers/Microsoft.Authorization/policyDefinitions/95edb821-ddaf-4404-9732-666045e056b4"

ESTATE: dict[str, Any] = {
    "guard": {"principal_id": GUARD, "token": "mg-guard"},
    "principals": [{"id": VAULT_PRINCIPAL}],
    "management_groups": [
        {
            "name": "platform",
            "subscriptions": [SUB],
            "policy_assignments": [{"name": "k8s", "policy_definition_id": K8S}],
        }
    ],
    "policy_definitions": [{"id": K8S, "excluded_namespaces_default": ["kube-system"]}],
    "subscriptions": [
        {"id": SUB, "resource_groups": [{"name": "rg", "clusters": [{"name": "aks"}]}]},
        {"id": OTHER, "resource_groups": [{"name": "rg2"}]},
    ],
    "role_assignments": [
        {"scope": MG, "principal_id": GUARD, "role": "Reader"},
        {"scope": MG, "principal_id": VAULT_PRINCIPAL, "role": "Reader"},
    ],
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(ESTATE) as handle:
        yield handle


def test_reader_at_a_management_group_reads_its_subscriptions_only(sim: SimHandle) -> None:
    status, _, cluster = sim.call("GET", f"{CLUSTER}?api-version=2026-08-01", token=sim.token)
    assert status == 200 and cluster["name"] == "aks"
    status, _, subs = sim.call("GET", "/subscriptions?api-version=2025-04-01", token=sim.token)
    assert [s["subscriptionId"] for s in subs["value"]] == [SUB]
    status, _, _ = sim.call(
        "GET", f"/subscriptions/{OTHER}/resourceGroups/rg2?api-version=2025-04-01", token=sim.token
    )
    assert status == 403


def test_subscription_listings_include_management_group_assignments(sim: SimHandle) -> None:
    status, _, roles = sim.call(
        "GET",
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01",
        token=sim.token,
    )
    assert status == 200
    scopes = {(r["properties"]["principalId"], r["properties"]["scope"]) for r in roles["value"]}
    assert (VAULT_PRINCIPAL, MG) in scopes
    status, _, policies = sim.call(
        "GET",
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments?api-version=2026-06-01",
        token=sim.token,
    )
    assert [p["properties"]["scope"] for p in policies["value"]] == [MG]
    status, _, other = sim.call(
        "GET",
        f"/subscriptions/{OTHER}/providers/Microsoft.Authorization/policyAssignments?api-version=2026-06-01",
        token="mg-guard",
    )
    assert status == 403  # the Guard's Reader does not reach a subscription outside the group
