"""A role write to a principal that is not a service principal: Azure's 400 UnmatchedPrincipalType
becomes one ``failed`` outcome with a clear reason, not a crash and not a retry.

The estate is the demo with one change: the directory holds the identity of vault bv-prod-weu as a
User (an object id read from ARM that is not a service principal). aks-orders-prod's only drift is
that vault's missing Reader on the cluster, so the Guard plans exactly one role write to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator
from shared.model import Status
from shared.reconcile import reconcile
from tests.remediation import helpers as h

pytestmark = pytest.mark.timeout(120)

TARGET = "aks-orders-prod"


def _vault_principal(estate: dict[str, Any], vault_id: str) -> str:
    name = vault_id.rstrip("/").rsplit("/", 1)[-1].lower()
    for sub in estate["subscriptions"]:
        for rg in sub.get("resource_groups") or []:
            for vault in rg.get("vaults") or []:
                if str(vault["name"]).lower() == name:
                    return str(vault["identity"]["principal_id"])
    raise KeyError(vault_id)


@pytest.fixture(scope="module")
def estate() -> dict[str, Any]:
    estate = h.demo_estate()
    principal = _vault_principal(estate, h.target(TARGET).vault_id)
    estate["principals"].insert(0, {"id": principal, "display_name": "dana", "object_type": "User"})
    return estate


@pytest.fixture(scope="module")
def sim(estate: dict[str, Any]) -> Iterator[SimHandle]:
    with running_simulator(estate) as handle:
        yield handle


def test_a_user_principal_fails_the_role_action_with_a_clear_reason(
    sim: SimHandle, estate: dict[str, Any]
) -> None:
    principal = _vault_principal(estate, h.target(TARGET).vault_id)
    settings = h.settings_for(sim)
    sim.reset_counters()
    result = reconcile(h.target(TARGET), settings, h.clients_for(settings))
    [outcome] = result.outcomes
    assert outcome.action == "role-assignment:role.vault-reader-on-cluster"
    assert outcome.result == "failed", outcome
    assert f"principal {principal} is not a service principal" in outcome.reason
    assert "UnmatchedPrincipalType" in outcome.reason
    assert "has type 'User' , which is different from specified PrinciaplType 'ServicePrincipal'" in (
        outcome.reason
    )
    # one attempt, refused by Azure's type check (the ABAC condition admitted the request's type)
    puts = [r for r in sim.requests()["log"] if r["method"] == "PUT"]
    assert [r["status"] for r in puts] == [400]
    assert h.successful_writes(sim) == 0
    after = {f.check: f.status for f in result.after_findings}
    assert after["role.vault-reader-on-cluster"] is Status.FAIL
