"""Write failures against the simulator: replication delay, a 403 on one scope, 409 for an existing triple.

The estate is the demo with three changes: the Guard's RBAC Administrator on the prod subscription
is granted per resource group except ``rg-aks-data-prod-weu`` (so role writes there get a real
403 from the simulator's RBAC), aks-ledger-prod's extension identity replicates only 6 s after
start, and aks-search-prod's cluster identity never replicates during the test.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator
from shared.gather.reader import ArmReader
from shared.model import Status
from shared.reconcile import reconcile
from shared.remediation.apply import apply_one
from shared.remediation.plan import RoleAssignmentParams
from shared.remediation.plan import plan as make_plan
from tests.remediation import helpers as h

pytestmark = pytest.mark.timeout(120)

PROD = "e938e2f7-7642-5ff4-8d41-144999d81fd8"
LEDGER_EXTENSION = "572e4066-89c7-5d36-8ee3-fec396958292"
SEARCH_CLUSTER = "9f316a93-1df0-5ba8-81e3-33f7fd95ae95"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    estate = h.with_guard_rbac_admin_except(h.demo_estate(), PROD, "rg-aks-data-prod-weu")
    estate = h.set_replication_delay(estate, LEDGER_EXTENSION, 6)
    estate = h.set_replication_delay(estate, SEARCH_CLUSTER, 3600)
    with running_simulator(estate) as handle:
        yield handle


def test_principal_not_yet_replicated_gets_its_assignment_after_retries(sim: SimHandle) -> None:
    settings = h.settings_for(sim, GUARD_PRINCIPAL_RETRY_SECONDS="30")
    sim.reset_counters()
    result = reconcile(h.target("aks-ledger-prod"), settings, h.clients_for(settings))
    [outcome] = result.outcomes
    assert outcome.action == "role-assignment:role.extension-blob-contributor-on-storage"
    assert outcome.result == "applied", outcome
    attempts = int(re.search(r"after (\d+) attempts", outcome.reason).group(1))  # type: ignore[union-attr]
    assert attempts >= 2
    puts = [r for r in sim.requests()["log"] if r["method"] == "PUT"]
    assert [r["status"] for r in puts] == [400] * (attempts - 1) + [201]
    after = {f.check: f for f in result.after_findings}
    assert after["role.extension-blob-contributor-on-storage"].status is Status.PASS


def test_principal_retry_is_bounded(sim: SimHandle) -> None:
    settings = h.settings_for(sim, GUARD_PRINCIPAL_RETRY_SECONDS="1.5")
    result = reconcile(h.target("aks-search-prod"), settings, h.clients_for(settings))
    [outcome] = result.outcomes
    assert outcome.result == "failed"
    assert "still not found" in outcome.reason and "PrincipalNotFound" in outcome.reason
    after = {f.check: f for f in result.after_findings}
    assert after["role.cluster-contributor-on-snapshot-rg"].status is Status.FAIL  # not "pending"


def test_403_on_one_scope_fails_that_action_only(sim: SimHandle) -> None:
    settings = h.settings_for(sim)
    clients = h.clients_for(settings)
    target = h.target("aks-inventory-prod")
    result = reconcile(target, settings, clients)
    outcomes = {o.action: o for o in result.outcomes}
    denied = outcomes["role-assignment:role.vault-reader-on-cluster"]
    assert denied.result == "failed"
    assert "permission denied" in denied.reason
    assert "Microsoft.Authorization/roleAssignments/write" in denied.reason
    assert target.cluster_id in denied.reason
    assert outcomes["trusted-access:trusted-access.binding"].result == "applied"
    after = {f.check: f.status for f in result.after_findings}
    assert after["trusted-access.binding"] is Status.PASS
    assert after["role.vault-reader-on-cluster"] is Status.FAIL
    # another target's role write in a covered resource group still succeeds
    fraud = reconcile(h.target("aks-fraud-prod"), settings, clients)
    assert [o.result for o in fraud.outcomes] == ["applied"]


def test_existing_triple_under_another_name_is_already_present(sim: SimHandle) -> None:
    settings = h.settings_for(sim)
    clients = h.clients_for(settings)
    target = h.target("aks-risk-prod")
    before = reconcile(target, settings, clients, dry_run=True).before
    p = make_plan(before.snapshot, before.findings, settings)
    action = p.actions[0]
    params = action.params
    assert isinstance(params, RoleAssignmentParams)
    other_name = str(uuid.uuid4())
    status, _, body = sim.call(
        "PUT",
        f"{params.scope}/providers/Microsoft.Authorization/roleAssignments/{other_name}?api-version=2022-04-01",
        {
            "properties": {
                "roleDefinitionId": params.role_definition_id,
                "principalId": params.principal_id,
                "principalType": "ServicePrincipal",
            }
        },
        token=sim.admin_token,
    )
    assert status == 201, body
    outcome = apply_one(action, clients, settings)
    assert outcome.result == "already-present", outcome
    listing = ArmReader(clients).role_assignments_in(PROD)
    assert isinstance(listing, tuple)
    assert not any(a.id.lower().endswith(params.name) for a in listing)


def test_report_mode_apply_writes_nothing(sim: SimHandle) -> None:
    settings = h.settings_for(sim, GUARD_MODE="report")
    clients = h.clients_for(settings)
    before = reconcile(h.target("aks-orders-prod"), settings, clients).before
    actions = make_plan(before.snapshot, before.findings, settings).actions
    assert actions
    sim.reset_counters()
    assert [apply_one(a, clients, settings).reason for a in actions] == ["report mode"] * len(actions)
    assert h.writes(sim) == 0


def test_provider_registration_wait_is_bounded(sim: SimHandle) -> None:
    target = h.target("aks-sandbox-weu")
    settings = h.settings_for(sim, GUARD_PROVIDER_WAIT_SECONDS="0.2")  # the simulator takes 1 s
    clients = h.clients_for(settings)
    result = reconcile(target, settings, clients)
    [outcome] = result.outcomes
    assert outcome.action == "provider-registration:subscription.kubernetes-configuration-registered"
    assert outcome.result == "applied" and "still Registering" in outcome.reason
    after = {f.check: f.status for f in result.after_findings}
    assert after["subscription.kubernetes-configuration-registered"] is Status.WARN
    time.sleep(1.2)
    sim.reset_counters()
    again = reconcile(target, settings, clients)
    assert again.outcomes == () and h.writes(sim) == 0
    final = {f.check: f.status for f in again.after_findings}
    assert final["subscription.kubernetes-configuration-registered"] is Status.PASS
