"""ARM faults during a 200-target scan that remediates: 20% 429 (Retry-After), 5% 500, 2% dropped
connections on every ARM call (reads and writes). The scan completes, its findings equal the
fault-free run's, and no role assignment exists twice."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator
from localdev.estates.generate import generate_estate
from shared.arm import ArmClients
from shared.discovery import discover
from shared.gather.reader import ArmReader
from shared.reconcile import reconcile
from shared.settings import Settings
from tests.chaos.conftest import assignment_triples, list_assignments

pytestmark = pytest.mark.chaos

ESTATE = generate_estate(200, 4, drift_ratio=0.3, seed=11)
SUBS = [str(s["id"]) for s in ESTATE["subscriptions"]]
ARM = r"^/subscriptions/"  # ARM only: the blob data plane is not ARM
FAULTS = [
    {"path": ARM, "status": 429, "retry_after": 1, "probability": 0.20},
    {"path": ARM, "status": 500, "probability": 0.05 / 0.80},  # of the calls the first rule let through
    {"path": ARM, "drop": True, "probability": 0.02 / 0.75},
]


def scan_and_fix(sim: SimHandle) -> dict[str, Any]:
    """Discover, then reconcile (gather, plan, apply, verify) every target as the workers do."""
    settings = Settings.from_env(
        {
            **sim.env(),
            "GUARD_SUBSCRIPTIONS": ",".join(SUBS),
            "GUARD_MODE": "enforce",
            "GUARD_ARM_RETRY_TOTAL": "10",
            "GUARD_PRINCIPAL_ID": str(ESTATE["guard"]["principal_id"]),
        }
    )
    clients = ArmClients(settings.arm)
    try:
        reader = ArmReader(clients, bulk=True)
        found = discover(reader, SUBS)
        assert not found.problems
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(lambda t: reconcile(t, settings, clients, reader=reader), found.targets))
    finally:
        clients.close()
    return {
        "targets": sorted(t.key for t in found.targets),
        "before": {r.target.key: {f.check: str(f.status) for f in r.before.findings} for r in results},
        "after": {r.target.key: {f.check: str(f.status) for f in r.after_findings} for r in results},
    }


def all_assignments(sim: SimHandle) -> list[tuple[str, str, str]]:
    return sorted(t for s in SUBS for t in assignment_triples(list_assignments(sim, f"/subscriptions/{s}")))


def test_scan_under_arm_faults_matches_the_fault_free_run() -> None:
    with running_simulator(ESTATE) as sim:
        clean = scan_and_fix(sim)
        clean["assignments"] = all_assignments(sim)
    with running_simulator(ESTATE, seed=5) as sim:
        sim.set_faults([{"method": m, **rule} for rule in FAULTS for m in ("GET", "PUT", "PATCH", "POST")])
        faulted = scan_and_fix(sim)
        sim.clear_faults()
        faulted["assignments"] = all_assignments(sim)
        statuses = Counter(r["status"] for r in sim.requests()["log"])
    assert statuses[429] > 50 and statuses[500] > 5 and statuses[0] > 0, statuses  # the faults happened
    assert len(clean["targets"]) >= 200
    assert faulted["targets"] == clean["targets"]
    assert faulted["before"] == clean["before"]
    assert faulted["after"] == clean["after"]
    assert all(
        s != "unknown"
        for f in faulted["after"].values()
        for c, s in f.items()
        if c != "cluster.velero-absent"
    )
    duplicates = [t for t, n in Counter(faulted["assignments"]).items() if n > 1]
    assert duplicates == []
    assert faulted["assignments"] == clean["assignments"]
