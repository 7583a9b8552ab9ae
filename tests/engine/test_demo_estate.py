"""The engine against the simulator with the demo estate, through the real azure-mgmt SDKs.

Expectations come from ``localdev/estates/demo.expected.yaml``, written from the estate's
intent (not from the engine's output).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localdev.azure_sim.launcher import SimHandle
from shared import ids
from shared.arm import ArmClients
from shared.catalog import CHECKS
from shared.cli import main as cli_main
from shared.discovery import discover, targets_for_cluster
from shared.gather.reader import ArmReader
from shared.model import Status
from shared.verification import Verification, verify, verify_one
from tests.engine.conftest import demo_manifest, demo_subscriptions

MANIFEST = demo_manifest()


def scan(clients: ArmClients) -> list[Verification]:
    reader = ArmReader(clients, bulk=True)
    found = discover(reader, demo_subscriptions())
    assert found.problems == ()
    return verify(list(found.targets), reader)


def by_key(results: list[Verification]) -> dict[str, Verification]:
    return {v.target.key: v for v in results}


def manifest_key(entry: dict[str, str]) -> str:
    return f"{ids.normalize(entry['cluster_id'])}|{ids.normalize(entry['vault_id'])}"


def test_discovery_finds_exactly_the_manifest_targets(demo_clients: ArmClients) -> None:
    found = discover(ArmReader(demo_clients, bulk=True), demo_subscriptions())
    expected = {manifest_key(t): t["kind"] for t in MANIFEST["targets"]}
    assert {t.key: t.kind for t in found.targets} == expected
    ignored = {manifest_key(t) for t in MANIFEST["ignored"]}
    assert ignored and not ignored & {t.key for t in found.targets}


def test_every_seeded_drift_is_reported_and_healthy_clusters_pass(demo_clients: ArmClients) -> None:
    results = by_key(scan(demo_clients))
    mismatches = []
    for entry in MANIFEST["targets"]:
        v = results[manifest_key(entry)]
        got_fail = {f.check for f in v.findings if f.status is Status.FAIL}
        got_warn = {f.check for f in v.findings if f.status is Status.WARN}
        unknown = {f.check: f.detail for f in v.findings if f.status is Status.UNKNOWN}
        if got_fail != set(entry["fail"]) or got_warn != set(entry["warn"]) or unknown:
            mismatches.append(
                f"{entry['cluster']}: fail {sorted(got_fail)} != {sorted(entry['fail'])}; "
                f"warn {sorted(got_warn)} != {sorted(entry['warn'])}; unknown {unknown}"
            )
        for finding in v.findings:
            if finding.status in (Status.FAIL, Status.WARN):
                assert finding.fix is not None and finding.fix.summary, (entry["cluster"], finding.check)
    assert not mismatches, "\n".join(mismatches)


def test_single_target_verification_matches_the_scan(demo_clients: ArmClients) -> None:
    entry = next(t for t in MANIFEST["targets"] if t["cluster"] == "aks-search-prod")
    reader = ArmReader(demo_clients, bulk=False)
    found = targets_for_cluster(reader, entry["cluster_id"])
    assert [t.key for t in found.targets] == [manifest_key(entry)]
    v = verify_one(found.targets[0], reader)
    assert {f.check for f in v.findings if f.status is Status.FAIL} == set(entry["fail"])


def test_mixed_case_cluster_id_matches(demo_clients: ArmClients) -> None:
    entry = next(t for t in MANIFEST["targets"] if t["cluster"] == "aks-orders-prod")
    shouted = (
        entry["cluster_id"]
        .replace("resourceGroups", "RESOURCEGROUPS")
        .replace("managedClusters", "managedclusters")
    )
    reader = ArmReader(demo_clients, bulk=False)
    found = targets_for_cluster(reader, shouted)
    assert [t.key for t in found.targets] == [manifest_key(entry)]
    v = verify_one(found.targets[0], reader)
    assert {f.check for f in v.findings if f.status is Status.FAIL} == set(entry["fail"])


def test_check_cli_json_exits_1_and_lists_every_check(
    demo_sim: SimHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in demo_sim.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GUARD_SUBSCRIPTIONS", ",".join(demo_subscriptions()))
    out = tmp_path / "report.json"
    code = cli_main(["check", "--format", "json", "--output", str(out)])
    report = json.loads(out.read_text())
    assert code == 1
    listed = {f["check"] for t in report["targets"] for f in t["findings"]}
    assert listed == set(CHECKS)
    assert report["summary"]["targets"] == len(MANIFEST["targets"])
    assert report["summary"]["fail"] > 0
    first = report["targets"][0]
    assert set(first) >= {"cluster_id", "vault_id", "findings"}
    assert set(first["findings"][0]) == {"check", "status", "detail", "fix"}


def test_check_cli_usage_errors_exit_2(
    demo_sim: SimHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in demo_sim.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GUARD_SUBSCRIPTIONS", raising=False)
    assert cli_main(["check"]) == 2
    assert "GUARD_SUBSCRIPTIONS" in capsys.readouterr().err
    assert cli_main(["check", "--cluster", "not-an-id"]) == 2
    assert "--cluster" in capsys.readouterr().err
    monkeypatch.setenv("GUARD_MODE", "sometimes")
    assert cli_main(["check", "--subscription", demo_subscriptions()[0]]) == 2
    assert "GUARD_MODE" in capsys.readouterr().err
