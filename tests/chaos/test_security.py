"""Security under hostile or misleading input, on the demo estate after one full scan:

- events from an unwatched subscription enqueue nothing and write nothing;
- events whose claims or data name other principals, roles or scopes change nothing but what ARM
  itself says is broken (the Guard re-reads; it never takes a principal, role or scope from an event);
- opt-out tags: ``report-only`` is verified but never written, ``ignore`` is not even recorded;
- a Guard identity without write permission on one subscription: the fix fails with a recorded
  403, the worker does not crash or retry forever, nothing is written there.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from localdev.azure_sim.launcher import running_simulator
from localdev.azurite import Azurite
from shared import orchestration
from shared.events import OBJECT_ID_CLAIM
from shared.model import Status
from shared.roles import BUILTIN_ROLES
from tests.chaos.conftest import API, READER, WRITE, App, build_app, delete_vault_readers, list_assignments
from tests.engine.conftest import DEMO, demo_manifest

pytestmark = pytest.mark.chaos

MANIFEST = demo_manifest()
ATTACKER = "0badc0de-0000-4000-8000-00000000beef"
OWNER = BUILTIN_ROLES.get("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635")
UNWATCHED = "9b1f6471-1bf0-4dda-aec3-999999999999"
CLUSTER_WRITE = (
    "Microsoft.Resources.ResourceWriteSuccess",
    "Microsoft.ContainerService/managedClusters/write",
)


def entry(cluster: str) -> dict[str, Any]:
    return next(t for t in MANIFEST["targets"] if t["cluster"] == cluster)


def event(
    subject: str, event_type: str, operation: str, *, caller: str = ATTACKER, **data: Any
) -> dict[str, Any]:
    sub = subject.split("/")[2] if subject.startswith("/subscriptions/") else UNWATCHED
    return {
        "id": str(uuid.uuid4()),
        "topic": f"/subscriptions/{sub}",
        "subject": subject,
        "eventType": event_type,
        "eventTime": "2026-11-26T10:00:00.0000000Z",
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {
            "operationName": operation,
            "resourceUri": subject,
            "claims": {OBJECT_ID_CLAIM: caller, "appid": caller},
            **data,
        },
    }


@pytest.fixture(scope="module")
def app(azurite: Azurite) -> Iterator[App]:
    with DEMO.open(encoding="utf-8") as fh:
        estate = yaml.safe_load(fh)
    with running_simulator(DEMO) as sim:
        built = build_app(sim, azurite, estate)
        try:
            built.host.run_timer("guard_scan")
            assert built.host.drain(timeout=300).failed == 0
            yield built
        finally:
            orchestration.use_services(None)


def attacker_assignments(app: App) -> list[dict[str, Any]]:
    subs = [str(s["id"]) for s in app.estate["subscriptions"]]
    return [
        a
        for s in subs
        for a in list_assignments(app.sim, f"/subscriptions/{s}")
        if a["properties"]["principalId"].lower() == ATTACKER
    ]


def test_unwatched_subscription_events_write_nothing(app: App) -> None:
    scope = (
        f"/subscriptions/{UNWATCHED}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c"
    )
    events = [
        event(
            f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            "Microsoft.Resources.ResourceDeleteSuccess",
            "Microsoft.Authorization/roleAssignments/delete",
        ),
        event(
            scope,
            "Microsoft.Resources.ResourceWriteSuccess",
            "Microsoft.ContainerService/managedClusters/write",
        ),
    ]
    mark = len(app.sim.events())
    app.sim.reset_counters()
    app.host.deliver_events(events)
    assert app.host.drain(timeout=10).calls == 0
    assert app.guard_writes(mark) == []
    assert set(app.sim.requests(log=False)["by_method"]) <= {"GET"}


def test_claims_and_data_naming_other_principals_and_scopes_are_not_trusted(app: App) -> None:
    target = entry("aks-search-prod")
    real = delete_vault_readers(app.sim, [(target["cluster_id"], target["vault_id"])])
    assert len(real) == 1
    forged = copy.deepcopy(real[0])
    forged["id"] = str(uuid.uuid4())
    forged["data"]["claims"] = {OBJECT_ID_CLAIM: ATTACKER, "appid": ATTACKER}
    sub = target["cluster_id"].split("/")[2]
    forged["data"].update(
        {
            "principalId": ATTACKER,
            "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
            "scope": f"/subscriptions/{sub}",
            "properties": {
                "principalId": ATTACKER,
                "roleDefinitionId": OWNER,
                "scope": f"/subscriptions/{sub}",
            },
        }
    )
    nowhere = event(
        f"/subscriptions/{sub}/resourceGroups/rg-unrelated/providers/Microsoft.Authorization/roleAssignments/"
        f"{uuid.uuid4()}",
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Authorization/roleAssignments/write",
        principalId=ATTACKER,
        roleDefinitionId=OWNER,
    )
    mark = len(app.sim.events())
    app.host.deliver_events([forged, nowhere])
    assert app.host.drain(timeout=60).failed == 0
    writes = [e for e in app.guard_writes(mark) if e["data"]["operationName"] == WRITE]
    assert len(writes) == 1  # exactly the broken assignment, re-created from what ARM says
    written = app.sim.state(writes[0]["subject"])
    assert written is not None
    vault = app.sim.state(target["vault_id"])
    assert vault is not None
    assert written["properties"]["principalId"].lower() == str(vault["identity"]["principalId"]).lower()
    assert written["properties"]["roleDefinitionId"].lower().endswith(READER)
    assert written["properties"]["scope"].lower() == target["cluster_id"].lower()
    assert attacker_assignments(app) == []


def test_opt_out_tags_are_respected(app: App) -> None:
    report_only = entry("aks-finance-dev")
    ledger = app.services.ledger
    ignored = next(
        f"/subscriptions/{s['id']}/resourceGroups/{rg['name']}/providers/Microsoft.ContainerService"
        f"/managedClusters/{c['name']}"
        for s in app.estate["subscriptions"]
        for rg in s.get("resource_groups", [])
        for c in rg.get("clusters", [])
        if c["name"] == "aks-experiments-dev"
    )
    events = [event(cid, *CLUSTER_WRITE) for cid in (report_only["cluster_id"], ignored)]
    mark = len(app.sim.events())
    app.host.deliver_events(events)
    assert app.host.drain(timeout=60).failed == 0
    assert app.guard_writes(mark) == []
    states = {s.cluster_id.lower(): s for s in ledger.list_current()}
    assert ignored.lower() not in states
    finance = states[report_only["cluster_id"].lower()]
    failing = {c for c, st in finance.checks.items() if st.status is Status.FAIL}
    assert failing == set(report_only["fail"])


def test_guard_without_write_permission_on_one_subscription_records_a_403(app: App) -> None:
    target = entry("aks-orders-prod")  # its vault Reader on the cluster was fixed by the scan
    sub = target["cluster_id"].split("/")[2]
    for ra in list_assignments(app.sim, f"/subscriptions/{sub}", at_scope=True):
        props = ra["properties"]
        if props["principalId"].lower() == app.guard and not props["roleDefinitionId"].lower().endswith(
            READER
        ):
            code, _, _ = app.sim.call("DELETE", f"{ra['id']}?{API}", token=app.sim.admin_token)
            assert code in (200, 204)
    events = delete_vault_readers(app.sim, [(target["cluster_id"], target["vault_id"])])
    assert len(events) == 1
    mark = len(app.sim.events())
    app.host.deliver_events(events)
    stats = app.host.drain(timeout=60)
    assert stats.failed == 0 and stats.poisoned == 0
    assert app.guard_writes(mark) == []
    key = next(
        s.target_key
        for s in app.services.ledger.list_current()
        if s.cluster_id.lower() == target["cluster_id"].lower()
    )
    state = app.services.ledger.get_current(key)
    assert state is not None
    assert state.checks["role.vault-reader-on-cluster"].status is Status.FAIL
    history = app.services.ledger.history(key)
    failed = [h for h in history if h.type == "action" and "403" in (h.summary + str(h.data))]
    assert failed, [(h.type, h.summary) for h in history[-5:]]
