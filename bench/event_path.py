"""Event path: role-assignment deletions replayed through the Event Grid function and the worker.

Set-up: a generated, healthy estate; Azurite; the simulator at 30 ms latency; the Function App
indexed by :class:`localdev.host.LocalHost`; one scheduled scan drained first (it fills the
target index that routes role-assignment events). ``GUARD_DEBOUNCE_SECONDS=0``.

Per round, an administrator deletes the vault's Reader assignment on every target's cluster;
the simulator publishes one ``ResourceDeleteSuccess`` per deletion. The events are then replayed
one at a time (as separate deliveries, not a burst): the wall-clock time is taken right before
``LocalHost.deliver_events`` calls ``guard_events`` (handler entry), then the host drains the
queue (``guard_worker`` reconciles and re-creates the assignment). Event-to-fix is the
simulator's ``eventTime`` of the Guard's ``roleAssignments/write`` (stamped when the write is
handled, i.e. just before its response) minus the handler-entry time; both clocks are the same
host's. ARM calls per event are the simulator's request count between two replays.
"""

from __future__ import annotations

import logging
import statistics
import time
import uuid
from datetime import datetime
from typing import Any

from bench.common import LATENCY_MS, guard_env, percentile, progress, subscriptions_of
from bench.report import Figure
from localdev.azure_sim.launcher import SimHandle, running_simulator
from localdev.azurite import Azurite
from localdev.estates.generate import generate_estate
from localdev.host import LocalHost
from shared import orchestration
from shared.events import OBJECT_ID_CLAIM
from shared.roles import BUILTIN_ROLES
from shared.settings import Settings
from shared.workqueue import QUEUES

log = logging.getLogger(__name__)

READER = BUILTIN_ROLES["Reader"]
API = "api-version=2022-04-01"
WRITE = "Microsoft.Authorization/roleAssignments/write"


def event_epoch(value: str) -> float:
    """Seconds since the epoch of an Event Grid ``eventTime`` (the simulator writes 7 digits)."""
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(text + "+00:00").timestamp()


def delete_vault_readers(sim: SimHandle, targets: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Delete the vault identity's Reader on each cluster as an administrator; returns the events."""
    mark = len(sim.events())
    for cluster_id, vault_id in targets:
        vault = sim.state(vault_id)
        assert vault is not None, vault_id
        principal = str(vault["identity"]["principalId"]).lower()
        status, _, body = sim.call(
            "GET",
            f"{cluster_id}/providers/Microsoft.Authorization/roleAssignments?{API}&$filter=atScope()",
            token=sim.admin_token,
        )
        assert status == 200, body
        for ra in body["value"]:
            props = ra["properties"]
            if (
                props["principalId"].lower() == principal
                and props["scope"].lower() == cluster_id.lower()
                and props["roleDefinitionId"].lower().endswith(READER)
            ):
                code, _, _ = sim.call("DELETE", f"{ra['id']}?{API}", token=sim.admin_token)
                assert code in (200, 204), code
    return sim.events(since=mark)


def app_env(sim: SimHandle, azurite: Azurite, estate: dict[str, Any]) -> dict[str, str]:
    return {
        **guard_env(sim, subscriptions_of(estate)),
        "GUARD_MODE": "enforce",
        "GUARD_DEBOUNCE_SECONDS": "0",
        "GUARD_PRINCIPAL_ID": str(estate["guard"]["principal_id"]),
        "GUARD_TABLE_PREFIX": "b" + uuid.uuid4().hex[:10],
        "AzureWebJobsStorage": azurite.connection_string,
    }


def build_host(
    sim: SimHandle, azurite: Azurite, estate: dict[str, Any]
) -> tuple[orchestration.Services, LocalHost]:
    import function_app

    svc = orchestration.Services.build(Settings.from_env(app_env(sim, azurite, estate)))
    assert svc.queue is not None
    for name in QUEUES:
        svc.queue.client(name).clear_messages()
    orchestration.use_services(svc)
    return svc, LocalHost(function_app.app, azurite.connection_string)


def run(*, quick: bool = False) -> list[Figure]:
    count, rounds = (4, 1) if quick else (50, 3)
    estate = generate_estate(count, 2, drift_ratio=0.0, seed=3)
    guard = str(estate["guard"]["principal_id"]).lower()
    p50s: list[float] = []
    p95s: list[float] = []
    calls: list[float] = []
    with Azurite.start() as azurite, running_simulator(estate, latency_ms=LATENCY_MS) as sim:
        svc, host = build_host(sim, azurite, estate)
        try:
            host.run_timer("guard_scan")
            host.drain(timeout=600)
            targets = [(s.cluster_id, s.vault_id) for s in svc.ledger.list_current()]
            progress("event path: scan done, %s targets indexed", len(targets))
            for round_no in range(rounds):
                events = delete_vault_readers(sim, targets)
                latencies: list[float] = []
                for event in events:
                    sim.reset_counters()
                    mark = len(sim.events())
                    entry = time.time()
                    host.deliver_events([event])
                    host.drain(timeout=60, idle_rounds=1)
                    writes = [
                        e
                        for e in sim.events(since=mark)
                        if e["data"]["operationName"] == WRITE
                        and str(e["data"]["claims"].get(OBJECT_ID_CLAIM, "")).lower() == guard
                    ]
                    if len(writes) != 1:
                        raise RuntimeError(f"expected one fix for event {event['id']}, saw {len(writes)}")
                    latencies.append(event_epoch(writes[0]["eventTime"]) - entry)
                    calls.append(float(sim.requests(log=False)["total"]))
                p50s.append(percentile(latencies, 50))
                p95s.append(percentile(latencies, 95))
                progress(
                    "event path round %s/%s: %s events, p50 %.3f s, p95 %.3f s, %.1f ARM calls/event",
                    round_no + 1,
                    rounds,
                    len(events),
                    p50s[-1],
                    p95s[-1],
                    statistics.median(calls),
                )
        finally:
            orchestration.use_services(None)
            svc.clients.close()
    note = f"{count} targets, one event per delivery, latency {LATENCY_MS} ms, debounce 0"
    return [
        Figure("event_to_fix_p50_seconds", "event_path", "s", p50s, note=note),
        Figure("event_to_fix_p95_seconds", "event_path", "s", p95s, target=1.5, comparison="<", note=note),
        Figure(
            "event_arm_calls_per_event",
            "event_path",
            "calls",
            calls,
            note="median over every replayed event (reads + the one write)",
        ),
    ]
