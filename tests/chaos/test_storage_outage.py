"""Azurite (queues and tables) stopped in the middle of a scheduled scan and started again on the
same ports with its data on disk: the queue redelivers what failed, no ledger record is lost,
and every alert reaches Teams exactly once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev.azure_sim.launcher import running_simulator
from localdev.azurite import Azurite
from localdev.estates.generate import generate_estate
from localdev.host import DrainStats
from localdev.receivers.teams import TeamsReceiver
from shared import ids, orchestration
from shared.discovery import discover
from shared.gather.reader import ArmReader
from shared.model import Status
from shared.workqueue import TARGETS_QUEUE
from tests.chaos.conftest import build_app, remember_secret

pytestmark = pytest.mark.chaos

ESTATE = generate_estate(30, 2, drift_ratio=0.5, seed=31)
STOP_AFTER = 8  # target messages processed before the outage


@pytest.fixture
def disk_azurite(tmp_path: Path) -> Iterator[Azurite]:
    node = Azurite.start(location=tmp_path / "azurite", log_path=tmp_path / "azurite.log")
    try:
        yield node
    finally:
        node.stop()


def test_storage_outage_mid_scan_loses_nothing(disk_azurite: Azurite) -> None:
    """Azurite stops after STOP_AFTER target messages and starts again only once the outage has been
    felt (a failed invocation, or the host's own queue call failing): never on a timer, so retries
    cannot outlast a fixed downtime on a slow or loaded machine and hide the outage."""
    outage = threading.Event()
    restarted = threading.Event()
    failed_at_outage = [0]

    def restart() -> None:
        if outage.is_set() and not restarted.is_set():
            # a generous start-up bound: on a loaded machine node can take long to listen again
            disk_azurite.restart(timeout=180)
            restarted.set()

    def on_message(queue: str, stats: DrainStats) -> None:
        if not outage.is_set():
            if queue == TARGETS_QUEUE and stats.by_queue.get(TARGETS_QUEUE, 0) >= STOP_AFTER:
                failed_at_outage[0] = stats.failed
                outage.set()
                disk_azurite.stop()
        elif stats.failed > failed_at_outage[0]:
            restart()  # an invocation failed because storage is down: the outage was felt

    with TeamsReceiver() as teams, running_simulator(ESTATE) as sim:
        remember_secret("Teams webhook signature (outage)", teams.signature)
        app = build_app(
            sim,
            disk_azurite,
            ESTATE,
            GUARD_TEAMS_WEBHOOK_URL=teams.url,
            GUARD_ALERT_BACKOFF_SECONDS="0",
            GUARD_ALERT_TIMEOUT_SECONDS="5",
        )
        try:
            reader = ArmReader(app.services.clients, bulk=True)
            expected = {t.key for t in discover(reader, app.services.settings.subscriptions).targets}
            app.host.run_timer("guard_scan")
            failures = 0
            processed = 0
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                try:
                    stats = app.host.drain(timeout=120, on_message=on_message)
                except Exception:  # the local host's own queue calls fail while Azurite is down
                    failures += 1
                    restart()
                    continue
                failures += stats.failed
                processed += stats.by_queue.get(TARGETS_QUEUE, 0)
                if restarted.is_set():
                    break
            assert outage.is_set() and restarted.is_set()
            for _ in range(3):  # the alert timer, as the host would run it
                app.host.run_timer("guard_alerts_timer")
            states = app.services.ledger.list_current()
            outbox = list(app.services.ledger.outbox.list_entities())
        finally:
            orchestration.use_services(None)
        received = [json.dumps(b, sort_keys=True) for b in teams.received]
    assert failures > 0, "the outage was not felt: nothing was retried"
    assert {s.target_key for s in states} == expected  # no ledger record lost
    assert len({s.last_scan_id for s in states}) == 1 and states[0].last_scan_id
    # a scan's transitions reach people in its digest: their alert rows end 'in-digest'
    assert outbox and {r["State"] for r in outbox if r["PartitionKey"] == "alert"} <= {
        "delivered",
        "in-digest",
    }
    digests = [r for r in outbox if r["PartitionKey"] == "digest"]
    assert digests and {r["State"] for r in digests} == {"delivered"}
    assert len(received) == len(set(received))  # no duplicate alert
    text = " ".join(received)
    drifted = [s for s in states if s.worst is Status.FAIL]
    assert drifted and all(ids.name_of(s.cluster_id) in text for s in drifted)
