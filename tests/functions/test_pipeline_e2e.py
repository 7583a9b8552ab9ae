"""The Function App end to end: Azurite + the simulator + a local host calling the real handlers."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest

from shared import ids, orchestration
from shared.events import OBJECT_ID_CLAIM
from shared.ledger.transitions import TransitionKind
from shared.model import Status, Target, Trigger
from shared.roles import BUILTIN_ROLES
from shared.workqueue import POISON_QUEUE, WorkItem
from tests.engine.conftest import demo_manifest
from tests.functions.conftest import App

MANIFEST = demo_manifest()
READER = BUILTIN_ROLES["Reader"]
CONTRIBUTOR = BUILTIN_ROLES["Contributor"]
API = "api-version=2022-04-01"


def entry(cluster: str) -> dict[str, Any]:
    return next(t for t in MANIFEST["targets"] if t["cluster"] == cluster)


def target_of(cluster: str) -> Target:
    e = entry(cluster)
    return Target(e["cluster_id"], e["vault_id"], e["kind"], e.get("backup_instance_id"))


def assignments(app: App, scope: str, principal: str, role_guid: str) -> list[dict[str, Any]]:
    status, _, body = app.sim.call(
        "GET",
        f"{scope}/providers/Microsoft.Authorization/roleAssignments?{API}&$filter=atScope()",
        token=app.sim.admin_token,
    )
    assert status == 200, body
    return [
        ra
        for ra in body["value"]
        if ra["properties"]["principalId"].lower() == principal.lower()
        and ra["properties"]["scope"].lower() == scope.lower()
        and ra["properties"]["roleDefinitionId"].lower().endswith(role_guid)
    ]


def break_assignment(app: App, scope: str, principal: str, role_guid: str) -> list[dict[str, Any]]:
    """Delete the assignment as an administrator would; returns the events ARM published for it."""
    before = len(app.sim.events())
    found = assignments(app, scope, principal, role_guid)
    assert found, f"no assignment of {role_guid} to {principal} at {scope}"
    for ra in found:
        status, _, _ = app.sim.call("DELETE", f"{ra['id']}?{API}", token=app.sim.admin_token)
        assert status in (200, 204)
    return app.sim.events(since=before)


def guard_writes(app: App, since: int) -> list[dict[str, Any]]:
    return [
        e
        for e in app.sim.events(since=since)
        if e["data"]["claims"].get(OBJECT_ID_CLAIM, "").lower() == app.guard_principal.lower()
    ]


def vault_principal(app: App, cluster: str) -> str:
    target = target_of(cluster)
    state = app.sim.state(target.vault_id)
    assert state is not None
    return str(state["identity"]["principalId"])


def test_scan_recorded_every_target_and_indexed_them(scanned_app: App) -> None:
    ledger = scanned_app.services.ledger
    states = ledger.list_current()
    assert {s.target_key for s in states} == {target_of(e["cluster"]).key for e in MANIFEST["targets"]}
    search = target_of("aks-search-prod")
    assert [r.target_key for r in ledger.targets_for_scope(search.cluster_id)] == [search.key]
    remediable = {c for c in entry("aks-search-prod")["remediable"]}
    state = ledger.get_current(search.key)
    assert state is not None and remediable
    assert all(state.checks[c].status is Status.PASS for c in remediable)


def test_the_scan_sent_one_digest_when_its_last_target_finished(scanned_app: App) -> None:
    work = scanned_app.services.work
    assert work is not None and work.open_scans() == []  # the digest was queued, not left to the deadline
    digests = list(scanned_app.services.ledger.outbox.query_entities("PartitionKey eq 'digest'"))
    assert len(digests) == 1


def test_deleted_assignment_is_restored_from_its_event(scanned_app: App) -> None:
    app = scanned_app
    cluster = target_of("aks-search-prod")
    principal = vault_principal(app, "aks-search-prod")
    events = break_assignment(app, cluster.cluster_id, principal, READER)
    assert [e["eventType"] for e in events] == ["Microsoft.Resources.ResourceDeleteSuccess"]
    mark = len(app.sim.events())
    assert app.host.deliver_events(events) == 1
    stats = app.host.drain(timeout=60)
    assert stats.failed == 0
    assert assignments(app, cluster.cluster_id, principal, READER), "the Guard did not restore the assignment"
    writes = guard_writes(app, mark)
    assert [e["data"]["operationName"] for e in writes] == ["Microsoft.Authorization/roleAssignments/write"]
    history = app.services.ledger.history(cluster.key)
    kinds = [
        h.data.get("kind")
        for h in history
        if h.check == "role.vault-reader-on-cluster" and h.type == "transition"
    ]
    assert kinds[-2:] == [TransitionKind.NEW_FAILURE, TransitionKind.FIXED]


def test_same_event_delivered_five_times_writes_once(scanned_app: App) -> None:
    app = scanned_app
    cluster = target_of("aks-ledger-prod")
    principal = vault_principal(app, "aks-ledger-prod")
    events = break_assignment(app, cluster.cluster_id, principal, READER)
    mark = len(app.sim.events())
    for _ in range(5):
        app.host.deliver_events(events)
    stats = app.host.drain(timeout=60)
    assert stats.by_queue.get("guard-targets") == 1
    assert len(guard_writes(app, mark)) == 1
    assert assignments(app, cluster.cluster_id, principal, READER)


def test_resource_group_event_reverifies_exactly_the_dependent_targets(scanned_app: App) -> None:
    app = scanned_app
    risk = target_of("aks-risk-prod")
    snapshot_rg = app.sim.state(risk.backup_instance_id or "")
    assert snapshot_rg is not None
    rg = snapshot_rg["properties"]["policyInfo"]["policyParameters"]["dataStoreParametersList"][0][
        "resourceGroupId"
    ]
    cluster_principal = app.sim.state(risk.cluster_id)["identity"]["principalId"]  # type: ignore[index]
    events = break_assignment(app, rg, cluster_principal, CONTRIBUTOR)
    report = orchestration.receive_events(events, app.services)
    assert [t.key for t in report.targets] == [risk.key]
    app.host.drain(timeout=60)
    assert assignments(app, rg, cluster_principal, CONTRIBUTOR)


def test_event_from_an_unwatched_subscription_writes_nothing(scanned_app: App) -> None:
    app = scanned_app
    other = "9b1f6471-1bf0-4dda-aec3-999999999999"
    event = {
        "id": "evt-unwatched",
        "topic": f"/subscriptions/{other}",
        "eventType": "Microsoft.Resources.ResourceDeleteSuccess",
        "subject": f"/subscriptions/{other}/resourceGroups/rg/providers/Microsoft.ContainerService/"
        "managedClusters/x",
        "eventTime": "2026-11-26T10:00:00Z",
        "dataVersion": "2",
        "data": {"operationName": "Microsoft.ContainerService/managedClusters/delete", "claims": {}},
    }
    app.sim.reset_counters()
    app.host.deliver_events([event])
    stats = app.host.drain(timeout=10)
    assert stats.calls == 0
    assert set(app.sim.requests(log=False)["by_method"]) <= {"GET"}


def test_malformed_events_are_dropped_without_raising(scanned_app: App) -> None:
    bad = func.EventGridEvent(
        id="x",
        data={"claims": "not a mapping"},
        topic="",
        subject="",
        event_type="",
        event_time=None,
        data_version="",
    )
    from handlers.events import guard_events

    guard_events(bad)  # must not raise
    assert scanned_app.host.drain(timeout=5).calls == 0


def test_poison_message_is_recorded_as_unknown_and_alerted(scanned_app: App) -> None:
    app = scanned_app
    target = target_of("aks-payments-prod")
    item = WorkItem(target, Trigger("event", "evt-poison"))
    app.host._queue(POISON_QUEUE).send_message(item.to_json())
    stats = app.host.drain(timeout=30)
    assert stats.by_queue.get(POISON_QUEUE) == 1
    state = app.services.ledger.get_current(target.key)
    assert state is not None
    assert {c.status for c in state.checks.values()} == {Status.UNKNOWN}
    assert any("poison" in c.detail for c in state.checks.values())
    outbox = list(app.services.ledger.outbox.list_entities())
    assert any(target.key in json.dumps(dict(row), default=str) for row in outbox)


def test_http_verify_and_drift(scanned_app: App) -> None:
    from handlers.http import drift, drift_target, verify

    bad = verify(func.HttpRequest(method="POST", url="/api/verify", body=b"{}"))
    assert bad.status_code == 400
    outside = verify(
        func.HttpRequest(
            method="POST",
            url="/api/verify",
            body=json.dumps(
                {
                    "cluster_id": "/subscriptions/9b1f6471-1bf0-4dda-aec3-999999999999/resourceGroups/r/"
                    "providers/Microsoft.ContainerService/managedClusters/c"
                }
            ).encode(),
        )
    )
    assert outside.status_code == 403
    search = target_of("aks-search-prod")
    ok = verify(
        func.HttpRequest(
            method="POST", url="/api/verify", body=json.dumps({"cluster_id": search.cluster_id}).encode()
        )
    )
    assert ok.status_code == 200
    body = json.loads(ok.get_body())
    assert body["targets"][0]["vault_id"].lower() == search.vault_id.lower()
    assert {f["check"] for f in body["targets"][0]["findings"]} >= {"role.vault-reader-on-cluster"}
    listing = json.loads(drift(func.HttpRequest(method="GET", url="/api/drift", body=b"")).get_body())
    assert listing["count"] == len(MANIFEST["targets"])
    one = drift_target(
        func.HttpRequest(
            method="GET",
            url="/api/drift/x",
            body=b"",
            route_params={"target": search.cluster_id.lstrip("/")},
            params={"history": "true"},
        )
    )
    assert one.status_code == 200
    assert json.loads(one.get_body())["targets"][0]["history"]


def _post(route: str, body: object) -> func.HttpResponse:
    from handlers import http

    handler = {"verify": http.verify, "remediate": http.remediate}[route]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return handler(func.HttpRequest(method="POST", url=f"/api/{route}", body=raw))


def test_http_verify_is_read_only_and_remediate_goes_through_the_queue(scanned_app: App) -> None:
    """Enforce mode, a fresh drift: POST /api/verify reports it and writes nothing (ARM or queue);
    POST /api/remediate answers 202 with the work item, and the queue worker fixes it."""
    sim = scanned_app.sim
    search = target_of("aks-search-prod")
    name = ids.name_of(search.cluster_id)
    listing: Any = sim.call(
        "GET", search.cluster_id + "/trustedAccessRoleBindings?api-version=2026-02-01", token=sim.admin_token
    )[2]
    bindings = listing["value"]
    assert bindings, "the scan should have left a binding to delete"
    for binding in bindings:
        sim.call("DELETE", binding["id"] + "?api-version=2026-02-01", token=sim.admin_token)
    sim.reset_counters()
    ok = _post("verify", {"cluster_id": search.cluster_id})
    assert ok.status_code == 200
    findings = {f["check"]: f for f in json.loads(ok.get_body())["targets"][0]["findings"]}
    assert findings["trusted-access.binding"]["status"] == "fail"
    assert set(sim.requests(log=False)["by_method"]) <= {"GET"}, f"verify wrote for {name}"
    assert scanned_app.services.queue is not None
    assert scanned_app.services.queue.pending() == 0

    queued = _post("remediate", {"cluster_id": search.cluster_id})
    assert queued.status_code == 202
    item = json.loads(queued.get_body())["enqueued"][0]
    assert item["target"]["cluster_id"].lower() == search.cluster_id.lower()
    assert item["trigger"]["kind"] == "http"
    assert scanned_app.services.queue.pending() == 1
    scanned_app.host.drain()
    after = _post("verify", {"cluster_id": search.cluster_id})
    fixed = {f["check"]: f for f in json.loads(after.get_body())["targets"][0]["findings"]}
    assert fixed["trusted-access.binding"]["status"] == "pass"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        {"cluster_id": 42},
        {
            "cluster_id": "/subscriptions/e938e2f7-7642-5ff4-8d41-144999d81fd8/resourceGroups/rg/providers/"
            "Microsoft.ContainerService/managedClusters/../../../x"
        },
        {
            "cluster_id": "/subscriptions/./resourceGroups/rg/providers/"
            "Microsoft.ContainerService/managedClusters/c"
        },
        {
            "cluster_id": "/subscriptions/e938e2f7-7642-5ff4-8d41-144999d81fd8/resourceGroups/rg/providers/"
            "Microsoft.ContainerService/managedClusters/c/"
        },
        {
            "cluster_id": "/subscriptions/not-a-guid/resourceGroups/rg/providers/"
            "Microsoft.ContainerService/managedClusters/c"
        },
    ],
)
@pytest.mark.parametrize("route", ["verify", "remediate"])
def test_http_malformed_ids_are_400_never_500(scanned_app: App, route: str, body: object) -> None:
    answer = _post(route, body)
    assert answer.status_code == 400, answer.get_body()
    assert json.loads(answer.get_body())["error"]


def test_http_report_page_from_the_ledger_in_chromium(scanned_app: App, browser: Any, tmp_path: Any) -> None:
    from handlers.http import report

    response = report(func.HttpRequest(method="GET", url="/api/report", body=b""))
    assert response.status_code == 200 and response.mimetype == "text/html"
    page_file = tmp_path / "report.html"
    page_file.write_bytes(response.get_body())
    states = {s.target_key: s for s in scanned_app.services.ledger.list_current()}
    assert len(states) == len(MANIFEST["targets"])

    page = browser.new_page()
    page.route("**/*", lambda r: r.abort() if not r.request.url.startswith("file:") else r.continue_())
    page.goto(page_file.as_uri())
    rows = page.eval_on_selector_all(
        "tbody.target",
        "rows => rows.map(r => [r.dataset.cluster, r.dataset.vault, r.dataset.status,"
        " r.querySelectorAll('details.history li').length])",
    )
    assert len(rows) == len(states)
    for cluster_id, vault_id, status, history_rows in rows:
        state = states[Target(cluster_id, vault_id).key]
        worst = str(state.worst) if state.worst is not Status.NOT_APPLICABLE else "pass"
        assert status == worst, (cluster_id, status, worst)
        if state.failing:  # drift: the recent history from the ledger is on the page
            assert 0 < history_rows <= 10
            assert history_rows == min(10, len(scanned_app.services.ledger.history(state.target_key)))
        else:
            assert history_rows == 0
    page.uncheck('input.status-filter[value="pass"]')
    shown = int(page.text_content("#shown") or "0")
    assert shown == sum(1 for s in states.values() if s.worst not in (Status.PASS, Status.NOT_APPLICABLE))
    page.close()
