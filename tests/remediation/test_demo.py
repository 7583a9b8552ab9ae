"""Remediation of the demo estate against the Azure simulator, through the real SDK clients.

One simulator for the module; the tests run in file order and build on each other: nothing is
written in dry-run/report mode, concurrent remediations converge, storage rules survive, the CLI
fixes every remediable check, a second run writes nothing, and every role the Guard asked for
is a matrix role for a service principal.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator
from shared import ids
from shared.cli import main
from shared.gather.reader import ArmReader
from shared.gather.snapshot import gather
from shared.model import Status
from shared.reconcile import ReconcileResult, reconcile
from shared.remediation.plan import role_assignment_name
from shared.roles import ALLOWED_ROLE_GUIDS, resolve_role_rows
from tests.remediation import helpers as h

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(h.DEMO) as handle:
        yield handle


def run_cli(
    monkeypatch: pytest.MonkeyPatch, sim: SimHandle, tmp_path: Path, *args: str, **env: str
) -> tuple[int, dict[str, Any]]:
    settings_env = {
        "GUARD_SUBSCRIPTIONS": ",".join(h.subscriptions()),
        "GUARD_MODE": "enforce",
        "GUARD_PRINCIPAL_RETRY_SECONDS": "20",
        **sim.env(),
        **env,
    }
    for key, value in settings_env.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / f"{args[0]}.json"
    code = main([*args, "--format", "json", "--output", str(out)])
    return code, json.loads(out.read_text(encoding="utf-8"))


def test_dry_run_and_report_mode_plan_but_write_nothing(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sim.reset_counters()
    code, report = run_cli(
        monkeypatch, sim, tmp_path, "remediate", "--dry-run", GUARD_REMEDIATE_CLUSTER="true"
    )
    assert h.writes(sim) == 0
    assert code == 1
    planned = {a["action"] for t in report["targets"] for a in t["plan"]}
    assert "trusted-access:trusted-access.binding" in planned and len(planned) >= 8
    role_params = [
        a["params"] for t in report["targets"] for a in t["plan"] if a["kind"] == "role-assignment"
    ]
    assert role_params and all(p["role_guid"] in ALLOWED_ROLE_GUIDS for p in role_params)
    assert all(o["result"] == "skipped" for t in report["targets"] for o in t["outcomes"])
    code, report = run_cli(monkeypatch, sim, tmp_path, "remediate", GUARD_MODE="report")
    assert h.writes(sim) == 0
    reasons = {o["reason"] for t in report["targets"] for o in t["outcomes"]}
    assert "report mode" in reasons
    assert report["summary"]["outcomes"]["applied"] == 0


def test_concurrent_remediations_converge_on_one_assignment_per_row(sim: SimHandle) -> None:
    settings = h.settings_for(sim, GUARD_REMEDIATE_CLUSTER="true")
    clients = h.clients_for(settings)
    target = h.target("aks-inventory-prod")
    results: list[ReconcileResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(reconcile(target, settings, clients, reader=ArmReader(clients)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 8
    assert all(o.result != "failed" for r in results for o in r.outcomes), [r.outcomes for r in results]

    snapshot = gather(target, ArmReader(clients))
    written = 0
    for resolved in resolve_role_rows(snapshot):
        if not resolved.applicable:
            continue
        assert resolved.scope_id and resolved.principal_id
        listing = snapshot.role_assignments[ids.subscription_of(resolved.scope_id)]
        assert isinstance(listing, tuple)
        mine = [
            a
            for a in listing
            if a.principal_id.lower() == resolved.principal_id.lower()
            and a.role_guid == resolved.role_guid
            and ids.is_at_or_above(a.scope, resolved.scope_id)
        ]
        assert len(mine) == 1, (resolved.check, mine)  # exactly one per row, written or inherited
        written += ids.name_of(mine[0].id) == role_assignment_name(
            resolved.scope_id, resolved.principal_id, resolved.role_guid
        )
    assert written == 2  # vault Reader on the cluster, and (chained) the extension's blob role
    bindings = snapshot.trusted_access
    assert isinstance(bindings, tuple)
    assert len([b for b in bindings if ids.same(b.source_resource_id, target.vault_id)]) == 1
    extensions = ArmReader(clients).extensions(target.cluster_id)
    assert isinstance(extensions, tuple) and len(extensions) == 1


def test_storage_fix_keeps_every_existing_rule(sim: SimHandle) -> None:
    target = h.target("aks-api-dev")
    account_id = (
        f"/subscriptions/{target.subscription_id}/resourceGroups/rg-backup-nonprod-neu/providers/"
        "Microsoft.Storage/storageAccounts/stbkpapidevneu"
    )
    sub = f"/subscriptions/{target.subscription_id}/resourceGroups"
    subnet = f"{sub}/rg-network-nonprod-neu/providers/Microsoft.Network/virtualNetworks/vnet-neu/subnets/aks"
    other = f"{sub}/rg-other/providers/Microsoft.Synapse/workspaces/syn1"
    state = sim.state(account_id)
    assert state is not None
    acls = dict(state["properties"]["networkAcls"])
    acls["virtualNetworkRules"] = [{"id": subnet, "action": "Allow"}]
    acls["resourceAccessRules"] = [{"tenantId": h.demo_estate()["tenant"], "resourceId": other}]
    acls["bypass"] = "Logging, Metrics"
    status, _, body = sim.call(
        "PATCH",
        account_id + "?api-version=2025-06-01",
        {"properties": {"networkAcls": acls}},
        token=sim.admin_token,
    )
    assert status == 200, body
    before = sim.state(account_id)
    assert before is not None
    before_acls = before["properties"]["networkAcls"]

    settings = h.settings_for(sim)
    result = reconcile(target, settings, h.clients_for(settings))
    assert [(o.action, o.result) for o in result.outcomes] == [
        ("storage-network:storage.network-access", "applied")
    ]
    after = {f.check: f for f in result.after_findings}
    assert after["storage.network-access"].status is Status.PASS

    after_state = sim.state(account_id)
    assert after_state is not None
    after_acls = after_state["properties"]["networkAcls"]
    for key in ("ipRules", "virtualNetworkRules", "defaultAction"):
        assert after_acls.get(key) == before_acls.get(key), key
    rules = after_acls["resourceAccessRules"]
    assert rules[: len(before_acls["resourceAccessRules"])] == before_acls["resourceAccessRules"]
    assert any(ids.same(r["resourceId"], target.vault_id) for r in rules)
    bypass = {b.strip() for b in after_acls["bypass"].split(",")}
    assert bypass == {"Logging", "Metrics", "AzureServices"}


def test_cli_remediate_fixes_every_remediable_check(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sim.reset_counters()
    code, report = run_cli(monkeypatch, sim, tmp_path, "remediate", GUARD_REMEDIATE_CLUSTER="true")
    applied = report["summary"]["outcomes"]["applied"]
    assert report["summary"]["outcomes"]["failed"] == 0, [
        o for t in report["targets"] for o in t["outcomes"] if o["result"] == "failed"
    ]
    # One successful ARM write per applied action, none for anything else. (A fresh identity in the
    # demo estate replicates after 3 s: depending on timing its PUT may first get PrincipalNotFound.)
    assert h.successful_writes(sim) == applied
    assert code == 1  # advice-only checks (service-principal cluster, old version...) still fail

    code, check = run_cli(monkeypatch, sim, tmp_path, "check")
    by_cluster = {
        ids.name_of(t["cluster_id"]): {f["check"]: f for f in t["findings"]} for t in check["targets"]
    }
    manifest = h.expected()
    assert {t["cluster"] for t in manifest["targets"]} == set(by_cluster)
    for item in manifest["targets"]:
        findings = by_cluster[item["cluster"]]
        fixable = [*item["remediable"], *item["remediable_with_cluster"]]
        for check_id in fixable:
            want = "fail" if item["opt_out"] == "report-only" else "pass"
            assert findings[check_id]["status"] == want, (item["cluster"], check_id, findings[check_id])
        for check_id in item["not_remediable"]:
            status = findings[check_id]["status"]
            chained = (
                check_id == "role.extension-blob-contributor-on-storage" and item["remediable_with_cluster"]
            )
            assert status == ("pass" if chained else "fail"), (item["cluster"], check_id, status)
        for check_id, finding in findings.items():
            if check_id not in (*item["fail"], *item["warn"]):  # the fixes broke nothing else
                assert finding["status"] != "fail", (item["cluster"], finding)


def test_second_remediate_performs_zero_writes(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sim.reset_counters()
    _, report = run_cli(monkeypatch, sim, tmp_path, "remediate", GUARD_REMEDIATE_CLUSTER="true")
    assert h.writes(sim) == 0
    assert report["summary"]["outcomes"]["applied"] == 0


def test_guard_only_ever_assigned_matrix_roles_to_service_principals(sim: SimHandle) -> None:
    events = [
        e
        for e in sim.events()
        if e["data"]["operationName"].lower() == "microsoft.authorization/roleassignments/write"
    ]
    assert len(events) >= 10
    guard = h.demo_estate()["guard"]["principal_id"].lower()
    for event in events:
        claims = event["data"]["claims"]
        assert claims["http://schemas.microsoft.com/identity/claims/objectidentifier"].lower() == guard
        state = sim.state(event["subject"])
        assert state is not None, event["subject"]
        props = state["properties"]
        assert ids.role_guid(props["roleDefinitionId"]) in ALLOWED_ROLE_GUIDS
        assert props["principalType"] == "ServicePrincipal"


def test_opt_out_targets_were_never_written(sim: SimHandle) -> None:
    manifest = h.expected()
    report_only = [t for t in manifest["targets"] if t["opt_out"] == "report-only"]
    assert report_only
    untouched = [ids.normalize(t["cluster_id"]) for t in (*report_only, *manifest["ignored"])]
    estate_principals = {p["display_name"]: p["id"].lower() for p in h.demo_estate()["principals"]}
    untouched_principals = {
        pid for name, pid in estate_principals.items() if any(ids.name_of(c) in name for c in untouched)
    }
    for event in sim.events():
        subject = ids.normalize(event["subject"])
        assert not any(subject.startswith(c) for c in untouched), subject
        if "/roleassignments/" in subject:
            state = sim.state(event["subject"])
            assert state is not None
            assert state["properties"]["principalId"].lower() not in untouched_principals, subject


def test_table_output_shows_plan_and_final_findings(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in {
        **sim.env(),
        "GUARD_SUBSCRIPTIONS": ",".join(h.subscriptions()),
        "GUARD_MODE": "report",
    }.items():
        monkeypatch.setenv(key, value)
    target = h.target("aks-legacy-dev")
    code = main(["remediate", "--cluster", target.cluster_id])
    out = capsys.readouterr().out
    assert code == 1
    assert "Findings after remediation" in out and "cluster.identity" in out
    assert "role-assignment:role.cluster-contributor-on-snapshot-rg" in out
    assert io  # the table goes to stdout; JSON is covered above
