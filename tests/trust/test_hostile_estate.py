"""An attacker who owns one resource group cannot steer the Guard onto another team's resources.

The estate (hostile_estate.yaml) sets every lever of the security review on team A's resources;
team B never consented to anything; team C's cross-group layout is consented. The Guard runs
``aks-backup-guard remediate`` in enforce mode with cluster fixes allowed, through the real SDK
clients against the simulator. The simulator's request log is the witness: no write touches
team B's scopes or the unwatched subscription, no request at all reaches the unwatched
subscription, and team C's drift is fixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from localdev.azure_sim.launcher import SimHandle, running_simulator
from shared.cli import main

pytestmark = pytest.mark.timeout(180)

ESTATE = Path(__file__).with_name("hostile_estate.yaml")
W1 = "11111111-1111-4111-8111-111111111111"
W2 = "22222222-2222-4222-8222-222222222222"
U = "33333333-3333-4333-8333-333333333333"
GUARD = "00000000-0000-0000-0000-00000000a001"
WRITES = ("PUT", "PATCH", "POST", "DELETE")

TEAM_B_SCOPES = (
    f"/subscriptions/{W1}/resourcegroups/rg-team-b",
    f"/subscriptions/{W2}/resourcegroups/rg-team-b2",
)
CONSENTED_SCOPES = (
    f"/subscriptions/{W1}/resourcegroups/rg-team-a/",  # team A's own group: its own business
    f"/subscriptions/{W1}/resourcegroups/rg-team-c-",
    f"/subscriptions/{W2}/resourcegroups/rg-team-c-store/",
)
AKS = "providers/Microsoft.ContainerService/managedClusters"
C_CLUSTER = f"/subscriptions/{W1}/resourceGroups/rg-team-c-aks/{AKS}/aks-c"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(yaml.safe_load(ESTATE.read_text(encoding="utf-8"))) as handle:
        yield handle


def run(
    monkeypatch: pytest.MonkeyPatch, sim: SimHandle, tmp_path: Path, *args: str, **env: str
) -> tuple[int, dict[str, Any]]:
    settings = {
        "GUARD_SUBSCRIPTIONS": f"{W1},{W2}",
        "GUARD_MODE": "enforce",
        "GUARD_REMEDIATE_CLUSTER": "true",
        "GUARD_PRINCIPAL_ID": GUARD,
        "GUARD_PRINCIPAL_RETRY_SECONDS": "5",
        "GUARD_PROVIDER_WAIT_SECONDS": "5",
        **sim.env(),
        **env,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / f"{args[0]}-{len(list(tmp_path.iterdir()))}.json"
    code = main([*args, "--format", "json", "--output", str(out)])
    return code, json.loads(out.read_text(encoding="utf-8"))


def guard_log(sim: SimHandle) -> list[dict[str, Any]]:
    return [e for e in sim.requests(log=True)["log"] if (e.get("principal") or "").lower() == GUARD]


def findings_of(doc: dict[str, Any], cluster: str, vault_name: str) -> dict[str, dict[str, Any]]:
    for target in doc["targets"]:
        if target["cluster_id"].lower().endswith("/" + cluster) and target["vault_id"].lower().endswith(
            "/" + vault_name
        ):
            return {f["check"]: f for f in target.get("findings") or target.get("after_findings") or []}
    raise AssertionError(f"no target {cluster} | {vault_name} in {[t['cluster_id'] for t in doc['targets']]}")


def test_remediation_writes_only_where_the_owner_consented(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sim.reset_counters()
    run(monkeypatch, sim, tmp_path, "remediate")
    log = guard_log(sim)
    writes = [e for e in log if e["method"] in WRITES]
    assert writes, "the consented drift should have been fixed"
    for entry in writes:
        path = entry["path"].lower()
        assert not any(path.startswith(scope) for scope in TEAM_B_SCOPES), f"wrote to team B: {entry}"
        assert any(path.startswith(scope) for scope in CONSENTED_SCOPES), f"write outside consent: {entry}"
    # nothing at all was read in the unwatched subscription, though tags name it
    assert not [e for e in log if U in e["path"].lower()]
    # no role assignment for a principal team A controls outside team A's group
    for entry in writes:
        if "/roleassignments/" in entry["path"].lower():
            assert not entry["path"].lower().startswith(f"/subscriptions/{W1}/resourcegroups/rg-team-b")


def test_team_b_resources_are_untouched(sim: SimHandle) -> None:
    cluster_b = f"/subscriptions/{W1}/resourceGroups/rg-team-b/{AKS}/aks-b"
    state = sim.state(cluster_b)
    assert state is not None
    assert state["properties"]["storageProfile"]["snapshotController"]["enabled"] is False
    account = sim.state(
        f"/subscriptions/{W1}/resourceGroups/rg-team-b/providers/Microsoft.Storage/storageAccounts/stteamb"
    )
    assert account is not None
    acls = account["properties"]["networkAcls"]
    assert not acls.get("resourceAccessRules") and acls["bypass"] == "None"
    status, _, bindings = sim.call(
        "GET", cluster_b + "/trustedAccessRoleBindings?api-version=2026-02-01", token=sim.admin_token
    )
    assert status == 200 and bindings["value"] == []
    status, _, exts = sim.call(
        "GET",
        cluster_b + "/providers/Microsoft.KubernetesConfiguration/extensions?api-version=2025-03-01",
        token=sim.admin_token,
    )
    assert status == 200 and exts["value"] == []


def test_refusals_say_not_authorised_with_the_consent_command(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, doc = run(monkeypatch, sim, tmp_path, "check")
    assert code == 1
    hostile = findings_of(doc, "aks-b", "bv-a")  # bv-a's instance names team B's cluster
    consent = hostile["target.consent"]
    assert consent["status"] == "fail"
    assert "not authorised" in consent["detail"]
    assert consent["fix"]["command"].startswith("az tag update --resource-id /subscriptions/")
    assert "rg-team-b/providers/Microsoft.ContainerService/managedClusters/aks-b" in consent["fix"]["command"]
    own = findings_of(doc, "aks-a", "bv-a")  # team A's own cluster, extension aimed at team B's account
    for check in ("role.extension-blob-contributor-on-storage", "storage.network-access"):
        assert own[check]["status"] == "fail"
        assert "not authorised to fix" in own[check]["detail"], own[check]
        assert "stteamb" in own[check]["fix"]["command"]
    staged = findings_of(doc, "aks-a", "bv-a2")
    assert "not exactly a resource group id" in staged["role.vault-contributor-on-staging-rg"]["detail"]
    problems = " ".join(doc["problems"])
    assert "aks-u" in problems and "outside GUARD_SUBSCRIPTIONS" in problems
    assert "bv-u" in problems


def test_consented_cross_group_layout_is_fixed(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, doc = run(monkeypatch, sim, tmp_path, "check", "--cluster", C_CLUSTER)
    fixed = findings_of(doc, "aks-c", "bv-c")
    assert fixed["target.consent"]["status"] == "pass"
    for check in (
        "trusted-access.binding",
        "storage.network-access",
        "role.vault-reader-on-cluster",
        "role.vault-reader-on-snapshot-rg",
        "role.cluster-contributor-on-snapshot-rg",
        "role.extension-blob-contributor-on-storage",
        "role.vault-blob-reader-on-storage",
        "role.vault-disk-operator-on-snapshot-rg",
        "role.vault-snapshot-contributor-on-snapshot-rg",
    ):
        assert fixed[check]["status"] == "pass", (check, fixed[check])


def test_a_second_run_writes_nothing(sim: SimHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sim.reset_counters()
    run(monkeypatch, sim, tmp_path, "remediate")
    assert not [e for e in guard_log(sim) if e["method"] in WRITES and int(e["status"]) < 400]


def test_consent_given_later_is_honoured(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Team B's owner runs the command the finding printed; the next run fixes aks-b for bv-a."""
    _, doc = run(monkeypatch, sim, tmp_path, "check")
    command = findings_of(doc, "aks-b", "bv-a")["target.consent"]["fix"]["command"]
    resource_id = command.split("--resource-id ")[1].split()[0]
    name, value = command.split("--tags ")[1].split("=", 1)
    status, _, _ = sim.call(
        "PATCH",
        resource_id + "/providers/Microsoft.Resources/tags/default?api-version=2021-04-01",
        {"operation": "Merge", "properties": {"tags": {name: value}}},
        token=sim.admin_token,
    )
    assert status == 200
    sim.reset_counters()
    run(monkeypatch, sim, tmp_path, "remediate")
    writes = [e for e in guard_log(sim) if e["method"] in WRITES and int(e["status"]) < 400]
    assert any("aks-b/trustedaccessrolebindings/" in e["path"].lower() for e in writes)
