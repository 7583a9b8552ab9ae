"""The scan paces itself to ARM's read bucket: against the simulator with ARM's token buckets on
(250 burst, 25 per second per subscription and principal), a scan that needs more reads than the
burst collects no 429 with pacing, and does collect them with pacing off (so the test can fail)."""

from __future__ import annotations

from typing import Any

import pytest

from localdev.azure_sim.launcher import running_simulator
from localdev.estates.generate import generate_estate
from shared.arm import ArmClients
from shared.discovery import discover
from shared.gather.reader import ArmReader
from shared.pacing import Pacer
from shared.settings import Settings
from shared.verification import iter_verify

TARGETS = 150  # two per-target reads each: about 330 ARM reads in one subscription, over the burst


def _scan(pacing: bool) -> dict[str, Any]:
    estate = generate_estate(TARGETS, 1, seed=3)
    subs = [str(sub["id"]) for sub in estate["subscriptions"]]
    with running_simulator(estate, latency_ms=0, throttle=True) as sim:
        settings = Settings.from_env({**sim.env(), "GUARD_SUBSCRIPTIONS": ",".join(subs)})
        clients = ArmClients(settings.arm, pacer=Pacer(enabled=pacing))
        try:
            sim.reset_counters()
            reader = ArmReader.for_settings(clients, settings, bulk=True)
            found = discover(reader, subs)
            findings = sorted(
                (v.target.key, f.check, str(f.status))
                for v in iter_verify(list(found.targets), reader)
                for f in v.findings
            )
            log = sim.requests(log=True)["log"]
        finally:
            clients.close()
    arm = [r for r in log if not r.get("data_plane") and "comp=list" not in str(r["template"])]
    return {
        "findings": findings,
        "targets": len(found.targets),
        "arm_reads": sum(1 for r in arm if r["method"] == "GET" and r["status"] != 429),
        "throttled": sum(1 for r in arm if r["status"] == 429),
        "pacer": clients.pacer.stats,
    }


@pytest.fixture(scope="module")
def paced() -> dict[str, Any]:
    return _scan(pacing=True)


@pytest.fixture(scope="module")
def unpaced() -> dict[str, Any]:
    return _scan(pacing=False)


def test_the_estate_needs_more_reads_than_the_burst(paced: dict[str, Any]) -> None:
    assert paced["targets"] == TARGETS
    assert paced["arm_reads"] > 300


def test_a_paced_scan_collects_no_429_and_waited_for_tokens(paced: dict[str, Any]) -> None:
    assert paced["throttled"] == 0
    assert paced["pacer"].waits > 0
    assert paced["pacer"].attempts == paced["arm_reads"]


def test_without_pacing_the_same_scan_is_throttled(unpaced: dict[str, Any]) -> None:
    assert unpaced["throttled"] > 0
    assert unpaced["pacer"].throttled == unpaced["throttled"]


def test_pacing_changes_no_finding(paced: dict[str, Any], unpaced: dict[str, Any]) -> None:
    assert paced["findings"] == unpaced["findings"]
    assert not [f for f in paced["findings"] if f[2] == "unknown" and f[1] != "cluster.velero-absent"]
