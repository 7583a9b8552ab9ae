"""``aks-backup-guard replay-event`` against the simulator, without storage (inline verification)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator
from localdev.azurite import Azurite
from shared.cli import main as cli_main
from shared.roles import BUILTIN_ROLES
from tests.engine.conftest import DEMO, demo_manifest, demo_subscriptions

MANIFEST = demo_manifest()


@pytest.fixture()
def sim_env(monkeypatch: pytest.MonkeyPatch) -> SimHandle:  # type: ignore[misc]
    with running_simulator(DEMO) as sim:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GUARD_SUBSCRIPTIONS", ",".join(demo_subscriptions()))
        monkeypatch.setenv("GUARD_MODE", "enforce")
        for name in ("AzureWebJobsStorage", "GUARD_STORAGE_CONNECTION", "AzureWebJobsStorage__accountName"):
            monkeypatch.delenv(name, raising=False)
        yield sim


def to_cloud_event(event: dict[str, object]) -> dict[str, object]:
    return {
        "id": event["id"],
        "source": event["topic"],
        "subject": event["subject"],
        "type": event["eventType"],
        "time": event["eventTime"],
        "specversion": "1.0",
        "data": event["data"],
    }


def test_replay_restores_a_deleted_assignment_inline(
    sim_env: SimHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = sim_env
    target = next(t for t in MANIFEST["targets"] if t["cluster"] == "aks-fraud-prod")
    vault = sim.state(target["vault_id"])
    assert vault is not None
    principal = vault["identity"]["principalId"]
    scope = target["cluster_id"]
    status, _, body = sim.call(
        "GET",
        f"{scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()",
        token=sim.admin_token,
    )
    reader = [
        ra
        for ra in body["value"]
        if ra["properties"]["principalId"] == principal
        and ra["properties"]["roleDefinitionId"].endswith(BUILTIN_ROLES["Reader"])
        and ra["properties"]["scope"].lower() == scope.lower()
    ]
    mark = len(sim.events())
    for ra in reader:
        sim.call("DELETE", f"{ra['id']}?api-version=2022-04-01", token=sim.admin_token)
    events = sim.events(since=mark)
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))

    code = cli_main(["replay-event", str(path), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["ledger"] is False
    assert [r["rule"] for r in doc["routed"]] == ["role-assignment"]
    verified = {v["cluster_id"].lower(): v for v in doc["verified"]}
    fraud = verified[scope.lower()]
    assert any(
        o["result"] == "applied" and o["check"] == "role.vault-reader-on-cluster" for o in fraud["outcomes"]
    )
    assert all(f["status"] != "fail" for f in fraud["findings"] if f["check"].startswith("role."))
    assert code in (0, 1)

    # The same events as CloudEvents on stdin: nothing left to fix, so no write.
    sim.reset_counters()
    cloud = json.dumps([to_cloud_event(e) for e in events])
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(cloud)
    try:
        cli_main(["replay-event", "-", "--format", "json"])
    finally:
        sys.stdin = old
    again = json.loads(capsys.readouterr().out)
    assert again["verified"]
    assert set(sim.requests(log=False)["by_method"]) == {"GET"}


def test_replay_rejects_bad_input(
    sim_env: SimHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert cli_main(["replay-event", str(bad)]) == 2
    assert "not JSON" in capsys.readouterr().err
    junk = tmp_path / "junk.json"
    junk.write_text(json.dumps([{"hello": "world"}]))
    assert cli_main(["replay-event", str(junk), "--format", "json"]) == 2  # nothing in it was an event
    assert json.loads(capsys.readouterr().out)["dropped"]


def test_replay_with_a_fresh_ledger_says_the_target_index_decided(
    sim_env: SimHandle,
    azurite: Azurite,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A scope event (a role-assignment deletion) is routed through the ledger's target index when
    storage is configured; a fresh ledger's index knows no target, so nothing is verified, and the
    CLI says why (exit 2) instead of a silent "0 verification(s)"."""
    sim = sim_env
    target = next(t for t in MANIFEST["targets"] if t["cluster"] == "aks-fraud-prod")
    scope = target["cluster_id"]
    status, _, body = sim.call(
        "GET",
        f"{scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()",
        token=sim.admin_token,
    )
    assert status == 200 and body["value"]
    mark = len(sim.events())
    sim.call("DELETE", f"{body['value'][0]['id']}?api-version=2022-04-01", token=sim.admin_token)
    path = tmp_path / "events.json"
    path.write_text(json.dumps(sim.events(since=mark)))

    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("GUARD_TABLE_PREFIX", f"fresh{uuid.uuid4().hex[:8]}")
    assert cli_main(["replay-event", str(path), "--format", "json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["ledger"] is True
    assert [(r["rule"], r["targets_from"], r["targets"]) for r in doc["routed"]] == [
        ("role-assignment", "target index", [])
    ]
    assert "target index" in captured.err and "fresh ledger" in captured.err
    assert captured.err.count("\n") == 1
